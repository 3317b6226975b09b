/*
 * fixture.h: test launcher for sentinel_pool tests and the failover harness.
 *
 * Starts real redis-server and redis-sentinel processes on 127.0.0.1, on free
 * ports, each in its own temporary directory (under $TMPDIR or /tmp), and
 * stops every process it started by pid. Also a scripted fake server for
 * hostile inputs (fx_fake_*).
 *
 * HOSTNAMES: on request a node binds another loopback address (127.0.0.2,
 * ...) and announces a hostname, and a topology announces hostnames
 * throughout, as Kubernetes deployments do (fx_host, fx_topology_opts
 * data_hosts). The names must resolve to those addresses: fx_hosts_* edits
 * a hosts file for that, only where SENTINEL_POOL_TEST_HOSTS_FILE allows it
 * (a disposable root). Without any of this everything stays on 127.0.0.1.
 *
 * PROCESS OWNERSHIP
 *  - Servers run in the foreground (daemonize no) as children of the test
 *    process. In the child, before exec, the fixture sets
 *    prctl(PR_SET_PDEATHSIG, SIGKILL) and checks that getppid() is still the
 *    test process, so a crashed or killed test never leaves orphans.
 *  - PR_SET_PDEATHSIG fires when the *thread* that forked exits, not the
 *    process. Call every function that spawns (fx_redis_start,
 *    fx_sentinel_start, fx_node_restart, fx_topology_start) from a thread that
 *    lives as long as the servers: normally the main thread.
 *  - Children are reaped only by fx_node_stop/fx_node_kill9/fx_node_restart
 *    (and the fx_topology_* equivalents), so a pid stays reserved (as a
 *    zombie) until the fixture reaps it: signals never hit a recycled pid.
 *    Do not install SIG_IGN for SIGCHLD, and do not call wait()/waitpid(-1)
 *    in the test process.
 *  - Every descriptor the fixture opens is close-on-exec; children also close
 *    every inherited descriptor above 2 before exec.
 *  - If the test process is killed, its servers die (PDEATHSIG) but their
 *    temporary directories (fx-<testpid>-*) stay behind in $TMPDIR.
 *
 * THREADS: no global mutable state. A node, topology or fake server may be
 * used by one thread at a time; different objects from different threads.
 *
 * ERRORS: functions return 0 (or an index/port >= 0) on success and -1 on
 * failure, after printing to stderr which step failed, on which port, and
 * the tail of the server's log.
 *
 * SIGPIPE: fx_cmd() and the fixture's internal queries block SIGPIPE on the
 * calling thread around their writes. A context returned by fx_connect() is
 * plain hiredis: writing to a dead peer with it raises SIGPIPE.
 *
 * TLS: a node started with an fx_tls (see below) listens on its TLS port
 * only; fx_connect, fx_cmd and every query the fixture makes then speak TLS
 * and present client.crt, so they work with auth_clients too. They do not
 * verify the server's certificate (with hiredis >= 1.2), so a node can run
 * with expired.crt or other-server.crt: checking that is the library's job.
 *
 * SENTINEL_POOL_TEST_TLS=1 makes every fx_topology_start without opts->tls
 * TLS-only, with certificates of its own (fx_topology_tls_dir); in a build
 * without TLS such a start fails with a message instead of running
 * plaintext. Single nodes (fx_redis_start, fx_sentinel_start) ignore it.
 *
 * ENVIRONMENT: SENTINEL_POOL_SERVER and SENTINEL_POOL_SENTINEL name the
 * programs, by name (found in $PATH, then /usr/bin) or path: default
 * redis-server and redis-sentinel; SENTINEL_POOL_SERVER=valkey-server alone
 * runs the sentinels as valkey-server --sentinel. (FX_REDIS_SERVER and
 * FX_REDIS_SENTINEL are older names for the same.) FX_KEEP_DIRS=1 keeps the
 * temporary directories after stop, for post-mortems.
 */
