/* The pool: slots claimed with compare-and-swap on the hot path, a mutex and
 * a condition variable only for the slow path (opening a connection, waiting
 * for one, changing the writer). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>

#include "net/net.h"
#include "pool/pool_internal.h"
#include "sentinel/sentinel_source.h"

/* A per-thread hint: the slot this thread used last (HikariCP's trick), so a
 * thread usually finds "its" connection with one CAS and no shared writes.
 * Only a hint: it is checked against the pool and the slot's state. */
static _Thread_local struct {
    const pool_t *pool;
    int index;
} last_slot __attribute__((tls_model("initial-exec")));


/* ---- Logging and events (never under a lock) ------------------------------ */

static void vlog(pool_t *p, pool_log_level_t level, const char *fmt, va_list ap)
{
    if (p->cfg.log_fn == NULL || level > p->cfg.log_level)
        return;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    p->cfg.log_fn(p->cfg.log_userdata, level, msg);
}

void spool_log(pool_t *p, pool_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(p, level, fmt, ap);
    va_end(ap);
}

static void vemit(pool_t *p, uint64_t gen, pool_event_type_t type, const char *old_host,
                  int old_port, const char *new_host, int new_port, const char *fmt, va_list ap)
{
    if (p->cfg.event_fn == NULL && p->cfg.log_fn == NULL)
        return;
    char detail[512];
    vsnprintf(detail, sizeof(detail), fmt, ap);
    pool_event_t ev = {
        .type = type,
        .old_host = old_host,
        .old_port = old_port,
        .new_host = new_host,
        .new_port = new_port,
        .generation = gen,
        .detail = detail,
    };
    if (p->cfg.event_fn != NULL)
        p->cfg.event_fn(p->cfg.event_userdata, &ev);
    pool_log_level_t level = (type == POOL_EVENT_SWITCH_MASTER || type == POOL_EVENT_SENTINEL_ADDED)
                                 ? POOL_LOG_INFO
                                 : POOL_LOG_WARN;
    spool_log(p, level, "%s (generation %llu)", detail, (unsigned long long)ev.generation);
}

void spool_emit(pool_t *p, pool_event_type_t type, const char *old_host, int old_port,
                const char *new_host, int new_port, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vemit(p, atomic_load(&p->generation), type, old_host, old_port, new_host, new_port, fmt, ap);
    va_end(ap);
}

/* For a change that made generation gen: report that one, not whatever a
 * racing change made since. */
static void __attribute__((format(printf, 8, 9)))
emit_gen(pool_t *p, uint64_t gen, pool_event_type_t type, const char *old_host, int old_port,
         const char *new_host, int new_port, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vemit(p, gen, type, old_host, old_port, new_host, new_port, fmt, ap);
    va_end(ap);
}

/* ---- References and slots ----------------------------------------------- */

const spool_tls *spool_pool_tls(pool_t *p, int sentinel)
{
    return (sentinel ? p->cfg.sentinel_tls : p->cfg.tls) ? p->cfg.tls_ctx : NULL;
}

static void tls_log(void *arg, const char *fmt, va_list ap) { vlog(arg, POOL_LOG_WARN, fmt, ap); }

/* A connect failure that retrying will not change and that says nothing
 * about the writer (credentials, options, TLS configuration). */
static int is_refusal(int rc)
{
    return rc == POOL_EAUTH || rc == POOL_EINVAL || rc == POOL_ECERT || rc == POOL_ETLS;
}

static void pool_free(pool_t *p)
{
    if (p->source != NULL)
        p->source->ops->free(p->source);
    spool_config_free(&p->cfg);
    pthread_cond_destroy(&p->changed);
    pthread_cond_destroy(&p->slow);
    pthread_cond_destroy(&p->hk_wake);
    pthread_mutex_destroy(&p->mu);
    free(p->slots);
    spool_readers_free(p);
    free(p);
}

static void pool_unref(pool_t *p)
{
    if (atomic_fetch_sub(&p->refs, 1) == 1)
        pool_free(p);
}

void spool_count(_Atomic uint64_t *c) { atomic_fetch_add_explicit(c, 1, memory_order_relaxed); }

void spool_close_conn(pool_t *p, spool_slot *s, _Atomic uint64_t *reason)
{
    if (s->ctx != NULL) {
        redisFree(s->ctx);
        s->ctx = NULL;
        spool_count(&p->stats.closed);
        if (reason != NULL)
            spool_count(reason);
    }
}

/* After shutdown every slot ends DEAD exactly once; whoever wins the CAS
 * closes what is left and drops the slot's pool reference. */
void spool_reap_slot(pool_t *p, spool_slot *s)
{
    int st = SLOT_IDLE;
    if (atomic_compare_exchange_strong(&s->state, &st, SLOT_RESERVED)) {
        spool_close_conn(p, s, &p->stats.evicted_shutdown);
        atomic_store(&s->state, SLOT_DEAD);
        pool_unref(p);
        return;
    }
    st = SLOT_EMPTY;
    if (atomic_compare_exchange_strong(&s->state, &st, SLOT_DEAD))
        pool_unref(p);
}

/* A slot came back: wake one writer waiter for a writer slot (every sleeper
 * on changed wants the same thing, so one signal is never lost to a thread
 * that cannot use it), or the reader nappers for a reader slot. Only paid
 * when someone waits. */
static void wake(pool_t *p, const spool_slot *s)
{
    pthread_mutex_lock(&p->mu);
    if (s >= p->slots && s < p->slots + p->nslots)
        pthread_cond_signal(&p->changed);
    else
        pthread_cond_broadcast(&p->slow);
    pthread_mutex_unlock(&p->mu);
}

/* Under mu: the writer changed or the pool shuts down; every sleeper looks. */
static void wake_all_locked(pool_t *p)
{
    pthread_cond_broadcast(&p->changed);
    pthread_cond_broadcast(&p->slow);
}

/* Hand a slot we own (BUSY or RESERVED) back as IDLE or EMPTY. The seq_cst
 * store followed by the seq_cst loads pairs with a waiter that increments
 * waiters and then rescans under the mutex: one of the two sees the other,
 * so no wake-up is lost. May free the pool during shutdown: touch nothing
 * after it. */
