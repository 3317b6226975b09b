/* The reply guard (proto/reply_guard.c) under any bytes: every RESP2 and, on
 * hiredis 1.x, RESP3 type, nested anyhow, on a guard started as a pool
 * connection's (spool_reply_guard_start(), what conn.c calls). Every reply
 * handed out must keep within the guard's limits, hold no NULL element, and
 * have been marked when it carries a READONLY/MASTERDOWN error. */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz/fuzz_resp.h"
#include "proto/hiredis_compat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A pool with max_reply_elements 4096 and max_reply_bulk 65536: small
 * enough that fuzz-sized inputs cross both caps and are refused. */
#define FUZZ_MAX_ELEMENTS 4096
#define FUZZ_MAX_BULK 65536

static _Atomic int marks;
static int saw_readonly;

static int prefixed(const redisReply *r, const char *p)
{
    size_t n = strlen(p);
    return r->len >= n && memcmp(r->str, p, n) == 0;
}

static void walk(const redisReply *r)
{
    if (r == NULL)
        __builtin_trap();
    if (r->str != NULL && r->len > FUZZ_MAX_BULK)
        __builtin_trap();
    if (r->type == REDIS_REPLY_ERROR && (prefixed(r, "READONLY") || prefixed(r, "MASTERDOWN")))
        saw_readonly = 1;
    if (spool_hr_aggregate_ok(r->type)) {
        if (r->elements > FUZZ_MAX_ELEMENTS || (r->elements > 0 && r->element == NULL))
            __builtin_trap();
        for (size_t i = 0; i < r->elements; i++)
            walk(r->element[i]);
    } else if (r->elements != 0) {
        __builtin_trap();
    }
}

static void one(const redisReply *r) { walk(r); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    atomic_store(&marks, 0);
    saw_readonly = 0;
    redisReader *rd = redisReaderCreate();
    if (rd == NULL)
        return 0;
    spool_reply_guard guard;
    if (spool_reply_guard_start(rd, &guard, FUZZ_MAX_ELEMENTS, FUZZ_MAX_BULK, &marks) == NULL)
        __builtin_trap(); /* a fresh reader has hiredis' defaults */
    fuzz_replies_of(rd, data, size, one);
    if (saw_readonly && !(atomic_load(&marks) & SPOOL_REPLY_READONLY))
        __builtin_trap();
    return 0;
}