#ifndef SENTINEL_POOL_TEST_FIXTURE_H
#define SENTINEL_POOL_TEST_FIXTURE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Time for tests: CLOCK_MONOTONIC in ms, and a sleep that survives signals. */
int64_t fx_now_ms(void);
void fx_sleep_ms(int ms);

/* ------------------------------------------------------------------------ */
/* TLS                                                                      */
/* ------------------------------------------------------------------------ */

/* TLS for fixture servers (needs SPOOL_HAVE_TLS, i.e. hiredis_ssl; without
 * it fx_tls_make_certs and starting a node with an fx_tls fail with -1 and a
 * message). A TLS node gets port 0 (no plaintext port), tls-port on the free
 * port (fx_node.port), tls-ca-cert-file <dir>/ca.crt and tls-replication yes
 * (data nodes and sentinels), so replicas replicate and sentinels talk to
 * everyone over TLS, and announce their TLS ports. */
typedef struct fx_tls {
    const char *dir;  /* certificates from fx_tls_make_certs() */
    const char *cert; /* server certificate file name in dir [server.crt] */
    const char *key;  /* its key [server.key] */
    int auth_clients; /* 1: tls-auth-clients yes (mutual TLS required) [0: no] */
} fx_tls;

/* 1 when built with SPOOL_HAVE_TLS, else 0. */
int fx_tls_available(void);
/* Make a new directory $TMPDIR/fx-certs-<pid>-XXXXXX (or under /tmp) and run
 * tests/support/make-certs.sh in it (needs bash and the openssl 3.x CLI):
 * ca, server, client, other-ca, other-server, expired and wrong-name
 * .crt/.key; the list is at the top of that script. Copies the path into
 * dir (len >= 256 is plenty). 0, or -1 with a message and nothing left
 * behind. */
int fx_tls_make_certs(char *dir, size_t len);
/* The make-certs.sh fx_tls_make_certs runs: the source tree's when it is
 * there (tests, and tools run from the build tree), else the one `cmake
 * --install` put under <datadir>/sentinel_pool, found from the running
 * program's own path. Copies it into out; 0, or -1 when neither exists (out
 * then names the source tree's). Works in any build. */
int fx_tls_certs_script(char *out, size_t len);
/* The same choice for a given source tree and program path. */
int fx_tls_certs_script_in(const char *source_dir, const char *exe, char *out, size_t len);
/* Remove such a directory and its files (refuses any directory whose name
 * does not start with fx-certs-). Honors FX_KEEP_DIRS. NULL or "" is fine. */
void fx_tls_remove_certs(const char *dir);
/* 1 when SENTINEL_POOL_TEST_TLS is set and not "" or "0": topologies then
 * start TLS-only (see TLS at the top). Works in any build. */
int fx_tls_from_env(void);

/* What a client of fixture servers presents and trusts, as paths for
 * pool_options_t's tls_ca_file, tls_cert_file and tls_key_file. */
typedef struct fx_tls_client {
    char ca[300];   /* <dir>/ca.crt */
    char cert[300]; /* <dir>/client.crt */
    char key[300];  /* <dir>/client.key */
} fx_tls_client;
/* Fill *out for the certificate directory dir. 0, or -1 (message) if a path
 * does not fit. Works in any build (it only joins strings). */
int fx_tls_client_paths(const char *dir, fx_tls_client *out);

/* ------------------------------------------------------------------------ */
/* Single servers                                                           */
/* ------------------------------------------------------------------------ */

typedef struct fx_node {
    pid_t pid;      /* current (or last) server pid; 0 if never started */
    int port;       /* TCP port on host (the tls-port when tls) */
    char host[64];  /* IPv4 address it listens on and the fixture connects
                       to ("" in a zeroed node means 127.0.0.1) */
    char name[64];  /* hostname it announces (replica-announce-ip, sentinel
                       announce-ip); "" = none */
    char dir[256];  /* temporary directory: config, logs, data */
    char role;      /* 'm' master, 'r' replica, 's' sentinel: as started, and
                       updated by fx_topology_master_index/fx_wait_* */
    int running;    /* spawned and not yet reaped */
    int stopped;    /* SIGSTOPped by fx_node_sigstop */
    int is_sentinel;
    char conf[300]; /* config file (redis.conf / sentinel.conf) */
    char log[300];  /* server log file */
    char auth_user[64];  /* credentials fx_connect uses; empty = none */
    char auth_pass[128];
    /* TLS, copied from fx_tls at start (tls = 0: plaintext) */
    int tls;
    int tls_auth_clients;
    char tls_dir[256];
    char tls_cert[64];
    char tls_key[64];
    /* SENTINEL DEBUG periods re-applied after fx_node_restart (0 = none) */
    int sdebug_ping_period_ms;
    int sdebug_publish_period_ms;
    int sdebug_info_period_ms;
    int sdebug_ask_period_ms;
} fx_node;