/* The second half of a release, after the seq_cst store or CAS. */
static inline __attribute__((always_inline)) void after_release(pool_t *p, spool_slot *s)
{
    if (atomic_load(&p->shutdown)) {
        spool_reap_slot(p, s);
        return;
    }
    if (atomic_load(&p->waiters) > 0)
        wake(p, s);
}

void spool_slot_release(pool_t *p, spool_slot *s, int state)
{
    atomic_store(&s->state, state);
    after_release(p, s);
}

int spool_try_claim(spool_slot *s, int from, int to)
{
    int expected = from;
    return atomic_load_explicit(&s->state, memory_order_relaxed) == from &&
           atomic_compare_exchange_strong_explicit(&s->state, &expected, to,
                                                   memory_order_acquire, memory_order_relaxed);
}

static spool_slot *claim_idle(pool_t *p)
{
    /* Lowest index first: surplus connections gather at the top and age out. */
    for (int i = 0; i < p->nslots; i++)
        if (spool_try_claim(&p->slots[i], SLOT_IDLE, SLOT_RESERVED))
            return &p->slots[i];
    return NULL;
}

static spool_slot *claim_empty(pool_t *p)
{
    for (int i = 0; i < p->nslots; i++)
        if (spool_try_claim(&p->slots[i], SLOT_EMPTY, SLOT_RESERVED))
            return &p->slots[i];
    return NULL;
}

/* Shut down the socket of a connection lent under an older generation: its
 * holder, maybe blocked on a frozen or demoted master, gets an error now
 * rather than an acknowledgement that the failover throws away, or a wait
 * for command_timeout_ms. The fd stays open: the holder still owns and frees
 * the context. CUTTING keeps pool_put() from freeing it meanwhile. */
static void cut_borrowed(spool_slot *s, uint64_t gen)
{
    /* Claim first, then read: generation and ctx belong to whoever holds the
     * slot, and are only ours to read once the CAS (acquire, pairing with
     * hand_out()'s release) has made us the holder of this borrow. */
    int expected = SLOT_BUSY;
    if (!atomic_compare_exchange_strong(&s->state, &expected, SLOT_CUTTING))
        return;
    if (s->generation < gen)
        shutdown(s->ctx->fd, SHUT_RDWR);
    atomic_store(&s->state, SLOT_BUSY);
}

/* Close idle connections opened under a generation older than gen; cut
 * borrowed ones (they are closed when put back). Older, not other: a sweep
 * preempted after its change must leave a later writer's connections be. */
static void sweep_stale(pool_t *p, uint64_t gen)
{
    for (int i = 0; i < p->nslots; i++) {
        spool_slot *s = &p->slots[i];
        if (atomic_load_explicit(&s->state, memory_order_relaxed) == SLOT_BUSY) {
            cut_borrowed(s, gen);
            continue;
        }
        if (!spool_try_claim(s, SLOT_IDLE, SLOT_RESERVED))
            continue;
        if (s->generation < gen) {
            spool_close_conn(p, s, &p->stats.evicted_stale);
            spool_slot_release(p, s, SLOT_EMPTY);
        } else {
            spool_slot_release(p, s, SLOT_IDLE);
        }
    }
}

/* ---- The writer ------------------------------------------------------------ */

uint64_t spool_writer_set(pool_t *p, const char *host, int port, const char *why)
{
    char old_host[SPOOL_HOST_MAX];
    pthread_mutex_lock(&p->mu);
    if (p->writer_known && p->writer_port == port && strcmp(p->writer_host, host) == 0) {
        uint64_t gen = atomic_load(&p->generation);
        pthread_mutex_unlock(&p->mu);
        return gen;
    }
    int had_old = p->writer_host[0] != '\0';
    int old_port = p->writer_port;
    snprintf(old_host, sizeof(old_host), "%s", p->writer_host);
    snprintf(p->writer_host, sizeof(p->writer_host), "%s", host);
    p->writer_port = port;
    p->writer_known = 1;
    uint64_t gen = atomic_fetch_add(&p->generation, 1) + 1;
    wake_all_locked(p);
    pthread_mutex_unlock(&p->mu);

    sweep_stale(p, gen);
    emit_gen(p, gen, POOL_EVENT_SWITCH_MASTER, had_old ? old_host : NULL, old_port, host, port,
             "writer is now %s:%d (%s)", host, port, why);
    return gen;
}

/* Fence the writer only if the evidence is about the generation in force. */
static void writer_fence_gen(pool_t *p, uint64_t gen, const char *why)
{
    char host[SPOOL_HOST_MAX];
    pthread_mutex_lock(&p->mu);
    if (!p->writer_known || atomic_load(&p->generation) != gen) {
        pthread_mutex_unlock(&p->mu);
        return;
    }
    p->writer_known = 0;
    int port = p->writer_port;
    snprintf(host, sizeof(host), "%s", p->writer_host);
    uint64_t now = atomic_fetch_add(&p->generation, 1) + 1;
    wake_all_locked(p);
    pthread_mutex_unlock(&p->mu);

    sweep_stale(p, now);
    emit_gen(p, now, POOL_EVENT_MASTER_LOST, host, port, NULL, 0, "writer %s:%d fenced: %s", host,
             port, why);
}

void spool_writer_fence(pool_t *p, const char *why)
{
    writer_fence_gen(p, atomic_load(&p->generation), why);
}

/* A worker saw the writer misbehave. With a watcher, fence (when the
 * evidence is conclusive) and ask it to re-resolve now; a static address has
 * nobody to ask, so the caller just gets the error. */
static void writer_doubt(pool_t *p, uint64_t gen, int conclusive, const char *why)
{
    if (p->source == NULL || p->source->ops->doubt == NULL)
        return;
    if (conclusive)
        writer_fence_gen(p, gen, why);
    p->source->ops->doubt(p->source);
}

/* ---- The pool as a sink (source/source.h) -------------------------------------- */

static uint64_t sink_writer_set(void *ctx, const char *host, int port, const char *why)
{
    return spool_writer_set(ctx, host, port, why);
}

