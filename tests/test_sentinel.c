/* test_sentinel.c: finding the master through real redis-sentinel processes
 * (no failover here; see test_sentinel_failover.c and test_sentinel_faults.c).
 * One topology (1 master, 2 replicas, 3 sentinels) is shared by the group. */
#define _GNU_SOURCE

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "sentinel_pool.h"
#include "sentinel_util.h"

static fx_topology topo;

static int group_setup(void **state)
{
    (void)state;
    return fx_topology_start(&topo, NULL) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    fx_topology_stop(&topo);
    return 0;
}

/* A port with nothing listening (it was free a moment ago). */
static int dead_port(void)
{
    int p = fx_free_port();
    assert_true(p > 0);
    return p;
}

/* The pool resolved to data[0] at generation 1 and hands out writers there;
 * the first SWITCH_MASTER event says "none -> data[0], generation 1". */
static void assert_resolved_to_master(pool_t *p, st_events *ev)
{
    char host[64];
    int port = 0;
    uint64_t gen = 0;
    ST_ASSERT_OK(pool_current_master(p, host, sizeof(host), &port, &gen));
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, topo.data[0].port);
    assert_int_equal(gen, 1);
    int i = st_wait_event(ev, 0, POOL_EVENT_SWITCH_MASTER, 0, 0);
    assert_true(i >= 0);
    st_event e = st_event_at(ev, i);
    st_assert_switch(&e, 0, topo.data[0].port, 1);
    st_assert_writers_on(p, &topo.data[0], 3);
    pool_stats_t s = st_stats(p);
    assert_int_equal(s.generation, 1);
    assert_int_equal(s.created, 3);
    assert_int_equal(s.checkouts, 3);
}

static void test_resolve_first_sentinel(void **state)
{
    (void)state;
    st_events *ev = st_events_new();
    st_pool_cfg cfg;
    st_pool_cfg_init(&cfg, &topo, ev);
    pool_t *p = NULL;
    ST_ASSERT_OK(pool_create(&cfg.o, &p));
    assert_non_null(p);
    assert_resolved_to_master(p, ev);
    /* It learned the other sentinels too: three distinct SENTINEL_ADDED. */
    assert_int_equal(st_count_events(ev, 0, POOL_EVENT_SENTINEL_ADDED), 3);
    pool_destroy(p);
    st_events_free(ev);
}

/* The first sentinel listed refuses connections: the next one answers. */
static void test_resolve_dead_first_sentinel(void **state)
{
    (void)state;
    st_events *ev = st_events_new();
    st_pool_cfg cfg;
    st_pool_cfg_init(&cfg, &topo, ev);
    char list[600];
    snprintf(list, sizeof(list), "127.0.0.1:%d,%s", dead_port(), cfg.sentinels);
    cfg.o.sentinels = list;
    pool_t *p = NULL;
    ST_ASSERT_OK(pool_create(&cfg.o, &p));
    assert_resolved_to_master(p, ev);
    pool_destroy(p);
    st_events_free(ev);
}

/* The first sentinel accepts connections and never answers: resolution
 * waits one sentinel_timeout_ms for it, then asks the next. Over TLS
 * (SENTINEL_POOL_TEST_TLS) the same silence stalls the handshake, which
 * that same deadline bounds. */
static void test_resolve_silent_first_sentinel(void **state)
{
    (void)state;
    fx_fake silent;
    memset(&silent, 0, sizeof(silent));
    assert_int_equal(fx_fake_start(&silent, NULL, 0), 0);
    st_events *ev = st_events_new();
    st_pool_cfg cfg;
    st_pool_cfg_init(&cfg, &topo, ev);
    cfg.o.sentinel_timeout_ms = 300;
    char list[600];
    snprintf(list, sizeof(list), "127.0.0.1:%d,%s", silent.port, cfg.sentinels);
    cfg.o.sentinels = list;
    pool_t *p = NULL;
    int64_t t0 = st_now_ns();
    ST_ASSERT_OK(pool_create(&cfg.o, &p));
    int64_t took = st_now_ns() - t0;
    fprintf(stderr, "pool_create past a silent sentinel took %.1f ms\n", st_ms(took));
    assert_true(took >= 290 * 1000000LL); /* it did ask the silent one first */
    assert_true(fx_fake_connections(&silent) >= 1);
    assert_resolved_to_master(p, ev);
    pool_destroy(p);
    st_events_free(ev);
    fx_fake_stop(&silent);
}

