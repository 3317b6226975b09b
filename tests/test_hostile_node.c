/* test_hostile_node.c: data nodes that misbehave, played by scripted fakes
 * (tests/support fx_fake), no real server: a reply cut short by a close or
 * a reset, replies over the reply limits (a 16 GiB array, a bulk over
 * max_reply_bulk), malformed handshakes (CLIENT SETNAME + ROLE), and a ROLE
 * check answered with a reply nobody asked for. Each case asserts the exact
 * error (by name) and that the pool's books balance; valgrind and ASan runs
 * check nothing leaks. Timings in here are upper bounds that prove "failed
 * at once, not by a timeout": each is well below the timeout it is
 * compared with. */
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
#include "hostile_util.h"
#include "sentinel_pool.h"

/* The handshake reply a pool connection reads with the default options:
 * +OK for CLIENT SETNAME, then a master's ROLE. */
#define MASTER_HANDSHAKE "+OK\r\n*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n"

/* ---- Data nodes that misbehave mid-reply ----------------------------------- */

/* A static pool on a fake data node. handshake: 0 = none (client_name ""
 * and POOL_VALIDATE_NEVER), 1 = the default CLIENT SETNAME + ROLE. */
static pool_t *fake_data_pool(const fx_fake *f, int handshake, long long max_bulk)
{
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->port);
    pool_options_t o;
    pool_options_init(&o);
    o.master_addr = addr;
    o.checkout_timeout_ms = 1000;
    o.command_timeout_ms = 10000; /* a socket timeout must not be what ends a read */
    if (!handshake) {
        o.client_name = "";
        o.validate = POOL_VALIDATE_NEVER;
    }
    if (max_bulk > 0)
        o.max_reply_bulk = max_bulk;
    pool_t *p = NULL;
    assert_rc(0, pool_create(&o, &p));
    return p;
}

/* Borrow, run GET, expect a failed command with c->err == want_err at once;
 * put it back. */
static void get_fails(pool_t *p, int want_err)
{
    redisContext *c = NULL;
    assert_rc(0, pool_get_writer(p, &c));
    int64_t t0 = fx_now_ms();
    redisReply *r = redisCommand(c, "GET k");
    assert_took_less(fx_now_ms() - t0, 5000);
    if (r != NULL) {
        fail_msg("GET returned a reply of type %d", r->type);
        freeReplyObject(r);
    }
    if (c->err != want_err)
        fail_msg("c->err %d (%s), want %d", c->err, c->errstr, want_err);
    pool_put(p, c);
}

static void test_close_mid_reply(void **state)
{
    (void)state;
    fx_fake f;
    fx_fake_step steps[] = {FX_READ, FX_SEND_STR("$10\r\nhel"), FX_CLOSE};
    start_fake(&f, steps, 3);
    pool_t *p = fake_data_pool(&f, 0, 0);
    get_fails(p, REDIS_ERR_EOF);
    pool_stats_t st = stats(p);
    assert_int_equal(st.evicted_broken, 1);
    assert_int_equal(st.created, 1);
    assert_int_equal(st.closed, 1);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.idle, 0);
    /* The next checkout opens a new connection (the fake sees a second one). */
    get_fails(p, REDIS_ERR_EOF);
    st = stats(p);
    assert_int_equal(st.created, 2);
    assert_int_equal(st.checkouts, 2);
    assert_int_equal(st.evicted_broken, 2);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(fx_fake_connections(&f), 2);
    pool_destroy(p);
    fx_fake_stop(&f);
}

static void test_reset_mid_reply(void **state)
{
    (void)state;
    fx_fake f;
    fx_fake_step steps[] = {FX_READ, FX_SEND_STR("*3\r\n$1\r\na\r\n"), FX_SLEEP(50), FX_RESET};
    start_fake(&f, steps, 4);
    pool_t *p = fake_data_pool(&f, 0, 0);
    get_fails(p, REDIS_ERR_IO);
    pool_stats_t st = stats(p);
    assert_int_equal(st.evicted_broken, 1);
    assert_int_equal(st.closed, 1);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.idle, 0);
    pool_destroy(p);
    fx_fake_stop(&f);
}

