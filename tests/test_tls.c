/* test_tls.c: TLS to data nodes and to sentinels, against real TLS-only
 * redis-server and redis-sentinel processes with certificates made at run
 * time (tests/support/make-certs.sh): what works, and what each bad
 * certificate, silent peer or plaintext mix-up returns and logs.
 *
 * In a build without TLS (Debian 12: hiredis 0.14 has no hiredis_ssl) only
 * the first case runs: asking for TLS must fail with POOL_ENOTLS.
 *
 * Time bounds: connect_timeout_ms is 1000 here; "quick" means within
 * 3000 ms, generous for valgrind and a loaded machine, and far below the
 * checkout timeout (10 s) a retrying pool would use up. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "fx_assert.h"
#include "sentinel_pool.h"

#define QUICK_MS 3000

/* ---- Log recorder: what the pool said, to check it names the reason ---- */

typedef struct log_rec {
    pthread_mutex_t mu;
    char text[16384];
    size_t len;
} log_rec;

static log_rec logs = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void on_log(void *ud, pool_log_level_t level, const char *msg)
{
    log_rec *l = ud;
    if (getenv("TEST_TLS_VERBOSE") != NULL)
        fprintf(stderr, "# pool[%d]: %s\n", (int)level, msg);
    pthread_mutex_lock(&l->mu);
    int n = snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s\n", msg);
    if (n > 0 && (size_t)n < sizeof(l->text) - l->len)
        l->len += (size_t)n;
    pthread_mutex_unlock(&l->mu);
}

static void logs_clear(void)
{
    pthread_mutex_lock(&logs.mu);
    logs.len = 0;
    logs.text[0] = '\0';
    pthread_mutex_unlock(&logs.mu);
}

static void assert_logged(const char *needle)
{
    pthread_mutex_lock(&logs.mu);
    int found = strstr(logs.text, needle) != NULL;
    pthread_mutex_unlock(&logs.mu);
    if (!found)
        fail_msg("the log does not say \"%s\"; it says:\n%s", needle, logs.text);
}

/* ---- Servers ---------------------------------------------------------------- */

static char certs[256];
static char ca[300], client_crt[300], client_key[300], server_key[300], server_crt[300];

/* Started on demand, stopped by the group teardown. */
static fx_node tls_node;   /* server.crt, no client certificate needed */
static fx_node mtls_node;  /* server.crt, tls-auth-clients yes */
static fx_node plain_node; /* no TLS */
static fx_node extra;      /* one test's own server; stopped by the teardowns too, so a
                              failed assertion leaves no process or directory behind */

static int start_tls(fx_node *n, const char *cert, const char *key, int auth_clients)
{
    fx_tls t = {.dir = certs, .cert = cert, .key = key, .auth_clients = auth_clients};
    fx_redis_opts o = {.tls = &t};
    return fx_redis_start(n, &o);
}

static void path_in_certs(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", certs, name);
}

static int setup_servers(void **state)
{
    (void)state;
    if (fx_tls_make_certs(certs, sizeof(certs)) != 0)
        return -1;
    path_in_certs(ca, sizeof(ca), "ca.crt");
    path_in_certs(client_crt, sizeof(client_crt), "client.crt");
    path_in_certs(client_key, sizeof(client_key), "client.key");
    path_in_certs(server_crt, sizeof(server_crt), "server.crt");
    path_in_certs(server_key, sizeof(server_key), "server.key");
    if (start_tls(&tls_node, NULL, NULL, 0) != 0 || start_tls(&mtls_node, NULL, NULL, 1) != 0 ||
        fx_redis_start(&plain_node, NULL) != 0)
        return -1;
    return 0;
}

static int teardown_servers(void **state)
{
    (void)state;
    fx_node_stop(&tls_node);
    fx_node_stop(&mtls_node);
    fx_node_stop(&plain_node);
    fx_node_stop(&extra);
    fx_tls_remove_certs(certs);
    return 0;
}

/* ---- Pools ----------------------------------------------------------------- */

static char addr_buf[64];

static const char *addr_of(int port)
{
    snprintf(addr_buf, sizeof(addr_buf), "127.0.0.1:%d", port);
    return addr_buf;
}

/* Options for a TLS pool on the node at port: trusts ca.crt, no client
 * certificate, quick timeouts, the log recorded. */
