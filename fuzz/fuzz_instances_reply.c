/* Replies to SENTINEL replicas / SENTINEL sentinels, as RESP. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz/fuzz_resp.h"
#include "proto/sentinel_parse.h"
#include "sentinel_pool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const redisReply *r)
{
    sp_instance *list = NULL;
    size_t n = 0;
    int rc = sp_parse_instances_reply(r, &list, &n);
    if (rc != 0 && (list != NULL || n != 0))
        __builtin_trap();
    if (n > SP_INSTANCES_MAX || (n > 0 && list == NULL))
        __builtin_trap();
    for (size_t i = 0; i < n; i++)
        if (list[i].addr.port < 1 || list[i].addr.port > 65535 ||
            strlen(list[i].runid) >= SP_RUNID_MAX || list[i].master_port < 0)
            __builtin_trap();
    sp_instances_free(list);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_each_reply(data, size, one);
    return 0;
}
