/* bench: sentinel_pool's costs, each next to its baseline in the same run.
 *
 *   bench [--quick] [--reps N] [--seconds S] [--json FILE]
 *
 * Starts its own redis-server on a free loopback port (no Sentinel: the pool
 * is given master_addr; the hot path is the same), and for the TLS section
 * a second, TLS-only one. See the Performance section of README.md. */
#define _GNU_SOURCE
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "bench.h"

#define BENCH_MAX_ROWS 16
#define MAX_TARGETS 16

static bench_results B;

static void on_signal(int sig)
{
    /* Only async-signal-safe calls here: kill by pid, leave. */
    bench_servers_kill_all();
    _exit(128 + sig);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench [--quick] [--reps N] [--seconds S] [--json FILE]\n"
               "  --quick      smoke run: 2 repetitions, 0.3 s throughput runs\n"
               "  --reps N     repetitions of every measurement (default 5, max %d)\n"
               "  --seconds S  length of one throughput run (default 1.0); one checkout\n"
               "               run lasts 0.3*S\n"
               "  --json FILE  also write every figure and repetition to FILE\n"
               "  --only S     run one section: cycle, tput, insitu, policy, mem or tls\n"
               "               (tls: SET throughput over TLS, in the default run when the\n"
               "               build has TLS)\n"
               "  --hotpath M N  N operations of kind M (cycle, pool, dedicated) and nothing\n"
               "               else, for callgrind: see scripts/profile-hotpath\n",
            BENCH_MAX_REPS);
}

static void parse_args(int argc, char **argv, bench_opts *o)
{
    o->reps = 5;
    o->seconds = 1.0;
    o->mem_conns = 1024;
    int reps_set = 0, secs_set = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--only") == 0 && i + 1 < argc) {
            o->only = argv[++i];
        } else if (strcmp(a, "--hotpath") == 0 && i + 2 < argc) {
            o->hotpath = argv[++i];
            o->hotpath_n = atol(argv[++i]);
        } else if (strcmp(a, "--quick") == 0) {
            o->quick = 1;
        } else if (strcmp(a, "--reps") == 0 && i + 1 < argc) {
            o->reps = atoi(argv[++i]);
            reps_set = 1;
        } else if (strcmp(a, "--seconds") == 0 && i + 1 < argc) {
            o->seconds = atof(argv[++i]);
            secs_set = 1;
        } else if (strcmp(a, "--json") == 0 && i + 1 < argc) {
            o->json_path = argv[++i];
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else {
            usage(stderr);
            exit(2);
        }
    }
    if (o->quick) {
        if (!reps_set)
            o->reps = 2;
        if (!secs_set)
            o->seconds = 0.3;
    }
    if (o->reps < 1 || o->reps > BENCH_MAX_REPS || !(o->seconds >= 0.05 && o->seconds <= 60)) {
        fprintf(stderr, "bench: --reps must be 1..%d and --seconds 0.05..60\n", BENCH_MAX_REPS);
        exit(2);
    }
    o->cycle_seconds = o->seconds * 0.3;
}

static void machine_info(void)
{
    B.nproc = sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(B.cpu_model, sizeof(B.cpu_model), "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "model name", 10) != 0)
            continue;
        const char *v = strchr(line, ':');
        if (v != NULL) {
            v++;
            while (*v == ' ' || *v == '\t')
                v++;
            snprintf(B.cpu_model, sizeof(B.cpu_model), "%s", v);
            B.cpu_model[strcspn(B.cpu_model, "\n")] = '\0';
        }
        break;
    }
    if (f != NULL)
        fclose(f);
    snprintf(B.redis_version, sizeof(B.redis_version), "unknown");
    redisContext *c = redisConnect("127.0.0.1", B.srv.port);
    redisReply *r = c != NULL && !c->err ? redisCommand(c, "INFO server") : NULL;
    const char *v = r != NULL && r->type == REDIS_REPLY_STRING ? strstr(r->str, "redis_version:")
                                                               : NULL;
    if (v != NULL) {
        snprintf(B.redis_version, sizeof(B.redis_version), "%s", v + 14);
        B.redis_version[strcspn(B.redis_version, "\r\n")] = '\0';
    }
    if (r != NULL)
        freeReplyObject(r);
    if (c != NULL)
        redisFree(c);
}

static int want(const bench_opts *o, const char *section)
{
    return o->only == NULL || strcmp(o->only, section) == 0;
}

/* Section 7 on a TLS-only server of its own, stopped right after, so the
 * other sections never share the machine with it. 0, or -1 when the build
 * has TLS but the server could not be made. */
