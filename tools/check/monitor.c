/* monitor.c: output (narration and the live status line share the
 * terminal), the pool's event and log callbacks, and the monitor thread that
 * prints the status every second and aborts a run that hangs. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

int64_t h_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void h_sleep_ms(int ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

double h_rel_s(const h_run *r, int64_t t) { return t ? (double)(t - r->t0) / 1e9 : 0.0; }

const char *h_kind_name(h_kind k)
{
    static const char *const names[H_KINDS] = {"start",         "graceful", "crash", "freeze",
                                               "kill-sentinel", "wait",     "tail"};
    return (unsigned)k < H_KINDS ? names[k] : "?";
}

const char *h_err_name(h_errkind k)
{
    static const char *const names[H_ERR_KINDS] = {"readonly", "connection", "timeout",
                                                   "no_master", "other"};
    return (unsigned)k < H_ERR_KINDS ? names[k] : "?";
}

/* Caller holds out_mu. On a terminal the status line is redrawn in place;
 * anything else printed first erases it. */
static void clear_status(h_run *r)
{
    if (r->tty && r->status_shown) {
        fputs("\r\033[K", stdout);
        r->status_shown = 0;
    }
}

static void vsay(h_run *r, const char *prefix, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    pthread_mutex_lock(&r->out_mu);
    clear_status(r);
    printf("[%6.2fs] %s%s\n", h_rel_s(r, h_now_ns()), prefix, msg);
    fflush(stdout);
    pthread_mutex_unlock(&r->out_mu);
}

