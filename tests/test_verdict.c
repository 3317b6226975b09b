/* The watch's verdict (sentinel/verdict.c) without sockets: a recording
 * sink stands in for the pool and a script answers ROLE, so each rule of
 * WRONG SENTINELS (sentinel_pool.h) is checked by itself: announcements
 * refuted by ROLE, a fence that is lifted when the promotion does not come
 * true and the sentinel that is not believed again, a census that outvotes
 * a sentinel of another deployment, and an operator's change that wins the
 * vote. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"
#include "sentinel/watcher_internal.h"
#include "sentinel_pool.h"

/* ---- A recording sink ------------------------------------------------------------ */

typedef struct recorder {
    spool_addr writer;
    int known;
    int sets, fences, misconfigured, readers_calls; /* sets: changes (or unfences) only */
    char last_fence[256];
    spool_addr misconfigured_by; /* old_host/old_port of the last SENTINEL_MISCONFIGURED */
    size_t nreaders;
} recorder;

static uint64_t rec_writer_set(void *ctx, const char *host, int port, const char *why)
{
    (void)why;
    recorder *r = ctx;
    if (r->known && r->writer.port == port && strcmp(r->writer.host, host) == 0)
        return (uint64_t)r->sets; /* the pool's rule: the same writer changes nothing */
    snprintf(r->writer.host, sizeof(r->writer.host), "%s", host);
    r->writer.port = port;
    r->known = 1;
    return (uint64_t)++r->sets;
}

static void rec_writer_fence(void *ctx, const char *why)
{
    recorder *r = ctx;
    if (!r->known)
        return;
    r->known = 0;
    r->fences++;
    snprintf(r->last_fence, sizeof(r->last_fence), "%s", why);
}

static int rec_writer_get(void *ctx, spool_addr *out)
{
    recorder *r = ctx;
    if (!r->known)
        return POOL_ENOMASTER;
    *out = r->writer;
    return 0;
}

static void rec_readers_set(void *ctx, const spool_replica_info *list, size_t n)
{
    (void)list;
    recorder *r = ctx;
    r->readers_calls++;
    r->nreaders = n;
}

static void rec_vemit(void *ctx, pool_event_type_t type, const char *oh, int op, const char *nh,
                      int np, const char *fmt, va_list ap)
{
    (void)nh, (void)np, (void)fmt, (void)ap;
    recorder *r = ctx;
    if (type == POOL_EVENT_SENTINEL_MISCONFIGURED) {
        r->misconfigured++;
        snprintf(r->misconfigured_by.host, sizeof(r->misconfigured_by.host), "%s",
                 oh != NULL ? oh : "");
        r->misconfigured_by.port = op;
    }
}

static void rec_vlog(void *ctx, pool_log_level_t level, const char *fmt, va_list ap)
{
    (void)ctx, (void)level, (void)fmt, (void)ap;
}

static const struct spool_tls *rec_tls(void *ctx)
{
    (void)ctx;
    return NULL;
}

static const spool_sink_ops rec_ops = {
    .writer_set = rec_writer_set,
    .writer_fence = rec_writer_fence,
    .writer_get = rec_writer_get,
    .readers_set = rec_readers_set,
    .vemit = rec_vemit,
    .vlog = rec_vlog,
    .node_tls = rec_tls,
};

/* ---- Scripted ROLE ---------------------------------------------------------------- */

/* Nodes by port: W (writer), R1 and R2 (its replicas), F (a master of
 * another deployment), Y (a master an operator moved the name to). */
enum { W = 7001, R1 = 7002, R2 = 7003, F = 8001, Y = 9001, R3 = 7004 };

typedef struct world {
    sp_set set;
    sp_watch w;
    recorder rec;
    int r1_master;  /* R1 says master (a real promotion) */
    int w_lingers;  /* and W still says master, with no replica (Redis 7.0's window) */
    int probes;
} world;

static spool_addr node(int port)
{
    spool_addr a;
    memset(&a, 0, sizeof(a));
    snprintf(a.host, sizeof(a.host), "10.0.0.%d", port % 100);
    a.port = port;
    return a;
}

