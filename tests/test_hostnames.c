/* test_hostnames.c: a topology that announces hostnames, as the packaged
 * Kubernetes deployments run Sentinel (sentinel resolve-hostnames yes,
 * announce-hostnames yes, replica-announce-ip <pod DNS name>): then
 * get-master-addr-by-name, +switch-master, SENTINEL replicas and the
 * master's ROLE carry names, and a name's address changes when its pod
 * restarts. Every node binds its own loopback address (127.0.0.2 ...), all
 * data nodes share one port and all sentinels another, as pods do, and the
 * names come from /etc/hosts. The pool is given the sentinels by name.
 *
 * Checked: the pool reports the master by name; writes work; a graceful
 * failover, a crash (kill -9) and a freeze (SIGSTOP) of the master each move
 * it to the new name, writes resume, and every write acknowledged through
 * the pool is on the new master (a writer thread records where each write
 * went); replica reads reach the replicas by name; and a replica that comes
 * back on another address (its name moved in /etc/hosts) is read from again
 * at the new address.
 *
 * The hosts file is machine-wide, so this test edits it only where
 * SENTINEL_POOL_TEST_HOSTS_FILE names it: scripts/debian13.sh sets it to
 * /etc/hosts inside the throwaway root it creates. Elsewhere every test
 * skips (the reason is printed) and this machine's /etc/hosts is not
 * touched. The file's original content comes back at the end, also after a
 * failed test (teardown and atexit); a block a killed run left behind is
 * dropped by the next run. */
#define _GNU_SOURCE

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <link.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fixture.h"
#include "sentinel_pool.h"
#include "sentinel_util.h"

#define WAIT_MS 30000       /* any convergence; a TILTed sentinel could need more, see below */
#define SWITCH_WAIT_MS 45000 /* a failover, TILT included (a sentinel whose timer was late) */
#define NWRITERS 2
#define WRITER_RECS 60000 /* at one write per ms or slower: a minute of records */

/* The pods: name -> loopback address. sp-node-2 moves to MOVED_IP. */
static const fx_host data_hosts[FX_MAX_DATA] = {
    {"127.0.0.2", "sp-node-0"}, {"127.0.0.3", "sp-node-1"}, {"127.0.0.4", "sp-node-2"}};
static const fx_host sentinel_hosts[FX_MAX_SENTINELS] = {
    {"127.0.0.5", "sp-sentinel-0"}, {"127.0.0.6", "sp-sentinel-1"}, {"127.0.0.7", "sp-sentinel-2"}};
#define MOVED_IP "127.0.0.8"

static fx_hosts hosts;       /* the hosts file, when this run may edit it */
static char skip_why[512];   /* why not, otherwise */

static void restore_hosts(void)
{
    if (hosts.active && fx_hosts_restore(&hosts) != 0)
        fprintf(stderr, "test_hostnames: could not restore %s\n", hosts.path);
}

/* The process is ending abnormally: put the file back, then go on dying. */
static void restore_hosts_now(void) { (void)fx_hosts_restore_now(&hosts); }

static void on_fatal_signal(int sig)
{
    restore_hosts_now();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Defined by the sanitizer runtimes only (sanitizer/common_interface_defs.h):
 * a report that ends the process (halt_on_error) calls it; NULL elsewhere. */
extern void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));
typedef void (*death_setter_fn)(void (*callback)(void));

/* gcc links each sanitizer as its own shared runtime (libasan, libubsan),
 * each with its own death callback; the weak symbol reaches only the first.
 * Set it in every loaded lib*san.so too. */
static int set_death_callback_in(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    if (info->dlpi_name == NULL || strstr(info->dlpi_name, "san.so") == NULL)
        return 0;
    void *h = dlopen(info->dlpi_name, RTLD_LAZY | RTLD_NOLOAD);
    if (h == NULL)
        return 0;
    void *sym = dlsym(h, "__sanitizer_set_death_callback");
    if (sym != NULL) {
        death_setter_fn set;
        memcpy(&set, &sym, sizeof(set)); /* ISO C has no object-to-function cast */
        set(restore_hosts_now);
    }
    dlclose(h);
    return 0;
}

/* Restore on the ways out that skip atexit: SIGINT/SIGTERM/SIGHUP/SIGQUIT (a
 * run interrupted), SIGABRT (abort, sanitizers with abort_on_error), and a
 * sanitizer's own exit (halt_on_error). SIGKILL (a ctest timeout) cannot be
 * caught: the next run drops what this one left (fx_hosts_open). */
