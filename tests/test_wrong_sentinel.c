/* test_wrong_sentinel.c: issue 13 part 2, "a sentinel that is wrong must not
 * stop the writers". Real redis-server / redis-sentinel processes, four
 * writer threads running through the pool all along.
 *
 *  1. test_foreign_sentinel: a sentinel of another deployment (topology B)
 *     that monitors a master under the same name, listed FIRST in the pool's
 *     sentinels, before topology A's three. Expected: the pool resolves to
 *     A's master (3 of the 4 configured sentinels agree, and ROLE on A's
 *     master agrees with them), reports the foreign sentinel once
 *     (POOL_EVENT_SENTINEL_MISCONFIGURED naming it), never writes to B, and
 *     still follows a real graceful failover of A without losing an
 *     acknowledged write.
 *  2. test_false_promotions: a scripted fake sentinel (a small RESP server,
 *     tests/support/fx_sfake.c) listed with A's real sentinels publishes a
 *     false promotion of one of A's replicas every 100 ms (+failover-state-
 *     send-slaveof-noone, +promoted-slave, +switch-master). Expected: no gap over
 *     1 s between successful writes, every fence lifted within 1 s, each
 *     announced node fences at most once, a WARN log names the fake, no
 *     READONLY; then a real graceful failover of A (the fake still
 *     announcing) loses no acknowledged write and the pool follows it.
 *  3. test_refuted_promotions: the fake announces promotions that ROLE
 *     refutes at once: our writer itself, a foreign master and a replica of
 *     that foreign master. Expected: no MASTER_LOST event at all, no switch,
 *     nothing written to the foreign nodes.
 *
 * Each test runs its whole scenario, then checks everything and fails with
 * the list of what did not hold, so one run gives every figure ("MEASURE"
 * lines on stderr). Timing is asserted in one way only, the acceptance
 * criterion: the largest gap between two successful writes of one writer
 * (and the length of each fence) against 1000 ms. Under valgrind those two
 * are measured and printed but not asserted (its 20-50x slowdown is what
 * they would measure); everything else is asserted there too.
 *
 * Tests 2 and 3 are skipped on a TLS-only topology (SENTINEL_POOL_TEST_TLS):
 * the fake sentinel speaks plaintext and sentinel_tls applies to every
 * sentinel. */
#define _GNU_SOURCE

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "fx_sfake.h"
#include "sentinel_pool.h"
#include "sentinel_util.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND() RUNNING_ON_VALGRIND
#endif
#endif
#ifndef UNDER_VALGRIND
#define UNDER_VALGRIND() 0
#endif

#define SP_EV_MISCONFIGURED POOL_EVENT_SENTINEL_MISCONFIGURED

#define NWRITERS 4
#define WREC_MAX 150000      /* acks one writer can record (paced: ~1000/s) */
#define GAP_LIMIT_MS 1000.0  /* the acceptance criterion */
#define FENCE_LIMIT_MS 1000.0
#define MASTER_WAIT_MS 30000 /* sentinels agreeing on a new master */
#define FOLLOW_WAIT_MS 10000 /* the pool on the new master after they agree */

static int64_t ms_to_ns(int ms) { return (int64_t)ms * 1000000; }

/* ---- Checks collected and reported together ------------------------------ */

typedef struct verdict {
    int failed;
    size_t len;
    char text[6000];
} verdict;

static void vcheck(verdict *v, int ok, int asserted, const char *fmt, va_list ap)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 0)))
#endif
    ;

static void vcheck(verdict *v, int ok, int asserted, const char *fmt, va_list ap)
{
    char line[600];
    vsnprintf(line, sizeof(line), fmt, ap);
    const char *verdict_word = ok ? "ok    " : "FAILED";
    if (!asserted)
        verdict_word = ok ? "ok     (not asserted under valgrind)"
                          : "failed (not asserted under valgrind)";
    fprintf(stderr, "CHECK %s %s\n", verdict_word, line);
    if (ok || !asserted)
        return;
    v->failed++;
    size_t room = sizeof(v->text) - v->len;
    int w = snprintf(v->text + v->len, room, "\n  - %s", line);
    if (w > 0)
        v->len += (size_t)w < room ? (size_t)w : room - 1;
}

