/* Reply guard: hiredis reply-object functions that refuse replies beyond
 * size limits before hiredis allocates them, and note -READONLY/-MASTERDOWN
 * errors, whatever command was run. One implementation for every context the
 * library reads from (pool connections, its own round trips) and for the
 * fuzzers, on hiredis 0.14 and 1.x alike.
 *
 * A refused reply makes hiredis fail the context (or reader) with
 * REDIS_ERR_OOM; the context must then be closed. */
#ifndef SPOOL_REPLY_GUARD_H
#define SPOOL_REPLY_GUARD_H

#include <stdatomic.h>
#include <hiredis/hiredis.h>

/* Marks or-ed into *flags. */
enum {
    SPOOL_REPLY_READONLY = 1, /* an error reply began with READONLY or MASTERDOWN */
    SPOOL_REPLY_LIMIT = 2,    /* a reply was refused for its size */
};

typedef struct spool_reply_guard {
    const redisReplyObjectFunctions *base; /* chained to: hiredis' own */
    long long max_elements; /* arrays, maps (keys + values), sets, pushes; <= 0: no cap */
    long long max_bulk;     /* bytes of any string type and of doubles; <= 0: no cap */
    _Atomic int *flags;     /* where marks go; NULL: not recorded */
} spool_reply_guard;

/* Put g between reader r and the functions it uses now (which become
 * g->base; a guard already installed is replaced, keeping its base). g must outlive
 * r's use of it. hiredis' own cap is set to 0.14's (INT_MAX elements, a
 * protocol error above), so that g's decides below it on every version.
 * Returns g->base, or NULL when r has no functions. */
const redisReplyObjectFunctions *spool_reply_guard_install(redisReader *r, spool_reply_guard *g);

/* The same for a guard whose base is already set (a guard shared by many
 * readers, all on hiredis' default functions): g is only read. */
void spool_reply_guard_attach(redisReader *r, const spool_reply_guard *g);

/* hiredis' own functions under whatever guard r has (r's own when none). */
const redisReplyObjectFunctions *spool_reply_guard_base(const redisReader *r);

#endif
