/* test_hostile_sentinel.c: sentinels that misbehave. Fake sentinels with
 * malformed answers to get-master-addr-by-name (and the well-formed
 * control), a sentinel naming a replica, and every sentinel dying and coming
 * back around a failover. Each case asserts the exact error (by name), who
 * served, and that the pool's books balance; valgrind and ASan runs check
 * nothing leaks. Timings in here are upper bounds that prove "failed at
 * once, not by a timeout": each is well below the timeout it is compared
 * with. Real nodes: a master and its replica behind the fakes, and a
 * topology of its own for the last case. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "fx_assert.h"
#include "hostile_util.h"
#include "sentinel_pool.h"

static fx_node master;  /* a real master */
static fx_node replica; /* REPLICAOF master */

static int setup(void **state)
{
    (void)state;
    if (fx_redis_start(&master, NULL) != 0)
        return -1;
    fx_redis_opts ro = {0};
    ro.replicaof_host = "127.0.0.1";
    ro.replicaof_port = master.port;
    return fx_redis_start(&replica, &ro) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    fx_node_stop(&replica);
    fx_node_stop(&master);
    return 0;
}

/* ---- Fake sentinels with malformed answers --------------------------------- */

/* The library asks SENTINEL get-master-addr-by-name and SENTINEL sentinels
 * in one write (resolve.c ask_names), on a query connection it keeps: the
 * fake reads both commands, sends `first` and an empty sentinel list, and
 * does so again for every later pair on that connection. */
static void start_fake_sentinel(fx_fake *f, const char *first, size_t len)
{
    char *reply = malloc(len + 4);
    assert_non_null(reply);
    memcpy(reply, first, len);
    memcpy(reply + len, "*0\r\n", 4);
    fx_fake_step steps[] = {FX_READ, FX_READ, FX_SEND(reply, len + 4), FX_REPEAT};
    start_fake(f, steps, 4);
    free(reply); /* the fake keeps a copy */
}

/* pool_create() with the fake as the only sentinel; base: options to start
 * from (NULL: the defaults). */
static int create_on_sentinel(const fx_fake *f, int lazy, const pool_options_t *base, pool_t **p)
{
    char list[64];
    snprintf(list, sizeof(list), "127.0.0.1:%d", f->port);
    pool_options_t o;
    if (base != NULL)
        o = *base;
    else
        pool_options_init(&o);
    o.master_name = "mymaster";
    o.sentinels = list;
    o.lazy_start = lazy;
    *p = (pool_t *)0x1;
    int rc = pool_create(&o, p);
    if (rc != 0)
        assert_null(*p);
    return rc;
}

/* "*2\r\n$<n>\r\n<host>\r\n$<n>\r\n<port>\r\n" */
static int addr_reply(char *buf, size_t len, const char *host, const char *port)
{
    return snprintf(buf, len, "*2\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n", strlen(host), host,
                    strlen(port), port);
}

typedef struct bad_reply {
    const char *what;
    const char *bytes;
    size_t len; /* 0: strlen(bytes) */
    int want;
} bad_reply;

static void check_bad_sentinel_reply(const char *what, const char *bytes, size_t len, int want)
{
    fx_fake f;
    start_fake_sentinel(&f, bytes, len);
    pool_options_t o;
    pool_options_init(&o);
    /* Long enough that failing by the deadline is told apart from failing
     * at once on the malformed answer. */
    o.sentinel_timeout_ms = 4000;
    pool_t *p;
    int64_t t0 = fx_now_ms();
    int rc = create_on_sentinel(&f, 0, &o, &p);
    int64_t took = fx_now_ms() - t0;
    if (rc != want)
        fail_msg("%s: expected %s, got %s", what, pool_err_name(want), pool_err_name(rc));
    if (took >= 2000)
        fail_msg("%s: took %lld ms: waited for the deadline instead of refusing the reply", what,
                 (long long)took);
    assert_int_equal(fx_fake_connections(&f), 1);
    assert_int_equal(fx_fake_commands(&f), 2);
    fx_fake_stop(&f);
}

/* Everything that is not [host, port] from a sentinel fails pool_create():
 * POOL_EUNKNOWNMASTER for a nil or "No such master" (the sentinel answered
 * and does not know the name), else POOL_ENOSENTINEL (resolve.c sp_resolve
 * counts a sentinel whose answer cannot be used as not answering; the
 * POOL_EPROTO underneath is not surfaced). */