static void restore_hosts_on_fatal_exits(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT};
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        if (sigaction(sigs[i], &sa, NULL) != 0)
            fprintf(stderr, "test_hostnames: sigaction(%d) failed\n", sigs[i]);
    if (__sanitizer_set_death_callback != NULL) {
        __sanitizer_set_death_callback(restore_hosts_now);
        dl_iterate_phdr(set_death_callback_in, NULL);
    }
}

/* Every name at its home address (undoes a move). */
static int map_home(void)
{
    for (int i = 0; i < FX_MAX_DATA; i++)
        if (fx_hosts_set(&hosts, data_hosts[i].name, data_hosts[i].ip) != 0)
            return -1;
    for (int i = 0; i < FX_MAX_SENTINELS; i++)
        if (fx_hosts_set(&hosts, sentinel_hosts[i].name, sentinel_hosts[i].ip) != 0)
            return -1;
    return 0;
}

/* ---- Per test: topology, pool, writer threads ------------------------------ */

typedef struct wrec {
    int64_t t_got, t_ack; /* checkout returned; reply read */
    long seq;
    int node; /* data index behind the connection (peer address), -1 unknown */
    int ok;   /* RPUSH answered with an integer: acknowledged */
} wrec;

struct fixture;

typedef struct writer {
    struct fixture *f;
    int id;
    int n;
    long get_errors;
    wrec rec[WRITER_RECS];
} writer;

typedef struct fixture {
    fx_topology topo;
    st_events *ev;
    pool_t *pool;
    char sentinels[256];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;              /* under mu: writers exit */
    int hold;              /* under mu: writers pause before their next write */
    int held;              /* under mu: writers paused */
    pthread_t threads[NWRITERS];
    int nthreads;
    writer *ws;            /* NWRITERS of them */
    fx_node impostor;      /* another server on a moved node's old address */
} fixture;

static int setup(void **state)
{
    *state = NULL;
    if (!hosts.active)
        return 0; /* the test skips */
    fixture *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* st_now_ns() deadlines */
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, &ca);
    pthread_condattr_destroy(&ca);
    fx_topology_opts o;
    memset(&o, 0, sizeof(o));
    o.master_name = "spmaster";
    o.data_hosts = data_hosts;
    o.sentinel_hosts = sentinel_hosts;
    o.same_port = 1;
    f->ev = st_events_new();
    if (f->ev == NULL || map_home() != 0 || fx_topology_start(&f->topo, &o) != 0 ||
        fx_sentinels_string_named(&f->topo, f->sentinels, sizeof(f->sentinels)) != 0) {
        st_events_free(f->ev);
        pthread_cond_destroy(&f->cv);
        pthread_mutex_destroy(&f->mu);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static void stop_writers(fixture *f)
{
    pthread_mutex_lock(&f->mu);
    f->stop = 1;
    f->hold = 0;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    for (int i = 0; i < f->nthreads; i++)
        pthread_join(f->threads[i], NULL);
    f->nthreads = 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f != NULL) {
        stop_writers(f);
        pool_destroy(f->pool);
        fx_node_stop(&f->impostor);
        fx_topology_stop(&f->topo);
        st_events_free(f->ev);
        free(f->ws);
        pthread_cond_destroy(&f->cv);
        pthread_mutex_destroy(&f->mu);
        free(f);
    }
    return 0;
}

static fixture *get_fixture(void **state)
{
    if (*state == NULL)
        skip();
    return *state;
}

static void make_pool(fixture *f)
{
    st_pool_cfg cfg;
    st_pool_cfg_init(&cfg, &f->topo, f->ev);
    cfg.o.sentinels = f->sentinels; /* names, not the fixture's addresses */
    cfg.o.max_connections = 4;
    cfg.o.max_readers = 4;
    cfg.o.sentinel_poll_ms = 200;
    if (cfg.o.tls)
        cfg.o.tls_server_name = "localhost"; /* the test certificates name no pod */
    ST_ASSERT_OK(pool_create(&cfg.o, &f->pool));
}

/* ---- Where a connection goes ---------------------------------------------------- */

/* The peer address of a connection: IPv4 text and port. */
static void peer_of(const redisContext *c, char ip[INET_ADDRSTRLEN], int *port)
{
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    ip[0] = '\0';
    *port = 0;
    if (getpeername(c->fd, (struct sockaddr *)&a, &al) != 0 || a.sin_family != AF_INET ||
        inet_ntop(AF_INET, &a.sin_addr, ip, INET_ADDRSTRLEN) == NULL)
        return;
    *port = ntohs(a.sin_port);
}

