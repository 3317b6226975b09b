/* test_deadlines.c: every wait the library does on the network ends by one
 * overall deadline, however a hostile peer behaves. Fake data nodes and fake
 * sentinels (tests/support fx_fake) that accept and never answer, or that
 * dribble a valid reply one byte every 400 ms (hiredis 0.14's per-recv()
 * socket timeout alone would let the 29-byte handshake reply below take
 * 11.6 s). Each case also has a control: the same script sent promptly works,
 * so a timeout is due to the dribbling, not to a malformed script.
 *
 * Bounds: the deadline is 1000 ms; the lower bound (>= 900 ms) shows the
 * library did wait for the peer, the upper bound (< 3000 ms) is generous
 * for a loaded machine and for valgrind, and far below what dribbling
 * would take without an overall deadline. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fixture.h"
#include "fx_assert.h"
#include "sentinel_pool.h"

/* Took between lo and hi ms, both inclusive. */
#define assert_took(ms, lo, hi)                                                                    \
    do {                                                                                           \
        int64_t took_ = (ms);                                                                      \
        if (took_ < (lo) || took_ > (hi))                                                          \
            fail_msg("took %lld ms, want %d..%d ms", (long long)took_, (lo), (hi));                \
    } while (0)

/* A real master, for the controls: a fake sentinel names it. */
static fx_node master;

/* The handshake reply a pool connection reads with the default options
 * (CLIENT SETNAME, then ROLE), 29 bytes: 11.6 s at 400 ms a byte. */
static const char handshake_reply[] = "+OK\r\n*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n";

static int setup(void **state)
{
    (void)state;
    return fx_redis_start(&master, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    fx_node_stop(&master);
    return 0;
}

static void start_fake(fx_fake *f, const fx_fake_step *steps, size_t n)
{
    memset(f, 0, sizeof(*f));
    assert_int_equal(fx_fake_start(f, steps, n), 0);
}

/* ---- Data nodes ------------------------------------------------------------ */

/* A static pool on the fake; default handshake (CLIENT SETNAME + ROLE). */
static pool_t *data_pool(const fx_fake *f, int connect_ms, int checkout_ms)
{
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->port);
    pool_options_t o;
    pool_options_init(&o);
    o.master_addr = addr;
    o.connect_timeout_ms = connect_ms;
    o.checkout_timeout_ms = checkout_ms;
    o.command_timeout_ms = 10000; /* the socket timeout must not be what ends the wait */
    pool_t *p = NULL;
    assert_rc(0, pool_create(&o, &p));
    return p;
}

/* pool_get_writer() on the fake: the rc, and how long it took in *ms. */
static int get_once(pool_t *p, int64_t *ms)
{
    redisContext *c = (redisContext *)0x1;
    int64_t t0 = fx_now_ms();
    int rc = pool_get_writer(p, &c);
    *ms = fx_now_ms() - t0;
    if (rc == 0)
        pool_put(p, c);
    else
        assert_null(c);
    return rc;
}

/* A handshake cut by the deadline is POOL_ECONNECT, like a TCP connect cut
 * by it (conn.c spool_conn_open): the node could not be connected to in
 * time. (POOL_ETIMEDOUT means no pooled connection came free.) The failed
 * attempt is counted, nothing is left open or borrowed. */
static void assert_handshake_timed_out(pool_t *p, fx_fake *f, int rc, int64_t ms)
{
    assert_rc(POOL_ECONNECT, rc);
    assert_took(ms, 900, 3000);
    pool_stats_t st = stats(p);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.idle, 0);
    assert_int_equal(st.created, 0);
    assert_int_equal(st.checkouts, 0);
    assert_int_equal(st.connect_failures, 1);
    assert_int_equal(st.checkout_timeouts, 1);
    assert_int_equal(fx_fake_connections(f), 1);
}

/* The handshake is one write: CLIENT SETNAME and ROLE together. */
static void assert_handshake_sent(fx_fake *f)
{
    char got[512];
    fx_fake_received(f, got, sizeof(got));
    assert_string_equal(got, "*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$13\r\nsentinel_pool\r\n"
                             "*1\r\n$4\r\nROLE\r\n");
}

