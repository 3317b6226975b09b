/* main.c: sentinel-pool-check entry point: options, the run, the verdict.
 *
 * Exit status: 0 every invariant held; 1 an invariant failed; 2 usage or
 * setup error (topology, pool); 3 the watchdog aborted a hung run. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "inspect.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sentinel-pool-check [options]\n"
            "Starts 1 master, 2 replicas and 3 sentinels on 127.0.0.1 (test fixture), a pool\n"
            "through the public API, writer threads, and injects failovers; checks that no\n"
            "READONLY reaches a writer after the pool switched, counts lost and duplicated\n"
            "writes on the final master, and checks for connection and thread leaks.\n"
            "\n"
            "  --scenario LIST    comma-separated, run in order [graceful,crash,freeze]:\n"
            "                       graceful       SENTINEL FAILOVER (old master stays up)\n"
            "                       crash          kill -9 of the master, restarted later\n"
            "                       freeze         SIGSTOP of the master, SIGCONT later\n"
            "                       kill-sentinel  kill -9 of one sentinel, restarted later\n"
            "                       wait           no fault (baseline)\n"
            "  --failovers N      repeat the list N times [1]\n"
            "  --writers W        writer threads [8] (1..%d)\n"
            "  --rate R           writes/s per writer, 0 = as fast as possible [1000]\n"
            "  --json FILE        write the figures as JSON\n"
            "  --plot FILE        write an SVG timeline of the run (writes/s per node,\n"
            "                     errors, faults, pool events) [--demo: failover-demo.svg\n"
            "                     next to the executable]\n"
            "  --demo             about 30 s: graceful, crash, freeze, explained as it goes\n"
            "  --quiet            no status line or progress, only the summary\n"
            "  --verbose          also print the pool's log (INFO)\n"
            "  --fast-info        graceful: keep the fixture's fast Sentinel info/publish\n"
            "                     periods (default: Sentinel's own 10 s / 2 s, which give\n"
            "                     the real ~10 s window of redis/redis#6062)\n"
            "  --freeze-ms MS     how long freeze keeps the master stopped [5000]\n"
            "  --sentinel-down-ms MS  kill-sentinel: time before the restart [3000]\n"
            "  --restart-delay-ms MS  crash: time after the new master before the restart [1000]\n"
            "  --wait-ms MS       length of the wait scenario [3000]\n"
            "  --lead-ms MS       steady writing before each fault [1000]\n"
            "  --timeout S        watchdog: abort the whole run after S s [auto]\n"
            "  --tls              TLS only: servers and sentinels listen on TLS ports only,\n"
            "                     replicate and talk to each other over TLS; the pool and\n"
            "                     the harness's own connections use TLS with a client\n"
            "                     certificate (made for the run, removed after it). Needs a\n"
            "                     build with TLS; SENTINEL_POOL_TEST_TLS=1 implies it\n"
            "Exit: 0 pass, 1 an invariant failed, 2 setup error, 3 watchdog.\n",
            H_MAX_WRITERS);
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int kind_from_name(const char *s, size_t len, h_kind *out)
{
    static const struct {
        const char *name;
        h_kind kind;
    } names[] = {{"graceful", H_GRACEFUL},           {"crash", H_CRASH},
                 {"freeze", H_FREEZE},               {"kill-sentinel", H_KILL_SENTINEL},
                 {"kill_sentinel", H_KILL_SENTINEL}, {"wait", H_WAIT}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i].name) == len && strncmp(names[i].name, s, len) == 0) {
            *out = names[i].kind;
            return 0;
        }
    return -1;
}

static int parse_plan(const char *list, h_opts *o)
{
    o->n_plan_kinds = 0;
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (len > 0) {
            if (o->n_plan_kinds >= (int)(sizeof(o->plan_kinds) / sizeof(o->plan_kinds[0])) ||
                kind_from_name(p, len, &o->plan_kinds[o->n_plan_kinds]) != 0) {
                fprintf(stderr, "sentinel-pool-check: unknown or too many scenarios in '%s'\n",
                        list);
                return -1;
            }
            o->n_plan_kinds++;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return o->n_plan_kinds > 0 ? 0 : -1;
}

static int parse_args(int argc, char **argv, h_opts *o)
{
    enum {
        O_SCENARIO = 1000, O_FAILOVERS, O_WRITERS, O_RATE, O_JSON, O_DEMO, O_QUIET, O_VERBOSE,
        O_FAST_INFO, O_FREEZE_MS, O_SDOWN_MS, O_RESTART_MS, O_WAIT_MS, O_LEAD_MS, O_TIMEOUT,
        O_HELP, O_PLOT, O_TLS
    };
    static const struct option longopts[] = {
        {"scenario", required_argument, NULL, O_SCENARIO},
        {"failovers", required_argument, NULL, O_FAILOVERS},
        {"writers", required_argument, NULL, O_WRITERS},
        {"rate", required_argument, NULL, O_RATE},
        {"json", required_argument, NULL, O_JSON},
        {"plot", required_argument, NULL, O_PLOT},
        {"demo", no_argument, NULL, O_DEMO},
        {"quiet", no_argument, NULL, O_QUIET},
        {"verbose", no_argument, NULL, O_VERBOSE},
        {"fast-info", no_argument, NULL, O_FAST_INFO},
        {"freeze-ms", required_argument, NULL, O_FREEZE_MS},
        {"sentinel-down-ms", required_argument, NULL, O_SDOWN_MS},
        {"restart-delay-ms", required_argument, NULL, O_RESTART_MS},
        {"wait-ms", required_argument, NULL, O_WAIT_MS},
        {"lead-ms", required_argument, NULL, O_LEAD_MS},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"tls", no_argument, NULL, O_TLS},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *scenario = NULL;
    int bad = 0, opt;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case O_SCENARIO: scenario = optarg; break;
        case O_FAILOVERS: bad |= parse_int(optarg, 1, 1000, &o->failovers); break;
        case O_WRITERS: bad |= parse_int(optarg, 1, H_MAX_WRITERS, &o->writers); break;
        case O_RATE: bad |= parse_int(optarg, 0, 1000000, &o->rate); break;
        case O_JSON: o->json = optarg; break;
        case O_PLOT: o->plot = optarg; break;
        case O_DEMO: o->demo = 1; break;
        case O_QUIET: o->quiet = 1; break;
        case O_VERBOSE: o->verbose = 1; break;
        case O_FAST_INFO: o->fast_info = 1; break;
        case O_FREEZE_MS: bad |= parse_int(optarg, 0, 600000, &o->freeze_ms); break;
        case O_SDOWN_MS: bad |= parse_int(optarg, 0, 600000, &o->sentinel_down_ms); break;
        case O_RESTART_MS: bad |= parse_int(optarg, 0, 600000, &o->restart_delay_ms); break;
        case O_WAIT_MS: bad |= parse_int(optarg, 0, 3600000, &o->wait_ms); break;
        case O_LEAD_MS: bad |= parse_int(optarg, 0, 600000, &o->lead_ms); break;
        case O_TIMEOUT: bad |= parse_int(optarg, 1, 86400, &o->timeout_s); break;
        case O_TLS: o->tls = 1; break;
        case 'h':
        case O_HELP: usage(stdout); exit(0);
        default: bad = 1; break;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "sentinel-pool-check: unexpected argument '%s'\n", argv[optind]);
        bad = 1;
    }
    if (!bad && o->demo && scenario == NULL) {
        scenario = "graceful,crash,freeze";
        o->failovers = 1;
    }
    if (!bad && parse_plan(scenario ? scenario : "graceful,crash,freeze", o) != 0)
        bad = 1;
    if (!bad && o->n_plan_kinds * o->failovers > H_MAX_PLAN) {
        fprintf(stderr, "sentinel-pool-check: at most %d events\n", H_MAX_PLAN);
        bad = 1;
    }
    if (bad) {
        usage(stderr);
        return -1;
    }
    return 0;
}

/* Seconds a planned event may take before the watchdog gives up. */
static int budget_s(const h_opts *o)
{
    int per = 0;
    for (int i = 0; i < o->n_plan_kinds; i++) {
        int k = 120; /* sentinel agreement, demotion, settling: all bounded below that */
        if (o->plan_kinds[i] == H_FREEZE)
            k += o->freeze_ms / 1000;
        if (o->plan_kinds[i] == H_WAIT)
            k += o->wait_ms / 1000;
        if (o->plan_kinds[i] == H_KILL_SENTINEL)
            k += o->sentinel_down_ms / 1000;
        per += k + o->lead_ms / 1000;
    }
    return 180 + per * o->failovers;
}

