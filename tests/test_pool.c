/* The pool core against real redis-server processes: checkout and return,
 * exclusivity under threads, timeouts, broken connections, READONLY marks,
 * ROLE policies, idle eviction, auth, shutdown, reply limits, SIGPIPE and
 * writer generations. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "fx_assert.h"
#include "pool/pool_internal.h"
#include "proto/sentinel_parse.h"
#include "sentinel_pool.h"

static fx_node master;  /* plain master */
static fx_node replica; /* REPLICAOF master */
static fx_node other;   /* a second, unrelated master */
static fx_node secured; /* requirepass + ACL users */

static void addr_of(const fx_node *n, char *buf, size_t len)
{
    snprintf(buf, len, "127.0.0.1:%d", n->port);
}

static pool_t *make_pool(const fx_node *n, void (*tweak)(pool_options_t *))
{
    char addr[64];
    addr_of(n, addr, sizeof(addr));
    pool_options_t o;
    pool_options_init(&o);
    o.master_addr = addr;
    o.client_name = "spool-test";
    o.checkout_timeout_ms = 1000;
    if (tweak != NULL)
        tweak(&o);
    pool_t *p = NULL;
    int rc = pool_create(&o, &p);
    if (rc != 0)
        fail_msg("pool_create: %s", pool_err_name(rc));
    return p;
}

static long long client_id(redisContext *c)
{
    redisReply *r = redisCommand(c, "CLIENT ID");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long id = r->integer;
    freeReplyObject(r);
    return id;
}

static void kill_client(const fx_node *n, long long id)
{
    redisReply *r = fx_cmd(n, "CLIENT KILL ID %lld", id);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
}

static int setup(void **state)
{
    (void)state;
    fx_redis_opts ro = {0};
    if (fx_redis_start(&master, NULL) != 0 || fx_redis_start(&other, NULL) != 0)
        return -1;
    ro.replicaof_host = "127.0.0.1";
    ro.replicaof_port = master.port;
    if (fx_redis_start(&replica, &ro) != 0)
        return -1;
    fx_redis_opts so = {0};
    so.requirepass = "s3cret";
    so.acl_users = "user app on >apppw ~* &* +@all\n"
                   "user norole on >nrpw ~* &* +@all -role";
    if (fx_redis_start(&secured, &so) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fx_node_stop(&master);
    fx_node_stop(&replica);
    fx_node_stop(&other);
    fx_node_stop(&secured);
    return 0;
}

/* ---- Options and errors ---------------------------------------------------- */

static void test_bad_options(void **state)
{
    (void)state;
    pool_t *p = (pool_t *)0x1;
    pool_options_t o;
    assert_rc(POOL_EINVAL, pool_create(NULL, &p));
    assert_null(p);
    pool_options_init(&o);
    assert_rc(POOL_EINVAL, pool_create(&o, NULL));
    assert_rc(POOL_EINVAL, pool_create(&o, &p)); /* no master at all */
    assert_null(p);

    const char *bad_addrs[] = {"", "localhost", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
                               "::1:6379", "[::1", "host:port", " : ", "a:1,b:2"};
    for (size_t i = 0; i < sizeof(bad_addrs) / sizeof(bad_addrs[0]); i++) {
        pool_options_init(&o);
        o.master_addr = bad_addrs[i];
        int rc = pool_create(&o, &p);
        if (rc != POOL_EINVAL)
            fail_msg("master_addr \"%s\": got %s", bad_addrs[i], pool_err_name(rc));
    }
    pool_options_init(&o);
    o.master_addr = "127.0.0.1:1";
    o.max_connections = 0;
    assert_rc(POOL_EINVAL, pool_create(&o, &p));
    o.max_connections = -3;
    assert_rc(POOL_EINVAL, pool_create(&o, &p));
    o.max_connections = 4;
    o.min_idle = 5;
    assert_rc(POOL_EINVAL, pool_create(&o, &p));
    o.min_idle = 0;
    o.connect_timeout_ms = 0;
    assert_rc(POOL_EINVAL, pool_create(&o, &p));
    o.connect_timeout_ms = 100;
    o.validate = (pool_validate_t)7;
    assert_rc(POOL_EINVAL, pool_create(&o, &p));
    o.validate = POOL_VALIDATE_NEVER;
    o.username = "u"; /* a user without a password */
    assert_rc(POOL_EINVAL, pool_create(&o, &p));
    o.username = NULL;
    o.sentinels = "127.0.0.1:26379"; /* both static and sentinel */
    o.master_name = "mymaster";
    assert_rc(POOL_EINVAL, pool_create(&o, &p));
    o.master_addr = NULL;
    o.master_name = "";
    assert_rc(POOL_EINVAL, pool_create(&o, &p));
    o.master_name = "my master";
    assert_rc(POOL_EINVAL, pool_create(&o, &p));
    o.master_name = "mymaster";
    o.sentinels = "127.0.0.1:26379,,127.0.0.1:26380";
    assert_rc(POOL_EINVAL, pool_create(&o, &p));
    o.sentinels = "";
    assert_rc(POOL_EINVAL, pool_create(&o, &p));
    assert_null(p);

    pool_destroy(NULL);
    pool_put(NULL, NULL);
    redisContext *c = (redisContext *)0x1;
    assert_rc(POOL_EINVAL, pool_get_writer(NULL, &c));
    assert_null(c);
    assert_rc(POOL_EINVAL, pool_stats(NULL, NULL));
    assert_string_equal(pool_strerror(12345), "unknown error");
    assert_string_equal(pool_err_name(-9999), "POOL_UNKNOWN");
    assert_string_equal(pool_err_name(POOL_ETIMEDOUT), "POOL_ETIMEDOUT");
    assert_string_equal(pool_strerror(0), "success");
    assert_string_equal(pool_version(), "0.1.0");
    assert_string_equal(pool_event_name(POOL_EVENT_SWITCH_MASTER), "SWITCH_MASTER");
    assert_string_equal(pool_event_name((pool_event_type_t)99), "UNKNOWN");
}

/* Every byte of a caller-allocated struct is the library's to fill (header,
 * "ABI"): the reserves come back zero whatever the caller's memory held, so
 * a field carved out of them later reads 0 in a program built before it. */
static int all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return 0;
    return 1;
}