/* The data node a connection is connected to, by its current address; -1. */
static int node_of(const fx_topology *t, const redisContext *c)
{
    char ip[INET_ADDRSTRLEN];
    int port;
    peer_of(c, ip, &port);
    for (int i = 0; i < t->n_data; i++)
        if (t->data[i].port == port && strcmp(t->data[i].host, ip) == 0)
            return i;
    return -1;
}

/* The server's side of a connection: laddr= of CLIENT INFO, into out. */
static void server_laddr(redisContext *c, char *out, size_t len)
{
    redisReply *r = redisCommand(c, "CLIENT INFO");
    if (r == NULL || r->type != REDIS_REPLY_STRING)
        fail_msg("CLIENT INFO failed: %s", r ? (r->str ? r->str : "?") : c->errstr);
    const char *p = strstr(r->str, " laddr=");
    if (p == NULL)
        fail_msg("CLIENT INFO has no laddr: %s", r->str);
    p += strlen(" laddr=");
    snprintf(out, len, "%.*s", (int)strcspn(p, " \r\n"), p);
    freeReplyObject(r);
}

static void assert_master_name(pool_t *p, const fx_node *n)
{
    char host[256];
    int port = 0;
    ST_ASSERT_OK(pool_current_master(p, host, sizeof(host), &port, NULL));
    if (strcmp(host, n->name) != 0 || port != n->port)
        fail_msg("pool_current_master: %s:%d, want %s:%d", host, port, n->name, n->port);
}

/* Wait until pool_current_master names a node other than `old`; its index. */
static int wait_pool_moves(fixture *f, int old, int timeout_ms)
{
    int64_t deadline = fx_now_ms() + timeout_ms;
    char host[256] = "";
    int port = 0;
    for (;;) {
        if (pool_current_master(f->pool, host, sizeof(host), &port, NULL) == 0 &&
            strcmp(host, f->topo.data[old].name) != 0) {
            for (int i = 0; i < f->topo.n_data; i++)
                if (strcmp(host, f->topo.data[i].name) == 0 && port == f->topo.data[i].port)
                    return i;
            fail_msg("pool_current_master: %s:%d is no node of ours", host, port);
        }
        if (fx_now_ms() >= deadline)
            fail_msg("pool still on %s (%s:%d) %d ms after the trigger",
                     f->topo.data[old].name, host, port, timeout_ms);
        fx_sleep_ms(10);
    }
}

/* The sentinels and the master hand out names (else this test would test
 * nothing): get-master-addr-by-name, SENTINEL replicas, the master's ROLE. */
static void assert_topology_announces_names(fixture *f, int m)
{
    const fx_topology *t = &f->topo;
    redisReply *r = fx_cmd(&t->sentinel[0], "SENTINEL get-master-addr-by-name %s",
                           t->master_name);
    assert_non_null(r);
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        strcmp(r->element[0]->str, t->data[m].name) != 0)
        fail_msg("get-master-addr-by-name does not give %s", t->data[m].name);
    freeReplyObject(r);
    r = fx_cmd(&t->sentinel[0], "SENTINEL replicas %s", t->master_name);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        for (size_t k = 0; k + 1 < e->elements; k += 2)
            if (strcmp(e->element[k]->str, "ip") == 0 &&
                strncmp(e->element[k + 1]->str, "sp-node-", 8) != 0)
                fail_msg("SENTINEL replicas lists ip %s, not a name", e->element[k + 1]->str);
    }
    freeReplyObject(r);
    r = fx_cmd(&t->data[m], "ROLE");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_true(r->elements == 3 && r->element[2]->type == REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < r->element[2]->elements; i++) {
        const redisReply *e = r->element[2]->element[i];
        if (strncmp(e->element[0]->str, "sp-node-", 8) != 0)
            fail_msg("the master's ROLE lists replica %s, not a name", e->element[0]->str);
    }
    freeReplyObject(r);
}

/* One write through the pool; the node it landed on. */
static int write_one(fixture *f, const char *key)
{
    redisContext *c = NULL;
    ST_ASSERT_OK(pool_get_writer(f->pool, &c));
    int node = node_of(&f->topo, c);
    redisReply *r = redisCommand(c, "SET %s 1", key);
    if (r == NULL || r->type != REDIS_REPLY_STATUS)
        fail_msg("SET %s on data[%d]: %s", key, node, r ? (r->str ? r->str : "?") : c->errstr);
    freeReplyObject(r);
    pool_put(f->pool, c);
    return node;
}