typedef struct fx_redis_opts {
    const char *requirepass;   /* default user's password */
    const char *acl_users;     /* "user app on >secret ~* +@all"; several
                                  lines may be separated by '\n' */
    const char *replicaof_host; /* with replicaof_port > 0: start as replica */
    int replicaof_port;
    const char *masterauth;
    const char *masteruser;
    const char *extra_config;  /* raw config lines, written before the
                                  fixture's own port/bind/dir/logfile lines */
    const char *auth_user;     /* credentials for fx_connect; default: */
    const char *auth_pass;     /* no user, password = requirepass */
    const fx_tls *tls;         /* NULL: plaintext; else TLS only (copied) */
    int ready_timeout_ms;      /* default 10000 */
    const char *bind_ip;       /* IPv4 address to listen on [127.0.0.1] */
    const char *announce_host; /* replica-announce-ip <this> [none]; the
                                  name should resolve to bind_ip */
    int port;                  /* 0: a free port; > 0: this port, one try */
} fx_redis_opts;

/* Start redis-server (opts may be NULL). Always: bind 127.0.0.1 (or
 * bind_ip), a free port, save "", appendonly no, protected-mode no,
 * daemonize no, repl-diskless-sync-delay 0, dir and logfile in a new
 * temporary directory. Waits until the server answers PING and INFO reports
 * our pid; retries on a new port (up to 20 times) when the port was taken
 * meanwhile (not when opts->port asked for one).
 * *n is overwritten; on failure it is left stopped and its dir removed. */
int fx_redis_start(fx_node *n, const fx_redis_opts *o);

typedef struct fx_sentinel_opts {
    const char *master_name;   /* default "mymaster" */
    const char *master_host;   /* default "127.0.0.1"; a name needs hostnames */
    int master_port;           /* required */
    int quorum;                /* default 2 */
    int down_after_ms;         /* default 1000 */
    int failover_timeout_ms;   /* default 10000 */
    int parallel_syncs;        /* default 1 */
    const char *auth_user;     /* sentinel auth-user: to reach data nodes */
    const char *auth_pass;     /* sentinel auth-pass */
    const char *requirepass;   /* password of the sentinel itself (also
                                  used by sentinels among themselves) */
    const char *extra_config;
    /* SENTINEL DEBUG timing knobs, applied right after start (and after
     * fx_node_restart). 0 = fixture default (ping 300, publish 200,
     * info 500, ask 100), -1 = leave Sentinel's own default (1000, 2000,
     * 10000, 1000). no_debug_timing = 1 leaves all four alone.
     * Note: info-period also bounds how long a demoted old master keeps
     * acting as master after SENTINEL FAILOVER (about 2 info periods):
     * tests reproducing redis/redis#6062 at its real size want -1. */
    int no_debug_timing;
    int ping_period_ms;
    int publish_period_ms;
    int info_period_ms;
    int ask_period_ms;
    const fx_tls *tls;         /* NULL: plaintext; else TLS only, also
                                  toward data nodes and other sentinels */
    int ready_timeout_ms;      /* default 10000 */
    const char *bind_ip;       /* IPv4 address to listen on [127.0.0.1]; also
                                  the source of its connections */
    const char *announce_host; /* sentinel announce-ip <this> [none] */
    int hostnames;             /* 1: sentinel resolve-hostnames yes and
                                  announce-hostnames yes [0: both no] */
    int port;                  /* 0: a free port; > 0: this port, one try */
} fx_sentinel_opts;