/* A reply announcing 2^31-1 elements: refused by the reply wrappers before
 * hiredis allocates 16 GiB (at once, not after the 10 s command timeout),
 * and the connection is evicted for the limit. The fake first answers the
 * default handshake, so this is a connection the pool fully vetted. */
static void check_limit_reply(const char *what, const char *reply, size_t len, long long max_bulk)
{
    fx_fake f;
    fx_fake_step steps[] = {FX_READ,        FX_READ, FX_SEND_STR(MASTER_HANDSHAKE),
                            FX_READ,        FX_SEND(reply, len), FX_HANG};
    start_fake(&f, steps, 6);
    pool_t *p = fake_data_pool(&f, 1, max_bulk);
    print_message("limit case: %s\n", what);
    get_fails(p, REDIS_ERR_OOM);
    pool_stats_t st = stats(p);
    assert_int_equal(st.evicted_limit, 1);
    assert_int_equal(st.evicted_broken, 0);
    assert_int_equal(st.created, 1);
    assert_int_equal(st.closed, 1);
    assert_int_equal(st.validations, 1);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.idle, 0);
    assert_int_equal(fx_fake_commands(&f), 3);
    pool_destroy(p);
    fx_fake_stop(&f);
}

static void test_reply_over_limits(void **state)
{
    (void)state;
#define CHECK_LIMIT(what, lit, bulk) check_limit_reply((what), (lit), sizeof(lit) - 1, (bulk))
    CHECK_LIMIT("top-level array", "*2147483647\r\n", 0);
    CHECK_LIMIT("nested array", "*2\r\n:1\r\n*2147483647\r\n", 0);
    CHECK_LIMIT("array just over", "*1048577\r\n", 0);
    CHECK_LIMIT("bulk over max_reply_bulk", "$20\r\n01234567890123456789\r\n", 10);
    CHECK_LIMIT("status over max_reply_bulk", "+0123456789012345\r\n", 10);
#undef CHECK_LIMIT
}

/* ---- A malformed handshake ---------------------------------------------------- */

typedef struct handshake_case {
    const char *what;
    const char *reply; /* to CLIENT SETNAME + ROLE */
    int want;
    int close_after; /* close the connection after the reply */
    /* ROLE denied (NOPERM), so the pool asks INFO replication: an error
     * reply ("-...") as is, else the text, sent as a bulk string. */
    const char *info;
} handshake_case;

#define NOPERM_ROLE "+OK\r\n-NOPERM User x has no permissions to run the 'role' command\r\n"

