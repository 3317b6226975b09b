/* pool/housekeeper.c: the pool's own thread: closes connections idle past
 * idle_timeout_ms, keeps min_idle open, reports borrows past
 * leak_threshold_ms. */
#define _GNU_SOURCE
#include <pthread.h>
#include <time.h>

#include "net/net.h"
#include "pool/pool_internal.h"

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
        spool_slot *s = spool_writer_snapshot(p, host, &port, &gen) ? spool_claim_empty(p) : NULL;
        if (s == NULL)
            return;
        if (spool_open_in_slot(p, s, host, port, gen, spool_deadline_ms(p->cfg.connect_timeout_ms)) != 0)
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

void *spool_housekeeper_main(void *arg)
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
