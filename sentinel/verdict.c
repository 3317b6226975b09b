/* One watch's verdict about its writer: what the sentinels answered and
 * announced, checked against ROLE, turned into "switch", "fence" or "stay".
 * Talks to its pool only through the sink, and to nodes only through
 * w->probe, so the unit tests drive it with a recording sink and scripted
 * ROLE answers. A sentinel's word is a hint; ROLE is the truth. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/net.h"
#include "proto/sentinel_parse.h"
#include "sentinel/watcher_internal.h"

/* While a promotion is being confirmed, look again this often. */
#define HOT_POLL_MS 20
/* While resolution fails, retry after 20 ms, doubling up to this (or the
 * poll period if shorter). */
#define RETRY_MAX_MS 500
/* How long an event-named candidate is verified before we give up on it. */
#define CANDIDATE_MS 5000
/* A fence for an announced promotion that ROLE has not confirmed by then
 * is lifted (when the candidate still answers as a replica). A real
 * promotion's candidate says master within tens of ms. */
#define FENCE_PROOF_MS 600
/* ... and that sentinel's announcements of that node fence no more for: */
#define DISTRUST_MS 60000
/* How long a node we moved away from is held off (see would_go_back()). */
#define LEFT_HOLD_MS 30000

/* Where a node name came from: the sentinels' answer can be stale during a
 * failover (a sentinel that has not heard of it yet), a promotion event
 * cannot: only the sentinel doing the promotion publishes it. */
typedef enum { FROM_SENTINEL_ANSWER = 0, FROM_PROMOTION_EVENT = 1 } name_source;

static int64_t ms_from_now(int ms) { return spool_now_ns() + (int64_t)ms * 1000000; }

void sp_watch_log(sp_watch *w, pool_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    w->sink.ops->vlog(w->sink.ctx, level, fmt, ap);
    va_end(ap);
}

void sp_watch_emit(sp_watch *w, pool_event_type_t type, const char *old_host, int old_port,
                   const char *new_host, int new_port, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    w->sink.ops->vemit(w->sink.ctx, type, old_host, old_port, new_host, new_port, fmt, ap);
    va_end(ap);
}

static const char *sentinel_name(sp_watch *w, int i, char *buf, size_t len)
{
    const spool_addr *a = &w->set->sentinels[i].addr;
    return spool_addr_format(a->host, a->port, buf, len);
}

/* ---- What ROLE says about a node -------------------------------------------- */

/* node was among our writer's replicas when we last asked it. */
static int listed_replica(const sp_watch *w, const spool_addr *node)
{
    if (!w->have_adopted_role)
        return 0;
    for (int k = 0; k < w->adopted_role.nlisted; k++)
        if (spool_addr_equal(node, &w->adopted_role.listed[k].addr))
            return 1;
    return 0;
}

/* Could node be our writer's successor? It is one of its replicas (last
 * ROLE), or says now that it replicates from it. With no writer adopted yet
 * there is nothing to check against. */
static int plausible_successor(sp_watch *w, const spool_addr *node)
{
    if (!w->have_adopted || listed_replica(w, node))
        return 1;
    if (spool_addr_equal(node, &w->adopted))
        return 0;
    spool_role role;
    if (w->probe(w, node, spool_deadline_ms(w->timeout_ms), &role) != 0)
        return 0;
    spool_addr its_master = {.port = role.master_port};
    snprintf(its_master.host, sizeof(its_master.host), "%s", role.master_host);
    return role.kind == SPOOL_ROLE_REPLICA && spool_addr_equal(&its_master, &w->adopted);
}

static int writer_in_force(sp_watch *w, spool_addr *cur)
{
    return w->sink.ops->writer_get(w->sink.ctx, cur) == 0;
}

/* ---- The verdict: switch, fence, or wait --------------------------------- */

/* The master we left at the last switch, within LEFT_HOLD_MS of it. */
static int just_left(const sp_watch *w, const spool_addr *node)
{
    return w->have_adopted && spool_now_ns() < w->left_until && spool_addr_equal(node, &w->left);
}

/* Going back to the node we just left is allowed only once the node we
 * moved to says it is no longer master (a failover that was reversed). */