static void test_data_node_hangs(void **state)
{
    (void)state;
    fx_fake f;
    fx_fake_step hang[] = {FX_HANG};
    start_fake(&f, hang, 1);
    pool_t *p = data_pool(&f, 1000, 1000);
    int64_t ms;
    int rc = get_once(p, &ms);
    assert_handshake_timed_out(p, &f, rc, ms);
    assert_handshake_sent(&f);
    pool_destroy(p);
    fx_fake_stop(&f);
}

/* Listening but never accepting: connect() completes in the kernel backlog,
 * so this too is a handshake that never gets an answer. */
static void test_data_node_never_accepts(void **state)
{
    (void)state;
    fx_fake f;
    memset(&f, 0, sizeof(f));
    assert_int_equal(fx_fake_start_ex(&f, NULL, 0, FX_FAKE_NO_ACCEPT), 0);
    pool_t *p = data_pool(&f, 1000, 1000);
    int64_t ms;
    int rc = get_once(p, &ms);
    assert_rc(POOL_ECONNECT, rc);
    assert_took(ms, 900, 3000);
    pool_stats_t st = stats(p);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.created, 0);
    assert_int_equal(st.connect_failures, 1);
    pool_destroy(p);
    fx_fake_stop(&f);
}

static void test_data_node_dribbles(void **state)
{
    (void)state;
    fx_fake f;
    fx_fake_step dribble[] = {FX_READ, FX_READ, FX_DRIBBLE(handshake_reply, sizeof(handshake_reply) - 1, 400), FX_HANG};
    assert_int_equal(sizeof(handshake_reply) - 1, 29);
    start_fake(&f, dribble, 4);
    pool_t *p = data_pool(&f, 1000, 1000);
    int64_t ms;
    int rc = get_once(p, &ms);
    assert_handshake_timed_out(p, &f, rc, ms);
    assert_int_equal(fx_fake_commands(&f), 2);
    pool_destroy(p);
    fx_fake_stop(&f);
}

/* Control: the same reply sent at once is a valid handshake. */
static void test_data_node_prompt_control(void **state)
{
    (void)state;
    fx_fake f;
    fx_fake_step prompt[] = {FX_READ, FX_READ, FX_SEND(handshake_reply, sizeof(handshake_reply) - 1), FX_HANG};
    start_fake(&f, prompt, 4);
    pool_t *p = data_pool(&f, 1000, 1000);
    int64_t ms;
    assert_rc(0, get_once(p, &ms));
    assert_took(ms, 0, 900);
    pool_stats_t st = stats(p);
    assert_int_equal(st.created, 1);
    assert_int_equal(st.checkouts, 1);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.idle, 1);
    assert_int_equal(st.validations, 1);
    assert_int_equal(st.connect_failures, 0);
    assert_handshake_sent(&f);
    pool_destroy(p);
    fx_fake_stop(&f);
}

/* connect_timeout_ms bounds each attempt, checkout_timeout_ms the call:
 * with 1000/2500 ms the pool tries again after the first attempt timed out
 * and still returns by the checkout deadline. */
static void test_data_node_checkout_deadline_spans_attempts(void **state)
{
    (void)state;
    fx_fake f;
    fx_fake_step hang[] = {FX_HANG};
    start_fake(&f, hang, 1);
    pool_t *p = data_pool(&f, 1000, 2500);
    int64_t ms;
    int rc = get_once(p, &ms);
    assert_rc(POOL_ECONNECT, rc);
    assert_took(ms, 2400, 4500);
    pool_stats_t st = stats(p);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.created, 0);
    assert_int_equal(st.checkout_timeouts, 1);
    assert_true(st.connect_failures >= 2);
    assert_int_equal(fx_fake_connections(&f), st.connect_failures);
    pool_destroy(p);
    fx_fake_stop(&f);
}

/* The checkout deadline is the shorter one: connect_timeout_ms 5000 does
 * not let a checkout of 1000 ms wait longer. */
static void test_data_node_checkout_shorter_than_connect(void **state)
{
    (void)state;
    fx_fake f;
    fx_fake_step hang[] = {FX_HANG};
    start_fake(&f, hang, 1);
    pool_t *p = data_pool(&f, 5000, 1000);
    int64_t ms;
    int rc = get_once(p, &ms);
    assert_handshake_timed_out(p, &f, rc, ms);
    pool_destroy(p);
    fx_fake_stop(&f);
}

/* ---- Sentinels ------------------------------------------------------------- */

