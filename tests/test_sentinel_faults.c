/* test_sentinel_faults.c: the pool keeps following the master when the
 * sentinels themselves fail or stay silent: the sentinel it listened to dies
 * with the master, a switch made without +switch-master, a sentinel killed
 * before a failover, messages missed while sentinels were stopped. Each test
 * starts its own topology (1 master, 2 replicas, 3 sentinels). */
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

#define SWITCH_WAIT_MS 65000 /* a sentinel in TILT (timer delayed > 2 s on a loaded machine) waits 30 s */

typedef struct fixture {
    fx_topology topo;
    st_events *ev;
    pool_t *pool; /* destroyed by teardown if a test failed half-way */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    f->ev = st_events_new();
    /* The fixture's default SENTINEL DEBUG ping-period (100 ms) makes a
     * replica's INFO count as stale after 5 pings (500 ms) once the master
     * is down, while Sentinel then refreshes replicas' INFO only every
     * 1000 ms: a kill -9 failover aborts with -failover-abort-no-good-slave.
     * 300 ms keeps detection quick and the INFO valid for 1500 ms. */
    fx_topology_opts o;
    memset(&o, 0, sizeof(o));
    o.ping_period_ms = 300;
    /* After a split vote (two sentinels starting the election together)
     * Sentinel retries only after 2 x failover-timeout: keep that short. */
    o.failover_timeout_ms = 4000;
    if (f->ev == NULL || fx_topology_start(&f->topo, &o) != 0) {
        st_events_free(f->ev);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f != NULL) {
        pool_destroy(f->pool);
        fx_topology_stop(&f->topo);
        st_events_free(f->ev);
        free(f);
    }
    return 0;
}

static pool_t *make_pool(fixture *f, st_pool_cfg *cfg)
{
    ST_ASSERT_OK(pool_create(&cfg->o, &f->pool));
    return f->pool;
}

static void done_pool(fixture *f)
{
    pool_destroy(f->pool);
    f->pool = NULL;
}

static void assert_ok_reply(redisReply *r, const char *what)
{
    if (r == NULL)
        fail_msg("%s: no reply", what);
    if (r->type == REDIS_REPLY_ERROR)
        fail_msg("%s: %s", what, r->str);
    freeReplyObject(r);
}

/* Wait for the pool's SWITCH_MASTER away from data[old] (after event index
 * from), borrow a writer at once (*t_writer: when it was handed out), then
 * wait for the sentinels to agree and check the event against them: old
 * address, new address, a generation past gen_before. Returns the new
 * data index. */
static int wait_switch(fixture *f, int from, int old, uint64_t gen_before, st_event *e,
                       int64_t *t_writer)
{
    fx_topology *t = &f->topo;
    int i = st_wait_event(f->ev, from, POOL_EVENT_SWITCH_MASTER, -t->data[old].port,
                          SWITCH_WAIT_MS);
    if (i < 0)
        fail_msg("the pool did not switch away from port %d within %d ms", t->data[old].port,
                 SWITCH_WAIT_MS);
    *e = st_event_at(f->ev, i);
    redisContext *c = NULL;
    ST_ASSERT_OK(pool_get_writer(f->pool, &c));
    *t_writer = st_now_ns();
    int port = c->tcp.port;
    pool_put(f->pool, c);
    int nw = fx_wait_master_change(t, old, SWITCH_WAIT_MS);
    assert_true(nw >= 0 && nw != old);
    st_assert_switch(e, t->data[old].port, t->data[nw].port, 0);
    assert_int_equal(port, t->data[nw].port);
    if (e->generation <= gen_before)
        fail_msg("switch generation %llu did not grow past %llu",
                 (unsigned long long)e->generation, (unsigned long long)gen_before);
    st_assert_writers_on(f->pool, &t->data[nw], 2);
    return nw;
}

/* kill -9 the master and the sentinel the pool asked first (the one it
 * resolved through): the other sentinels' events still get through. */
