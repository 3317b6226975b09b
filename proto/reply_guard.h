/* Reply guard: hiredis reply-object functions that refuse replies beyond
 * size limits before hiredis allocates them, and note -READONLY/-MASTERDOWN
 * errors, whatever command was run. The one implementation of the reply
 * caps (limits.h) for every reader the library reads from (pool
 * connections, its own round trips, sentinel subscriptions) and for the
 * fuzzers, on hiredis 0.14 and 1.x alike: the caps on one reply (elements,
 * string bytes) and the cap on the bytes a reader may buffer unparsed.
 *
 * A refused reply makes hiredis fail the context (or reader) with
 * REDIS_ERR_OOM; the context must then be closed. */
#ifndef SPOOL_REPLY_GUARD_H
#define SPOOL_REPLY_GUARD_H

#include <stdatomic.h>
#include <hiredis/hiredis.h>

#include "proto/limits.h"

/* Marks or-ed into *flags. */
enum {
    SPOOL_REPLY_READONLY = 1, /* an error reply began with READONLY or MASTERDOWN */
    SPOOL_REPLY_LIMIT = 2,    /* a reply was refused for its size */
};

/* Connection state a borrower left behind (hygiene.h), as far as replies
 * and commands show it. Bits of spool_reply_guard.dirt. */
enum {
    SPOOL_DIRT_TRANSACTION = 1 << 0, /* MULTI sent, no EXEC/DISCARD yet */
    SPOOL_DIRT_QUEUED = 1 << 1,      /* +QUEUED read, no EXEC/DISCARD reply yet */
    SPOOL_DIRT_WATCH = 1 << 2,       /* WATCH without EXEC/DISCARD/UNWATCH */
    SPOOL_DIRT_DATABASE = 1 << 3,    /* SELECT */
    SPOOL_DIRT_PUBSUB = 1 << 4,      /* (P|S)SUBSCRIBE sent, or its confirmation read */
    SPOOL_DIRT_MONITOR = 1 << 5,     /* MONITOR */
    SPOOL_DIRT_REPLY_MODE = 1 << 6,  /* CLIENT REPLY */
    SPOOL_DIRT_USER = 1 << 7,        /* AUTH, or RESET (which logs out) */
    SPOOL_DIRT_PROTOCOL = 1 << 8,    /* HELLO (protocol, and maybe AUTH/SETNAME), or its reply read */
    SPOOL_DIRT_CLIENT = 1 << 9,      /* CLIENT TRACKING/SETNAME/NO-EVICT/NO-TOUCH/CACHING */
    SPOOL_DIRT_READONLY = 1 << 10,   /* READONLY (cluster read mode) */
    SPOOL_DIRT_MARKED = 1 << 11,     /* pool_mark_dirty(POOL_DIRTY_RESET) */
    SPOOL_DIRT_UNPARSED = 1 << 12,   /* a write that is not RESP commands (inline text) */
    SPOOL_DIRT_CLOSE = 1 << 13,      /* QUIT, SYNC/PSYNC, pool_mark_dirty(POOL_DIRTY_CLOSE):
                                        no reset can save it */
};

typedef struct spool_reply_guard {
    const redisReplyObjectFunctions *base; /* chained to: hiredis' own */
    long long max_elements; /* arrays, maps (keys + values), sets, pushes; <= 0: no cap */
    long long max_bulk;     /* bytes of any string type and of doubles; <= 0: no cap */
    _Atomic int *flags;     /* where marks go; NULL: a shared guard, which neither
                               records marks nor counts (the two fields below) */
    /* A connection's own guard only, written by whoever holds the connection: */
    long outstanding; /* commands sent (write hook, library round trips) minus
                         top-level replies read; > 0: a reply is still to come */
    unsigned dirt;    /* SPOOL_DIRT_* the replies (and the write hook) showed */
} spool_reply_guard;

/* Start g as a connection's own guard: caps max_elements and max_bulk
 * (<= 0: none), marks into *flags, nothing counted yet; then install it on
 * r (spool_reply_guard_install()). Pool connections start theirs here
 * with the pool's options; fuzz_reply_guard does the same. */
const redisReplyObjectFunctions *spool_reply_guard_start(redisReader *r, spool_reply_guard *g,
                                                         long long max_elements,
                                                         long long max_bulk, _Atomic int *flags);

/* Put the library's shared guard on r: SPOOL_NET_MAX_ELEMENTS, no string
 * cap (the buffer cap below bounds strings), no marks. Every context the
 * library reads itself carries it (spool_connect()), and so do the
 * parsers' fuzzers. 0, or -1 when r's functions are not hiredis' defaults
 * (never seen: refused rather than guessed at). */
int spool_reply_guard_attach_library(redisReader *r);

/* The most unparsed bytes a round trip may let g's reader buffer: its
 * largest string plus SPOOL_REPLY_FRAME_SLACK, or SPOOL_NET_MAX_BUFFER when
 * g caps no string. */
long long spool_reply_guard_max_buffer(const spool_reply_guard *g);

/* More than cap bytes wait in r's buffer that no reply has taken: the peer
 * sends more than any reply the reader would accept. Checked before each
 * read, so the buffer stays within cap plus one read. */
static inline int spool_reader_over(const redisReader *r, long long cap)
{
    return (long long)(r->len - r->pos) > cap;
}

/* Put g between reader r and the functions it uses now (which become
 * g->base; a guard already installed is replaced, keeping its base). g must outlive
 * r's use of it. hiredis' own cap is set to 0.14's (INT_MAX elements, a
 * protocol error above), so that g's decides below it on every version.
 * Returns g->base, or NULL when r has no functions. */
const redisReplyObjectFunctions *spool_reply_guard_install(redisReader *r, spool_reply_guard *g);

/* The same for a guard whose base is already set (a guard shared by many
 * readers, all on hiredis' default functions): g is only read. */
void spool_reply_guard_attach(redisReader *r, const spool_reply_guard *g);

/* The library sent n commands of its own on r's connection (their replies
 * are counted as they are read). No-op for a shared guard or none. */
void spool_reply_guard_expect(redisReader *r, long n);

/* hiredis' own functions under whatever guard r has (r's own when none). */
const redisReplyObjectFunctions *spool_reply_guard_base(const redisReader *r);

#endif
