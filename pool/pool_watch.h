/* The narrow interface between the pool and whatever tells it where the
 * writer is (sentinel/ implements the watcher side). The pool knows nothing
 * about Sentinel: it hands out connections to "the writer at host:port,
 * generation N" and reports when that writer looks wrong. */
#ifndef SPOOL_POOL_WATCH_H
#define SPOOL_POOL_WATCH_H

#include <stdint.h>
#include "pool/addr.h"
#include "sentinel_pool.h"

/* Called by the watcher: the master is now at host:port. A new address bumps
 * the generation, closes idle connections of older generations at once and
 * wakes waiting checkouts. The same address as now un-fences it without a
 * bump. Returns the generation in force afterwards. Thread-safe. */
uint64_t spool_writer_set(pool_t *pool, const char *host, int port, const char *why);

/* Called by the watcher: stop handing out the current writer (it was demoted
 * or is unknown) until spool_writer_set() names one. Idle connections are
 * closed, waiting checkouts keep waiting. Thread-safe. */
void spool_writer_fence(pool_t *pool, const char *why);

/* A replica fit to read from, as the watcher sees it. */
#define SPOOL_MAX_REPLICAS 32
typedef struct spool_replica_info {
    spool_addr addr;
    long long lag; /* bytes behind the master's offset; -1 unknown */
} spool_replica_info;

/* Called by the watcher: the replicas fit for reads are now list[0..n).
 * Connections to replicas no longer listed are closed (idle ones at once,
 * borrowed ones on put). Thread-safe. */
void spool_readers_set(pool_t *pool, const spool_replica_info *list, size_t n);

/* Emit an event/log line through the pool's callbacks (no lock held). */
void spool_emit(pool_t *pool, pool_event_type_t type, const char *old_host, int old_port,
                const char *new_host, int new_port, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
void spool_log(pool_t *pool, pool_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The TLS context for connections to data nodes (sentinel 0) or to the
 * sentinels (1); NULL: plaintext. Fixed for the pool's life. */
const struct spool_tls *spool_pool_tls(pool_t *pool, int sentinel);

/* Watcher side, implemented in sentinel/. The pool calls these. */
typedef struct spool_watcher spool_watcher;

/* Resolve the master once (unless lazy) and start the background thread.
 * Returns 0 or a POOL_E* code. */
int spool_watcher_start(pool_t *pool, const pool_options_t *opts, spool_watcher **out);
/* The pool saw a reason to doubt its writer (READONLY reply, ROLE says
 * replica): re-resolve now. Cheap and non-blocking; callable from any thread. */
void spool_watcher_poke(spool_watcher *w);
/* Stop and join the thread promptly. Accepts NULL. Pokes after this are
 * harmless no-ops, so workers racing pool_destroy() stay safe. */
void spool_watcher_stop(spool_watcher *w);
/* Free what stop left (called when the pool's last reference goes). */
void spool_watcher_free(spool_watcher *w);

#endif