static void check(verdict *v, int ok, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void check(verdict *v, int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vcheck(v, ok, 1, fmt, ap);
    va_end(ap);
}

/* A timing criterion: asserted except under valgrind. */
static void check_timed(verdict *v, int ok, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void check_timed(verdict *v, int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vcheck(v, ok, !UNDER_VALGRIND(), fmt, ap);
    va_end(ap);
}

static void verdict_end(const verdict *v, const char *test)
{
    if (v->failed > 0)
        fail_msg("%s: %d check(s) failed:%s", test, v->failed, v->text);
}

/* ---- Log recorder: keeps WARN and ERROR lines to look for names in ------- */

#define LOG_KEEP 1024

typedef struct log_rec {
    pthread_mutex_t mu;
    int n, dropped;
    struct {
        pool_log_level_t level;
        char msg[256];
    } e[LOG_KEEP];
} log_rec;

static void rec_log_fn(void *ud, pool_log_level_t level, const char *msg)
{
    log_rec *l = ud;
    st_log_fn(NULL, level, msg);
    if (level > POOL_LOG_WARN)
        return;
    pthread_mutex_lock(&l->mu);
    if (l->n < LOG_KEEP) {
        l->e[l->n].level = level;
        snprintf(l->e[l->n].msg, sizeof(l->e[l->n].msg), "%s", msg);
        l->n++;
    } else {
        l->dropped++;
    }
    pthread_mutex_unlock(&l->mu);
}

/* WARN or ERROR lines that contain needle. */
static int log_count(log_rec *l, const char *needle)
{
    int k = 0;
    pthread_mutex_lock(&l->mu);
    for (int i = 0; i < l->n; i++)
        k += strstr(l->e[i].msg, needle) != NULL;
    pthread_mutex_unlock(&l->mu);
    return k;
}

/* The recorder of sentinel_util.h, plus a line for the events this file is
 * about (it prints only switches and fences unless SPOOL_TEST_VERBOSE). */
static void ws_event_fn(void *ud, const pool_event_t *ev)
{
    st_event_fn(ud, ev);
    if (st_is_verbose())
        return;
    if ((int)ev->type == (int)SP_EV_MISCONFIGURED || ev->type == POOL_EVENT_VALIDATION_FAILED)
        fprintf(stderr, "[%9.3f] event %s: %s\n", st_ms(st_now_ns() - st_t0_ns) / 1000.0,
                (int)ev->type == (int)SP_EV_MISCONFIGURED ? "SENTINEL_MISCONFIGURED"
                                                           : pool_event_name(ev->type),
                ev->detail ? ev->detail : "(null)");
}

/* Events of a type at index >= from (compared as ints: see
 * SP_EV_MISCONFIGURED). */
static int count_type(st_events *e, int from, pool_event_type_t type)
{
    int k = 0;
    pthread_mutex_lock(&e->mu);
    for (int i = from; i < e->n; i++)
        k += (int)e->ev[i].type == (int)type;
    pthread_mutex_unlock(&e->mu);
    return k;
}

/* ---- Writers ------------------------------------------------------------- */

typedef struct ack {
    int64_t t_ns; /* when the reply arrived */
    long seq;
    int port;
} ack;

typedef struct writer {
    pool_t *pool;
    atomic_int *stop;
    const char *prefix;
    int id;
    long seq;
    int nacks;
    ack *acks;
    long get_errors, io_errors, readonly, other_errors;
    int last_get_rc;
    int full;
    char first_error[128];
} writer;

static void *writer_main(void *arg)
{
    writer *w = arg;
    while (!atomic_load(w->stop)) {
        if (w->nacks >= WREC_MAX) {
            w->full = 1;
            break;
        }
        redisContext *c = NULL;
        int rc = pool_get_writer(w->pool, &c);
        if (rc != 0) {
            w->get_errors++;
            w->last_get_rc = rc;
            fx_sleep_ms(1);
            continue;
        }
        long seq = ++w->seq;
        int port = c->tcp.port;
        redisReply *r = redisCommand(c, "RPUSH %s:%d %ld", w->prefix, w->id, seq);
        int64_t t = st_now_ns();
        if (r == NULL) {
            w->io_errors++;
        } else if (r->type == REDIS_REPLY_INTEGER) {
            w->acks[w->nacks++] = (ack){.t_ns = t, .seq = seq, .port = port};
        } else {
            if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "READONLY", 8) == 0)
                w->readonly++;
            else
                w->other_errors++;
            if (w->first_error[0] == '\0')
                snprintf(w->first_error, sizeof(w->first_error), "%s",
                         r->type == REDIS_REPLY_ERROR ? r->str : "(not an integer)");
        }
        if (r != NULL)
            freeReplyObject(r);
        pool_put(w->pool, c);
        fx_sleep_ms(1); /* ~1000 writes/s each: 2 shared cores, sentinels must not TILT */
    }
    return NULL;
}

/* ---- Per test state, torn down whatever happened ------------------------- */

