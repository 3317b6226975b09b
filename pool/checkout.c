/* pool/checkout.c: lending a writer connection and taking it back.
 * The fast path is one compare-and-swap on the slot this thread used last
 * and one on return; a mutex and condition variables only for the slow path
 * (opening a connection, waiting for one). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "net/net.h"
#include "pool/pool_internal.h"

/* A per-thread hint: the slot this thread used last (HikariCP's trick), so a
 * thread usually finds "its" connection with one CAS and no shared writes.
 * Only a hint: it is checked against the pool and the slot's state. */
static _Thread_local struct {
    const pool_t *pool;
    int index;
} last_slot __attribute__((tls_model("initial-exec")));

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* A connect failure that retrying will not change and that says nothing
 * about the writer (credentials, options, TLS configuration). */
static int is_refusal(int rc)
{
    return rc == POOL_EAUTH || rc == POOL_EINVAL || rc == POOL_ECERT || rc == POOL_ETLS;
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
            spool_writer_doubt(p, s->generation, 1, "ROLE on a pooled connection is not master");
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
    spool_slot_move(s, SLOT_RESERVED, SLOT_BUSY, SPOOL_MOVE_STORE_RELEASE, NULL);
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
int spool_open_in_slot(pool_t *p, spool_slot *s, const char *host, int port, uint64_t gen,
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
            spool_writer_doubt(p, gen, 0, "connect failed");
        return rc;
    }
    spool_count(&p->stats.created);
    s->ctx = c;
    s->generation = gen;
    note_checkout(p, s, spool_coarse_ns());
    if (check) {
        spool_count(&p->stats.validations);
        if (!role_is_master(p, s, &role)) {
            spool_writer_doubt(p, gen, 1, "ROLE on a new connection is not master");
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

/* The slow path: open a new connection if a slot is free and the writer is
 * known, else sleep. 0 with *got BUSY, 1 to rescan, or a final error. */
static int open_or_wait(pool_t *p, int64_t deadline, spool_slot **got, int *last_err,
                        int *backoff_ms)
{
    char host[SPOOL_HOST_MAX];
    int port;
    uint64_t gen;
    int known = spool_writer_snapshot(p, host, &port, &gen);
    spool_slot *s = known ? spool_claim_empty(p) : NULL;
    if (s != NULL) {
        int rc = spool_open_in_slot(p, s, host, port, gen, deadline);
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

void spool_unpin(pool_t *p) { spool_pool_unref(p); }

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
            s = spool_claim_idle(p);
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
        if (spool_slot_move(s, SLOT_BUSY, SLOT_RESERVED, SPOOL_MOVE_CAS_LOOP_ACQ, &expected))
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
 * seq_cst RMW: it also orders the waiters load in spool_slot_after_release()), waiting
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
        if (spool_slot_move(s, SLOT_BUSY, SLOT_IDLE, SPOOL_MOVE_CAS_LOOP, &expected))
            break;
        if (expected == SLOT_CUTTING) {
            sched_yield(); /* one shutdown(2) call away */
        } else if (expected != SLOT_BUSY) {
            spool_log(p, POOL_LOG_ERROR, "pool_put: context %p is not borrowed from this pool",
                      (void *)c);
            return;
        }
    }
    spool_slot_after_release(p, s);
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
        spool_writer_doubt(p, s->generation, 1, "READONLY or MASTERDOWN reply");
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
