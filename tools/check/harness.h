/*
 * harness.h: the failover harness (build/sentinel-pool-check), shared types.
 *
 * The harness starts a real topology through the test fixture, creates a
 * pool through the public API only, runs writer threads against it and
 * injects failovers. Files:
 *   main.c     options, the run from start to verdict
 *   scenario.c the fault scripts (graceful, crash, freeze, kill-sentinel, wait)
 *   writer.c   writer threads: write, classify the outcome, measure gaps
 *   monitor.c  output, the live status line, the pool's event callback, watchdog
 *   verify.c   read every writer's keys back from the final master
 *   report.c   figures, invariants, the summary table (report_internal.h)
 *   json.c     the same figures as JSON (--json)
 *   plot.c     the SVG timeline (--plot): writes per node, errors, events
 *   sentinel_watch.c  own subscriber: when Sentinel published +switch-master
 *   report_sentinel.c  figures relative to it (summary and JSON)
 *   tls.c      --tls: the run's certificates and the pool's TLS options
 *   target.c   what a run acts on, by node number: the fixture's topology or
 *              an existing deployment (--sentinels ... --failover)
 *   run.c      the run from the first writer to the verdict, either target
 *   deploy.c   deployment mode's --failover: confirmation, keys, cleanup
 *
 * NODES. Data nodes are known by number, an index into r->node (the
 * fixture's data[] order, or the deployment's master then replicas as the
 * sentinels named them at the start); a connection's node is found by the
 * host and port the pool connected to (h_node_of), never by port alone,
 * since a deployment's nodes usually share one port on several hosts.
 *
 * Time is CLOCK_MONOTONIC nanoseconds (h_now_ns); 0 always means "not yet".
 *
 * BUCKETS. The run is cut into consecutive buckets: 0 = warm-up, 1..n = one
 * per scenario event (its steady lead-in, trigger, recovery, settling), n+1 =
 * the tail before the writers stop. Writers attribute every outcome to the
 * bucket current when it happened, so each figure belongs to exactly one
 * bucket; an acknowledged write belongs to the bucket in which the writer
 * got its acknowledgement.
 */
#ifndef SENTINEL_POOL_HARNESS_H
#define SENTINEL_POOL_HARNESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "fixture.h"
#include "sentinel_pool.h"

#define H_MAX_WRITERS 64
#define H_MAX_NODES 16     /* data nodes a run tells apart */
#define H_MAX_SENTINELS 16
#define H_MAX_PLAN 1000 /* scenario events in one run */

typedef enum h_kind {
    H_START = 0, /* warm-up bucket */
    H_GRACEFUL,
    H_CRASH,
    H_FREEZE,
    H_KILL_SENTINEL,
    H_WAIT,
    H_TAIL, /* after the last event */
    H_KINDS
} h_kind;

typedef enum h_errkind {
    H_ERR_READONLY = 0, /* -READONLY (the server refused: nothing applied) */
    H_ERR_CONN,         /* connection refused/lost (ECONNECT, EOF, reset) */
    H_ERR_TIMEOUT,      /* POOL_ETIMEDOUT or a socket timeout on the command */
    H_ERR_NOMASTER,     /* POOL_ENOMASTER / POOL_ENOTMASTER from pool_get_writer */
    H_ERR_OTHER,        /* any other error reply or code */
    H_ERR_KINDS
} h_errkind;

/* One scenario event (also the start and tail buckets). The main thread
 * writes everything; the atomics are also read (and t_switch/t_lost set) by
 * writers and the pool's event callback. */