static void test_handshake_replies(void **state)
{
    (void)state;
    static const handshake_case cases[] = {
        {"master", MASTER_HANDSHAKE, 0, 0, NULL},
        {"SETNAME refused, still master",
         "-ERR unknown command\r\n*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n", 0, 0, NULL},
        {"replica",
         "+OK\r\n*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n$9\r\nconnected\r\n:0\r\n",
         POOL_ENOTMASTER, 0, NULL},
        {"sentinel", "+OK\r\n*2\r\n$8\r\nsentinel\r\n*1\r\n$8\r\nmymaster\r\n", POOL_ENOTMASTER, 0,
         NULL},
        {"NOAUTH", "+OK\r\n-NOAUTH Authentication required.\r\n", POOL_EAUTH, 0, NULL},
        {"ROLE unknown", "+OK\r\n-ERR unknown command 'ROLE'\r\n", POOL_EPROTO, 0, NULL},
        {"ROLE integer", "+OK\r\n:1\r\n", POOL_EPROTO, 0, NULL},
        {"ROLE garbage", "+OK\r\n@@@\r\n", POOL_EPROTO, 0, NULL},
        {"master, negative offset", "+OK\r\n*3\r\n$6\r\nmaster\r\n:-5\r\n*0\r\n", POOL_EPROTO, 0,
         NULL},
        {"master, bad replica entry", "+OK\r\n*3\r\n$6\r\nmaster\r\n:0\r\n*1\r\n*3\r\n$9\r\n"
                                      "127.0.0.1\r\n$1\r\n0\r\n$1\r\n0\r\n",
         POOL_EPROTO, 0, NULL},
        {"ROLE 2^31-1 elements", "+OK\r\n*2147483647\r\n", POOL_ELIMIT, 0, NULL},
        {"ROLE 2^32-1 elements", "+OK\r\n*4294967295\r\n", POOL_EPROTO, 0, NULL}, /* > INT_MAX */
        /* More than was asked for: a third reply nobody will read would be
         * the next caller's answer to its first command. */
        {"extra reply after ROLE", MASTER_HANDSHAKE "+SURPRISE\r\n", POOL_EPROTO, 0, NULL},
        /* What Redis does at maxclients: an error, then it closes. */
        {"maxclients", "-ERR max number of clients reached\r\n", POOL_ECONNECT, 1, NULL},
        {"closed mid-handshake", "+OK\r\n*3\r\n$6\r\nmas", POOL_ECONNECT, 1, NULL},
        /* An ACL user without ROLE: INFO replication decides (net/probe.c),
         * and a refused INFO says why: an ACL again is POOL_EAUTH, anything
         * else POOL_EPROTO. */
        {"ROLE denied, INFO master", NOPERM_ROLE, 0, 0,
         "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_repl_offset:0\r\n"},
        {"ROLE denied, INFO replica", NOPERM_ROLE, POOL_ENOTMASTER, 0,
         "# Replication\r\nrole:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:6379\r\n"
         "master_link_status:up\r\nslave_repl_offset:0\r\n"},
        {"ROLE and INFO denied", NOPERM_ROLE, POOL_EAUTH, 0,
         "-NOPERM User x has no permissions to run the 'info' command\r\n"},
        {"ROLE denied, INFO unknown", NOPERM_ROLE, POOL_EPROTO, 0,
         "-ERR unknown command 'INFO'\r\n"},
        {"ROLE denied, INFO garbage", NOPERM_ROLE, POOL_EPROTO, 0, "role:what\r\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const handshake_case *k = &cases[i];
        fx_fake f;
        char info[512];
        if (k->info == NULL || k->info[0] == '-')
            snprintf(info, sizeof(info), "%s", k->info ? k->info : "");
        else
            snprintf(info, sizeof(info), "$%zu\r\n%s\r\n", strlen(k->info), k->info);
        fx_fake_step steps[] = {FX_READ, FX_READ, FX_SEND(k->reply, strlen(k->reply)), FX_HANG,
                                FX_HANG, FX_HANG};
        size_t nsteps = 4;
        if (k->info != NULL) {
            steps[3] = (fx_fake_step)FX_READ;
            steps[4] = (fx_fake_step)FX_SEND(info, strlen(info));
            nsteps = 6;
        }
        if (k->close_after)
            steps[nsteps - 1] = (fx_fake_step)FX_CLOSE;
        start_fake(&f, steps, nsteps);
        char addr[64];
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", f.port);
        recorder rec;
        recorder_init(&rec);
        pool_options_t o;
        pool_options_init(&o);
        o.master_addr = addr;
        o.checkout_timeout_ms = 300;
        o.log_fn = on_log;
        o.log_userdata = &rec;
        pool_t *p = NULL;
        assert_rc(0, pool_create(&o, &p));
        redisContext *c = NULL;
        int rc = pool_get_writer(p, &c);
        /* The pool retries a failed open until the checkout deadline and
         * returns what the last attempt said. On a slow machine (valgrind)
         * that last attempt may be cut by the deadline: POOL_ECONNECT. Then
         * the log must say so, and the first attempt must still have failed
         * for the expected reason. */
        int cut = rc == POOL_ECONNECT && k->want != POOL_ECONNECT && rec.n_fail >= 1 &&
                  fail_says(rec.last_fail, POOL_ECONNECT);
        if (cut)
            print_message("%s: last attempt cut by the checkout deadline\n", k->what);
        else if (rc != k->want)
            fail_msg("%s: expected %s, got %s", k->what, pool_err_name(k->want),
                     pool_err_name(rc));
        if (k->want != 0 && k->want != POOL_ENOTMASTER && !fail_says(rec.first_fail, k->want))
            fail_msg("%s: first failure logged as \"%s\", want %s", k->what, rec.first_fail,
                     pool_strerror(k->want));
        if (k->want == POOL_ENOTMASTER)
            assert_true(stats(p).validation_failures >= 1);
        pool_stats_t st = stats(p);
        if (rc == 0) {
            assert_non_null(c);
            assert_int_equal(c->tcp.port, f.port);
            assert_int_equal(stats(p).in_use, 1);
            pool_put(p, c);
            st = stats(p);
            assert_int_equal(st.created, 1);
            assert_int_equal(st.idle, 1);
            assert_int_equal(st.connect_failures, 0);
        } else {
            assert_null(c);
            assert_int_equal(st.checkouts, 0);
            assert_true(st.connect_failures + st.validation_failures >= 1);
            /* What was opened was closed again. */
            assert_int_equal(st.created, st.closed);
            assert_int_equal(st.idle, 0);
        }
        assert_int_equal(st.in_use, 0);
        pool_destroy(p);
        fx_fake_stop(&f);
        pthread_mutex_destroy(&rec.mu);
    }
}

/* The same on a pooled connection: POOL_VALIDATE_ALWAYS asks ROLE on the
 * second checkout and the node answers ROLE plus a reply nobody asked for.
 * The connection is evicted as broken and a new one is opened, instead of
 * the caller reading "+SURPRISE" as the answer to its first command. */
static void test_validation_reply_out_of_step(void **state)
{
    (void)state;
    fx_fake f;
    fx_fake_step steps[] = {FX_READ,
                            FX_READ,
                            FX_SEND_STR(MASTER_HANDSHAKE),
                            FX_READ,
                            FX_SEND_STR("*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n+SURPRISE\r\n"),
                            FX_HANG};
    start_fake(&f, steps, 6);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", f.port);
    pool_options_t o;
    pool_options_init(&o);
    o.master_addr = addr;
    o.validate = POOL_VALIDATE_ALWAYS;
    o.checkout_timeout_ms = 1000;
    pool_t *p = NULL;
    assert_rc(0, pool_create(&o, &p));
    redisContext *c = NULL;
    assert_rc(0, pool_get_writer(p, &c));
    pool_put(p, c);
    assert_rc(0, pool_get_writer(p, &c));
    /* A new connection: the fake saw a second one, its handshake passed. */
    assert_int_equal(fx_fake_connections(&f), 2);
    assert_int_equal(c->reader->pos, c->reader->len); /* nothing pending */
    pool_put(p, c);
    pool_stats_t st = stats(p);
    assert_int_equal(st.created, 2);
    assert_int_equal(st.checkouts, 2);
    assert_int_equal(st.validations, 3); /* handshake, checkout, handshake */
    assert_int_equal(st.validation_failures, 0);
    assert_int_equal(st.evicted_broken, 1);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.idle, 1);
    pool_destroy(p);
    fx_fake_stop(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_close_mid_reply),
        cmocka_unit_test(test_reset_mid_reply),
        cmocka_unit_test(test_reply_over_limits),
        cmocka_unit_test(test_handshake_replies),
        cmocka_unit_test(test_validation_reply_out_of_step),
    };
    /* SPOOL_TEST_FILTER="test_x*" runs a subset (debugging, valgrind). */
    if (getenv("SPOOL_TEST_FILTER") != NULL)
        cmocka_set_test_filter(getenv("SPOOL_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