static int would_go_back(sp_watch *w, const spool_addr *node)
{
    if (!just_left(w, node))
        return 0;
    spool_role role;
    if (w->probe(w, &w->adopted, spool_deadline_ms(w->timeout_ms), &role) != 0)
        return 0;
    return role.kind == SPOOL_ROLE_MASTER;
}

/* A sentinel answer we must not act on: it names the master that a pending
 * promotion replaces, or the node we just left while the new one is still
 * master. Either way the writer in force (or the fence) is right. */
static int stale_answer(sp_watch *w, const spool_addr *node, int is_current)
{
    if (w->have_candidate && w->have_failing && spool_addr_equal(node, &w->failing) &&
        !spool_addr_equal(node, &w->candidate)) {
        sp_watch_log(w, POOL_LOG_DEBUG,
                     "%s:%d is named master by a sentinel, but a promotion away from it is "
                     "pending", node->host, node->port);
        return 1;
    }
    if (!is_current && w->have_adopted && !spool_addr_equal(node, &w->adopted) &&
        would_go_back(w, node)) {
        sp_watch_log(w, POOL_LOG_DEBUG,
                     "%s:%d is named master by a sentinel, but we left it for a promoted node "
                     "that is still master: that sentinel has not caught up yet",
                     node->host, node->port);
        return 1;
    }
    return 0;
}

/* Report a named master whose ROLE disagrees, once per node in a row: the
 * watcher retries every few ms and the event is for humans. */
static void report_not_master(sp_watch *w, const spool_addr *node, const spool_role *role,
                              const char *why)
{
    if (spool_addr_equal(node, &w->last_invalid))
        return;
    w->last_invalid = *node;
    sp_watch_emit(w, POOL_EVENT_VALIDATION_FAILED, node->host, node->port, NULL, 0,
                  "%s:%d is named master (%s) but its ROLE is %s", node->host, node->port, why,
                  role->kind == SPOOL_ROLE_REPLICA ? "replica" : "not master");
}

/* The sentinels (or an event) name node: switch to it once ROLE confirms.
 * 0 when the writer in force is right afterwards (switched, unchanged, or
 * the answer was stale), else why not. */
static int adopt_if_master(sp_watch *w, const spool_addr *node, const char *why,
                           name_source src)
{
    spool_addr cur;
    int is_current = writer_in_force(w, &cur) && spool_addr_equal(&cur, node);
    if (src == FROM_SENTINEL_ANSWER && stale_answer(w, node, is_current))
        return 0;
    spool_role role;
    int rc = w->probe(w, node, spool_deadline_ms(w->timeout_ms), &role);
    if (rc != 0)
        return rc;
    if (role.kind != SPOOL_ROLE_MASTER) {
        if (src == FROM_PROMOTION_EVENT)
            return POOL_ENOTMASTER; /* not promoted yet: the caller retries, quietly */
        if (is_current)
            w->sink.ops->writer_fence(w->sink.ctx, "the sentinels' master says it is a replica");
        report_not_master(w, node, &role, why);
        return POOL_ENOTMASTER;
    }
    if (w->have_adopted && !spool_addr_equal(node, &w->adopted)) {
        w->left = w->adopted;
        w->left_until = ms_from_now(LEFT_HOLD_MS);
    }
    w->adopted = *node;
    w->have_adopted = 1;
    w->adopted_role = role;
    w->have_adopted_role = 1;
    memset(&w->last_invalid, 0, sizeof(w->last_invalid));
    w->sink.ops->writer_set(w->sink.ctx, node->host, node->port, why);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    const spool_replica_info *x = a, *y = b;
    int c = strcasecmp(x->addr.host, y->addr.host);
    return c != 0 ? c : (x->addr.port > y->addr.port) - (x->addr.port < y->addr.port);
}

/* Tell the pool which replicas are fit for reads: connected to the master
 * we confirmed (its ROLE lists them, with the offset each acknowledged,
 * which gives the lag) and listed as up with a working link by the
 * sentinel that answered. The sentinels take turns and may disagree for a
 * while (one still flags a replica down that the others see up): a fit
 * replica leaves only when two answers in a row leave it out, or when the
 * master stops listing it. */