static void test_abi_reserves(void **state)
{
    (void)state;
    pool_options_t o;
    memset(&o, 0xa5, sizeof(o));
    pool_options_init(&o);
    assert_true(all_zero(o.reserved, sizeof(o.reserved)));

    o.master_addr = "127.0.0.1:1"; /* nothing is contacted before a checkout */
    pool_t *p = NULL;
    assert_rc(0, pool_create(&o, &p));
    pool_stats_t st;
    memset(&st, 0xa5, sizeof(st));
    assert_rc(0, pool_stats(p, &st));
    assert_true(all_zero(st.reserved, sizeof(st.reserved)));
    assert_int_equal(st.in_use, 0);
    pool_destroy(p);

    pool_options_init(&o);
    o.sentinels = "127.0.0.1:1"; /* a set contacts no sentinel until a pool joins */
    pool_sentinel_set_t *set = NULL;
    assert_rc(0, pool_sentinel_set_create(&o, &set));
    pool_sentinel_set_stats_t ss;
    memset(&ss, 0xa5, sizeof(ss));
    assert_rc(0, pool_sentinel_set_stats(set, &ss));
    assert_true(all_zero(ss.reserved, sizeof(ss.reserved)));
    assert_int_equal(ss.pools, 0);
    assert_rc(POOL_EINVAL, pool_sentinel_set_stats(set, NULL));
    assert_rc(POOL_EINVAL, pool_sentinel_set_stats(NULL, &ss));
    pool_sentinel_set_release(set);
}

static void note_error(void *userdata, pool_log_level_t level, const char *msg)
{
    if (level == POOL_LOG_ERROR)
        snprintf(userdata, 256, "%s", msg);
}

/* One rule for master names: pool_create() accepts exactly the names whose
 * events the parsers understand (sp_valid_name), so no accepted name falls
 * back to polling; a refused one says why in the log. */
static void test_master_name_rule(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int valid;
    } t[] = {
        {"mymaster", 1},
        {"mym\xc3\xa4ster", 1},     /* UTF-8, as SENTINEL MONITOR takes it */
        {"\xe6\x97\xa5\xe6\x9c\xac", 1}, /* UTF-8, no ASCII at all */
        {"caf\xe9", 1},              /* Latin-1: bytes, not text */
        {"my-master_1.a:b", 1},
        {"", 0},
        {"my master", 0},
        {"my\tmaster", 0},
        {"my\x7fmaster", 0},
        {"my\x01master", 0},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (sp_valid_name(t[i].name, strlen(t[i].name)) != t[i].valid)
            fail_msg("sp_valid_name(\"%s\") != %d: the parsers' rule changed", t[i].name,
                     t[i].valid);
        char logged[256] = "";
        pool_options_t o;
        pool_options_init(&o);
        o.master_name = t[i].name;
        o.sentinels = "127.0.0.1:1";
        o.lazy_start = 1; /* no sentinel there: create succeeds all the same */
        o.log_fn = note_error;
        o.log_userdata = logged;
        pool_t *p = NULL;
        int rc = pool_create(&o, &p);
        if (rc != (t[i].valid ? 0 : POOL_EINVAL))
            fail_msg("master_name #%zu \"%s\": got %s, want %s", i, t[i].name, pool_err_name(rc),
                     t[i].valid ? "0" : "POOL_EINVAL");
        if (!t[i].valid && strstr(logged, "master_name") == NULL)
            fail_msg("master_name #%zu refused without a log line naming it (log: \"%s\")", i,
                     logged);
        pool_destroy(p);
    }
}

/* ---- Basics ---------------------------------------------------------------- */

