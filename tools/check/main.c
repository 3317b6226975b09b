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
            "Self-contained mode: starts 1 master, 2 replicas and 3 sentinels on 127.0.0.1,\n"
            "a pool through the public API, writer threads, and injects failovers; checks\n"
            "that no READONLY reaches a writer after the pool switched, counts lost and\n"
            "duplicated writes on the final master, and checks for connection and thread\n"
            "leaks.\n"
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
            "Exit: 0 pass, 1 an invariant failed, 2 setup error, 3 watchdog.\n"
            "\n"
            "Deployment mode (an existing deployment, read-only unless --failover):\n"
            "  sentinel-pool-check --sentinels HOST:PORT,... --master-name NAME --help\n",
            H_MAX_WRITERS);
}

int h_parse_int(const char *s, int lo, int hi, int *out)
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
        case O_FAILOVERS: bad |= h_parse_int(optarg, 1, 1000, &o->failovers); break;
        case O_WRITERS: bad |= h_parse_int(optarg, 1, H_MAX_WRITERS, &o->writers); break;
        case O_RATE: bad |= h_parse_int(optarg, 0, 1000000, &o->rate); break;
        case O_JSON: o->json = optarg; break;
        case O_PLOT: o->plot = optarg; break;
        case O_DEMO: o->demo = 1; break;
        case O_QUIET: o->quiet = 1; break;
        case O_VERBOSE: o->verbose = 1; break;
        case O_FAST_INFO: o->fast_info = 1; break;
        case O_FREEZE_MS: bad |= h_parse_int(optarg, 0, 600000, &o->freeze_ms); break;
        case O_SDOWN_MS: bad |= h_parse_int(optarg, 0, 600000, &o->sentinel_down_ms); break;
        case O_RESTART_MS: bad |= h_parse_int(optarg, 0, 600000, &o->restart_delay_ms); break;
        case O_WAIT_MS: bad |= h_parse_int(optarg, 0, 3600000, &o->wait_ms); break;
        case O_LEAD_MS: bad |= h_parse_int(optarg, 0, 600000, &o->lead_ms); break;
        case O_TIMEOUT: bad |= h_parse_int(optarg, 1, 86400, &o->timeout_s); break;
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

int main(int argc, char **argv)
{
    if (ck_is_deployment_mode(argc, argv))
        return ck_inspect_main(argc, argv); /* an existing deployment; --failover runs deploy.c */
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
    snprintf(r->key_prefix, sizeof(r->key_prefix), "fh:");
    if (h_run_prepare(r) != 0)
        return 2;

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
    h_target_from_topology(r);
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

    pool_options_t po;
    pool_options_init(&po);
    po.master_name = r->topo.master_name;
    po.sentinels = r->sentinels;
    if (o->tls)
        h_tls_pool_options(r, &po);
    int rc = h_run_execute(r, &po);
    if (rc == H_RUN_STUCK) {
        /* Report and leave; the servers die with us. */
        fx_topology_stop(&r->topo);
        h_tls_cleanup(r);
        fflush(NULL);
        _exit(1);
    }
    h_phase(r, "stopping the servers");
    fx_topology_stop(&r->topo);
    r->procs_left = count_alive(&r->topo);
    if (rc != 0) {
        h_monitor_stop(r);
        h_tls_cleanup(r);
        return 2;
    }
    return h_run_finish(r);
}