static pool_options_t tls_opts(int port)
{
    pool_options_t o;
    pool_options_init(&o);
    o.master_addr = addr_of(port);
    o.tls = 1;
    o.tls_ca_file = ca;
    o.connect_timeout_ms = 1000;
    o.checkout_timeout_ms = 10000;
    o.log_fn = on_log;
    o.log_userdata = &logs;
    return o;
}

static void set_get(redisContext *c, const char *key, const char *value)
{
    redisReply *r = redisCommand(c, "SET %s %s", key, value);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    r = redisCommand(c, "GET %s", key);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, value);
    freeReplyObject(r);
}

/* pool_get_writer()'s result and how long it took. */
static int get_timed(pool_t *p, redisContext **c, int64_t *took_ms)
{
    int64_t t0 = fx_now_ms();
    int rc = pool_get_writer(p, c);
    *took_ms = fx_now_ms() - t0;
    return rc;
}

/* A pool with o that creates, lends a connection that writes and reads
 * key, and takes it back. */
static void expect_works(pool_options_t o, const char *key)
{
    pool_t *p = NULL;
    assert_rc(0, pool_create(&o, &p));
    redisContext *c = NULL;
    assert_rc(0, pool_get_writer(p, &c));
    set_get(c, key, "ok");
    pool_put(p, c);
    pool_destroy(p);
}

/* A master_addr pool with o whose first checkout must fail with want
 * within lo..hi ms, and log needle. */
static void expect_failure_in(pool_options_t o, int want, int64_t lo, int64_t hi,
                              const char *needle)
{
    logs_clear();
    pool_t *p = NULL;
    assert_rc(0, pool_create(&o, &p));
    redisContext *c = NULL;
    int64_t took = 0;
    assert_rc(want, get_timed(p, &c, &took));
    assert_null(c);
    if (took < lo || took > hi)
        fail_msg("failing took %lld ms, want %lld..%lld", (long long)took, (long long)lo,
                 (long long)hi);
    assert_logged(needle);
    assert_true(stats(p).created == 0);
    pool_destroy(p);
}

/* A refusal retrying cannot change: at the first attempt, not after the
 * checkout timeout (10 s). */
static void expect_refused(pool_options_t o, int want, const char *needle)
{
    expect_failure_in(o, want, 0, QUICK_MS, needle);
}

/* A peer that never answers the handshake: each attempt ends at the connect
 * deadline (1000 ms), the checkout retries until its own (2000 ms) and
 * says it could not connect, like a silent plaintext node. */
static void expect_no_answer(int port)
{
    pool_options_t o = tls_opts(port);
    o.checkout_timeout_ms = 2000;
    expect_failure_in(o, POOL_ECONNECT, 1900, 2000 + QUICK_MS, "no handshake answer");
}

/* ---- Without TLS in the build ---------------------------------------------- */

static void test_tls_unavailable_refused(void **state)
{
    (void)state;
    pool_options_t o;
    pool_options_init(&o);
    o.master_addr = "127.0.0.1:6379";
    o.tls = 1;
    o.log_fn = on_log;
    o.log_userdata = &logs;
    logs_clear();
    pool_t *p = NULL;
    assert_rc(POOL_ENOTLS, pool_create(&o, &p));
    assert_null(p);
    assert_logged("no TLS");
    o.tls = 0;
    o.master_addr = NULL;
    o.master_name = "mymaster";
    o.sentinels = "127.0.0.1:26379";
    o.sentinel_tls = 1;
    o.lazy_start = 1;
    assert_rc(POOL_ENOTLS, pool_create(&o, &p));
    assert_null(p);
}

/* ---- Options ---------------------------------------------------------------- */

