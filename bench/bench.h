/* The benchmark's shared pieces. Public API of the library only. */
#ifndef SPOOL_BENCH_H
#define SPOOL_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "sentinel_pool.h"

#define BENCH_MAX_REPS 64

typedef struct bench_opts {
    int reps;              /* repetitions of every measurement */
    double seconds;        /* one throughput measurement */
    double cycle_seconds;  /* one checkout/return measurement */
    int quick;
    int mem_conns;         /* connections for the memory figures */
    const char *json_path; /* NULL: no JSON */
    const char *only;      /* NULL, or the one section to run */
    const char *hotpath;   /* --hotpath MODE N: only that, for callgrind */
    long hotpath_n;
} bench_opts;

/* One figure measured reps times. */
typedef struct bench_series {
    int n;
    double v[BENCH_MAX_REPS];
} bench_series;

/* Slices of about `slice` seconds that add up to `total`: their count, and
 * their exact length in *len. */
#define BENCH_CYCLE_SLICE_S 0.01
#define BENCH_SET_SLICE_S 0.02
#define BENCH_MAX_SLICES 500
int bench_slices(double total, double slice, double *len);

/* util.c */
int64_t bench_now_ns(void);    /* CLOCK_MONOTONIC */
int64_t bench_cpu_ns(void);    /* user+sys of the whole process (RUSAGE_SELF) */
long bench_rss_bytes(void);    /* VmRSS */
long bench_heap_bytes(void);   /* malloc'd bytes in use (mallinfo2, all arenas + mmap) */
void bench_sleep_s(double s);
double bench_median_of(double *v, int n); /* sorts v in place; 0 when n == 0 */
void series_add(bench_series *s, double x);
double series_median(const bench_series *s);
double series_min(const bench_series *s);
double series_max(const bench_series *s);
void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void bench_raise_nofile(long want);

/* CPU used on the whole machine versus by us (this process, its waited-for
 * children and the redis-server), to show how much else was running. */
typedef struct bench_load {
    int64_t wall_ns, busy_ns, steal_ns, ours_ns;
} bench_load;
void bench_load_take(bench_load *l, pid_t redis_pid);
/* CPUs' worth of time used by other processes, and stolen by the hypervisor. */
void bench_load_diff(const bench_load *a, const bench_load *b, double *others_cpus,
                     double *steal_cpus);

/* server.c: one redis-server of our own on a free loopback port; with tls,
 * TLS-only, certificates made by tests/support/make-certs.sh in its dir. */
typedef struct bench_server {
    pid_t pid;
    int port;
    int tls;
    char dir[64];
    char addr[32];    /* "127.0.0.1:port" */
    char ca_file[96]; /* with tls: dir/ca.crt */
    void *tls_ctx;    /* with tls: the dedicated connections' redisSSLContext */
} bench_server;
int bench_server_start(bench_server *s, int maxclients, int tls);
void bench_server_stop(bench_server *s); /* also after a failed start */
/* Every server started and not yet stopped: stop them (atexit), or only
 * SIGKILL them (async-signal-safe, for signal handlers). */
void bench_servers_stop_all(void);
void bench_servers_kill_all(void);

/* connect.c: how the sections reach a server, plain or TLS alike. */
/* A blocking hiredis connection; NULL with the reason in err. timeout_ms > 0
 * bounds the connect, the handshake and every reply. */
redisContext *bench_connect(const bench_server *s, int timeout_ms, char *err, size_t errlen);
/* pool_options_init() plus what reaches s: master_addr, and the CA with tls. */
void bench_pool_options(const bench_server *s, pool_options_t *po);
/* NULL when the bench can measure TLS, else why not. */
const char *bench_tls_unavailable(void);
int bench_tls_context_new(bench_server *s, char *err, size_t errlen);
void bench_tls_context_free(bench_server *s);

/* checkout.c: section 1. */
typedef struct cycle_row {
    int threads, pool_size;
    bench_series pool_ns;     /* wall ns per get+put pair, all threads together */
    bench_series pool_cpu_ns; /* process CPU ns per pair */
    bench_series base_ns;     /* the same with a mutex+condvar free list */
    bench_series base_cpu_ns;
    uint64_t waits, checkouts; /* pool_stats() over all reps */
    uint64_t errors;
} cycle_row;
int bench_cycles(const bench_opts *o, const bench_server *srv, cycle_row *rows, int maxrows);

