/* Helpers shared by the Sentinel test files (tests/test_sentinel*.c): an
 * event recorder for pool_options_t.event_fn, pool options for a fixture
 * topology, and checks that a borrowed connection really is on a given node
 * (ROLE and INFO server run_id). Header-only (static inline) so each test
 * file stays one executable; include it after <cmocka.h>. */
#ifndef SPOOL_TESTS_SENTINEL_UTIL_H
#define SPOOL_TESTS_SENTINEL_UTIL_H

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fixture.h"
#include "sentinel_pool.h"

/* ---- Clock ------------------------------------------------------------------ */

static inline int64_t st_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline double st_ms(int64_t ns) { return (double)ns / 1e6; }

/* Process start, for readable relative timestamps in logs. */
static int64_t st_t0_ns;

/* ---- Assertions that print the error name -------------------------------- */

#define ST_ASSERT_RC(expr, want)                                                                   \
    do {                                                                                           \
        int st_rc_ = (expr);                                                                       \
        int st_want_ = (want);                                                                     \
        if (st_rc_ != st_want_)                                                                    \
            fail_msg("%s returned %s (%d), want %s (%d)", #expr, pool_err_name(st_rc_), st_rc_,    \
                     pool_err_name(st_want_), st_want_);                                           \
    } while (0)
#define ST_ASSERT_OK(expr) ST_ASSERT_RC(expr, POOL_OK)

/* ---- Event recorder ------------------------------------------------------- */

#define ST_MAX_EVENTS 2048
#define ST_HOST 64

typedef struct st_event {
    pool_event_type_t type;
    char old_host[ST_HOST]; /* "" for NULL */
    int old_port;
    char new_host[ST_HOST];
    int new_port;
    uint64_t generation;
    int64_t t_ns;
    char detail[200];
} st_event;

typedef struct st_events {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    int n;             /* recorded; later ones are counted in dropped */
    int dropped;
    st_event ev[ST_MAX_EVENTS];
} st_events;

static inline st_events *st_events_new(void)
{
    st_events *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, &ca);
    pthread_condattr_destroy(&ca);
    return e;
}