typedef struct fixture {
    fx_topology a, b;
    fx_node foreign, foreign_replica;
    fx_sfake *fake;
    st_events *ev;
    log_rec *log;
    pool_t *pool;
    atomic_int stop;
    writer ws[NWRITERS];
    pthread_t threads[NWRITERS];
    int nthreads;
    st_pool_cfg cfg;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    f->ev = st_events_new();
    f->log = calloc(1, sizeof(*f->log));
    if (f->ev == NULL || f->log == NULL || pthread_mutex_init(&f->log->mu, NULL) != 0) {
        st_events_free(f->ev);
        free(f->log);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static void stop_writers(fixture *f)
{
    atomic_store(&f->stop, 1);
    for (int i = 0; i < f->nthreads; i++)
        pthread_join(f->threads[i], NULL);
    f->nthreads = 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f == NULL)
        return 0;
    stop_writers(f);
    pool_destroy(f->pool);
    f->pool = NULL;
    fx_sfake_stop(f->fake);
    fx_topology_stop(&f->a);
    fx_topology_stop(&f->b);
    fx_node_stop(&f->foreign_replica);
    fx_node_stop(&f->foreign);
    for (int i = 0; i < NWRITERS; i++)
        free(f->ws[i].acks);
    st_events_free(f->ev);
    pthread_mutex_destroy(&f->log->mu);
    free(f->log);
    free(f);
    return 0;
}

/* Pool options for A (TLS too when the topology is), with sentinels as
 * given, the event recorder and the log recorder. */
static void pool_cfg(fixture *f, const char *sentinels)
{
    st_pool_cfg_init(&f->cfg, &f->a, f->ev);
    snprintf(f->cfg.sentinels, sizeof(f->cfg.sentinels), "%s", sentinels);
    f->cfg.o.sentinels = f->cfg.sentinels;
    f->cfg.o.event_fn = ws_event_fn;
    f->cfg.o.log_fn = rec_log_fn;
    f->cfg.o.log_userdata = f->log;
    f->cfg.o.max_connections = NWRITERS + 1;
}

static void start_writers(fixture *f, const char *prefix)
{
    atomic_store(&f->stop, 0);
    for (int i = 0; i < NWRITERS; i++) {
        writer *w = &f->ws[i];
        if (w->acks == NULL) {
            w->acks = malloc(sizeof(ack) * WREC_MAX);
            assert_non_null(w->acks);
        }
        w->pool = f->pool;
        w->stop = &f->stop;
        w->prefix = prefix;
        w->id = i;
        assert_int_equal(pthread_create(&f->threads[i], NULL, writer_main, w), 0);
        f->nthreads++;
    }
}

/* The port the pool's writer is on now, 0 when none (fenced). */
static int pool_port(pool_t *p)
{
    char host[128];
    int port = 0;
    return pool_current_master(p, host, sizeof(host), &port, NULL) == 0 ? port : 0;
}

/* Wait until the pool's writer is on port; 0, or -1 after timeout_ms. */
static int wait_pool_on(pool_t *p, int port, int timeout_ms)
{
    int64_t deadline = st_now_ns() + ms_to_ns(timeout_ms);
    while (pool_port(p) != port) {
        if (st_now_ns() >= deadline)
            return -1;
        fx_sleep_ms(10);
    }
    return 0;
}

/* ---- What the writers saw ---------------------------------------------------- */

/* Writers whose last acknowledged write went to port (of those that have
 * one). */
static int last_acks_on(const fixture *f, int port, int *with_acks)
{
    int k = 0;
    *with_acks = 0;
    for (int i = 0; i < NWRITERS; i++)
        if (f->ws[i].nacks > 0) {
            (*with_acks)++;
            k += f->ws[i].acks[f->ws[i].nacks - 1].port == port;
        }
    return k;
}

/* The largest gap between successful writes of one writer within
 * [t_from, t_to], the window's edges included (a writer that never wrote
 * has a gap as long as the window). *who: that writer. */
static double max_gap_ms(const fixture *f, int64_t t_from, int64_t t_to, int *who)
{
    int64_t worst = 0;
    *who = -1;
    for (int i = 0; i < NWRITERS; i++) {
        const writer *w = &f->ws[i];
        int64_t prev = t_from;
        for (int k = 0; k < w->nacks; k++) {
            int64_t t = w->acks[k].t_ns;
            if (t < t_from || t > t_to)
                continue;
            if (t - prev > worst) {
                worst = t - prev;
                *who = i;
            }
            prev = t;
        }
        if (t_to - prev > worst) {
            worst = t_to - prev;
            *who = i;
        }
    }
    return st_ms(worst);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The largest gap with no successful write by any writer in the window. */
static double merged_gap_ms(const fixture *f, int64_t t_from, int64_t t_to)
{
    size_t n = 0;
    for (int i = 0; i < NWRITERS; i++)
        n += (size_t)f->ws[i].nacks;
    int64_t *t = malloc((n + 2) * sizeof(*t));
    assert_non_null(t);
    size_t k = 0;
    t[k++] = t_from;
    for (int i = 0; i < NWRITERS; i++)
        for (int j = 0; j < f->ws[i].nacks; j++)
            if (f->ws[i].acks[j].t_ns >= t_from && f->ws[i].acks[j].t_ns <= t_to)
                t[k++] = f->ws[i].acks[j].t_ns;
    t[k++] = t_to;
    qsort(t, k, sizeof(*t), cmp_i64);
    int64_t worst = 0;
    for (size_t i = 1; i < k; i++)
        if (t[i] - t[i - 1] > worst)
            worst = t[i] - t[i - 1];
    free(t);
    return st_ms(worst);
}

/* Acknowledged writes in [t_from, t_to]: in all, and on port. */
static long acks_in(const fixture *f, int64_t t_from, int64_t t_to, int port)
{
    long k = 0;
    for (int i = 0; i < NWRITERS; i++)
        for (int j = 0; j < f->ws[i].nacks; j++) {
            const ack *a = &f->ws[i].acks[j];
            k += a->t_ns >= t_from && a->t_ns <= t_to && (port == 0 || a->port == port);
        }
    return k;
}

typedef struct totals {
    long acked, get_errors, io_errors, readonly, other_errors;
    int full;
} totals;

static totals writer_totals(const fixture *f)
{
    totals t;
    memset(&t, 0, sizeof(t));
    for (int i = 0; i < NWRITERS; i++) {
        const writer *w = &f->ws[i];
        t.acked += w->nacks;
        t.get_errors += w->get_errors;
        t.io_errors += w->io_errors;
        t.readonly += w->readonly;
        t.other_errors += w->other_errors;
        t.full |= w->full;
        fprintf(stderr,
                "writer %d: %d acknowledged, %ld checkout errors (last %s), %ld I/O errors, %ld "
                "READONLY, %ld other errors%s%s\n",
                i, w->nacks, w->get_errors,
                w->get_errors ? pool_err_name(w->last_get_rc) : "-", w->io_errors, w->readonly,
                w->other_errors, w->first_error[0] ? ", first: " : "", w->first_error);
    }
    return t;
}

/* Acknowledged writes missing on node n (the final master). -1 when the
 * node could not be read. */
static long count_lost(const fixture *f, const fx_node *n, const char *prefix)
{
    long lost = 0;
    for (int i = 0; i < NWRITERS; i++) {
        const writer *w = &f->ws[i];
        long max_seq = w->seq;
        unsigned char *have = calloc((size_t)max_seq + 1, 1);
        assert_non_null(have);
        redisReply *r = fx_cmd(n, "LRANGE %s:%d 0 -1", prefix, i);
        if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
            fprintf(stderr, "LRANGE %s:%d on port %d failed\n", prefix, i, n->port);
            if (r != NULL)
                freeReplyObject(r);
            free(have);
            return -1;
        }
        for (size_t k = 0; k < r->elements; k++) {
            if (r->element[k]->type != REDIS_REPLY_STRING)
                continue;
            char *e = NULL;
            long s = strtol(r->element[k]->str, &e, 10);
            if (e != r->element[k]->str && *e == '\0' && s > 0 && s <= max_seq)
                have[s] = 1;
        }
        freeReplyObject(r);
        int shown = 0;
        for (int k = 0; k < w->nacks; k++)
            if (!have[w->acks[k].seq]) {
                lost++;
                if (shown++ < 3)
                    fprintf(stderr, "writer %d: seq %ld acknowledged by port %d at %+.3f s is "
                                    "not on the final master (port %d)\n",
                            i, w->acks[k].seq, w->acks[k].port,
                            st_ms(w->acks[k].t_ns - st_t0_ns) / 1000.0, n->port);
            }
        free(have);
    }
    return lost;
}

/* DBSIZE of a node; -1 when it does not answer. */
static long long dbsize(const fx_node *n)
{
    redisReply *r = fx_cmd(n, "DBSIZE");
    long long v = r != NULL && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    if (r != NULL)
        freeReplyObject(r);
    return v;
}

/* Fences (MASTER_LOST) recorded at index >= from within [t_from, t_to]:
 * how many, and the longest, each ending at the next SWITCH_MASTER (a fence
 * still in force ends at t_end). */
typedef struct fences {
    int n;
    int open;
    double max_ms;
} fences;

static fences fence_stats(st_events *e, int from, int64_t t_from, int64_t t_to, int64_t t_end)
{
    fences r = {0, 0, 0.0};
    int total = st_events_count(e);
    for (int i = from; i < total; i++) {
        st_event ev = st_event_at(e, i);
        if (ev.type != POOL_EVENT_MASTER_LOST || ev.t_ns < t_from || ev.t_ns > t_to)
            continue;
        r.n++;
        int64_t end = -1;
        for (int k = i + 1; k < total && end < 0; k++) {
            st_event nx = st_event_at(e, k);
            if (nx.type == POOL_EVENT_SWITCH_MASTER)
                end = nx.t_ns;
        }
        if (end < 0) {
            r.open++;
            end = t_end;
        }
        if (st_ms(end - ev.t_ns) > r.max_ms)
            r.max_ms = st_ms(end - ev.t_ns);
    }
    return r;
}

/* A graceful failover of A on sentinel 0 while the writers run; returns the
 * new master's index (fails the test when the sentinels do not agree). */
static int failover_a(fixture *f, int old, int64_t *trigger)
{
    *trigger = st_now_ns();
    if (fx_sentinel_failover(&f->a, 0) != 0)
        fail_msg("SENTINEL FAILOVER on A's sentinel 0 refused");
    int nw = fx_wait_master_change(&f->a, old, MASTER_WAIT_MS);
    if (nw < 0) {
        fx_topology_dump(&f->a);
        fail_msg("A's sentinels did not agree on a new master within %d ms", MASTER_WAIT_MS);
    }
    fprintf(stderr, "A's sentinels agree on port %d, %.0f ms after the trigger\n",
            f->a.data[nw].port, st_ms(st_now_ns() - *trigger));
    return nw;
}

/* ---- 1. A sentinel of another deployment, listed first ------------------------ */

static void test_foreign_sentinel(void **state)
{
    fixture *f = *state;
    verdict v;
    memset(&v, 0, sizeof(v));
    const char *prefix = "ws1";

    assert_int_equal(fx_topology_start(&f->a, NULL), 0);
    /* B: one master, no replica, ONE sentinel, so the pool knows exactly
     * four sentinels (B's sentinel would otherwise advertise its peers in
     * SENTINEL sentinels, a different and harder question: see the report).
     * On a TLS run B shares A's certificates, so that the pool can reach it. */
    fx_topology_opts bo;
    memset(&bo, 0, sizeof(bo));
    bo.n_replicas = -1;
    bo.n_sentinels = 1;
    fx_tls btls;
    memset(&btls, 0, sizeof(btls));
    if (fx_topology_tls_dir(&f->a) != NULL) {
        btls.dir = fx_topology_tls_dir(&f->a);
        bo.tls = &btls;
    }
    assert_int_equal(fx_topology_start(&f->b, &bo), 0);
    const int a_master = f->a.data[0].port, b_master = f->b.data[0].port;
    const int b_sentinel = f->b.sentinel[0].port;

    char a_list[400], list[512];
    assert_int_equal(fx_sentinels_string(&f->a, a_list, sizeof(a_list)), 0);
    snprintf(list, sizeof(list), "127.0.0.1:%d,%s", b_sentinel, a_list);
    fprintf(stderr, "A: master %d, sentinels %s; B: master %d, sentinel %d; pool sentinels %s\n",
            a_master, a_list, b_master, b_sentinel, list);
    pool_cfg(f, list);

    int64_t t_create = st_now_ns();
    int rc = pool_create(&f->cfg.o, &f->pool);
    if (rc != 0)
        fail_msg("pool_create: %s (%d); the foreign sentinel must not make it fail",
                 pool_err_name(rc), rc);
    int first_port = pool_port(f->pool);
    fprintf(stderr, "pool_create took %.1f ms and resolved to port %d\n",
            st_ms(st_now_ns() - t_create), first_port);
    check(&v, first_port == a_master,
          "pool_create resolves to A's master (port %d): got port %d%s", a_master, first_port,
          first_port == b_master ? " = B's master: the foreign sentinel, asked first, won" : "");

    start_writers(f, prefix);
    int64_t t1 = st_now_ns();
    fx_sleep_ms(5000);
    int64_t t2 = st_now_ns();
    int mid_port = pool_port(f->pool);

    int64_t trigger = 0;
    int nw = failover_a(f, 0, &trigger);
    const int a_new = f->a.data[nw].port;
    int followed = wait_pool_on(f->pool, a_new, FOLLOW_WAIT_MS) == 0;
    int64_t t_follow = st_now_ns();
    fx_sleep_ms(1500); /* writes on the new master */
    stop_writers(f);
    /* A fence may be in force at this instant (and be right): the writer
     * must be A's new master once it lifts. */
    wait_pool_on(f->pool, a_new, 3000);
    int end_port = pool_port(f->pool);
    int with_acks = 0, last_on_new = last_acks_on(f, a_new, &with_acks);

    totals tot = writer_totals(f);
    int who = -1;
    double gap = max_gap_ms(f, t1, t2, &who);
    double mgap = merged_gap_ms(f, t1, t2);
    long on_a1 = acks_in(f, t1, t2, a_master), in_1 = acks_in(f, t1, t2, 0);
    long on_b = acks_in(f, 0, INT64_MAX, b_master);
    long long b_keys = dbsize(&f->b.data[0]);
    long lost = count_lost(f, &f->a.data[nw], prefix);
    pool_stats_t s = st_stats(f->pool);
    int misconf = count_type(f->ev, 0, SP_EV_MISCONFIGURED);
    int named = 0;
    char needle[32];
    snprintf(needle, sizeof(needle), "127.0.0.1:%d", b_sentinel);
    /* Named in the event's fields (old_host/old_port name the sentinel),
     * not only in its text. */
    for (int i = 0; i < st_events_count(f->ev); i++) {
        st_event e = st_event_at(f->ev, i);
        if ((int)e.type == (int)SP_EV_MISCONFIGURED && strcmp(e.old_host, "127.0.0.1") == 0 &&
            e.old_port == b_sentinel)
            named++;
    }
    int logged = log_count(f->log, needle);
    fences fe = fence_stats(f->ev, 0, t1, t2, t2);
    int lost_ev = count_type(f->ev, 0, POOL_EVENT_MASTER_LOST);
    int switches = count_type(f->ev, 0, POOL_EVENT_SWITCH_MASTER);

    fprintf(stderr,
            "MEASURE foreign sentinel: phase 1 (%.1f s): max gap %.1f ms (writer %d), merged "
            "gap %.1f ms, %ld writes acknowledged (%ld on A's master); whole run: %ld "
            "acknowledged, %ld on B's master, B DBSIZE %lld, %ld lost on A's new master; "
            "MASTER_LOST %d (phase 1: %d, longest %.1f ms), SWITCH_MASTER %d, "
            "SENTINEL_MISCONFIGURED %d (%d naming %s), WARN/ERROR log lines naming it %d; "
            "READONLY %ld (stats %llu); pool on port %d at create, %d mid-run, %d at the end; "
            "trigger->pool on A's new master %.0f ms\n",
            st_ms(t2 - t1) / 1000.0, gap, who, mgap, in_1, on_a1, tot.acked, on_b, b_keys, lost,
            lost_ev, fe.n, fe.max_ms, switches, misconf, named, needle, logged, tot.readonly,
            (unsigned long long)s.readonly_replies, first_port, mid_port, end_port,
            followed ? st_ms(t_follow - trigger) : -1.0);

    check(&v, in_1 > 0, "writes acknowledged in phase 1: %ld", in_1);
    check_timed(&v, gap <= GAP_LIMIT_MS,
                "phase 1: largest gap between successful writes %.1f ms <= %.0f", gap,
                GAP_LIMIT_MS);
    check(&v, on_a1 == in_1, "phase 1: every acknowledged write on A's master: %ld of %ld", on_a1,
          in_1);
    check(&v, on_b == 0, "no write acknowledged by B's master: %ld", on_b);
    check(&v, b_keys == 0, "B's master holds no key: DBSIZE %lld", b_keys);
    check(&v, tot.readonly == 0 && s.readonly_replies == 0, "no READONLY: %ld seen, stats %llu",
          tot.readonly, (unsigned long long)s.readonly_replies);
    check(&v, misconf == 1, "SENTINEL_MISCONFIGURED reported once over the run: %d", misconf);
    check(&v, named == 1, "the MISCONFIGURED event's old_host:old_port is B's sentinel %s: %d",
          needle, named);
    check(&v, logged >= 1, "a WARN/ERROR log line names B's sentinel %s: %d", needle, logged);
    check(&v, followed && end_port == a_new && last_on_new == with_acks,
          "the pool follows A's new master (port %d): on %d at the end, last write of %d of %d "
          "writers there",
          a_new, end_port, last_on_new, with_acks);
    check(&v, lost == 0, "no acknowledged write lost (checked on A's new master, port %d): %ld",
          a_new, lost);
    check(&v, !tot.full, "writer records did not overflow");
    verdict_end(&v, "foreign sentinel");
}

/* ---- 2. False promotions from a fake sentinel ------------------------------ */

/* Options for a fake that names the master A's sentinel 0 names (where the
 * failovers start, so it is the first to know) and announces every 100 ms. */
static void fake_opts(fixture *f, fx_sfake_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->master_name = f->a.master_name;
    o->truth_port = f->a.sentinel[0].port;
    o->period_ms = 100;
}

static unsigned long announcements(fx_sfake *fk) { return fx_sfake_get_counts(fk).announcements; }

static void test_false_promotions(void **state)
{
    fixture *f = *state;
    if (fx_tls_from_env()) {
        fprintf(stderr, "skipped: the fake sentinel speaks plaintext only\n");
        skip();
    }
    verdict v;
    memset(&v, 0, sizeof(v));
    const char *prefix = "ws2";
    assert_int_equal(fx_topology_start(&f->a, NULL), 0);
    const int a_master = f->a.data[0].port;

    /* The fake names the master its real neighbour (A's sentinel 0, where
     * the failover below starts) names, and announces each of that
     * master's replicas in turn as promoted. Decision: after the real
     * failover it goes on announcing the NEW master's replicas (the old
     * master among them, still writable for a while: redis/redis#6062), so
     * its lies keep targeting the writer in force; announcing the old ones
     * would only name a node the pool has already left. */
    fx_sfake_opts fo;
    fake_opts(f, &fo);
    for (int i = 0; i < f->a.n_data; i++)
        fo.announce[fo.n_announce++] = f->a.data[i].port;
    fo.skip_master = 1;
    assert_int_equal(fx_sfake_start(&f->fake, &fo), 0);
    fx_sfake *fk = f->fake;
    const int fk_port = fx_sfake_port(fk);
    const int ncand_phase1 = fo.n_announce - 1; /* the replicas of the first master */

    char a_list[400], list[512];
    assert_int_equal(fx_sentinels_string(&f->a, a_list, sizeof(a_list)), 0);
    snprintf(list, sizeof(list), "127.0.0.1:%d,%s", fk_port, a_list);
    fprintf(stderr, "A: master %d; fake sentinel %d; pool sentinels %s\n", a_master, fk_port,
            list);
    pool_cfg(f, list);
    int rc = pool_create(&f->cfg.o, &f->pool);
    if (rc != 0)
        fail_msg("pool_create: %s (%d)", pool_err_name(rc), rc);
    int first_port = pool_port(f->pool);
    if (fx_sfake_wait_subscribed(fk, 10000) != 0)
        fail_msg("the pool never subscribed to the fake sentinel (port %d)", fk_port);

    int ev_from = st_events_count(f->ev);
    unsigned long ann0 = announcements(fk);
    start_writers(f, prefix);
    int64_t t1 = st_now_ns();
    fx_sleep_ms(6000);
    int64_t t2 = st_now_ns();
    unsigned long ann1 = announcements(fk);
    int ev_mid = st_events_count(f->ev);
    fences fe1 = fence_stats(f->ev, ev_from, t1, t2, t2);
    int mid_port = pool_port(f->pool);

    /* Phase 2: a real failover, the fake still announcing. */
    int64_t trigger = 0;
    int nw = failover_a(f, 0, &trigger);
    const int a_new = f->a.data[nw].port;
    int followed = wait_pool_on(f->pool, a_new, FOLLOW_WAIT_MS) == 0;
    int64_t t_follow = st_now_ns();
    fx_sleep_ms(1500);
    int64_t t3 = st_now_ns();
    unsigned long ann2 = announcements(fk);
    stop_writers(f);
    /* The fake goes on announcing the new master's replicas: a plausible
     * fence may be in force at this instant. It must lift. */
    wait_pool_on(f->pool, a_new, 3000);
    int end_port = pool_port(f->pool);
    int with_acks = 0, last_on_new = last_acks_on(f, a_new, &with_acks);

    totals tot = writer_totals(f);
    int who = -1, who3 = -1;
    double gap = max_gap_ms(f, t1, t2, &who);
    double mgap = merged_gap_ms(f, t1, t2);
    double gap_fo = max_gap_ms(f, trigger, t3, &who3);
    long in_1 = acks_in(f, t1, t2, 0), on_a1 = acks_in(f, t1, t2, a_master);
    long lost = count_lost(f, &f->a.data[nw], prefix);
    pool_stats_t s = st_stats(f->pool);
    char needle[32];
    snprintf(needle, sizeof(needle), "127.0.0.1:%d", fk_port);
    int logged = log_count(f->log, needle);
    fences fe2 = fence_stats(f->ev, ev_mid, trigger, t3, t3);

    fprintf(stderr,
            "MEASURE false promotions: phase 1 (%.1f s, %lu false announcements of %d "
            "replicas): max gap %.1f ms (writer %d), merged gap %.1f ms, %ld writes "
            "acknowledged (%ld on A's master), fences (MASTER_LOST) %d, longest %.1f ms, %d "
            "still in force at the end; phase 2 (real failover, %lu more announcements): "
            "fences %d, max gap %.1f ms, trigger->pool on A's new master %.0f ms; whole run: "
            "%ld acknowledged, %ld lost on A's new master, READONLY %ld (stats %llu), "
            "SWITCH_MASTER %d, SENTINEL_MISCONFIGURED %d, WARN/ERROR log lines naming the "
            "fake %d; pool on port %d at create, %d after phase 1, %d at the end\n",
            st_ms(t2 - t1) / 1000.0, ann1 - ann0, ncand_phase1, gap, who, mgap, in_1, on_a1,
            fe1.n, fe1.max_ms, fe1.open, ann2 - ann1, fe2.n, gap_fo,
            followed ? st_ms(t_follow - trigger) : -1.0, tot.acked, lost, tot.readonly,
            (unsigned long long)s.readonly_replies, count_type(f->ev, 0, POOL_EVENT_SWITCH_MASTER),
            count_type(f->ev, 0, SP_EV_MISCONFIGURED), logged, first_port, mid_port,
            end_port);

    /* Without announcements the test proves nothing: a hard failure. */
    if (ann1 - ann0 < 10)
        fail_msg("the fake delivered only %lu announcements in phase 1", ann1 - ann0);
    check(&v, first_port == a_master, "pool_create resolves to A's master %d: %d", a_master,
          first_port);
    check(&v, in_1 > 0, "writes acknowledged in phase 1: %ld", in_1);
    check_timed(&v, gap <= GAP_LIMIT_MS,
                "phase 1: largest gap between successful writes %.1f ms <= %.0f", gap,
                GAP_LIMIT_MS);
    check(&v, on_a1 == in_1, "phase 1: every acknowledged write on A's master: %ld of %ld",
          on_a1, in_1);
    check_timed(&v, fe1.max_ms <= FENCE_LIMIT_MS && fe1.open == 0,
                "phase 1: every false fence lifted within %.0f ms: longest %.1f ms, %d not "
                "lifted",
                FENCE_LIMIT_MS, fe1.max_ms, fe1.open);
    /* "Does not fence again for a while": at least for the 6 s of phase 1,
     * so each announced replica fences once at most. */
    check(&v, fe1.n <= ncand_phase1,
          "phase 1: at most one fence per announced replica (%d): %d fences", ncand_phase1,
          fe1.n);
    check(&v, fe1.n == 0 || logged >= 1,
          "a WARN log line names the fake sentinel %s when it caused a fence: %d lines", needle,
          logged);
    check(&v, tot.readonly == 0 && s.readonly_replies == 0,
          "no write to a replica: %ld READONLY seen, stats %llu", tot.readonly,
          (unsigned long long)s.readonly_replies);
    check(&v, followed && end_port == a_new && last_on_new == with_acks,
          "the pool follows A's new master (port %d): on %d at the end, last write of %d of %d "
          "writers there",
          a_new, end_port, last_on_new, with_acks);
    check(&v, lost == 0, "no acknowledged write lost (checked on A's new master, port %d): %ld",
          a_new, lost);
    check(&v, !tot.full, "writer records did not overflow");
    verdict_end(&v, "false promotions");
}

/* ---- 3. Promotions that ROLE refutes at once -------------------------------- */

static int wait_replica_linked(const fx_node *r, int timeout_ms)
{
    int64_t deadline = st_now_ns() + ms_to_ns(timeout_ms);
    for (;;) {
        redisReply *rep = fx_cmd(r, "ROLE");
        int ok = rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 4 &&
                 rep->element[3]->type == REDIS_REPLY_STRING &&
                 strcmp(rep->element[3]->str, "connected") == 0;
        if (rep != NULL)
            freeReplyObject(rep);
        if (ok)
            return 0;
        if (st_now_ns() >= deadline)
            return -1;
        fx_sleep_ms(50);
    }
}

static void test_refuted_promotions(void **state)
{
    fixture *f = *state;
    if (fx_tls_from_env()) {
        fprintf(stderr, "skipped: the fake sentinel speaks plaintext only\n");
        skip();
    }
    verdict v;
    memset(&v, 0, sizeof(v));
    const char *prefix = "ws3";
    assert_int_equal(fx_topology_start(&f->a, NULL), 0);
    /* A foreign master and its replica, no sentinel: nodes of another
     * deployment that a confused sentinel could name. */
    assert_int_equal(fx_redis_start(&f->foreign, NULL), 0);
    fx_redis_opts ro;
    memset(&ro, 0, sizeof(ro));
    ro.replicaof_host = "127.0.0.1";
    ro.replicaof_port = f->foreign.port;
    assert_int_equal(fx_redis_start(&f->foreign_replica, &ro), 0);
    assert_int_equal(wait_replica_linked(&f->foreign_replica, 10000), 0);
    const int a_master = f->a.data[0].port;

    /* In turn: our writer itself ("promoted" in its own place), the foreign
     * master (ROLE master, not one of our writer's replicas), the foreign
     * replica (ROLE: replica of a node other than our writer). */
    fx_sfake_opts fo;
    fake_opts(f, &fo);
    fo.announce[fo.n_announce++] = 0;
    fo.announce[fo.n_announce++] = f->foreign.port;
    fo.announce[fo.n_announce++] = f->foreign_replica.port;
    assert_int_equal(fx_sfake_start(&f->fake, &fo), 0);
    fx_sfake *fk = f->fake;
    const int fk_port = fx_sfake_port(fk);

    char a_list[400], list[512];
    assert_int_equal(fx_sentinels_string(&f->a, a_list, sizeof(a_list)), 0);
    snprintf(list, sizeof(list), "127.0.0.1:%d,%s", fk_port, a_list);
    fprintf(stderr, "A: master %d; foreign master %d, foreign replica %d; fake sentinel %d; "
                    "pool sentinels %s\n",
            a_master, f->foreign.port, f->foreign_replica.port, fk_port, list);
    pool_cfg(f, list);
    int rc = pool_create(&f->cfg.o, &f->pool);
    if (rc != 0)
        fail_msg("pool_create: %s (%d)", pool_err_name(rc), rc);
    int first_port = pool_port(f->pool);
    if (fx_sfake_wait_subscribed(fk, 10000) != 0)
        fail_msg("the pool never subscribed to the fake sentinel (port %d)", fk_port);

    int ev_from = st_events_count(f->ev);
    unsigned long ann0 = announcements(fk);
    start_writers(f, prefix);
    int64_t t1 = st_now_ns();
    fx_sleep_ms(4000);
    int64_t t2 = st_now_ns();
    unsigned long ann1 = announcements(fk);
    stop_writers(f);
    int end_port = pool_port(f->pool);

    totals tot = writer_totals(f);
    int who = -1;
    double gap = max_gap_ms(f, t1, t2, &who);
    long in_1 = acks_in(f, t1, t2, 0), on_a = acks_in(f, t1, t2, a_master);
    long on_foreign = acks_in(f, 0, INT64_MAX, f->foreign.port) +
                      acks_in(f, 0, INT64_MAX, f->foreign_replica.port);
    long long fkeys = dbsize(&f->foreign), frkeys = dbsize(&f->foreign_replica);
    long lost = count_lost(f, &f->a.data[0], prefix);
    pool_stats_t s = st_stats(f->pool);
    int lost_ev = count_type(f->ev, ev_from, POOL_EVENT_MASTER_LOST);
    int switches = count_type(f->ev, ev_from, POOL_EVENT_SWITCH_MASTER);
    fences fe = fence_stats(f->ev, ev_from, t1, t2, t2);

    fprintf(stderr,
            "MEASURE refuted promotions: %.1f s, %lu announcements (writer itself, foreign "
            "master, foreign replica): MASTER_LOST %d (longest %.1f ms), SWITCH_MASTER %d, max "
            "gap %.1f ms (writer %d), %ld acknowledged (%ld on A's master, %ld on the foreign "
            "nodes), foreign DBSIZE %lld / %lld, missing on A %ld, READONLY %ld (stats %llu), "
            "VALIDATION_FAILED %d, SENTINEL_MISCONFIGURED %d; pool on port %d at create, %d at "
            "the end\n",
            st_ms(t2 - t1) / 1000.0, ann1 - ann0, lost_ev, fe.max_ms, switches, gap, who, in_1,
            on_a, on_foreign, fkeys, frkeys, lost, tot.readonly,
            (unsigned long long)s.readonly_replies,
            count_type(f->ev, 0, POOL_EVENT_VALIDATION_FAILED),
            count_type(f->ev, 0, SP_EV_MISCONFIGURED), first_port, end_port);

    if (ann1 - ann0 < 10)
        fail_msg("the fake delivered only %lu announcements", ann1 - ann0);
    check(&v, first_port == a_master, "pool_create resolves to A's master %d: %d", a_master,
          first_port);
    check(&v, lost_ev == 0, "no MASTER_LOST event: %d", lost_ev);
    check(&v, switches == 0, "no SWITCH_MASTER event while writing: %d", switches);
    check(&v, end_port == a_master, "the pool stays on A's master %d: on %d", a_master,
          end_port);
    check(&v, in_1 > 0 && on_a == in_1, "every acknowledged write on A's master: %ld of %ld",
          on_a, in_1);
    check(&v, on_foreign == 0 && fkeys == 0 && frkeys == 0,
          "nothing written to the foreign nodes: %ld acknowledged there, DBSIZE %lld / %lld",
          on_foreign, fkeys, frkeys);
    check_timed(&v, gap <= GAP_LIMIT_MS, "largest gap between successful writes %.1f ms <= %.0f",
                gap, GAP_LIMIT_MS);
    check(&v, tot.readonly == 0 && s.readonly_replies == 0, "no READONLY: %ld, stats %llu",
          tot.readonly, (unsigned long long)s.readonly_replies);
    check(&v, lost == 0,
          "every acknowledged write present on A's master (the foreign ones count as missing): "
          "%ld missing",
          lost);
    check(&v, !tot.full, "writer records did not overflow");
    verdict_end(&v, "refuted promotions");
}

/* A foreign deployment with three sentinels, one of them listed first: its
 * SENTINEL sentinels names its two peers. A pool that learned them would
 * count three foreign votes against A's three. The pool learns sentinels
 * only from one whose answer names the writer it confirmed: B's peers are
 * never added, B's sentinel is reported once, every write lands on A. */
static void test_foreign_sentinel_with_peers(void **state)
{
    fixture *f = *state;
    assert_int_equal(fx_topology_start(&f->a, NULL), 0);
    fx_topology_opts bo;
    memset(&bo, 0, sizeof(bo));
    bo.n_replicas = -1;
    fx_tls btls;
    memset(&btls, 0, sizeof(btls));
    if (fx_topology_tls_dir(&f->a) != NULL) {
        btls.dir = fx_topology_tls_dir(&f->a);
        bo.tls = &btls;
    }
    assert_int_equal(fx_topology_start(&f->b, &bo), 0);
    char a_list[400], list[512];
    assert_int_equal(fx_sentinels_string(&f->a, a_list, sizeof(a_list)), 0);
    snprintf(list, sizeof(list), "127.0.0.1:%d,%s", f->b.sentinel[0].port, a_list);
    pool_cfg(f, list);
    f->cfg.o.sentinel_poll_ms = 200; /* several discovery rounds within the test */
    assert_int_equal(pool_create(&f->cfg.o, &f->pool), 0);
    assert_int_equal(pool_port(f->pool), f->a.data[0].port);
    start_writers(f, "ws4");
    fx_sleep_ms(3000); /* 15 polls: discovery runs at least once after the census */
    stop_writers(f);
    for (int k = 1; k < f->b.n_sentinels; k++)
        if (st_wait_event(f->ev, 0, POOL_EVENT_SENTINEL_ADDED, f->b.sentinel[k].port, 0) >= 0)
            fail_msg("the pool learned B's sentinel %d from B's sentinel 0",
                     f->b.sentinel[k].port);
    totals t = writer_totals(f);
    long long b_keys = dbsize(&f->b.data[0]);
    printf("MEASURE foreign sentinel with peers: %ld writes acknowledged, B DBSIZE %lld, "
           "MISCONFIGURED %d, pool on %d\n",
           t.acked, b_keys, count_type(f->ev, 0, SP_EV_MISCONFIGURED), pool_port(f->pool));
    assert_true(t.acked > 0);
    assert_int_equal(b_keys, 0);
    assert_int_equal(count_type(f->ev, 0, SP_EV_MISCONFIGURED), 1);
    assert_int_equal(pool_port(f->pool), f->a.data[0].port);
}

int main(void)
{
    st_t0_ns = st_now_ns();
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_foreign_sentinel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_false_promotions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuted_promotions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_sentinel_with_peers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
