/* Sections 2, 3, 6 and 7: T threads doing SET through the pool (checkout,
 * SET, put back) against the same T threads each on a dedicated hiredis
 * connection doing the same SETs, plain or (7) both over TLS. The threads switch between the two every
 * slice (phase.h), so both sides share the run's conditions; process CPU
 * time is booked per slice. Plus the checkout cost timed inside the loop. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "bench.h"
#include "phase.h"

#define SET_VALUE "0123456789abcdef" /* 16 bytes */

/* Per thread: its key and its own connections. */
typedef struct set_thread {
    redisContext *c;  /* the dedicated connection, with the pool's socket timeout */
    redisContext *c2; /* a second one, for the A/A control */
    redisContext *c3; /* a third, without a socket timeout (redisConnect's default) */
    char key[32];
} set_thread;

static int do_set(redisContext *c, const char *key)
{
    redisReply *r = redisCommand(c, "SET %s %s", key, SET_VALUE);
    int ok = r != NULL && r->type == REDIS_REPLY_STATUS;
    if (r != NULL)
        freeReplyObject(r);
    return ok;
}

/* Mode k runs through pools[k], or when that is NULL on the thread's own
 * connection number conn[k] (0: c, 1: c2, 2: c3). */
typedef struct set_ctx {
    pool_t *pools[PHASE_MAX_MODES];
    int conn[PHASE_MAX_MODES];
} set_ctx;

static uint64_t set_step(void *garg, void *targ, int mode, uint64_t *errors)
{
    set_ctx *x = garg;
    set_thread *t = targ;
    pool_t *pool = x->pools[mode];
    if (pool == NULL) {
        redisContext *c = x->conn[mode] == 0 ? t->c : x->conn[mode] == 1 ? t->c2 : t->c3;
        if (c->err)
            bench_die("dedicated connection failed: %s", c->errstr);
        if (do_set(c, t->key))
            return 1;
        (*errors)++;
        return 0;
    }
    redisContext *c;
    if (pool_get_writer(pool, &c) != 0) {
        (*errors)++;
        return 0;
    }
    int ok = do_set(c, t->key);
    pool_put(pool, c);
    if (!ok)
        (*errors)++;
    return ok ? 1 : 0;
}

/* T threads, each with its key and its dedicated connection. */
typedef struct set_threads {
    int n;
    set_thread *t;
    void **targs;
} set_threads;

/* The dedicated connections get the socket timeout the pool sets on its
 * own (command_timeout_ms: SO_RCVTIMEO/SO_SNDTIMEO), so that both sides
 * pay the kernel's timer on every blocking read and the difference is the
 * pool's; c3 goes without, to show what that timer costs. */
static void threads_open(set_threads *g, const bench_server *srv, int n, int timeout_ms)
{
    g->n = n;
    g->t = calloc((size_t)n, sizeof(*g->t));
    g->targs = calloc((size_t)n, sizeof(*g->targs));
    if (g->t == NULL || g->targs == NULL)
        bench_die("out of memory");
    char err[200];
    for (int i = 0; i < n; i++) {
        snprintf(g->t[i].key, sizeof(g->t[i].key), "bench:key:%d", i);
        g->targs[i] = &g->t[i];
        if ((g->t[i].c = bench_connect(srv, timeout_ms, err, sizeof(err))) == NULL ||
            (g->t[i].c2 = bench_connect(srv, timeout_ms, err, sizeof(err))) == NULL ||
            (g->t[i].c3 = bench_connect(srv, 0, err, sizeof(err))) == NULL)
            bench_die("dedicated connection to %s: %s", srv->addr, err);
    }
}

static void threads_close(set_threads *g)
{
    for (int i = 0; i < g->n; i++) {
        redisFree(g->t[i].c);
        redisFree(g->t[i].c2);
        redisFree(g->t[i].c3);
    }
    free(g->t);
    free(g->targs);
}

/* A pool with its connections open: borrow as many as the threads will use. */
static pool_t *pool_open_warm(const pool_options_t *opts, int threads)
{
    pool_t *pool = NULL;
    int rc = pool_create(opts, &pool);
    if (rc != 0)
        bench_die("pool_create: %s", pool_err_name(rc));
    int warm = threads < opts->max_connections ? threads : opts->max_connections;
    redisContext **held = calloc((size_t)warm, sizeof(*held));
    if (held == NULL)
        bench_die("out of memory");
    for (int i = 0; i < warm; i++)
        if ((rc = pool_get_writer(pool, &held[i])) != 0)
            bench_die("warm-up pool_get_writer: %s", pool_err_name(rc));
    for (int i = 0; i < warm; i++)
        pool_put(pool, held[i]);
    free(held);
    return pool;
}

/* Run the modes in turn (order rotated by `rotate`), `seconds` each in
 * slices, after a short uncounted warm-up of each; then pause. */
