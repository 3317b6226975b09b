/* sentinel_load: what pools cost the sentinels, against a real topology.
 *
 *   sentinel_load [--mode before|after|compare] [--processes P] [--masters M]
 *                 [--seconds S] [--warmup S] [--idle-seconds S] [--poll-ms MS]
 *                 [--set-ms MS] [--json FILE]
 *
 * Starts M masters (each with one replica) and 3 sentinels that monitor all
 * of them (load-0 .. load-<M-1>), on free loopback ports, through the test
 * fixture (tests/support/fixture.h). Then forks P worker processes; each
 * opens M pools, one per master name, and runs one thread per pool doing a
 * SET every --set-ms through pool_get_writer()/pool_put():
 *  - before: each pool with its own sentinel list (its own watcher);
 *  - after:  one shared pool_sentinel_set_t per process, M pools on it.
 * After a warm-up the parent samples each sentinel at the start and the end
 * of the measured window: INFO (connected_clients, total_connections_received,
 * total_commands_processed) over one connection it keeps open for the
 * window, and CPU (utime + stime) from /proc/<pid>/stat. An "idle" row (the
 * same topology with no client) comes first: what the sentinels cost each
 * other. The sampler's own connection and INFO are subtracted.
 *
 * Every server and worker is a child of this process and is stopped by pid
 * (also on Ctrl-C: the first one stops everything in order, a second one
 * exits at once; the servers then die with it through PR_SET_PDEATHSIG and
 * the workers stop when their pipe closes). Exit status: 0, 1 on failure,
 * 2 on bad usage, 128+signal when interrupted. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "fixture.h"
#include "sentinel_pool.h"

#define MAX_MASTERS 16
#define MAX_PROCESSES 64
#define N_SENTINELS 3
#define NAME_LEN 32
#define DOWN_AFTER_MS 30000      /* Sentinel's default: no failover by accident */
#define FAILOVER_TIMEOUT_MS 180000 /* Sentinel's default */
#define CONVERGE_MS 60000
#define READY_BASE_MS 60000
#define STOP_GRACE_MS 30000
#define SLICE_MS 100

enum { MODE_BEFORE = 1, MODE_AFTER = 2, MODE_COMPARE = 3 };

typedef struct {
    int mode;
    int processes;
    int masters;
    double seconds;
    double warmup;
    double idle_seconds;
    int poll_ms; /* 0: library default */
    int set_ms;
    const char *json;
} opts_t;

typedef struct {
    fx_node master[MAX_MASTERS];
    fx_node replica[MAX_MASTERS];
    fx_node sentinel[N_SENTINELS];
    int m;
    char names[MAX_MASTERS][NAME_LEN];
    char sentinels[128];
    char server_version[64];
} topo_t;

/* One row of the table. */
typedef struct {
    int port;
    double held;     /* connected_clients at the window's end, sampler excluded */
    double conn_s;   /* new connections per second */
    double cmd_s;    /* commands per second */
    double cpu_pct;  /* % of one core */
} row_t;

typedef struct {
    const char *mode;
    int processes;
    int pools;
    double elapsed;
    row_t s[N_SENTINELS];
    row_t total;
    unsigned long long sets_ok;
    unsigned long long sets_failed;
    double set_rate;       /* SET/s, all workers together */
    double client_cpu_pct; /* all worker processes, % of one core */
    double data_cpu_pct;   /* masters and replicas together, % of one core */
    double machine_busy;   /* CPUs busy on the whole machine during the window */
    double others_busy;    /* of which, CPUs used by processes not ours */
    int failovers;         /* master names whose master moved during the run */
    int valid;
} run_t;

/* Worker -> parent records (well under PIPE_BUF: each write is atomic). */
enum { REC_READY = 1, REC_FAIL = 2, REC_DONE = 3 };
typedef struct {
    int32_t kind;
    int32_t index;
    int32_t err;
    int32_t pad;
    uint64_t sets_ok;
    uint64_t sets_failed;
    double active_s;
} rec_t;

static volatile sig_atomic_t g_stop;
static topo_t T;

static void on_signal(int sig)
{
    if (g_stop)
        _exit(128 + sig); /* second signal: servers die by PDEATHSIG */
    g_stop = sig;
}

static int64_t now_ms(void) { return fx_now_ms(); }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL); /* EINTR: the caller's loop looks at g_stop */
}

/* Sleep s seconds in slices; -1 as soon as a signal asked to stop. */
static int sleep_checked(double s)
{
    int64_t end = now_ms() + (int64_t)(s * 1000.0);
    for (;;) {
        if (g_stop)
            return -1;
        int64_t left = end - now_ms();
        if (left <= 0)
            return 0;
        nap_ms(left < SLICE_MS ? (int)left : SLICE_MS);
    }
}