static void test_get_put_reuse(void **state)
{
    (void)state;
    pool_t *p = make_pool(&master, NULL);
    redisContext *c1 = NULL, *c2 = NULL;
    assert_rc(0, pool_get_writer(p, &c1));
    redisReply *r = redisCommand(c1, "SET spool:basic hello");
    assert_non_null(r);
    assert_string_equal(r->str, "OK");
    freeReplyObject(r);
    r = redisCommand(c1, "CLIENT GETNAME");
    assert_non_null(r);
    assert_string_equal(r->str, "spool-test");
    freeReplyObject(r);
    pool_put(p, c1);
    assert_rc(0, pool_get_writer(p, &c2));
    assert_ptr_equal(c1, c2); /* reused, not reopened */
    pool_put(p, c2);
    pool_put(p, c2); /* double put: logged and ignored */
    pool_stats_t st = stats(p);
    assert_int_equal(st.created, 1);
    assert_int_equal(st.checkouts, 2);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.idle, 1);
    assert_int_equal(st.generation, 1);
    char host[64];
    int port = 0;
    uint64_t gen = 0;
    assert_rc(0, pool_current_master(p, host, sizeof(host), &port, &gen));
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, master.port);
    pool_destroy(p);
}

/* ---- Concurrency: every borrowed connection is exclusive ------------------ */

#define THREADS 16
#define ITERS 400

typedef struct {
    pool_t *pool;
    pthread_mutex_t mu;
    redisContext *held[THREADS];
    int violations, errors;
} share_t;

static void *worker(void *arg)
{
    share_t *sh = ((void **)arg)[0];
    int me = (int)(intptr_t)((void **)arg)[1];
    for (int i = 0; i < ITERS; i++) {
        redisContext *c = NULL;
        if (pool_get_writer(sh->pool, &c) != 0) {
            __atomic_add_fetch(&sh->errors, 1, __ATOMIC_RELAXED);
            continue;
        }
        pthread_mutex_lock(&sh->mu);
        for (int t = 0; t < THREADS; t++)
            if (sh->held[t] == c)
                sh->violations++;
        sh->held[me] = c;
        pthread_mutex_unlock(&sh->mu);
        if (i % 50 == 0) {
            redisReply *r = redisCommand(c, "INCR spool:conc");
            if (r == NULL || r->type != REDIS_REPLY_INTEGER)
                __atomic_add_fetch(&sh->errors, 1, __ATOMIC_RELAXED);
            if (r != NULL)
                freeReplyObject(r);
        }
        pthread_mutex_lock(&sh->mu);
        sh->held[me] = NULL;
        pthread_mutex_unlock(&sh->mu);
        pool_put(sh->pool, c);
    }
    return NULL;
}

static void small_pool(pool_options_t *o)
{
    o->max_connections = 4;
    o->checkout_timeout_ms = 10000;
}

