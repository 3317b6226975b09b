/* Replica reads against a real topology (1 master, 2 replicas, 3 sentinels):
 * reads spread over both replicas, a dead or lagging replica is skipped,
 * the promoted node stops being a reader after a failover, and the fallback
 * policy when no replica qualifies. Plus leak reports. Under
 * SENTINEL_POOL_TEST_TLS=1 the topologies and the pools are TLS-only. */
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
#include "proto/hiredis_compat.h"
#include "fx_assert.h"
#include "sentinel_pool.h"

static fx_topology topo;
static char sentinels[256];

static int setup(void **state)
{
    (void)state;
    if (fx_topology_start(&topo, NULL) != 0)
        return -1;
    return fx_sentinels_string(&topo, sentinels, sizeof(sentinels)) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    fx_topology_stop(&topo);
    return 0;
}

typedef struct {
    pool_spread_t spread;
    long long max_lag;
    pool_read_fallback_t fallback;
    int leak_ms;
    int leaks_seen;
    const char *username, *password; /* data nodes; NULL: none */
} cfg_t;

static void on_event(void *ud, const pool_event_t *ev)
{
    cfg_t *c = ud;
    if (ev->type == POOL_EVENT_CONNECTION_LEAK)
        __atomic_add_fetch(&c->leaks_seen, 1, __ATOMIC_RELAXED);
}

static void on_log(void *ud, pool_log_level_t level, const char *msg)
{
    (void)ud;
    fprintf(stderr, "# pool[%d]: %s\n", (int)level, msg);
}

static pool_t *make_pool_on(const fx_topology *t, const char *sentinel_list, cfg_t *c)
{
    pool_options_t o;
    pool_options_init(&o);
    o.master_name = t->master_name;
    o.sentinels = sentinel_list;
    o.sentinel_poll_ms = 100;
    o.checkout_timeout_ms = 1000;
    o.max_readers = 8;
    o.read_spread = c->spread;
    o.max_replica_lag_bytes = c->max_lag;
    o.read_fallback = c->fallback;
    o.leak_threshold_ms = c->leak_ms;
    o.username = c->username;
    o.password = c->password;
    o.event_fn = on_event;
    o.event_userdata = c;
    o.log_fn = on_log;
    o.log_level = POOL_LOG_INFO;
    /* SENTINEL_POOL_TEST_TLS: everything over TLS, verified, with the
     * client certificate (the library copies the paths at create). */
    fx_tls_client files;
    const char *tls_dir = fx_topology_tls_dir(t);
    if (tls_dir != NULL) {
        if (fx_tls_client_paths(tls_dir, &files) != 0)
            fail_msg("fx_tls_client_paths(%s) failed", tls_dir);
        o.tls = 1;
        o.sentinel_tls = 1;
        o.tls_ca_file = files.ca;
        o.tls_cert_file = files.cert;
        o.tls_key_file = files.key;
    }
    pool_t *p = NULL;
    int rc = pool_create(&o, &p);
    if (rc != 0)
        fail_msg("pool_create: %s", pool_err_name(rc));
    return p;
}

static pool_t *make_pool(cfg_t *c) { return make_pool_on(&topo, sentinels, c); }

/* Wait until the watcher has told the pool about n usable replicas. */
static void wait_replicas(pool_t *p, uint64_t n, int timeout_ms)
{
    pool_stats_t st;
    for (int i = 0; i < timeout_ms / 20; i++) {
        pool_stats(p, &st);
        if (st.replicas_usable == n)
            return;
        fx_sleep_ms(20);
    }
    pool_stats(p, &st);
    fail_msg("replicas_usable %llu, want %llu", (unsigned long long)st.replicas_usable,
             (unsigned long long)n);
}

static int node_of_port(const fx_topology *t, int port)
{
    for (int i = 0; i < t->n_data; i++)
        if (t->data[i].port == port)
            return i;
    return -1;
}

static const char *role_of(redisContext *c)
{
    static char buf[16];
    redisReply *r = redisCommand(c, "ROLE");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    snprintf(buf, sizeof(buf), "%s", r->element[0]->str);
    freeReplyObject(r);
    return buf;
}

/* Borrow n readers one after another; count them per data node. */
static void read_spread_on(const fx_topology *t, pool_t *p, int n, int per_node[3])
{
    memset(per_node, 0, sizeof(int) * 3);
    for (int i = 0; i < n; i++) {
        redisContext *c = NULL;
        assert_rc(0, pool_get_reader(p, &c));
        int idx = node_of_port(t, c->tcp.port);
        assert_true(idx >= 0);
        per_node[idx]++;
        assert_string_equal(role_of(c), "slave");
        pool_put(p, c);
    }
}

static void read_spread(pool_t *p, int n, int per_node[3]) { read_spread_on(&topo, p, n, per_node); }

