/* Everything that differs between the hiredis versions we build against,
 * in one place: 0.14.1 (Debian 12) and 1.x (1.2.0 on Debian 13, Ubuntu 24.04
 * and most current distributions). The rest of the library writes to the API
 * both share and asks this header for the rest; no other file tests
 * HIREDIS_MAJOR.
 *
 *   what                      0.14                      1.x
 *   createArray's count       int                       size_t
 *   createDouble, createBool  absent                    called for ',' and '#'
 *   RESP3 type bytes          protocol error            all parsed, on any connection
 *   reader element cap        INT_MAX (protocol error)  maxelements [2^32-1] (protocol error)
 *   nesting depth             7 (protocol error)        grows without a fixed cap
 *   TLS (hiredis_ssl)         absent                    net/tls.c, which also keeps its
 *                                                       per-connection state in the
 *                                                       1.x-only field c->privdata
 *   the write path            write(2) inside hiredis,  c->funcs->write: hygiene.c sees
 *                             nothing to hook           every command a borrower sends
 *   push callback             absent                    c->push_cb, restored on put
 */
#ifndef SPOOL_HIREDIS_COMPAT_H
#define SPOOL_HIREDIS_COMPAT_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <hiredis/hiredis.h>

#if defined(HIREDIS_MAJOR) && HIREDIS_MAJOR >= 1
#define SPOOL_HIREDIS_1X 1
#else
#define SPOOL_HIREDIS_1X 0
#endif

/* The type of createArray's element count. */
#if SPOOL_HIREDIS_1X
typedef size_t spool_hr_count_t;
#else
typedef int spool_hr_count_t;
#endif

/* Our own signatures for the 1.x-only reply functions; on 0.14 hiredis never
 * calls them. */
typedef void *(*spool_hr_double_fn)(const redisReadTask *t, double value, char *str, size_t len);
typedef void *(*spool_hr_bool_fn)(const redisReadTask *t, int value);

/* A reply-function table from the functions both versions share plus the
 * 1.x ones (left out on 0.14). */
#if SPOOL_HIREDIS_1X
#define SPOOL_HR_REPLY_FNS(string, array, integer, dbl, nil, boolean, free_obj)                   \
    {.createString = (string), .createArray = (array), .createInteger = (integer),               \
     .createDouble = (dbl), .createNil = (nil), .createBool = (boolean), .freeObject = (free_obj)}
#else
#define SPOOL_HR_REPLY_FNS(string, array, integer, dbl, nil, boolean, free_obj)                   \
    {.createString = (string), .createArray = (array), .createInteger = (integer),               \
     .createNil = (nil), .freeObject = (free_obj)}
#endif

/* Chain to the 1.x-only functions of a table (never reached on 0.14). */
static inline void *spool_hr_create_double(const redisReplyObjectFunctions *fns,
                                           const redisReadTask *t, double v, char *s, size_t len)
{
#if SPOOL_HIREDIS_1X
    return fns->createDouble != NULL ? fns->createDouble(t, v, s, len) : NULL;
#else
    (void)fns, (void)t, (void)v, (void)s, (void)len;
    return NULL;
#endif
}

static inline void *spool_hr_create_bool(const redisReplyObjectFunctions *fns,
                                         const redisReadTask *t, int v)
{
#if SPOOL_HIREDIS_1X
    return fns->createBool != NULL ? fns->createBool(t, v) : NULL;
#else
    (void)fns, (void)t, (void)v;
    return NULL;
#endif
}

/* Aggregates hiredis' own reply objects can hold. 1.x parses RESP3
 * attributes ('|') but its default functions cannot build them (an
 * attribute's children assert on their parent's type). */
static inline int spool_hr_aggregate_ok(int type)
{
#if SPOOL_HIREDIS_1X
    return type == REDIS_REPLY_ARRAY || type == REDIS_REPLY_MAP || type == REDIS_REPLY_SET ||
           type == REDIS_REPLY_PUSH;
#else
    return type == REDIS_REPLY_ARRAY;
#endif
}

/* Replies that carry text in str/len: on 1.x also a verbatim string (what
 * INFO answers on a connection a borrower switched to RESP3; hiredis strips
 * its "txt:" prefix into vtype). */
static inline int spool_hr_is_text(int type)
{
#if SPOOL_HIREDIS_1X
    if (type == REDIS_REPLY_VERB)
        return 1;
#endif
    return type == REDIS_REPLY_STRING || type == REDIS_REPLY_STATUS;
}

/* Make the reader's own element cap what 0.14 hard-codes: counts above
 * INT_MAX fail as a protocol error ("Multi-bulk length out of range") on
 * both versions. Below that the library's reply functions decide (options
 * keep max_reply_elements <= INT_MAX), so an oversized array fails the same
 * way (out of memory) whichever hiredis is linked; 1.x's own default cap
 * (2^32-1) would answer some of those with a protocol error instead. */
static inline void spool_hr_reader_cap_like_014(redisReader *r)
{
#if SPOOL_HIREDIS_1X
    r->maxelements = INT_MAX;
#else
    (void)r;
#endif
}

/* ---- The write path ------------------------------------------------------
 * hiredis 1.x writes c->obuf through c->funcs->write; a copy of the table
 * with write replaced puts the library on the path of every command a
 * borrower sends (TLS or not: whatever table is installed is chained). 0.14
 * writes inside redisBufferWrite() with write(2) and offers no hook. */
typedef ssize_t (*spool_hr_write_fn)(redisContext *c);

typedef struct spool_hr_write_hook {
#if SPOOL_HIREDIS_1X
    redisContextFuncs funcs;   /* c's table with write replaced; c->funcs points here */
#endif
    spool_hr_write_fn chained; /* the write it replaced; NULL: not hooked */
} spool_hr_write_hook;

static inline int spool_hr_can_hook_write(void) { return SPOOL_HIREDIS_1X; }

/* Route c's writes through fn; h must outlive c. 0, or -1 on 0.14. */
static inline int spool_hr_hook_write(redisContext *c, spool_hr_write_hook *h, spool_hr_write_fn fn)
{
#if SPOOL_HIREDIS_1X
    h->funcs = *c->funcs;
    h->chained = c->funcs->write;
    h->funcs.write = fn;
    c->funcs = &h->funcs;
    return 0;
#else
    (void)c, (void)fn;
    h->chained = NULL;
    return -1;
#endif
}

/* The hook c's writes go through: only for a context hooked with
 * spool_hr_hook_write() (c->funcs points at the hook's first member). */
static inline spool_hr_write_hook *spool_hr_write_hook_of(redisContext *c)
{
#if SPOOL_HIREDIS_1X
    return (spool_hr_write_hook *)(uintptr_t)c->funcs;
#else
    (void)c;
    return NULL;
#endif
}

/* The push callback (1.x; RESP3 pushes go to it): a borrower may replace it. */
typedef void (*spool_hr_push_fn)(void *, void *);

static inline spool_hr_push_fn spool_hr_push_cb(const redisContext *c)
{
#if SPOOL_HIREDIS_1X
    return c->push_cb;
#else
    (void)c;
    return NULL;
#endif
}

static inline void spool_hr_set_push_cb(redisContext *c, spool_hr_push_fn fn)
{
#if SPOOL_HIREDIS_1X
    c->push_cb = fn;
#else
    (void)c, (void)fn;
#endif
}

#endif