static void role_master(spool_role *out, int nreplicas, const int *replicas)
{
    memset(out, 0, sizeof(*out));
    out->kind = SPOOL_ROLE_MASTER;
    out->offset = 1000;
    for (int i = 0; i < nreplicas; i++) {
        out->listed[i].addr = node(replicas[i]);
        out->listed[i].offset = 1000;
    }
    out->nlisted = nreplicas;
}

static void role_replica_of(spool_role *out, int master)
{
    memset(out, 0, sizeof(*out));
    out->kind = SPOOL_ROLE_REPLICA;
    spool_addr m = node(master);
    snprintf(out->master_host, sizeof(out->master_host), "%s", m.host);
    out->master_port = master;
    snprintf(out->link_state, sizeof(out->link_state), "connected");
}

static int scripted_role(sp_watch *w, const spool_addr *n, int64_t deadline, spool_role *out)
{
    (void)deadline;
    world *x = (world *)(void *)((char *)w - offsetof(world, w));
    x->probes++;
    static const int w_replicas[] = {R1, R2};
    static const int f_replicas[] = {8002};
    static const int r1_replicas[] = {R2, W};
    switch (n->port) {
    case W:
        if (x->r1_master && x->w_lingers)
            role_master(out, 0, NULL);
        else if (x->r1_master)
            role_replica_of(out, R1);
        else
            role_master(out, 2, w_replicas);
        return 0;
    case R1:
        if (x->r1_master)
            role_master(out, x->w_lingers ? 1 : 2, r1_replicas);
        else
            role_replica_of(out, W);
        return 0;
    case R2:
        role_replica_of(out, x->r1_master ? R1 : W);
        return 0;
    case R3: /* a replica of W that connected after W's last ROLE */
        role_replica_of(out, W);
        return 0;
    case F:
        role_master(out, 1, f_replicas);
        return 0;
    case Y:
        role_master(out, 0, NULL);
        return 0;
    default:
        return POOL_ECONNECT;
    }
}

/* Three sentinels (0, 1, 2) and a watch whose writer is W, confirmed. */
static int setup(void **state)
{
    world *x = calloc(1, sizeof(*x));
    assert_non_null(x);
    x->set.nsentinels = 3;
    for (int i = 0; i < 3; i++) {
        snprintf(x->set.sentinels[i].addr.host, SPOOL_HOST_MAX, "10.0.1.%d", i);
        x->set.sentinels[i].addr.port = 26379;
    }
    sp_watch *w = &x->w;
    w->set = &x->set;
    w->sink = (spool_sink){&rec_ops, &x->rec};
    w->probe = scripted_role;
    w->stop_pipe[0] = w->stop_pipe[1] = -1;
    snprintf(w->master_name, sizeof(w->master_name), "mymaster");
    w->timeout_ms = 100;
    w->retry_ms = 20;
    w->last_resolve_rc = 1;
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    world *x = *state;
    sp_instances_free(x->w.replicas);
    free(x);
    return 0;
}

/* One resolution step in which sentinels answer[i] (0: no answer) are asked
 * in order, as set.c's run_step() does. */
static int step(world *x, const int answer[3])
{
    sp_watch *w = &x->w;
    sp_watch_begin(w);
    for (int i = 0; i < 3; i++) {
        if (answer[i] == 0) {
            sp_watch_answer(w, i, POOL_ENOSENTINEL, NULL);
        } else {
            spool_addr a = node(answer[i]);
            sp_watch_answer(w, i, 0, &a);
        }
        if (!sp_watch_need_more(w))
            break;
    }
    return sp_watch_decide(w);
}

static void start_on_w(world *x)
{
    const int all_w[3] = {W, W, W};
    assert_int_equal(step(x, all_w), 0);
    assert_true(x->rec.known);
    assert_int_equal(x->rec.writer.port, W);
}