static void sink_writer_fence(void *ctx, const char *why) { spool_writer_fence(ctx, why); }

static int sink_writer_get(void *ctx, spool_addr *out)
{
    return pool_current_master(ctx, out->host, sizeof(out->host), &out->port, NULL);
}

static void sink_readers_set(void *ctx, const spool_replica_info *list, size_t n)
{
    spool_readers_set(ctx, list, n);
}

static void sink_vemit(void *ctx, pool_event_type_t type, const char *old_host, int old_port,
                       const char *new_host, int new_port, const char *fmt, va_list ap)
{
    pool_t *p = ctx;
    vemit(p, atomic_load(&p->generation), type, old_host, old_port, new_host, new_port, fmt, ap);
}

static void sink_vlog(void *ctx, pool_log_level_t level, const char *fmt, va_list ap)
{
    vlog(ctx, level, fmt, ap);
}

static const spool_tls *sink_node_tls(void *ctx) { return spool_pool_tls(ctx, 0); }

static const spool_sink_ops pool_sink_ops = {
    .writer_set = sink_writer_set,
    .writer_fence = sink_writer_fence,
    .writer_get = sink_writer_get,
    .readers_set = sink_readers_set,
    .vemit = sink_vemit,
    .vlog = sink_vlog,
    .node_tls = sink_node_tls,
};

/* ---- Checkout ------------------------------------------------------------ */

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Evict a connection we hold and hand its slot back empty. */
void spool_evict(pool_t *p, spool_slot *s, _Atomic uint64_t *reason)
{
    spool_close_conn(p, s, reason);
    spool_slot_release(p, s, SLOT_EMPTY);
}

static int role_is_master(pool_t *p, spool_slot *s, const spool_role *role)
{
    if (role->kind == SPOOL_ROLE_MASTER)
        return 1;
    spool_count(&p->stats.validation_failures);
    spool_emit(p, POOL_EVENT_VALIDATION_FAILED, s->ctx ? s->ctx->tcp.host : NULL,
               s->ctx ? s->ctx->tcp.port : 0, NULL, 0, "ROLE on the writer says %s",
               role->kind == SPOOL_ROLE_REPLICA ? "replica" : "not master");
    return 0;
}

/* Checked out at coarse time now: the idle clock restarts (see note_put()). */
static void note_checkout(pool_t *p, spool_slot *s, int64_t now)
{
    s->checkout_tick = atomic_load_explicit(&p->hk_tick, memory_order_relaxed);
    atomic_store_explicit(&s->last_used_ns, now, memory_order_relaxed);
}

/* A claimed idle connection: is it fit to hand out? 0 yes; 1 it was evicted,
 * try again; POOL_ENOTMASTER it was evicted because ROLE said replica. */
static int ready_for_writer(pool_t *p, spool_slot *s, int64_t *deadline)
{
    uint64_t gen = atomic_load_explicit(&p->generation, memory_order_acquire);
    if (s->generation != gen) {
        spool_evict(p, s, &p->stats.evicted_stale);
        return 1;
    }
    const spool_config *cfg = &p->cfg;
    int64_t now = spool_coarse_ns();
    int64_t idle = now - atomic_load_explicit(&s->last_used_ns, memory_order_relaxed);
    note_checkout(p, s, now);
    if (idle >= SPOOL_PEEK_AFTER_IDLE_NS && spool_conn_peek(s->ctx) != 0) {
        spool_count(&p->stats.health_failures);
        spool_evict(p, s, &p->stats.evicted_broken);
        return 1;
    }
    int need_role = p->hot_validate == POOL_VALIDATE_ALWAYS ||
                    (p->hot_validate == POOL_VALIDATE_IDLE &&
                     idle >= (int64_t)p->hot_validate_idle_ms * 1000000);
    if (!need_role && !p->hot_health_ping)
        return 0;
    if (*deadline == 0)
        *deadline = spool_deadline_ms(cfg->checkout_timeout_ms);
    int64_t rt = min64(*deadline, spool_deadline_ms(cfg->command_timeout_ms));
    if (cfg->health_check_ping && spool_conn_ping(p, s->ctx, rt) != 0) {
        spool_count(&p->stats.health_failures);
        spool_evict(p, s, &p->stats.evicted_broken);
        return 1;
    }
    if (need_role) {
        spool_role role;
        spool_count(&p->stats.validations);
        if (spool_conn_role(p, s->ctx, rt, &role) != 0) {
            spool_evict(p, s, &p->stats.evicted_broken);
            return 1;
        }
        if (!role_is_master(p, s, &role)) {
            writer_doubt(p, s->generation, 1, "ROLE on a pooled connection is not master");
            spool_evict(p, s, &p->stats.evicted_stale);
            return POOL_ENOTMASTER;
        }
    }
    /* The writer may have changed during the round trip, and the sweep
     * leaves slots still being checked alone: look again before lending. */
    if (s->generation != atomic_load_explicit(&p->generation, memory_order_acquire)) {
        spool_evict(p, s, &p->stats.evicted_stale);
        return 1;
    }
    return 0;
}

void spool_note_borrower(spool_slot *s)
{
    atomic_store_explicit(&s->borrower, (unsigned long)pthread_self(), memory_order_relaxed);
    atomic_fetch_and_explicit(&s->flags, ~SLOT_F_LEAKED, memory_order_relaxed);
    atomic_store_explicit(&s->borrowed_ns, spool_coarse_ns(), memory_order_release);
}

/* From RESERVED (claimed, checked) to BUSY (lent): only BUSY slots may be
 * cut by a writer change, never one still being checked. */
static inline void hand_out(pool_t *p, spool_slot *s)
{
    spool_mark_borrowed(p, s);
    atomic_store_explicit(&s->state, SLOT_BUSY, memory_order_release);
}

/* A connect for generation gen is pointless once the writer changed. */
typedef struct {
    pool_t *pool;
    uint64_t gen;
} connect_for;

static int writer_changed(void *arg)
{
    const connect_for *cf = arg;
    return atomic_load(&cf->pool->generation) != cf->gen || atomic_load(&cf->pool->shutdown);
}