#define NUL_HOST "*2\r\n$5\r\nab\0cd\r\n$4\r\n6379\r\n"

static void test_sentinel_malformed_replies(void **state)
{
    (void)state;
    static const bad_reply cases[] = {
        {"garbage bytes", "@@@ not RESP @@@\r\n", 0, POOL_ENOSENTINEL},
        {"integer", ":42\r\n", 0, POOL_ENOSENTINEL},
        {"status", "+OK\r\n", 0, POOL_ENOSENTINEL},
        {"bulk string", "$9\r\n127.0.0.1\r\n", 0, POOL_ENOSENTINEL},
        {"nil bulk", "$-1\r\n", 0, POOL_EUNKNOWNMASTER},
        {"nil array", "*-1\r\n", 0, POOL_EUNKNOWNMASTER},
        {"no such master", "-ERR No such master with that name\r\n", 0, POOL_EUNKNOWNMASTER},
        {"other error", "-ERR something else\r\n", 0, POOL_ENOSENTINEL},
        {"empty array", "*0\r\n", 0, POOL_ENOSENTINEL},
        {"1-element array", "*1\r\n$9\r\n127.0.0.1\r\n", 0, POOL_ENOSENTINEL},
        {"3-element array", "*3\r\n$9\r\n127.0.0.1\r\n$4\r\n6379\r\n$1\r\nx\r\n", 0,
         POOL_ENOSENTINEL},
        {"port 0", "*2\r\n$9\r\n127.0.0.1\r\n$1\r\n0\r\n", 0, POOL_ENOSENTINEL},
        {"port 70000", "*2\r\n$9\r\n127.0.0.1\r\n$5\r\n70000\r\n", 0, POOL_ENOSENTINEL},
        {"port -1", "*2\r\n$9\r\n127.0.0.1\r\n$2\r\n-1\r\n", 0, POOL_ENOSENTINEL},
        {"port +80", "*2\r\n$9\r\n127.0.0.1\r\n$3\r\n+80\r\n", 0, POOL_ENOSENTINEL},
        {"port 6379x", "*2\r\n$9\r\n127.0.0.1\r\n$5\r\n6379x\r\n", 0, POOL_ENOSENTINEL},
        {"integer port 0", "*2\r\n$9\r\n127.0.0.1\r\n:0\r\n", 0, POOL_ENOSENTINEL},
        {"integer port 70000", "*2\r\n$9\r\n127.0.0.1\r\n:70000\r\n", 0, POOL_ENOSENTINEL},
        {"nil port", "*2\r\n$9\r\n127.0.0.1\r\n$-1\r\n", 0, POOL_ENOSENTINEL},
        {"empty host", "*2\r\n$0\r\n\r\n$4\r\n6379\r\n", 0, POOL_ENOSENTINEL},
        {"host with a space", "*2\r\n$5\r\na b.c\r\n$4\r\n6379\r\n", 0, POOL_ENOSENTINEL},
        {"host with a NUL", NUL_HOST, sizeof(NUL_HOST) - 1, POOL_ENOSENTINEL},
        {"integer host", "*2\r\n:1\r\n$4\r\n6379\r\n", 0, POOL_ENOSENTINEL},
        {"nested array host", "*2\r\n*1\r\n$1\r\na\r\n$4\r\n6379\r\n", 0, POOL_ENOSENTINEL},
        /* hiredis 0.14 would calloc 16 GiB for this and then wait for the
         * elements until the deadline: the library refuses it at once. */
        {"2147483647-element array", "*2147483647\r\n", 0, POOL_ENOSENTINEL},
        {"bad multibulk length", "*4294967297\r\n", 0, POOL_ENOSENTINEL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = cases[i].len != 0 ? cases[i].len : strlen(cases[i].bytes);
        check_bad_sentinel_reply(cases[i].what, cases[i].bytes, len, cases[i].want);
    }

    /* An address of 10 kB (a DNS name is at most 253 bytes). */
    size_t hl = 10 * 1024;
    char *host = malloc(hl + 1);
    char *buf = malloc(hl + 64);
    if (host == NULL || buf == NULL) {
        free(host);
        free(buf);
        fail_msg("out of memory");
        return;
    }
    memset(host, 'a', hl);
    host[hl] = '\0';
    size_t blen = hl + 64;
    int n = addr_reply(buf, blen, host, "6379");
    check_bad_sentinel_reply("10 kB host", buf, (size_t)n, POOL_ENOSENTINEL);
    /* 256 bytes is one too many for SPOOL_HOST_MAX. */
    host[256] = '\0';
    n = addr_reply(buf, blen, host, "6379");
    check_bad_sentinel_reply("256-byte host", buf, (size_t)n, POOL_ENOSENTINEL);
    free(buf);
    free(host);
}

/* Control for the table above: the same fake answering a well-formed
 * [host, port] naming the real master works. */
static void test_sentinel_wellformed_control(void **state)
{
    (void)state;
    char port[16], buf[128];
    snprintf(port, sizeof(port), "%d", master.port);
    int n = addr_reply(buf, sizeof(buf), "127.0.0.1", port);
    fx_fake f;
    start_fake_sentinel(&f, buf, (size_t)n);
    pool_t *p;
    assert_rc(0, create_on_sentinel(&f, 0, NULL, &p));
    redisContext *c = NULL;
    assert_rc(0, pool_get_writer(p, &c));
    assert_int_equal(c->tcp.port, master.port);
    pool_put(p, c);
    pool_stats_t st = stats(p);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.created, 1);
    assert_int_equal(st.generation, 1);
    pool_destroy(p);
    fx_fake_stop(&f);
}

