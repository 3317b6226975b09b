/* pool/pool.c: a pool's life: create (the composition root that picks the
 * source), destroy, references, statistics. The parts: slot.c (the slot
 * state machine), checkout.c (lend and take back), writer.c (writer
 * changes, the sink), events.c, housekeeper.c, readers.c, conn.c. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool/pool_internal.h"
#include "sentinel/sentinel_source.h"

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

void spool_pool_unref(pool_t *p)
{
    if (atomic_fetch_sub(&p->refs, 1) == 1)
        pool_free(p);
}

const spool_tls *spool_pool_tls(pool_t *p, int sentinel)
{
    return (sentinel ? p->cfg.sentinel_tls : p->cfg.tls) ? p->cfg.tls_ctx : NULL;
}

static void tls_log(void *arg, const char *fmt, va_list ap) { spool_vlog(arg, POOL_LOG_WARN, fmt, ap); }

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
    p->slots = spool_slots_new(p, p->nslots);
    if (p->slots == NULL) {
        spool_config_free(&p->cfg);
        free(p);
        return POOL_ENOMEM;
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
    spool_sink sink = {&spool_pool_sink_ops, p};
    rc = p->cfg.master_addr != NULL ? spool_static_source_open(opts, sink, &p->source)
                                    : spool_sentinel_source_open(opts, sink, &p->source);
    if (rc != 0) {
        pool_free(p);
        return rc;
    }
    if (pthread_create(&p->housekeeper, NULL, spool_housekeeper_main, p) != 0) {
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
    spool_wake_all_locked(p);
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
    spool_pool_unref(p);
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