/* Open a connection in an EMPTY slot we reserved. 0: the slot is BUSY and
 * ready; else the slot was released and a POOL_E* code (or 1: retry). */
static int open_in_slot(pool_t *p, spool_slot *s, const char *host, int port, uint64_t gen,
                        int64_t deadline)
{
    const spool_config *cfg = &p->cfg;
    int check = cfg->validate != POOL_VALIDATE_NEVER;
    spool_role role;
    redisContext *c = NULL;
    int64_t d = min64(deadline, spool_deadline_ms(cfg->connect_timeout_ms));
    connect_for cf = {.pool = p, .gen = gen};
    int rc = spool_conn_open_ex(p, s, host, port, d, check, writer_changed, &cf, &role, &c);
    if (rc == SPOOL_ECANCELLED) {
        spool_slot_release(p, s, SLOT_EMPTY);
        return 1; /* the writer changed meanwhile: start over with the new one */
    }
    if (rc != 0) {
        spool_count(&p->stats.connect_failures);
        spool_log(p, POOL_LOG_WARN, "connect to %s:%d failed: %s", host, port, pool_strerror(rc));
        spool_slot_release(p, s, SLOT_EMPTY);
        if (!is_refusal(rc))
            writer_doubt(p, gen, 0, "connect failed");
        return rc;
    }
    spool_count(&p->stats.created);
    s->ctx = c;
    s->generation = gen;
    note_checkout(p, s, spool_coarse_ns());
    if (check) {
        spool_count(&p->stats.validations);
        if (!role_is_master(p, s, &role)) {
            writer_doubt(p, gen, 1, "ROLE on a new connection is not master");
            spool_evict(p, s, &p->stats.evicted_stale);
            return POOL_ENOTMASTER;
        }
    }
    if (gen != atomic_load(&p->generation)) {
        spool_evict(p, s, &p->stats.evicted_stale);
        return 1;
    }
    return 0; /* still RESERVED: hand_out() lends it */
}

struct timespec spool_abs_timespec(int64_t ns)
{
    struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
    return ts;
}

/* Anything for a sleeper to do? Called under mu. */
static int worth_waking(pool_t *p, uint64_t seen_gen)
{
    if (atomic_load(&p->shutdown) || atomic_load(&p->generation) != seen_gen)
        return 1;
    for (int i = 0; i < p->nslots; i++) {
        int st = atomic_load(&p->slots[i].state);
        if (st == SLOT_IDLE || (st == SLOT_EMPTY && p->writer_known))
            return 1;
    }
    return 0;
}

/* Sleep until a slot frees, the writer changes, shutdown, or until. */
static int wait_for_change(pool_t *p, uint64_t seen_gen, int64_t until)
{
    struct timespec ts = spool_abs_timespec(until);
    int rc = 0;
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->waiters, 1);
    while (!worth_waking(p, seen_gen) && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&p->changed, &p->mu, &ts);
    atomic_fetch_sub(&p->waiters, 1);
    pthread_mutex_unlock(&p->mu);
    if (atomic_load(&p->shutdown))
        return POOL_ESHUTDOWN;
    return rc == ETIMEDOUT ? POOL_ETIMEDOUT : 0;
}

/* Sleep until, unless the writer changes or the pool shuts down first. */
static void backoff_sleep(pool_t *p, uint64_t gen, int64_t until)
{
    struct timespec ts = spool_abs_timespec(until);
    int rc = 0;
    pthread_mutex_lock(&p->mu);
    while (rc != ETIMEDOUT && !atomic_load(&p->shutdown) && atomic_load(&p->generation) == gen)
        rc = pthread_cond_timedwait(&p->slow, &p->mu, &ts);
    pthread_mutex_unlock(&p->mu);
}

/* The writer in force, copied under the mutex. 1 when one is known. */
static int writer_snapshot(pool_t *p, char host[SPOOL_HOST_MAX], int *port, uint64_t *gen)
{
    pthread_mutex_lock(&p->mu);
    int known = p->writer_known;
    *port = p->writer_port;
    *gen = atomic_load(&p->generation);
    memcpy(host, p->writer_host, SPOOL_HOST_MAX);
    pthread_mutex_unlock(&p->mu);
    return known;
}

/* The slow path: open a new connection if a slot is free and the writer is
 * known, else sleep. 0 with *got BUSY, 1 to rescan, or a final error. */
static int open_or_wait(pool_t *p, int64_t deadline, spool_slot **got, int *last_err,
                        int *backoff_ms)
{
    char host[SPOOL_HOST_MAX];
    int port;
    uint64_t gen;
    int known = writer_snapshot(p, host, &port, &gen);
    spool_slot *s = known ? claim_empty(p) : NULL;
    if (s != NULL) {
        int rc = open_in_slot(p, s, host, port, gen, deadline);
        if (rc == 0) {
            *got = s;
            return 0;
        }
        if (is_refusal(rc) || rc == POOL_ESHUTDOWN)
            return rc; /* give up at once */
        if (rc == 1)
            return 1;
        /* Keep the most telling error: a last attempt cut short by the
         * deadline says less than the refusal before it. */
        if (*last_err == 0 || rc != POOL_ECONNECT || spool_now_ns() < deadline)
            *last_err = rc;
        /* Do not hammer a node that just refused: back off within the deadline. */
        backoff_sleep(p, gen, min64(deadline, spool_deadline_ms(*backoff_ms)));
        *backoff_ms = *backoff_ms * 2 > 500 ? 500 : *backoff_ms * 2;
        if (atomic_load(&p->shutdown))
            return POOL_ESHUTDOWN;
        return spool_now_ns() >= deadline ? *last_err : 1;
    }
    spool_count(&p->stats.waits);
    int rc = wait_for_change(p, gen, deadline);
    if (rc == POOL_ETIMEDOUT) {
        if (*last_err != 0)
            return *last_err;
        return known ? POOL_ETIMEDOUT : POOL_ENOMASTER;
    }
    return rc == 0 ? 1 : rc;
}

/* A thread about to sleep or connect holds a reference, so that
 * pool_destroy() cannot free the pool under it. The hot path holds a slot
 * instead (each counts as one) and pays no extra locked instruction. */