/* ---- A sentinel naming a replica ------------------------------------------- */

static void start_fake_sentinel_naming(fx_fake *f, const fx_node *node)
{
    char port[16], buf[128];
    snprintf(port, sizeof(port), "%d", node->port);
    int n = addr_reply(buf, sizeof(buf), "127.0.0.1", port);
    start_fake_sentinel(f, buf, (size_t)n);
}

/* The named node's ROLE says slave: no writer, POOL_ENOTMASTER. */
static void test_sentinel_names_replica(void **state)
{
    (void)state;
    fx_fake f;
    start_fake_sentinel_naming(&f, &replica);
    pool_t *p;
    assert_rc(POOL_ENOTMASTER, create_on_sentinel(&f, 0, NULL, &p));
    /* It asked the sentinel again in case a failover was under way, on the
     * one query connection it keeps. */
    assert_true(fx_fake_commands(&f) >= 4);
    assert_int_equal(fx_fake_connections(&f), 1);
    fx_fake_stop(&f);
}

/* lazy_start: create succeeds, but no connection to the replica is ever
 * handed out; the checkout times out with "no master known". */
static void test_sentinel_names_replica_lazy(void **state)
{
    (void)state;
    fx_fake f;
    start_fake_sentinel_naming(&f, &replica);
    recorder rec;
    recorder_init(&rec);
    pool_options_t o;
    pool_options_init(&o);
    o.checkout_timeout_ms = 800;
    o.event_fn = on_event;
    o.event_userdata = &rec;
    pool_t *p;
    assert_rc(0, create_on_sentinel(&f, 1, &o, &p));
    /* The watcher asked the replica (ROLE) and refused it. */
    for (int i = 0; i < 250 && atomic_load(&rec.events[POOL_EVENT_VALIDATION_FAILED]) == 0; i++)
        fx_sleep_ms(20);
    assert_true(atomic_load(&rec.events[POOL_EVENT_VALIDATION_FAILED]) >= 1);
    redisContext *c = (redisContext *)0x1;
    assert_rc(POOL_ENOMASTER, pool_get_writer(p, &c));
    assert_null(c);
    assert_rc(POOL_ENOMASTER, pool_current_master(p, NULL, 0, NULL, NULL));
    pool_stats_t st = stats(p);
    assert_int_equal(st.generation, 0);
    assert_int_equal(st.created, 0);
    assert_int_equal(st.connect_failures, 0);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.checkout_timeouts, 1);
    assert_int_equal(atomic_load(&rec.events[POOL_EVENT_SWITCH_MASTER]), 0);
    pool_destroy(p);
    fx_fake_stop(&f);
    pthread_mutex_destroy(&rec.mu);
}

/* ---- Every sentinel down, then back, then a failover ------------------------ */

static int writer_port(pool_t *p, uint64_t *gen)
{
    int port = 0;
    if (pool_current_master(p, NULL, 0, &port, gen) != 0)
        return 0;
    return port;
}

/* Borrow, check the node's ROLE says master and that it takes a write. */
static void assert_writer_on(pool_t *p, const fx_node *node)
{
    redisContext *c = NULL;
    assert_rc(0, pool_get_writer(p, &c));
    assert_int_equal(c->tcp.port, node->port);
    redisReply *r = redisCommand(c, "ROLE");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_string_equal(r->element[0]->str, "master");
    freeReplyObject(r);
    r = redisCommand(c, "SET spool:hostile %d", node->port);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    pool_put(p, c);
}

