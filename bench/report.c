/* The verdicts, the human table and the JSON file. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include "bench.h"
#include "json.h"

const char *const bench_section_names[SEC_N] = {"checkout_cycle", "set_throughput",
                                                "validation_policies", "memory",
                                                "set_throughput_tls", "whole_run"};

static double min2(double a, double b) { return a < b ? a : b; }

/* "median [min..max]" with the given scale and decimals. */
static const char *fs(char *buf, size_t len, const bench_series *s, double scale, int prec)
{
    snprintf(buf, len, "%.*f [%.*f..%.*f]", prec, series_median(s) * scale, prec,
             series_min(s) * scale, prec, series_max(s) * scale);
    return buf;
}

static void add_target(bench_results *R, int met, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add_target(bench_results *R, int met, const char *name, const char *fmt, ...)
{
    if (R->ntargets >= BENCH_MAX_TARGETS)
        return;
    bench_target *t = &R->targets[R->ntargets++];
    t->met = met;
    snprintf(t->name, sizeof(t->name), "%s", name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->figure, sizeof(t->figure), fmt, ap);
    va_end(ap);
}

static const cycle_row *cyc_find(const bench_results *R, int threads, int size)
{
    for (int i = 0; i < R->ncyc; i++)
        if (R->cyc[i].threads == threads && R->cyc[i].pool_size == size)
            return &R->cyc[i];
    return NULL;
}

/* Among the rows with one connection per thread: the lowest median ratio
 * and the highest median extra CPU per command. */
typedef struct tput_worst {
    double ratio, cpu;
    int ratio_threads, cpu_threads;
} tput_worst;

static void tput_find_worst(const tput_row *rows, int n, tput_worst *w)
{
    *w = (tput_worst){.ratio = 10, .cpu = -1};
    for (int i = 0; i < n; i++) {
        const tput_row *r = &rows[i];
        if (r->max_connections != r->threads)
            continue;
        double ratio = series_median(&r->ratio), cpu = series_median(&r->cpu_extra_us);
        if (ratio < w->ratio) {
            w->ratio = ratio;
            w->ratio_threads = r->threads;
        }
        if (cpu > w->cpu) {
            w->cpu = cpu;
            w->cpu_threads = r->threads;
        }
    }
}

void report_judge(bench_results *R)
{
    const cycle_row *a1 = cyc_find(R, 1, 8), *b1 = cyc_find(R, 1, 64);
    const cycle_row *a8 = cyc_find(R, 8, 8), *b8 = cyc_find(R, 8, 64);
    const cycle_row *a32 = cyc_find(R, 32, 8), *b32 = cyc_find(R, 32, 64);
    if (a1 && b1 && a8 && b8 && a32 && b32) {
        /* Uncontended, one thread: wall time per pair is inflated when other
         * processes preempt it, process CPU time by the accounting itself
         * (timer ticks, the main thread's slice switches: ~2 ns here); take
         * the lower of the two. */
        double u8 = min2(series_median(&a1->pool_ns), series_median(&a1->pool_cpu_ns));
        double u64 = min2(series_median(&b1->pool_ns), series_median(&b1->pool_cpu_ns));
        add_target(R, u8 < 20 && u64 < 20, "checkout+put uncontended < 20 ns",
                   "1 thread: %.1f ns (pool 8), %.1f ns (pool 64) per pair [wall %.1f, %.1f; CPU "
                   "%.1f, %.1f]",
                   u8, u64, series_median(&a1->pool_ns), series_median(&b1->pool_ns),
                   series_median(&a1->pool_cpu_ns), series_median(&b1->pool_cpu_ns));
        double e8 = series_median(&a8->pool_ns), e64 = series_median(&b8->pool_ns);
        add_target(R, e8 < 50 && e64 < 50, "checkout+put with 8 threads < 50 ns/op",
                   "8 threads: %.1f ns (pool 8), %.1f ns (pool 64) wall per pair; CPU %.1f, %.1f",
                   e8, e64, series_median(&a8->pool_cpu_ns), series_median(&b8->pool_cpu_ns));
        double t8 = series_median(&a32->pool_ns), t64 = series_median(&b32->pool_ns);
        add_target(R, t8 <= 2 * e8 && t64 <= 2 * e64, "no collapse at 32 threads (<= 2x 8-thread)",
                   "32 threads: %.1f ns (pool 8, %.2fx), %.1f ns (pool 64, %.2fx) wall per pair",
                   t8, t8 / e8, t64, t64 / e64);
        /* Cost per pair is CPU time: wall time with more threads than CPUs
         * also measures the scheduler. */
        double worst = 0;
        int worst_t = 0;
        for (int i = 0; i < R->ncyc; i++) {
            if (R->cyc[i].pool_size != 64)
                continue;
            const cycle_row *small = cyc_find(R, R->cyc[i].threads, 8);
            double r = series_median(&R->cyc[i].pool_cpu_ns) / series_median(&small->pool_cpu_ns);
            if (r > worst) {
                worst = r;
                worst_t = R->cyc[i].threads;
            }
        }
        add_target(R, worst <= 1.25, "cost does not grow with pool size (64 vs 8 <= 1.25x)",
                   "worst pool64/pool8 CPU per pair = %.2fx (%d threads)", worst, worst_t);
    }
    tput_worst w;
    if (R->ntput > 0) {
        tput_find_worst(R->tput, R->ntput, &w);
        add_target(R, w.ratio >= 0.98, "SET throughput pool/dedicated >= 0.98 (defaults)",
                   "lowest median ratio %.3f (%d threads)", w.ratio, w.ratio_threads);
        add_target(R, w.cpu < 0.1, "client CPU per command above dedicated < 0.1 us",
                   "highest median extra %.3f us (%d threads)", w.cpu, w.cpu_threads);
    }
    if (R->ntls > 0) {
        tput_find_worst(R->tls, R->ntls, &w);
        add_target(R, w.ratio >= 0.98, "SET over TLS pool/dedicated TLS >= 0.98",
                   "lowest median ratio %.3f (%d threads); highest CPU extra %.3f us (%d threads)",
                   w.ratio, w.ratio_threads, w.cpu, w.cpu_threads);
    }
}

static void load_line(const bench_results *R, FILE *f, int sec)
{
    fprintf(f, "   [other processes on this machine used %.2f of %ld CPUs during this section; "
               "hypervisor steal %.2f]\n",
            R->others[sec], R->nproc, R->steal[sec]);
}

static void print_cycles(const bench_results *R, FILE *f)
{
    char b1[64], b2[64];
    double cslice;
    bench_slices(R->o.cycle_seconds, BENCH_CYCLE_SLICE_S, &cslice);
    fprintf(f, "\n1. Checkout + return, no command (validate=never, all connections open and "
               "idle)\n"
               "   ns/pair = wall time / get+put pairs of all threads together; CPU = process "
               "CPU time / pairs.\n"
               "   baseline = a mutex + condvar free list of the same size (what a plain pool "
               "does);\n"
               "   the same threads switch between pool and baseline every %.0f ms, A B A B.\n",
            cslice * 1000);
    load_line(R, f, SEC_CYCLE);
    fprintf(f, "   %7s %4s | %-24s %8s | %-24s %8s | %s\n", "threads", "size", "pool ns/pair",
            "CPU ns", "baseline ns/pair", "CPU ns", "waits/pair");
    for (int i = 0; i < R->ncyc; i++) {
        const cycle_row *r = &R->cyc[i];
        fprintf(f, "   %7d %4d | %-24s %8.1f | %-24s %8.1f | %.2g\n", r->threads, r->pool_size,
                fs(b1, sizeof(b1), &r->pool_ns, 1, 1), series_median(&r->pool_cpu_ns),
                fs(b2, sizeof(b2), &r->base_ns, 1, 1), series_median(&r->base_cpu_ns),
                r->checkouts ? (double)r->waits / (double)r->checkouts : 0.0);
    }
}

/* A column of a table of tput_rows: which series, its scale and decimals. */
typedef struct tput_col {
    const char *head;
    size_t series; /* offsetof(tput_row, the series) */
    double scale;
    int prec;
} tput_col;

/* Sections 2 and 7: throughput of both sides, their ratio, the control's. */
static const tput_col rate_cols[4] = {
    {"pool kops/s", offsetof(tput_row, pool_ops), 1e-3, 1},
    {"dedicated kops/s", offsetof(tput_row, ded_ops), 1e-3, 1},
    {"RATIO pool/ded.", offsetof(tput_row, ratio), 1, 3},
    {"A/A control ratio", offsetof(tput_row, ctl_ratio), 1, 3},
};

/* Sections 6 and 7: client CPU per command of both sides and the control's,
 * then what the socket timeout both sides carry costs. */
static const tput_col cpu_cols[6] = {
    {"pool us/cmd", offsetof(tput_row, pool_cpu_us), 1, 3},
    {"dedicated us/cmd", offsetof(tput_row, ded_cpu_us), 1, 3},
    {"POOL EXTRA us/cmd", offsetof(tput_row, cpu_extra_us), 1, 3},
    {"A/A control diff us/cmd", offsetof(tput_row, ctl_cpu_diff_us), 1, 3},
    {"timeout's timer us/cmd", offsetof(tput_row, timer_cpu_us), 1, 3},
    {"pool - bare us/cmd", offsetof(tput_row, cpu_extra_vs_bare_us), 1, 3},
};

/* Threads, connections, then ncol columns, all but the last `width`
 * wide; note_waits marks the rows with fewer connections than threads. */
static void print_tput_table(FILE *f, const tput_row *rows, int n, const tput_col *col, int ncol,
                             int width, int note_waits)
{
    char b[64];
    fprintf(f, "   %7s %5s", "threads", "conns");
    for (int k = 0; k < ncol; k++)
        fprintf(f, " | %-*s", k < ncol - 1 ? width : 0, col[k].head);
    fputc('\n', f);
    for (int i = 0; i < n; i++) {
        const tput_row *r = &rows[i];
        fprintf(f, "   %7d %5d", r->threads, r->max_connections);
        for (int k = 0; k < ncol; k++) {
            const bench_series *v = (const bench_series *)((const char *)r + col[k].series);
            fprintf(f, " | %-*s", k < ncol - 1 ? width : 0,
                    fs(b, sizeof(b), v, col[k].scale, col[k].prec));
        }
        if (note_waits && r->max_connections < r->threads)
            fputs("  (fewer connections than threads)", f);
        fputc('\n', f);
    }
}

static void print_throughput(const bench_results *R, FILE *f)
{
    fprintf(f, "\n2. SET throughput: T threads doing pool_get_writer+SET+pool_put (default "
               "options, max_connections as shown)\n"
               "   vs the same T threads each on its own dedicated hiredis connection (with the "
               "pool's socket timeout,\n"
               "   command_timeout_ms, as redisSetTimeout() sets it); they switch every %.0f ms, "
               "A B A B, and a third slice\n"
               "   per round runs on a second dedicated connection per thread: an A/A control "
               "whose ratio to the first shows\n"
               "   the method's own noise (a fourth, on a connection without timeout, is for "
               "section 6). Ratios are medians\n"
               "   over rounds of per-round ratios.\n",
            BENCH_SET_SLICE_S * 1000);
    load_line(R, f, SEC_TPUT);
    print_tput_table(f, R->tput, R->ntput, rate_cols, 4, 20, 1);
}

static void print_policies(const bench_results *R, FILE *f)
{
    char b1[64], b2[64];
    fprintf(f, "\n3. Validation policies: SET throughput ratio vs dedicated connections (the "
               "same threads rotate through the five every %.0f ms)\n",
            BENCH_SET_SLICE_S * 1000);
    load_line(R, f, SEC_POLICY);
    fprintf(f, "   %7s | %-22s", "threads", "dedicated kops/s");
    for (int p = 0; p < BENCH_NPOLICIES; p++)
        fprintf(f, " | %-24s", bench_policy_names[p]);
    fputc('\n', f);
    for (int i = 0; i < R->npol; i++) {
        const policy_row *r = &R->pol[i];
        fprintf(f, "   %7d | %-22s", r->threads, fs(b1, sizeof(b1), &r->ded_ops, 1e-3, 1));
        for (int p = 0; p < BENCH_NPOLICIES; p++)
            fprintf(f, " | %-24s", fs(b2, sizeof(b2), &r->ratio[p], 1, 3));
        fputc('\n', f);
    }
    fprintf(f, "   idle: ROLE only once a connection sat idle validate_idle_ms (1000), so "
               "never in a busy loop;\n"
               "   always: one ROLE round trip per checkout; ping: one PING round trip per "
               "checkout.\n");
}

static void print_memory(const bench_results *R, FILE *f)
{
    char b1[64], b2[64], b4[64];
    const mem_result *m = &R->mem;
    fprintf(f, "\n5. Memory (a fresh process per figure; N = %d; per connection = slope between "
               "1 and N connections)\n",
            m->conns);
    load_line(R, f, SEC_MEM);
    fprintf(f, "   %-36s | %-26s | %-26s\n", "", "raw redisConnect (+PING)",
            "pool (borrow all, defaults)");
    fprintf(f, "   %-36s | %-26s | %-26s\n", "process RSS, 1 connection (KiB)",
            fs(b1, sizeof(b1), &m->raw_rss1, 1.0 / 1024, 0),
            fs(b2, sizeof(b2), &m->pool_rss1, 1.0 / 1024, 0));
    snprintf(b4, sizeof(b4), "process RSS, %d connections (KiB)", m->conns);
    fprintf(f, "   %-36s | %-26s | %-26s\n", b4, fs(b1, sizeof(b1), &m->raw_rssN, 1.0 / 1024, 0),
            fs(b2, sizeof(b2), &m->pool_rssN, 1.0 / 1024, 0));
    fprintf(f, "   %-36s | %-26s | %-26s\n", "RSS per connection (bytes)",
            fs(b1, sizeof(b1), &m->raw_rss_per_conn, 1, 0),
            fs(b2, sizeof(b2), &m->pool_rss_per_conn, 1, 0));
    fprintf(f, "   %-36s | %-26s | %-26s\n", "heap in use per connection (bytes)",
            fs(b1, sizeof(b1), &m->raw_heap_per_conn, 1, 0),
            fs(b2, sizeof(b2), &m->pool_heap_per_conn, 1, 0));
    fprintf(f, "   pool's extra per connection: RSS %s bytes, heap (malloc) %s bytes\n",
            fs(b1, sizeof(b1), &m->extra_rss_per_conn, 1, 0),
            fs(b2, sizeof(b2), &m->extra_heap_per_conn, 1, 0));
}

static void print_cpu(const bench_results *R, FILE *f)
{
    char b1[64];
    fprintf(f, "\n6. Client CPU per SET (user+sys of this process, getrusage RUSAGE_SELF around "
               "each section-2 slice; differences are\n"
               "   medians over rounds of per-round differences; the A/A control is the second "
               "dedicated connection's;\n"
               "   timeout's timer = dedicated - a connection without socket timeout, the "
               "kernel's timer on each blocking read,\n"
               "   which the pool pays for command_timeout_ms; pool - bare = pool against that "
               "connection without timeout)\n");
    load_line(R, f, SEC_TPUT);
    print_tput_table(f, R->tput, R->ntput, cpu_cols, 6, 22, 0);
    const cycle_row *hot = NULL;
    for (int i = 0; i < R->ncyc; i++)
        if (R->cyc[i].threads == 1 && R->cyc[i].pool_size == 8)
            hot = &R->cyc[i];
    fprintf(f, "   pool_get_writer+pool_put timed inside a 1-thread SET loop (caches cold after "
               "each round trip): %s ns per pair\n"
               "   (timer brackets %.0f ns removed)",
            fs(b1, sizeof(b1), &R->insitu.get_put_ns, 1, 0), series_median(&R->insitu.bracket_ns));
    fprintf(f, "; per repetition, pair ns @ SET round trip us:");
    for (int i = 0; i < R->insitu.get_put_ns.n; i++)
        fprintf(f, " %.0f@%.1f", R->insitu.get_put_ns.v[i], R->insitu.set_us.v[i]);
    if (hot != NULL)
        fprintf(f, "; the hot loop of section 1 costs %.0f ns CPU", series_median(&hot->pool_cpu_ns));
    fprintf(f, "\n");
}

static void print_tls(const bench_results *R, FILE *f)
{
    if (R->tls_skipped != NULL) {
        fprintf(f, "\n7. SET throughput over TLS: skipped: %s\n", R->tls_skipped);
        return;
    }
    fprintf(f, "\n7. SET throughput over TLS, as sections 2 and 6 (same threads, the same %.0f ms "
               "slices, A/A control), against a\n"
               "   second redis-server of ours, TLS-only on 127.0.0.1:%d (certificates from "
               "tests/support/make-certs.sh).\n"
               "   pool: tls = 1, tls_ca_file = ca.crt (chain and IP name checked); dedicated: "
               "hiredis_ssl, one redisSSLContext\n"
               "   with the same CA (chain checked) + redisInitiateSSLWithContext per "
               "connection; max_connections = threads.\n",
            BENCH_SET_SLICE_S * 1000, R->tls_srv.port);
    load_line(R, f, SEC_TLS);
    print_tput_table(f, R->tls, R->ntls, rate_cols, 4, 20, 1);
    fprintf(f, "   client CPU per SET over TLS (process user+sys per command, as in section 6):\n");
    print_tput_table(f, R->tls, R->ntls, cpu_cols, 6, 22, 0);
}

void report_print(const bench_results *R, FILE *f)
{
    const bench_opts *o = &R->o;
    fprintf(f, "\nsentinel_pool %s bench: redis-server %s on 127.0.0.1:%d (own process, same "
               "machine)\n",
            pool_version(), R->redis_version, R->srv.port);
    fprintf(f, "machine: %ld CPUs, %s\n", R->nproc, R->cpu_model);
    fprintf(f, "%d repetitions; figures are medians [min..max] across repetitions; throughput "
               "runs %.2f s per side, checkout runs %.2f s per side; total %.0f s\n",
            o->reps, o->seconds, o->cycle_seconds, R->elapsed_s);
    fprintf(f, "other processes used %.2f of %ld CPUs over the whole run (steal %.2f)\n",
            R->others[SEC_ALL], R->nproc, R->steal[SEC_ALL]);
    if (R->ncyc > 0)
        print_cycles(R, f);
    if (R->ntput > 0)
        print_throughput(R, f);
    if (R->npol > 0)
        print_policies(R, f);
    fprintf(f, "\n4. Failover delay: not measured here. build/sentinel-pool-check "
               "(tools/check/*.c) measures it against a real\n"
               "   Sentinel topology (1 master, 2 replicas, 3 sentinels on loopback).\n");
    if (R->mem.conns > 0)
        print_memory(R, f);
    if (R->ntput > 0 || R->insitu.get_put_ns.n > 0)
        print_cpu(R, f);
    if (R->ntls > 0 || R->tls_skipped != NULL)
        print_tls(R, f);

    fprintf(f, "\nTargets\n");
    for (int i = 0; i < R->ntargets; i++)
        fprintf(f, "   [%s] %-54s %s\n", R->targets[i].met ? "met   " : "MISSED", R->targets[i].name,
                R->targets[i].figure);
    uint64_t errors = 0;
    for (int i = 0; i < R->ncyc; i++)
        errors += R->cyc[i].errors;
    for (int i = 0; i < R->ntput; i++)
        errors += R->tput[i].errors;
    for (int i = 0; i < R->ntls; i++)
        errors += R->tls[i].errors;
    for (int i = 0; i < R->npol; i++)
        errors += R->pol[i].errors;
    errors += R->insitu.errors;
    fprintf(f, "   errors during measurements: %llu\n", (unsigned long long)errors);
}

static void json_tput_rows(jw *w, const char *key, const tput_row *rows, int n)
{
    jw_arr(w, key);
    for (int i = 0; i < n; i++) {
        const tput_row *r = &rows[i];
        jw_obj(w, NULL);
        jw_int(w, "threads", r->threads);
        jw_int(w, "max_connections", r->max_connections);
        jw_series(w, "pool_ops_per_s", &r->pool_ops);
        jw_series(w, "dedicated_ops_per_s", &r->ded_ops);
        jw_series(w, "ratio", &r->ratio);
        jw_series(w, "pool_cpu_us_per_cmd", &r->pool_cpu_us);
        jw_series(w, "dedicated_cpu_us_per_cmd", &r->ded_cpu_us);
        jw_series(w, "pool_extra_cpu_us_per_cmd", &r->cpu_extra_us);
        jw_series(w, "control_ops_per_s", &r->ctl_ops);
        jw_series(w, "control_ratio", &r->ctl_ratio);
        jw_series(w, "ratio_pool_vs_control", &r->ratio_vs_ctl);
        jw_series(w, "control_cpu_us_per_cmd", &r->ctl_cpu_us);
        jw_series(w, "control_cpu_diff_us_per_cmd", &r->ctl_cpu_diff_us);
        jw_series(w, "pool_extra_cpu_vs_control_us_per_cmd", &r->cpu_extra_vs_ctl_us);
        jw_series(w, "socket_timeout_timer_cpu_us_per_cmd", &r->timer_cpu_us);
        jw_series(w, "pool_extra_cpu_vs_bare_us_per_cmd", &r->cpu_extra_vs_bare_us);
        jw_int(w, "errors", (long long)r->errors);
        jw_obj_end(w);
    }
    jw_arr_end(w);
}

void report_json(const bench_results *R, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "bench: cannot write %s\n", path);
        return;
    }
    jw w = {.f = f};
    jw_obj(&w, NULL);
    jw_str(&w, "library_version", pool_version());
    jw_str(&w, "redis_version", R->redis_version);
    jw_obj(&w, "machine");
    jw_int(&w, "nproc", R->nproc);
    jw_str(&w, "cpu_model", R->cpu_model);
    jw_obj_end(&w);
    jw_obj(&w, "options");
    jw_int(&w, "reps", R->o.reps);
    jw_num(&w, "seconds", R->o.seconds);
    jw_num(&w, "cycle_seconds", R->o.cycle_seconds);
    jw_bool(&w, "quick", R->o.quick);
    jw_obj_end(&w);
    jw_num(&w, "elapsed_s", R->elapsed_s);
    jw_obj(&w, "other_processes_cpus");
    for (int i = 0; i < SEC_N; i++)
        jw_num(&w, bench_section_names[i], R->others[i]);
    jw_obj_end(&w);
    jw_obj(&w, "steal_cpus");
    for (int i = 0; i < SEC_N; i++)
        jw_num(&w, bench_section_names[i], R->steal[i]);
    jw_obj_end(&w);

    jw_arr(&w, "checkout_cycle");
    for (int i = 0; i < R->ncyc; i++) {
        const cycle_row *r = &R->cyc[i];
        jw_obj(&w, NULL);
        jw_int(&w, "threads", r->threads);
        jw_int(&w, "pool_size", r->pool_size);
        jw_series(&w, "pool_ns_per_pair", &r->pool_ns);
        jw_series(&w, "pool_cpu_ns_per_pair", &r->pool_cpu_ns);
        jw_series(&w, "baseline_mutex_ns_per_pair", &r->base_ns);
        jw_series(&w, "baseline_mutex_cpu_ns_per_pair", &r->base_cpu_ns);
        jw_int(&w, "pool_waits", (long long)r->waits);
        jw_int(&w, "pool_checkouts", (long long)r->checkouts);
        jw_int(&w, "errors", (long long)r->errors);
        jw_obj_end(&w);
    }
    jw_arr_end(&w);

    json_tput_rows(&w, "set_throughput", R->tput, R->ntput);

    jw_obj(&w, "set_throughput_tls");
    if (R->tls_skipped != NULL)
        jw_str(&w, "skipped", R->tls_skipped);
    if (R->ntls > 0)
        jw_int(&w, "tls_port", R->tls_srv.port);
    json_tput_rows(&w, "rows", R->tls, R->ntls);
    jw_obj_end(&w);

    jw_obj(&w, "in_loop_checkout");
    jw_series(&w, "get_put_ns", &R->insitu.get_put_ns);
    jw_series(&w, "timer_bracket_ns", &R->insitu.bracket_ns);
    jw_series(&w, "set_round_trip_us", &R->insitu.set_us);
    jw_int(&w, "errors", (long long)R->insitu.errors);
    jw_obj_end(&w);

    jw_arr(&w, "validation_policies");
    for (int i = 0; i < R->npol; i++) {
        const policy_row *r = &R->pol[i];
        jw_obj(&w, NULL);
        jw_int(&w, "threads", r->threads);
        jw_series(&w, "dedicated_ops_per_s", &r->ded_ops);
        jw_arr(&w, "policies");
        for (int p = 0; p < BENCH_NPOLICIES; p++) {
            jw_obj(&w, NULL);
            jw_str(&w, "policy", bench_policy_names[p]);
            jw_series(&w, "ops_per_s", &r->ops[p]);
            jw_series(&w, "ratio", &r->ratio[p]);
            jw_obj_end(&w);
        }
        jw_arr_end(&w);
        jw_int(&w, "errors", (long long)r->errors);
        jw_obj_end(&w);
    }
    jw_arr_end(&w);

    jw_obj(&w, "failover");
    jw_str(&w, "measured_by", "build/sentinel-pool-check (tools/check/*.c)");
    jw_obj_end(&w);

    const mem_result *m = &R->mem;
    jw_obj(&w, "memory");
    jw_int(&w, "connections", m->conns);
    jw_series(&w, "raw_rss_1", &m->raw_rss1);
    jw_series(&w, "raw_rss_n", &m->raw_rssN);
    jw_series(&w, "pool_rss_1", &m->pool_rss1);
    jw_series(&w, "pool_rss_n", &m->pool_rssN);
    jw_series(&w, "raw_rss_growth_1", &m->raw_drss1);
    jw_series(&w, "raw_rss_growth_n", &m->raw_drssN);
    jw_series(&w, "pool_rss_growth_1", &m->pool_drss1);
    jw_series(&w, "pool_rss_growth_n", &m->pool_drssN);
    jw_series(&w, "raw_heap_growth_1", &m->raw_dheap1);
    jw_series(&w, "raw_heap_growth_n", &m->raw_dheapN);
    jw_series(&w, "pool_heap_growth_1", &m->pool_dheap1);
    jw_series(&w, "pool_heap_growth_n", &m->pool_dheapN);
    jw_series(&w, "raw_rss_per_conn", &m->raw_rss_per_conn);
    jw_series(&w, "pool_rss_per_conn", &m->pool_rss_per_conn);
    jw_series(&w, "raw_heap_per_conn", &m->raw_heap_per_conn);
    jw_series(&w, "pool_heap_per_conn", &m->pool_heap_per_conn);
    jw_series(&w, "extra_rss_per_conn", &m->extra_rss_per_conn);
    jw_series(&w, "extra_heap_per_conn", &m->extra_heap_per_conn);
    jw_obj_end(&w);

    jw_arr(&w, "targets");
    for (int i = 0; i < R->ntargets; i++) {
        jw_obj(&w, NULL);
        jw_str(&w, "target", R->targets[i].name);
        jw_bool(&w, "met", R->targets[i].met);
        jw_str(&w, "figure", R->targets[i].figure);
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    jw_obj_end(&w);
    if (fclose(f) != 0)
        fprintf(stderr, "bench: error writing %s\n", path);
}
