/* ROLE replies as RESP, and the same bytes as INFO replication text. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz/fuzz_resp.h"
#include "proto/role.h"
#include "sentinel_pool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int rc, const spool_role *o)
{
    if (rc != 0 && rc != POOL_EPROTO)
        __builtin_trap();
    if (rc == 0 && (o->kind < SPOOL_ROLE_MASTER || o->kind > SPOOL_ROLE_SENTINEL ||
                    strlen(o->link_state) >= sizeof o->link_state ||
                    (o->kind == SPOOL_ROLE_REPLICA && (o->master_port < 1 || o->master_port > 65535))))
        __builtin_trap();
}

static void one(const redisReply *r)
{
    spool_role o;
    check(spool_role_parse(r, &o), &o);
    /* A bulk reply is what INFO returns: parse its text too. */
    if (r->type == REDIS_REPLY_STRING)
        check(spool_role_parse_info(r->str, r->len, &o), &o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    spool_role o;
    check(spool_role_parse_info((const char *)data, size, &o), &o);
    fuzz_each_reply(data, size, one);
    return 0;
}