/* ------------------------------------------------------------------------ */
/* Options                                                                  */
/* ------------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sentinel_load [options]\n"
            "  --mode before|after|compare  before: M pools per process, each with its own\n"
            "                      sentinel list; after: one shared sentinel set per process\n"
            "                      and M pools on it; compare: both, then the ratios [compare]\n"
            "  --processes P       worker processes (1..%d) [10]\n"
            "  --masters M         master names, each with one replica (1..%d) [5]\n"
            "  --seconds S         measured window per mode (1..3600) [20]\n"
            "  --warmup S          before the window (0..600) [5]\n"
            "  --idle-seconds S    window of the idle row, no client (0 = none; 0..3600) [5]\n"
            "  --poll-ms MS        sentinel_poll_ms of the pools (before) and of the sets\n"
            "                      (after) (10..600000) [library default]\n"
            "  --set-ms MS         each pool's thread does a SET this often (1..10000) [50]\n"
            "  --json FILE         also write the figures to FILE\n",
            MAX_PROCESSES, MAX_MASTERS);
}

static int parse_int(const char *s, long lo, long hi, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, opts_t *o)
{
    *o = (opts_t){.mode = MODE_COMPARE, .processes = 10, .masters = 5, .seconds = 20,
                  .warmup = 5, .idle_seconds = 5, .poll_ms = 0, .set_ms = 50};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (v == NULL) {
            bad = 1;
        } else if (strcmp(a, "--mode") == 0) {
            if (strcmp(v, "before") == 0)
                o->mode = MODE_BEFORE;
            else if (strcmp(v, "after") == 0)
                o->mode = MODE_AFTER;
            else if (strcmp(v, "compare") == 0)
                o->mode = MODE_COMPARE;
            else
                bad = 1;
        } else if (strcmp(a, "--processes") == 0) {
            bad = parse_int(v, 1, MAX_PROCESSES, &o->processes);
        } else if (strcmp(a, "--masters") == 0) {
            bad = parse_int(v, 1, MAX_MASTERS, &o->masters);
        } else if (strcmp(a, "--seconds") == 0) {
            bad = parse_double(v, 1, 3600, &o->seconds);
        } else if (strcmp(a, "--warmup") == 0) {
            bad = parse_double(v, 0, 600, &o->warmup);
        } else if (strcmp(a, "--idle-seconds") == 0) {
            bad = parse_double(v, 0, 3600, &o->idle_seconds);
        } else if (strcmp(a, "--poll-ms") == 0) {
            bad = parse_int(v, 10, 600000, &o->poll_ms);
        } else if (strcmp(a, "--set-ms") == 0) {
            bad = parse_int(v, 1, 10000, &o->set_ms);
        } else if (strcmp(a, "--json") == 0) {
            o->json = v;
        } else {
            bad = 1;
        }
        if (bad) {
            fprintf(stderr, "sentinel_load: bad option or value: %s %s\n", a, v ? v : "");
            usage(stderr);
            return -1;
        }
        i++;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Topology: M masters + M replicas, 3 sentinels monitoring all of them     */
/* ------------------------------------------------------------------------ */

static int info_ll(const char *info, const char *key, long long *out)
{
    size_t kl = strlen(key);
    for (const char *p = info; p != NULL && *p != '\0';) {
        if (strncmp(p, key, kl) == 0 && p[kl] == ':') {
            char *end = NULL;
            errno = 0;
            long long v = strtoll(p + kl + 1, &end, 10);
            if (errno != 0 || end == p + kl + 1)
                return -1;
            *out = v;
            return 0;
        }
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return -1;
}

static int replica_linked(const fx_node *r)
{
    redisReply *rep = fx_cmd(r, "INFO replication");
    int ok = rep != NULL && rep->type == REDIS_REPLY_STRING &&
             strstr(rep->str, "master_link_status:up") != NULL;
    freeReplyObject(rep);
    return ok;
}

static int flags_healthy(const char *f)
{
    return strstr(f, "s_down") == NULL && strstr(f, "o_down") == NULL &&
           strstr(f, "disconnected") == NULL;
}

/* The port sentinel s names for master name, or -1. */
static int named_master_port(const fx_node *s, const char *name)
{
    redisReply *r = fx_cmd(s, "SENTINEL get-master-addr-by-name %s", name);
    int port = -1;
    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[1]->type == REDIS_REPLY_STRING)
        port = atoi(r->element[1]->str);
    freeReplyObject(r);
    return port;
}

static int converged(const topo_t *t, char *why, size_t wl)
{
    char flags[256];
    for (int s = 0; s < N_SENTINELS; s++) {
        const fx_node *sn = &t->sentinel[s];
        for (int i = 0; i < t->m; i++) {
            const char *name = t->names[i];
            int p = named_master_port(sn, name);
            if (p != t->master[i].port) {
                snprintf(why, wl, "sentinel %d names port %d for %s, want %d", sn->port, p, name,
                         t->master[i].port);
                return 0;
            }
            if (fx_sentinel_flags(sn, "replicas", name, t->replica[i].port, flags,
                                  sizeof(flags)) != 0 ||
                !flags_healthy(flags)) {
                snprintf(why, wl, "sentinel %d: replica %d of %s not seen healthy yet", sn->port,
                         t->replica[i].port, name);
                return 0;
            }
            for (int k = 0; k < N_SENTINELS; k++) {
                if (k == s)
                    continue;
                if (fx_sentinel_flags(sn, "sentinels", name, t->sentinel[k].port, flags,
                                      sizeof(flags)) != 0 ||
                    !flags_healthy(flags)) {
                    snprintf(why, wl, "sentinel %d: peer sentinel %d not discovered for %s yet",
                             sn->port, t->sentinel[k].port, name);
                    return 0;
                }
            }
        }
    }
    return 1;
}

static void topo_stop(topo_t *t)
{
    for (int s = 0; s < N_SENTINELS; s++)
        fx_node_stop(&t->sentinel[s]);
    for (int i = 0; i < MAX_MASTERS; i++) {
        fx_node_stop(&t->replica[i]);
        fx_node_stop(&t->master[i]);
    }
}

