/* +switch-master payloads, as raw bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/sentinel_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sp_switch_master m;
    if (sp_parse_switch_master((const char *)data, size, &m) == 0) {
        /* Whatever passes must be what the header promises. */
        if (!sp_valid_name(m.name, strlen(m.name)) || m.old_addr.port < 1 ||
            m.old_addr.port > 65535 || m.new_addr.port < 1 || m.new_addr.port > 65535 ||
            strlen(m.old_addr.host) == 0 || strlen(m.new_addr.host) >= SPOOL_HOST_MAX)
            __builtin_trap();
    }
    return 0;
}
