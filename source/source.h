/* source/source.h: the seam between a pool and whatever tells it where its
 * writer is.
 *
 * A pool implements a SINK: "the writer is now host:port", "stop handing out
 * the writer", "these replicas are fit for reads", and its log and events.
 * A SOURCE feeds one sink: the static master_addr source (source/static_source.c)
 * or a Sentinel watch (sentinel/), one of possibly many sharing one
 * pool_sentinel_set_t. A source reaches the pool only through its sink; the
 * pool reaches the source only through spool_source_ops. pool_create() is the
 * one place that picks the source (the composition root).
 *
 * Locks and lifetime:
 *  - Sink functions are thread-safe, take only the pool's own locks, run
 *    the pool's callbacks with no lock held, and never call into a source.
 *  - A source calls its sink from its own thread (the set's watcher thread)
 *    or from the thread in pool_create(), never while holding a lock of its
 *    own that close() or doubt() take.
 *  - The sink stays valid from open until the source's stop() returns;
 *    stop() waits until no sink call of that source runs and none will
 *    start. doubt() may be called from any thread until free(): after
 *    stop() it does nothing.
 * Shapes imitated: hiredis' redisContextFuncs, nng's transport contract
 * (an endpoint never calls back into the socket beyond its pipe interface). */
#ifndef SPOOL_SOURCE_H
#define SPOOL_SOURCE_H

#include <stdarg.h>
#include <stdint.h>
#include "proto/addr.h"
#include "proto/limits.h"
#include "sentinel_pool.h"

struct spool_tls;

/* A replica fit to read from, as a source sees it (at most
 * SPOOL_MAX_REPLICAS are handed over). */
typedef struct spool_replica_info {
    spool_addr addr;
    long long lag; /* bytes behind the master's offset; -1 unknown */
} spool_replica_info;

typedef struct spool_sink_ops {
    /* The writer is now host:port. A new address bumps the generation,
     * closes idle connections of older generations and wakes waiting
     * checkouts; the same address as now lifts a fence (a bump too) or does
     * nothing. Returns the generation in force afterwards. */
    uint64_t (*writer_set)(void *ctx, const char *host, int port, const char *why);
    /* Stop handing out the current writer until writer_set() names one. */
    void (*writer_fence)(void *ctx, const char *why);
    /* The writer in force: 0 with *out, POOL_ENOMASTER while none (fenced). */
    int (*writer_get)(void *ctx, spool_addr *out);
    /* The replicas fit for reads are now list[0..n). */
    void (*readers_set)(void *ctx, const spool_replica_info *list, size_t n);
    /* An event, and a log line, through the pool's callbacks. */
    void (*vemit)(void *ctx, pool_event_type_t type, const char *old_host, int old_port,
                  const char *new_host, int new_port, const char *fmt, va_list ap);
    void (*vlog)(void *ctx, pool_log_level_t level, const char *fmt, va_list ap);
    /* TLS for connections to data nodes (ROLE checks); NULL: plaintext. */
    const struct spool_tls *(*node_tls)(void *ctx);
} spool_sink_ops;

typedef struct spool_sink {
    const spool_sink_ops *ops;
    void *ctx;
} spool_sink;

/* A source; implementations embed it as their first member. */
typedef struct spool_source spool_source;
typedef struct spool_source_ops {
    /* The pool saw a reason to doubt its writer (a READONLY reply, ROLE says
     * replica): look again now. Non-blocking. NULL: nobody to ask, and the
     * pool then never fences (nothing would lift it). */
    void (*doubt)(spool_source *src);
    /* Stop feeding the sink and wait for calls in flight (pool_destroy()). */
    void (*stop)(spool_source *src);
    /* Release what is left (the pool's last reference). After stop(). */
    void (*free)(spool_source *src);
} spool_source_ops;

struct spool_source {
    const spool_source_ops *ops;
};

/* The static master_addr source. Like every source it takes the pool's
 * validated options, calls sink.writer_set() for the first writer before it
 * returns (unless lazy_start), and gives 0 or a POOL_E* code with *out NULL.
 * The Sentinel source: sentinel/sentinel_source.h. */
int spool_static_source_open(const pool_options_t *opts, spool_sink sink, spool_source **out);

#endif
