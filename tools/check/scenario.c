/* scenario.c: the fault scripts. Each runs on the main thread (the fixture
 * spawns and reaps servers there) and goes: steady lead-in, trigger, wait for
 * Sentinel's verdict, the second action (restart, SIGCONT), settle. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "harness.h"

/* Sentinel's own defaults, used to undo the fixture's fast periods. */
#define SENTINEL_INFO_PERIOD_MS 10000
#define SENTINEL_PUBLISH_PERIOD_MS 2000
/* A failover Sentinel aborts is retried after 2 x failover-timeout (20 s):
 * wait long enough to see the retry rather than fail the run. */
#define MASTER_CHANGE_MS 45000

static double since_s(int64_t from, int64_t to) { return (double)(to - from) / 1e9; }

static int usable(const fx_node *n) { return n->running && !n->stopped; }

/* ROLE of a data node: 'm', 'r' or 0 (no answer). Through the fixture, so
 * it speaks TLS to a TLS node; quiet, as the node may be down. */
static char role_of(const fx_node *n)
{
    redisContext *c = fx_connect_quiet(n, 500);
    if (c == NULL)
        return 0;
    char role = 0;
    redisReply *rep = redisCommand(c, "ROLE");
    if (rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 &&
        rep->element[0]->type == REDIS_REPLY_STRING) {
        const char *s = rep->element[0]->str;
        if (strcmp(s, "master") == 0)
            role = 'm';
        else if (strcmp(s, "slave") == 0 || strcmp(s, "replica") == 0)
            role = 'r';
    }
    if (rep != NULL)
        freeReplyObject(rep);
    redisFree(c);
    return role;
}

/* Poll the old master's ROLE until it says replica; 0 or -1 on timeout. */
static int wait_demoted(h_event *e, fx_node *old, int timeout_ms)
{
    int64_t deadline = h_now_ns() + (int64_t)timeout_ms * 1000000;
    while (h_now_ns() < deadline) {
        if (role_of(old) == 'r') {
            e->t_old_demoted = h_now_ns();
            return 0;
        }
        h_sleep_ms(50);
    }
    return -1;
}

/* Graceful failovers are measured with Sentinel's real info and publish
 * periods: they decide how long the demoted master goes on acting as master
 * (redis/redis#6062, about 10 s). The fixture's fast periods (info 500 ms,
 * publish 200 ms) would shrink that window to about one second. Other
 * periods (ping, ask) stay fast: they only speed up failure detection. */
static void set_slow_periods(h_run *r, int slow)
{
    for (int i = 0; i < r->topo.n_sentinels; i++) {
        fx_node *s = &r->topo.sentinel[i];
        if (!usable(s))
            continue;
        int info = slow || s->sdebug_info_period_ms <= 0 ? SENTINEL_INFO_PERIOD_MS
                                                         : s->sdebug_info_period_ms;
        int pub = slow || s->sdebug_publish_period_ms <= 0 ? SENTINEL_PUBLISH_PERIOD_MS
                                                           : s->sdebug_publish_period_ms;
        redisReply *rep =
            fx_cmd(s, "SENTINEL DEBUG info-period %d publish-period %d", info, pub);
        if (rep == NULL || rep->type == REDIS_REPLY_ERROR)
            h_say(r, "warning: sentinel 127.0.0.1:%d refused SENTINEL DEBUG: %s", s->port,
                  rep != NULL && rep->str != NULL ? rep->str : "no reply");
        if (rep != NULL)
            freeReplyObject(rep);
    }
}

static int fail(h_event *e, const char *fmt, const char *arg)
{
    e->failed = 1;
    snprintf(e->note, sizeof(e->note), fmt, arg);
    return -1;
}

