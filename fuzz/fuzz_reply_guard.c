/* The reply guard (proto/reply_guard.c) under any bytes: every RESP2 and, on
 * hiredis 1.x, RESP3 type, nested anyhow. Every reply handed out must keep
 * within the guard's limits, hold no NULL element, and have been marked when
 * it carries a READONLY/MASTERDOWN error. */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz/fuzz_resp.h"
#include "proto/hiredis_compat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    fuzz_each_reply_marked(data, size, one, &marks);
    if (saw_readonly && !(atomic_load(&marks) & SPOOL_REPLY_READONLY))
        __builtin_trap();
    return 0;
}
