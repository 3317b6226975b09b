/* The pool's insides. Not installed. */
#ifndef SPOOL_POOL_INTERNAL_H
#define SPOOL_POOL_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "proto/addr.h"
#include "proto/limits.h"
#include "pool/hygiene.h"
#include "pool/slot.h"
#include "source/source.h"
#include "proto/reply_guard.h"
#include "proto/role.h"
#include "net/tls.h"
#include "sentinel_pool.h"

/* A connection is peeked on checkout once it sat idle 10 ms or more: one
 * used a moment ago was healthy then, and the system call costs more than
 * the rest of the checkout. The threshold is well above one tick of the
 * coarse clock (~4 ms): at one tick, with 32 threads cycling 32 connections
 * every ~0.5 ms, one checkout in eight would cross a tick and pay a recv(),
 * which shows as client CPU per command at high thread counts. */
#define SPOOL_PEEK_AFTER_IDLE_NS (10 * 1000000LL)

/* Options after validation, with owned copies of every string. */
typedef struct spool_config {
    char *master_name, *sentinels, *master_addr;
    char *sentinel_username, *sentinel_password;
    char *username, *password, *client_name;
    int lazy_start, sentinel_timeout_ms, sentinel_poll_ms;
    int max_connections, min_idle, checkout_timeout_ms, connect_timeout_ms;
    int command_timeout_ms, idle_timeout_ms, database;
    pool_validate_t validate;
    int validate_idle_ms, health_check_ping;
    long long max_reply_elements, max_reply_bulk;
    pool_sigpipe_t sigpipe;
    int leak_threshold_ms;
    int max_readers;
    pool_spread_t read_spread;
    long long max_replica_lag_bytes;
    pool_read_fallback_t read_fallback;
    pool_log_fn log_fn;
    void *log_userdata;
    pool_log_level_t log_level;
    pool_event_fn event_fn;
    void *event_userdata;
    int tls, sentinel_tls;
    spool_tls *tls_ctx; /* one OpenSSL context for both, when either is on */
} spool_config;

/* Counters shared by all threads, bumped only off the hot path. */
typedef struct spool_counters {
    _Atomic uint64_t created, closed, waits, checkout_timeouts;
    _Atomic uint64_t validations, validation_failures, health_failures, connect_failures;
    _Atomic uint64_t evicted_broken, evicted_idle, evicted_stale, evicted_readonly;
    _Atomic uint64_t evicted_limit, evicted_shutdown, leaks_reported, readonly_replies;
    _Atomic uint64_t resets, reset_transaction, reset_database, reset_pubsub, reset_reply_mode;
    _Atomic uint64_t reset_user, reset_protocol, reset_client, reset_marked;
    _Atomic uint64_t evicted_unread, evicted_unresettable;
} spool_counters;

struct __attribute__((aligned(SPOOL_CACHELINE))) pool {
    /* Read on every checkout and put: keep together, rarely written. */
    spool_slot *slots;
    int nslots;
    _Atomic uint64_t generation; /* bumped by every writer change or fence */
    _Atomic int shutdown;
    _Atomic int waiters; /* threads in the slow path that may sleep */
    _Atomic uint32_t hk_tick; /* bumped by every housekeeping pass */
    /* Copies of the options every checkout reads, on this same line. */
    int hot_validate, hot_validate_idle_ms, hot_health_ping, hot_leak_ms;
    int64_t hot_quiet_ns; /* idle for less, a connection is lent without a look */
    spool_config cfg;
    char pad_[SPOOL_CACHELINE];

    pthread_mutex_t mu;      /* guards the writer address and the sleeps below */
    pthread_cond_t changed;  /* writer waiters: a writer slot was freed, the writer
                                changed, or shutdown (one slot: one signal) */
    pthread_cond_t slow;     /* reader naps and connect backoffs: a reader slot was
                                freed, the writer changed, or shutdown */
    /* The writer, under mu. */
    char writer_host[SPOOL_HOST_MAX];
    int writer_port;
    int writer_known; /* 0 while fenced or never resolved */
    _Atomic int role_denied; /* ACL forbids ROLE: use INFO replication (set once) */

    spool_counters stats;
    spool_source *source; /* where the writer comes from: see source/source.h */

    /* Housekeeper thread: idle eviction, min_idle, leak reports. */
    pthread_t housekeeper;
    int housekeeper_started;
    pthread_cond_t hk_wake;

    _Atomic int refs; /* see pool_destroy(): slots not yet DEAD, plus one */