static void test_all_sentinels_down_then_back(void **state)
{
    (void)state;
    fx_topology t;
    memset(&t, 0, sizeof(t));
    assert_int_equal(fx_topology_start(&t, NULL), 0);
    char sentinels[256];
    assert_int_equal(fx_sentinels_string(&t, sentinels, sizeof(sentinels)), 0);
    recorder rec;
    recorder_init(&rec);
    pool_options_t o;
    pool_options_init(&o);
    o.master_name = t.master_name;
    o.sentinels = sentinels;
    o.sentinel_timeout_ms = 300;
    o.sentinel_poll_ms = 200;
    o.event_fn = on_event;
    o.event_userdata = &rec;
    pool_t *p = NULL;
    assert_rc(0, pool_create(&o, &p));
    uint64_t gen0 = 0;
    assert_int_equal(writer_port(p, &gen0), t.data[0].port);
    assert_int_equal(gen0, 1);
    assert_writer_on(p, &t.data[0]);
    fx_sleep_ms(300); /* the watcher subscribes to all three */

    /* All three sentinels die. */
    for (int i = 0; i < t.n_sentinels; i++)
        assert_int_equal(fx_node_kill9(&t.sentinel[i]), 0);
    for (int i = 0; i < 250 && atomic_load(&rec.events[POOL_EVENT_SENTINEL_LOST]) < 3; i++)
        fx_sleep_ms(20);
    assert_int_equal(atomic_load(&rec.events[POOL_EVENT_SENTINEL_LOST]), 3);
    fx_sleep_ms(500); /* several failed resolutions (hot polls) later */

    /* The last verified writer stays in force: borrowed and new connections
     * alike go to data[0], no fence, no generation change. */
    redisContext *held = NULL;
    assert_rc(0, pool_get_writer(p, &held));
    assert_int_equal(held->tcp.port, t.data[0].port);
    assert_writer_on(p, &t.data[0]); /* a second connection, opened now */
    pool_put(p, held);
    uint64_t gen = 0;
    assert_int_equal(writer_port(p, &gen), t.data[0].port);
    assert_int_equal(gen, gen0);
    assert_int_equal(atomic_load(&rec.events[POOL_EVENT_MASTER_LOST]), 0);
    pool_stats_t st = stats(p);
    assert_int_equal(st.created, 2);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.connect_failures, 0);

    /* They come back; a failover follows; the pool follows it. */
    for (int i = 0; i < t.n_sentinels; i++)
        assert_int_equal(fx_node_restart(&t.sentinel[i]), 0);
    assert_int_equal(fx_wait_replicas_synced(&t, 30000), 0);
    int ok = 0;
    for (int i = 0; i < 50 && !ok; i++) {
        ok = fx_sentinel_failover(&t, 0) == 0;
        if (!ok)
            fx_sleep_ms(200);
    }
    assert_true(ok);
    int now = fx_wait_master_change(&t, 0, 30000);
    assert_true(now > 0);
    int port = 0;
    for (int i = 0; i < 500; i++) {
        port = writer_port(p, &gen);
        if (port == t.data[now].port)
            break;
        fx_sleep_ms(20);
    }
    assert_int_equal(port, t.data[now].port);
    assert_true(gen > gen0);
    assert_true(atomic_load(&rec.events[POOL_EVENT_SWITCH_MASTER]) >= 2);
    assert_writer_on(p, &t.data[now]);
    st = stats(p);
    assert_int_equal(st.in_use, 0);
    assert_true(st.evicted_stale >= 1); /* the connections to data[0] */
    pool_destroy(p);
    fx_topology_stop(&t);
    pthread_mutex_destroy(&rec.mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sentinel_malformed_replies),
        cmocka_unit_test(test_sentinel_wellformed_control),
        cmocka_unit_test(test_sentinel_names_replica),
        cmocka_unit_test(test_sentinel_names_replica_lazy),
        cmocka_unit_test(test_all_sentinels_down_then_back),
    };
    /* SPOOL_TEST_FILTER="test_x*" runs a subset (debugging, valgrind). */
    if (getenv("SPOOL_TEST_FILTER") != NULL)
        cmocka_set_test_filter(getenv("SPOOL_TEST_FILTER"));
    return cmocka_run_group_tests(tests, setup, teardown);
}