void spool_pin(pool_t *p) { atomic_fetch_add(&p->refs, 1); }

void spool_unpin(pool_t *p) { pool_unref(p); }

/* The fast path's check of the thread's last slot, claimed: fit to lend
 * as it is (same writer, idle less than hot_quiet_ns)? Else the full check
 * decides. */
static int fit_as_is(pool_t *p, spool_slot *s)
{
    int64_t now = spool_coarse_ns();
    if (now - atomic_load_explicit(&s->last_used_ns, memory_order_relaxed) >= p->hot_quiet_ns ||
        s->generation != atomic_load_explicit(&p->generation, memory_order_acquire) ||
        atomic_load_explicit(&p->shutdown, memory_order_relaxed))
        return 0;
    note_checkout(p, s, now); /* a line the claim just wrote: no extra miss */
    return 1;
}

/* Everything but the fast path; s: a slot already claimed, or NULL. */
static __attribute__((noinline)) int get_writer_slow(pool_t *p, redisContext **out, spool_slot *s)
{
    if (atomic_load_explicit(&p->shutdown, memory_order_acquire)) {
        if (s != NULL)
            spool_slot_release(p, s, SLOT_IDLE);
        return POOL_ESHUTDOWN;
    }
    int64_t deadline = 0;
    int last_err = 0, backoff_ms = 10, pinned = 0, rc;
    for (;;) {
        if (s == NULL)
            s = claim_idle(p);
        if (s != NULL) {
            rc = ready_for_writer(p, s, &deadline);
            if (rc == 0)
                goto lend;
            s = NULL;
            if (rc < 0)
                last_err = rc;
            if (deadline != 0 && spool_now_ns() >= deadline)
                break;
            continue;
        }
        if (!pinned) {
            spool_pin(p);
            pinned = 1;
        }
        if (atomic_load(&p->shutdown)) {
            rc = POOL_ESHUTDOWN;
            goto done;
        }
        if (deadline == 0)
            deadline = spool_deadline_ms(p->cfg.checkout_timeout_ms);
        rc = open_or_wait(p, deadline, &s, &last_err, &backoff_ms);
        if (rc == 0)
            goto lend;
        s = NULL;
        if (rc != 1) {
            if (rc != POOL_ESHUTDOWN && rc != POOL_EAUTH && rc != POOL_EINVAL)
                spool_count(&p->stats.checkout_timeouts);
            goto done;
        }
        if (spool_now_ns() >= deadline)
            break;
    }
    spool_count(&p->stats.checkout_timeouts);
    rc = last_err != 0 ? last_err : POOL_ETIMEDOUT;
    goto done;
lend:
    hand_out(p, s);
    last_slot.pool = p;
    last_slot.index = (int)s->index;
    *out = s->ctx;
    rc = 0;
done:
    if (pinned)
        spool_unpin(p); /* may free the pool after a shutdown: touch nothing after */
    return rc;
}

int pool_get_writer(pool_t *p, redisContext **out)
{
    if (p == NULL || out == NULL) {
        if (out != NULL)
            *out = NULL;
        return POOL_EINVAL;
    }
    /* The fast path: the slot this thread used last, idle and fit as is. */
    spool_slot *s = NULL;
    if (last_slot.pool == p && last_slot.index < p->nslots &&
        spool_try_claim(&p->slots[last_slot.index], SLOT_IDLE, SLOT_RESERVED)) {
        s = &p->slots[last_slot.index];
        if (fit_as_is(p, s)) {
            hand_out(p, s);
            *out = s->ctx;
            return 0;
        }
    }
    *out = NULL;
    return get_writer_slow(p, out, s);
}

/* ---- Return ---------------------------------------------------------------- */

/* Take a lent slot back: BUSY -> RESERVED, waiting out a cut in progress.
 * 0 when it was not lent (a double put racing with itself). */
static int reclaim(spool_slot *s)
{
    for (;;) {
        int expected = SLOT_BUSY;
        if (atomic_compare_exchange_weak_explicit(&s->state, &expected, SLOT_RESERVED,
                                                  memory_order_acquire, memory_order_relaxed))
            return 1;
        if (expected == SLOT_CUTTING)
            sched_yield(); /* one shutdown(2) call away */
        else if (expected != SLOT_BUSY)
            return 0;
    }
}

/* One clock read per checkout, not two: a connection back within the
 * housekeeping pass it left in counts as idle from its checkout (at most one
 * pass, <= 1 s, early: a peek or a ROLE check sooner, never later), and
 * last_used_ns already says so; after a longer borrow the clock read costs
 * nothing next to it. */
static void note_put(pool_t *p, spool_slot *s)
{
    if (atomic_load_explicit(&p->hk_tick, memory_order_relaxed) != s->checkout_tick)
        atomic_store_explicit(&s->last_used_ns, spool_coarse_ns(), memory_order_relaxed);
}

/* Lend a fit connection back with one compare-and-swap, BUSY -> IDLE (a
 * seq_cst RMW: it also orders the waiters load in after_release()), waiting
 * out a cut in progress. A writer change that cuts the slot between the
 * caller's checks and the CAS leaves an IDLE slot of an old generation,
 * which the next checkout or sweep evicts. */
static void put_fit(pool_t *p, spool_slot *s, redisContext *c)
{
    if (p->hot_leak_ms > 0)
        atomic_store_explicit(&s->borrowed_ns, 0, memory_order_relaxed);
    note_put(p, s);
    for (;;) {
        int expected = SLOT_BUSY;
        if (atomic_compare_exchange_weak(&s->state, &expected, SLOT_IDLE))
            break;
        if (expected == SLOT_CUTTING) {
            sched_yield(); /* one shutdown(2) call away */
        } else if (expected != SLOT_BUSY) {
            spool_log(p, POOL_LOG_ERROR, "pool_put: context %p is not borrowed from this pool",
                      (void *)c);
            return;
        }
    }
    after_release(p, s);
}