static void test_bad_tls_options(void **state)
{
    (void)state;
    pool_t *p = NULL;
    pool_options_t o = tls_opts(tls_node.port);
    o.tls_ca_file = "/nonexistent/ca.crt";
    assert_rc(POOL_EINVAL, pool_create(&o, &p));

    o = tls_opts(tls_node.port);
    o.tls_cert_file = client_crt; /* no key */
    assert_rc(POOL_EINVAL, pool_create(&o, &p));

    o = tls_opts(tls_node.port);
    o.tls_cert_file = client_crt;
    o.tls_key_file = server_key; /* another certificate's key */
    logs_clear();
    assert_rc(POOL_EINVAL, pool_create(&o, &p));
    assert_logged("tls_key_file");

    o = tls_opts(tls_node.port);
    o.sentinel_tls = 1; /* master_addr has no sentinels */
    assert_rc(POOL_EINVAL, pool_create(&o, &p));

    o = tls_opts(tls_node.port);
    o.tls = 2;
    assert_rc(POOL_EINVAL, pool_create(&o, &p));

    o = tls_opts(tls_node.port);
    o.tls = 0; /* a CA file but no TLS: a mistake, not plaintext */
    logs_clear();
    assert_rc(POOL_EINVAL, pool_create(&o, &p));
    assert_logged("neither tls nor sentinel_tls");

    o = tls_opts(tls_node.port);
    o.tls_server_name = "bad name";
    assert_rc(POOL_EINVAL, pool_create(&o, &p));
    assert_null(p);
}

/* ---- Working connections ---------------------------------------------------- */

/* Writes and reads over TLS, every checkout validated with ROLE and PING
 * (the library's own round trips over TLS); idle connections are reused
 * although the server's TLS 1.3 session tickets wait unread on them. */
static void test_tls_roundtrips_and_reuse(void **state)
{
    (void)state;
    pool_options_t o = tls_opts(tls_node.port);
    o.validate = POOL_VALIDATE_ALWAYS;
    o.health_check_ping = 1;
    pool_t *p = NULL;
    assert_rc(0, pool_create(&o, &p));
    for (int i = 0; i < 20; i++) {
        redisContext *c = NULL;
        assert_rc(0, pool_get_writer(p, &c));
        char v[32];
        snprintf(v, sizeof(v), "v%d", i);
        set_get(c, "tls:key", v);
        pool_put(p, c);
        if (i == 10)
            fx_sleep_ms(200);
    }
    /* A value over many TLS records both ways. */
    size_t big_len = 1 << 20;
    char *big = malloc(big_len + 1);
    assert_non_null(big);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)('a' + i % 26);
    big[big_len] = '\0';
    redisContext *c = NULL;
    assert_rc(0, pool_get_writer(p, &c));
    set_get(c, "tls:big", big);
    pool_put(p, c);
    free(big);

    pool_stats_t st = stats(p);
    assert_true(st.created == 1);
    assert_true(st.checkouts == 21);
    assert_true(st.validations >= 21);
    assert_true(st.health_failures == 0);
    assert_true(st.evicted_broken == 0);
    pool_destroy(p);
}

/* One configured name for every node: the certificate names localhost, the
 * pool connects to 127.0.0.1 and checks "localhost". */
static void test_tls_server_name(void **state)
{
    (void)state;
    pool_options_t o = tls_opts(tls_node.port);
    o.tls_server_name = "localhost";
    expect_works(o, "tls:name");
}

/* A borrowed TLS connection the server drops: the holder's next call fails
 * cleanly (no crash, no hang), put closes it, the next checkout works. */
static void test_tls_connection_killed_under_holder(void **state)
{
    (void)state;
    pool_options_t o = tls_opts(tls_node.port);
    o.client_name = "tls-victim";
    pool_t *p = NULL;
    assert_rc(0, pool_create(&o, &p));
    redisContext *c = NULL;
    assert_rc(0, pool_get_writer(p, &c));
    redisReply *k = fx_cmd(&tls_node, "CLIENT KILL TYPE normal SKIPME yes");
    assert_non_null(k);
    freeReplyObject(k);
    redisReply *r = redisCommand(c, "PING");
    assert_null(r);
    assert_true(c->err != 0);
    pool_put(p, c);
    assert_rc(0, pool_get_writer(p, &c));
    set_get(c, "tls:after-kill", "ok");
    pool_put(p, c);
    assert_true(stats(p).evicted_broken == 1);
    pool_destroy(p);
}

/* The write hook chains to hiredis_ssl's write: a borrower's SELECT and
 * open MULTI over TLS are seen and reset on put like over plaintext. */