int h_wait_settled(h_run *r, h_event *e, int timeout_ms)
{
    h_phase(r, "%s #%d: settling (replicas in sync, sentinels agree)", h_kind_name(e->kind),
            e->round);
    if (fx_wait_replicas_synced(&r->topo, timeout_ms) != 0)
        return fail(e, "%s", "the topology did not settle (fx_wait_replicas_synced)");
    int mi = fx_topology_master_index(&r->topo);
    if (mi < 0)
        return fail(e, "%s", "the sentinels do not agree on a master");
    r->master_idx = mi;
    int port = r->topo.data[mi].port;
    e->new_port = port;

    /* The pool must follow: its writer is the master Sentinel names. */
    int64_t deadline = h_now_ns() + 10000000000LL;
    int pool_port = 0;
    for (;;) {
        char host[128];
        if (pool_current_master(r->pool, host, sizeof(host), &pool_port, NULL) == 0 &&
            pool_port == port)
            break;
        if (h_now_ns() > deadline) {
            char msg[128];
            snprintf(msg, sizeof(msg), "the pool's writer is port %d, Sentinel's master %d",
                     pool_port, port);
            return fail(e, "%s", msg);
        }
        h_sleep_ms(20);
    }
    /* Every writer should be writing again before the next fault: wait up
     * to 15 s (a writer that never recovers fails the run in the report). */
    int64_t trig = atomic_load(&e->t_trigger);
    deadline = h_now_ns() + 15000000000LL;
    for (;;) {
        int behind = 0;
        for (int i = 0; i < r->o.writers; i++)
            if (atomic_load(&r->w[i].last_ok) <= trig)
                behind++;
        if (behind == 0 || h_now_ns() > deadline)
            break;
        h_sleep_ms(20);
    }
    return mi;
}

static const char *addr(const fx_node *n, char *buf, size_t len)
{
    snprintf(buf, len, "127.0.0.1:%d", n->port);
    return buf;
}

static int run_graceful(h_run *r, h_event *e, int old)
{
    fx_topology *t = &r->topo;
    fx_node *m = &t->data[old];
    int si = (e->round - 1 + r->master_idx) % t->n_sentinels;
    char ma[32], sa[32], na[32];
    addr(m, ma, sizeof(ma));
    addr(&t->sentinel[si], sa, sizeof(sa));
    e->sentinel_port = t->sentinel[si].port;
    e->slow_periods = !r->o.fast_info && t->sentinel[si].sdebug_info_period_ms > 0;
    if (e->slow_periods)
        set_slow_periods(r, 1);

    h_narrate(r,
              "Now asking Sentinel for a graceful failover (SENTINEL FAILOVER on %s): the "
              "master at %s will hand over to a replica. Nothing crashes: the old master stays "
              "up and for a while (about 10 s with Sentinel's real timing) still believes it is "
              "master and accepts writes, which are lost when it is turned into a replica "
              "(redis/redis#6062). The pool must move away at once: at most one write per "
              "thread may still land there.",
              sa, ma);
    h_say(r, "graceful #%d: SENTINEL FAILOVER via sentinel %s (master %s)%s", e->round, sa, ma,
          e->slow_periods ? ", Sentinel's real info/publish periods" : "");
    h_phase(r, "graceful #%d: failover requested", e->round);
    atomic_store(&e->t_trigger, h_now_ns());
    if (fx_sentinel_failover(t, si) != 0) {
        if (e->slow_periods)
            set_slow_periods(r, 0);
        return fail(e, "%s", "SENTINEL FAILOVER was refused");
    }
    int ni = fx_wait_master_change(t, old, MASTER_CHANGE_MS);
    if (ni < 0) {
        if (e->slow_periods)
            set_slow_periods(r, 0);
        return fail(e, "%s", "no new master within 45 s (see the sentinel logs: FX_KEEP_DIRS=1)");
    }
    e->t_master_changed = h_now_ns();
    addr(&t->data[ni], na, sizeof(na));
    double dt = since_s(atomic_load(&e->t_trigger), e->t_master_changed);
    h_say(r, "graceful #%d: sentinels agree on the new master %s, %.2f s after the request",
          e->round, na, dt);
    h_narrate(r,
              "Sentinel has promoted %s (%.1f s after the request). The old master %s is still "
              "up and still answers ROLE with \"master\": watching it until Sentinel demotes "
              "it.",
              na, dt, ma);
    h_phase(r, "graceful #%d: waiting for the old master %s to be demoted", e->round, ma);
    int rc = wait_demoted(e, m, 60000);
    if (e->slow_periods)
        set_slow_periods(r, 0);
    if (rc != 0)
        return fail(e, "%s", "the old master was not demoted within 60 s");
    dt = since_s(atomic_load(&e->t_trigger), e->t_old_demoted);
    h_say(r, "graceful #%d: old master %s now says replica, %.2f s after the request", e->round,
          ma, dt);
    h_narrate(r,
              "The old master %s has now been turned into a replica, %.1f s after the request. "
              "Whatever it acknowledged after the promotion is gone; the count of such lost "
              "writes comes at the end.",
              ma, dt);
    return 0;
}