static void test_concurrency_exclusive(void **state)
{
    (void)state;
    share_t sh = {.pool = make_pool(&master, small_pool)};
    pthread_mutex_init(&sh.mu, NULL);
    pthread_t th[THREADS];
    void *args[THREADS][2];
    for (int i = 0; i < THREADS; i++) {
        args[i][0] = &sh;
        args[i][1] = (void *)(intptr_t)i;
        assert_int_equal(pthread_create(&th[i], NULL, worker, args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    pool_stats_t st = stats(sh.pool);
    assert_int_equal(sh.violations, 0);
    assert_int_equal(sh.errors, 0);
    assert_int_equal(st.checkouts, THREADS * ITERS);
    assert_true(st.created <= 4);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.created - st.closed, st.idle);
    pool_destroy(sh.pool);
    pthread_mutex_destroy(&sh.mu);
}

/* ---- Timeouts -------------------------------------------------------------- */

static void one_conn_200ms(pool_options_t *o)
{
    o->max_connections = 1;
    o->checkout_timeout_ms = 200;
}

static void test_checkout_timeout(void **state)
{
    (void)state;
    pool_t *p = make_pool(&master, one_conn_200ms);
    redisContext *c = NULL, *c2 = NULL;
    assert_rc(0, pool_get_writer(p, &c));
    int64_t t0 = fx_now_ms();
    assert_rc(POOL_ETIMEDOUT, pool_get_writer(p, &c2));
    int64_t waited = fx_now_ms() - t0;
    assert_null(c2);
    assert_true(waited >= 190); /* it waited, it did not spin out at once */
    assert_true(waited < 5000); /* and it did not hang */
    pool_stats_t st = stats(p);
    assert_int_equal(st.checkout_timeouts, 1);
    assert_int_equal(st.waits, 1);
    pool_put(p, c);
    pool_destroy(p);
}

static void dead_port(pool_options_t *o)
{
    static char addr[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", fx_free_port());
    o->master_addr = addr;
    o->checkout_timeout_ms = 300;
}

static void test_connect_refused(void **state)
{
    (void)state;
    pool_t *p = make_pool(&master, dead_port);
    redisContext *c = NULL;
    int64_t t0 = fx_now_ms();
    assert_rc(POOL_ECONNECT, pool_get_writer(p, &c));
    assert_true(fx_now_ms() - t0 < 3000);
    assert_true(stats(p).connect_failures >= 1);
    pool_destroy(p);
}

/* ---- Broken connections ---------------------------------------------------- */

static void test_broken_replaced(void **state)
{
    (void)state;
    pool_t *p = make_pool(&master, NULL);
    redisContext *c = NULL;
    assert_rc(0, pool_get_writer(p, &c));
    long long id = client_id(c);
    pool_put(p, c);
    kill_client(&master, id); /* killed while idle in the pool */
    fx_sleep_ms(30);
    assert_rc(0, pool_get_writer(p, &c));
    assert_true(client_id(c) != id); /* transparently replaced */
    pool_stats_t st = stats(p);
    assert_int_equal(st.health_failures, 1);
    assert_int_equal(st.evicted_broken, 1);
    assert_int_equal(st.created, 2);

    /* Killed while borrowed: the caller sees the error, put closes it. */
    kill_client(&master, client_id(c));
    redisReply *r = redisCommand(c, "PING");
    if (r != NULL)
        freeReplyObject(r);
    assert_true(c->err != 0);
    pool_put(p, c);
    st = stats(p);
    assert_int_equal(st.evicted_broken, 2);
    assert_int_equal(st.idle, 0);
    pool_destroy(p);
}

static void test_leftover_replies_not_reused(void **state)
{
    (void)state;
    pool_t *p = make_pool(&master, NULL);
    redisContext *c = NULL;
    assert_rc(0, pool_get_writer(p, &c));
    assert_int_equal(redisAppendCommand(c, "PING"), REDIS_OK); /* never sent, never read */
    pool_put(p, c);
    assert_int_equal(stats(p).evicted_broken, 1);
    assert_rc(0, pool_get_writer(p, &c));
    assert_int_equal(redisAppendCommand(c, "PING"), REDIS_OK);
    int done = 0;
    while (!done)
        assert_int_equal(redisBufferWrite(c, &done), REDIS_OK);
    fx_sleep_ms(20);
    void *reply = NULL;
    assert_int_equal(redisBufferRead(c), REDIS_OK); /* reply buffered but not taken */
    (void)reply;
    pool_put(p, c);
    assert_int_equal(stats(p).evicted_broken, 2);
    pool_destroy(p);
}

/* ---- READONLY and ROLE ----------------------------------------------------- */

static void never_validate(pool_options_t *o) { o->validate = POOL_VALIDATE_NEVER; }

static void test_readonly_marked(void **state)
{
    (void)state;
    pool_t *p = make_pool(&replica, never_validate);
    redisContext *c = NULL;
    assert_rc(0, pool_get_writer(p, &c)); /* NEVER: the pool trusts its view */
    redisReply *r = redisCommand(c, "SET spool:ro x");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_true(strncmp(r->str, "READONLY", 8) == 0);
    freeReplyObject(r);
    assert_int_equal(c->err, 0); /* the context itself is fine... */
    pool_put(p, c);              /* ...but it is never reused */
    pool_stats_t st = stats(p);
    assert_int_equal(st.evicted_readonly, 1);
    assert_int_equal(st.readonly_replies, 1);
    assert_int_equal(st.idle, 0);
    assert_int_equal(st.closed, 1);
    pool_destroy(p);
}

static void always_validate(pool_options_t *o)
{
    o->validate = POOL_VALIDATE_ALWAYS;
    o->checkout_timeout_ms = 300;
}

static void test_role_policy(void **state)
{
    (void)state;
    /* ALWAYS against a replica: never handed out. */
    pool_t *p = make_pool(&replica, always_validate);
    redisContext *c = NULL;
    assert_rc(POOL_ENOTMASTER, pool_get_writer(p, &c));
    assert_null(c);
    pool_stats_t st = stats(p);
    assert_true(st.validation_failures >= 1);
    assert_int_equal(st.validations, st.validation_failures);
    pool_destroy(p);

    /* The default (IDLE) validates every new connection. */
    p = make_pool(&replica, NULL);
    assert_rc(POOL_ENOTMASTER, pool_get_writer(p, &c));
    pool_destroy(p);

    /* ALWAYS against the master: one ROLE per checkout. */
    p = make_pool(&master, always_validate);
    for (int i = 0; i < 3; i++) {
        assert_rc(0, pool_get_writer(p, &c));
        pool_put(p, c);
    }
    st = stats(p);
    assert_int_equal(st.validations, 1 + 2); /* at connect, then each reuse */
    assert_int_equal(st.validation_failures, 0);
    pool_destroy(p);

    /* NEVER: no ROLE at all. */
    p = make_pool(&master, never_validate);
    assert_rc(0, pool_get_writer(p, &c));
    pool_put(p, c);
    assert_int_equal(stats(p).validations, 0);
    pool_destroy(p);
}

static void idle_window_50(pool_options_t *o)
{
    o->validate = POOL_VALIDATE_IDLE;
    o->validate_idle_ms = 50;
}

static void test_role_idle_window(void **state)
{
    (void)state;
    pool_t *p = make_pool(&master, idle_window_50);
    redisContext *c = NULL;
    assert_rc(0, pool_get_writer(p, &c));
    pool_put(p, c);
    assert_rc(0, pool_get_writer(p, &c)); /* reused at once: no ROLE */
    pool_put(p, c);
    assert_int_equal(stats(p).validations, 1);
    fx_sleep_ms(120);
    assert_rc(0, pool_get_writer(p, &c)); /* idle past the window: ROLE */
    pool_put(p, c);
    assert_int_equal(stats(p).validations, 2);
    pool_destroy(p);
}

/* ---- Auth ---------------------------------------------------------------- */

static const char *g_user, *g_pass;
static void creds(pool_options_t *o)
{
    o->username = g_user;
    o->password = g_pass;
    o->checkout_timeout_ms = 500;
}

static int try_auth(const char *user, const char *pass, int validate_always)
{
    g_user = user;
    g_pass = pass;
    pool_t *p = make_pool(&secured, creds);
    redisContext *c = NULL;
    int rc = pool_get_writer(p, &c);
    if (rc == 0 && validate_always) {
        pool_put(p, c);
        rc = pool_get_writer(p, &c);
    }
    if (rc == 0) {
        redisReply *r = redisCommand(c, "SET spool:auth 1");
        if (r == NULL || r->type == REDIS_REPLY_ERROR)
            rc = -100;
        if (r != NULL)
            freeReplyObject(r);
        pool_put(p, c);
    }
    pool_destroy(p);
    return rc;
}

static void test_auth(void **state)
{
    (void)state;
    assert_rc(0, try_auth(NULL, "s3cret", 0));
    assert_rc(POOL_EAUTH, try_auth(NULL, "wrong", 0));
    assert_rc(POOL_EAUTH, try_auth(NULL, NULL, 0)); /* NOAUTH */
    assert_rc(0, try_auth("app", "apppw", 0));
    assert_rc(POOL_EAUTH, try_auth("app", "nope", 0));
    assert_rc(POOL_EAUTH, try_auth("ghost", "apppw", 0));
}

static void norole_always(pool_options_t *o)
{
    o->username = "norole";
    o->password = "nrpw";
    o->validate = POOL_VALIDATE_ALWAYS;
}

static void test_role_denied_falls_back_to_info(void **state)
{
    (void)state;
    pool_t *p = make_pool(&secured, norole_always);
    redisContext *c = NULL;
    for (int i = 0; i < 3; i++) {
        assert_rc(0, pool_get_writer(p, &c));
        pool_put(p, c);
    }
    pool_stats_t st = stats(p);
    assert_int_equal(st.validations, 3);
    assert_int_equal(st.validation_failures, 0);
    assert_int_equal(st.created, 1);
    pool_destroy(p);
}

/* ---- Idle eviction and min_idle -------------------------------------------- */

static void idle_100(pool_options_t *o) { o->idle_timeout_ms = 100; }
static void idle_100_min_2(pool_options_t *o)
{
    o->idle_timeout_ms = 100;
    o->min_idle = 2;
}

static void test_idle_eviction(void **state)
{
    (void)state;
    pool_t *p = make_pool(&master, idle_100);
    redisContext *c[3];
    for (int i = 0; i < 3; i++)
        assert_rc(0, pool_get_writer(p, &c[i]));
    for (int i = 0; i < 3; i++)
        pool_put(p, c[i]);
    assert_int_equal(stats(p).idle, 3);
    fx_sleep_ms(600);
    pool_stats_t st = stats(p);
    assert_int_equal(st.evicted_idle, 3);
    assert_int_equal(st.idle, 0);
    pool_destroy(p);

    p = make_pool(&master, idle_100_min_2);
    fx_sleep_ms(600); /* the housekeeper opens min_idle connections by itself */
    st = stats(p);
    assert_int_equal(st.idle, 2);
    for (int i = 0; i < 3; i++)
        assert_rc(0, pool_get_writer(p, &c[i]));
    for (int i = 0; i < 3; i++)
        pool_put(p, c[i]);
    fx_sleep_ms(600);
    st = stats(p);
    assert_int_equal(st.idle, 2); /* evicted down to min_idle, not below */
    assert_true(st.evicted_idle >= 1);
    pool_destroy(p);
}

/* ---- Shutdown ------------------------------------------------------------ */

typedef struct {
    pool_t *pool;
    int rc;
    int64_t returned_ms;
} waiter_t;

static void *waiter(void *arg)
{
    waiter_t *w = arg;
    redisContext *c = NULL;
    w->rc = pool_get_writer(w->pool, &c);
    w->returned_ms = fx_now_ms();
    if (c != NULL)
        pool_put(w->pool, c);
    return NULL;
}

static void one_conn_long_wait(pool_options_t *o)
{
    o->max_connections = 1;
    o->checkout_timeout_ms = 20000;
}

static void test_destroy_with_waiters(void **state)
{
    (void)state;
    pool_t *p = make_pool(&master, one_conn_long_wait);
    redisContext *held = NULL;
    assert_rc(0, pool_get_writer(p, &held));
    waiter_t w[6];
    pthread_t th[6];
    for (int i = 0; i < 6; i++) {
        w[i] = (waiter_t){.pool = p};
        assert_int_equal(pthread_create(&th[i], NULL, waiter, &w[i]), 0);
    }
    fx_sleep_ms(200);
    assert_int_equal(stats(p).waits, 6);
    int64_t t0 = fx_now_ms();
    pool_destroy(p);
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        assert_rc(POOL_ESHUTDOWN, w[i].rc);
        assert_true(w[i].returned_ms - t0 < 2000);
    }
    /* The borrowed connection still works, and put closes it and frees the
     * pool (valgrind checks nothing leaks). */
    redisReply *r = redisCommand(held, "PING");
    assert_non_null(r);
    freeReplyObject(r);
    pool_put(p, held);
}

/* ---- Reply limits ---------------------------------------------------------- */

static void small_limits(pool_options_t *o)
{
    o->max_reply_elements = 10;
    o->max_reply_bulk = 1000;
}

/* Waiters that hold nothing: the writer is unknown (fenced), so they sleep
 * without a slot. pool_destroy() must not free the pool under them (ASan and
 * valgrind see the use after free this once was). */
static void test_destroy_with_slotless_waiters(void **state)
{
    (void)state;
    pool_t *p = make_pool(&master, one_conn_long_wait);
    spool_writer_fence(p, "test");
    waiter_t w[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (waiter_t){.pool = p};
        assert_int_equal(pthread_create(&th[i], NULL, waiter, &w[i]), 0);
    }
    fx_sleep_ms(200);
    assert_int_equal(stats(p).in_use, 0);
    int64_t t0 = fx_now_ms();
    pool_destroy(p);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_rc(POOL_ESHUTDOWN, w[i].rc);
        assert_true(w[i].returned_ms - t0 < 2000);
    }
}

static void test_reply_limits(void **state)
{
    (void)state;
    redisReply *r = fx_cmd(&master, "DEL spool:list");
    freeReplyObject(r);
    for (int i = 0; i < 20; i++)
        freeReplyObject(fx_cmd(&master, "RPUSH spool:list %d", i));
    char big[5001];
    memset(big, 'x', 5000);
    big[5000] = '\0';
    freeReplyObject(fx_cmd(&master, "SET spool:big %s", big));

    pool_t *p = make_pool(&master, small_limits);
    redisContext *c = NULL;
    assert_rc(0, pool_get_writer(p, &c));
    r = redisCommand(c, "LRANGE spool:list 0 4"); /* 5 elements: fine */
    assert_non_null(r);
    assert_int_equal(r->elements, 5);
    freeReplyObject(r);
    r = redisCommand(c, "LRANGE spool:list 0 -1"); /* 20 elements: refused */
    assert_null(r);
    assert_true(c->err != 0);
    pool_put(p, c);
    assert_int_equal(stats(p).evicted_limit, 1);

    assert_rc(0, pool_get_writer(p, &c));
    r = redisCommand(c, "GET spool:big"); /* 5000 bytes > 1000 */
    assert_null(r);
    assert_true(c->err != 0);
    pool_put(p, c);
    assert_int_equal(stats(p).evicted_limit, 2);
    pool_destroy(p);
}

/* ---- SIGPIPE ------------------------------------------------------------- */

/* In a child: write twice to a connection the server killed. Exit 0 if the
 * process survives. */
static void note_sigpipe_warning(void *userdata, pool_log_level_t level, const char *msg)
{
    if (level == POOL_LOG_WARN && strstr(msg, "SIGPIPE") != NULL)
        *(int *)userdata = 1;
}

static pool_t *sigpipe_pool(pool_sigpipe_t mode, int *warned)
{
    char addr[64];
    addr_of(&master, addr, sizeof(addr));
    pool_options_t o;
    pool_options_init(&o); /* everything else at its default */
    o.master_addr = addr;
    o.sigpipe = mode;
    o.log_fn = note_sigpipe_warning;
    o.log_userdata = warned;
    pool_t *p = NULL;
    if (pool_create(&o, &p) != 0)
        _exit(3);
    /* The warning comes exactly when SIGPIPE stays fatal. */
    if (*warned != (mode == POOL_SIGPIPE_APP))
        _exit(7);
    return p;
}

/* In a child: SIGPIPE back at its default, a pool in that mode, one
 * writer borrowed. */
static redisContext *child_writer(pool_sigpipe_t mode, pool_t **p)
{
    signal(SIGPIPE, SIG_DFL);
    static int warned; /* the log callback's, for the child's life */
    *p = sigpipe_pool(mode, &warned);
    redisContext *c = NULL;
    if (pool_get_writer(*p, &c) != 0)
        _exit(4);
    return c;
}

static void sigpipe_child(pool_sigpipe_t mode)
{
    pool_t *p = NULL;
    redisContext *c = child_writer(mode, &p);
    redisReply *r = redisCommand(c, "CLIENT ID");
    if (r == NULL)
        _exit(5);
    redisContext *admin = redisConnect("127.0.0.1", master.port);
    redisReply *k = redisCommand(admin, "CLIENT KILL ID %lld", r->integer);
    freeReplyObject(k);
    freeReplyObject(r);
    redisFree(admin);
    fx_sleep_ms(50);
    /* Two writes without a read: the first draws a RST, the second EPIPE. */
    for (int i = 0; i < 2; i++) {
        int done = 0;
        if (redisAppendCommand(c, "SET spool:pipe %d", i) != REDIS_OK)
            _exit(6);
        while (!done && redisBufferWrite(c, &done) == REDIS_OK) {
        }
        fx_sleep_ms(50);
    }
    pool_put(p, c);
    pool_destroy(p);
    _exit(0);
}

static int run_child(void (*child)(pool_sigpipe_t), pool_sigpipe_t mode)
{
    pid_t pid = fork();
    if (pid == 0)
        child(mode);
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

static void test_sigpipe(void **state)
{
    (void)state;
    int status = run_child(sigpipe_child, POOL_SIGPIPE_PREVENT);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* Left to the application, the caller's write is the application's to
     * protect: this proves the test above can fail. */
    status = run_child(sigpipe_child, POOL_SIGPIPE_APP);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGPIPE);
}

/* 64 MiB to a server that stopped reading: the write blocks once the socket
 * buffers are full. Returns non-NULL when the command failed. */
static void *write_big(void *arg)
{
    redisContext *c = arg;
    size_t len = (size_t)64 << 20;
    char *big = malloc(len);
    if (big == NULL)
        return arg;
    memset(big, 'x', len);
    redisReply *r = redisCommand(c, "SET spool:big %b", big, len);
    free(big);
    if (r == NULL)
        return arg;
    freeReplyObject(r);
    return NULL;
}

/* In a child with SIGPIPE at SIG_DFL and default options: a writer blocked
 * mid-write when a writer change cuts its socket. Exit 0 when the write
 * failed and the process lived. */
static void blocked_writer_child(pool_sigpipe_t mode)
{
    pool_t *p = NULL;
    redisContext *c = child_writer(mode, &p);
    if (fx_node_sigstop(&master) != 0)
        _exit(5);
    pthread_t th;
    if (pthread_create(&th, NULL, write_big, c) != 0)
        _exit(6);
    fx_sleep_ms(300); /* well inside command_timeout_ms (2 s): blocked, not timed out */
    spool_writer_set(p, "127.0.0.1", other.port, "test: writer change");
    void *failed = NULL;
    pthread_join(th, &failed);
    fx_node_sigcont(&master);
    if (failed == NULL || c->err == 0)
        _exit(8);
    pool_put(p, c);
    pool_destroy(p);
    _exit(0);
}

static void test_sigpipe_blocked_writer_cut(void **state)
{
    (void)state;
    int status = run_child(blocked_writer_child, POOL_SIGPIPE_PREVENT);
    fx_node_sigcont(&master); /* whatever became of the child */
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* The control: without the library's protection the cut kills. */
    status = run_child(blocked_writer_child, POOL_SIGPIPE_APP);
    fx_node_sigcont(&master);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGPIPE);
    /* The master read 64 MiB it now throws away; let it settle. */
    redisReply *r = fx_cmd(&master, "PING");
    assert_non_null(r);
    freeReplyObject(r);
}

