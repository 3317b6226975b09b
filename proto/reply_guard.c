/* See reply_guard.h. hiredis passes the reader's privdata to every read
 * task: it points at the guard, and the guard at hiredis' functions. */
#include "proto/reply_guard.h"

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "proto/hiredis_compat.h"
#include "proto/role.h"

static spool_reply_guard *guard_of(const redisReadTask *t) { return t->privdata; }

static int is_status(const redisReadTask *t, const char *str, size_t len, const char *want)
{
    return t->type == REDIS_REPLY_STATUS && len == strlen(want) && memcmp(str, want, len) == 0;
}

/* What 0.14, which shows no commands, can tell from replies alone: +QUEUED
 * means a transaction is open until EXEC's array or nil, DISCARD's +OK or
 * -EXECABORT ends it. */
static __attribute__((noinline)) void note_transaction(spool_reply_guard *g, const redisReadTask *t,
                                                       const char *str, size_t len)
{
    if (str != NULL && is_status(t, str, len, "QUEUED"))
        g->dirt |= SPOOL_DIRT_QUEUED;
    else if (t->type == REDIS_REPLY_ARRAY || t->type == REDIS_REPLY_NIL ||
             (str != NULL && is_status(t, str, len, "OK")) ||
             (t->type == REDIS_REPLY_ERROR && spool_starts_with(str, len, "EXECABORT")))
        g->dirt &= ~(unsigned)SPOOL_DIRT_QUEUED;
}

/* A top-level reply (str: its text, NULL for aggregates, integers, nil):
 * one command answered. Only a connection's own guard counts (a shared
 * one has no flags). */
static inline void note_reply(spool_reply_guard *g, const redisReadTask *t, const char *str,
                              size_t len)
{
    if (g->flags == NULL)
        return;
    g->outstanding--;
    if ((g->dirt & SPOOL_DIRT_QUEUED) || (len == 6 && t->type == REDIS_REPLY_STATUS))
        note_transaction(g, t, str, len);
}

/* The first string of a top-level aggregate: a (p|s)subscribe confirmation
 * [kind, channel, count] means the connection is in pub/sub mode, and an
 * aggregate opening with "server" is HELLO's answer (a RESP2 array on 0.14,
 * a map on 1.x). A user reply that looks the same costs one needless reset. */
static __attribute__((noinline)) void note_first_string(spool_reply_guard *g,
                                                        const redisReadTask *t, const char *str,
                                                        size_t len)
{
    const redisReadTask *up = t->parent;
    if (g->flags == NULL || up->parent != NULL)
        return;
    if (up->elements == 3 &&
        ((len == 9 && memcmp(str, "subscribe", 9) == 0) ||
         (len == 10 && (memcmp(str, "psubscribe", 10) == 0 || memcmp(str, "ssubscribe", 10) == 0))))
        g->dirt |= SPOOL_DIRT_PUBSUB;
    else if (up->elements >= 14 && len == 6 && memcmp(str, "server", 6) == 0)
        g->dirt |= SPOOL_DIRT_PROTOCOL;
}

static int over(long long cap, unsigned long long n)
{
    return cap > 0 && n > (unsigned long long)cap;
}

/* NULL tells hiredis "out of memory": the reply is dropped, the context
 * fails with REDIS_ERR_OOM and is closed by whoever holds it. */
static void *refuse(spool_reply_guard *g, int mark)
{
    if (g->flags != NULL && mark != 0)
        atomic_fetch_or_explicit(g->flags, mark, memory_order_relaxed);
    return NULL;
}

/* Simple and bulk strings, errors, and on 1.x verbatim strings and big
 * numbers: all come here. */
static void *guard_string(const redisReadTask *t, char *str, size_t len)
{
    spool_reply_guard *g = guard_of(t);
    if (over(g->max_bulk, len))
        return refuse(g, SPOOL_REPLY_LIMIT);
    if (t->type == REDIS_REPLY_ERROR && g->flags != NULL &&
        (spool_starts_with(str, len, "READONLY") || spool_starts_with(str, len, "MASTERDOWN")))
        atomic_fetch_or_explicit(g->flags, SPOOL_REPLY_READONLY, memory_order_relaxed);
    if (t->parent == NULL)
        note_reply(g, t, str, len);
    else if (t->idx == 0)
        note_first_string(g, t, str, len);
    return g->base->createString(t, str, len);
}