static int topo_start(topo_t *t, int m)
{
    memset(t, 0, sizeof(*t));
    t->m = m;
    for (int i = 0; i < m; i++) {
        snprintf(t->names[i], NAME_LEN, "load-%d", i);
        if (g_stop || fx_redis_start(&t->master[i], NULL) != 0)
            return -1;
        fx_redis_opts ro = {.replicaof_host = "127.0.0.1", .replicaof_port = t->master[i].port};
        if (g_stop || fx_redis_start(&t->replica[i], &ro) != 0)
            return -1;
    }
    /* Replicas linked first, so each sentinel's first INFO of a master
     * lists its replica (the next one is 10 s later with default timing). */
    int64_t deadline = now_ms() + CONVERGE_MS;
    for (int i = 0; i < m; i++) {
        while (!replica_linked(&t->replica[i])) {
            if (g_stop || now_ms() > deadline) {
                fprintf(stderr, "sentinel_load: replica port %d never linked to its master\n",
                        t->replica[i].port);
                return -1;
            }
            nap_ms(SLICE_MS);
        }
    }
    /* Sentinel 1..3: load-0 through the fixture's own lines, the other
     * names as extra lines; Sentinel's default timing everywhere. */
    size_t cap = (size_t)m * 256 + 1;
    char *extra = malloc(cap);
    if (extra == NULL) {
        fprintf(stderr, "sentinel_load: out of memory\n");
        return -1;
    }
    size_t used = 0;
    extra[0] = '\0';
    for (int i = 1; i < m; i++) {
        int n = snprintf(extra + used, cap - used,
                         "sentinel monitor %s 127.0.0.1 %d 2\n"
                         "sentinel down-after-milliseconds %s %d\n"
                         "sentinel failover-timeout %s %d\n",
                         t->names[i], t->master[i].port, t->names[i], DOWN_AFTER_MS, t->names[i],
                         FAILOVER_TIMEOUT_MS);
        if (n < 0 || (size_t)n >= cap - used) {
            free(extra);
            fprintf(stderr, "sentinel_load: sentinel config does not fit\n");
            return -1;
        }
        used += (size_t)n;
    }
    fx_sentinel_opts so = {.master_name = t->names[0],
                           .master_port = t->master[0].port,
                           .quorum = 2,
                           .down_after_ms = DOWN_AFTER_MS,
                           .failover_timeout_ms = FAILOVER_TIMEOUT_MS,
                           .extra_config = used > 0 ? extra : NULL,
                           .no_debug_timing = 1};
    int rc = 0;
    for (int s = 0; s < N_SENTINELS && rc == 0; s++)
        if (g_stop || fx_sentinel_start(&t->sentinel[s], &so) != 0)
            rc = -1;
    free(extra);
    if (rc != 0)
        return -1;
    int n = snprintf(t->sentinels, sizeof(t->sentinels), "127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d",
                     t->sentinel[0].port, t->sentinel[1].port, t->sentinel[2].port);
    if (n < 0 || (size_t)n >= sizeof(t->sentinels)) {
        fprintf(stderr, "sentinel_load: sentinel list does not fit\n");
        return -1;
    }
    char why[256] = "";
    while (!converged(t, why, sizeof(why))) {
        if (g_stop)
            return -1;
        if (now_ms() > deadline) {
            fprintf(stderr, "sentinel_load: topology not ready after %d s: %s\n",
                    CONVERGE_MS / 1000, why);
            return -1;
        }
        nap_ms(200);
    }
    fx_server_version(&t->sentinel[0], t->server_version, sizeof(t->server_version));
    return 0;
}

/* Master names whose master is no longer the one started (sentinel 0). */
static int count_failovers(const topo_t *t)
{
    int n = 0;
    for (int i = 0; i < t->m; i++)
        if (named_master_port(&t->sentinel[0], t->names[i]) != t->master[i].port)
            n++;
    return n;
}

/* ------------------------------------------------------------------------ */
/* Worker processes                                                         */
/* ------------------------------------------------------------------------ */

typedef struct {
    pool_t *pool;
    int proc;
    int index;
    int set_ms;
    atomic_int *stop;
    atomic_ullong ok;
    atomic_ullong failed;
} writer_t;

static void *writer_main(void *arg)
{
    writer_t *w = arg;
    unsigned long long n = 0;
    /* Bounded by the stop flag, which the worker sets before joining. */
    while (!atomic_load(w->stop)) {
        redisContext *c = NULL;
        int rc = pool_get_writer(w->pool, &c);
        if (rc == 0) {
            redisReply *r = redisCommand(c, "SET sload:%d:%d %llu", w->proc, w->index, ++n);
            if (r != NULL && r->type == REDIS_REPLY_STATUS)
                atomic_fetch_add(&w->ok, 1);
            else
                atomic_fetch_add(&w->failed, 1);
            freeReplyObject(r);
            pool_put(w->pool, c);
        } else {
            atomic_fetch_add(&w->failed, 1);
        }
        nap_ms(w->set_ms);
    }
    return NULL;
}

static void worker_log(void *userdata, pool_log_level_t level, const char *msg)
{
    (void)level;
    fprintf(stderr, "sentinel_load: worker %d: %s\n", *(const int *)userdata, msg);
}

static void put_rec(int fd, const rec_t *r)
{
    ssize_t w;
    do
        w = write(fd, r, sizeof(*r));
    while (w < 0 && errno == EINTR);
}

/* The worker: M pools and M writer threads until the go pipe closes. Never
 * returns. */