/* A pid of ours that still exists (zombies count: the fixture must reap). */
static int alive(pid_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH); }

static int count_alive(const fx_topology *t)
{
    int n = 0;
    for (int i = 0; i < FX_MAX_DATA; i++)
        n += t->data[i].running || alive(t->data[i].pid);
    for (int i = 0; i < FX_MAX_SENTINELS; i++)
        n += t->sentinel[i].running || alive(t->sentinel[i].pid);
    return n;
}

static void destroy_pool(h_run *r)
{
    pthread_mutex_lock(&r->pool_mu);
    pool_t *p = r->pool;
    r->pool = NULL;
    pthread_mutex_unlock(&r->pool_mu);
    pool_destroy(p);
}

int main(int argc, char **argv)
{
    if (ck_is_deployment_mode(argc, argv))
        return ck_inspect_main(argc, argv); /* an existing deployment, read-only */
    static h_run run; /* large (writers), and the watchdog may outlive main's frame */
    h_run *r = &run;
    h_opts *o = &r->o;
    o->failovers = 1;
    o->writers = 8;
    o->rate = 1000;
    o->freeze_ms = 5000;
    o->sentinel_down_ms = 3000;
    o->restart_delay_ms = 1000;
    o->wait_ms = 3000;
    o->lead_ms = 1000;
    if (parse_args(argc, argv, o) != 0)
        return 2;
    /* The switch that runs the tests over TLS runs this over TLS too: the
     * fixture would start TLS topologies anyway. */
    if (fx_tls_from_env())
        o->tls = 1;
    if (o->tls && h_tls_check() != 0)
        return 2;
    if (o->timeout_s == 0)
        o->timeout_s = budget_s(o);
    if (o->demo && o->plot == NULL)
        o->plot = h_plot_default_path();

    signal(SIGPIPE, SIG_IGN); /* writes to dead peers: hiredis gets EPIPE instead */
    pthread_mutex_init(&r->out_mu, NULL);
    pthread_mutex_init(&r->pool_mu, NULL);
    pthread_mutex_init(&r->plog_mu, NULL);
    r->tty = isatty(STDOUT_FILENO);
    r->t0 = h_now_ns();
    r->master_idx = 0;
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
    for (int i = 0; i < n_events; i++) {
        h_event *e = &r->ev[i + 1];
        e->kind = o->plan_kinds[i % o->n_plan_kinds];
        e->round = i / o->n_plan_kinds + 1;
        e->expect_switch = e->kind == H_GRACEFUL || e->kind == H_CRASH || e->kind == H_FREEZE;
    }
    atomic_store(&r->deadline, r->t0 + (int64_t)o->timeout_s * 1000000000);
    if (h_monitor_start(r) != 0) {
        fprintf(stderr, "sentinel-pool-check: cannot start the monitor thread\n");
        return 2;
    }

    h_narrate(r,
              "Starting a small Redis deployment on this machine: one master, two replicas, "
              "and three Sentinel processes that watch the master and replace it when needed.%s",
              o->tls ? " Everything runs over TLS: the servers listen on TLS ports only, "
                       "replicate and talk to the sentinels over TLS, and the pool verifies "
                       "their certificates and presents its own."
                     : "");
    h_phase(r, "starting the topology");
    /* The fixture's default ping period (100 ms) breaks failovers of a dead
     * master: Sentinel then accepts a replica only if its INFO is younger
     * than 5 ping periods (500 ms) but refreshes replica INFO only every
     * 1000 ms while the master is down, so about one failover in four ends
     * in -failover-abort-no-good-slave and the next try comes 2 x
     * failover-timeout (20 s) later. 300 ms gives 1.5 s of validity. */
    fx_topology_opts to;
    memset(&to, 0, sizeof(to));
    to.ping_period_ms = 300;
    fx_tls tls;
    if (o->tls) {
        if (h_tls_setup(r, &tls) != 0) {
            fprintf(stderr, "sentinel-pool-check: --tls: cannot make the certificates\n");
            return 2;
        }
        to.tls = &tls;
    }
    if (fx_topology_start(&r->topo, &to) != 0) {
        fprintf(stderr, "sentinel-pool-check: the topology did not start\n");
        h_tls_cleanup(r);
        return 2;
    }
    r->topo_started = 1;
    if (fx_sentinels_string(&r->topo, r->sentinels, sizeof(r->sentinels)) != 0) {
        fx_topology_stop(&r->topo);
        h_tls_cleanup(r);
        return 2;
    }
    fx_server_version(&r->topo.data[0], r->server, sizeof(r->server));
    h_say(r, "topology up (%s%s): master 127.0.0.1:%d, replicas 127.0.0.1:%d and 127.0.0.1:%d, "
             "sentinels %s",
          r->server, o->tls ? ", TLS only" : "", r->topo.data[0].port, r->topo.data[1].port,
          r->topo.data[2].port, r->sentinels);
    if (h_swatch_start(r) != 0) {
        fprintf(stderr, "sentinel-pool-check: cannot start the sentinel watch\n");
        fx_topology_stop(&r->topo);
        h_tls_cleanup(r);
        return 2;
    }

    pool_options_t po;
    pool_options_init(&po);
    po.master_name = r->topo.master_name;
    po.sentinels = r->sentinels;
    po.max_connections = o->writers * 2 > 16 ? o->writers * 2 : 16;
    po.client_name = "sentinel-pool-check";
    po.event_fn = h_event_cb;
    po.event_userdata = r;
    if (o->verbose) {
        po.log_fn = h_log_cb;
        po.log_userdata = r;
        po.log_level = POOL_LOG_INFO;
    }
    if (o->tls)
        h_tls_pool_options(r, &po);
    pool_t *pool = NULL;
    int rc = pool_create(&po, &pool);
    if (rc != 0) {
        fprintf(stderr, "sentinel-pool-check: pool_create: %s (%s)\n", pool_err_name(rc),
                pool_strerror(rc));
        h_swatch_free(r);
        fx_topology_stop(&r->topo);
        h_tls_cleanup(r);
        return 2;
    }
    pthread_mutex_lock(&r->pool_mu);
    r->pool = pool;
    pthread_mutex_unlock(&r->pool_mu);
    h_narrate(r,
              "Created the connection pool from the Sentinel addresses only (%s, master name "
              "\"%s\"); it asked the sentinels where the master is and checked with ROLE.",
              r->sentinels, r->topo.master_name);

    if (h_writers_start(r) != 0) {
        fprintf(stderr, "sentinel-pool-check: cannot start the writers\n");
        r->writers_stuck = h_writers_stop(r, 15000);
        destroy_pool(r);
        h_swatch_free(r);
        fx_topology_stop(&r->topo);
        h_tls_cleanup(r);
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

    int aborted = 0;
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
         * under its feet. Report and leave; the servers die with us. */
        fprintf(stderr, "sentinel-pool-check: FAIL: %d writer threads stuck\n", r->writers_stuck);
        fx_topology_stop(&r->topo);
        h_tls_cleanup(r);
        fflush(NULL);
        _exit(1);
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
    h_phase(r, "stopping the servers");
    fx_topology_stop(&r->topo);
    r->procs_left = count_alive(&r->topo);
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
