/* Replica reads: reader slots work like the writer's, but each is bound to
 * the replica it was opened to, and the choice of replica is made under the
 * pool mutex from the set the watcher keeps (replicas up, master link ok,
 * within the lag limit). Reads are not the lock-free hot path. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"
#include "pool/pool_internal.h"

#define MAX_TRIED 8 /* replicas skipped within one checkout after failing */

int spool_readers_init(pool_t *p)
{
    p->nrslots = p->cfg.max_readers;
    if (p->nrslots == 0)
        return 0;
    p->rslots = spool_slots_new(p, p->nrslots);
    p->raddr = calloc((size_t)p->nrslots, sizeof(spool_addr));
    if (p->rslots == NULL || p->raddr == NULL) {
        spool_readers_free(p);
        return POOL_ENOMEM;
    }
    return 0;
}

void spool_readers_free(pool_t *p)
{
    free(p->rslots);
    free(p->raddr);
    p->rslots = NULL;
    p->raddr = NULL;
}


/* Under mu. */
static int replica_index(const pool_t *p, const spool_addr *a)
{
    for (int i = 0; i < p->nreplicas; i++)
        if (spool_addr_equal(&p->replicas[i].addr, a))
            return i;
    return -1;
}

static int was_tried(const spool_addr *tried, int ntried, const spool_addr *a)
{
    for (int i = 0; i < ntried; i++)
        if (spool_addr_equal(&tried[i], a))
            return 1;
    return 0;
}

/* Under mu: the replica to read from, or -1. */
static int pick_replica(pool_t *p, const spool_addr *tried, int ntried)
{
    long long max_lag = p->cfg.max_replica_lag_bytes;
    int best = -1;
    for (int k = 0; k < p->nreplicas; k++) {
        int i = (int)((p->reader_rr + (unsigned)k) % (unsigned)p->nreplicas);
        const spool_replica_info *r = &p->replicas[i];
        if (max_lag > 0 && (r->lag < 0 || r->lag > max_lag))
            continue;
        if (was_tried(tried, ntried, &r->addr))
            continue;
        if (p->cfg.read_spread == POOL_SPREAD_ROUND_ROBIN) {
            best = i;
            break;
        }
        if (best < 0 || p->replica_borrowed[i] < p->replica_borrowed[best])
            best = i;
    }
    if (best >= 0)
        p->reader_rr = (unsigned)best + 1;
    return best;
}

static void unborrow(pool_t *p, const spool_addr *a)
{
    pthread_mutex_lock(&p->mu);
    int i = replica_index(p, a);
    if (i >= 0 && p->replica_borrowed[i] > 0)
        p->replica_borrowed[i]--;
    pthread_mutex_unlock(&p->mu);
}

static int fit_reader(const spool_role *role)
{
    return role->kind == SPOOL_ROLE_REPLICA && strcmp(role->link_state, "connected") == 0;
}

/* A claimed idle reader: still fit? 0 yes, else it was evicted. */
static int ready_for_reader(pool_t *p, spool_slot *s, int64_t deadline)
{
    const spool_config *cfg = &p->cfg;
    int64_t idle = spool_coarse_ns() - atomic_load_explicit(&s->last_used_ns, memory_order_relaxed);
    if (idle >= SPOOL_PEEK_AFTER_IDLE_NS && spool_conn_peek(s->ctx) != 0) {
        spool_count(&p->stats.health_failures);
        spool_evict(p, s, &p->stats.evicted_broken);
        return -1;
    }
    int need_role = cfg->validate == POOL_VALIDATE_ALWAYS ||
                    (cfg->validate == POOL_VALIDATE_IDLE &&
                     idle >= (int64_t)cfg->validate_idle_ms * 1000000);
    if (!need_role)
        return 0;
    spool_role role;
    spool_count(&p->stats.validations);
    int64_t rt = spool_deadline_ms(cfg->command_timeout_ms);
    if (spool_conn_role(p, s->ctx, rt < deadline ? rt : deadline, &role) != 0 || !fit_reader(&role)) {
        spool_count(&p->stats.validation_failures);
        spool_evict(p, s, &p->stats.evicted_stale);
        return -1;
    }
    return 0;
}

/* Sleep until a slot frees or a short while passes. */
static void nap(pool_t *p, int64_t until)
{
    int64_t cap = spool_deadline_ms(50);
    struct timespec ts = spool_abs_timespec(until < cap ? until : cap);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->waiters, 1);
    if (!atomic_load(&p->shutdown))
        pthread_cond_timedwait(&p->slow, &p->mu, &ts);
    atomic_fetch_sub(&p->waiters, 1);
    pthread_mutex_unlock(&p->mu);
}