typedef struct h_event {
    h_kind kind;
    int round;         /* 1-based repetition (--failovers) */
    int expect_switch; /* the master is expected to change */
    _Atomic int64_t t_trigger;
    _Atomic int64_t t_end;
    _Atomic int old_node; /* master before the trigger (node number, see NODES) */
    int new_node;         /* master after settling; -1 unknown */
    int sentinel_port;    /* sentinel asked / killed */
    int64_t t_master_changed; /* the fixture saw all sentinels agree on the new master */
    int64_t t_action2;        /* crash: restart; freeze: SIGCONT; kill-sentinel: restart */
    int64_t t_old_demoted;    /* the old master's ROLE said replica */
    _Atomic int64_t t_switch; /* first pool SWITCH_MASTER away from old_port after trigger */
    _Atomic int64_t t_lost;   /* first pool MASTER_LOST after trigger */
    _Atomic int sentinel_lost_events;
    _Atomic int pool_events;
    /* sentinel_watch.c: first arrival over all sentinels (0 = none) */
    _Atomic int64_t t_sent_switch;      /* +switch-master for the master name */
    _Atomic int64_t t_sent_switch_last; /* the last sentinel's +switch-master */
    _Atomic int64_t t_sent_promoted;    /* +promoted-slave (the leader only) */
    _Atomic int sent_switch_port;       /* sentinel that delivered it first */
    _Atomic int sent_promoted_port;
    _Atomic int sent_switch_new_port;   /* new master in the payload */
    _Atomic unsigned sent_switch_mask;  /* sentinels (bit = index) that published it */
    _Atomic int64_t t_first_handout; /* writer.c: first pool_get_writer on another node */
    int slow_periods; /* graceful: Sentinel's own info/publish periods were in force */
    int failed;       /* orchestration failure (the run fails) */
    char note[256];
} h_event;

/* Timeline (--plot only): per writer, one slot per 100 ms since run start,
 * acknowledged writes per data node (by the port of the borrowed connection)
 * and errors per kind. Written only by its writer thread; read after join. */
#define H_TL_SLOT_NS 100000000LL
#define H_TL_NODES (H_MAX_NODES + 1) /* the run's data nodes, then "another node" */
typedef struct h_tl_slot {
    uint32_t ok[H_TL_NODES];
    uint32_t err[H_ERR_KINDS];
} h_tl_slot;

/* Per writer, per bucket. Written only by its writer thread; read after join. */
typedef struct h_wbucket {
    uint64_t ok;
    uint64_t err[H_ERR_KINDS];
    uint64_t readonly_after; /* READONLY on a connection handed out after the pool's switch */
    uint64_t ambiguous;      /* I/O error after the command was sent: maybe applied */
    uint64_t rewinds;        /* INCR answered <= the previous answer: the data went back */
    uint64_t old_after_switch; /* acknowledged by the old master after the pool's switch */
    uint64_t first_seq;      /* first sequence number current in this bucket */
    int64_t last_ok_before;  /* last success before t_trigger */
    int64_t first_ok_after;  /* first success at or after t_trigger */
    int64_t first_new;       /* first success after t_trigger on another node than old_port */
    int64_t out_gap;         /* outage: longest gap overlapping [trigger, switch + 1 s] */
    int64_t out_gap_from;
    int64_t max_gap;         /* longest gap overlapping [trigger, settled] (stalls too) */
    int64_t max_gap_from;
} h_wbucket;

typedef struct h_writer {
    int id;
    pthread_t thread;
    int started;
    struct h_run *run;
    h_wbucket *b; /* [n_buckets] */
    int bucket;   /* bucket seen last */
    int scan_from;
    uint64_t seq; /* next sequence number to get acknowledged (starts at 1) */
    int pending_ambiguous; /* the last attempt (seq) ended ambiguous at stop */
    int64_t prev_ok;
    long long last_incr;
    _Atomic uint64_t acked;  /* == seq - 1 */
    _Atomic uint64_t errors; /* all kinds */
    _Atomic int64_t last_ok;
    _Atomic int done;
    /* Filled by report.c from the final master. */
    long long counter, llen;
    uint64_t lost, dup, unacked_applied, phantom;
    uint64_t *lost_by_bucket; /* [n_buckets] */
    uint64_t *dup_by_bucket;
    /* Timeline (--plot), see h_tl_slot. */
    h_tl_slot *tl;
    int tl_n, tl_cap;
} h_writer;

typedef struct h_opts {
    h_kind plan_kinds[16];
    int n_plan_kinds;
    int failovers;
    int writers;
    int rate; /* writes/s per writer, 0 = as fast as possible */
    int quiet;
    int demo;
    int verbose;
    int fast_info; /* keep the fixture's fast info/publish periods for graceful */
    int freeze_ms;
    int sentinel_down_ms;
    int restart_delay_ms;
    int wait_ms;
    int lead_ms; /* steady writing before each trigger */
    int timeout_s;
    int tls; /* every node, sentinel and connection TLS-only (--tls) */
    const char *json;
    const char *plot; /* SVG timeline; --demo: h_plot_default_path() */
} h_opts;

/* A node as the run reaches it: the name or address Sentinel gives. */
typedef struct h_addr {
    char host[256];
    int port;
} h_addr;