static inline void st_events_free(st_events *e)
{
    if (e == NULL)
        return;
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

static int st_verbose = -1;

static inline int st_is_verbose(void)
{
    if (st_verbose < 0) {
        const char *v = getenv("SPOOL_TEST_VERBOSE");
        st_verbose = v != NULL && v[0] != '\0' && v[0] != '0';
    }
    return st_verbose;
}

/* pool_options_t.event_fn: copy the event (its strings die with the call). */
static inline void st_event_fn(void *ud, const pool_event_t *ev)
{
    st_events *e = ud;
    int64_t now = st_now_ns();
    pthread_mutex_lock(&e->mu);
    if (e->n < ST_MAX_EVENTS) {
        st_event *r = &e->ev[e->n++];
        r->type = ev->type;
        snprintf(r->old_host, sizeof(r->old_host), "%s", ev->old_host ? ev->old_host : "");
        r->old_port = ev->old_port;
        snprintf(r->new_host, sizeof(r->new_host), "%s", ev->new_host ? ev->new_host : "");
        r->new_port = ev->new_port;
        r->generation = ev->generation;
        r->t_ns = now;
        snprintf(r->detail, sizeof(r->detail), "%s", ev->detail ? ev->detail : "(null)");
    } else {
        e->dropped++;
    }
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    if (st_is_verbose() || ev->type == POOL_EVENT_SWITCH_MASTER ||
        ev->type == POOL_EVENT_MASTER_LOST)
        fprintf(stderr, "[%9.3f] event %s gen %llu: %s\n", st_ms(now - st_t0_ns) / 1000.0,
                pool_event_name(ev->type), (unsigned long long)ev->generation,
                ev->detail ? ev->detail : "(null)");
}

static inline void st_log_fn(void *ud, pool_log_level_t level, const char *msg)
{
    (void)ud;
    static const char *names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    fprintf(stderr, "[%9.3f] log %s: %s\n", st_ms(st_now_ns() - st_t0_ns) / 1000.0,
            (unsigned)level < 4 ? names[level] : "?", msg);
}

static inline int st_events_count(st_events *e)
{
    pthread_mutex_lock(&e->mu);
    int n = e->n;
    pthread_mutex_unlock(&e->mu);
    return n;
}

/* Copy event i (which must exist) out. */
static inline st_event st_event_at(st_events *e, int i)
{
    pthread_mutex_lock(&e->mu);
    st_event r = e->ev[i];
    pthread_mutex_unlock(&e->mu);
    return r;
}

/* Wait for the first event at index >= from of the given type whose port
 * matches: new_port == port when port > 0, new_port != -port when port < 0,
 * any when 0 (for SENTINEL_LOST the port compared is old_port). Returns its
 * index, or -1 after timeout_ms. */
static inline int st_wait_event(st_events *e, int from, pool_event_type_t type, int port,
                                int timeout_ms)
{
    int64_t deadline = st_now_ns() + (int64_t)timeout_ms * 1000000;
    struct timespec ts = {(time_t)(deadline / 1000000000), (long)(deadline % 1000000000)};
    pthread_mutex_lock(&e->mu);
    for (;;) {
        for (int i = from; i < e->n; i++) {
            const st_event *r = &e->ev[i];
            int p = type == POOL_EVENT_SENTINEL_LOST ? r->old_port : r->new_port;
            if (r->type == type && (port == 0 || (port > 0 && p == port) || (port < 0 && p != -port))) {
                pthread_mutex_unlock(&e->mu);
                return i;
            }
        }
        from = e->n;
        if (pthread_cond_timedwait(&e->cv, &e->mu, &ts) == ETIMEDOUT) {
            for (int i = from; i < e->n; i++) { /* one last look */
                const st_event *r = &e->ev[i];
                int p = type == POOL_EVENT_SENTINEL_LOST ? r->old_port : r->new_port;
                if (r->type == type &&
                    (port == 0 || (port > 0 && p == port) || (port < 0 && p != -port))) {
                    pthread_mutex_unlock(&e->mu);
                    return i;
                }
            }
            pthread_mutex_unlock(&e->mu);
            return -1;
        }
    }
}

/* Number of events of a type in [from, n). */
static inline int st_count_events(st_events *e, int from, pool_event_type_t type)
{
    int k = 0;
    pthread_mutex_lock(&e->mu);
    for (int i = from; i < e->n; i++)
        k += e->ev[i].type == type;
    pthread_mutex_unlock(&e->mu);
    return k;
}

/* ---- Options ---------------------------------------------------------------- */

typedef struct st_pool_cfg {
    pool_options_t o;
    char sentinels[512];
    fx_tls_client tls; /* the file names o points at when the topology is TLS */
} st_pool_cfg;

/* Options for the topology's master through all its sentinels, with the
 * event recorder and a stderr log. On a TLS topology (SENTINEL_POOL_TEST_TLS)
 * everything goes over TLS, verified against its CA, with the client
 * certificate. */
static inline void st_pool_cfg_init(st_pool_cfg *cfg, const fx_topology *t, st_events *ev)
{
    pool_options_init(&cfg->o);
    if (fx_sentinels_string(t, cfg->sentinels, sizeof(cfg->sentinels)) != 0)
        fail_msg("fx_sentinels_string failed");
    cfg->o.master_name = t->master_name;
    cfg->o.sentinels = cfg->sentinels;
    cfg->o.event_fn = st_event_fn;
    cfg->o.event_userdata = ev;
    cfg->o.log_fn = st_log_fn;
    cfg->o.log_level = st_is_verbose() ? POOL_LOG_DEBUG : POOL_LOG_WARN;
    cfg->o.checkout_timeout_ms = 5000;
    const char *tls_dir = fx_topology_tls_dir(t);
    if (tls_dir != NULL) {
        if (fx_tls_client_paths(tls_dir, &cfg->tls) != 0)
            fail_msg("fx_tls_client_paths(%s) failed", tls_dir);
        cfg->o.tls = 1;
        cfg->o.sentinel_tls = 1;
        cfg->o.tls_ca_file = cfg->tls.ca;
        cfg->o.tls_cert_file = cfg->tls.cert;
        cfg->o.tls_key_file = cfg->tls.key;
    }
}

/* ---- What a node or connection is ------------------------------------------ */

/* "run_id:" out of an INFO server text; 0 or -1. */
static inline int st_info_run_id(const char *info, char out[64])
{
    const char *p = info ? strstr(info, "run_id:") : NULL;
    if (p == NULL)
        return -1;
    p += strlen("run_id:");
    size_t n = strcspn(p, "\r\n");
    if (n == 0 || n >= 64)
        return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

/* The run_id of a fixture node (asked on a fresh connection). */
static inline void st_node_run_id(const fx_node *n, char out[64])
{
    redisReply *r = fx_cmd(n, "INFO server");
    if (r == NULL || r->type != REDIS_REPLY_STRING || st_info_run_id(r->str, out) != 0)
        fail_msg("INFO server on port %d failed", n->port);
    freeReplyObject(r);
}

/* The run_id of the server behind a borrowed connection. */
static inline int st_conn_run_id(redisContext *c, char out[64])
{
    redisReply *r = redisCommand(c, "INFO server");
    int rc = (r != NULL && r->type == REDIS_REPLY_STRING) ? st_info_run_id(r->str, out) : -1;
    if (r != NULL)
        freeReplyObject(r);
    return rc;
}

/* ROLE's first word on a borrowed connection: 'm', 'r' or 0. */
static inline char st_conn_role(redisContext *c)
{
    redisReply *r = redisCommand(c, "ROLE");
    char role = 0;
    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
        r->element[0]->type == REDIS_REPLY_STRING) {
        if (strcmp(r->element[0]->str, "master") == 0)
            role = 'm';
        else if (strcmp(r->element[0]->str, "slave") == 0)
            role = 'r';
    }
    if (r != NULL)
        freeReplyObject(r);
    return role;
}

/* Borrow `count` connections at once (count <= 64) and check that every one
 * is on node n: the port, ROLE master, and n's run_id. Puts them back. */
static inline void st_assert_writers_on(pool_t *p, const fx_node *n, int count)
{
    char want[64], got[64];
    redisContext *cs[64] = {NULL};
    st_node_run_id(n, want);
    for (int i = 0; i < count && i < 64; i++) {
        ST_ASSERT_OK(pool_get_writer(p, &cs[i]));
        if (cs[i]->tcp.port != n->port)
            fail_msg("writer #%d is on port %d, want %d", i, cs[i]->tcp.port, n->port);
        char role = st_conn_role(cs[i]);
        if (role != 'm')
            fail_msg("writer #%d on port %d: ROLE says '%c', want master", i, n->port,
                     role ? role : '?');
        if (st_conn_run_id(cs[i], got) != 0 || strcmp(got, want) != 0)
            fail_msg("writer #%d: run_id %s, want %s (port %d)", i, got, want, n->port);
    }
    for (int i = 0; i < count && i < 64; i++)
        pool_put(p, cs[i]);
}

/* The data node index listening on port, or -1. */
static inline int st_data_index(const fx_topology *t, int port)
{
    for (int i = 0; i < t->n_data; i++)
        if (t->data[i].port == port)
            return i;
    return -1;
}

static inline pool_stats_t st_stats(pool_t *p)
{
    pool_stats_t s;
    ST_ASSERT_OK(pool_stats(p, &s));
    return s;
}

/* Check a SWITCH_MASTER event: old -> new address and the generation. */
static inline void st_assert_switch(const st_event *e, int old_port, int new_port,
                                    uint64_t generation)
{
    if (e->type != POOL_EVENT_SWITCH_MASTER)
        fail_msg("event type %s, want SWITCH_MASTER", pool_event_name(e->type));
    if (old_port > 0 && (strcmp(e->old_host, "127.0.0.1") != 0 || e->old_port != old_port))
        fail_msg("switch old address %s:%d, want 127.0.0.1:%d", e->old_host, e->old_port,
                 old_port);
    if (old_port == 0 && e->old_host[0] != '\0')
        fail_msg("first switch has old address %s:%d, want none", e->old_host, e->old_port);
    if (strcmp(e->new_host, "127.0.0.1") != 0 || e->new_port != new_port)
        fail_msg("switch new address %s:%d, want 127.0.0.1:%d", e->new_host, e->new_port,
                 new_port);
    if (generation != 0 && e->generation != generation)
        fail_msg("switch generation %llu, want %llu", (unsigned long long)e->generation,
                 (unsigned long long)generation);
}

/* ---- A prober: borrows a writer every few ms and notes where it landed ------ */

#define ST_PROBE_MAX 256

typedef struct st_prober {
    pool_t *pool;
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    int stop;
    int last_port;
    int ntrans;
    struct {
        int64_t t_ns; /* when pool_get_writer returned */
        int port;     /* where it landed */
    } trans[ST_PROBE_MAX];
    long ok, errors;
    /* Optional external stop condition (for a thread the test joins). */
    int (*stop_fn)(void *arg);
    void *stop_arg;
} st_prober;

static inline void *st_prober_main(void *arg)
{
    st_prober *pr = arg;
    for (;;) {
        pthread_mutex_lock(&pr->mu);
        int stop = pr->stop;
        pthread_mutex_unlock(&pr->mu);
        if (stop || (pr->stop_fn != NULL && pr->stop_fn(pr->stop_arg)))
            break;
        redisContext *c = NULL;
        int rc = pool_get_writer(pr->pool, &c);
        int64_t t = st_now_ns();
        pthread_mutex_lock(&pr->mu);
        if (rc == 0) {
            pr->ok++;
            if (c->tcp.port != pr->last_port && pr->ntrans < ST_PROBE_MAX) {
                pr->trans[pr->ntrans].t_ns = t;
                pr->trans[pr->ntrans].port = c->tcp.port;
                pr->ntrans++;
                pr->last_port = c->tcp.port;
            }
        } else {
            pr->errors++;
        }
        pthread_mutex_unlock(&pr->mu);
        if (rc == 0) {
            redisReply *r = redisCommand(c, "PING");
            if (r != NULL)
                freeReplyObject(r);
            pool_put(pr->pool, c);
        }
        fx_sleep_ms(2);
    }
    return NULL;
}

static inline void st_prober_start(st_prober *pr, pool_t *p)
{
    memset(pr, 0, sizeof(*pr));
    pr->pool = p;
    pthread_mutex_init(&pr->mu, NULL);
    if (pthread_create(&pr->thread, NULL, st_prober_main, pr) != 0)
        fail_msg("pthread_create failed");
    pr->started = 1;
}

static inline void st_prober_stop(st_prober *pr)
{
    if (!pr->started)
        return;
    pthread_mutex_lock(&pr->mu);
    pr->stop = 1;
    pthread_mutex_unlock(&pr->mu);
    pthread_join(pr->thread, NULL);
    pthread_mutex_destroy(&pr->mu);
    pr->started = 0;
}

/* First time at or after after_ns that the prober got a writer on port;
 * -1 if never. */
static inline int64_t st_prober_first_on(st_prober *pr, int port, int64_t after_ns)
{
    int64_t t = -1;
    pthread_mutex_lock(&pr->mu);
    for (int i = 0; i < pr->ntrans && t < 0; i++)
        if (pr->trans[i].port == port && pr->trans[i].t_ns >= after_ns)
            t = pr->trans[i].t_ns;
    pthread_mutex_unlock(&pr->mu);
    return t;
}

/* Wait until the prober got a writer on port (after after_ns); -1 on timeout. */
static inline int64_t st_prober_wait_on(st_prober *pr, int port, int64_t after_ns, int timeout_ms)
{
    int64_t deadline = st_now_ns() + (int64_t)timeout_ms * 1000000;
    for (;;) {
        int64_t t = st_prober_first_on(pr, port, after_ns);
        if (t >= 0 || st_now_ns() >= deadline)
            return t;
        fx_sleep_ms(5);
    }
}

/* One line per failover for the report: grep MEASURE. */
static inline void st_measure(const char *what, int64_t trigger_ns, int64_t switch_ns,
                              int64_t first_writer_ns)
{
    fprintf(stderr, "MEASURE %s: trigger->switch event %.1f ms, trigger->first writer on new "
                    "master %.1f ms\n",
            what, switch_ns >= 0 ? st_ms(switch_ns - trigger_ns) : -1.0,
            first_writer_ns >= 0 ? st_ms(first_writer_ns - trigger_ns) : -1.0);
}

#endif