/* Start a sentinel monitoring one master (config written to its own dir,
 * started as redis-sentinel <conf>). Same port/ready/retry rules. */
int fx_sentinel_start(fx_node *n, const fx_sentinel_opts *o);

/* SIGTERM (plus SIGCONT if stopped), SIGKILL after 2 s, reap, remove the
 * directory. Idempotent; a zeroed fx_node is fine. */
void fx_node_stop(fx_node *n);
/* SIGKILL and reap; keeps dir/port/config for fx_node_restart. */
int fx_node_kill9(fx_node *n);
/* SIGSTOP / SIGCONT; wait (2 s) until /proc shows the new state. */
int fx_node_sigstop(fx_node *n);
int fx_node_sigcont(fx_node *n);
/* Start again on the same port, dir and (possibly server-rewritten) config;
 * kills the old process first if it still runs. Waits until ready. */
int fx_node_restart(fx_node *n);
/* A pod that comes back elsewhere: stop n if it runs (SIGTERM, SIGKILL after
 * 2 s; dir, data and config kept) and make its next fx_node_restart listen
 * on ip (the IPv4 address) instead: every "bind" line of its config and
 * n->host change; port and announced name stay. Point the name at ip (e.g.
 * fx_hosts_set) before the restart. 0, or -1 with a message. */
int fx_node_rebind(fx_node *n, const char *ip);

/* Blocking context, 2 s connect and command timeouts, AUTH done if the node
 * has credentials. NULL (and a message) on failure. Free with redisFree. */
redisContext *fx_connect(const fx_node *n);
/* The same with timeout_ms for connect, handshake, AUTH and each command,
 * and quiet: no message on failure (for polling a node that may be down). */
redisContext *fx_connect_quiet(const fx_node *n, int timeout_ms);
/* fx_connect_quiet, then the socket and the context switched to
 * non-blocking, for a poll() loop around redisBufferWrite/redisBufferRead
 * (TLS included). The connect, TLS handshake and AUTH themselves block, up
 * to timeout_ms: a few ms on loopback, refused at once when the node is down. */
redisContext *fx_connect_nonblock(const fx_node *n, int timeout_ms);
/* Turn a connected blocking context non-blocking (plain or TLS); 0, or -1
 * and c is freed. */
int fx_set_nonblocking(redisContext *c);
/* "Redis 7.0.15" or "Valkey 8.1.1": what n runs, from INFO server ("?" when
 * it does not answer). */
void fx_server_version(const fx_node *n, char *buf, size_t len);
/* The same from the text of INFO server (NULL: none); 0, or -1 with "?". */
int fx_server_version_text(const char *info, char *buf, size_t len);
/* Connections n has accepted so far (INFO stats total_connections_received;
 * this call's own included); -1 when it does not answer. */
long long fx_connections_received(const fx_node *n);

/* One-shot: connect, run one command, disconnect. Returns the reply (which
 * may be REDIS_REPLY_ERROR; free with freeReplyObject) or NULL on I/O error. */