static void test_tls_borrower_state_reset(void **state)
{
    (void)state;
    pool_options_t o = tls_opts(tls_node.port);
    o.max_connections = 1;
    pool_t *p = NULL;
    assert_rc(0, pool_create(&o, &p));
    redisContext *c = NULL;
    assert_rc(0, pool_get_writer(p, &c));
    redisReply *r = redisCommand(c, "CLIENT ID");
    assert_non_null(r);
    long long id = r->integer;
    freeReplyObject(r);
    r = redisCommand(c, "SELECT 5");
    assert_non_null(r);
    freeReplyObject(r);
    r = redisCommand(c, "MULTI");
    assert_non_null(r);
    freeReplyObject(r);
    pool_put(p, c);
    pool_stats_t st = stats(p);
    assert_int_equal(st.resets, 1);
    assert_int_equal(st.reset_database, 1);
    assert_int_equal(st.reset_transaction, 1);
    assert_rc(0, pool_get_writer(p, &c));
    r = redisCommand(c, "CLIENT INFO");
    assert_non_null(r);
    assert_non_null(strstr(r->str, " db=0 "));
    assert_non_null(strstr(r->str, " flags=N ")); /* no MULTI open (Valkey 8 says multi=0) */
    char want[32];
    snprintf(want, sizeof(want), "id=%lld ", id);
    assert_true(strncmp(r->str, want, strlen(want)) == 0); /* reset, not reopened */
    freeReplyObject(r);
    set_get(c, "tls:after-reset", "ok");
    pool_put(p, c);
    pool_destroy(p);
}

/* ---- Mutual TLS ------------------------------------------------------------- */

static void test_mutual_tls(void **state)
{
    (void)state;
    pool_options_t o = tls_opts(mtls_node.port);
    o.tls_cert_file = client_crt;
    o.tls_key_file = client_key;
    expect_works(o, "tls:mutual");

    /* Without the client certificate: refused by the server, once, fast. */
    expect_refused(tls_opts(mtls_node.port), POOL_ETLS, "certificate required");
}

/* ---- Certificates the pool must refuse --------------------------------------- */

static void refuse_cert(const char *cert, const char *key, const char *needle)
{
    assert_int_equal(start_tls(&extra, cert, key, 0), 0);
    expect_refused(tls_opts(extra.port), POOL_ECERT, needle);
    fx_node_stop(&extra);
}

static void test_wrong_ca_refused(void **state)
{
    (void)state;
    refuse_cert("other-server.crt", "other-server.key", "unable to get local issuer certificate");
}

static void test_expired_refused(void **state)
{
    (void)state;
    refuse_cert("expired.crt", "expired.key", "certificate has expired");
}

/* Signed by our CA, for another name: the name check is the library's. */
static void test_name_mismatch_refused(void **state)
{
    (void)state;
    assert_int_equal(start_tls(&extra, "wrong-name.crt", "wrong-name.key", 0), 0);
    expect_refused(tls_opts(extra.port), POOL_ECERT, "IP address mismatch");
    pool_options_t o = tls_opts(extra.port);
    o.tls_server_name = "localhost";
    expect_refused(o, POOL_ECERT, "hostname mismatch");
    /* The name it does carry is accepted: only the name was wrong. */
    o.tls_server_name = "wrong.example";
    expect_works(o, "tls:wrong-name");
    fx_node_stop(&extra);
}

/* tls_skip_verify accepts even the expired certificate (tests only). */
static void test_skip_verify(void **state)
{
    (void)state;
    assert_int_equal(start_tls(&extra, "expired.crt", "expired.key", 0), 0);
    pool_options_t o = tls_opts(extra.port);
    o.tls_skip_verify = 1;
    expect_works(o, "tls:skip-verify");
    fx_node_stop(&extra);
}

/* ---- Peers that do not speak TLS ---------------------------------------------- */

/* Accepts TCP (or leaves it in the backlog), never answers the
 * ClientHello: no attempt outlives the connect deadline. */
static void test_silent_peer_within_deadline(void **state)
{
    (void)state;
    fx_fake f;
    assert_int_equal(fx_fake_start(&f, NULL, 0), 0);
    expect_no_answer(f.port);
    assert_true(fx_fake_connections(&f) >= 2); /* it did retry */
    fx_fake_stop(&f);

    assert_int_equal(fx_fake_start_ex(&f, NULL, 0, FX_FAKE_NO_ACCEPT), 0);
    expect_no_answer(f.port);
    fx_fake_stop(&f);
}

/* TLS asked of a plaintext server: Redis reads the ClientHello as an
 * inline command and waits for its end of line, which a ClientHello has
 * only by chance; when it has one, Redis answers "-ERR ...", which is no
 * TLS record. Either way the attempt fails within the connect deadline and
 * the log names TLS; the checkout then fails as for a node not answering,
 * or at once as a broken handshake. */