typedef struct h_pool_event {
    int64_t t;
    int bucket;
    pool_event_type_t type;
    char old_addr[280], new_addr[280];
    int new_node; /* node number of new_addr, -1: none or another node */
    uint64_t generation;
    char detail[200];
} h_pool_event;

typedef struct h_run {
    h_opts o;
    fx_topology topo; /* self-contained: the fixture's; unused for a deployment */
    int topo_started;
    /* What the run acts on (target.c). */
    const struct ck_target *deploy; /* NULL: the fixture's topology; else a deployment */
    h_addr node[H_MAX_NODES]; /* see NODES; fixed before the writers start */
    int n_nodes;
    h_addr sent[H_MAX_SENTINELS];
    int n_sent;
    /* Deployment: the polls' connections, one per node and per sentinel,
     * kept across polls so that a failover's waits do not open one per
     * poll on the user's servers (target.c; the main thread's only). */
    redisContext *poll_node[H_MAX_NODES];
    redisContext *poll_sent[H_MAX_SENTINELS];
    char master_name[256];
    char key_prefix[128]; /* writers' keys: <prefix>cnt:<w>, <prefix>log:<w> */
    pool_t *pool; /* cleared under pool_mu before pool_destroy */
    pthread_mutex_t pool_mu;
    char sentinels[256];
    char server[64]; /* "Redis 7.0.15", "Valkey 8.1.1" */
    char tls_dir[256];  /* --tls: certificates (tls.c) */
    fx_tls_client tls_files;
    _Atomic int tls_certs_made; /* tls_dir exists and is ours to remove */
    int64_t t0; /* run start */
    int master_idx;

    h_event *ev; /* [n_buckets] */
    int n_buckets;
    _Atomic int cur_bucket;
    _Atomic int stop;

    h_writer w[H_MAX_WRITERS];

    /* Pool events, kept for the report (bounded). */
    pthread_mutex_t plog_mu;
    h_pool_event *plog;
    int plog_n, plog_cap;
    _Atomic uint64_t plog_dropped;

    /* Output: narration and the live status line share the terminal. */
    pthread_mutex_t out_mu;
    int tty;
    int status_shown;
    char phase[160];

    /* Monitor/watchdog thread. */
    struct h_swatch *swatch; /* sentinel_watch.c */

    pthread_t mon;
    int mon_started;
    _Atomic int mon_stop;
    _Atomic int64_t deadline; /* whole run; the watchdog aborts past it */

    /* Results. */
    pool_stats_t final_stats;
    int stats_ok;
    int final_master; /* node number, -1 unknown */
    int writers_stuck;
    int procs_left;
    int keys_left; /* deployment: the writers' keys still there after the cleanup, -1 unknown */
    int verify_failed;
    char verify_note[256];
} h_run;

/* ---- main.c ---- */
/* A decimal int in [lo, hi], the whole string: 0, or -1 (*out untouched). */
int h_parse_int(const char *s, int lo, int hi, int *out);