/* FNV-1a of host and port, never 0 (0 marks a slot never aimed). */
static uint64_t addr_key(const spool_addr *a)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *c = a->host; *c != '\0'; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ULL;
    h = (h ^ (uint64_t)(unsigned)a->port) * 1099511628211ULL;
    return h | 1;
}

/* Hand a reader slot we hold back as IDLE, unless the replica set changed
 * since it was lent and its replica is no longer in it (a sweep in
 * spool_readers_set() skips slots it cannot claim). */
static void reader_release(pool_t *p, spool_slot *s)
{
    uint64_t gen = atomic_load(&p->reader_gen);
    if (s->generation != gen) {
        pthread_mutex_lock(&p->mu);
        int member = replica_index(p, &p->raddr[s->index]) >= 0;
        pthread_mutex_unlock(&p->mu);
        if (!member) {
            spool_evict(p, s, &p->stats.evicted_stale);
            return;
        }
        s->generation = gen;
    }
    spool_slot_release(p, s, SLOT_IDLE);
}

/* Borrow a connection to target: an idle one, else a new one. 0, 1 to
 * retry, or an error for this replica. */
static int borrow_from(pool_t *p, const spool_addr *target, uint64_t rgen, int64_t deadline,
                       redisContext **out)
{
    uint64_t key = addr_key(target);
    for (int j = 0; j < p->nrslots; j++) {
        spool_slot *s = &p->rslots[j];
        /* raddr belongs to the slot's holder, who may re-aim it: pick by the
         * key, then compare the address once the slot is ours. */
        if (atomic_load_explicit(&s->addr_key, memory_order_relaxed) != key ||
            !spool_try_claim(s, SLOT_IDLE, SLOT_BUSY))
            continue;
        if (!spool_addr_equal(&p->raddr[j], target)) {
            reader_release(p, s); /* a key collision, or re-aimed meanwhile */
            continue;
        }
        if (ready_for_reader(p, s, deadline) != 0)
            continue;
        s->generation = rgen;
        spool_mark_borrowed(p, s);
        *out = s->ctx;
        return 0;
    }
    for (int j = 0; j < p->nrslots; j++) {
        spool_slot *s = &p->rslots[j];
        if (!spool_try_claim(s, SLOT_EMPTY, SLOT_RESERVED))
            continue;
        p->raddr[j] = *target;
        atomic_store_explicit(&s->addr_key, key, memory_order_relaxed);
        spool_role role;
        redisContext *c = NULL;
        int64_t d = spool_deadline_ms(p->cfg.connect_timeout_ms);
        int rc = spool_conn_open(p, s, target->host, target->port, d < deadline ? d : deadline, 1,
                                 &role, &c);
        if (rc != 0) {
            spool_count(&p->stats.connect_failures);
            spool_slot_release(p, s, SLOT_EMPTY);
            return rc;
        }
        spool_count(&p->stats.created);
        spool_count(&p->stats.validations);
        s->ctx = c;
        if (!fit_reader(&role)) {
            spool_count(&p->stats.validation_failures);
            spool_evict(p, s, &p->stats.evicted_stale);
            return POOL_ENOREPLICA;
        }
        s->generation = rgen;
        atomic_store_explicit(&s->last_used_ns, spool_coarse_ns(), memory_order_relaxed);
        spool_slot_move(s, SLOT_RESERVED, SLOT_BUSY, SPOOL_MOVE_STORE, NULL);
        spool_mark_borrowed(p, s);
        *out = c;
        return 0;
    }
    nap(p, deadline);
    return atomic_load(&p->shutdown) ? POOL_ESHUTDOWN : 1;
}

static int get_reader(pool_t *p, redisContext **out)
{
    int64_t deadline = spool_deadline_ms(p->cfg.checkout_timeout_ms);
    spool_addr tried[MAX_TRIED];
    int ntried = 0, last_err = 0;
    while (p->nrslots > 0) {
        spool_addr target;
        pthread_mutex_lock(&p->mu);
        int i = pick_replica(p, tried, ntried);
        if (i >= 0) {
            target = p->replicas[i].addr;
            p->replica_borrowed[i]++;
        }
        uint64_t rgen = atomic_load(&p->reader_gen);
        pthread_mutex_unlock(&p->mu);
        if (i < 0)
            break;
        int rc = borrow_from(p, &target, rgen, deadline, out);
        if (rc == 0) {
            spool_count(&p->reader_checkouts);
            return 0;
        }
        unborrow(p, &target);
        if (rc == POOL_ESHUTDOWN || rc == POOL_EAUTH)
            return rc;
        if (rc != 1) {
            last_err = rc;
            if (ntried < MAX_TRIED)
                tried[ntried++] = target;
        }
        if (spool_now_ns() >= deadline)
            return last_err != 0 ? last_err : POOL_ETIMEDOUT;
    }
    spool_count(&p->no_replica);
    if (p->cfg.read_fallback == POOL_READ_MASTER) {
        int rc = pool_get_writer(p, out);
        if (rc == 0)
            spool_count(&p->reader_fallbacks);
        return rc;
    }
    return POOL_ENOREPLICA;
}