static void update_readers(sp_watch *w)
{
    if (!w->want_replicas || !w->have_replicas || !w->have_adopted_role)
        return;
    const spool_role *m = &w->adopted_role;
    spool_replica_info fit[SPOOL_MAX_REPLICAS];
    int strikes[SPOOL_MAX_REPLICAS];
    size_t n = 0;
    for (int k = 0; k < m->nlisted && n < SPOOL_MAX_REPLICAS; k++) {
        const spool_addr *a = &m->listed[k].addr;
        if (spool_addr_equal(a, &w->adopted))
            continue;
        int listed = 0, was = -1;
        for (size_t i = 0; i < w->nreplicas && !listed; i++)
            listed = spool_addr_equal(a, &w->replicas[i].addr);
        for (int j = 0; j < w->nfit && was < 0; j++)
            if (spool_addr_equal(a, &w->fit[j].addr))
                was = j;
        if (!listed && (was < 0 || w->fit[was].strikes >= 1))
            continue;
        fit[n].addr = *a;
        fit[n].lag = m->offset >= m->listed[k].offset ? m->offset - m->listed[k].offset : 0;
        strikes[n] = listed ? 0 : w->fit[was].strikes + 1;
        n++;
    }
    /* In one order whichever sentinel answered (they list replicas in
     * their own orders): round robin then stays even across polls. */
    for (size_t i = 0; i < n; i++) {
        w->fit[i].addr = fit[i].addr;
        w->fit[i].strikes = strikes[i];
    }
    w->nfit = (int)n;
    qsort(fit, n, sizeof(fit[0]), by_name);
    w->sink.ops->readers_set(w->sink.ctx, fit, n);
}

void sp_watch_replicas(sp_watch *w, sp_instance *list, size_t n)
{
    sp_instances_free(w->replicas);
    w->replicas = list;
    w->nreplicas = n;
    w->have_replicas = 1;
}

/* ---- A resolution step ------------------------------------------------------ */

/* Failures, from least to most telling: an error that names the master
 * name wins over "nobody answered". */
static int more_telling(int a, int b)
{
    if (a == 0)
        return b;
    if (b == POOL_EUNKNOWNMASTER || (b != 0 && a == POOL_ENOSENTINEL))
        return b;
    return a;
}

void sp_watch_begin(sp_watch *w)
{
    w->step++;
    w->step_rc = POOL_ENOSENTINEL;
    if (!w->have_adopted)
        w->census = 1; /* nothing to check a single answer against: ask everyone */
}

void sp_watch_answer(sp_watch *w, int i, int rc, const spool_addr *node)
{
    if (rc != 0) {
        w->step_rc = more_telling(w->step_rc, rc);
        return;
    }
    w->views[i].answer = *node;
    w->views[i].step = w->step;
}

/* The sentinels that answered in this step and are not outvoted. */
static int answered(const sp_watch *w, int i)
{
    return w->views[i].step == w->step && !w->views[i].foreign;
}

int sp_watch_need_more(sp_watch *w)
{
    if (w->census)
        return 1; /* the caller stops when every sentinel was asked */
    for (int i = 0; i < w->set->nsentinels; i++) {
        if (!answered(w, i))
            continue;
        const spool_addr *a = &w->views[i].answer;
        if (spool_addr_equal(a, &w->adopted) || plausible_successor(w, a))
            return 0;
        /* A master that is not our writer's successor: an operator's change
         * (all sentinels say so) or a sentinel of another deployment (the
         * others disagree). Only a vote tells. */
        w->census = 1;
        return 1;
    }
    /* No usable answer yet; a foreign sentinel's does not count, unless it
     * names our writer: then it has come round. */
    for (int i = 0; i < w->set->nsentinels; i++)
        if (w->views[i].step == w->step && w->views[i].foreign &&
            spool_addr_equal(&w->views[i].answer, &w->adopted))
            w->views[i].foreign = 0;
    return 1;
}

/* Outvote: the sentinels that named a node other than the winner that is
 * no successor of it, while more of them named the winner. Not one that
 * names the master we just left: it has not seen the failover yet, and
 * that node stays master (no replica of the winner) for seconds after a
 * graceful one on Redis 7.0. Behind, not of another deployment. */
static void report_dissenters(sp_watch *w, const spool_addr *winner, int votes)
{
    for (int i = 0; i < w->set->nsentinels; i++) {
        sp_view *v = &w->views[i];
        if (v->step != w->step || spool_addr_equal(&v->answer, winner) ||
            listed_replica(w, &v->answer) || just_left(w, &v->answer))
            continue;
        int theirs = 0;
        for (int j = 0; j < w->set->nsentinels; j++)
            theirs += w->views[j].step == w->step && spool_addr_equal(&w->views[j].answer, &v->answer);
        if (theirs >= votes)
            continue;
        v->foreign = 1;
        if (v->reported)
            continue;
        v->reported = 1;
        atomic_fetch_add(&w->set->n_misconfigured, 1);
        char sname[SPOOL_HOST_MAX + 8];
        sentinel_name(w, i, sname, sizeof(sname));
        sp_watch_emit(w, POOL_EVENT_SENTINEL_MISCONFIGURED, w->set->sentinels[i].addr.host,
                      w->set->sentinels[i].addr.port, v->answer.host, v->answer.port,
                      "sentinel %s names %s:%d as master of %s, a node that is no replica of "
                      "%s:%d, which %d other sentinel(s) name: it monitors another deployment "
                      "under the same name? Outvoted",
                      sname, v->answer.host, v->answer.port, w->master_name, winner->host,
                      winner->port, votes);
    }
}

int sp_watch_decide(sp_watch *w)
{
    int census = w->census;
    w->census = 0;
    /* The answer to act on: the only one, or the one most sentinels gave. */
    int best = -1, best_votes = 0;
    for (int i = 0; i < w->set->nsentinels; i++) {
        if (!answered(w, i))
            continue;
        int votes = 0;
        for (int j = 0; j < w->set->nsentinels; j++)
            votes += answered(w, j) && spool_addr_equal(&w->views[j].answer, &w->views[i].answer);
        /* Ties go to our writer, then to the first asked. */
        if (votes > best_votes ||
            (votes == best_votes && w->have_adopted &&
             spool_addr_equal(&w->views[i].answer, &w->adopted))) {
            best = i;
            best_votes = votes;
        }
        if (!census)
            break; /* one answer was enough (need_more said so) */
    }
    if (best < 0)
        return w->step_rc;
    spool_addr node = w->views[best].answer;
    int rc = adopt_if_master(w, &node, "sentinel get-master-addr-by-name", FROM_SENTINEL_ANSWER);
    if (rc == 0 && w->have_adopted && spool_addr_equal(&node, &w->adopted)) {
        if (census)
            report_dissenters(w, &node, best_votes);
        update_readers(w);
    }
    return rc;
}

int64_t sp_watch_next_step(sp_watch *w, int rc, int poll_ms)
{
    if (rc == POOL_ESHUTDOWN)
        return INT64_MAX;
    if (rc != 0 && rc != w->last_resolve_rc)
        sp_watch_log(w, POOL_LOG_WARN, "resolving %s: %s", w->master_name, pool_strerror(rc));
    else if (rc == 0 && w->last_resolve_rc != 0 && w->last_resolve_rc != 1)
        sp_watch_log(w, POOL_LOG_INFO, "resolving %s works again", w->master_name);
    w->last_resolve_rc = rc;
    if (w->have_candidate)
        return ms_from_now(HOT_POLL_MS);
    if (rc == 0) {
        w->retry_ms = HOT_POLL_MS;
        return INT64_MAX;
    }
    int ms = w->retry_ms;
    int cap = poll_ms < RETRY_MAX_MS ? poll_ms : RETRY_MAX_MS;
    w->retry_ms = w->retry_ms * 2 > cap ? cap : w->retry_ms * 2;
    return ms_from_now(ms);
}

/* ---- Announcements ------------------------------------------------------------ */

static int is(const char *ch, size_t len, const char *name)
{
    return strlen(name) == len && memcmp(ch, name, len) == 0;
}

/* Sentinel i's announcements of node are held vain for now. */
static int held_vain(const sp_view *v, const spool_addr *node)
{
    int64_t now = spool_now_ns();
    for (int k = 0; k < SP_VAIN_MAX; k++)
        if (now < v->vain[k].until && spool_addr_equal(node, &v->vain[k].node))
            return 1;
    return 0;
}