/* "slave <ip>:<port> <ip> <port> @ mymaster <m-ip> <m-port>" */
static int promoted(world *x, int from, int promoted_port, int old_port)
{
    spool_addr p = node(promoted_port), m = node(old_port);
    char payload[256];
    int n = snprintf(payload, sizeof(payload), "slave %s:%d %s %d @ mymaster %s %d", p.host,
                     p.port, p.host, p.port, m.host, m.port);
    return sp_watch_event(&x->w, from, "+promoted-slave", 15, payload, (size_t)n);
}

/* ---- Tests -------------------------------------------------------------------------- */

/* Control: a real promotion of W's replica fences at once, and ROLE on the
 * candidate then moves the writer. */
static void test_real_promotion_fences_then_switches(void **state)
{
    world *x = *state;
    start_on_w(x);
    assert_int_equal(promoted(x, 0, R1, W), 1);
    assert_false(x->rec.known);
    assert_int_equal(x->rec.fences, 1);
    assert_non_null(strstr(x->rec.last_fence, "10.0.1.0:26379"));
    sp_watch_tick(&x->w); /* R1 still a replica: stays fenced, quietly */
    assert_false(x->rec.known);
    x->r1_master = 1;
    sp_watch_tick(&x->w);
    assert_true(x->rec.known);
    assert_int_equal(x->rec.writer.port, R1);
}

/* ROLE refutes at once: the announced node is our writer itself, a master
 * of another deployment, or a replica of some other master. No fence. */
static void test_refuted_announcements_do_not_fence(void **state)
{
    world *x = *state;
    start_on_w(x);
    promoted(x, 0, W, W);
    promoted(x, 0, F, W);
    promoted(x, 0, 8002, W); /* unknown node: no answer to ROLE */
    assert_true(x->rec.known);
    assert_int_equal(x->rec.fences, 0);
    assert_false(x->w.have_candidate);
    /* A replica that connected after W's last ROLE is plausible: ROLE says
     * it replicates from W. */
    promoted(x, 0, R3, W);
    assert_int_equal(x->rec.fences, 1);
}

/* A promotion about another master than ours does not fence either. */
static void test_announcement_about_another_master(void **state)
{
    world *x = *state;
    start_on_w(x);
    assert_int_equal(promoted(x, 1, R1, Y), 1); /* "look again", nothing more */
    assert_true(x->rec.known);
    assert_int_equal(x->rec.fences, 0);
}

/* A plausible promotion that does not come true: the fence is lifted once
 * the candidate still says replica after FENCE_PROOF_MS, and that
 * sentinel's next announcements of that node do not fence; another
 * sentinel's still do. */
static void test_false_promotion_lifted_and_distrusted(void **state)
{
    world *x = *state;
    start_on_w(x);
    promoted(x, 2, R1, W);
    assert_int_equal(x->rec.fences, 1);
    sp_watch_tick(&x->w);
    assert_true(x->w.have_candidate); /* not yet: the proof window is open */
    x->w.fence_until = spool_now_ns() - 1;
    sp_watch_tick(&x->w);
    assert_false(x->w.have_candidate);
    assert_true(x->w.next_resolve <= spool_now_ns());
    /* The next step's answers name W again: the fence goes. */
    const int all_w[3] = {W, W, W};
    assert_int_equal(step(x, all_w), 0);
    assert_true(x->rec.known);
    assert_int_equal(x->rec.writer.port, W);
    /* Sentinel 2 says it again, ten times: no fence. */
    for (int i = 0; i < 10; i++)
        promoted(x, 2, R1, W);
    assert_true(x->rec.known);
    assert_int_equal(x->rec.fences, 1);
    /* Another node from sentinel 2, or R1 from sentinel 0: believed. */
    promoted(x, 0, R1, W);
    assert_int_equal(x->rec.fences, 2);
}

/* A sentinel that announces several nodes in turn: one fence, lifted on
 * time (the proof window does not restart with each new name), and then
 * none of those nodes fences again. */
