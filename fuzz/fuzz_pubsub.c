/* A pub/sub push as RESP, then the payload parser its channel calls for,
 * as the watcher does. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz/fuzz_resp.h"
#include "proto/sentinel_parse.h"
#include "sentinel_pool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const redisReply *r)
{
    const char *ch, *pl;
    size_t chlen, plen;
    int rc = sp_parse_pubsub_message(r, &ch, &chlen, &pl, &plen);
    if (rc == 1 || rc == POOL_EPROTO)
        return;
    if (rc != 0 || ch == NULL || pl == NULL)
        __builtin_trap();
    sp_switch_master m;
    sp_instance_event ev;
    if (chlen == 14 && memcmp(ch, "+switch-master", 14) == 0) {
        (void)sp_parse_switch_master(pl, plen, &m);
    } else {
        /* Other channels: both parsers, so either sees every payload. */
        (void)sp_parse_instance_event(pl, plen, &ev);
        (void)sp_parse_switch_master(pl, plen, &m);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_each_reply(data, size, one);
    return 0;
}