static void worker_main(int index, int go_r, int st_w, const opts_t *o, const topo_t *t,
                        int mode)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN; /* the parent coordinates: Ctrl-C reaches us too */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGTERM, &sa, NULL);

    static int log_id; /* this process' own copy */
    log_id = index;
    rec_t rec = {.kind = REC_FAIL, .index = index};
    int m = t->m;
    pool_t *pools[MAX_MASTERS] = {0};
    writer_t wr[MAX_MASTERS];
    pthread_t th[MAX_MASTERS];
    int nthreads = 0, rc = 0;
    atomic_int stop;
    atomic_init(&stop, 0);
    memset(wr, 0, sizeof(wr));

    pool_sentinel_set_t *set = NULL;
    if (mode == MODE_AFTER) {
        pool_options_t so;
        pool_options_init(&so);
        so.sentinels = t->sentinels;
        if (o->poll_ms > 0)
            so.sentinel_poll_ms = o->poll_ms;
        so.log_fn = worker_log;
        so.log_userdata = &log_id;
        rc = pool_sentinel_set_create(&so, &set);
        if (rc != 0)
            fprintf(stderr, "sentinel_load: worker %d: pool_sentinel_set_create: %s\n", index,
                    pool_strerror(rc));
    }
    for (int i = 0; i < m && rc == 0; i++) {
        pool_options_t po;
        pool_options_init(&po);
        po.master_name = t->names[i];
        if (mode == MODE_AFTER) {
            po.sentinel_set = set; /* its sentinels, timeout and poll period */
        } else {
            po.sentinels = t->sentinels;
            if (o->poll_ms > 0)
                po.sentinel_poll_ms = o->poll_ms;
        }
        po.max_connections = 2;
        po.log_fn = worker_log;
        po.log_userdata = &log_id;
        rc = pool_create(&po, &pools[i]);
        if (rc != 0)
            fprintf(stderr, "sentinel_load: worker %d: pool_create(%s): %s\n", index,
                    t->names[i], pool_strerror(rc));
    }
    pool_sentinel_set_release(set); /* the pools hold it from here on; NULL is fine */
    for (int i = 0; i < m && rc == 0; i++) {
        wr[i].pool = pools[i];
        wr[i].proc = index;
        wr[i].index = i;
        wr[i].set_ms = o->set_ms;
        wr[i].stop = &stop;
        atomic_init(&wr[i].ok, 0);
        atomic_init(&wr[i].failed, 0);
        int e = pthread_create(&th[i], NULL, writer_main, &wr[i]);
        if (e != 0) {
            fprintf(stderr, "sentinel_load: worker %d: pthread_create: %s\n", index, strerror(e));
            rc = -1;
            break;
        }
        nthreads++;
    }
    double started = now_s();
    rec.err = rc;
    if (rc == 0) {
        rec.kind = REC_READY;
        put_rec(st_w, &rec);
        /* Until the parent closes the go pipe (or dies); bounded anyway. */
        int64_t hard = now_ms() + READY_BASE_MS + (int64_t)o->processes * m * 100 + STOP_GRACE_MS +
                       (int64_t)((o->warmup + o->seconds) * 1000.0) + 60000;
        while (now_ms() < hard) {
            struct pollfd pfd = {.fd = go_r, .events = POLLIN};
            int n = poll(&pfd, 1, 200);
            if (n < 0 && errno != EINTR)
                break;
            if (n > 0) {
                char b;
                ssize_t r = read(go_r, &b, 1);
                if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
                    break;
            }
        }
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        rec.sets_ok += atomic_load(&wr[i].ok);
        rec.sets_failed += atomic_load(&wr[i].failed);
    }
    rec.active_s = now_s() - started;
    for (int i = 0; i < m; i++)
        pool_destroy(pools[i]);
    if (rc == 0)
        rec.kind = REC_DONE;
    put_rec(st_w, &rec);
    _exit(rc == 0 ? 0 : 1);
}

/* ------------------------------------------------------------------------ */
/* Sampling                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct {
    double t;
    long long clients, conns, cmds;
    unsigned long long ticks;
} sample_t;

/* utime + stime of pid in clock ticks, or -1. */
static int proc_ticks(pid_t pid, unsigned long long *out)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long ut, st;
    if (p == NULL || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
                            &st) != 2)
        return -1;
    *out = ut + st;
    return 0;
}

/* Busy and total jiffies of the whole machine (first line of /proc/stat). */
static int machine_jiffies(unsigned long long *busy, unsigned long long *total)
{
    FILE *f = fopen("/proc/stat", "re");
    if (f == NULL)
        return -1;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 4)
        return -1;
    *total = 0;
    for (int i = 0; i < 8; i++)
        *total += v[i];
    *busy = *total - v[3] - v[4]; /* minus idle and iowait */
    return 0;
}

static int sample_sentinel(redisContext *c, pid_t pid, sample_t *out)
{
    out->t = now_s();
    if (proc_ticks(pid, &out->ticks) != 0) {
        fprintf(stderr, "sentinel_load: cannot read /proc/%d/stat\n", (int)pid);
        return -1;
    }
    redisReply *r = redisCommand(c, "INFO");
    int rc = -1;
    if (r == NULL)
        fprintf(stderr, "sentinel_load: INFO: %s\n", c->errstr);
    else if (r->type != REDIS_REPLY_STRING)
        fprintf(stderr, "sentinel_load: INFO: unexpected reply type %d\n", r->type);
    else if (info_ll(r->str, "connected_clients", &out->clients) != 0 ||
             info_ll(r->str, "total_connections_received", &out->conns) != 0 ||
             info_ll(r->str, "total_commands_processed", &out->cmds) != 0)
        fprintf(stderr, "sentinel_load: INFO lacks a field this tool reads\n");
    else
        rc = 0;
    freeReplyObject(r);
    return rc;
}

typedef struct {
    redisContext *c[N_SENTINELS];
    sample_t s0[N_SENTINELS], s1[N_SENTINELS];
    unsigned long long cl0, cl1; /* worker ticks */
    unsigned long long dn0, dn1; /* data node ticks */
    unsigned long long me0, me1; /* this process' ticks */
    unsigned long long mb0, mt0, mb1, mt1;
    double t0, t1;
} window_t;

static void window_close(window_t *w)
{
    for (int s = 0; s < N_SENTINELS; s++) {
        if (w->c[s] != NULL)
            redisFree(w->c[s]);
        w->c[s] = NULL;
    }
}