/* ---- Writer generations ------------------------------------------------------ */

static int port_of(redisContext *c)
{
    redisReply *r = redisCommand(c, "CONFIG GET port");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    int port = atoi(r->element[1]->str);
    freeReplyObject(r);
    return port;
}

static void test_generation_switch(void **state)
{
    (void)state;
    pool_t *p = make_pool(&master, NULL);
    redisContext *held = NULL, *c = NULL;
    assert_rc(0, pool_get_writer(p, &held));
    assert_rc(0, pool_get_writer(p, &c));
    pool_put(p, c); /* one idle, one borrowed, both generation 1 */

    assert_int_equal(spool_writer_set(p, "127.0.0.1", other.port, "test"), 2);
    pool_stats_t st = stats(p);
    assert_int_equal(st.generation, 2);
    assert_int_equal(st.evicted_stale, 1); /* the idle one, at once */
    assert_int_equal(st.idle, 0);
    pool_put(p, held); /* the borrowed one, on put */
    assert_int_equal(stats(p).evicted_stale, 2);
    assert_rc(0, pool_get_writer(p, &c));
    assert_int_equal(port_of(c), other.port);
    pool_put(p, c);

    /* Setting the same writer again changes nothing. */
    assert_int_equal(spool_writer_set(p, "127.0.0.1", other.port, "again"), 2);
    pool_destroy(p);
}