/* Everything but a clean put of a writer connection. */
static __attribute__((noinline)) void put_slow(pool_t *p, spool_slot *s, redisContext *c)
{
    if (s == NULL && (s = spool_slot_of(p->rslots, p->nrslots, c)) != NULL) {
        spool_reader_put(p, s);
        return;
    }
    if (s == NULL || !reclaim(s)) {
        spool_log(p, POOL_LOG_ERROR, "pool_put: context %p is not borrowed from this pool",
                  (void *)c);
        return;
    }
    int flags = atomic_load_explicit(&s->flags, memory_order_relaxed);
    if (p->hot_leak_ms > 0)
        atomic_store_explicit(&s->borrowed_ns, 0, memory_order_relaxed);
    if (flags & SLOT_F_READONLY) {
        spool_count(&p->stats.readonly_replies);
        spool_emit(p, POOL_EVENT_WRITER_SUSPECT, c->tcp.host, c->tcp.port, NULL, 0,
                   "a caller got READONLY/MASTERDOWN from %s:%d", c->tcp.host, c->tcp.port);
        writer_doubt(p, s->generation, 1, "READONLY or MASTERDOWN reply");
        spool_evict(p, s, &p->stats.evicted_readonly);
        return;
    }
    if (flags & SLOT_F_LIMIT) {
        spool_evict(p, s, &p->stats.evicted_limit);
        return;
    }
    /* Stale before broken: a connection cut at a writer change is both. */
    if (s->generation != atomic_load_explicit(&p->generation, memory_order_acquire)) {
        spool_evict(p, s, &p->stats.evicted_stale);
        return;
    }
    if (c->err || spool_has_leftovers(c)) {
        spool_evict(p, s, &p->stats.evicted_broken);
        return;
    }
    if (spool_hygiene_dirty(&s->guard) && spool_conn_tidy(p, s) != 0)
        return;
    /* The writer may have changed during a reset's round trip. */
    if (s->generation != atomic_load_explicit(&p->generation, memory_order_acquire)) {
        spool_evict(p, s, &p->stats.evicted_stale);
        return;
    }
    note_put(p, s);
    spool_slot_release(p, s, SLOT_IDLE);
}

void pool_put(pool_t *p, redisContext *c)
{
    if (p == NULL || c == NULL)
        return;
    spool_slot *s = spool_slot_of(p->slots, p->nslots, c);
    if (s != NULL &&
        (atomic_load_explicit(&s->flags, memory_order_relaxed) & (SLOT_F_READONLY | SLOT_F_LIMIT)) == 0 &&
        s->generation == atomic_load_explicit(&p->generation, memory_order_acquire) &&
        !c->err && !spool_has_leftovers(c) && !spool_hygiene_dirty(&s->guard)) {
        put_fit(p, s, c);
        return;
    }
    put_slow(p, s, c);
}

int pool_mark_dirty(pool_t *p, redisContext *c, pool_dirty_t what)
{
    if (p == NULL || c == NULL || (what != POOL_DIRTY_RESET && what != POOL_DIRTY_CLOSE))
        return POOL_EINVAL;
    spool_slot *s = spool_slot_of(p->slots, p->nslots, c);
    if (s == NULL)
        s = spool_slot_of(p->rslots, p->nrslots, c);
    if (s == NULL)
        return POOL_ENOTPOOLED;
    /* The holder's own field: only the thread holding c calls this. */
    s->guard.dirt |= what == POOL_DIRTY_CLOSE ? SPOOL_DIRT_CLOSE : SPOOL_DIRT_MARKED;
    return 0;
}

/* ---- Housekeeping: idle eviction, min_idle, leak reports ------------------ */

static int open_count(const spool_slot *slots, int n)
{
    int open = 0;
    for (int i = 0; i < n; i++) {
        int st = atomic_load(&slots[i].state);
        open += st == SLOT_IDLE || st == SLOT_BUSY || st == SLOT_RESERVED || st == SLOT_CUTTING;
    }
    return open;
}

/* Close connections idle past idle_timeout_ms, highest slots first, keeping
 * keep of them open. */
static void evict_idle(pool_t *p, spool_slot *slots, int n, int keep)
{
    const spool_config *cfg = &p->cfg;
    if (cfg->idle_timeout_ms <= 0)
        return;
    int open = open_count(slots, n);
    int64_t cutoff = spool_coarse_ns() - (int64_t)cfg->idle_timeout_ms * 1000000;
    for (int i = n - 1; i >= 0 && open > keep; i--) {
        spool_slot *s = &slots[i];
        if (atomic_load(&s->last_used_ns) > cutoff || !spool_try_claim(s, SLOT_IDLE, SLOT_RESERVED))
            continue;
        if (atomic_load(&s->last_used_ns) <= cutoff) {
            spool_close_conn(p, s, &p->stats.evicted_idle);
            spool_slot_release(p, s, SLOT_EMPTY);
            open--;
        } else {
            spool_slot_release(p, s, SLOT_IDLE);
        }
    }
}

static void top_up(pool_t *p)
{
    while (!atomic_load(&p->shutdown) && open_count(p->slots, p->nslots) < p->cfg.min_idle) {
        char host[SPOOL_HOST_MAX];
        int port;
        uint64_t gen;
        spool_slot *s = writer_snapshot(p, host, &port, &gen) ? claim_empty(p) : NULL;
        if (s == NULL)
            return;
        if (open_in_slot(p, s, host, port, gen, spool_deadline_ms(p->cfg.connect_timeout_ms)) != 0)
            return;
        spool_slot_release(p, s, SLOT_IDLE);
    }
}

static void report_leaks(pool_t *p, spool_slot *slots, int n, const char *kind)
{
    int64_t threshold = (int64_t)p->cfg.leak_threshold_ms * 1000000;
    if (threshold <= 0)
        return;
    int64_t now = spool_coarse_ns();
    for (int i = 0; i < n; i++) {
        spool_slot *s = &slots[i];
        int64_t since = atomic_load_explicit(&s->borrowed_ns, memory_order_acquire);
        if (since == 0 || atomic_load(&s->state) != SLOT_BUSY || now - since < threshold)
            continue;
        if (atomic_fetch_or(&s->flags, SLOT_F_LEAKED) & SLOT_F_LEAKED)
            continue;
        /* Returned and lent again since we read since: that new borrow is
         * not the long one; leave it unmarked for its own report. */
        if (atomic_load_explicit(&s->borrowed_ns, memory_order_acquire) != since) {
            atomic_fetch_and(&s->flags, ~SLOT_F_LEAKED);
            continue;
        }
        spool_count(&p->stats.leaks_reported);
        spool_emit(p, POOL_EVENT_CONNECTION_LEAK, NULL, 0, NULL, 0,
                   "%s connection #%d borrowed by thread %#lx for %lld ms (leak_threshold_ms %d)", kind, i,
                   atomic_load(&s->borrower), (long long)((now - since) / 1000000),
                   p->cfg.leak_threshold_ms);
    }
}