static uint64_t usable(pool_t *p)
{
    pool_stats_t st;
    pool_stats(p, &st);
    return st.replicas_usable;
}

/* Does any sentinel of t flag the data node at port as s_down? */
static int any_sentinel_sees_down(const fx_topology *t, int port)
{
    char flags[256];
    for (int s = 0; s < t->n_sentinels; s++)
        if (fx_sentinel_flags(&t->sentinel[s], "replicas", t->master_name, port, flags,
                              sizeof(flags)) == 0 &&
            strstr(flags, "s_down") != NULL)
            return 1;
    return 0;
}

static void test_reads_spread_over_replicas(void **state)
{
    (void)state;
    /* A fresh topology: until every sentinel has seen both replicas linked
     * (their INFO refresh is up to 10 s), the sentinels take turns
     * disagreeing and the fit set may change during the 40 reads. */
    assert_int_equal(fx_wait_replicas_synced(&topo, 20000), 0);
    cfg_t c = {.spread = POOL_SPREAD_ROUND_ROBIN};
    pool_t *p = make_pool(&c);
    wait_replicas(p, 2, 15000);
    int m = fx_topology_master_index(&topo);
    int per[3];
    read_spread(p, 40, per);
    printf("# round robin over 40 reads: node0 %d, node1 %d, node2 %d (master is node%d)\n",
           per[0], per[1], per[2], m);
    assert_int_equal(per[m], 0);
    for (int i = 0; i < 3; i++)
        if (i != m)
            assert_int_equal(per[i], 20);
    pool_stats_t st;
    pool_stats(p, &st);
    assert_int_equal(st.reader_checkouts, 40);
    assert_int_equal(st.reader_in_use, 0);
    assert_int_equal(st.checkouts, 0); /* no writer was used */
    pool_destroy(p);

    /* Least borrowed: hold one reader, the next goes to the other replica. */
    c.spread = POOL_SPREAD_LEAST_BORROWED;
    p = make_pool(&c);
    wait_replicas(p, 2, 15000);
    redisContext *a = NULL, *b = NULL;
    assert_rc(0, pool_get_reader(p, &a));
    assert_rc(0, pool_get_reader(p, &b));
    assert_int_not_equal(a->tcp.port, b->tcp.port);
    pool_put(p, a);
    pool_put(p, b);
    pool_destroy(p);
}

/* An ACL user that may not run ROLE: the pool learns the master's replicas
 * and their offsets from INFO replication instead, and reads still spread
 * over both replicas. */
static void test_reads_without_role(void **state)
{
    (void)state;
    assert_int_equal(fx_wait_replicas_synced(&topo, 20000), 0);
    assert_int_equal(fx_data_cmd(&topo, "ACL SETUSER norole on >nrpw ~* &* +@all -role"), 0);
    cfg_t c = {.spread = POOL_SPREAD_ROUND_ROBIN, .username = "norole", .password = "nrpw"};
    pool_t *p = make_pool(&c);
    wait_replicas(p, 2, 15000);
    int m = fx_topology_master_index(&topo);
    int per[3] = {0, 0, 0};
    for (int i = 0; i < 10; i++) {
        redisContext *r = NULL;
        assert_rc(0, pool_get_reader(p, &r));
        int idx = node_of_port(&topo, r->tcp.port);
        assert_true(idx >= 0);
        per[idx]++;
        redisReply *x = redisCommand(r, "INFO replication"); /* ROLE is denied */
        assert_non_null(x);
        assert_non_null(strstr(x->str, "role:slave"));
        freeReplyObject(x);
        pool_put(p, r);
    }
    printf("# as a user without ROLE: node0 %d, node1 %d, node2 %d (master is node%d)\n", per[0],
           per[1], per[2], m);
    assert_int_equal(per[m], 0);
    for (int i = 0; i < 3; i++)
        if (i != m)
            assert_true(per[i] > 0);
    pool_destroy(p);
    (void)fx_data_cmd(&topo, "ACL DELUSER norole");
}

/* Lag alone, not a dead replica: on a topology whose sentinels wait 20 s
 * before calling a node down, a replica frozen for a few seconds is still up
 * for them and still listed by the master; only its acknowledged offset
 * falls behind. A second pool without a lag limit, fed the same topology,
 * proves that lag is what excludes it. (A sentinel drops its link to a
 * silent node after half its down-after, and a dropped link takes the
 * replica out of both pools: 20 s leaves a slow run 10 s, not 5.) */
