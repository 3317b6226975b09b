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
    /* The replicas a master lists (ROLE, or INFO's slave<N> lines). */
    if (rc == 0 && (o->nlisted < 0 || o->nlisted > SPOOL_MAX_REPLICAS ||
                    (o->kind != SPOOL_ROLE_MASTER && o->nlisted != 0)))
        __builtin_trap();
    for (int i = 0; rc == 0 && i < o->nlisted; i++)
        if (o->listed[i].addr.host[0] == '\0' ||
            strnlen(o->listed[i].addr.host, sizeof o->listed[i].addr.host) >=
                sizeof o->listed[i].addr.host ||
            o->listed[i].addr.port < 1 || o->listed[i].addr.port > 65535 || o->listed[i].offset < 0)
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