redisReply *fx_cmd(const fx_node *n, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* A port on 127.0.0.1 that was free a moment ago (bind to :0). -1 on error. */
int fx_free_port(void);

/* ------------------------------------------------------------------------ */
/* Hostnames: a hosts file                                                  */
/* ------------------------------------------------------------------------ */

/* Names for nodes need a resolver that knows them: the hosts file, which is
 * machine-wide. The fixture edits one only when the environment variable
 * SENTINEL_POOL_TEST_HOSTS_FILE names it, which says the test runs in a
 * disposable root (scripts/debian13.sh sets it to /etc/hosts inside the
 * root it made); never on its own. The entries go into a marked block
 * after the original content; each change replaces the file at once
 * (rename; an in-place rewrite when the file is a mount point or a
 * symlink), so a resolver never reads half a file. A block left behind by a killed run
 * is dropped at fx_hosts_open. Not thread-safe: one user at a time. */
#define FX_HOSTS_MAX 16

typedef struct fx_hosts {
    char path[256];   /* the file, from SENTINEL_POOL_TEST_HOSTS_FILE */
    int active;       /* opened and not yet restored */
    int existed;      /* the file existed at fx_hosts_open */
    unsigned mode;    /* its permission bits (0644 if it did not exist) */
    char *orig;       /* its content then, marked block removed (malloc) */
    size_t orig_len;
    int n;            /* entries below */
    char names[FX_HOSTS_MAX][64];
    char ips[FX_HOSTS_MAX][64];
} fx_hosts;

/* Take the hosts file the environment allows. 0: *h is ready (and the
 * original content saved); 1: not allowed here, why says so (the caller
 * skips); -1: allowed but unusable (a message). *h is overwritten. */
int fx_hosts_open(fx_hosts *h, char *why, size_t why_len);
/* Map name to the IPv4 address ip (replacing this fixture's entry for name,
 * if any) and rewrite the file. 0 or -1 (message). */
int fx_hosts_set(fx_hosts *h, const char *name, const char *ip);
/* Put the original content back (remove the file if there was none) and
 * free what open took. Idempotent; a zeroed fx_hosts is fine. 0 or -1. */
int fx_hosts_restore(fx_hosts *h);
/* The same from a signal handler or a sanitizer's death callback, where the
 * process is about to end: async-signal-safe (an in-place rewrite with
 * open/write, or unlink; nothing allocated or freed), *h left as it is.
 * 0 or -1, silently. */
int fx_hosts_restore_now(const fx_hosts *h);

/* ------------------------------------------------------------------------ */
/* Topology: 1 master + replicas + sentinels                                */
/* ------------------------------------------------------------------------ */

#define FX_MAX_DATA 3
#define FX_MAX_SENTINELS 3

typedef struct fx_topology {
    fx_node data[FX_MAX_DATA];         /* data[0] starts as master */
    fx_node sentinel[FX_MAX_SENTINELS];
    int n_data;
    int n_sentinels;
    int hostnames;  /* 1: the nodes announce names (see fx_topology_opts) */
    char master_name[64];
    int quorum;
    int down_after_ms;
    int failover_timeout_ms;
    char data_password[128];
    char sentinel_password[128];
    char tls_dir[256];  /* certificates when TLS (see fx_topology_tls_dir) */
    int tls_own_certs;  /* made by fx_topology_start, removed by fx_topology_stop */
} fx_topology;

/* Where one node of a topology listens, and the name it goes by. */
typedef struct fx_host {
    const char *ip;   /* IPv4 address to bind [127.0.0.1] */
    const char *name; /* hostname it announces, resolving to ip [NULL] */
} fx_host;

typedef struct fx_topology_opts {
    const char *master_name;     /* default "mymaster" */
    int n_replicas;              /* 0..2, default 2 (use -1 for 0) */
    int n_sentinels;             /* 1..3, default 3 */
    int quorum;                  /* default 2 (1 if n_sentinels == 1) */
    int down_after_ms;           /* default 1000 */
    int failover_timeout_ms;     /* default 10000 */
    const char *data_password;   /* requirepass + masterauth on every data
                                    node, sentinel auth-pass */
    const char *data_acl_users;  /* extra "user ..." lines on data nodes */
    const char *sentinel_password; /* requirepass on the sentinels */
    const char *data_extra_config;
    const char *sentinel_extra_config;
    int no_debug_timing;         /* see fx_sentinel_opts */
    int ping_period_ms;
    int publish_period_ms;
    int info_period_ms;
    int ask_period_ms;
    const fx_tls *tls;           /* NULL: plaintext (TLS with certificates of
                                    its own under SENTINEL_POOL_TEST_TLS=1);
                                    else every node and sentinel is TLS only
                                    with these certs */
    int start_timeout_ms;        /* convergence wait, default 30000 */
    /* Addresses and names, as a Kubernetes deployment has them:
     * data_hosts[i] for data[i] (FX_MAX_DATA entries), sentinel_hosts[i]
     * for sentinel[i] (FX_MAX_SENTINELS), NULL: all on 127.0.0.1 without
     * names. When data_hosts[0] has a name, every data node needs one and
     * the topology announces hostnames: replica-announce-ip <name> on every
     * data node, replicas replicaof <data[0]'s name>, sentinels with
     * resolve-hostnames yes, announce-hostnames yes, monitor <data[0]'s
     * name>, and announce-ip <name> when theirs is given. Then
     * get-master-addr-by-name, +switch-master, SENTINEL replicas and the
     * master's ROLE carry names. The names must resolve when the topology
     * starts (fx_hosts_set). */
    const fx_host *data_hosts;
    const fx_host *sentinel_hosts;
    int same_port; /* 1: every data node on one port, every sentinel on
                      another, as pods are (needs distinct ips) */
} fx_topology_opts;

/* Start everything (opts may be NULL) and wait until: every replica has
 * master_link_status:up and has caught up with the master's offset; every
 * sentinel names the master, lists every replica (link ok, not down) and
 * every other sentinel (not down). On failure: dump logs, stop all, -1. */
int fx_topology_start(fx_topology *t, const fx_topology_opts *o); /* *t overwritten */
/* Stop all nodes concurrently (SIGTERM, SIGKILL after 2 s), and remove the
 * certificates fx_topology_start made for it. Idempotent. */
void fx_topology_stop(fx_topology *t);
/* The certificate directory of a TLS topology (opts->tls->dir, or its own
 * under SENTINEL_POOL_TEST_TLS), for fx_tls_client_paths; NULL when it runs
 * plaintext. */
const char *fx_topology_tls_dir(const fx_topology *t);

/* Index of the data node that every reachable sentinel names and whose ROLE
 * is master; -1 if there is none or they disagree. Quiet (no stderr).
 * Here and below an address a server reports is data[i] when the port and
 * the host (data[i]'s host or name) agree. */
int fx_topology_master_index(fx_topology *t);
/* SENTINEL FAILOVER <name> on sentinel[sentinel_idx]; 0 on +OK. */
int fx_sentinel_failover(fx_topology *t, int sentinel_idx);
/* Wait until all reachable sentinels name a data node other than old_index
 * and its ROLE says master. Returns the new index, -1 on timeout. */
int fx_wait_master_change(fx_topology *t, int old_index, int timeout_ms);
/* Wait until every running, non-stopped data node other than the current
 * master has master_link_status:up toward it and caught up, and every
 * reachable sentinel sees them (link ok, not down) and the other reachable
 * sentinels. Needed before a second failover. 0 or -1. */
int fx_wait_replicas_synced(fx_topology *t, int timeout_ms);
/* One command (fx_cmd's format) on every data node of t, for settings Redis
 * does not replicate (ACL users, CONFIG SET). 0 when each answered without
 * an error, else -1 (the others still ran it). */
int fx_data_cmd(const fx_topology *t, const char *fmt, ...);
/* "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3" (each sentinel's host); -1 if
 * it does not fit. */
int fx_sentinels_string(const fx_topology *t, char *buf, size_t len);
/* The same with each sentinel's name where it has one: "sp-s-0:p1,...". */
int fx_sentinels_string_named(const fx_topology *t, char *buf, size_t len);
/* The flags sentinel s reports for the instance at port in
 * SENTINEL <kind> <master_name>, kind "replicas" or "sentinels", copied to
 * out. 0 when listed, -1 when not listed or the query failed. (With
 * same_port every node has that port: the first one listed.) */
int fx_sentinel_flags(const fx_node *s, const char *kind, const char *master_name, int port,
                      char *out, size_t len);
/* Print state and the tail of every node's logs to stderr. */
void fx_topology_dump(const fx_topology *t);
/* Print the tail of one node's logs to stderr. */
void fx_node_dump(const fx_node *n);

/* ------------------------------------------------------------------------ */
/* Scripted fake server                                                     */
/* ------------------------------------------------------------------------ */

typedef enum fx_step_kind {
    FX_STEP_READ = 1,     /* consume one complete RESP command (multibulk or
                             inline); closes the connection on EOF */
    FX_STEP_READ_ANY = 2, /* consume whatever arrived (at least 1 byte) */
    FX_STEP_SEND = 3,     /* send bytes[0..len) */
    FX_STEP_DRIBBLE = 4,  /* send one byte at a time, delay_ms between */
    FX_STEP_SLEEP = 5,    /* do nothing for delay_ms */
    FX_STEP_CLOSE = 6,    /* close the connection (FIN) */
    FX_STEP_RESET = 7,    /* close with RST (SO_LINGER 0) */
    FX_STEP_HANG = 8,     /* never answer: read and discard input until the
                             peer closes. A script that ends without CLOSE
                             behaves the same */
    FX_STEP_REPEAT = 9    /* go back to step 0 on this connection */
} fx_step_kind;

typedef struct fx_fake_step {
    fx_step_kind kind;
    const char *bytes;
    size_t len;
    int delay_ms;
} fx_fake_step;

/* Brace initializers, usable in static and automatic arrays:
 *   fx_fake_step s[] = { FX_READ, FX_SEND_STR("+PONG\r\n"), FX_REPEAT }; */
#define FX_READ { .kind = FX_STEP_READ }
#define FX_READ_ANY { .kind = FX_STEP_READ_ANY }
#define FX_SEND(b, l) { .kind = FX_STEP_SEND, .bytes = (b), .len = (l) }
#define FX_SEND_STR(lit) FX_SEND((lit), sizeof(lit) - 1) /* literals only */
#define FX_DRIBBLE(b, l, ms) { .kind = FX_STEP_DRIBBLE, .bytes = (b), .len = (l), .delay_ms = (ms) }
#define FX_DRIBBLE_STR(lit, ms) FX_DRIBBLE((lit), sizeof(lit) - 1, (ms))
#define FX_SLEEP(ms) { .kind = FX_STEP_SLEEP, .delay_ms = (ms) }
#define FX_CLOSE { .kind = FX_STEP_CLOSE }
#define FX_RESET { .kind = FX_STEP_RESET }
#define FX_HANG { .kind = FX_STEP_HANG }
#define FX_REPEAT { .kind = FX_STEP_REPEAT }

typedef enum fx_fake_flags {
    FX_FAKE_DEFAULT = 0,
    /* Listen but never accept: connects complete in the kernel backlog and
     * nothing is ever read or answered. */
    FX_FAKE_NO_ACCEPT = 1
} fx_fake_flags;

#define FX_FAKE_RECORD_MAX 65536

typedef struct fx_fake {
    int port; /* where it listens on 127.0.0.1 */
    /* private */
    int listen_fd;
    int stop_pipe[2];
    int thread_started;
    pthread_t thread;
    fx_fake_step *steps; /* deep copy */
    size_t n_steps;
    char *bytes;         /* storage for the copied step bytes */
    unsigned flags;
    atomic_ulong connections;
    atomic_ulong commands;
    atomic_ulong bytes_in;
    pthread_mutex_t rec_lock;
    int rec_lock_init;
    char *rec;           /* first FX_FAKE_RECORD_MAX bytes received */
    size_t rec_len;
} fx_fake;

/* Listen on a free loopback port and serve the script (copied) to every
 * accepted connection, each independently, from one background thread.
 * An empty script (n == 0) means accept and never answer. */
int fx_fake_start(fx_fake *f, const fx_fake_step *steps, size_t n);
int fx_fake_start_ex(fx_fake *f, const fx_fake_step *steps, size_t n, unsigned flags);
/* Stop promptly (wakes the thread through a pipe), join, close every
 * connection, free. Idempotent; a zeroed fx_fake is fine. */
void fx_fake_stop(fx_fake *f);
unsigned long fx_fake_connections(fx_fake *f); /* accepted so far */
unsigned long fx_fake_commands(fx_fake *f);    /* commands consumed by FX_READ */
/* Copy what all connections sent (first FX_FAKE_RECORD_MAX bytes, in
 * arrival order) into buf, NUL-terminated; returns the length copied. */
size_t fx_fake_received(fx_fake *f, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif
