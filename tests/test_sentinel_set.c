/* test_sentinel_set.c: many pools on one shared sentinel set, against real
 * redis-sentinel processes. What the sentinels see is read from their own
 * INFO: connections held and opened, commands processed. The same counts
 * with a watcher per pool are what issue 13 measured (a new connection per
 * poll, per pool); here they must not grow with the number of pools. */
#define _GNU_SOURCE

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "sentinel_pool.h"
#include "sentinel_util.h"

#define NPOOLS 6
#define POLL_MS 300

static fx_topology topo;
static fx_node other; /* a second master, monitored as "other" by the same sentinels */

static int group_setup(void **state)
{
    (void)state;
    if (fx_topology_start(&topo, NULL) != 0)
        return -1;
    fx_redis_opts ro = {0};
    if (fx_topology_tls_dir(&topo) != NULL) {
        /* TLS runs: "other" stays out (a plaintext node among TLS sentinels). */
        return 0;
    }
    if (fx_redis_start(&other, &ro) != 0)
        return -1;
    for (int i = 0; i < topo.n_sentinels; i++) {
        redisReply *r = fx_cmd(&topo.sentinel[i], "SENTINEL MONITOR other 127.0.0.1 %d 2",
                               other.port);
        int ok = r != NULL && r->type == REDIS_REPLY_STATUS;
        if (r != NULL)
            freeReplyObject(r);
        if (!ok)
            return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    fx_node_stop(&other);
    fx_topology_stop(&topo);
    return 0;
}

/* A number after "<field>" in an INFO text; -1 when absent. */
static long long info_ll(const char *info, const char *field)
{
    const char *p = strstr(info, field);
    return p != NULL ? strtoll(p + strlen(field), NULL, 10) : -1;
}

typedef struct sentinel_counts {
    long long clients[FX_MAX_SENTINELS]; /* connections held */
    long long conns[FX_MAX_SENTINELS];   /* connections accepted so far */
} sentinel_counts;

/* One INFO per sentinel: one connection of its own, which every connection
 * delta below includes once. (Commands cannot be told apart here: the
 * sentinels ping and publish to each other; the set counts its own.) */
static void read_counts(sentinel_counts *c)
{
    for (int i = 0; i < topo.n_sentinels; i++) {
        redisReply *r = fx_cmd(&topo.sentinel[i], "INFO");
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        c->clients[i] = info_ll(r->str, "connected_clients:");
        c->conns[i] = info_ll(r->str, "total_connections_received:");
        freeReplyObject(r);
        assert_true(c->clients[i] >= 0 && c->conns[i] >= 0);
    }
}

/* Options for a pool on set: the topology's (TLS to data nodes included),
 * without the sentinel fields, which are the set's. */
static void pool_on_set(st_pool_cfg *cfg, st_events *ev, pool_sentinel_set_t *set)
{
    st_pool_cfg_init(cfg, &topo, ev);
    cfg->o.sentinels = NULL;
    cfg->o.sentinel_tls = 0;
    cfg->o.sentinel_set = set;
}

static pool_sentinel_set_t *make_set(st_events *ev)
{
    st_pool_cfg cfg;
    st_pool_cfg_init(&cfg, &topo, ev);
    cfg.o.sentinel_poll_ms = POLL_MS;
    pool_sentinel_set_t *set = NULL;
    ST_ASSERT_OK(pool_sentinel_set_create(&cfg.o, &set));
    assert_non_null(set);
    return set;
}

static void write_through(pool_t *p, const char *key)
{
    redisContext *c = NULL;
    ST_ASSERT_OK(pool_get_writer(p, &c));
    redisReply *r = redisCommand(c, "SET %s 1", key);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    pool_put(p, c);
}

/* Six pools (two of them on a second master name, three with replica
 * reads) on one set hold a subscription per sentinel and one query
 * connection, open none in steady state, and poll all names in one round
 * trip per period. */
static void test_many_pools_cost_one_watcher(void **state)
{
    (void)state;
    int two_names = fx_topology_tls_dir(&topo) == NULL;
    sentinel_counts before, settled, after;
    read_counts(&before);
    st_events *ev = st_events_new();
    pool_sentinel_set_t *set = make_set(ev);
    pool_t *pools[NPOOLS] = {NULL};
    for (int k = 0; k < NPOOLS; k++) {
        st_pool_cfg cfg;
        pool_on_set(&cfg, ev, set);
        cfg.o.max_readers = k % 2 ? 2 : 0;
        if (two_names && k >= NPOOLS - 2)
            cfg.o.master_name = "other";
        ST_ASSERT_OK(pool_create(&cfg.o, &pools[k]));
    }
    for (int k = 0; k < NPOOLS; k++) {
        char host[64];
        int port = 0;
        ST_ASSERT_OK(pool_current_master(pools[k], host, sizeof(host), &port, NULL));
        assert_int_equal(port, two_names && k >= NPOOLS - 2 ? other.port : topo.data[0].port);
        write_through(pools[k], "set:k");
    }
    fx_sleep_ms(2 * POLL_MS); /* subscriptions up, the census done */
    read_counts(&settled);
    pool_sentinel_set_stats_t s0, s1;
    ST_ASSERT_OK(pool_sentinel_set_stats(set, &s0));
    fx_sleep_ms(3000);
    ST_ASSERT_OK(pool_sentinel_set_stats(set, &s1));
    read_counts(&after);
    long long held = 0, opened = 0;
    for (int i = 0; i < topo.n_sentinels; i++) {
        long long h = after.clients[i] - before.clients[i];
        long long o = after.conns[i] - settled.conns[i] - 1; /* less read_counts' own */
        printf("sentinel %d: %lld connections held, %lld opened in 3 s\n",
               topo.sentinel[i].port, h, o);
        assert_true(h <= 2); /* one subscription, one query connection */
        held += h;
        opened += o;
    }
    /* A subscription to each, one query connection in all. */
    assert_true(held >= topo.n_sentinels && held <= topo.n_sentinels + 1);
    assert_int_equal(opened, 0);
    /* One round trip per period for every name, spread over the sentinels;
     * a watcher per pool would make NPOOLS times as many, each on a new
     * connection. */
    uint64_t trips = s1.round_trips - s0.round_trips, polls = s1.polls - s0.polls;
    printf("set: %llu round trips, %llu polls, %llu connects in 3 s; %llu pools, %llu "
           "sentinels, %llu subscribed\n",
           (unsigned long long)trips, (unsigned long long)polls,
           (unsigned long long)(s1.connects - s0.connects), (unsigned long long)s1.pools,
           (unsigned long long)s1.sentinels, (unsigned long long)s1.subscribed);
    assert_true(polls >= 3000 / (POLL_MS * 5 / 4) - 1 && polls <= 3000 / POLL_MS + 1);
    assert_true(trips <= polls + 1);
    assert_int_equal(s1.connects, s0.connects);
    assert_int_equal(s1.pools, NPOOLS);
    assert_int_equal(s1.sentinels, (uint64_t)topo.n_sentinels);
    assert_int_equal(s1.subscribed, (uint64_t)topo.n_sentinels);

    /* A graceful failover: every pool on the name follows, the others stay. */
    int old = fx_topology_master_index(&topo);
    assert_true(old >= 0);
    assert_int_equal(fx_sentinel_failover(&topo, 0), 0);
    int now = fx_wait_master_change(&topo, old, 60000);
    assert_true(now >= 0);
    for (int k = 0; k < NPOOLS; k++) {
        int want = two_names && k >= NPOOLS - 2 ? other.port : topo.data[now].port;
        int port = 0;
        for (int tries = 0; tries < 200; tries++) {
            if (pool_current_master(pools[k], NULL, 0, &port, NULL) == 0 && port == want)
                break;
            fx_sleep_ms(50);
        }
        assert_int_equal(port, want);
        write_through(pools[k], "set:after");
    }
    ST_ASSERT_OK(fx_wait_replicas_synced(&topo, 30000));

    /* Release the set first: the pools keep it alive. */
    pool_sentinel_set_release(set);
    for (int k = 0; k < NPOOLS; k++)
        pool_destroy(pools[k]);
    /* The last pool gone, the set let go of every sentinel connection. */
    sentinel_counts end;
    for (int tries = 0; tries < 50; tries++) {
        read_counts(&end);
        int back = 1;
        for (int i = 0; i < topo.n_sentinels; i++)
            back &= end.clients[i] <= before.clients[i];
        if (back)
            break;
        fx_sleep_ms(100);
    }
    for (int i = 0; i < topo.n_sentinels; i++)
        assert_true(end.clients[i] <= before.clients[i]);
    st_events_free(ev);
}

/* Bad options are refused with a reason; a pool whose name the sentinels
 * do not know fails alone; destroying the pools before the release works
 * as well as after. */
static void test_set_errors_and_lifetime(void **state)
{
    (void)state;
    st_events *ev = st_events_new();
    pool_options_t o;
    pool_options_init(&o);
    pool_sentinel_set_t *set = (pool_sentinel_set_t *)0x1;
    assert_int_equal(pool_sentinel_set_create(&o, &set), POOL_EINVAL); /* no sentinels */
    assert_null(set);
    o.sentinels = "127.0.0.1:notaport";
    assert_int_equal(pool_sentinel_set_create(&o, &set), POOL_EINVAL);
    assert_int_equal(pool_sentinel_set_create(NULL, &set), POOL_EINVAL);
    pool_sentinel_set_release(NULL);

    set = make_set(ev);
    st_pool_cfg cfg;
    pool_on_set(&cfg, ev, set);
    pool_t *p = (pool_t *)0x1;
    cfg.o.sentinels = "127.0.0.1:1"; /* the set's business */
    assert_int_equal(pool_create(&cfg.o, &p), POOL_EINVAL);
    assert_null(p);
    pool_on_set(&cfg, ev, set);
    cfg.o.master_addr = "127.0.0.1:1";
    assert_int_equal(pool_create(&cfg.o, &p), POOL_EINVAL);
    pool_on_set(&cfg, ev, set);
    cfg.o.master_name = "nosuchmaster";
    assert_int_equal(pool_create(&cfg.o, &p), POOL_EUNKNOWNMASTER);
    assert_null(p);
    pool_on_set(&cfg, ev, set);
    ST_ASSERT_OK(pool_create(&cfg.o, &p));
    write_through(p, "set:lifetime");
    pool_t *lazy = NULL;
    cfg.o.lazy_start = 1;
    ST_ASSERT_OK(pool_create(&cfg.o, &lazy));
    write_through(lazy, "set:lazy");
    pool_destroy(p);
    pool_destroy(lazy);
    pool_sentinel_set_release(set); /* after its pools: frees it now */

    /* A set nobody used. */
    set = make_set(ev);
    pool_sentinel_set_release(set);
    st_events_free(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_pools_cost_one_watcher),
        cmocka_unit_test(test_set_errors_and_lifetime),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