static void hold_vain(sp_view *v, const spool_addr *node)
{
    int slot = 0;
    for (int k = 0; k < SP_VAIN_MAX; k++) {
        if (spool_addr_equal(node, &v->vain[k].node)) {
            slot = k;
            break;
        }
        if (v->vain[k].until < v->vain[slot].until)
            slot = k; /* else the one that expires first */
    }
    v->vain[slot].node = *node;
    v->vain[slot].until = ms_from_now(DISTRUST_MS);
}

static void remember_announcer(sp_watch *w, int i, const spool_addr *node)
{
    for (int k = 0; k < w->nannouncers; k++)
        if (w->announcers[k].sentinel == i && spool_addr_equal(&w->announcers[k].node, node))
            return;
    if (w->nannouncers < SP_FENCE_ANNOUNCERS) {
        w->announcers[w->nannouncers].sentinel = i;
        w->announcers[w->nannouncers].node = *node;
        w->nannouncers++;
    }
}

/* Sentinel i announces node as the replica being promoted in place of
 * failing. Stop handing out failing right away if it is our writer: the
 * sentinel sends REPLICAOF NO ONE at its next tick (tens of ms later) and
 * every write the old master takes after that is lost, while Redis 7.0
 * keeps it writable for seconds (redis/redis#6062). Unless ROLE refutes the
 * announcement at once, or this sentinel announced this node in vain
 * before. Returns 1 when the sentinels should be asked now. */
static int announce(sp_watch *w, int i, const spool_addr *node, const spool_addr *failing)
{
    char sname[SPOOL_HOST_MAX + 8];
    if (w->have_adopted) {
        if (spool_addr_equal(node, &w->adopted)) {
            sp_watch_log(w, POOL_LOG_DEBUG, "sentinel %s announces %s:%d, our writer, as "
                         "promoted: nothing to do", sentinel_name(w, i, sname, sizeof(sname)),
                         node->host, node->port);
            return 0;
        }
        if (failing != NULL && !spool_addr_equal(failing, &w->adopted))
            return 1; /* about another master: maybe we missed a failover; look */
        if (!plausible_successor(w, node)) {
            sp_watch_log(w, POOL_LOG_DEBUG, "sentinel %s announces %s:%d as promoted, but it is "
                         "no replica of our writer %s:%d: ignored",
                         sentinel_name(w, i, sname, sizeof(sname)), node->host, node->port,
                         w->adopted.host, w->adopted.port);
            return 0;
        }
    }
    if (held_vain(&w->views[i], node))
        return 0; /* its word about this node is worth nothing for now */
    if (w->fence_unproven)
        remember_announcer(w, i, node);
    if (w->have_candidate && spool_addr_equal(node, &w->candidate))
        return 1; /* already being verified (several events per promotion) */
    w->candidate = *node;
    w->have_candidate = 1;
    w->candidate_from = i;
    w->candidate_until = ms_from_now(CANDIDATE_MS);
    if (failing == NULL || spool_addr_equal(failing, node))
        return 1;
    w->failing = *failing;
    w->have_failing = 1;
    spool_addr cur;
    if (writer_in_force(w, &cur) && spool_addr_equal(&cur, failing)) {
        char why[SPOOL_HOST_MAX * 2 + 64];
        snprintf(why, sizeof(why), "sentinel %s is promoting %s:%d in its place",
                 sentinel_name(w, i, sname, sizeof(sname)), node->host, node->port);
        w->fence_unproven = 1;
        w->fence_until = ms_from_now(FENCE_PROOF_MS);
        w->nannouncers = 0;
        remember_announcer(w, i, node);
        w->sink.ops->writer_fence(w->sink.ctx, why);
    }
    return 1;
}