/* Wait until the pool has n replicas fit for reads. */
static void wait_usable(pool_t *p, uint64_t n, int timeout_ms)
{
    int64_t deadline = fx_now_ms() + timeout_ms;
    while (st_stats(p).replicas_usable != n) {
        if (fx_now_ms() >= deadline)
            fail_msg("replicas_usable %llu, want %llu after %d ms",
                     (unsigned long long)st_stats(p).replicas_usable, (unsigned long long)n,
                     timeout_ms);
        fx_sleep_ms(20);
    }
}

/* Borrow readers (round robin) until every replica of master m has served
 * one, each checked: ROLE replica, the peer address is the node's address,
 * and the server sees the connection arrive there (laddr). */
static void assert_reads_reach_replicas(fixture *f, int m, int tries)
{
    int seen[FX_MAX_DATA] = {0}, want = 0, got = 0;
    for (int i = 0; i < f->topo.n_data; i++)
        want += i != m;
    for (int k = 0; k < tries && got < want; k++) {
        redisContext *c = NULL;
        int rc = pool_get_reader(f->pool, &c);
        if (rc != 0) {
            fprintf(stderr, "reader checkout: %s\n", pool_err_name(rc));
            fx_sleep_ms(50);
            continue;
        }
        int node = node_of(&f->topo, c);
        char ip[INET_ADDRSTRLEN], laddr[128], want_laddr[128];
        int port;
        peer_of(c, ip, &port);
        if (node < 0 || node == m)
            fail_msg("reader on %s:%d: %s", ip, port, node < 0 ? "no node of ours" : "the master");
        if (st_conn_role(c) != 'r')
            fail_msg("reader on %s (%s:%d) is not a replica", f->topo.data[node].name, ip, port);
        server_laddr(c, laddr, sizeof(laddr));
        snprintf(want_laddr, sizeof(want_laddr), "%s:%d", f->topo.data[node].host,
                 f->topo.data[node].port);
        assert_string_equal(laddr, want_laddr);
        got += !seen[node];
        seen[node]++;
        pool_put(f->pool, c);
    }
    for (int i = 0; i < f->topo.n_data; i++)
        if (i != m && !seen[i])
            fail_msg("no read reached %s (%s) in %d checkouts", f->topo.data[i].name,
                     f->topo.data[i].host, tries);
}

/* ---- Writers ------------------------------------------------------------------- */

static int writer_wait_turn(writer *w)
{
    fixture *f = w->f;
    pthread_mutex_lock(&f->mu);
    if (f->hold && !f->stop) {
        f->held++;
        pthread_cond_broadcast(&f->cv);
        /* Bounded: every path out of the test clears hold or sets stop. */
        for (int i = 0; i < 600 && f->hold && !f->stop; i++) {
            int64_t until = st_now_ns() + 100000000;
            struct timespec ts = {(time_t)(until / 1000000000), (long)(until % 1000000000)};
            pthread_cond_timedwait(&f->cv, &f->mu, &ts);
        }
        f->held--;
    }
    int stop = f->stop;
    pthread_mutex_unlock(&f->mu);
    return !stop;
}

static void *writer_main(void *arg)
{
    writer *w = arg;
    pool_t *p = w->f->pool;
    long seq = 0;
    while (w->n < WRITER_RECS && writer_wait_turn(w)) {
        redisContext *c = NULL;
        wrec *r = &w->rec[w->n];
        int rc = pool_get_writer(p, &c);
        r->t_got = st_now_ns();
        if (rc != 0) {
            w->get_errors++;
            fx_sleep_ms(5);
            continue;
        }
        r->seq = ++seq;
        r->node = node_of(&w->f->topo, c);
        redisReply *rep = redisCommand(c, "RPUSH log:%d %ld", w->id, r->seq);
        r->t_ack = st_now_ns();
        r->ok = rep != NULL && rep->type == REDIS_REPLY_INTEGER;
        if (rep != NULL)
            freeReplyObject(rep);
        pool_put(p, c);
        w->n++;
        fx_sleep_ms(1);
    }
    return NULL;
}