static int workers_ticks(const pid_t *pids, int n, unsigned long long *out)
{
    *out = 0;
    for (int i = 0; i < n; i++) {
        unsigned long long v;
        if (proc_ticks(pids[i], &v) != 0)
            return -1;
        *out += v;
    }
    return 0;
}

static int data_ticks(const topo_t *t, unsigned long long *out)
{
    *out = 0;
    for (int i = 0; i < t->m; i++) {
        unsigned long long a, b;
        if (proc_ticks(t->master[i].pid, &a) != 0 || proc_ticks(t->replica[i].pid, &b) != 0)
            return -1;
        *out += a + b;
    }
    return 0;
}

/* Everything but the sentinels (sampled one by one, next to their INFO). */
static int other_ticks(const topo_t *t, const pid_t *pids, int npids, unsigned long long *mb,
                       unsigned long long *mt, unsigned long long *cl, unsigned long long *dn,
                       unsigned long long *me)
{
    if (machine_jiffies(mb, mt) != 0 || workers_ticks(pids, npids, cl) != 0 ||
        data_ticks(t, dn) != 0 || proc_ticks(getpid(), me) != 0) {
        fprintf(stderr, "sentinel_load: cannot read /proc (a process gone?)\n");
        return -1;
    }
    return 0;
}

/* One measured window of s seconds; the sentinel connections stay open
 * through it (one held connection and one INFO of ours to subtract). */
static int measure(const topo_t *t, const pid_t *pids, int npids, double seconds, window_t *w)
{
    memset(w, 0, sizeof(*w));
    for (int s = 0; s < N_SENTINELS; s++) {
        w->c[s] = fx_connect_quiet(&t->sentinel[s], 2000);
        if (w->c[s] == NULL) {
            fprintf(stderr, "sentinel_load: cannot connect to sentinel %d\n",
                    t->sentinel[s].port);
            window_close(w);
            return -1;
        }
    }
    int rc = 0;
    w->t0 = now_s();
    if (other_ticks(t, pids, npids, &w->mb0, &w->mt0, &w->cl0, &w->dn0, &w->me0) != 0)
        rc = -1;
    for (int s = 0; s < N_SENTINELS && rc == 0; s++)
        rc = sample_sentinel(w->c[s], t->sentinel[s].pid, &w->s0[s]);
    if (rc == 0 && sleep_checked(seconds) != 0)
        rc = -1;
    for (int s = 0; s < N_SENTINELS && rc == 0; s++)
        rc = sample_sentinel(w->c[s], t->sentinel[s].pid, &w->s1[s]);
    if (rc == 0 && other_ticks(t, pids, npids, &w->mb1, &w->mt1, &w->cl1, &w->dn1, &w->me1) != 0)
        rc = -1;
    w->t1 = now_s();
    window_close(w);
    if (rc != 0 && !g_stop)
        fprintf(stderr, "sentinel_load: sampling failed\n");
    return rc;
}

static void fill_rows(const topo_t *t, const window_t *w, run_t *run)
{
    double hz = (double)sysconf(_SC_CLK_TCK);
    if (hz <= 0)
        hz = 100;
    memset(&run->total, 0, sizeof(run->total));
    for (int s = 0; s < N_SENTINELS; s++) {
        const sample_t *a = &w->s0[s], *b = &w->s1[s];
        double el = b->t - a->t;
        if (el <= 0)
            el = 1e-9;
        row_t *r = &run->s[s];
        r->port = t->sentinel[s].port;
        r->held = (double)(b->clients - 1); /* our sampler */
        r->conn_s = (double)(b->conns - a->conns) / el;
        r->cmd_s = (double)(b->cmds - a->cmds - 1) / el; /* our first INFO */
        r->cpu_pct = 100.0 * (double)(b->ticks - a->ticks) / hz / el;
        run->total.held += r->held;
        run->total.conn_s += r->conn_s;
        run->total.cmd_s += r->cmd_s;
        run->total.cpu_pct += r->cpu_pct;
    }
    run->elapsed = w->t1 - w->t0;
    double el = run->elapsed > 0 ? run->elapsed : 1e-9;
    run->client_cpu_pct = 100.0 * (double)(w->cl1 - w->cl0) / hz / el;
    run->data_cpu_pct = 100.0 * (double)(w->dn1 - w->dn0) / hz / el;
    unsigned long long dt = w->mt1 - w->mt0;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    run->machine_busy =
        dt > 0 ? (double)(w->mb1 - w->mb0) / (double)dt * (double)(ncpu > 0 ? ncpu : 1) : 0;
    double ours = (run->total.cpu_pct + run->client_cpu_pct + run->data_cpu_pct) / 100.0 +
                  (double)(w->me1 - w->me0) / hz / el;
    run->others_busy = run->machine_busy > ours ? run->machine_busy - ours : 0;
}

/* ------------------------------------------------------------------------ */
/* One mode: fork, wait ready, warm up, measure, stop, reap                 */
/* ------------------------------------------------------------------------ */

typedef struct {
    pid_t pid[MAX_PROCESSES];
    int reaped[MAX_PROCESSES];
    int status[MAX_PROCESSES];
    int n;
    int go_w;
    int st_r;
    char buf[sizeof(rec_t) * 8];
    size_t have;
} workers_t;