static void test_false_promotions_in_turn(void **state)
{
    world *x = *state;
    start_on_w(x);
    promoted(x, 2, R1, W);
    int64_t until = x->w.fence_until;
    promoted(x, 2, R2, W);
    promoted(x, 2, R1, W);
    assert_int_equal(x->rec.fences, 1);
    assert_true(x->w.fence_until == until);
    x->w.fence_until = spool_now_ns() - 1;
    sp_watch_tick(&x->w);
    assert_false(x->w.fence_unproven);
    const int all_w[3] = {W, W, W};
    assert_int_equal(step(x, all_w), 0);
    assert_true(x->rec.known);
    for (int i = 0; i < 10; i++) {
        promoted(x, 2, i % 2 ? R1 : R2, W);
        assert_true(x->rec.known);
    }
    assert_int_equal(x->rec.fences, 1);
}

/* A candidate that cannot be asked keeps the fence up to CANDIDATE_MS: a
 * crash cannot be told from a promotion in progress. */
static void test_unreachable_candidate_keeps_fence(void **state)
{
    world *x = *state;
    start_on_w(x);
    /* 7999: listed as W's replica, but it does not answer ROLE. */
    x->w.adopted_role.listed[x->w.adopted_role.nlisted].addr = node(7999);
    x->w.adopted_role.nlisted++;
    promoted(x, 0, 7999, W);
    assert_int_equal(x->rec.fences, 1);
    x->w.fence_until = spool_now_ns() - 1;
    sp_watch_tick(&x->w);
    assert_true(x->w.have_candidate);
    assert_false(x->rec.known);
    x->w.candidate_until = spool_now_ns() - 1;
    sp_watch_tick(&x->w);
    assert_false(x->w.have_candidate);
}

/* A sentinel of another deployment, first in the list: the census at the
 * first resolution outvotes it and reports it once; later steps that start
 * with it ask the next sentinel, and its events are ignored. */
static void test_foreign_sentinel_outvoted(void **state)
{
    world *x = *state;
    const int first[3] = {F, W, W};
    assert_int_equal(step(x, first), 0);
    assert_int_equal(x->rec.writer.port, W);
    assert_int_equal(x->rec.misconfigured, 1);
    /* The event names the outvoted sentinel where a program reads it. */
    assert_string_equal(x->rec.misconfigured_by.host, "10.0.1.0");
    assert_int_equal(x->rec.misconfigured_by.port, 26379);
    assert_true(x->w.views[0].foreign);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(step(x, first), 0);
        assert_int_equal(x->rec.writer.port, W);
    }
    assert_int_equal(x->rec.misconfigured, 1);
    assert_int_equal(x->rec.sets, 1);
    /* Its own deployment fails over: F's replica promoted, about "mymaster". */
    promoted(x, 0, 8002, F);
    assert_true(x->rec.known);
    assert_int_equal(x->rec.fences, 0);
}

/* Later in the life of the watch: a foreign answer (not a successor of W)
 * from one sentinel while the other two name W. */
static void test_foreign_answer_later(void **state)
{
    world *x = *state;
    start_on_w(x);
    const int later[3] = {F, W, W};
    assert_int_equal(step(x, later), 0);
    assert_int_equal(x->rec.writer.port, W);
    assert_int_equal(x->rec.misconfigured, 1);
    assert_int_equal(x->rec.sets, 1);
}

/* A failover seen by one sentinel first: its answer names W's replica,
 * which is plausible and master now; no vote, no report. */
static void test_first_sentinel_to_know_is_followed(void **state)
{
    world *x = *state;
    start_on_w(x);
    x->r1_master = 1;
    const int ans[3] = {R1, W, W};
    assert_int_equal(step(x, ans), 0);
    assert_int_equal(x->rec.writer.port, R1);
    assert_int_equal(x->rec.misconfigured, 0);
    assert_int_equal(x->probes > 0, 1);
}