/* throughput.c: sections 2, 3, 6 and 7. */
typedef struct tput_row {
    int threads, max_connections;
    bench_series pool_ops, ded_ops, ratio;
    bench_series pool_cpu_us, ded_cpu_us, cpu_extra_us; /* CPU µs per command */
    /* A/A control: a second dedicated connection per thread, third in each
     * round. ctl_ratio = control/dedicated, ctl_cpu_diff_us = control -
     * dedicated: both should be 1 and 0 but for noise and bias. */
    bench_series ctl_ops, ctl_ratio, ratio_vs_ctl;
    bench_series ctl_cpu_us, ctl_cpu_diff_us, cpu_extra_vs_ctl_us;
    /* The dedicated connections carry the pool's socket timeout; a third
     * per thread has none: timer_cpu_us = dedicated - bare, what the
     * kernel's timer for command_timeout_ms costs a blocking read, and
     * cpu_extra_vs_bare_us = pool - bare. */
    bench_series timer_cpu_us, cpu_extra_vs_bare_us;
    uint64_t errors;
} tput_row;
int bench_throughput(const bench_opts *o, const bench_server *srv, tput_row *rows, int maxrows);
/* Section 7: the same against a TLS-only server, one connection per thread. */
int bench_throughput_tls(const bench_opts *o, const bench_server *tls_srv, tput_row *rows,
                         int maxrows);

/* --hotpath: n operations of one kind (hotpath.c). */
int bench_hotpath(const bench_server *srv, const char *mode, long n);

/* pool_get_writer + pool_put timed inside a 1-thread SET loop. */
typedef struct insitu_result {
    bench_series get_put_ns; /* median per iteration, bracket cost removed */
    bench_series bracket_ns; /* two empty CLOCK_MONOTONIC brackets */
    bench_series set_us;     /* median SET round trip, for context */
    uint64_t errors;
} insitu_result;
void bench_insitu(const bench_opts *o, const bench_server *srv, insitu_result *out);

#define BENCH_NPOLICIES 4
typedef struct policy_row {
    int threads;
    bench_series ded_ops;
    bench_series ops[BENCH_NPOLICIES], ratio[BENCH_NPOLICIES];
    uint64_t errors;
} policy_row;
extern const char *const bench_policy_names[BENCH_NPOLICIES];
int bench_policies(const bench_opts *o, const bench_server *srv, policy_row *rows, int maxrows);

/* memory.c: section 5, measured in fresh child processes. */
typedef struct mem_result {
    int conns;
    bench_series raw_rss1, raw_rssN, pool_rss1, pool_rssN;      /* process RSS, bytes */
    bench_series raw_drss1, raw_drssN, pool_drss1, pool_drssN;  /* RSS growth, bytes */
    bench_series raw_dheap1, raw_dheapN, pool_dheap1, pool_dheapN; /* heap growth, bytes */
    bench_series extra_rss_per_conn, extra_heap_per_conn;
    bench_series raw_rss_per_conn, pool_rss_per_conn;
    bench_series raw_heap_per_conn, pool_heap_per_conn;
} mem_result;
void bench_memory(const bench_opts *o, const bench_server *srv, const char *self_exe,
                  mem_result *out);
/* Entry point of the child: argv = {"raw"|"pool", N, "host:port"}. */
int bench_memory_child(int argc, char **argv);

/* report.c: everything measured, the verdicts, the table and the JSON. */
#define BENCH_MAX_ROWS 16
#define BENCH_MAX_TARGETS 16
enum { SEC_CYCLE, SEC_TPUT, SEC_POLICY, SEC_MEM, SEC_TLS, SEC_ALL, SEC_N };

typedef struct bench_target {
    char name[96];
    char figure[200];
    int met;
} bench_target;

typedef struct bench_results {
    bench_opts o;
    bench_server srv;
    char cpu_model[128];
    long nproc;
    char redis_version[32];
    cycle_row cyc[BENCH_MAX_ROWS];
    int ncyc;
    tput_row tput[BENCH_MAX_ROWS];
    int ntput;
    policy_row pol[BENCH_MAX_ROWS];
    int npol;
    mem_result mem;
    insitu_result insitu;
    bench_server tls_srv;
    tput_row tls[BENCH_MAX_ROWS];
    int ntls;
    const char *tls_skipped; /* why section 7 did not run, when it was asked for */
    bench_target targets[BENCH_MAX_TARGETS];
    int ntargets;
    double elapsed_s;
    /* Other processes' CPU use (in CPUs) during each section, and overall. */
    double others[SEC_N], steal[SEC_N];
} bench_results;
extern const char *const bench_section_names[SEC_N];
void report_judge(bench_results *r);
void report_print(const bench_results *r, FILE *f);
void report_json(const bench_results *r, const char *path);

#endif
