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

/* Poll the old master's ROLE until it says replica; 0 or -1 on timeout. */
static int wait_demoted(h_run *r, h_event *e, int old, int timeout_ms)
{
    int64_t deadline = h_now_ns() + (int64_t)timeout_ms * 1000000;
    while (h_now_ns() < deadline) {
        if (h_role_of(r, old) == 'r') {
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
    /* A longer note is cut: it is one line for a person to read. */
    if (snprintf(e->note, sizeof(e->note), fmt, arg) < 0)
        e->note[0] = '\0';
    return -1;
}

int h_wait_settled(h_run *r, h_event *e, int timeout_ms)
{
    h_phase(r, "%s #%d: settling (replicas in sync, sentinels agree)", h_kind_name(e->kind),
            e->round);
    if (h_wait_synced(r, timeout_ms) != 0)
        return fail(e, "%s", "the replicas did not catch up with the master");
    int mi = h_master_index(r);
    if (mi < 0)
        return fail(e, "%s", "the sentinels do not agree on a master");
    r->master_idx = mi;
    e->new_node = mi;

    /* The pool must follow: its writer is the master Sentinel names. */
    int64_t deadline = h_now_ns() + 10000000000LL;
    for (;;) {
        char host[256];
        int pool_port = 0;
        int have = pool_current_master(r->pool, host, sizeof(host), &pool_port, NULL) == 0;
        if (have && h_node_of(r, host, pool_port) == mi)
            break;
        if (h_now_ns() > deadline) {
            char msg[600], want[300];
            snprintf(msg, sizeof(msg), "the pool's writer is %s:%d, Sentinel's master %s",
                     have ? host : "none", pool_port, h_node_name(r, mi, want, sizeof(want)));
            return fail(e, "%.250s", msg); /* e->note is 256 bytes */
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

/* SENTINEL FAILOVER through the sentinels in turn from si, until one takes
 * it or refuses it (an error reply is Sentinel's verdict, not a lost
 * connection); the sentinel that took it is in *si. 0 or -1 (why). */
static int ask_failover(h_run *r, int *si, char *why, size_t len)
{
    for (int k = 0; k < r->n_sent; k++) {
        int i = (*si + k) % r->n_sent;
        if (h_sentinel_failover(r, i, why, len) == 0) {
            *si = i;
            return 0;
        }
        if (r->deploy == NULL || strcmp(why, "no answer") != 0)
            return -1;
    }
    return -1;
}

static int run_graceful(h_run *r, h_event *e, int old)
{
    /* A deployment's sentinels are the operator's: their periods stay as they are. */
    fx_topology *t = r->deploy == NULL ? &r->topo : NULL;
    int si = (e->round - 1 + r->master_idx) % r->n_sent;
    char ma[300], sa[300], na[300], why[200]; /* fits e->note with the prefix */
    h_node_name(r, old, ma, sizeof(ma));
    h_sentinel_name(r, si, sa, sizeof(sa));
    e->slow_periods = t != NULL && !r->o.fast_info && t->sentinel[si].sdebug_info_period_ms > 0;
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
    if (ask_failover(r, &si, why, sizeof(why)) != 0) {
        if (e->slow_periods)
            set_slow_periods(r, 0);
        return fail(e, "SENTINEL FAILOVER failed: %s", why);
    }
    e->sentinel_port = r->sent[si].port;
    if (strcmp(h_sentinel_name(r, si, na, sizeof(na)), sa) != 0)
        h_say(r, "graceful #%d: sentinel %s did not answer; %s took the request", e->round, sa, na);
    int ni = h_wait_master_change(r, old, MASTER_CHANGE_MS);
    if (ni < 0) {
        if (e->slow_periods)
            set_slow_periods(r, 0);
        return fail(e, "%s",
                    t != NULL ? "no new master within 45 s (see the sentinel logs: FX_KEEP_DIRS=1)"
                              : "no new master within 45 s (see the sentinels' logs)");
    }
    e->t_master_changed = h_now_ns();
    h_node_name(r, ni, na, sizeof(na));
    double dt = since_s(atomic_load(&e->t_trigger), e->t_master_changed);
    h_say(r, "graceful #%d: sentinels agree on the new master %s, %.2f s after the request",
          e->round, na, dt);
    h_narrate(r,
              "Sentinel has promoted %s (%.1f s after the request). The old master %s is still "
              "up and still answers ROLE with \"master\": watching it until Sentinel demotes "
              "it.",
              na, dt, ma);
    h_phase(r, "graceful #%d: waiting for the old master %s to be demoted", e->round, ma);
    int rc = wait_demoted(r, e, old, 60000);
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
    if (wait_demoted(r, e, old, 60000) != 0)
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
    atomic_store(&e->old_node, old);
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
    char na[300];
    h_node_name(r, e->new_node, na, sizeof(na));
    h_say(r, "%s #%d: settled %.2f s after the trigger; master %s", h_kind_name(e->kind),
          e->round, since_s(trig, atomic_load(&e->t_end)), na);
    if (e->expect_switch && sw != 0)
        h_narrate(r,
                  "Settled: replicas in sync with %s, all writers writing again. The "
                  "pool had switched %.2f s after the trigger.",
                  na, since_s(trig, sw));
    return 0;
}