/* Writer changes racing with checkouts: the sweep claims borrowed slots to
 * cut them while workers take and return them. Under TSan this is the test
 * that sees a slot field read without owning the slot. */
typedef struct {
    pool_t *pool;
    atomic_int *stop;
    long got, errors, bad_port;
} churner_t;

static void *churner(void *arg)
{
    churner_t *ch = arg;
    while (!atomic_load(ch->stop)) {
        redisContext *c = NULL;
        int rc = pool_get_writer(ch->pool, &c);
        if (rc != 0) {
            ch->errors++;
            continue;
        }
        ch->got++;
        int port = c->tcp.port; /* no round trip: the socket may be cut */
        if (port != master.port && port != other.port)
            ch->bad_port++;
        redisReply *r = redisCommand(c, "PING");
        if (r != NULL)
            freeReplyObject(r);
        pool_put(ch->pool, c);
    }
    return NULL;
}

/* A cut socket answers the caller's next write with EPIPE; by default that
 * raises no SIGPIPE (the header's SIGPIPE notes). */

static void test_generation_churn(void **state)
{
    (void)state;
    pool_t *p = make_pool(&master, NULL);
    enum { NTHREADS = 4, FLIPS = 60 };
    atomic_int stop = 0;
    churner_t ch[NTHREADS];
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        ch[i] = (churner_t){.pool = p, .stop = &stop};
        assert_int_equal(pthread_create(&th[i], NULL, churner, &ch[i]), 0);
    }
    for (int i = 0; i < FLIPS; i++) {
        fx_sleep_ms(5);
        spool_writer_set(p, "127.0.0.1", (i % 2 == 0) ? other.port : master.port, "churn");
    }
    atomic_store(&stop, 1);
    long got = 0;
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        got += ch[i].got;
        assert_int_equal(ch[i].bad_port, 0);
    }
    pool_stats_t st = stats(p);
    assert_true(got > FLIPS);
    assert_int_equal(st.generation, 1 + FLIPS);
    assert_true(st.evicted_stale > 0);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.created - st.closed, st.idle);
    /* The last writer set is master (FLIPS is even): checkouts go there. */
    redisContext *c = NULL;
    assert_rc(0, pool_get_writer(p, &c));
    assert_int_equal(port_of(c), master.port);
    pool_put(p, c);
    pool_destroy(p);
}

