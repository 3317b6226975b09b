/* Events with an instance prefix (+sdown, +odown, +role-change...), raw bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/sentinel_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sp_instance_event ev;
    if (sp_parse_instance_event((const char *)data, size, &ev) == 0) {
        if (ev.kind < SP_INSTANCE_MASTER || ev.kind > SP_INSTANCE_SENTINEL ||
            ev.rest_len != strlen(ev.rest) || ev.rest_len >= SP_REST_MAX ||
            !sp_valid_name(ev.name, strlen(ev.name)) ||
            !sp_valid_name(ev.master_name, strlen(ev.master_name)) || ev.addr.port < 1 ||
            ev.master_addr.port > 65535)
            __builtin_trap();
    }
    return 0;
}