    /* Readers (readers.c). Slots like the writer's; the replica set under mu. */
    spool_slot *rslots;
    spool_addr *raddr; /* raddr[i]: the replica rslots[i] is connected to */
    int nrslots;
    _Atomic uint64_t reader_gen; /* bumped whenever the replica set changes */
    spool_replica_info replicas[SPOOL_MAX_REPLICAS];
    int replica_borrowed[SPOOL_MAX_REPLICAS];
    int nreplicas;
    unsigned reader_rr;
    _Atomic uint64_t reader_checkouts, reader_fallbacks, no_replica;
};

/* Slot primitives shared by the writer (pool.c) and reader (readers.c) sides. */
/* The TLS context for connections to data nodes (sentinel 0) or to the
 * sentinels (1); NULL: plaintext. Fixed for the pool's life. */
const spool_tls *spool_pool_tls(pool_t *pool, int sentinel);

void spool_count(_Atomic uint64_t *c);
void spool_close_conn(pool_t *p, spool_slot *s, _Atomic uint64_t *reason);
void spool_reap_slot(pool_t *p, spool_slot *s);
/* Hand a slot we own (RESERVED or BUSY) back as IDLE or EMPTY, then
 * spool_slot_after_release(). May free the pool during shutdown: touch
 * nothing after it. */
void spool_slot_release(pool_t *p, spool_slot *s, int state);
/* Close the connection of a slot we own and release it EMPTY. */
void spool_evict(pool_t *p, spool_slot *s, _Atomic uint64_t *reason);
/* n EMPTY slots of pool p (index and pool set), or NULL (out of memory). */
spool_slot *spool_slots_new(pool_t *p, int n);
/* Claim the lowest IDLE / EMPTY writer slot (RESERVED), or NULL. */
spool_slot *spool_claim_idle(pool_t *p);
spool_slot *spool_claim_empty(pool_t *p);
/* Wake the waiters a freed slot s may serve (slot.c). */
void spool_slot_wake(pool_t *p, const spool_slot *s);
/* The second half of every release, after the seq_cst store or CAS: the
 * seq_cst store followed by the seq_cst loads pairs with a waiter that
 * increments waiters and then rescans under the mutex, so one of the two
 * sees the other and no wake-up is lost. During shutdown the slot is
 * reaped instead, which may free the pool. */
static inline __attribute__((always_inline)) void spool_slot_after_release(pool_t *p,
                                                                           spool_slot *s)
{
    if (atomic_load(&p->shutdown)) {
        spool_reap_slot(p, s);
        return;
    }
    if (atomic_load(&p->waiters) > 0)
        spool_slot_wake(p, s);
}
/* The last reference frees the pool (pool.c). */
void spool_pool_unref(pool_t *p);
/* Leak reports: the borrower and the time of the checkout. */
void spool_note_borrower(spool_slot *s);
/* A slot goes out: the owner's counters (plain load+store, no locked
 * instruction) and, with leak reports on, who has it since when. */
static inline void spool_mark_borrowed(pool_t *p, spool_slot *s)
{
    uint64_t n = atomic_load_explicit(&s->checkouts, memory_order_relaxed);
    atomic_store_explicit(&s->checkouts, n + 1, memory_order_relaxed);
    spool_hr_set_push_cb(s->ctx, s->push_cb); /* whatever the last borrower set */
    if (p->hot_leak_ms > 0)
        spool_note_borrower(s);
}
/* Hold the pool across a wait: pool_destroy() frees it at the last unpin. */
void spool_pin(pool_t *p);
void spool_unpin(pool_t *p);
/* Did the caller leave anything behind that the next borrower would read? */
static inline int spool_has_leftovers(const redisContext *c)
{
    return (c->obuf != NULL && c->obuf[0] != '\0') || c->reader->pos < c->reader->len ||
           c->reader->ridx >= 0;
}
struct timespec spool_abs_timespec(int64_t ns);

/* readers.c: the replica side. */
int spool_readers_init(pool_t *p);
void spool_readers_free(pool_t *p);
/* The slot of slots[0..n) that lent c (from the reader's privdata, range
 * checked before any dereference), else NULL. */
static inline spool_slot *spool_slot_of(spool_slot *slots, int n, const redisContext *c)
{
    if (c->reader == NULL)
        return NULL;
    /* The reader's privdata is the slot's reply guard (conn.c). */
    uintptr_t off = (uintptr_t)c->reader->privdata - offsetof(spool_slot, guard) - (uintptr_t)slots;
    if (off >= (uintptr_t)n * sizeof(spool_slot) || off % sizeof(spool_slot) != 0)
        return NULL; /* n == 0 lands here too */
    spool_slot *s = (spool_slot *)((char *)slots + off);
    int st = atomic_load_explicit(&s->state, memory_order_relaxed);
    if (s->ctx != c || (st != SLOT_BUSY && st != SLOT_CUTTING))
        return NULL;
    return s;
}
void spool_reader_put(pool_t *p, spool_slot *s);
void spool_readers_stats(pool_t *p, pool_stats_t *out);