/* Arrays, and on 1.x maps (hiredis counts keys and values), sets and push
 * messages. */
static void *guard_array(const redisReadTask *t, spool_hr_count_t elements)
{
    spool_reply_guard *g = guard_of(t);
    if (!spool_hr_aggregate_ok(t->type))
        return refuse(g, 0); /* unbuildable (a RESP3 attribute): broken, not a limit */
    if (over(g->max_elements, (unsigned long long)elements)) /* 0.14's int is never < 0 */
        return refuse(g, SPOOL_REPLY_LIMIT);
    if (t->parent == NULL)
        note_reply(g, t, NULL, 0);
    return g->base->createArray(t, elements);
}

static void *guard_integer(const redisReadTask *t, long long value)
{
    spool_reply_guard *g = guard_of(t);
    if (t->parent == NULL)
        note_reply(g, t, NULL, 0);
    return g->base->createInteger(t, value);
}

static void *guard_nil(const redisReadTask *t)
{
    spool_reply_guard *g = guard_of(t);
    if (t->parent == NULL)
        note_reply(g, t, NULL, 0);
    return g->base->createNil(t);
}

/* The two below have no slot in hiredis 0.14's table. */
__attribute__((unused)) static void *guard_double(const redisReadTask *t, double value, char *str, size_t len)
{
    spool_reply_guard *g = guard_of(t);
    if (over(g->max_bulk, len))
        return refuse(g, SPOOL_REPLY_LIMIT);
    if (t->parent == NULL)
        note_reply(g, t, NULL, 0);
    return spool_hr_create_double(g->base, t, value, str, len);
}

__attribute__((unused)) static void *guard_bool(const redisReadTask *t, int value)
{
    spool_reply_guard *g = guard_of(t);
    if (t->parent == NULL)
        note_reply(g, t, NULL, 0);
    return spool_hr_create_bool(g->base, t, value);
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

void spool_reply_guard_expect(redisReader *r, long n)
{
    if (r->fn != &guard_fns)
        return;
    spool_reply_guard *g = r->privdata;
    if (g->flags != NULL)
        g->outstanding += n;
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

const redisReplyObjectFunctions *spool_reply_guard_start(redisReader *r, spool_reply_guard *g,
                                                         long long max_elements,
                                                         long long max_bulk, _Atomic int *flags)
{
    g->max_elements = max_elements;
    g->max_bulk = max_bulk;
    g->flags = flags;
    g->outstanding = 0;
    g->dirt = 0;
    return spool_reply_guard_install(r, g);
}

/* hiredis 0.14 has no cap on array sizes: "*2147483647" from a hostile
 * sentinel (or from a node asked ROLE) would make it calloc 16 GiB, wait
 * for the elements until the deadline, and then free the half-built reply
 * by walking all 2^31 slots, seconds of page faults per answer. So every
 * context from spool_connect() carries this guard, with this cap; strings
 * need no cap here: hiredis builds one only once all of it is buffered,
 * and read_replies() bounds the buffer. The guard also
 * supplies the reply functions hiredis 1.x calls for RESP3 doubles and
 * booleans, which a table without them turns into a crash.
 *
 * One guard for every such reader: its base is hiredis' default functions
 * (one table inside hiredis, what every new reader starts with), taken from
 * the first reader and never changed. The lock orders that one write before
 * any thread's replies read it; a connect pays one uncontended lock. */
static spool_reply_guard library_guard = {.max_elements = SPOOL_NET_MAX_ELEMENTS};
static pthread_mutex_t library_guard_mu = PTHREAD_MUTEX_INITIALIZER;

int spool_reply_guard_attach_library(redisReader *r)
{
    pthread_mutex_lock(&library_guard_mu);
    if (library_guard.base == NULL)
        library_guard.base = r->fn;
    int ours = r->fn != NULL && r->fn == library_guard.base;
    pthread_mutex_unlock(&library_guard_mu);
    if (!ours)
        return -1;
    spool_reply_guard_attach(r, &library_guard);
    return 0;
}

long long spool_reply_guard_max_buffer(const spool_reply_guard *g)
{
    if (g->max_bulk <= 0)
        return SPOOL_NET_MAX_BUFFER;
    if (g->max_bulk > LLONG_MAX - SPOOL_REPLY_FRAME_SLACK)
        return LLONG_MAX;
    return g->max_bulk + SPOOL_REPLY_FRAME_SLACK;
}