static int sentinel_create(const char *sentinels, int timeout_ms, int lazy, pool_t **p,
                           int64_t *ms)
{
    pool_options_t o;
    pool_options_init(&o);
    o.master_name = "mymaster";
    o.sentinels = sentinels;
    o.sentinel_timeout_ms = timeout_ms;
    /* The safety poll is due at once after a step that timed out: a
     * create that gave up must not be followed by one more step (and one
     * more connection) before it stops the watch. */
    o.sentinel_poll_ms = 10;
    o.lazy_start = lazy;
    o.checkout_timeout_ms = 1000;
    *p = (pool_t *)0x1;
    int64_t t0 = fx_now_ms();
    int rc = pool_create(&o, p);
    *ms = fx_now_ms() - t0;
    if (rc != 0)
        assert_null(*p);
    return rc;
}

static void test_sentinel_hangs(void **state)
{
    (void)state;
    fx_fake f;
    fx_fake_step hang[] = {FX_HANG};
    start_fake(&f, hang, 1);
    char list[64];
    snprintf(list, sizeof(list), "127.0.0.1:%d", f.port);
    pool_t *p;
    int64_t ms;
    assert_rc(POOL_ENOSENTINEL, sentinel_create(list, 1000, 0, &p, &ms));
    assert_took(ms, 900, 3000);
    assert_int_equal(fx_fake_connections(&f), 1);
    fx_fake_stop(&f);
}

static void test_sentinel_dribbles(void **state)
{
    (void)state;
    char reply[128];
    int n = snprintf(reply, sizeof(reply), "*2\r\n$9\r\n127.0.0.1\r\n$%d\r\n%d\r\n*0\r\n",
                     snprintf(NULL, 0, "%d", master.port), master.port);
    fx_fake f;
    fx_fake_step dribble[] = {FX_READ, FX_READ, FX_DRIBBLE(reply, (size_t)n, 400), FX_HANG};
    start_fake(&f, dribble, 4);
    char list[64];
    snprintf(list, sizeof(list), "127.0.0.1:%d", f.port);
    pool_t *p;
    int64_t ms;
    assert_rc(POOL_ENOSENTINEL, sentinel_create(list, 1000, 0, &p, &ms));
    assert_took(ms, 900, 3000);
    /* Both commands went out in one write and were read. */
    assert_int_equal(fx_fake_commands(&f), 2);
    char got[512];
    fx_fake_received(&f, got, sizeof(got));
    assert_string_equal(got, "*3\r\n$8\r\nSENTINEL\r\n$23\r\nget-master-addr-by-name\r\n"
                             "$8\r\nmymaster\r\n"
                             "*3\r\n$8\r\nSENTINEL\r\n$9\r\nsentinels\r\n$8\r\nmymaster\r\n");
    fx_fake_stop(&f);

    /* Control: the same reply sent at once names the real master. */
    fx_fake_step prompt[] = {FX_READ, FX_READ, FX_SEND(reply, (size_t)n), FX_HANG};
    start_fake(&f, prompt, 4);
    snprintf(list, sizeof(list), "127.0.0.1:%d", f.port);
    assert_rc(0, sentinel_create(list, 1000, 0, &p, &ms));
    assert_took(ms, 0, 900);
    char host[64];
    int port = 0;
    uint64_t gen = 0;
    assert_rc(0, pool_current_master(p, host, sizeof(host), &port, &gen));
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, master.port);
    assert_int_equal(gen, 1);
    redisContext *c = NULL;
    assert_rc(0, pool_get_writer(p, &c));
    assert_int_equal(c->tcp.port, master.port);
    pool_put(p, c);
    assert_int_equal(stats(p).in_use, 0);
    pool_destroy(p);
    fx_fake_stop(&f);
}

/* sentinel_timeout_ms is per sentinel: two silent ones cost two timeouts. */
static void test_two_sentinels_hang(void **state)
{
    (void)state;
    fx_fake a, b;
    fx_fake_step hang[] = {FX_HANG};
    start_fake(&a, hang, 1);
    start_fake(&b, hang, 1);
    char list[96];
    snprintf(list, sizeof(list), "127.0.0.1:%d,127.0.0.1:%d", a.port, b.port);
    pool_t *p;
    int64_t ms;
    assert_rc(POOL_ENOSENTINEL, sentinel_create(list, 500, 0, &p, &ms));
    assert_took(ms, 900, 3000);
    assert_int_equal(fx_fake_connections(&a), 1);
    assert_int_equal(fx_fake_connections(&b), 1);
    fx_fake_stop(&a);
    fx_fake_stop(&b);
}