static int housekeeping_period_ms(const spool_config *cfg)
{
    int ms = 1000;
    if (cfg->idle_timeout_ms > 0 && cfg->idle_timeout_ms / 2 < ms)
        ms = cfg->idle_timeout_ms / 2;
    if (cfg->leak_threshold_ms > 0 && cfg->leak_threshold_ms / 2 < ms)
        ms = cfg->leak_threshold_ms / 2;
    return ms < 10 ? 10 : ms;
}

static void *housekeeper_main(void *arg)
{
    pool_t *p = arg;
    int period = housekeeping_period_ms(&p->cfg);
    pthread_mutex_lock(&p->mu);
    while (!atomic_load(&p->shutdown)) {
        struct timespec ts = spool_abs_timespec(spool_deadline_ms(period));
        pthread_cond_timedwait(&p->hk_wake, &p->mu, &ts);
        atomic_fetch_add_explicit(&p->hk_tick, 1, memory_order_relaxed);
        if (atomic_load(&p->shutdown))
            break;
        pthread_mutex_unlock(&p->mu);
        evict_idle(p, p->slots, p->nslots, p->cfg.min_idle);
        evict_idle(p, p->rslots, p->nrslots, 0);
        top_up(p);
        report_leaks(p, p->slots, p->nslots, "writer");
        report_leaks(p, p->rslots, p->nrslots, "reader");
        atomic_fetch_add_explicit(&p->hk_tick, 1, memory_order_relaxed);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- Create, destroy, stats ------------------------------------------------ */

static int init_sync(pool_t *p)
{
    pthread_condattr_t ca;
    if (pthread_mutex_init(&p->mu, NULL) != 0)
        return POOL_ETHREAD;
    if (pthread_condattr_init(&ca) != 0)
        goto fail_mutex;
    if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&p->changed, &ca) != 0) {
        pthread_condattr_destroy(&ca);
        goto fail_mutex;
    }
    if (pthread_cond_init(&p->slow, &ca) != 0) {
        pthread_condattr_destroy(&ca);
        pthread_cond_destroy(&p->changed);
        goto fail_mutex;
    }
    if (pthread_cond_init(&p->hk_wake, &ca) != 0) {
        pthread_condattr_destroy(&ca);
        pthread_cond_destroy(&p->changed);
        pthread_cond_destroy(&p->slow);
        goto fail_mutex;
    }
    pthread_condattr_destroy(&ca);
    return 0;
fail_mutex:
    pthread_mutex_destroy(&p->mu);
    return POOL_ETHREAD;
}

/* SIGPIPE still at its default, which ends the process? */
static int sigpipe_is_default(void)
{
    struct sigaction old;
    return sigaction(SIGPIPE, NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) &&
           old.sa_handler == SIG_DFL;
}

/* Make the default safe: a writer change shuts down borrowed sockets, so
 * the holder's next write raises SIGPIPE at every failover, not just when a
 * server goes away. hiredis 1.x connections write with MSG_NOSIGNAL
 * (hygiene.c); 0.14 writes with write(2), where only the disposition
 * helps. */
static void check_sigpipe(pool_t *p)
{
    if (!sigpipe_is_default())
        return;
    if (p->cfg.sigpipe == POOL_SIGPIPE_APP) {
        spool_log(p, POOL_LOG_WARN,
                  "SIGPIPE has its default action (end the process) and sigpipe = "
                  "POOL_SIGPIPE_APP: a write on a connection the pool cut at a writer change "
                  "would raise it; ignore SIGPIPE or leave sigpipe at POOL_SIGPIPE_PREVENT");
        return;
    }
    if (spool_hr_can_hook_write())
        return;
    struct sigaction ign;
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    if (sigaction(SIGPIPE, &ign, NULL) == 0)
        spool_log(p, POOL_LOG_INFO,
                  "SIGPIPE set to SIG_IGN: hiredis 0.14 writes with write(2), and a write on a "
                  "connection cut at a writer change would otherwise end the process "
                  "(sigpipe = POOL_SIGPIPE_APP leaves it alone)");
}

int pool_tls_available(void) { return spool_tls_compiled(); }