/* Read what is there (or wait up to ms for it); calls fn per record. */
static int read_recs(workers_t *ws, int ms, void (*fn)(const rec_t *, void *), void *ud)
{
    struct pollfd pfd = {.fd = ws->st_r, .events = POLLIN};
    int n = poll(&pfd, 1, ms);
    if (n <= 0)
        return 0;
    ssize_t r = read(ws->st_r, ws->buf + ws->have, sizeof(ws->buf) - ws->have);
    if (r <= 0)
        return r == 0 ? -1 : 0; /* -1: every writer end closed */
    ws->have += (size_t)r;
    size_t off = 0;
    while (ws->have - off >= sizeof(rec_t)) {
        rec_t rec;
        memcpy(&rec, ws->buf + off, sizeof(rec));
        fn(&rec, ud);
        off += sizeof(rec_t);
    }
    memmove(ws->buf, ws->buf + off, ws->have - off);
    ws->have -= off;
    return 0;
}

static void reap_some(workers_t *ws)
{
    for (int i = 0; i < ws->n; i++) {
        if (ws->reaped[i])
            continue;
        pid_t r = waitpid(ws->pid[i], &ws->status[i], WNOHANG);
        if (r == ws->pid[i] || (r < 0 && errno == ECHILD))
            ws->reaped[i] = 1;
    }
}

static int all_reaped(const workers_t *ws)
{
    for (int i = 0; i < ws->n; i++)
        if (!ws->reaped[i])
            return 0;
    return 1;
}

typedef struct {
    int ready;
    int failed;
    int done;
    unsigned long long ok, bad;
    double rate;
} tally_t;

static void tally_rec(const rec_t *r, void *ud)
{
    tally_t *t = ud;
    if (r->kind == REC_READY)
        t->ready++;
    else if (r->kind == REC_FAIL)
        t->failed++;
    else if (r->kind == REC_DONE) {
        t->done++;
        t->ok += r->sets_ok;
        t->bad += r->sets_failed;
        if (r->active_s > 0)
            t->rate += (double)r->sets_ok / r->active_s;
    }
}

/* Close the go pipe, collect the last records, reap every worker (SIGKILL
 * by pid after STOP_GRACE_MS). */
static void workers_stop(workers_t *ws, tally_t *tl)
{
    if (ws->go_w >= 0)
        close(ws->go_w);
    ws->go_w = -1;
    int64_t deadline = now_ms() + STOP_GRACE_MS;
    int eof = 0;
    while (now_ms() < deadline) {
        reap_some(ws);
        if (all_reaped(ws) && eof)
            break;
        if (!eof) {
            if (read_recs(ws, SLICE_MS, tally_rec, tl) < 0)
                eof = 1;
        } else {
            nap_ms(SLICE_MS);
        }
    }
    for (int i = 0; i < ws->n; i++) {
        if (ws->reaped[i])
            continue;
        fprintf(stderr, "sentinel_load: worker pid %d did not stop in %d s: SIGKILL\n",
                (int)ws->pid[i], STOP_GRACE_MS / 1000);
        kill(ws->pid[i], SIGKILL);
        while (waitpid(ws->pid[i], &ws->status[i], 0) < 0 && errno == EINTR)
            ;
        ws->reaped[i] = 1;
        ws->status[i] = -1;
    }
    if (ws->st_r >= 0)
        close(ws->st_r);
    ws->st_r = -1;
}

static int run_mode(const opts_t *o, const topo_t *t, int mode, run_t *run)
{
    memset(run, 0, sizeof(*run));
    run->mode = mode == MODE_AFTER ? "after" : "before";
    run->processes = o->processes;
    run->pools = o->processes * t->m;
    workers_t ws;
    memset(&ws, 0, sizeof(ws));
    ws.go_w = ws.st_r = -1;
    int go[2], st[2];
    if (pipe2(go, O_CLOEXEC) != 0) {
        perror("sentinel_load: pipe");
        return -1;
    }
    if (pipe2(st, O_CLOEXEC) != 0) {
        perror("sentinel_load: pipe");
        close(go[0]);
        close(go[1]);
        return -1;
    }
    ws.go_w = go[1];
    ws.st_r = st[0];
    int rc = 0;
    fflush(NULL);
    for (int i = 0; i < o->processes; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("sentinel_load: fork");
            rc = -1;
            break;
        }
        if (pid == 0) {
            close(go[1]);
            close(st[0]);
            worker_main(i, go[0], st[1], o, t, mode);
        }
        ws.pid[ws.n++] = pid;
    }
    close(go[0]);
    close(st[1]);

    tally_t tl = {0};
    if (rc == 0) {
        int64_t deadline = now_ms() + READY_BASE_MS + (int64_t)run->pools * 100;
        while (tl.ready + tl.failed < ws.n && !g_stop) {
            if (now_ms() > deadline) {
                fprintf(stderr, "sentinel_load: %s: workers not ready in time\n", run->mode);
                break;
            }
            if (read_recs(&ws, SLICE_MS, tally_rec, &tl) < 0)
                break; /* every worker gone */
        }
        if (tl.ready < ws.n) {
            if (!g_stop)
                fprintf(stderr, "sentinel_load: %s: only %d of %d workers started their pools\n",
                        run->mode, tl.ready, ws.n);
            rc = -1;
        }
    }
    window_t w;
    if (rc == 0 && sleep_checked(o->warmup) != 0)
        rc = -1;
    if (rc == 0 && measure(t, ws.pid, ws.n, o->seconds, &w) != 0)
        rc = -1;
    workers_stop(&ws, &tl);
    if (rc != 0)
        return -1;
    fill_rows(t, &w, run);
    run->sets_ok = tl.ok;
    run->sets_failed = tl.bad;
    run->set_rate = tl.rate;
    int clean = tl.done == ws.n;
    for (int i = 0; i < ws.n; i++)
        if (!(WIFEXITED(ws.status[i]) && WEXITSTATUS(ws.status[i]) == 0))
            clean = 0;
    if (!clean)
        fprintf(stderr, "sentinel_load: %s: not every worker exited cleanly (%d of %d reported)\n",
                run->mode, tl.done, ws.n);
    run->failovers = count_failovers(t);
    run->valid = clean;
    return clean ? 0 : -1;
}