static void start_writers(fixture *f)
{
    f->ws = calloc(NWRITERS, sizeof(*f->ws));
    assert_non_null(f->ws);
    for (int i = 0; i < NWRITERS; i++) {
        f->ws[i].f = f;
        f->ws[i].id = i;
        assert_int_equal(pthread_create(&f->threads[i], NULL, writer_main, &f->ws[i]), 0);
        f->nthreads++;
    }
}

/* Pause the writers between two writes (bounded wait). */
static void hold_writers(fixture *f)
{
    int64_t until = st_now_ns() + 10000000000LL;
    struct timespec ts = {(time_t)(until / 1000000000), (long)(until % 1000000000)};
    pthread_mutex_lock(&f->mu);
    f->hold = 1;
    while (f->held < f->nthreads)
        if (pthread_cond_timedwait(&f->cv, &f->mu, &ts) != 0)
            break;
    int held = f->held;
    pthread_mutex_unlock(&f->mu);
    if (held < f->nthreads)
        fail_msg("only %d of %d writers paused within 10 s", held, f->nthreads);
}

static void release_writers(fixture *f)
{
    pthread_mutex_lock(&f->mu);
    f->hold = 0;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

/* Which seqs of log:<id> node n holds: a byte map indexed by seq. */
static unsigned char *held_seqs(const fx_node *n, int id, long max_seq)
{
    unsigned char *map = calloc((size_t)max_seq + 1, 1);
    assert_non_null(map);
    redisReply *r = fx_cmd(n, "LRANGE log:%d 0 -1", id);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < r->elements; i++) {
        long s = atol(r->element[i]->str);
        if (s > 0 && s <= max_seq)
            map[s] = 1;
    }
    freeReplyObject(r);
    return map;
}

/* After a failover from data[old] to data[nw] (trigger at trigger_ns, the
 * pool's switch at switch_ns): every acknowledged write is on the new
 * master, except (graceful only, in_flight_ns >= 0) writes checked out
 * before in_flight_ns, the pool's fence: the one write each writer may have
 * had in flight then. Writes resumed on the new master. */
static void check_writes(fixture *f, const char *what, int old, int nw, int64_t trigger_ns,
                         int64_t switch_ns, int64_t in_flight_ns)
{
    long acked = 0, failed = 0, lost = 0, lost_in_flight = 0, old_after_trigger = 0, on_new = 0,
         get_errors = 0, unknown = 0;
    int64_t first_new = -1;
    for (int i = 0; i < NWRITERS; i++) {
        const writer *w = &f->ws[i];
        long max_seq = w->n > 0 ? w->rec[w->n - 1].seq : 0;
        unsigned char *have = held_seqs(&f->topo.data[nw], i, max_seq);
        get_errors += w->get_errors;
        for (int k = 0; k < w->n; k++) {
            const wrec *r = &w->rec[k];
            if (!r->ok) {
                failed++;
                continue;
            }
            acked++;
            unknown += r->node < 0;
            if (r->node == nw && r->t_got >= trigger_ns) {
                on_new++;
                if (first_new < 0 || r->t_got < first_new)
                    first_new = r->t_got;
            }
            if (r->node == old && r->t_ack >= trigger_ns)
                old_after_trigger++;
            if (have[r->seq])
                continue;
            if (in_flight_ns >= 0 && r->node == old && r->t_got < in_flight_ns) {
                lost_in_flight++;
            } else {
                if (lost < 5)
                    fprintf(stderr, "%s: writer %d seq %ld acknowledged by data[%d] at %+.1f ms "
                                    "(checkout at %+.1f ms) is not on the new master %s\n",
                            what, i, r->seq, r->node, st_ms(r->t_ack - trigger_ns),
                            st_ms(r->t_got - trigger_ns), f->topo.data[nw].name);
                lost++;
            }
        }
        free(have);
    }
    fprintf(stderr,
            "MEASURE %s: %s -> %s; pool switched %.1f ms after the trigger, first write on the "
            "new master %.1f ms; %ld writes acknowledged (%ld on the new master after the "
            "trigger), %ld failed, %ld checkout errors; acknowledged by the old master after the "
            "trigger: %ld; acknowledged and not on the new master: %ld (+%ld in flight at the "
            "fence)\n",
            what, f->topo.data[old].name, f->topo.data[nw].name, st_ms(switch_ns - trigger_ns),
            first_new >= 0 ? st_ms(first_new - trigger_ns) : -1.0, acked, on_new, failed,
            get_errors, old_after_trigger, lost, lost_in_flight);
    assert_int_equal(unknown, 0);
    if (in_flight_ns < 0 && old_after_trigger != 0)
        fail_msg("%s: %ld writes acknowledged by the old master %s after it was %s", what,
                 old_after_trigger, f->topo.data[old].name,
                 strstr(what, "crash") ? "killed" : "frozen");
    if (on_new == 0)
        fail_msg("%s: no write acknowledged by the new master %s", what, f->topo.data[nw].name);
    if (lost != 0)
        fail_msg("%s: %ld acknowledged writes are not on the new master %s", what, lost,
                 f->topo.data[nw].name);
    if (lost_in_flight > NWRITERS)
        fail_msg("%s: %ld writes in flight at the fence lost, more than one per writer", what,
                 lost_in_flight);
}