static void test_lagging_replica_skipped(void **state)
{
    (void)state;
    fx_topology lt;
    fx_topology_opts to = {.master_name = "lagmaster", .down_after_ms = 20000};
    assert_int_equal(fx_topology_start(&lt, &to), 0);
    char lsent[256];
    assert_true(fx_sentinels_string(&lt, lsent, sizeof(lsent)) >= 0);
    assert_int_equal(fx_wait_replicas_synced(&lt, 20000), 0);
    /* The limit sits well above the background replication (the sentinels
     * publish hellos through the master every 200 ms here, a few kB a
     * second that a healthy replica acknowledges once a second: a 1000-byte
     * limit excluded healthy replicas now and then) and the writes below
     * well above the limit. */
    cfg_t c = {.spread = POOL_SPREAD_ROUND_ROBIN, .max_lag = 64 * 1024};
    cfg_t unlimited = {.spread = POOL_SPREAD_ROUND_ROBIN};
    pool_t *p = make_pool_on(&lt, lsent, &c), *p0 = make_pool_on(&lt, lsent, &unlimited);
    wait_replicas(p, 2, 15000);
    wait_replicas(p0, 2, 15000);
    int m = fx_topology_master_index(&lt);
    assert_true(m >= 0);
    int lagger = (m + 1) % 3;
    assert_int_equal(fx_node_sigstop(&lt.data[lagger]), 0);
    int64_t frozen_at = fx_now_ms();
    static char big[40 * 1024]; /* 5 x 40 kB: 200 kB behind */
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (int i = 0; i < 5; i++)
        freeReplyObject(fx_cmd(&lt.data[m], "SET spool:lag%d %s", i, big));
    /* Replicas acknowledge once a second: within a few, the healthy one has
     * caught up in the master's view and the frozen one cannot. */
    wait_replicas(p, 1, 6000);
    uint64_t without_limit = usable(p0);
    int sdown = any_sentinel_sees_down(&lt, lt.data[lagger].port);
    int64_t elapsed = fx_now_ms() - frozen_at;
    printf("# lagger node%d excluded %lld ms after the freeze; pool without a limit: %llu usable; "
           "sentinels: %s\n",
           lagger, (long long)elapsed, (unsigned long long)without_limit,
           sdown ? "s_down" : "up");
    assert_true(elapsed < 9000);       /* inside the 10 s before a sentinel drops its link */
    assert_int_equal(sdown, 0);        /* they still call it up */
    assert_int_equal(without_limit, 2); /* listed and fit but for the lag */
    int per[3];
    read_spread_on(&lt, p, 10, per);
    printf("# with node%d lagging: node0 %d, node1 %d, node2 %d\n", lagger, per[0], per[1],
           per[2]);
    assert_int_equal(per[lagger], 0);
    assert_int_equal(per[m], 0);
    assert_int_equal(fx_node_sigcont(&lt.data[lagger]), 0);
    wait_replicas(p, 2, 20000); /* caught up: back in the set */
    pool_destroy(p0);
    pool_destroy(p);
    fx_topology_stop(&lt);
}