static int run_crash(h_run *r, h_event *e, int old)
{
    fx_topology *t = &r->topo;
    fx_node *m = &t->data[old];
    char ma[32], na[32];
    addr(m, ma, sizeof(ma));
    h_narrate(r,
              "Now killing the master %s with kill -9, as if its machine died. Writes to it fail "
              "at once. Sentinel needs about a second (down-after) to notice and a little more "
              "to agree and promote a replica. Writes the dead master acknowledged but had not "
              "yet copied to a replica are lost: that is Redis' asynchronous replication, not "
              "the pool.",
              ma);
    h_say(r, "crash #%d: kill -9 of the master %s (pid %d)", e->round, ma, (int)m->pid);
    h_phase(r, "crash #%d: master killed, waiting for Sentinel", e->round);
    atomic_store(&e->t_trigger, h_now_ns());
    if (fx_node_kill9(m) != 0)
        return fail(e, "%s", "kill -9 of the master failed");
    int ni = fx_wait_master_change(t, old, MASTER_CHANGE_MS);
    if (ni < 0)
        return fail(e, "%s", "no new master within 45 s (see the sentinel logs: FX_KEEP_DIRS=1)");
    e->t_master_changed = h_now_ns();
    addr(&t->data[ni], na, sizeof(na));
    double dt = since_s(atomic_load(&e->t_trigger), e->t_master_changed);
    h_say(r, "crash #%d: sentinels agree on the new master %s, %.2f s after the kill", e->round,
          na, dt);
    h_narrate(r, "Sentinel has promoted %s, %.1f s after the kill.", na, dt);
    h_sleep_ms(r->o.restart_delay_ms);
    h_narrate(r,
              "Restarting the old master %s: it comes back empty, and Sentinel turns it into a "
              "replica of %s. The pool must not send it anything meanwhile.",
              ma, na);
    h_phase(r, "crash #%d: restarting the old master", e->round);
    e->t_action2 = h_now_ns();
    if (fx_node_restart(m) != 0)
        return fail(e, "%s", "restarting the old master failed");
    h_say(r, "crash #%d: old master %s restarted (pid %d)", e->round, ma, (int)m->pid);
    return 0;
}

static int run_freeze(h_run *r, h_event *e, int old)
{
    fx_topology *t = &r->topo;
    fx_node *m = &t->data[old];
    char ma[32], na[32];
    addr(m, ma, sizeof(ma));
    h_narrate(r,
              "Now freezing the master %s with SIGSTOP for %.1f s: the process is alive but "
              "answers nothing, like a long pause of its VM. Writers waiting on it time out "
              "after the command timeout; those writes are ambiguous (they may still run when "
              "it wakes up), so each writer retries the same write elsewhere.",
              ma, r->o.freeze_ms / 1000.0);
    h_say(r, "freeze #%d: SIGSTOP of the master %s for %d ms", e->round, ma, r->o.freeze_ms);
    h_phase(r, "freeze #%d: master frozen, waiting for Sentinel", e->round);
    atomic_store(&e->t_trigger, h_now_ns());
    if (fx_node_sigstop(m) != 0)
        return fail(e, "%s", "SIGSTOP of the master failed");
    int ni = fx_wait_master_change(t, old, MASTER_CHANGE_MS);
    if (ni < 0) {
        fx_node_sigcont(m);
        return fail(e, "%s", "no new master within 45 s (see the sentinel logs: FX_KEEP_DIRS=1)");
    }
    e->t_master_changed = h_now_ns();
    addr(&t->data[ni], na, sizeof(na));
    double dt = since_s(atomic_load(&e->t_trigger), e->t_master_changed);
    h_say(r, "freeze #%d: sentinels agree on the new master %s, %.2f s after the freeze",
          e->round, na, dt);
    h_narrate(r, "Sentinel has promoted %s, %.1f s after the freeze.", na, dt);
    int64_t wake = atomic_load(&e->t_trigger) + (int64_t)r->o.freeze_ms * 1000000;
    int64_t left = wake - h_now_ns();
    if (left > 0)
        h_sleep_ms((int)(left / 1000000));
    h_narrate(r,
              "Waking the old master %s with SIGCONT: it still thinks it is master until "
              "Sentinel turns it into a replica; the pool must not send it anything.",
              ma);
    e->t_action2 = h_now_ns();
    if (fx_node_sigcont(m) != 0)
        return fail(e, "%s", "SIGCONT of the old master failed");
    h_say(r, "freeze #%d: old master %s resumed after %.2f s", e->round, ma,
          since_s(atomic_load(&e->t_trigger), e->t_action2));
    h_phase(r, "freeze #%d: waiting for the old master to be demoted", e->round);
    if (wait_demoted(e, m, 60000) != 0)
        return fail(e, "%s", "the old master was not demoted within 60 s");
    h_say(r, "freeze #%d: old master %s now says replica, %.2f s after the freeze", e->round, ma,
          since_s(atomic_load(&e->t_trigger), e->t_old_demoted));
    return 0;
}