static void test_unknown_master_name(void **state)
{
    (void)state;
    st_events *ev = st_events_new();
    st_pool_cfg cfg;
    st_pool_cfg_init(&cfg, &topo, ev);
    cfg.o.master_name = "no-such-master";
    pool_t *p = (pool_t *)&cfg; /* must be reset to NULL */
    ST_ASSERT_RC(pool_create(&cfg.o, &p), POOL_EUNKNOWNMASTER);
    assert_null(p);
    /* A dead sentinel in front does not turn "unknown" into "no sentinel". */
    char list[600];
    snprintf(list, sizeof(list), "127.0.0.1:%d,%s", dead_port(), cfg.sentinels);
    cfg.o.sentinels = list;
    ST_ASSERT_RC(pool_create(&cfg.o, &p), POOL_EUNKNOWNMASTER);
    assert_null(p);
    assert_int_equal(st_count_events(ev, 0, POOL_EVENT_SWITCH_MASTER), 0);
    st_events_free(ev);
}

static void test_no_sentinel_up(void **state)
{
    (void)state;
    st_events *ev = st_events_new();
    st_pool_cfg cfg;
    st_pool_cfg_init(&cfg, &topo, ev);
    char list[100];
    snprintf(list, sizeof(list), "127.0.0.1:%d,127.0.0.1:%d", dead_port(), dead_port());
    cfg.o.sentinels = list;
    pool_t *p = (pool_t *)&cfg;
    ST_ASSERT_RC(pool_create(&cfg.o, &p), POOL_ENOSENTINEL);
    assert_null(p);
    st_events_free(ev);
}

/* lazy_start: create succeeds with no sentinel; a checkout waits its full
 * checkout_timeout_ms and says there is no master. */
static void test_lazy_start_no_sentinel(void **state)
{
    (void)state;
    st_events *ev = st_events_new();
    st_pool_cfg cfg;
    st_pool_cfg_init(&cfg, &topo, ev);
    char list[100];
    snprintf(list, sizeof(list), "127.0.0.1:%d,127.0.0.1:%d", dead_port(), dead_port());
    cfg.o.sentinels = list;
    cfg.o.lazy_start = 1;
    cfg.o.checkout_timeout_ms = 600;
    pool_t *p = NULL;
    ST_ASSERT_OK(pool_create(&cfg.o, &p));
    assert_non_null(p);
    ST_ASSERT_RC(pool_current_master(p, NULL, 0, NULL, NULL), POOL_ENOMASTER);
    redisContext *c = (redisContext *)&cfg;
    int64_t t0 = st_now_ns();
    ST_ASSERT_RC(pool_get_writer(p, &c), POOL_ENOMASTER);
    int64_t took = st_now_ns() - t0;
    assert_null(c);
    fprintf(stderr, "pool_get_writer without a master returned after %.1f ms\n", st_ms(took));
    assert_true(took >= 590 * 1000000LL);  /* it waited checkout_timeout_ms */
    assert_true(took < 5000 * 1000000LL);  /* and did not hang far past it */
    pool_stats_t s = st_stats(p);
    assert_int_equal(s.checkout_timeouts, 1);
    assert_int_equal(s.created, 0);
    assert_int_equal(s.generation, 0);
    assert_int_equal(st_count_events(ev, 0, POOL_EVENT_SWITCH_MASTER), 0);
    pool_destroy(p);
    st_events_free(ev);
}

/* lazy_start with sentinels up: the background thread finds the master
 * and the first checkout gets it. */
static void test_lazy_start_finds_master(void **state)
{
    (void)state;
    st_events *ev = st_events_new();
    st_pool_cfg cfg;
    st_pool_cfg_init(&cfg, &topo, ev);
    cfg.o.lazy_start = 1;
    pool_t *p = NULL;
    ST_ASSERT_OK(pool_create(&cfg.o, &p));
    st_assert_writers_on(p, &topo.data[0], 1);
    int i = st_wait_event(ev, 0, POOL_EVENT_SWITCH_MASTER, 0, 0);
    assert_true(i >= 0);
    st_event e = st_event_at(ev, i);
    st_assert_switch(&e, 0, topo.data[0].port, 1);
    pool_destroy(p);
    st_events_free(ev);
}

int main(void)
{
    st_t0_ns = st_now_ns();
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolve_first_sentinel),
        cmocka_unit_test(test_resolve_dead_first_sentinel),
        cmocka_unit_test(test_resolve_silent_first_sentinel),
        cmocka_unit_test(test_unknown_master_name),
        cmocka_unit_test(test_no_sentinel_up),
        cmocka_unit_test(test_lazy_start_no_sentinel),
        cmocka_unit_test(test_lazy_start_finds_master),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