/* A terse line of what the harness does (not with --quiet). */
void h_say(h_run *r, const char *fmt, ...)
{
    if (r->o.quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsay(r, "", fmt, ap);
    va_end(ap);
}

/* Plain-words explanation, only in --demo. */
void h_narrate(h_run *r, const char *fmt, ...)
{
    if (!r->o.demo || r->o.quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsay(r, ">> ", fmt, ap);
    va_end(ap);
}

void h_phase(h_run *r, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&r->out_mu);
    va_start(ap, fmt);
    vsnprintf(r->phase, sizeof(r->phase), fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&r->out_mu);
}

/* ---- Pool callbacks (library threads; never under a library lock) ------- */

static void fmt_addr(char *out, size_t len, const char *host, int port)
{
    if (host == NULL)
        snprintf(out, len, "-");
    else
        snprintf(out, len, "%s:%d", host, port);
}

void h_event_cb(void *userdata, const pool_event_t *e)
{
    h_run *r = userdata;
    int64_t now = h_now_ns();
    int b = atomic_load(&r->cur_bucket);
    h_event *ev = &r->ev[b];
    int64_t trig = atomic_load(&ev->t_trigger);
    atomic_fetch_add(&ev->pool_events, 1);

    if (trig != 0 && now >= trig) {
        int64_t zero = 0;
        if (e->type == POOL_EVENT_SWITCH_MASTER &&
            h_node_of(r, e->new_host, e->new_port) != atomic_load(&ev->old_node))
            atomic_compare_exchange_strong(&ev->t_switch, &zero, now);
        zero = 0;
        if (e->type == POOL_EVENT_MASTER_LOST)
            atomic_compare_exchange_strong(&ev->t_lost, &zero, now);
    }
    if (e->type == POOL_EVENT_SENTINEL_LOST)
        atomic_fetch_add(&ev->sentinel_lost_events, 1);

    h_pool_event pe;
    memset(&pe, 0, sizeof(pe));
    pe.t = now;
    pe.bucket = b;
    pe.type = e->type;
    fmt_addr(pe.old_addr, sizeof(pe.old_addr), e->old_host, e->old_port);
    fmt_addr(pe.new_addr, sizeof(pe.new_addr), e->new_host, e->new_port);
    pe.new_node = h_node_of(r, e->new_host, e->new_port);
    pe.generation = e->generation;
    snprintf(pe.detail, sizeof(pe.detail), "%s", e->detail);
    int show = 0;
    pthread_mutex_lock(&r->plog_mu);
    if (r->plog_n < r->plog_cap) {
        r->plog[r->plog_n++] = pe;
        show = 1;
    } else {
        atomic_fetch_add(&r->plog_dropped, 1);
    }
    pthread_mutex_unlock(&r->plog_mu);

    /* Repetitive kinds (one per READONLY reply or failed ROLE) are shown a few
     * times per bucket; all are counted. */
    if (e->type == POOL_EVENT_WRITER_SUSPECT || e->type == POOL_EVENT_VALIDATION_FAILED)
        show = show && atomic_load(&ev->pool_events) <= 6;
    if (!show)
        return;
    double since = trig != 0 && now >= trig ? (double)(now - trig) / 1e9 : -1.0;
    char when[48] = "";
    if (since >= 0)
        snprintf(when, sizeof(when), ", %.3f s after the trigger", since);
    h_say(r, "pool event %s gen %llu: %s%s", pool_event_name(e->type),
          (unsigned long long)e->generation, e->detail, when);
    if (e->type == POOL_EVENT_SWITCH_MASTER && since >= 0)
        h_narrate(r,
                  "The pool has switched: new connections now go to %s:%d. Connections still "
                  "borrowed from %s are closed when they come back (generation %llu).",
                  e->new_host ? e->new_host : "?", e->new_port, pe.old_addr,
                  (unsigned long long)e->generation);
    else if (e->type == POOL_EVENT_MASTER_LOST && since >= 0)
        h_narrate(r,
                  "The pool stopped handing out connections to %s (%s); writers wait until it "
                  "has confirmed the next master with ROLE.",
                  pe.old_addr, e->detail);
    else if (e->type == POOL_EVENT_SENTINEL_LOST)
        h_narrate(r,
                  "The pool lost its subscription to one sentinel; it still listens to the "
                  "others, so no switch can go unnoticed.");
}

void h_log_cb(void *userdata, pool_log_level_t level, const char *msg)
{
    static const char *const lv[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    h_run *r = userdata;
    h_say(r, "pool log %s: %s", (unsigned)level < 4 ? lv[level] : "?", msg);
}

/* ---- Monitor thread ----------------------------------------------------- */

static void status_line(h_run *r, uint64_t *prev_acked, int64_t *prev_t)
{
    uint64_t acked = 0, errors = 0;
    for (int i = 0; i < r->o.writers; i++) {
        acked += atomic_load(&r->w[i].acked);
        errors += atomic_load(&r->w[i].errors);
    }
    int64_t now = h_now_ns();
    double dt = *prev_t ? (double)(now - *prev_t) / 1e9 : 1.0;
    double rate = dt > 0 ? (double)(acked - *prev_acked) / dt : 0.0;
    *prev_acked = acked;
    *prev_t = now;

    char host[128] = "?", master[160];
    int port = 0, have = 0;
    uint64_t gen = 0;
    pthread_mutex_lock(&r->pool_mu); /* main clears r->pool under it before pool_destroy */
    if (r->pool != NULL) {
        have = pool_current_master(r->pool, host, sizeof(host), &port, &gen) == 0;
        pool_stats_t st;
        if (!have && pool_stats(r->pool, &st) == 0)
            gen = st.generation;
    }
    pthread_mutex_unlock(&r->pool_mu);
    if (have)
        snprintf(master, sizeof(master), "%s:%d", host, port);
    else
        snprintf(master, sizeof(master), "(none)");
    pthread_mutex_lock(&r->out_mu);
    clear_status(r);
    printf("[%6.2fs] %7.0f writes/s  acked %llu  errors %llu  master %s  gen %llu  | %s",
           h_rel_s(r, now), rate, (unsigned long long)acked, (unsigned long long)errors, master,
           (unsigned long long)gen, r->phase);
    if (r->tty) {
        r->status_shown = 1;
    } else {
        putchar('\n');
    }
    fflush(stdout);
    pthread_mutex_unlock(&r->out_mu);
}

static void *monitor_main(void *arg)
{
    h_run *r = arg;
    uint64_t prev_acked = 0;
    int64_t prev_t = 0, next = h_now_ns() + 1000000000;
    while (!atomic_load(&r->mon_stop)) {
        h_sleep_ms(50);
        int64_t now = h_now_ns();
        int64_t dl = atomic_load(&r->deadline);
        if (dl != 0 && now > dl) {
            /* Nothing else can end a hung run: say where it hung and exit.
             * The servers die with us (PR_SET_PDEATHSIG). */
            pthread_mutex_lock(&r->out_mu);
            clear_status(r);
            fprintf(stderr,
                    "\nsentinel-pool-check: WATCHDOG: the run exceeded its time budget "
                    "(--timeout %d s) during phase: %s\n",
                    r->o.timeout_s, r->phase);
            for (int i = 0; i < r->o.writers; i++)
                fprintf(stderr, "  writer %d: acked %llu, last success %.2f s, done %d\n", i,
                        (unsigned long long)atomic_load(&r->w[i].acked),
                        h_rel_s(r, atomic_load(&r->w[i].last_ok)), atomic_load(&r->w[i].done));
            if (r->deploy != NULL)
                fprintf(stderr, "  the writers' keys under \"%s\" were left on the deployment\n",
                        r->key_prefix);
            fflush(stderr);
            h_tls_cleanup(r);
            _exit(3);
        }
        if (now >= next) {
            next += 1000000000;
            if (next < now)
                next = now + 1000000000;
            if (!r->o.quiet)
                status_line(r, &prev_acked, &prev_t);
        }
    }
    pthread_mutex_lock(&r->out_mu);
    if (r->tty && r->status_shown) {
        putchar('\n');
        r->status_shown = 0;
    }
    pthread_mutex_unlock(&r->out_mu);
    return NULL;
}

int h_monitor_start(h_run *r)
{
    if (pthread_create(&r->mon, NULL, monitor_main, r) != 0)
        return -1;
    r->mon_started = 1;
    return 0;
}

void h_monitor_stop(h_run *r)
{
    if (!r->mon_started)
        return;
    atomic_store(&r->mon_stop, 1);
    pthread_join(r->mon, NULL);
    r->mon_started = 0;
}