int pool_get_reader(pool_t *p, redisContext **out)
{
    if (out != NULL)
        *out = NULL;
    if (p == NULL || out == NULL)
        return POOL_EINVAL;
    if (atomic_load(&p->shutdown))
        return POOL_ESHUTDOWN;
    spool_pin(p); /* it may nap: pool_destroy() must not free the pool meanwhile */
    int rc = get_reader(p, out);
    spool_unpin(p);
    return rc;
}

void spool_reader_put(pool_t *p, spool_slot *s)
{
    spool_addr addr = p->raddr[s->index];
    unborrow(p, &addr);
    if (p->cfg.leak_threshold_ms > 0)
        atomic_store_explicit(&s->borrowed_ns, 0, memory_order_relaxed);
    int flags = atomic_load_explicit(&s->flags, memory_order_relaxed);
    /* READONLY is what a replica says to a write: the caller's mistake, not
     * a sign the topology changed. */
    if (flags & SLOT_F_LIMIT) {
        spool_evict(p, s, &p->stats.evicted_limit);
        return;
    }
    if (s->ctx->err || spool_has_leftovers(s->ctx)) {
        spool_evict(p, s, &p->stats.evicted_broken);
        return;
    }
    /* Still BUSY, which no other thread touches on the reader side. */
    if (spool_hygiene_dirty(&s->guard) && spool_conn_tidy(p, s) != 0)
        return;
    atomic_store_explicit(&s->last_used_ns, spool_coarse_ns(), memory_order_relaxed);
    reader_release(p, s);
}

static int in_list(const spool_replica_info *list, size_t n, const spool_addr *a)
{
    for (size_t i = 0; i < n; i++)
        if (spool_addr_equal(&list[i].addr, a))
            return 1;
    return 0;
}

void spool_readers_set(pool_t *p, const spool_replica_info *list, size_t n)
{
    if (n > SPOOL_MAX_REPLICAS)
        n = SPOOL_MAX_REPLICAS;
    int borrowed[SPOOL_MAX_REPLICAS] = {0};
    pthread_mutex_lock(&p->mu);
    int changed = (int)n != p->nreplicas;
    for (size_t i = 0; i < n; i++) {
        int old = replica_index(p, &list[i].addr);
        changed |= old < 0;
        borrowed[i] = old >= 0 ? p->replica_borrowed[old] : 0;
    }
    memcpy(p->replicas, list, n * sizeof(*list));
    memcpy(p->replica_borrowed, borrowed, sizeof(borrowed));
    p->nreplicas = (int)n;
    if (changed)
        atomic_fetch_add(&p->reader_gen, 1);
    pthread_mutex_unlock(&p->mu);
    if (!changed)
        return;
    /* Close idle connections to replicas that left the set. */
    for (int j = 0; j < p->nrslots; j++) {
        spool_slot *s = &p->rslots[j];
        if (!spool_try_claim(s, SLOT_IDLE, SLOT_RESERVED))
            continue;
        if (in_list(list, n, &p->raddr[j])) {
            spool_slot_release(p, s, SLOT_IDLE);
        } else {
            spool_close_conn(p, s, &p->stats.evicted_stale);
            spool_slot_release(p, s, SLOT_EMPTY);
        }
    }
    spool_log(p, POOL_LOG_INFO, "replicas fit for reads: %zu", n);
}

void spool_readers_stats(pool_t *p, pool_stats_t *out)
{
    for (int i = 0; i < p->nrslots; i++) {
        int st = atomic_load(&p->rslots[i].state);
        out->reader_in_use += st == SLOT_BUSY;
        out->reader_idle += st == SLOT_IDLE;
    }
    out->reader_checkouts = atomic_load(&p->reader_checkouts);
    out->reader_fallbacks = atomic_load(&p->reader_fallbacks);
    out->no_replica = atomic_load(&p->no_replica);
    long long max_lag = p->cfg.max_replica_lag_bytes;
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->nreplicas; i++)
        out->replicas_usable +=
            max_lag <= 0 || (p->replicas[i].lag >= 0 && p->replicas[i].lag <= max_lag);
    pthread_mutex_unlock(&p->mu);
}