static void run_modes(phase_runner *pr, int nmodes, double seconds, int rotate)
{
    for (int k = 0; k < nmodes; k++)
        phase_run(pr, k, 0.02);
    phase_reset(pr);
    double slice;
    int slices = bench_slices(seconds, BENCH_SET_SLICE_S, &slice);
    for (int i = 0; i < slices; i++)
        for (int k = 0; k < nmodes; k++)
            phase_run(pr, (k + rotate) % nmodes, slice);
    phase_pause(pr);
}

/* Every rep of every row: rows[] come with threads and max_connections. */
static void measure_rows(const bench_opts *o, const bench_server *srv, tput_row *rows, int n,
                         const char *what)
{
    for (int rep = 0; rep < o->reps; rep++) {
        for (int r = 0; r < n; r++) {
            tput_row *row = &rows[r];
            pool_options_t po;
            bench_pool_options(srv, &po);
            po.max_connections = row->max_connections;
            set_threads g;
            threads_open(&g, srv, row->threads, po.command_timeout_ms);
            /* Mode 0 = pool, 1 = dedicated: A B A B. Mode 2, a second
             * dedicated connection, follows in each round: dedicated
             * against dedicated is an A/A control, the method's own noise.
             * Mode 3, a dedicated connection without socket timeout, closes
             * the round. */
            set_ctx x = {.pools = {pool_open_warm(&po, row->threads), NULL, NULL, NULL},
                         .conn = {0, 0, 1, 2}};
            phase_runner *pr = phase_new(row->threads, set_step, &x, g.targs);
            run_modes(pr, 4, o->seconds, 0);
            phase_totals_t a, b, c, d;
            phase_totals(pr, 0, &a);
            phase_totals(pr, 1, &b);
            phase_totals(pr, 2, &c);
            phase_totals(pr, 3, &d);
            const phase_slice *sl;
            int ns = phase_slices(pr, &sl);
            row->errors += a.errors + b.errors + c.errors + d.errors;
            series_add(&row->timer_cpu_us, phase_median_cpu_diff(sl, ns, 4, 1, 3) * 1e6);
            series_add(&row->cpu_extra_vs_bare_us, phase_median_cpu_diff(sl, ns, 4, 0, 3) * 1e6);
            series_add(&row->ctl_ops, phase_median_rate(sl, ns, 2));
            series_add(&row->ctl_ratio, phase_median_ratio(sl, ns, 4, 2, 1));
            series_add(&row->ratio_vs_ctl, phase_median_ratio(sl, ns, 4, 0, 2));
            series_add(&row->ctl_cpu_us, phase_median_cpu_per_op(sl, ns, 2) * 1e6);
            series_add(&row->ctl_cpu_diff_us, phase_median_cpu_diff(sl, ns, 4, 2, 1) * 1e6);
            series_add(&row->cpu_extra_vs_ctl_us, phase_median_cpu_diff(sl, ns, 4, 0, 2) * 1e6);
            series_add(&row->pool_ops, phase_median_rate(sl, ns, 0));
            series_add(&row->ded_ops, phase_median_rate(sl, ns, 1));
            series_add(&row->ratio, phase_median_ratio(sl, ns, 4, 0, 1));
            series_add(&row->pool_cpu_us, phase_median_cpu_per_op(sl, ns, 0) * 1e6);
            series_add(&row->ded_cpu_us, phase_median_cpu_per_op(sl, ns, 1) * 1e6);
            series_add(&row->cpu_extra_us, phase_median_cpu_diff(sl, ns, 4, 0, 1) * 1e6);
            phase_free(pr);
            pool_destroy(x.pools[0]);
            threads_close(&g);
        }
        fprintf(stderr, "  %s: rep %d/%d done\n", what, rep + 1, o->reps);
    }
}

static void row_init(tput_row *row, int threads, int max_connections)
{
    memset(row, 0, sizeof(*row));
    row->threads = threads;
    row->max_connections = max_connections;
}

int bench_throughput(const bench_opts *o, const bench_server *srv, tput_row *rows, int maxrows)
{
    /* max_connections = threads (one connection each, as with dedicated
     * ones), then 32 threads on the default max_connections (16): waits. */
    static const int threads[] = {1, 2, 8, 32, 32};
    const int n = 5;
    if (maxrows < n)
        return 0;
    pool_options_t def;
    pool_options_init(&def);
    for (int r = 0; r < n; r++)
        row_init(&rows[r], threads[r], r == n - 1 ? def.max_connections : threads[r]);
    measure_rows(o, srv, rows, n, "throughput");
    return n;
}

int bench_throughput_tls(const bench_opts *o, const bench_server *tls_srv, tput_row *rows,
                         int maxrows)
{
    static const int threads[] = {1, 8, 32};
    const int n = 3;
    if (maxrows < n)
        return 0;
    for (int r = 0; r < n; r++)
        row_init(&rows[r], threads[r], threads[r]);
    measure_rows(o, tls_srv, rows, n, "TLS throughput");
    return n;
}