/* The last SWITCH_MASTER event from index `from`: names, not addresses. */
static void assert_switch_event_names(fixture *f, int from, int old, int nw)
{
    int i = -1, k;
    while ((k = st_wait_event(f->ev, i < 0 ? from : i + 1, POOL_EVENT_SWITCH_MASTER, 0, 0)) >= 0)
        i = k;
    if (i < 0)
        fail_msg("no SWITCH_MASTER event");
    st_event e = st_event_at(f->ev, i);
    if (strcmp(e.old_host, f->topo.data[old].name) != 0 ||
        strcmp(e.new_host, f->topo.data[nw].name) != 0)
        fail_msg("SWITCH_MASTER %s:%d -> %s:%d, want %s -> %s", e.old_host, e.old_port,
                 e.new_host, e.new_port, f->topo.data[old].name, f->topo.data[nw].name);
}

/* ---- Tests ------------------------------------------------------------------------ */

/* The master by name, writes, reads on both replicas by name. */
static void test_names_everywhere(void **state)
{
    fixture *f = get_fixture(state);
    assert_topology_announces_names(f, 0);
    make_pool(f);
    assert_master_name(f->pool, &f->topo.data[0]);
    for (int i = 0; i < 10; i++)
        assert_int_equal(write_one(f, "spool:hn:a"), 0);
    st_assert_writers_on(f->pool, &f->topo.data[0], 4);
    wait_usable(f->pool, 2, WAIT_MS);
    assert_reads_reach_replicas(f, 0, 20);
}

typedef enum { GRACEFUL, CRASH, FREEZE } kind_t;

static void failover_with_writers(void **state, kind_t kind)
{
    static const char *names[] = {"graceful failover", "crash (kill -9)", "freeze (SIGSTOP)"};
    const char *what = names[kind];
    fixture *f = get_fixture(state);
    fx_topology *t = &f->topo;
    make_pool(f);
    assert_master_name(f->pool, &t->data[0]);
    wait_usable(f->pool, 2, WAIT_MS);
    start_writers(f);
    fx_sleep_ms(300);
    int from = st_events_count(f->ev);
    if (kind != GRACEFUL) {
        /* A crash or a freeze can take the master's last acknowledged
         * writes with it before they reach a replica (asynchronous
         * replication: no client can prevent that). Pause the writers and
         * let the replicas catch up, so that whatever is missing later was
         * acknowledged through the pool after the trigger. */
        hold_writers(f);
        assert_int_equal(fx_wait_replicas_synced(t, WAIT_MS), 0);
    }
    int64_t trigger = st_now_ns();
    if (kind == GRACEFUL)
        assert_int_equal(fx_sentinel_failover(t, 0), 0);
    else if (kind == CRASH)
        assert_int_equal(fx_node_kill9(&t->data[0]), 0);
    else
        assert_int_equal(fx_node_sigstop(&t->data[0]), 0);
    release_writers(f);

    int pnw = wait_pool_moves(f, 0, SWITCH_WAIT_MS);
    int64_t switched = st_now_ns();
    int nw = fx_wait_master_change(t, 0, SWITCH_WAIT_MS);
    assert_true(nw > 0);
    assert_int_equal(pnw, nw);
    assert_master_name(f->pool, &t->data[nw]);
    assert_switch_event_names(f, from, 0, nw);
    fx_sleep_ms(1000); /* writes on the new master */

    /* The old master comes back: restarted (empty, and a master by its
     * config until the sentinels turn it into a replica) or woken up (a
     * master by its own account, with clients' writes queued). Writes go
     * on meanwhile: none may land there. */
    if (kind == CRASH)
        assert_int_equal(fx_node_restart(&t->data[0]), 0);
    else if (kind == FREEZE)
        assert_int_equal(fx_node_sigcont(&t->data[0]), 0);
    assert_int_equal(fx_wait_replicas_synced(t, WAIT_MS), 0);
    fx_sleep_ms(500);
    stop_writers(f);

    int fi = st_wait_event(f->ev, from, POOL_EVENT_MASTER_LOST, 0, 0);
    int64_t fence = fi >= 0 ? st_event_at(f->ev, fi).t_ns : switched;
    check_writes(f, what, 0, nw, trigger, switched, kind == GRACEFUL ? fence : -1);

    /* The old master is a replica now, and readable by its name again. */
    assert_int_equal(write_one(f, "spool:hn:after"), nw);
    wait_usable(f->pool, 2, WAIT_MS);
    assert_reads_reach_replicas(f, nw, 30);
}