static int run_kill_sentinel(h_run *r, h_event *e)
{
    fx_topology *t = &r->topo;
    /* The pool listens to every sentinel; take a different one each round. */
    int si = (e->round - 1) % t->n_sentinels;
    fx_node *s = &t->sentinel[si];
    char sa[32];
    addr(s, sa, sizeof(sa));
    e->sentinel_port = s->port;
    h_narrate(r,
              "Now killing sentinel %s (kill -9) for %.1f s. The pool listens to all the "
              "sentinels, so losing one must change nothing for the writers.",
              sa, r->o.sentinel_down_ms / 1000.0);
    h_say(r, "kill-sentinel #%d: kill -9 of sentinel %s for %d ms", e->round, sa,
          r->o.sentinel_down_ms);
    h_phase(r, "kill-sentinel #%d: sentinel %s down", e->round, sa);
    atomic_store(&e->t_trigger, h_now_ns());
    if (fx_node_kill9(s) != 0)
        return fail(e, "%s", "kill -9 of the sentinel failed");
    h_sleep_ms(r->o.sentinel_down_ms);
    e->t_action2 = h_now_ns();
    if (fx_node_restart(s) != 0)
        return fail(e, "%s", "restarting the sentinel failed");
    h_say(r, "kill-sentinel #%d: sentinel %s restarted", e->round, sa);
    return 0;
}

static int run_wait(h_run *r, h_event *e)
{
    h_narrate(r, "Writing for %.1f s with no fault at all.", r->o.wait_ms / 1000.0);
    h_say(r, "wait #%d: %d ms without a fault", e->round, r->o.wait_ms);
    h_phase(r, "wait #%d: no fault", e->round);
    atomic_store(&e->t_trigger, h_now_ns());
    h_sleep_ms(r->o.wait_ms);
    return 0;
}

int h_scenario_run(h_run *r, int b)
{
    h_event *e = &r->ev[b];
    int old = r->master_idx;
    atomic_store(&r->cur_bucket, b);
    atomic_store(&e->old_port, r->topo.data[old].port);
    h_phase(r, "%s #%d: steady writing before the fault", h_kind_name(e->kind), e->round);
    h_sleep_ms(r->o.lead_ms);

    int rc = 0;
    switch (e->kind) {
    case H_GRACEFUL: rc = run_graceful(r, e, old); break;
    case H_CRASH: rc = run_crash(r, e, old); break;
    case H_FREEZE: rc = run_freeze(r, e, old); break;
    case H_KILL_SENTINEL: rc = run_kill_sentinel(r, e); break;
    case H_WAIT: rc = run_wait(r, e); break;
    default: rc = fail(e, "%s", "unknown event kind"); break;
    }
    if (rc == 0 && h_wait_settled(r, e, 60000) < 0)
        rc = -1;
    atomic_store(&e->t_end, h_now_ns());
    if (rc != 0) {
        h_say(r, "%s #%d: FAILED: %s", h_kind_name(e->kind), e->round, e->note);
        return -1;
    }
    int64_t trig = atomic_load(&e->t_trigger), sw = atomic_load(&e->t_switch);
    if (e->t_master_changed != 0 && e->t_master_changed - trig > 15000000000LL)
        snprintf(e->note, sizeof(e->note),
                 "Sentinel needed %.1f s: a failover attempt was probably aborted and retried "
                 "after 2 x failover-timeout",
                 since_s(trig, e->t_master_changed));
    h_say(r, "%s #%d: settled %.2f s after the trigger; master 127.0.0.1:%d", h_kind_name(e->kind),
          e->round, since_s(trig, atomic_load(&e->t_end)), e->new_port);
    if (e->expect_switch && sw != 0)
        h_narrate(r,
                  "Settled: replicas in sync with 127.0.0.1:%d, all writers writing again. The "
                  "pool had switched %.2f s after the trigger.",
                  e->new_port, since_s(trig, sw));
    return 0;
}