static void test_tls_to_plaintext_server(void **state)
{
    (void)state;
    pool_options_t o = tls_opts(plain_node.port);
    o.checkout_timeout_ms = 2000;
    logs_clear();
    pool_t *p = NULL;
    assert_rc(0, pool_create(&o, &p));
    redisContext *c = NULL;
    int64_t took = 0;
    int rc = get_timed(p, &c, &took);
    if (rc != POOL_ECONNECT && rc != POOL_ETLS)
        fail_msg("got %s, want POOL_ECONNECT or POOL_ETLS", pool_err_name(rc));
    assert_true(took <= 2000 + QUICK_MS);
    assert_logged("TLS to 127.0.0.1:");
    assert_true(stats(p).created == 0);
    pool_destroy(p);
}

/* Plaintext asked of a TLS-only server: it resets the connection; the
 * pool says it could not connect and hints at TLS. */
static void test_plaintext_to_tls_server(void **state)
{
    (void)state;
    pool_options_t o = tls_opts(tls_node.port);
    o.tls = 0;
    o.tls_ca_file = NULL;
    o.checkout_timeout_ms = 500;
    logs_clear();
    pool_t *p = NULL;
    assert_rc(0, pool_create(&o, &p));
    redisContext *c = NULL;
    assert_rc(POOL_ECONNECT, pool_get_writer(p, &c));
    assert_logged("a TLS-only port?");
    pool_destroy(p);
}

/* ---- Sentinels over TLS ------------------------------------------------------- */

static fx_topology topo;
static int topo_up;

static int setup_topology(void **state)
{
    if (setup_servers(state) != 0)
        return -1;
    fx_tls t = {.dir = certs};
    fx_topology_opts to;
    memset(&to, 0, sizeof(to));
    to.tls = &t;
    to.n_replicas = 2;
    to.ping_period_ms = 300;
    if (fx_topology_start(&topo, &to) != 0)
        return -1;
    topo_up = 1;
    return 0;
}

static int teardown_topology(void **state)
{
    if (topo_up)
        fx_topology_stop(&topo);
    topo_up = 0;
    return teardown_servers(state);
}

static char sentinel_list[256];

static pool_options_t sentinel_opts(void)
{
    pool_options_t o = tls_opts(0);
    o.master_addr = NULL;
    if (fx_sentinels_string(&topo, sentinel_list, sizeof(sentinel_list)) != 0)
        fail_msg("fx_sentinels_string");
    o.master_name = topo.master_name;
    o.sentinels = sentinel_list;
    o.sentinel_tls = 1;
    o.tls_cert_file = client_crt;
    o.tls_key_file = client_key;
    o.sentinel_poll_ms = 200;
    o.max_readers = 4;
    return o;
}

/* Everything over TLS: the sentinels' answers, their +switch-master
 * subscription, ROLE checks, writers, readers; then a graceful failover
 * moves the writers to the new master, and a connection borrowed across it
 * is cut without crashing or hanging its holder. */
static void test_sentinel_tls_failover(void **state)
{
    (void)state;
    pool_options_t o = sentinel_opts();
    pool_t *p = NULL;
    assert_rc(0, pool_create(&o, &p));
    redisContext *c = NULL;
    assert_rc(0, pool_get_writer(p, &c));
    set_get(c, "tls:sentinel", "before");
    pool_put(p, c);
    redisContext *rd = NULL;
    int rc = POOL_ENOREPLICA;
    for (int i = 0; i < 50 && rc != 0; i++) {
        rc = pool_get_reader(p, &rd);
        if (rc != 0)
            fx_sleep_ms(100);
    }
    assert_rc(0, rc);
    redisReply *r = redisCommand(rd, "ROLE");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_string_equal(r->element[0]->str, "slave");
    freeReplyObject(r);
    pool_put(p, rd);

    int old = fx_topology_master_index(&topo);
    assert_true(old >= 0);
    redisContext *held = NULL;
    assert_rc(0, pool_get_writer(p, &held));
    assert_int_equal(fx_sentinel_failover(&topo, 0), 0);
    int now = fx_wait_master_change(&topo, old, 30000);
    assert_true(now >= 0 && now != old);

    /* The pool follows: a checkout lands on the new master. */
    int64_t until = fx_now_ms() + 15000;
    int port = 0;
    while (fx_now_ms() < until) {
        char host[64];
        if (pool_current_master(p, host, sizeof(host), &port, NULL) == 0 &&
            port == topo.data[now].port)
            break;
        fx_sleep_ms(50);
    }
    assert_int_equal(port, topo.data[now].port);
    assert_rc(0, pool_get_writer(p, &c));
    set_get(c, "tls:sentinel", "after");
    pool_put(p, c);

    /* The connection borrowed under the old master was cut. */
    r = redisCommand(held, "SET tls:held x");
    if (r != NULL) {
        /* only if the reply beat the cut: then it must have been refused */
        assert_int_equal(r->type, REDIS_REPLY_ERROR);
        freeReplyObject(r);
    } else {
        assert_true(held->err != 0);
    }
    pool_put(p, held);
    pool_destroy(p);
}