/* ---- monitor.c ---- */
int64_t h_now_ns(void);
void h_sleep_ms(int ms);
double h_rel_s(const h_run *r, int64_t t); /* seconds since run start */
void h_say(h_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void h_narrate(h_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void h_phase(h_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void h_event_cb(void *userdata, const pool_event_t *e);
void h_log_cb(void *userdata, pool_log_level_t level, const char *msg);
int h_monitor_start(h_run *r);
void h_monitor_stop(h_run *r);
const char *h_kind_name(h_kind k);
const char *h_err_name(h_errkind k);

/* ---- writer.c ---- */
#define H_KEY_MAX 160 /* key_prefix + "cnt:" + a writer number */
/* Writer id's two keys (see writer.c). */
void h_writer_keys(const h_run *r, int id, char cnt[H_KEY_MAX], char log[H_KEY_MAX]);
int h_writers_start(h_run *r);
/* Set stop, join each writer by a deadline; returns the number stuck. */
int h_writers_stop(h_run *r, int timeout_ms);

/* ---- scenario.c ---- */
/* Run event b (1..n): lead-in, trigger, recovery, settle. 0 or -1. */
int h_scenario_run(h_run *r, int b);
/* Master index per the fixture, or -1. */
int h_wait_settled(h_run *r, h_event *e, int timeout_ms);

/* ---- sentinel_watch.c ---- */
/* Main thread, after the topology: subscribe to +switch-master and
 * +promoted-slave on every sentinel (own thread, own connections); waits up
 * to 3 s for the subscriptions. 0 or -1. */
int h_swatch_start(h_run *r);
void h_swatch_stop(h_run *r); /* join (within ~100 ms); idempotent */
void h_swatch_free(h_run *r); /* stop, free; idempotent */
void h_swatch_counts(const h_run *r, uint64_t *messages, uint64_t *outside,
                     uint64_t *reconnects);

/* ---- target.c ---- */
/* Self-contained: fill r->node/r->sent from the started topology. */
void h_target_from_topology(h_run *r);
/* Node number of host:port (names compared without case), or -1. */
int h_node_of(const h_run *r, const char *host, int port);
/* "host:port" of node i ("?" for -1 and "another node" past the table). */
const char *h_node_name(const h_run *r, int i, char *buf, size_t len);
const char *h_sentinel_name(const h_run *r, int i, char *buf, size_t len);
/* A logged-in connection to node i (timeout for connect and commands), or
 * NULL; quiet: say nothing when it fails. */
redisContext *h_connect_node(h_run *r, int i, int timeout_ms, int quiet);
/* ROLE of node i (INFO replication where an ACL denies ROLE): 'm', 'r' or
 * 0 (no answer). */
char h_role_of(h_run *r, int i);
/* The master every answering sentinel names (a majority of them must
 * answer), as a node number; -1 while they disagree or name an unknown node. */
int h_master_index(h_run *r);
/* Poll h_master_index until it names another node than old; -1 on timeout. */
int h_wait_master_change(h_run *r, int old, int timeout_ms);
/* Every replica the master lists has caught up with the master's offset as
 * it was when the wait began, and every known node is listed. 0 or -1. */
int h_wait_synced(h_run *r, int timeout_ms);
/* Close the polls' kept connections (a deployment's; none otherwise). */
void h_target_close(h_run *r);
/* SENTINEL FAILOVER through sentinel si. 0, or -1 with why (len bytes). */
int h_sentinel_failover(h_run *r, int si, char *why, size_t len);
/* The sentinel watch's connection to sentinel si (snapshot: the fixture's
 * node as it was at start), logged in, non-blocking; NULL on failure. */
redisContext *h_connect_sentinel_nonblock(h_run *r, const fx_node *snapshot, int si,
                                          int timeout_ms);

/* ---- run.c ---- */
#define H_RUN_STUCK 4 /* h_run_execute: writers stuck inside the pool; do not destroy it */
/* Buckets, pool event log and monitor thread for r->o's plan; 0 or 2. */
int h_run_prepare(h_run *r);
/* The sentinel watch, the pool (from po), writers, the plan, verification.
 * 0 when the run reached its report (h_run_finish says the verdict), 2 on a
 * setup failure. Never stops servers: the caller owns the target. */
int h_run_execute(h_run *r, pool_options_t *po);
/* The report, JSON, plot; frees the run. The exit status (0 or 1). */
int h_run_finish(h_run *r);

/* ---- verify.c ---- */
/* Read every writer's keys on the final master; fills the h_writer results. */
int h_verify_data(h_run *r);

/* ---- tls.c ---- */
/* --tls in this build? 0, or -1 after saying why not. */
int h_tls_check(void);
/* Make the certificates (r->tls_dir) and fill *out for the topology; 0 or -1. */
int h_tls_setup(h_run *r, fx_tls *out);
/* Everything over TLS, verified against the run's CA, with its client certificate. */
void h_tls_pool_options(h_run *r, pool_options_t *po);
/* Remove the certificates; idempotent, from any thread (the watchdog too). */
void h_tls_cleanup(h_run *r);

/* ---- report.c ---- */
/* Print the summary, write JSON; returns the number of failed invariants. */
int h_report(h_run *r);

/* ---- plot.c ---- */
/* Writer thread: one acknowledged write on a node / one error, at time t. */
void h_tl_ok(h_writer *w, int64_t t, int node); /* node -1: another node */
void h_tl_err(h_writer *w, int64_t t, h_errkind k);
/* After the report: write the SVG timeline to r->o.plot and say where; 0 or -1. */
int h_plot_write(h_run *r, int failed);
/* --demo's default: failover-demo.svg next to the executable (the build tree). */
const char *h_plot_default_path(void);

#endif
