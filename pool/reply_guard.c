/* See reply_guard.h. hiredis passes the reader's privdata to every read
 * task: it points at the guard, and the guard at hiredis' functions. */
#include "pool/reply_guard.h"

#include <stdint.h>
#include <string.h>

#include "pool/hiredis_compat.h"
#include "pool/role.h"

static const spool_reply_guard *guard_of(const redisReadTask *t) { return t->privdata; }

static int over(long long cap, unsigned long long n)
{
    return cap > 0 && n > (unsigned long long)cap;
}

/* NULL tells hiredis "out of memory": the reply is dropped, the context
 * fails with REDIS_ERR_OOM and is closed by whoever holds it. */
static void *refuse(const spool_reply_guard *g, int mark)
{
    if (g->flags != NULL && mark != 0)
        atomic_fetch_or_explicit(g->flags, mark, memory_order_relaxed);
    return NULL;
}

/* Simple and bulk strings, errors, and on 1.x verbatim strings and big
 * numbers: all come here. */
static void *guard_string(const redisReadTask *t, char *str, size_t len)
{
    const spool_reply_guard *g = guard_of(t);
    if (over(g->max_bulk, len))
        return refuse(g, SPOOL_REPLY_LIMIT);
    if (t->type == REDIS_REPLY_ERROR && g->flags != NULL &&
        (spool_starts_with(str, len, "READONLY") || spool_starts_with(str, len, "MASTERDOWN")))
        atomic_fetch_or_explicit(g->flags, SPOOL_REPLY_READONLY, memory_order_relaxed);
    return g->base->createString(t, str, len);
}

/* Arrays, and on 1.x maps (hiredis counts keys and values), sets and push
 * messages. */
static void *guard_array(const redisReadTask *t, spool_hr_count_t elements)
{
    const spool_reply_guard *g = guard_of(t);
    if (!spool_hr_aggregate_ok(t->type))
        return refuse(g, 0); /* unbuildable (a RESP3 attribute): broken, not a limit */
    if (over(g->max_elements, (unsigned long long)elements)) /* 0.14's int is never < 0 */
        return refuse(g, SPOOL_REPLY_LIMIT);
    return g->base->createArray(t, elements);
}

static void *guard_integer(const redisReadTask *t, long long value)
{
    return guard_of(t)->base->createInteger(t, value);
}

static void *guard_nil(const redisReadTask *t) { return guard_of(t)->base->createNil(t); }

/* The two below have no slot in hiredis 0.14's table. */
__attribute__((unused)) static void *guard_double(const redisReadTask *t, double value, char *str, size_t len)
{
    const spool_reply_guard *g = guard_of(t);
    if (over(g->max_bulk, len))
        return refuse(g, SPOOL_REPLY_LIMIT);
    return spool_hr_create_double(g->base, t, value, str, len);
}

__attribute__((unused)) static void *guard_bool(const redisReadTask *t, int value)
{
    return spool_hr_create_bool(guard_of(t)->base, t, value);
}

/* Shared by every guarded reader and never written (hiredis' field is not
 * const). freeObject gets no task, so it cannot reach the guard: it is
 * hiredis' public freeReplyObject, what the default table uses. */
static redisReplyObjectFunctions guard_fns = SPOOL_HR_REPLY_FNS(
    guard_string, guard_array, guard_integer, guard_double, guard_nil, guard_bool, freeReplyObject);

const redisReplyObjectFunctions *spool_reply_guard_base(const redisReader *r)
{
    if (r->fn == &guard_fns)
        return ((const spool_reply_guard *)r->privdata)->base;
    return r->fn;
}

void spool_reply_guard_attach(redisReader *r, const spool_reply_guard *g)
{
    r->fn = &guard_fns;
    r->privdata = (void *)(uintptr_t)g; /* hiredis' field is not const; never written through */
    spool_hr_reader_cap_like_014(r);
}

const redisReplyObjectFunctions *spool_reply_guard_install(redisReader *r, spool_reply_guard *g)
{
    g->base = spool_reply_guard_base(r);
    if (g->base != NULL)
        spool_reply_guard_attach(r, g);
    return g->base;
}