/* A sentinel answers at once, but the node it names accepts and never
 * answers ROLE: pool_create() ends by the deadline of the ROLE probe (one
 * sentinel_timeout_ms) with POOL_ETIMEDOUT (what resolve.c sp_node_role
 * returns; the header lists only ENOSENTINEL/EUNKNOWNMASTER/ENOTMASTER). */
static void test_sentinel_names_silent_node(void **state)
{
    (void)state;
    fx_fake node;
    fx_fake_step hang[] = {FX_HANG};
    start_fake(&node, hang, 1);
    char reply[128];
    int n = snprintf(reply, sizeof(reply), "*2\r\n$9\r\n127.0.0.1\r\n$%d\r\n%d\r\n*0\r\n",
                     snprintf(NULL, 0, "%d", node.port), node.port);
    fx_fake s;
    fx_fake_step answer[] = {FX_READ, FX_READ, FX_SEND(reply, (size_t)n), FX_HANG};
    start_fake(&s, answer, 4);
    char list[64];
    snprintf(list, sizeof(list), "127.0.0.1:%d", s.port);
    pool_t *p;
    int64_t ms;
    assert_rc(POOL_ETIMEDOUT, sentinel_create(list, 1000, 0, &p, &ms));
    assert_took(ms, 900, 3000);
    assert_int_equal(fx_fake_connections(&s), 1);
    assert_int_equal(fx_fake_connections(&node), 1);
    char got[256];
    fx_fake_received(&node, got, sizeof(got));
    assert_string_equal(got, "*1\r\n$4\r\nROLE\r\n");
    fx_fake_stop(&s);
    fx_fake_stop(&node);
}

/* lazy_start with a silent sentinel: create returns without asking,
 * pool_get_writer() ends by checkout_timeout_ms with POOL_ENOMASTER, and
 * pool_destroy() interrupts the watcher's round trip (the stop pipe is the
 * abort fd) instead of waiting out a 5 s sentinel_timeout_ms. */
static void test_lazy_silent_sentinel_destroy_interrupts(void **state)
{
    (void)state;
    fx_fake f;
    fx_fake_step hang[] = {FX_HANG};
    start_fake(&f, hang, 1);
    char list[64];
    snprintf(list, sizeof(list), "127.0.0.1:%d", f.port);
    pool_t *p;
    int64_t ms;
    assert_rc(0, sentinel_create(list, 5000, 1, &p, &ms));
    assert_took(ms, 0, 1000);
    int64_t got_ms;
    assert_rc(POOL_ENOMASTER, get_once(p, &got_ms));
    assert_took(got_ms, 900, 3000);
    /* By now the watcher is inside its first resolution, waiting on the fake. */
    for (int i = 0; i < 100 && fx_fake_connections(&f) == 0; i++)
        fx_sleep_ms(20);
    assert_true(fx_fake_connections(&f) >= 1);
    pool_stats_t st = stats(p);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.created, 0);
    assert_int_equal(st.generation, 0);
    int64_t t0 = fx_now_ms();
    pool_destroy(p);
    assert_took(fx_now_ms() - t0, 0, 2500);
    fx_fake_stop(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_node_hangs),
        cmocka_unit_test(test_data_node_never_accepts),
        cmocka_unit_test(test_data_node_dribbles),
        cmocka_unit_test(test_data_node_prompt_control),
        cmocka_unit_test(test_data_node_checkout_deadline_spans_attempts),
        cmocka_unit_test(test_data_node_checkout_shorter_than_connect),
        cmocka_unit_test(test_sentinel_hangs),
        cmocka_unit_test(test_sentinel_dribbles),
        cmocka_unit_test(test_two_sentinels_hang),
        cmocka_unit_test(test_sentinel_names_silent_node),
        cmocka_unit_test(test_lazy_silent_sentinel_destroy_interrupts),
    };
    /* SPOOL_TEST_FILTER="test_x*" runs a subset (debugging, valgrind). */
    if (getenv("SPOOL_TEST_FILTER") != NULL)
        cmocka_set_test_filter(getenv("SPOOL_TEST_FILTER"));
    return cmocka_run_group_tests(tests, setup, teardown);
}