static void test_graceful_failover(void **state) { failover_with_writers(state, GRACEFUL); }
static void test_crash_failover(void **state) { failover_with_writers(state, CRASH); }
static void test_freeze_failover(void **state) { failover_with_writers(state, FREEZE); }

/* Connections a server has accepted so far (INFO stats). */
static long long connections_received(const fx_node *n)
{
    long long count = fx_connections_received(n);
    if (count < 0)
        fail_msg("INFO stats on %s:%d failed", n->host, n->port);
    return count;
}

/* The flags sentinel s gives the replica called name ("" if not listed). */
static void replica_flags(const fx_topology *t, const fx_node *s, const char *name, char *out,
                          size_t len)
{
    out[0] = '\0';
    redisReply *r = fx_cmd(s, "SENTINEL replicas %s", t->master_name);
    for (size_t i = 0; r != NULL && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *e = r->element[i];
        const char *ip = NULL, *flags = NULL;
        for (size_t k = 0; k + 1 < e->elements; k += 2) {
            if (strcmp(e->element[k]->str, "ip") == 0)
                ip = e->element[k + 1]->str;
            else if (strcmp(e->element[k]->str, "flags") == 0)
                flags = e->element[k + 1]->str;
        }
        if (ip != NULL && flags != NULL && strcmp(ip, name) == 0)
            snprintf(out, len, "%s", flags);
    }
    if (r != NULL)
        freeReplyObject(r);
}

/* Wait until every sentinel flags the replica called name s_down. */
static void wait_sentinels_see_down(const fx_topology *t, const char *name, int timeout_ms)
{
    int64_t deadline = fx_now_ms() + timeout_ms;
    char flags[256];
    for (int i = 0; i < t->n_sentinels; i++) {
        for (;;) {
            replica_flags(t, &t->sentinel[i], name, flags, sizeof(flags));
            if (strstr(flags, "s_down") != NULL)
                break;
            if (fx_now_ms() >= deadline)
                fail_msg("sentinel %s does not call %s down after %d ms (flags %s)",
                         t->sentinel[i].name, name, timeout_ms, flags[0] ? flags : "none");
            fx_sleep_ms(50);
        }
    }
}

/* A replica's pod restarts on another address: its name moves in
 * /etc/hosts, and its old address goes to another pod (a standalone server
 * here). Down long enough for the sentinels to call it down, so it comes
 * back only if they find it under its name again. The pool must read from
 * it again at the new address, and neither the pool nor anything else may
 * connect to the old one (a client that resolved the name once would). */
