/* Replies to SENTINEL get-master-addr-by-name, as RESP. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz/fuzz_resp.h"
#include "proto/sentinel_parse.h"
#include "sentinel_pool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const redisReply *r)
{
    spool_addr a;
    int rc = sp_parse_master_addr_reply(r, &a);
    if (rc != 0 && rc != POOL_EPROTO && rc != POOL_EUNKNOWNMASTER)
        __builtin_trap();
    if (rc == 0 && (a.port < 1 || a.port > 65535 || strlen(a.host) == 0))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_each_reply(data, size, one);
    return 0;
}