static void test_kill_master_and_its_sentinel(void **state)
{
    fixture *f = *state;
    st_pool_cfg cfg;
    st_pool_cfg_init(&cfg, &f->topo, f->ev);
    cfg.o.sentinel_poll_ms = 60000; /* no timer to fall back on */
    pool_t *p = make_pool(f, &cfg);
    st_assert_writers_on(p, &f->topo.data[0], 2);
    pool_stats_t before = st_stats(p);
    int from = st_events_count(f->ev);

    int64_t trigger = st_now_ns();
    assert_int_equal(fx_node_kill9(&f->topo.data[0]), 0);
    assert_int_equal(fx_node_kill9(&f->topo.sentinel[0]), 0);
    st_event e;
    int64_t t_writer = 0;
    wait_switch(f, from, 0, before.generation, &e, &t_writer);
    st_measure("kill -9 master + its sentinel", trigger, e.t_ns, t_writer);
    if (e.t_ns - trigger > 10000 * 1000000LL) /* a retried election: show why */
        fx_topology_dump(&f->topo);
    fprintf(stderr, "switch found by: %s\n", e.detail);
    assert_true(st_wait_event(f->ev, from, POOL_EVENT_SENTINEL_LOST, f->topo.sentinel[0].port,
                              0) >= 0);
    pool_stats_t after = st_stats(p);
    if (after.evicted_stale < before.evicted_stale + 2)
        fail_msg("evicted_stale %llu -> %llu: the idle connections to the dead master were "
                 "not closed as stale",
                 (unsigned long long)before.evicted_stale,
                 (unsigned long long)after.evicted_stale);
    done_pool(f);
}

/* An operator moves the master by hand and re-points the sentinels with
 * SENTINEL REMOVE/MONITOR: no +switch-master is ever published. Only the
 * poll (sentinel_poll_ms) can find it. */
static void test_switch_without_switch_master(void **state)
{
    fixture *f = *state;
    fx_topology *t = &f->topo;
    st_pool_cfg cfg;
    st_pool_cfg_init(&cfg, t, f->ev);
    cfg.o.sentinel_poll_ms = 200;
    pool_t *p = make_pool(f, &cfg);
    st_assert_writers_on(p, &t->data[0], 2);
    pool_stats_t before = st_stats(p);
    int from = st_events_count(f->ev);

    int64_t trigger = st_now_ns();
    assert_ok_reply(fx_cmd(&t->data[1], "REPLICAOF NO ONE"), "REPLICAOF NO ONE");
    assert_ok_reply(fx_cmd(&t->data[0], "REPLICAOF 127.0.0.1 %d", t->data[1].port), "REPLICAOF");
    assert_ok_reply(fx_cmd(&t->data[2], "REPLICAOF 127.0.0.1 %d", t->data[1].port), "REPLICAOF");
    for (int i = 0; i < t->n_sentinels; i++) {
        assert_ok_reply(fx_cmd(&t->sentinel[i], "SENTINEL REMOVE %s", t->master_name),
                        "SENTINEL REMOVE");
        assert_ok_reply(fx_cmd(&t->sentinel[i], "SENTINEL MONITOR %s 127.0.0.1 %d %d",
                               t->master_name, t->data[1].port, t->quorum),
                        "SENTINEL MONITOR");
        assert_ok_reply(fx_cmd(&t->sentinel[i], "SENTINEL SET %s down-after-milliseconds %d",
                               t->master_name, t->down_after_ms),
                        "SENTINEL SET");
    }
    int64_t reconfigured = st_now_ns();
    st_event e;
    int64_t t_writer = 0;
    assert_int_equal(wait_switch(f, from, 0, before.generation, &e, &t_writer), 1);
    st_measure("manual promotion, no +switch-master", trigger, e.t_ns, t_writer);
    fprintf(stderr, "switch %.1f ms after the sentinels were re-pointed, found by: %s\n",
            st_ms(e.t_ns - reconfigured), e.detail);
    /* Found by asking the sentinels, not by any event. */
    if (strstr(e.detail, "get-master-addr-by-name") == NULL)
        fail_msg("switch not found by the poll: %s", e.detail);
    pool_stats_t after = st_stats(p);
    assert_true(after.evicted_stale >= before.evicted_stale + 2);
    done_pool(f);
}

/* The sentinel the pool resolved through is killed (the master stays): the
 * watcher notices, and a later failover is still seen through the others. */
static void test_watcher_sentinel_killed(void **state)
{
    fixture *f = *state;
    fx_topology *t = &f->topo;
    st_pool_cfg cfg;
    st_pool_cfg_init(&cfg, t, f->ev);
    cfg.o.sentinel_poll_ms = 60000; /* only events can tell it */
    pool_t *p = make_pool(f, &cfg);
    st_assert_writers_on(p, &t->data[0], 2);
    int from = st_events_count(f->ev);
    assert_int_equal(fx_node_kill9(&t->sentinel[0]), 0);
    if (st_wait_event(f->ev, from, POOL_EVENT_SENTINEL_LOST, t->sentinel[0].port, 5000) < 0)
        fail_msg("no SENTINEL_LOST for the killed sentinel (port %d)", t->sentinel[0].port);
    fx_sleep_ms(300);
    /* Still on the same master: losing a sentinel is not a switch. */
    assert_int_equal(st_count_events(f->ev, from, POOL_EVENT_SWITCH_MASTER), 0);
    st_assert_writers_on(p, &t->data[0], 1);

    pool_stats_t before = st_stats(p);
    from = st_events_count(f->ev);
    int64_t trigger = st_now_ns();
    assert_int_equal(fx_sentinel_failover(t, 1), 0);
    st_event e;
    int64_t t_writer = 0;
    wait_switch(f, from, 0, before.generation, &e, &t_writer);
    st_measure("graceful after the watcher's sentinel died", trigger, e.t_ns, t_writer);
    fprintf(stderr, "switch found by: %s\n", e.detail);
    done_pool(f);
}