/* options.c */
int spool_config_init(spool_config *cfg, const pool_options_t *opts, char *err, size_t errlen);
void spool_config_free(spool_config *cfg);

/* conn.c: open a connection for slot s to host:port and run the handshake
 * (AUTH, SELECT, CLIENT SETNAME and, when asked, the role check) in one
 * round trip. *role_out gets the role when check_role. */
int spool_conn_open(pool_t *p, spool_slot *s, const char *host, int port, int64_t deadline_ns,
                    int check_role, spool_role *role_out, redisContext **out);
/* The same, abandoning a pending TCP connect when cancelled(arg) says so
 * (SPOOL_ECANCELLED). */
int spool_conn_open_ex(pool_t *p, spool_slot *s, const char *host, int port, int64_t deadline_ns,
                       int check_role, int (*cancelled)(void *), void *arg, spool_role *role_out,
                       redisContext **out);
/* The borrower of slot s (a writer slot taken back, RESERVED; a reader
 * slot still BUSY) left state behind
 * (spool_hygiene_dirty()): reset it, or close it and release the slot
 * EMPTY. 0 kept (clean now), 1 closed. */
int spool_conn_tidy(pool_t *p, spool_slot *s);
/* Ask the node its role (ROLE, or INFO replication where ACL denies ROLE). */
int spool_conn_role(pool_t *p, redisContext *c, int64_t deadline_ns, spool_role *out);
/* PING round trip. */
int spool_conn_ping(pool_t *p, redisContext *c, int64_t deadline_ns);
/* Non-blocking look at the socket: 0 when nothing is pending, else POOL_EIO
 * (peer closed, error, or bytes nobody asked for). */
int spool_conn_peek(redisContext *c);

/* Coarse monotonic clock for idle windows: a few ns, resolution ~4 ms. */
static inline int64_t spool_coarse_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* events.c: the pool's log and events, never under a lock of the pool's.
 * spool_emit_gen reports a change that made generation gen, not whatever a
 * racing change made since. */
void spool_vlog(pool_t *p, pool_log_level_t level, const char *fmt, va_list ap);
void spool_vemit(pool_t *p, uint64_t gen, pool_event_type_t type, const char *old_host,
                 int old_port, const char *new_host, int new_port, const char *fmt, va_list ap);
void spool_emit_gen(pool_t *p, uint64_t gen, pool_event_type_t type, const char *old_host,
                    int old_port, const char *new_host, int new_port, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

/* writer.c: the writer in force and its changes. */
/* Under mu: the writer changed or the pool shuts down; every sleeper looks. */
void spool_wake_all_locked(pool_t *p);
/* The writer in force, copied under the mutex. 1 when one is known. */
int spool_writer_snapshot(pool_t *p, char host[SPOOL_HOST_MAX], int *port, uint64_t *gen);
/* A caller saw the writer misbehave under generation gen: with a source to
 * ask, fence (when conclusive) and ask it to look again now. */
void spool_writer_doubt(pool_t *p, uint64_t gen, int conclusive, const char *why);
/* The pool as a sink (source/source.h); ctx is the pool. */
extern const spool_sink_ops spool_pool_sink_ops;

/* checkout.c: open a connection for the writer host:port of generation gen
 * in an EMPTY slot s we reserved. 0: s is RESERVED with the connection,
 * checked; else s was released and a POOL_E* code, or 1: retry. */
int spool_open_in_slot(pool_t *p, spool_slot *s, const char *host, int port, uint64_t gen,
                       int64_t deadline);

/* housekeeper.c: the thread's body; arg is the pool. */
void *spool_housekeeper_main(void *arg);

/* The pool's side of the seam (source/source.h), for the pool's own files
 * and its tests; sources reach them only through their sink. */
uint64_t spool_writer_set(pool_t *pool, const char *host, int port, const char *why);
void spool_writer_fence(pool_t *pool, const char *why);
void spool_readers_set(pool_t *pool, const spool_replica_info *list, size_t n);
void spool_emit(pool_t *pool, pool_event_type_t type, const char *old_host, int old_port,
                const char *new_host, int new_port, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
void spool_log(pool_t *pool, pool_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