int pool_create(const pool_options_t *opts, pool_t **out)
{
    if (out != NULL)
        *out = NULL;
    if (opts == NULL || out == NULL)
        return POOL_EINVAL;
    /* Its first cache line is what every checkout and put reads. */
    pool_t *p = aligned_alloc(SPOOL_CACHELINE, sizeof(*p));
    if (p == NULL)
        return POOL_ENOMEM;
    memset(p, 0, sizeof(*p));
    char err[256];
    int rc = spool_config_init(&p->cfg, opts, err, sizeof(err));
    if (rc != 0) {
        if (opts->log_fn != NULL)
            opts->log_fn(opts->log_userdata, POOL_LOG_ERROR, err);
        free(p);
        return rc;
    }
    spool_tls_set_log(p->cfg.tls_ctx, tls_log, p);
    p->nslots = p->cfg.max_connections;
    p->hot_validate = p->cfg.validate;
    p->hot_validate_idle_ms = p->cfg.validate_idle_ms;
    p->hot_health_ping = p->cfg.health_check_ping;
    p->hot_leak_ms = p->cfg.leak_threshold_ms;
    /* How long a connection may sit idle and still be lent without a look:
     * below the peek threshold and the ROLE window, and never when every
     * checkout wants a round trip. */
    p->hot_quiet_ns = SPOOL_PEEK_AFTER_IDLE_NS;
    if (p->cfg.validate == POOL_VALIDATE_IDLE &&
        (int64_t)p->cfg.validate_idle_ms * 1000000 < p->hot_quiet_ns)
        p->hot_quiet_ns = (int64_t)p->cfg.validate_idle_ms * 1000000;
    if (p->cfg.validate == POOL_VALIDATE_ALWAYS || p->cfg.health_check_ping)
        p->hot_quiet_ns = 0;
    p->slots = aligned_alloc(SPOOL_CACHELINE, sizeof(spool_slot) * (size_t)p->nslots);
    if (p->slots == NULL) {
        spool_config_free(&p->cfg);
        free(p);
        return POOL_ENOMEM;
    }
    memset(p->slots, 0, sizeof(spool_slot) * (size_t)p->nslots);
    for (int i = 0; i < p->nslots; i++) {
        p->slots[i].index = (uint32_t)i;
        p->slots[i].pool = p;
    }
    if ((rc = spool_readers_init(p)) != 0) {
        spool_config_free(&p->cfg);
        free(p->slots);
        free(p);
        return rc;
    }
    if ((rc = init_sync(p)) != 0) {
        spool_config_free(&p->cfg);
        spool_readers_free(p);
        free(p->slots);
        free(p);
        return rc;
    }
    atomic_init(&p->refs, p->nslots + p->nrslots + 1);
    check_sigpipe(p);

    /* The composition root: the one place that picks where the writer
     * comes from. */
    spool_sink sink = {&pool_sink_ops, p};
    rc = p->cfg.master_addr != NULL ? spool_static_source_open(opts, sink, &p->source)
                                    : spool_sentinel_source_open(opts, sink, &p->source);
    if (rc != 0) {
        pool_free(p);
        return rc;
    }
    if (pthread_create(&p->housekeeper, NULL, housekeeper_main, p) != 0) {
        atomic_store(&p->shutdown, 1);
        p->source->ops->stop(p->source);
        pool_free(p);
        return POOL_ETHREAD;
    }
    p->housekeeper_started = 1;
    *out = p;
    return 0;
}

void pool_destroy(pool_t *p)
{
    if (p == NULL)
        return;
    atomic_store(&p->shutdown, 1);
    p->source->ops->stop(p->source); /* no more writer news; freed with the pool */
    pthread_mutex_lock(&p->mu);
    wake_all_locked(p);
    pthread_cond_signal(&p->hk_wake);
    pthread_mutex_unlock(&p->mu);
    if (p->housekeeper_started)
        pthread_join(p->housekeeper, NULL);
    /* Idle and empty slots die now; borrowed ones when their holder puts
     * them back. The last reference frees the pool. */
    for (int i = 0; i < p->nslots; i++)
        spool_reap_slot(p, &p->slots[i]);
    for (int i = 0; i < p->nrslots; i++)
        spool_reap_slot(p, &p->rslots[i]);
    pool_unref(p);
}

int pool_stats(pool_t *p, pool_stats_t *out)
{
    if (p == NULL || out == NULL)
        return POOL_EINVAL;
    /* sizeof(*out) is the caller's size too: it is fixed for the SONAME
     * (header, "ABI"). Zeroing it covers the reserve and any counter not
     * filled below. */
    memset(out, 0, sizeof(*out));
    const spool_counters *c = &p->stats;
    for (int i = 0; i < p->nslots; i++) {
        const spool_slot *s = &p->slots[i];
        int st = atomic_load(&s->state);
        out->in_use += st == SLOT_BUSY || st == SLOT_CUTTING;
        out->idle += st == SLOT_IDLE;
        out->checkouts += atomic_load_explicit(&s->checkouts, memory_order_relaxed);
    }
    out->generation = atomic_load(&p->generation);
    out->created = atomic_load(&c->created);
    out->closed = atomic_load(&c->closed);
    out->waits = atomic_load(&c->waits);
    out->checkout_timeouts = atomic_load(&c->checkout_timeouts);
    out->validations = atomic_load(&c->validations);
    out->validation_failures = atomic_load(&c->validation_failures);
    out->health_failures = atomic_load(&c->health_failures);
    out->connect_failures = atomic_load(&c->connect_failures);
    out->evicted_broken = atomic_load(&c->evicted_broken);
    out->evicted_idle = atomic_load(&c->evicted_idle);
    out->evicted_stale = atomic_load(&c->evicted_stale);
    out->evicted_readonly = atomic_load(&c->evicted_readonly);
    out->evicted_limit = atomic_load(&c->evicted_limit);
    out->evicted_shutdown = atomic_load(&c->evicted_shutdown);
    out->leaks_reported = atomic_load(&c->leaks_reported);
    out->readonly_replies = atomic_load(&c->readonly_replies);
    out->resets = atomic_load(&c->resets);
    out->reset_transaction = atomic_load(&c->reset_transaction);
    out->reset_database = atomic_load(&c->reset_database);
    out->reset_pubsub = atomic_load(&c->reset_pubsub);
    out->reset_reply_mode = atomic_load(&c->reset_reply_mode);
    out->reset_user = atomic_load(&c->reset_user);
    out->reset_protocol = atomic_load(&c->reset_protocol);
    out->reset_client = atomic_load(&c->reset_client);
    out->reset_marked = atomic_load(&c->reset_marked);
    out->evicted_unread = atomic_load(&c->evicted_unread);
    out->evicted_unresettable = atomic_load(&c->evicted_unresettable);
    spool_readers_stats(p, out);
    return 0;
}

int pool_current_master(pool_t *p, char *host, size_t hostlen, int *port, uint64_t *generation)
{
    if (p == NULL)
        return POOL_EINVAL;
    pthread_mutex_lock(&p->mu);
    int known = p->writer_known;
    if (host != NULL && hostlen > 0)
        snprintf(host, hostlen, "%s", known ? p->writer_host : "");
    if (port != NULL)
        *port = known ? p->writer_port : 0;
    if (generation != NULL)
        *generation = atomic_load(&p->generation);
    pthread_mutex_unlock(&p->mu);
    return known ? 0 : POOL_ENOMASTER;
}