/* Does sentinel s list peer as s_down? */
static int sees_down(const fx_node *s, const char *name, int peer_port)
{
    char flags[256];
    return fx_sentinel_flags(s, "sentinels", name, peer_port, flags, sizeof(flags)) == 0 &&
           strstr(flags, "s_down") != NULL;
}

/* How often sentinel s answered SENTINEL sentinels (INFO commandstats),
 * and whether a client is subscribed to it with a pattern (only the pool's
 * watcher does that: sentinels talk to each other through the data nodes). */
static long sentinels_calls(const fx_node *s, int *watcher_subscribed)
{
    long calls = 0;
    redisReply *r = fx_cmd(s, "INFO commandstats");
    if (r != NULL && r->type == REDIS_REPLY_STRING) {
        const char *p = strstr(r->str, "cmdstat_sentinel|sentinels:calls=");
        if (p != NULL)
            calls = atol(p + strlen("cmdstat_sentinel|sentinels:calls="));
    }
    if (r != NULL)
        freeReplyObject(r);
    r = fx_cmd(s, "CLIENT LIST");
    *watcher_subscribed = r != NULL && r->type == REDIS_REPLY_STRING &&
                          strstr(r->str, " psub=1 ") != NULL;
    if (r != NULL)
        freeReplyObject(r);
    return calls;
}

/* Wait until the watcher is subscribed to sentinels 0 and 1 and has gone
 * quiet: the resolution it runs after subscribing (which asks SENTINEL
 * sentinels) is over, and with a one-minute poll nothing else asks. */
static void wait_watcher_quiet(fixture *f)
{
    fx_topology *t = &f->topo;
    long last = -1;
    int64_t stable_since = 0, until = st_now_ns() + 10000 * 1000000LL;
    for (;;) {
        int sub0 = 0, sub1 = 0;
        long calls = sentinels_calls(&t->sentinel[0], &sub0) +
                     sentinels_calls(&t->sentinel[1], &sub1);
        int64_t now = st_now_ns();
        if (!sub0 || !sub1 || calls != last) {
            last = calls;
            stable_since = now;
        } else if (now - stable_since >= 500 * 1000000LL) {
            return;
        }
        if (now > until)
            fail_msg("the watcher did not settle on sentinels 0 and 1");
        fx_sleep_ms(50);
    }
}

/* A pool that knows sentinels 0 and 1 but not 2: sentinel 2 is down until
 * 0 and 1 report it so, so resolution does not learn it; then it comes back
 * and everything converges again. Killed and restarted rather than
 * stopped: a sentinel stopped for over 2 s enters TILT mode for 30 s when
 * it resumes and would not run the failover. */
static pool_t *pool_without_sentinel2(fixture *f)
{
    fx_topology *t = &f->topo;
    assert_int_equal(fx_node_kill9(&t->sentinel[2]), 0);
    int64_t until = st_now_ns() + 10000 * 1000000LL;
    while (!(sees_down(&t->sentinel[0], t->master_name, t->sentinel[2].port) &&
             sees_down(&t->sentinel[1], t->master_name, t->sentinel[2].port))) {
        if (st_now_ns() > until)
            fail_msg("sentinels 0 and 1 never saw sentinel 2 down");
        fx_sleep_ms(50);
    }
    st_pool_cfg cfg;
    st_pool_cfg_init(&cfg, t, f->ev);
    char list[128];
    snprintf(list, sizeof(list), "127.0.0.1:%d,127.0.0.1:%d", t->sentinel[0].port,
             t->sentinel[1].port);
    cfg.o.sentinels = list;
    cfg.o.sentinel_poll_ms = 60000; /* the timer cannot rescue it within the test */
    pool_t *p = make_pool(f, &cfg);
    st_assert_writers_on(p, &t->data[0], 2);
    wait_watcher_quiet(f);
    assert_int_equal(fx_node_restart(&t->sentinel[2]), 0);
    assert_int_equal(fx_wait_replicas_synced(t, 30000), 0);
    if (st_wait_event(f->ev, 0, POOL_EVENT_SENTINEL_ADDED, t->sentinel[2].port, 0) >= 0)
        fail_msg("the pool learned sentinel 2 anyway: the test would not test anything");
    return p;
}