/* Sentinels that require a client certificate refuse a pool without one:
 * pool_create says POOL_ETLS (every sentinel failed TLS), quickly. */
static void test_sentinel_mutual_tls_required(void **state)
{
    (void)state;
    fx_tls t = {.dir = certs, .auth_clients = 1};
    fx_sentinel_opts so;
    memset(&so, 0, sizeof(so));
    so.master_port = mtls_node.port;
    so.quorum = 1;
    so.tls = &t;
    fx_node *s = &extra;
    assert_int_equal(fx_sentinel_start(s, &so), 0);
    pool_options_t o = tls_opts(0);
    o.master_addr = NULL;
    char list[64];
    snprintf(list, sizeof(list), "127.0.0.1:%d", s->port);
    o.master_name = "mymaster";
    o.sentinels = list;
    o.sentinel_tls = 1;
    logs_clear();
    pool_t *p = NULL;
    int64_t t0 = fx_now_ms();
    assert_rc(POOL_ETLS, pool_create(&o, &p));
    assert_true(fx_now_ms() - t0 <= QUICK_MS);
    assert_logged("certificate required");

    /* With it, the sentinel answers and names the (mutual TLS) master. */
    o.tls_cert_file = client_crt;
    o.tls_key_file = client_key;
    expect_works(o, "tls:sentinel-mutual");
    fx_node_stop(s);
}

/* Plaintext asked of TLS sentinels: POOL_ENOSENTINEL, with the hint. */
static void test_plaintext_to_tls_sentinels(void **state)
{
    (void)state;
    pool_options_t o = sentinel_opts();
    o.sentinel_tls = 0;
    logs_clear();
    pool_t *p = NULL;
    assert_rc(POOL_ENOSENTINEL, pool_create(&o, &p));
    assert_logged("sentinel_tls = 1?");
}

int main(void)
{
    if (!pool_tls_available()) {
        printf("# this build has no TLS (no hiredis_ssl): only the POOL_ENOTLS case runs\n");
        const struct CMUnitTest without[] = {
            cmocka_unit_test(test_tls_unavailable_refused),
        };
        return cmocka_run_group_tests_name("tls (unavailable)", without, NULL, NULL);
    }
    const struct CMUnitTest nodes[] = {
        cmocka_unit_test(test_bad_tls_options),
        cmocka_unit_test(test_tls_roundtrips_and_reuse),
        cmocka_unit_test(test_tls_server_name),
        cmocka_unit_test(test_tls_connection_killed_under_holder),
        cmocka_unit_test(test_tls_borrower_state_reset),
        cmocka_unit_test(test_mutual_tls),
        cmocka_unit_test(test_wrong_ca_refused),
        cmocka_unit_test(test_expired_refused),
        cmocka_unit_test(test_name_mismatch_refused),
        cmocka_unit_test(test_skip_verify),
        cmocka_unit_test(test_silent_peer_within_deadline),
        cmocka_unit_test(test_tls_to_plaintext_server),
        cmocka_unit_test(test_plaintext_to_tls_server),
    };
    const struct CMUnitTest sentinels[] = {
        cmocka_unit_test(test_sentinel_tls_failover),
        cmocka_unit_test(test_sentinel_mutual_tls_required),
        cmocka_unit_test(test_plaintext_to_tls_sentinels),
    };
    int failed = cmocka_run_group_tests_name("tls nodes", nodes, setup_servers, teardown_servers);
    failed += cmocka_run_group_tests_name("tls sentinels", sentinels, setup_topology,
                                          teardown_topology);
    return failed;
}