static int run_tls_section(void)
{
    B.tls_skipped = bench_tls_unavailable();
    if (B.tls_skipped != NULL) {
        fprintf(stderr, "bench: section 7 (TLS) skipped: %s\n", B.tls_skipped);
        return 0;
    }
    fprintf(stderr, "bench: section 7 (SET throughput over TLS)...\n");
    if (bench_server_start(&B.tls_srv, 1024, 1) != 0) {
        bench_server_stop(&B.tls_srv);
        B.tls_skipped = "the TLS-only redis-server did not start (stderr says why)";
        return -1;
    }
    bench_load l0, l1;
    bench_load_take(&l0, B.tls_srv.pid);
    B.ntls = bench_throughput_tls(&B.o, &B.tls_srv, B.tls, BENCH_MAX_ROWS);
    bench_load_take(&l1, B.tls_srv.pid);
    bench_load_diff(&l0, &l1, &B.others[SEC_TLS], &B.steal[SEC_TLS]);
    bench_server_stop(&B.tls_srv);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--mem-child") == 0)
        return bench_memory_child(argc - 2, argv + 2);
    parse_args(argc, argv, &B.o);
    /* The memory figures re-execute this binary. argv[0] when it names a
     * path (under valgrind /proc/self/exe is valgrind's own tool). */
    static char self_exe[PATH_MAX];
    if (strchr(argv[0], '/') == NULL || realpath(argv[0], self_exe) == NULL)
        snprintf(self_exe, sizeof(self_exe), "/proc/self/exe");
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    /* redis-server inherits the limit: maxclients needs it, and so do the
     * 1024-connection memory children. */
    bench_raise_nofile(8192);
    atexit(bench_servers_stop_all);
    if (bench_server_start(&B.srv, 4096, 0) != 0)
        return 1;
    if (B.o.hotpath != NULL) {
        int rc = bench_hotpath(&B.srv, B.o.hotpath, B.o.hotpath_n);
        bench_server_stop(&B.srv);
        return rc;
    }
    machine_info();
    int64_t t0 = bench_now_ns();

    bench_load all0, l0, l1;
    bench_load_take(&all0, B.srv.pid);
    fprintf(stderr, "bench: redis on %s, %d reps\n", B.srv.addr, B.o.reps);
    if (want(&B.o, "cycle")) {
        fprintf(stderr, "bench: section 1 (checkout cycle)...\n");
        bench_load_take(&l0, B.srv.pid);
        B.ncyc = bench_cycles(&B.o, &B.srv, B.cyc, BENCH_MAX_ROWS);
        bench_load_take(&l1, B.srv.pid);
        bench_load_diff(&l0, &l1, &B.others[SEC_CYCLE], &B.steal[SEC_CYCLE]);
    }
    if (want(&B.o, "tput")) {
        fprintf(stderr, "bench: sections 2 and 6 (SET throughput, CPU)...\n");
        bench_load_take(&l0, B.srv.pid);
        B.ntput = bench_throughput(&B.o, &B.srv, B.tput, BENCH_MAX_ROWS);
        bench_load_take(&l1, B.srv.pid);
        bench_load_diff(&l0, &l1, &B.others[SEC_TPUT], &B.steal[SEC_TPUT]);
    }
    if (want(&B.o, "tput") || want(&B.o, "insitu"))
        bench_insitu(&B.o, &B.srv, &B.insitu);
    if (want(&B.o, "policy")) {
        fprintf(stderr, "bench: section 3 (validation policies)...\n");
        bench_load_take(&l0, B.srv.pid);
        B.npol = bench_policies(&B.o, &B.srv, B.pol, BENCH_MAX_ROWS);
        bench_load_take(&l1, B.srv.pid);
        bench_load_diff(&l0, &l1, &B.others[SEC_POLICY], &B.steal[SEC_POLICY]);
    }
    if (want(&B.o, "mem")) {
        fprintf(stderr, "bench: section 5 (memory)...\n");
        bench_load_take(&l0, B.srv.pid);
        bench_memory(&B.o, &B.srv, self_exe, &B.mem);
        bench_load_take(&l1, B.srv.pid);
        bench_load_diff(&l0, &l1, &B.others[SEC_MEM], &B.steal[SEC_MEM]);
    }
    int tls_rc = want(&B.o, "tls") ? run_tls_section() : 0;
    bench_load_take(&l1, B.srv.pid);
    bench_load_diff(&all0, &l1, &B.others[SEC_ALL], &B.steal[SEC_ALL]);
    B.elapsed_s = (double)(bench_now_ns() - t0) / 1e9;

    report_judge(&B);
    report_print(&B, stdout);
    if (B.o.json_path != NULL)
        report_json(&B, B.o.json_path);
    bench_server_stop(&B.srv);
    return tls_rc == 0 ? 0 : 1;
}