/* Sentinel 2 fails over while the pool's sentinels are out (stopped or
 * dead): the pool hears nothing and stays where it was. */
static int failover_unheard(fixture *f, uint64_t gen_before, int from, int64_t *trigger)
{
    fx_topology *t = &f->topo;
    *trigger = st_now_ns();
    assert_int_equal(fx_sentinel_failover(t, 2), 0);
    int nw = fx_wait_master_change(t, 0, SWITCH_WAIT_MS);
    assert_true(nw > 0);
    char host[64];
    int port = 0;
    uint64_t gen = 0;
    ST_ASSERT_OK(pool_current_master(f->pool, host, sizeof(host), &port, &gen));
    assert_int_equal(port, t->data[0].port);
    assert_int_equal(gen, gen_before);
    assert_int_equal(st_count_events(f->ev, from, POOL_EVENT_SWITCH_MASTER), 0);
    return nw;
}

/* Every sentinel the pool knows is stopped (SIGSTOP) while one it does not
 * know runs the failover: every message is missed. When they resume, the
 * pool catches up, although its poll timer is a minute. */
static void test_missed_messages_sigstop(void **state)
{
    fixture *f = *state;
    fx_topology *t = &f->topo;
    pool_t *p = pool_without_sentinel2(f);
    pool_stats_t before = st_stats(p);
    int from = st_events_count(f->ev);
    assert_int_equal(fx_node_sigstop(&t->sentinel[0]), 0);
    assert_int_equal(fx_node_sigstop(&t->sentinel[1]), 0);
    int64_t trigger = 0;
    int nw = failover_unheard(f, before.generation, from, &trigger);

    int64_t resumed = st_now_ns();
    assert_int_equal(fx_node_sigcont(&t->sentinel[0]), 0);
    assert_int_equal(fx_node_sigcont(&t->sentinel[1]), 0);
    st_event e;
    int64_t t_writer = 0;
    assert_int_equal(wait_switch(f, from, 0, before.generation, &e, &t_writer), nw);
    st_measure("missed messages (sentinels stopped)", trigger, e.t_ns, t_writer);
    fprintf(stderr, "caught up %.1f ms after the sentinels resumed, by: %s\n",
            st_ms(e.t_ns - resumed), e.detail);
    done_pool(f);
}

/* The same with the pool's sentinels killed and restarted after the
 * failover: they publish +switch-master when they learn the new config,
 * usually before the watcher has subscribed again, so the pool must
 * re-resolve once it is subscribed again. */
static void test_missed_messages_restart(void **state)
{
    fixture *f = *state;
    fx_topology *t = &f->topo;
    pool_t *p = pool_without_sentinel2(f);
    pool_stats_t before = st_stats(p);
    int from = st_events_count(f->ev);
    /* Stop both first: the watcher re-resolves when the first dies, and
     * must not ask the second while it still answers (it would learn
     * sentinel 2 from it). */
    assert_int_equal(fx_node_sigstop(&t->sentinel[0]), 0);
    assert_int_equal(fx_node_sigstop(&t->sentinel[1]), 0);
    assert_int_equal(fx_node_kill9(&t->sentinel[0]), 0);
    assert_int_equal(fx_node_kill9(&t->sentinel[1]), 0);
    int64_t trigger = 0;
    int nw = failover_unheard(f, before.generation, from, &trigger);

    int64_t resumed = st_now_ns();
    assert_int_equal(fx_node_restart(&t->sentinel[0]), 0);
    assert_int_equal(fx_node_restart(&t->sentinel[1]), 0);
    st_event e;
    int64_t t_writer = 0;
    assert_int_equal(wait_switch(f, from, 0, before.generation, &e, &t_writer), nw);
    st_measure("missed messages (sentinels restarted)", trigger, e.t_ns, t_writer);
    fprintf(stderr, "caught up %.1f ms after the sentinels were restarted, by: %s\n",
            st_ms(e.t_ns - resumed), e.detail);
    done_pool(f);
}

int main(void)
{
    st_t0_ns = st_now_ns();
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kill_master_and_its_sentinel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_switch_without_switch_master, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watcher_sentinel_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missed_messages_sigstop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missed_messages_restart, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
