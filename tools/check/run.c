/* run.c: the run from the first writer to the verdict, the same for the
 * fixture's topology and for an existing deployment (target.c): the
 * sentinel watch, the pool, the writers, the plan, verification, the
 * report. Starting and stopping servers is the caller's business. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

int h_run_prepare(h_run *r)
{
    h_opts *o = &r->o;
    signal(SIGPIPE, SIG_IGN); /* writes to dead peers: hiredis gets EPIPE instead */
    pthread_mutex_init(&r->out_mu, NULL);
    pthread_mutex_init(&r->pool_mu, NULL);
    pthread_mutex_init(&r->plog_mu, NULL);
    r->tty = isatty(STDOUT_FILENO);
    r->t0 = h_now_ns();
    r->master_idx = 0;
    r->final_master = -1;
    snprintf(r->phase, sizeof(r->phase), "starting");

    /* Buckets: warm-up, one per event, tail. */
    int n_events = o->n_plan_kinds * o->failovers;
    r->n_buckets = n_events + 2;
    r->ev = calloc((size_t)r->n_buckets, sizeof(h_event));
    r->plog_cap = 4096;
    r->plog = calloc((size_t)r->plog_cap, sizeof(h_pool_event));
    if (r->ev == NULL || r->plog == NULL) {
        fprintf(stderr, "sentinel-pool-check: out of memory\n");
        return 2;
    }
    r->ev[0].kind = H_START;
    r->ev[r->n_buckets - 1].kind = H_TAIL;
    r->ev[0].new_node = r->ev[r->n_buckets - 1].new_node = -1;
    for (int i = 0; i < n_events; i++) {
        h_event *e = &r->ev[i + 1];
        e->kind = o->plan_kinds[i % o->n_plan_kinds];
        e->round = i / o->n_plan_kinds + 1;
        e->expect_switch = e->kind == H_GRACEFUL || e->kind == H_CRASH || e->kind == H_FREEZE;
        e->new_node = -1;
        atomic_store(&e->old_node, -1);
    }
    atomic_store(&r->deadline, r->t0 + (int64_t)o->timeout_s * 1000000000);
    if (h_monitor_start(r) != 0) {
        fprintf(stderr, "sentinel-pool-check: cannot start the monitor thread\n");
        return 2;
    }
    return 0;
}

static void destroy_pool(h_run *r)
{
    pthread_mutex_lock(&r->pool_mu);
    pool_t *p = r->pool;
    r->pool = NULL;
    pthread_mutex_unlock(&r->pool_mu);
    pool_destroy(p);
}

int h_run_execute(h_run *r, pool_options_t *po)
{
    h_opts *o = &r->o;
    if (h_swatch_start(r) != 0) {
        fprintf(stderr, "sentinel-pool-check: cannot start the sentinel watch\n");
        return 2;
    }
    po->max_connections = o->writers * 2 > 16 ? o->writers * 2 : 16;
    po->client_name = "sentinel-pool-check";
    po->event_fn = h_event_cb;
    po->event_userdata = r;
    if (o->verbose) {
        po->log_fn = h_log_cb;
        po->log_userdata = r;
        po->log_level = POOL_LOG_INFO;
    }
    pool_t *pool = NULL;
    int rc = pool_create(po, &pool);
    if (rc != 0) {
        fprintf(stderr, "sentinel-pool-check: pool_create: %s (%s)\n", pool_err_name(rc),
                pool_strerror(rc));
        h_swatch_free(r);
        return 2;
    }
    pthread_mutex_lock(&r->pool_mu);
    r->pool = pool;
    pthread_mutex_unlock(&r->pool_mu);
    h_narrate(r,
              "Created the connection pool from the Sentinel addresses only (%s, master name "
              "\"%s\"); it asked the sentinels where the master is and checked with ROLE.",
              po->sentinels, r->master_name);

    if (h_writers_start(r) != 0) {
        fprintf(stderr, "sentinel-pool-check: cannot start the writers\n");
        r->writers_stuck = h_writers_stop(r, 15000);
        destroy_pool(r);
        h_swatch_free(r);
        return 2;
    }
    char pace[64];
    if (o->rate)
        snprintf(pace, sizeof(pace), "%d times a second each", o->rate);
    else
        snprintf(pace, sizeof(pace), "as fast as they can");
    h_narrate(r,
              "%d writer threads now borrow a connection, write (an INCR and an RPUSH of a "
              "sequence number in one MULTI/EXEC), and give it back, %s. Each status line "
              "shows one second of it.",
              o->writers, pace);
    h_phase(r, "warm-up");
    h_sleep_ms(1000);

    int n_events = r->n_buckets - 2, aborted = 0;
    for (int b = 1; b <= n_events; b++) {
        if (h_scenario_run(r, b) != 0) {
            aborted = 1;
            h_say(r, "stopping the scenario after the failed event");
            break;
        }
    }
    atomic_store(&r->cur_bucket, r->n_buckets - 1);
    h_phase(r, "tail: steady writing before stopping");
    h_sleep_ms(aborted ? 0 : 1000);

    h_phase(r, "stopping the writers");
    h_swatch_stop(r); /* after the last event: nothing more to stamp */
    r->writers_stuck = h_writers_stop(r, 15000);
    if (r->writers_stuck) {
        /* A stuck writer may still be inside the pool: do not destroy it
         * under its feet. The caller reports and leaves. */
        fprintf(stderr, "sentinel-pool-check: FAIL: %d writer threads stuck\n", r->writers_stuck);
        return H_RUN_STUCK;
    }
    r->stats_ok = pool_stats(r->pool, &r->final_stats) == 0;
    h_narrate(r,
              "Writers stopped. Now reading every writer's counter and list back from the "
              "final master to count lost and duplicated writes.");
    if (h_verify_data(r) != 0) {
        r->verify_failed = 1;
        h_say(r, "verification failed: %s", r->verify_note);
    }
    destroy_pool(r);
    return 0;
}

int h_run_finish(h_run *r)
{
    h_opts *o = &r->o;
    h_monitor_stop(r);
    h_tls_cleanup(r);
    int failed = h_report(r);
    if (atomic_load(&r->plog_dropped) > 0)
        printf("(%llu pool events beyond the first %d were counted but not kept)\n",
               (unsigned long long)atomic_load(&r->plog_dropped), r->plog_cap);
    if (o->plot != NULL && h_plot_write(r, failed) != 0)
        failed++; /* as for --json: an asked-for output that is missing fails the run */
    for (int i = 0; i < o->writers; i++) {
        free(r->w[i].b);
        free(r->w[i].lost_by_bucket);
        free(r->w[i].dup_by_bucket);
        free(r->w[i].tl);
    }
    h_swatch_free(r);
    free(r->plog);
    free(r->ev);
    return failed ? 1 : 0;
}