typedef struct {
    pool_t *pool;
    int rc, port;
} fenced_t;

static void *fenced_waiter(void *arg)
{
    fenced_t *f = arg;
    redisContext *c = NULL;
    f->rc = pool_get_writer(f->pool, &c);
    if (c != NULL) {
        f->port = port_of(c);
        pool_put(f->pool, c);
    }
    return NULL;
}

static void long_wait(pool_options_t *o) { o->checkout_timeout_ms = 5000; }

static void test_fenced_waiter_gets_new_writer(void **state)
{
    (void)state;
    pool_t *p = make_pool(&master, long_wait);
    spool_writer_fence(p, "test");
    redisContext *c = NULL;
    char host[64];
    assert_rc(POOL_ENOMASTER, pool_current_master(p, host, sizeof(host), NULL, NULL));
    fenced_t f = {.pool = p};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, fenced_waiter, &f), 0);
    fx_sleep_ms(200);
    spool_writer_set(p, "127.0.0.1", other.port, "test");
    pthread_join(th, NULL);
    assert_rc(0, f.rc);
    assert_int_equal(f.port, other.port);
    (void)c;
    pool_destroy(p);
}

static void short_wait(pool_options_t *o) { o->checkout_timeout_ms = 200; }

static void test_fenced_times_out_no_master(void **state)
{
    (void)state;
    pool_t *p = make_pool(&master, short_wait);
    spool_writer_fence(p, "test");
    redisContext *c = NULL;
    assert_rc(POOL_ENOMASTER, pool_get_writer(p, &c));
    pool_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_abi_reserves),
        cmocka_unit_test(test_master_name_rule),
        cmocka_unit_test(test_get_put_reuse),
        cmocka_unit_test(test_concurrency_exclusive),
        cmocka_unit_test(test_checkout_timeout),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_broken_replaced),
        cmocka_unit_test(test_leftover_replies_not_reused),
        cmocka_unit_test(test_readonly_marked),
        cmocka_unit_test(test_role_policy),
        cmocka_unit_test(test_role_idle_window),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_role_denied_falls_back_to_info),
        cmocka_unit_test(test_idle_eviction),
        cmocka_unit_test(test_destroy_with_waiters),
        cmocka_unit_test(test_destroy_with_slotless_waiters),
        cmocka_unit_test(test_reply_limits),
        cmocka_unit_test(test_sigpipe),
        cmocka_unit_test(test_sigpipe_blocked_writer_cut),
        cmocka_unit_test(test_generation_switch),
        cmocka_unit_test(test_generation_churn),
        cmocka_unit_test(test_fenced_waiter_gets_new_writer),
        cmocka_unit_test(test_fenced_times_out_no_master),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