static int run_idle(const opts_t *o, const topo_t *t, run_t *run)
{
    memset(run, 0, sizeof(*run));
    run->mode = "idle";
    window_t w;
    if (measure(t, NULL, 0, o->idle_seconds, &w) != 0)
        return -1;
    fill_rows(t, &w, run);
    run->valid = 1;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Report                                                                   */
/* ------------------------------------------------------------------------ */

static void print_row(const char *mode, int p, int m, const char *who, const row_t *r)
{
    printf("%-7s %3d %3d  %-10s %8.0f %11.1f %11.1f %7.2f\n", mode, p, m, who, r->held, r->conn_s,
           r->cmd_s, r->cpu_pct);
}

static void print_run(const run_t *run, int m)
{
    char who[32];
    int idle = strcmp(run->mode, "idle") == 0;
    for (int s = 0; s < N_SENTINELS; s++) {
        snprintf(who, sizeof(who), ":%d", run->s[s].port);
        print_row(run->mode, run->processes, m, who, &run->s[s]);
    }
    print_row(run->mode, run->processes, m, "total", &run->total);
    if (idle)
        printf("        %.1f s window, no client: what the sentinels cost each other\n",
               run->elapsed);
    else
        printf("        %.1f s window; %d pools, %llu SETs ok (%.0f/s), %llu failed%s\n",
               run->elapsed, run->pools, run->sets_ok, run->set_rate, run->sets_failed,
               run->failovers ? "; WARNING: a master moved during the run" : "");
    char workers[48] = "";
    if (!idle)
        snprintf(workers, sizeof(workers), "workers %.1f, ", run->client_cpu_pct);
    printf("        CPU, %% of one core: %sdata nodes %.1f; other processes on this "
           "machine used %.2f CPUs%s\n",
           workers, run->data_cpu_pct, run->others_busy,
           run->others_busy > 0.2 ? " (busy machine: take figures on a quiet one)" : "");
}

/* Below these a denominator is noise: a rate of one event in 20 s; a CPU %
 * of 10 ticks (100 Hz) in 20 s, so 10% of it is one tick. */
#define RATIO_MIN 0.05
#define RATIO_MIN_CPU 0.5

static double ratio_min(int k)
{
    return k == 3 ? RATIO_MIN_CPU : RATIO_MIN;
}

/* a/b as " %12.3f", or "-" when b is too small to divide by (metric k). */
static const char *ratio(int k, double a, double b, char *buf, size_t len)
{
    if (b >= ratio_min(k) && a >= 0)
        snprintf(buf, len, " %12.3f", a / b);
    else
        snprintf(buf, len, " %12s", "-");
    return buf;
}

static double metric(const row_t *r, int k)
{
    switch (k) {
    case 0:
        return r->held;
    case 1:
        return r->conn_s;
    case 2:
        return r->cmd_s;
    default:
        return r->cpu_pct;
    }
}

static void print_compare(const run_t *before, const run_t *after, const run_t *idle)
{
    static const char *names[4] = {"held connections", "new connections/s", "commands/s",
                                   "CPU % of one core"};
    printf("\ncompare (totals over the %d sentinels; 'net' subtracts the idle row)\n",
           N_SENTINELS);
    printf("%-20s %10s %10s %10s %12s %12s\n", "", "idle", "before", "after", "after/before",
           "net ratio");
    for (int k = 0; k < 4; k++) {
        double b = metric(&before->total, k), a = metric(&after->total, k);
        double i = idle ? metric(&idle->total, k) : 0;
        char r1[32], r2[32];
        printf("%-20s %10.2f %10.2f %10.2f%s%s\n", names[k], i, b, a,
               ratio(k, a, b, r1, sizeof(r1)), ratio(k, a - i, b - i, r2, sizeof(r2)));
    }
    char r3[32];
    printf("%-20s %10s %10.2f %10.2f%s\n", "workers' CPU %", "", before->client_cpu_pct,
           after->client_cpu_pct,
           ratio(3, after->client_cpu_pct, before->client_cpu_pct, r3, sizeof(r3)));
}

static void json_row(FILE *f, const row_t *r)
{
    fprintf(f,
            "{\"port\": %d, \"held\": %.0f, \"new_conn_per_s\": %.3f, \"commands_per_s\": %.3f, "
            "\"cpu_pct\": %.3f}",
            r->port, r->held, r->conn_s, r->cmd_s, r->cpu_pct);
}

static void json_ratio(FILE *f, int k, const char *key, double a, double b, const char *sep)
{
    if (b >= ratio_min(k) && a >= 0)
        fprintf(f, "\"%s\": %.4f%s", key, a / b, sep);
    else
        fprintf(f, "\"%s\": null%s", key, sep);
}

static int write_json(const char *path, const opts_t *o, const topo_t *t, int poll_ms,
                      const run_t *runs, int nruns, const run_t *before, const run_t *after,
                      const run_t *idle)
{
    FILE *f = fopen(path, "we");
    if (f == NULL) {
        fprintf(stderr, "sentinel_load: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f,
            "{\n  \"tool\": \"sentinel_load\",\n  \"library\": \"%s\",\n  \"server\": \"%s\",\n"
            "  \"hiredis\": \"%d.%d.%d\",\n  \"cpus\": %ld,\n  \"processes\": %d,\n"
            "  \"masters\": %d,\n  \"seconds\": %.3f,\n  \"warmup\": %.3f,\n"
            "  \"poll_ms\": %d,\n  \"set_ms\": %d,\n  \"runs\": [\n",
            pool_version(), t->server_version, HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH,
            sysconf(_SC_NPROCESSORS_ONLN), o->processes, o->masters, o->seconds, o->warmup,
            poll_ms, o->set_ms);
    for (int i = 0; i < nruns; i++) {
        const run_t *r = &runs[i];
        fprintf(f,
                "    {\"mode\": \"%s\", \"processes\": %d, \"pools\": %d, \"elapsed_s\": %.3f,\n"
                "     \"sets_ok\": %llu, \"sets_failed\": %llu, \"sets_per_s\": %.1f,\n"
                "     \"workers_cpu_pct\": %.3f, \"data_nodes_cpu_pct\": %.3f,\n"
                "     \"machine_busy_cpus\": %.3f, \"other_processes_cpus\": %.3f,\n"
                "     \"failovers\": %d,\n"
                "     \"sentinels\": [",
                r->mode, r->processes, r->pools, r->elapsed, r->sets_ok, r->sets_failed,
                r->set_rate, r->client_cpu_pct, r->data_cpu_pct, r->machine_busy, r->others_busy,
                r->failovers);
        for (int s = 0; s < N_SENTINELS; s++) {
            fputs(s ? ", " : "", f);
            json_row(f, &r->s[s]);
        }
        fputs("],\n     \"total\": ", f);
        json_row(f, &r->total);
        fprintf(f, "}%s\n", i + 1 < nruns ? "," : "");
    }
    fputs("  ]", f);
    if (before != NULL && after != NULL) {
        /* after/before of the totals, raw and net of the idle row */
        static const char *keys[4] = {"held", "new_conn_per_s", "commands_per_s", "cpu_pct"};
        fputs(",\n  \"ratio_after_before\": {", f);
        for (int k = 0; k < 4; k++)
            json_ratio(f, k, keys[k], metric(&after->total, k), metric(&before->total, k), ", ");
        json_ratio(f, 3, "workers_cpu_pct", after->client_cpu_pct, before->client_cpu_pct,
                   "},\n");
        fputs("  \"ratio_after_before_net_of_idle\": {", f);
        for (int k = 0; k < 4; k++) {
            double i = idle ? metric(&idle->total, k) : 0;
            json_ratio(f, k, keys[k], metric(&after->total, k) - i,
                       metric(&before->total, k) - i, k < 3 ? ", " : "}");
        }
    }
    fputs("\n}\n", f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        fprintf(stderr, "sentinel_load: error writing %s\n", path);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    opts_t o;
    if (parse_args(argc, argv, &o) != 0)
        return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a dead sentinel is an error reply, not the end */

    pool_options_t defaults;
    pool_options_init(&defaults);
    int poll_ms = o.poll_ms > 0 ? o.poll_ms : defaults.sentinel_poll_ms;

    fprintf(stderr, "sentinel_load: starting %d master(s), %d replica(s), %d sentinels\n",
            o.masters, o.masters, N_SENTINELS);
    int rc = 0;
    run_t runs[3];
    int nruns = 0;
    const run_t *before = NULL, *after = NULL, *idle = NULL;
    if (topo_start(&T, o.masters) != 0) {
        rc = 1;
        goto out;
    }
    printf("sentinel_load: sentinel_pool %s, %s, hiredis %d.%d.%d, %ld CPUs\n", pool_version(),
           T.server_version, HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH,
           sysconf(_SC_NPROCESSORS_ONLN));
    printf("topology: %d master name(s) load-0..load-%d, each a master with 1 replica; "
           "3 sentinels %s (Sentinel's default timing)\n",
           T.m, T.m - 1, T.sentinels);
    printf("workers: %d process(es) x %d pool(s), one thread per pool doing a SET every %d ms; "
           "sentinel_poll_ms %d; warm-up %.0f s, window %.0f s\n\n",
           o.processes, T.m, o.set_ms, poll_ms, o.warmup, o.seconds);
    printf("%-7s %3s %3s  %-10s %8s %11s %11s %7s\n", "mode", "P", "M", "sentinel", "held",
           "new conn/s", "commands/s", "CPU %");

    if (o.idle_seconds > 0) {
        if (run_idle(&o, &T, &runs[nruns]) != 0) {
            rc = 1;
            goto out;
        }
        idle = &runs[nruns];
        print_run(&runs[nruns++], T.m);
    }
    for (int mode = MODE_BEFORE; mode <= MODE_AFTER; mode++) {
        if (!(o.mode & mode))
            continue;
        if (run_mode(&o, &T, mode, &runs[nruns]) != 0) {
            rc = 1;
            goto out;
        }
        if (mode == MODE_BEFORE)
            before = &runs[nruns];
        else
            after = &runs[nruns];
        print_run(&runs[nruns++], T.m);
    }
    if (before != NULL && after != NULL)
        print_compare(before, after, idle);
    for (int i = 0; i < nruns; i++)
        if (runs[i].failovers || runs[i].sets_failed)
            fprintf(stderr, "sentinel_load: %s: %d master(s) moved, %llu SETs failed: figures "
                            "include that\n",
                    runs[i].mode, runs[i].failovers, runs[i].sets_failed);
    printf("\nheld: connected_clients at the window's end; new conn/s: "
           "total_connections_received; commands/s: total_commands_processed; CPU: utime+stime "
           "from /proc/<pid>/stat (the sampler's own connection and INFO are subtracted)\n");
    if (o.json != NULL &&
        write_json(o.json, &o, &T, poll_ms, runs, nruns, before, after, idle) != 0)
        rc = 1;
out:
    topo_stop(&T);
    if (g_stop) {
        fprintf(stderr, "sentinel_load: interrupted; every server stopped\n");
        return 128 + g_stop;
    }
    return rc;
}