const char *const bench_policy_names[BENCH_NPOLICIES] = {"never", "idle (default)", "always",
                                                         "idle + health_check_ping"};

static void policy_options(const bench_server *srv, int policy, int threads, pool_options_t *po)
{
    bench_pool_options(srv, po);
    po->max_connections = threads;
    switch (policy) {
    case 0:
        po->validate = POOL_VALIDATE_NEVER;
        break;
    case 1:
        break; /* POOL_VALIDATE_IDLE, validate_idle_ms 1000 */
    case 2:
        po->validate = POOL_VALIDATE_ALWAYS;
        break;
    default:
        po->health_check_ping = 1;
        break;
    }
}

int bench_policies(const bench_opts *o, const bench_server *srv, policy_row *rows, int maxrows)
{
    static const int threads[] = {1, 8};
    const int n = 2, runs = BENCH_NPOLICIES + 1;
    if (maxrows < n)
        return 0;
    for (int r = 0; r < n; r++) {
        memset(&rows[r], 0, sizeof(rows[r]));
        rows[r].threads = threads[r];
    }
    for (int rep = 0; rep < o->reps; rep++) {
        for (int r = 0; r < n; r++) {
            policy_row *row = &rows[r];
            set_threads g;
            pool_options_t def;
            pool_options_init(&def);
            threads_open(&g, srv, row->threads, def.command_timeout_ms);
            /* Mode 0 dedicated, modes 1..4 the policies. In turn each pool
             * sits idle 4 slices (400 ms < validate_idle_ms) between runs. */
            set_ctx x = {.pools = {NULL}};
            for (int k = 1; k < runs; k++) {
                pool_options_t po;
                policy_options(srv, k - 1, row->threads, &po);
                x.pools[k] = pool_open_warm(&po, row->threads);
            }
            phase_runner *pr = phase_new(row->threads, set_step, &x, g.targs);
            run_modes(pr, runs, o->seconds, rep);
            const phase_slice *sl;
            int ns = phase_slices(pr, &sl);
            series_add(&row->ded_ops, phase_median_rate(sl, ns, 0));
            for (int k = 0; k < runs; k++) {
                phase_totals_t t;
                phase_totals(pr, k, &t);
                row->errors += t.errors;
                if (k == 0)
                    continue;
                series_add(&row->ops[k - 1], phase_median_rate(sl, ns, k));
                series_add(&row->ratio[k - 1], phase_median_ratio(sl, ns, runs, k, 0));
            }
            phase_free(pr);
            for (int k = 1; k < runs; k++)
                pool_destroy(x.pools[k]);
            threads_close(&g);
        }
        fprintf(stderr, "  validation policies: rep %d/%d done\n", rep + 1, o->reps);
    }
    return n;
}

/* The checkout and return as they cost inside a real loop: after every SET
 * round trip the thread slept in read(2) and other code (redis-server, the
 * kernel) ran, so the pool's code and data are no longer hot in the caches.
 * One thread; each get and put bracketed by CLOCK_MONOTONIC reads, minus
 * the cost of an empty bracket measured in the same iteration. */
void bench_insitu(const bench_opts *o, const bench_server *srv, insitu_result *out)
{
    memset(out, 0, sizeof(*out));
    pool_options_t po;
    bench_pool_options(srv, &po);
    po.max_connections = 1;
    size_t cap = 1 << 20;
    double *gp = malloc(sizeof(double) * cap), *em = malloc(sizeof(double) * cap);
    double *rt = malloc(sizeof(double) * cap);
    if (gp == NULL || em == NULL || rt == NULL)
        bench_die("out of memory");
    for (int rep = 0; rep < o->reps; rep++) {
        pool_t *pool = pool_open_warm(&po, 1);
        size_t n = 0;
        int64_t end = bench_now_ns() + (int64_t)(o->seconds * 0.5e9);
        while (n < cap && bench_now_ns() < end) {
            redisContext *c;
            int64_t t0 = bench_now_ns();
            int rc = pool_get_writer(pool, &c);
            int64_t t1 = bench_now_ns();
            if (rc != 0) {
                out->errors++;
                continue;
            }
            if (!do_set(c, "bench:key:0"))
                out->errors++;
            int64_t t2 = bench_now_ns();
            pool_put(pool, c);
            int64_t t3 = bench_now_ns();
            int64_t t4 = bench_now_ns();
            gp[n] = (double)((t1 - t0) + (t3 - t2));
            rt[n] = (double)(t2 - t1);
            em[n] = (double)(2 * (t4 - t3));
            n++;
        }
        pool_destroy(pool);
        double g = bench_median_of(gp, (int)n), e = bench_median_of(em, (int)n);
        series_add(&out->get_put_ns, g - e);
        series_add(&out->bracket_ns, e);
        series_add(&out->set_us, bench_median_of(rt, (int)n) / 1e3);
    }
    free(gp);
    free(em);
    free(rt);
}