int sp_watch_event(sp_watch *w, int i, const char *ch, size_t chlen, const char *payload,
                   size_t plen)
{
    if (w->views[i].foreign)
        return 0; /* outvoted: its events are about another deployment */
    if (is(ch, chlen, "+switch-master")) {
        sp_switch_master sm;
        if (sp_parse_switch_master(payload, plen, &sm) != 0 ||
            strcmp(sm.name, w->master_name) != 0)
            return 0;
        sp_watch_log(w, POOL_LOG_INFO, "+switch-master %s: %s:%d -> %s:%d", sm.name,
                     sm.old_addr.host, sm.old_addr.port, sm.new_addr.host, sm.new_addr.port);
        return announce(w, i, &sm.new_addr, &sm.old_addr);
    }
    sp_instance_event ev;
    int parsed = sp_parse_instance_event(payload, plen, &ev) == 0;
    if (chlen > 16 && memcmp(ch, "-failover-abort-", 16) == 0) {
        /* -failover-abort-*: the master stays (or changes later): drop the
         * candidate so the next answer may lift the fence. */
        if (!parsed || strcmp(ev.master_name, w->master_name) == 0) {
            w->have_candidate = 0;
            w->fence_unproven = 0;
        }
        return 1;
    }
    if (!parsed || strcmp(ev.master_name, w->master_name) != 0)
        return 0;
    if (is(ch, chlen, "+sentinel"))
        return 0; /* the set learns sentinels; see set.c */
    if ((is(ch, chlen, "+promoted-slave") || is(ch, chlen, "+failover-state-send-slaveof-noone")) &&
        ev.kind == SP_INSTANCE_REPLICA)
        /* Only the leading sentinel says this: the earliest word of a promotion. */
        return announce(w, i, &ev.addr, &ev.master_addr);
    if (ev.kind == SP_INSTANCE_SENTINEL)
        return 0; /* a sentinel came or went: neither writer nor readers change */
    if (ev.kind == SP_INSTANCE_REPLICA &&
        (is(ch, chlen, "+sdown") || is(ch, chlen, "-sdown") || is(ch, chlen, "+slave")))
        return w->want_replicas; /* the readers change, the writer does not */
    if (is(ch, chlen, "-sdown"))
        return 0;
    /* Everything else, +/-role-change included, asks for a fresh look. A
     * role change is never taken as a promotion: Sentinel says -role-change
     * for a replica claiming master, and then turns it back. */
    return 1;
}

/* ---- The pending candidate ---------------------------------------------------- */

/* The announced promotion did not come true in time: lift the fence (the
 * next answer naming our writer does, after ROLE), and hold what was
 * announced meanwhile vain: those sentinels' announcements of those nodes
 * fence no more for a while. */
static void lift_unproven_fence(sp_watch *w)
{
    char sname[SPOOL_HOST_MAX + 8];
    for (int k = 0; k < w->nannouncers; k++) {
        int i = w->announcers[k].sentinel;
        const spool_addr *n = &w->announcers[k].node;
        hold_vain(&w->views[i], n);
        sp_watch_log(w, POOL_LOG_WARN,
                     "sentinel %s announced the promotion of %s:%d, which did not happen within "
                     "%d ms: fence lifted; its announcements of that node do not fence for %d s",
                     sentinel_name(w, i, sname, sizeof(sname)), n->host, n->port, FENCE_PROOF_MS,
                     DISTRUST_MS / 1000);
    }
    w->fence_unproven = 0;
    w->nannouncers = 0;
    w->have_candidate = 0;
    w->next_resolve = spool_now_ns();
}

void sp_watch_tick(sp_watch *w)
{
    if (!w->have_candidate) {
        w->fence_unproven = 0;
        return;
    }
    spool_addr cand = w->candidate;
    int rc = adopt_if_master(w, &cand, "promotion event, ROLE confirmed", FROM_PROMOTION_EVENT);
    if (rc == 0) {
        w->have_candidate = 0;
        w->fence_unproven = 0;
        return;
    }
    int64_t now = spool_now_ns();
    if (rc == POOL_ENOTMASTER && w->fence_unproven && now >= w->fence_until) {
        lift_unproven_fence(w);
    } else if (now > w->candidate_until) {
        char sname[SPOOL_HOST_MAX + 8];
        sp_watch_log(w, POOL_LOG_WARN,
                     "sentinel %s announced the promotion of %s:%d, which never said master in "
                     "%d s: back to the sentinels' answer",
                     sentinel_name(w, w->candidate_from, sname, sizeof(sname)), cand.host,
                     cand.port, CANDIDATE_MS / 1000);
        w->have_candidate = 0;
        w->fence_unproven = 0;
        w->next_resolve = now;
    }
}