static void test_replica_moves_address(void **state)
{
    fixture *f = get_fixture(state);
    fx_topology *t = &f->topo;
    fx_node *mv = &t->data[2];
    make_pool(f);
    wait_usable(f->pool, 2, WAIT_MS);
    assert_reads_reach_replicas(f, 0, 20);

    int64_t t0 = fx_now_ms();
    assert_int_equal(fx_node_rebind(mv, MOVED_IP), 0); /* stops it */
    assert_int_equal(fx_hosts_set(&hosts, mv->name, MOVED_IP), 0);
    fx_redis_opts io;
    memset(&io, 0, sizeof(io));
    io.bind_ip = data_hosts[2].ip;
    io.port = mv->port;
    assert_int_equal(fx_redis_start(&f->impostor, &io), 0);
    long long impostor_before = connections_received(&f->impostor);
    wait_usable(f->pool, 1, WAIT_MS); /* the pool dropped it */
    int64_t down_ms = fx_now_ms() - t0;
    wait_sentinels_see_down(t, mv->name, WAIT_MS);
    assert_int_equal(fx_node_restart(mv), 0);
    char run_id[64];
    st_node_run_id(mv, run_id);
    fprintf(stderr, "%s moved from %s to %s:%d (down %lld ms; the pool dropped it after %lld)\n",
            mv->name, data_hosts[2].ip, MOVED_IP, mv->port, (long long)(fx_now_ms() - t0),
            (long long)down_ms);

    /* Bounded: the sentinels find it back under its name, the pool lists
     * it again, and a reader connects to its new address. */
    int64_t deadline = fx_now_ms() + WAIT_MS;
    long checkouts = 0, elsewhere = 0, errors = 0;
    for (;;) {
        redisContext *c = NULL;
        int rc = pool_get_reader(f->pool, &c);
        checkouts++;
        if (rc == 0) {
            char ip[INET_ADDRSTRLEN], laddr[128], want[128], got_id[64];
            int port;
            peer_of(c, ip, &port);
            if (strcmp(ip, data_hosts[2].ip) == 0)
                fail_msg("a reader is connected to %s's old address %s:%d", mv->name, ip, port);
            if (strcmp(ip, MOVED_IP) == 0 && port == mv->port) {
                server_laddr(c, laddr, sizeof(laddr));
                snprintf(want, sizeof(want), "%s:%d", MOVED_IP, mv->port);
                assert_string_equal(laddr, want);
                assert_int_equal(st_conn_run_id(c, got_id), 0);
                assert_string_equal(got_id, run_id);
                assert_int_equal(st_conn_role(c), 'r');
                pool_put(f->pool, c);
                break;
            }
            elsewhere++;
            pool_put(f->pool, c);
        } else {
            errors++;
        }
        if (fx_now_ms() >= deadline) {
            pool_stats_t st = st_stats(f->pool);
            fx_topology_dump(t);
            fail_msg("no reader reached %s at its new address %s:%d within %d ms (%ld "
                     "checkouts: %ld elsewhere, %ld errors; replicas_usable %llu; %lld "
                     "connections to the old address %s:%d)",
                     mv->name, MOVED_IP, mv->port, WAIT_MS, checkouts, elsewhere, errors,
                     (unsigned long long)st.replicas_usable,
                     connections_received(&f->impostor) - impostor_before - 1, data_hosts[2].ip,
                     mv->port);
        }
        fx_sleep_ms(50);
    }
    fprintf(stderr, "MEASURE moved replica: read from %s at %s %lld ms after it came back "
                    "(%ld reader checkouts meanwhile: %ld elsewhere, %ld errors)\n",
            mv->name, MOVED_IP, (long long)(fx_now_ms() - deadline + WAIT_MS), checkouts,
            elsewhere, errors);
    /* And everything is as before: the sentinels see it up, both replicas
     * serve reads, writes go to the master. */
    assert_int_equal(fx_wait_replicas_synced(t, WAIT_MS), 0);
    wait_usable(f->pool, 2, WAIT_MS);
    assert_reads_reach_replicas(f, 0, 20);
    assert_int_equal(write_one(f, "spool:hn:moved"), 0);
    long long impostor_conns = connections_received(&f->impostor) - impostor_before - 1;
    if (impostor_conns != 0) {
        redisReply *r = fx_cmd(&f->impostor, "CLIENT LIST");
        fail_msg("%lld connections reached %s's old address %s:%d (now another server); "
                 "CLIENT LIST there:\n%s",
                 impostor_conns, mv->name, data_hosts[2].ip, mv->port,
                 r && r->str ? r->str : "?");
    }
}

int main(void)
{
    st_t0_ns = st_now_ns();
    signal(SIGPIPE, SIG_IGN);
    int rc = fx_hosts_open(&hosts, skip_why, sizeof(skip_why));
    if (rc < 0)
        return 1;
    if (rc > 0) {
        /* ctest shows 77 as "Skipped" (SKIP_RETURN_CODE in CMakeLists.txt). */
        printf("# SKIP hostnames: %s\n", skip_why);
        return 77;
    }
    if (atexit(restore_hosts) == 0)
        restore_hosts_on_fatal_exits();
    else
        return restore_hosts(), fprintf(stderr, "test_hostnames: atexit failed\n"), 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_names_everywhere, setup, teardown),
        cmocka_unit_test_setup_teardown(test_graceful_failover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_failover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_freeze_failover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replica_moves_address, setup, teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    restore_hosts();
    return failed;
}