static void test_dead_replica_skipped_and_fallback(void **state)
{
    (void)state;
    assert_int_equal(fx_wait_replicas_synced(&topo, 20000), 0);
    cfg_t c = {.spread = POOL_SPREAD_ROUND_ROBIN};
    pool_t *p = make_pool(&c);
    wait_replicas(p, 2, 15000);
    int m = fx_topology_master_index(&topo);
    int dead = (m + 2) % 3;
    assert_int_equal(fx_node_kill9(&topo.data[dead]), 0);
    /* Even before the sentinels notice, a failed connect is skipped. */
    int per[3];
    read_spread(p, 10, per);
    assert_int_equal(per[dead], 0);
    wait_replicas(p, 1, 15000); /* the sentinels mark it down, the pool drops it */

    /* No replica at all: fail or fall back to the master, as configured. */
    int alive = 3 - m - dead;
    assert_int_equal(fx_node_sigstop(&topo.data[alive]), 0);
    cfg_t fail = {.fallback = POOL_READ_FAIL, .max_lag = 1};
    cfg_t master = {.fallback = POOL_READ_MASTER, .max_lag = 1};
    pool_t *pf = make_pool(&fail), *pm = make_pool(&master);
    char big[4096];
    memset(big, 'y', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    freeReplyObject(fx_cmd(&topo.data[m], "SET spool:lag %s", big));
    fx_sleep_ms(1500);
    redisContext *r = NULL;
    assert_rc(POOL_ENOREPLICA, pool_get_reader(pf, &r));
    assert_null(r);
    assert_rc(0, pool_get_reader(pm, &r));
    assert_int_equal(r->tcp.port, topo.data[m].port);
    assert_string_equal(role_of(r), "master");
    pool_put(pm, r);
    pool_stats_t st;
    pool_stats(pm, &st);
    assert_int_equal(st.reader_fallbacks, 1);
    pool_stats(pf, &st);
    assert_true(st.no_replica >= 1);
    pool_destroy(pf);
    pool_destroy(pm);
    pool_destroy(p);
    assert_int_equal(fx_node_sigcont(&topo.data[alive]), 0);
    assert_int_equal(fx_node_restart(&topo.data[dead]), 0);
}

static void test_promoted_node_not_a_reader(void **state)
{
    (void)state;
    assert_int_equal(fx_wait_replicas_synced(&topo, 30000), 0);
    cfg_t c = {.spread = POOL_SPREAD_ROUND_ROBIN};
    pool_t *p = make_pool(&c);
    wait_replicas(p, 2, 20000);
    int m = fx_topology_master_index(&topo);
    assert_int_equal(fx_sentinel_failover(&topo, 0), 0);
    int nm = fx_wait_master_change(&topo, m, 15000);
    assert_true(nm >= 0);
    fx_sleep_ms(500);
    for (int i = 0; i < 20; i++) {
        redisContext *r = NULL;
        int rc = pool_get_reader(p, &r);
        if (rc != 0)
            continue; /* during the reconfiguration a replica may be out */
        assert_int_not_equal(r->tcp.port, topo.data[nm].port);
        assert_string_equal(role_of(r), "slave");
        pool_put(p, r);
    }
    pool_destroy(p);
}

static void test_leak_reported_once(void **state)
{
    (void)state;
    cfg_t c = {.leak_ms = 100};
    pool_t *p = make_pool(&c);
    redisContext *w = NULL;
    assert_rc(0, pool_get_writer(p, &w));
    fx_sleep_ms(400);
    pool_stats_t st;
    pool_stats(p, &st);
    assert_int_equal(st.leaks_reported, 1); /* once, not every housekeeping round */
    assert_int_equal(c.leaks_seen, 1);
    pool_put(p, w);
    assert_rc(0, pool_get_writer(p, &w)); /* returned in time: no report */
    pool_put(p, w);
    fx_sleep_ms(300);
    pool_stats(p, &st);
    assert_int_equal(st.leaks_reported, 1);
    pool_destroy(p);
}

static int reader_db(redisContext *c, long long *id)
{
    redisReply *r = redisCommand(c, "CLIENT INFO");
    assert_non_null(r);
    const char *db = strstr(r->str, " db="), *at = strstr(r->str, "id=");
    assert_non_null(db);
    assert_non_null(at);
    *id = atoll(at + 3);
    int n = atoi(db + 4);
    freeReplyObject(r);
    return n;
}

/* A reader borrower's SELECT does not reach the next borrower of that
 * connection: reset on put (hiredis 1.x sees it; 0.14 is told), and the
 * connection is kept, not closed. Round robin brings the next borrower back
 * to the dirty connection's replica, unless that replica leaves the fit set
 * meanwhile (a node demoted by the previous test may still be catching up):
 * then the round says nothing and is tried again. */
static void test_reader_state_reset(void **state)
{
    (void)state;
    assert_int_equal(fx_wait_replicas_synced(&topo, 30000), 0);
    cfg_t c = {0};
    pool_t *p = make_pool(&c);
    int rounds = 0, same = 0, telling = 0;
    while (telling == 0 && rounds < 3) {
        rounds++;
        wait_replicas(p, 2, 15000);
        redisContext *r = NULL;
        assert_rc(0, pool_get_reader(p, &r));
        long long dirty_id = 0, id = 0;
        int dirty_port = r->tcp.port;
        assert_int_equal(reader_db(r, &dirty_id), 0);
        redisReply *x = redisCommand(r, "SELECT 3");
        assert_non_null(x);
        freeReplyObject(x);
        if (!spool_hr_can_hook_write())
            assert_rc(0, pool_mark_dirty(p, r, POOL_DIRTY_RESET));
        pool_put(p, r);
        int on_port = 0;
        same = 0;
        for (int i = 0; i < 4; i++) {
            assert_rc(0, pool_get_reader(p, &r));
            assert_int_equal(reader_db(r, &id), 0); /* reset, wherever it went */
            on_port += r->tcp.port == dirty_port;
            same += id == dirty_id;
            pool_put(p, r);
        }
        pool_stats_t st;
        pool_stats(p, &st);
        if (on_port > 0 && st.replicas_usable == 2)
            telling = 1;
        else
            fprintf(stderr, "# round %d: the dirty connection's replica left the fit set, again\n",
                    rounds);
    }
    assert_true(telling);
    assert_true(same > 0); /* reset and kept, not closed */
    pool_stats_t st;
    pool_stats(p, &st);
    assert_int_equal(st.resets, (uint64_t)rounds);
    pool_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_spread_over_replicas),
        cmocka_unit_test(test_reads_without_role),
        cmocka_unit_test(test_lagging_replica_skipped),
        cmocka_unit_test(test_dead_replica_skipped_and_fallback),
        cmocka_unit_test(test_promoted_node_not_a_reader),
        cmocka_unit_test(test_leak_reported_once),
        cmocka_unit_test(test_reader_state_reset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