/* Right after a graceful failover to R1, one sentinel has not caught up
 * and still names W, which Redis 7.0 keeps master (and no replica of R1)
 * for seconds: that sentinel is behind, not of another deployment. It is
 * outvoted without a SENTINEL_MISCONFIGURED report, and its next answers
 * still count. (Seen under load in test_wrong_sentinel: a false report.) */
static void test_sentinel_behind_after_failover(void **state)
{
    world *x = *state;
    start_on_w(x);
    x->r1_master = 1;
    x->w_lingers = 1;
    const int moved[3] = {R1, R1, R1};
    assert_int_equal(step(x, moved), 0);
    assert_int_equal(x->rec.writer.port, R1);
    const int behind[3] = {W, R1, R1};
    assert_int_equal(step(x, behind), 0);
    assert_int_equal(x->rec.writer.port, R1);
    assert_int_equal(x->rec.misconfigured, 0);
    assert_false(x->w.views[0].foreign);
    /* A master of another deployment is still reported. */
    const int foreign[3] = {F, R1, R1};
    assert_int_equal(step(x, foreign), 0);
    assert_int_equal(x->rec.writer.port, R1);
    assert_int_equal(x->rec.misconfigured, 1);
}

/* An operator moved the name to Y (no replica of W): every sentinel says
 * so, and the vote follows them. */
static void test_operator_change_wins_the_vote(void **state)
{
    world *x = *state;
    start_on_w(x);
    const int all_y[3] = {Y, Y, Y};
    assert_int_equal(step(x, all_y), 0);
    assert_int_equal(x->rec.writer.port, Y);
    assert_int_equal(x->rec.misconfigured, 0);
}

/* The sentinel's list of healthy replicas, as learn_replicas() keeps it. */
static void sentinel_lists(world *x, int n, const int *ports)
{
    sp_instance *list = calloc((size_t)n + 1, sizeof(*list));
    assert_non_null(list);
    for (int i = 0; i < n; i++)
        list[i].addr = node(ports[i]);
    sp_watch_replicas(&x->w, list, (size_t)n);
}

/* Readers: the sentinels take turns and may disagree about a replica for a
 * while; one answer that leaves a fit replica out does not drop it, two in a
 * row do, and the order handed to the pool does not depend on theirs. */
static void test_readers_survive_one_disagreeing_answer(void **state)
{
    world *x = *state;
    x->w.want_replicas = 1;
    const int both[2] = {R2, R1}, one[1] = {R1}, all_w[3] = {W, W, W};
    sentinel_lists(x, 2, both);
    assert_int_equal(step(x, all_w), 0);
    assert_int_equal(x->rec.nreaders, 2);
    sentinel_lists(x, 1, one);
    assert_int_equal(step(x, all_w), 0);
    assert_int_equal(x->rec.nreaders, 2);
    sentinel_lists(x, 2, both);
    assert_int_equal(step(x, all_w), 0);
    assert_int_equal(x->rec.nreaders, 2);
    sentinel_lists(x, 1, one);
    assert_int_equal(step(x, all_w), 0);
    sentinel_lists(x, 1, one);
    assert_int_equal(step(x, all_w), 0);
    assert_int_equal(x->rec.nreaders, 1);
}

/* Two sentinels, one vote each, nothing to break the tie but our writer:
 * stay, and accuse nobody. */
static void test_tie_keeps_writer(void **state)
{
    world *x = *state;
    start_on_w(x);
    x->set.nsentinels = 2;
    const int ans[3] = {F, W, 0};
    assert_int_equal(step(x, ans), 0);
    assert_int_equal(x->rec.writer.port, W);
    assert_int_equal(x->rec.misconfigured, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_real_promotion_fences_then_switches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuted_announcements_do_not_fence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_announcement_about_another_master, setup, teardown),
        cmocka_unit_test_setup_teardown(test_false_promotion_lifted_and_distrusted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_false_promotions_in_turn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_candidate_keeps_fence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_sentinel_outvoted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_answer_later, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_sentinel_to_know_is_followed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_operator_change_wins_the_vote, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sentinel_behind_after_failover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tie_keeps_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readers_survive_one_disagreeing_answer, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
