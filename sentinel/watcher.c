/* The watcher thread: listens to every known sentinel at once, acts on the
 * first credible event, re-resolves after every (re)subscribe and on a poll
 * timer, and tells the pool through spool_writer_set()/spool_writer_fence().
 * No single sentinel is a single point of failure for noticing a switch. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pool/net.h"
#include "sentinel/parse.h"
#include "sentinel/watcher_internal.h"

/* While a promotion is being confirmed, look again this often. */
#define HOT_POLL_MS 20
/* While resolution fails, retry after 20 ms, doubling up to this (or the
 * poll period if shorter): fast when a switch is imminent, quiet when the
 * sentinels are simply gone. */
#define RETRY_MAX_MS 500
/* How long an event-named candidate is retried before we give up on it. */
#define CANDIDATE_MS 5000
/* How long a node we moved away from is held off (see would_go_back()). */
/* Largest unparsed input a subscription may hold. */
#define SUB_MAX_BUFFER (4u * 1024 * 1024)
#define LEFT_HOLD_MS 30000
/* A watcher step slower than this is logged (DEBUG): it delays switches. */
#define SLOW_STEP_MS 100

/* Where a node name came from: the sentinels' answer can be stale during a
 * failover (a sentinel that has not heard of it yet), a promotion event
 * cannot: only the sentinel doing the promotion publishes it. */
typedef enum { FROM_SENTINEL_ANSWER = 0, FROM_PROMOTION_EVENT = 1 } name_source;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }


/* ---- The verdict: switch, fence, or wait --------------------------------- */

/* Going back to the node we just left is allowed only once the node we
 * moved to says it is no longer master (a failover that was reversed). */
static int would_go_back(spool_watcher *w, const spool_addr *node)
{
    if (!w->have_adopted || spool_now_ns() >= w->left_until || !spool_addr_equal(node, &w->left))
        return 0;
    spool_role role;
    if (sp_node_role(w, &w->adopted, spool_deadline_ms(w->timeout_ms), &role) != 0)
        return 0;
    return role.kind == SPOOL_ROLE_MASTER;
}

/* A sentinel answer we must not act on: it names the master that a pending
 * promotion replaces, or the node we just left while the new one is still
 * master. Either way the writer in force (or the fence) is right. */
static int stale_answer(spool_watcher *w, const spool_addr *node, int is_current)
{
    if (w->have_candidate && w->have_failing && spool_addr_equal(node, &w->failing) &&
        !spool_addr_equal(node, &w->candidate)) {
        spool_log(w->pool, POOL_LOG_DEBUG,
                  "%s:%d is named master by a sentinel, but a promotion away from it is "
                  "pending", node->host, node->port);
        return 1;
    }
    if (!is_current && w->have_adopted && !spool_addr_equal(node, &w->adopted) &&
        would_go_back(w, node)) {
        spool_log(w->pool, POOL_LOG_DEBUG,
                  "%s:%d is named master by a sentinel, but we left it for a promoted node "
                  "that is still master: that sentinel has not caught up yet",
                  node->host, node->port);
        return 1;
    }
    return 0;
}

/* Report a named master whose ROLE disagrees, once per node in a row: the
 * watcher retries every few ms and the event is for humans. */
static void report_not_master(spool_watcher *w, const spool_addr *node, const spool_role *role,
                              const char *why)
{
    if (spool_addr_equal(node, &w->last_invalid))
        return;
    w->last_invalid = *node;
    spool_emit(w->pool, POOL_EVENT_VALIDATION_FAILED, node->host, node->port, NULL, 0,
               "%s:%d is named master (%s) but its ROLE is %s", node->host, node->port, why,
               role->kind == SPOOL_ROLE_REPLICA ? "replica" : "not master");
}

/* The sentinels (or an event) name node: switch to it once ROLE confirms.
 * 0 when the writer in force is right afterwards (switched, unchanged, or
 * the answer was stale), else why not. */
static int adopt_if_master(spool_watcher *w, const spool_addr *node, const char *why,
                           name_source src)
{
    spool_addr cur;
    int is_current = pool_current_master(w->pool, cur.host, sizeof(cur.host), &cur.port, NULL) ==
                         0 &&
                     spool_addr_equal(&cur, node);
    if (src == FROM_SENTINEL_ANSWER && stale_answer(w, node, is_current))
        return 0;
    spool_role role;
    int rc = sp_node_role(w, node, spool_deadline_ms(w->timeout_ms), &role);
    if (rc != 0)
        return rc;
    if (role.kind != SPOOL_ROLE_MASTER) {
        if (src == FROM_PROMOTION_EVENT)
            return POOL_ENOTMASTER; /* not promoted yet: the caller retries, quietly */
        if (is_current)
            spool_writer_fence(w->pool, "the sentinels' master says it is a replica");
        report_not_master(w, node, &role, why);
        return POOL_ENOTMASTER;
    }
    if (w->have_adopted && !spool_addr_equal(node, &w->adopted)) {
        w->left = w->adopted;
        w->left_until = spool_now_ns() + (int64_t)LEFT_HOLD_MS * 1000000;
    }
    w->adopted = *node;
    w->have_adopted = 1;
    w->adopted_role = role;
    w->have_adopted_role = 1;
    memset(&w->last_invalid, 0, sizeof(w->last_invalid));
    spool_writer_set(w->pool, node->host, node->port, why);
    return 0;
}

/* Tell the pool which replicas are fit for reads: listed by the sentinel as
 * up with a working link, and connected to the master we confirmed (its ROLE
 * lists them with the offset each acknowledged, which gives the lag). */
static void update_readers(spool_watcher *w)
{
    if (!w->want_replicas || !w->have_replicas || !w->have_adopted_role)
        return;
    const spool_role *m = &w->adopted_role;
    spool_replica_info fit[SPOOL_MAX_REPLICAS];
    size_t n = 0;
    for (size_t i = 0; i < w->nreplicas && n < SPOOL_MAX_REPLICAS; i++) {
        const spool_addr *a = &w->replicas[i].addr;
        if (spool_addr_equal(a, &w->adopted))
            continue; /* the promoted node, still listed as a replica somewhere */
        for (int k = 0; k < m->nlisted; k++) {
            if (!spool_addr_equal(a, &m->listed[k].addr))
                continue;
            fit[n].addr = *a;
            fit[n].lag = m->offset >= m->listed[k].offset ? m->offset - m->listed[k].offset : 0;
            n++;
            break;
        }
    }
    spool_readers_set(w->pool, fit, n);
}

/* Full resolution through the sentinels. */
static int resolve_and_adopt(spool_watcher *w)
{
    spool_addr a;
    int rc = sp_resolve(w, &a);
    if (rc != 0)
        return rc;
    rc = adopt_if_master(w, &a, "sentinel get-master-addr-by-name", FROM_SENTINEL_ANSWER);
    if (rc == 0 && w->have_adopted && spool_addr_equal(&a, &w->adopted))
        update_readers(w);
    return rc;
}

/* ---- Subscriptions ---------------------------------------------------------- */

static const char *const channels[] = {
    "SUBSCRIBE",
    "+switch-master",
    "+promoted-slave",
    "+failover-state-send-slaveof-noone",
    "+failover-state-reconf-slaves",
    "+failover-end",
    "+convert-to-slave",
    "+reset-master",
    "+sdown",
    "-sdown",
    "+odown",
    "+slave",
    "+role-change",
    "-role-change",
    "+sentinel",
};

_Static_assert(sizeof(channels) / sizeof(channels[0]) <= SPOOL_CMD_MAX_ARGS,
               "SUBSCRIBE and its channels must fit one spool_cmd");

static void drop_sub(spool_watcher *w, sp_sentinel *s, const char *why)
{
    if (s->sub != NULL) {
        redisFree(s->sub);
        s->sub = NULL;
    }
    s->retry_at = spool_now_ns() + (int64_t)s->backoff_ms * 1000000;
    s->backoff_ms = s->backoff_ms * 2 > 2000 ? 2000 : s->backoff_ms * 2;
    if (s->alive) {
        s->alive = 0;
        char buf[SPOOL_HOST_MAX + 8];
        spool_emit(w->pool, POOL_EVENT_SENTINEL_LOST, s->addr.host, s->addr.port, NULL, 0,
                   "sentinel %s lost: %s",
                   spool_addr_format(s->addr.host, s->addr.port, buf, sizeof(buf)), why);
    }
}

/* Subscribe: one write; the confirmations are read by the main loop. */
static int subscribe(spool_watcher *w, sp_sentinel *s)
{
    redisContext *c = NULL;
    int64_t deadline = spool_deadline_ms(w->timeout_ms);
    int rc = sp_sentinel_connect(w, &s->addr, deadline, &c);
    if (rc != 0)
        return rc;
    spool_cmd cmds[2] = {{.argc = (int)(sizeof(channels) / sizeof(channels[0]))},
                         {2, {"PSUBSCRIBE", "-failover-abort-*"}}};
    memcpy(cmds[0].argv, channels, sizeof(channels));
    rc = spool_send(c, deadline, w->stop_pipe[0], 2, cmds);
    if (rc != 0) {
        redisFree(c);
        return rc;
    }
    s->sub = c;
    s->alive = 1;
    s->backoff_ms = 100;
    return 0;
}

/* ---- Events ------------------------------------------------------------- */

static int is(const char *ch, size_t len, const char *name)
{
    return strlen(name) == len && memcmp(ch, name, len) == 0;
}

/* An event names node as the replica being promoted in place of failing.
 * Stop handing out failing right away if it is our writer: the sentinel
 * sends REPLICAOF NO ONE at its next tick (tens of ms later) and every write
 * the old master takes after that is lost, while Redis 7.0 keeps it writable
 * for seconds (redis/redis#6062). The fence holds until ROLE confirms the
 * candidate, the failover aborts, or the candidate expires. */
static void set_candidate(spool_watcher *w, const spool_addr *node, const spool_addr *failing)
{
    if (spool_host_copy(node->host, strlen(node->host), w->candidate.host) != 0)
        return;
    w->candidate.port = node->port;
    w->have_candidate = 1;
    w->candidate_until = spool_now_ns() + (int64_t)CANDIDATE_MS * 1000000;
    if (failing == NULL || spool_addr_equal(failing, node))
        return;
    w->failing = *failing;
    w->have_failing = 1;
    spool_addr cur;
    if (pool_current_master(w->pool, cur.host, sizeof(cur.host), &cur.port, NULL) == 0 &&
        spool_addr_equal(&cur, failing)) {
        char why[SPOOL_HOST_MAX + 48];
        snprintf(why, sizeof(why), "a sentinel is promoting %s:%d in its place", node->host,
                 node->port);
        spool_writer_fence(w->pool, why);
    }
}

/* Returns 1 when the event calls for resolving now. */
static int on_event(spool_watcher *w, const char *ch, size_t chlen, const char *payload,
                    size_t plen)
{
    if (is(ch, chlen, "+switch-master")) {
        sp_switch_master sm;
        if (sp_parse_switch_master(payload, plen, &sm) != 0 ||
            strcmp(sm.name, w->master_name) != 0)
            return 0;
        spool_log(w->pool, POOL_LOG_INFO, "+switch-master %s: %s:%d -> %s:%d", sm.name,
                  sm.old_addr.host, sm.old_addr.port, sm.new_addr.host, sm.new_addr.port);
        set_candidate(w, &sm.new_addr, &sm.old_addr);
        return 1;
    }
    sp_instance_event ev;
    int parsed = sp_parse_instance_event(payload, plen, &ev) == 0;
    if (chlen > 16 && memcmp(ch, "-failover-abort-", 16) == 0) {
        /* -failover-abort-*: the master stays (or changes later): drop the
         * candidate so the next answer may lift the fence. */
        if (!parsed || strcmp(ev.master_name, w->master_name) == 0)
            w->have_candidate = 0;
        return 1;
    }
    if (!parsed || strcmp(ev.master_name, w->master_name) != 0)
        return 0;
    if (is(ch, chlen, "+sentinel")) {
        if (ev.kind == SP_INSTANCE_SENTINEL)
            sp_sentinel_add(w, ev.addr.host, ev.addr.port);
        return 0;
    }
    if ((is(ch, chlen, "+promoted-slave") || is(ch, chlen, "+failover-state-send-slaveof-noone")) &&
        ev.kind == SP_INSTANCE_REPLICA) {
        /* Only the leading sentinel says this: the earliest word of a promotion. */
        set_candidate(w, &ev.addr, &ev.master_addr);
        return 1;
    }
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

/* Read whatever a subscriber socket has; returns 1 when something calls for
 * resolving now, -1 when the connection is gone. */
static int drain_sub(spool_watcher *w, sp_sentinel *s)
{
    if (spool_read_available(s->sub) != 0)
        return -1;
    /* Events are under 1 KB: a sentinel streaming a huge reply is dropped
     * before its buffer grows without bound. */
    if (s->sub->reader->len - s->sub->reader->pos > SUB_MAX_BUFFER)
        return -1;
    int want = 0;
    for (;;) {
        void *reply = NULL;
        if (redisGetReplyFromReader(s->sub, &reply) != REDIS_OK)
            return -1;
        if (reply == NULL)
            return want;
        const char *ch = NULL, *payload = NULL;
        size_t chlen = 0, plen = 0;
        int rc = sp_parse_pubsub_message(reply, &ch, &chlen, &payload, &plen);
        if (rc == 0)
            want |= on_event(w, ch, chlen, payload, plen);
        else if (rc == 1)
            want = 1; /* (re)subscribed: a message may have been missed, look now */
        else
            spool_log(w->pool, POOL_LOG_WARN, "sentinel %s:%d sent an unexpected reply",
                      s->addr.host, s->addr.port);
        freeReplyObject(reply);
    }
}

/* ---- The thread ---------------------------------------------------------- */

static void drain_pipe(int fd)
{
    char buf[64];
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
}

static int stopping(spool_watcher *w)
{
    struct pollfd p = {.fd = w->stop_pipe[0], .events = POLLIN};
    return poll(&p, 1, 0) > 0;
}

/* Log a watcher step that took long: it held back whatever came next. */
static void note_slow(spool_watcher *w, int64_t since, const char *what)
{
    int64_t ms = (spool_now_ns() - since) / 1000000;
    if (ms >= SLOW_STEP_MS)
        spool_log(w->pool, POOL_LOG_DEBUG, "watcher: %s took %lld ms", what, (long long)ms);
}

/* Verify the pending candidate; 1 while it is still pending. */
static int check_candidate(spool_watcher *w)
{
    int64_t t0 = spool_now_ns();
    spool_addr cand = w->candidate;
    int rc = adopt_if_master(w, &cand, "promotion event, ROLE confirmed", FROM_PROMOTION_EVENT);
    note_slow(w, t0, "checking the promoted candidate");
    if (rc == 0 || spool_now_ns() > w->candidate_until) {
        if (rc != 0)
            spool_log(w->pool, POOL_LOG_WARN, "%s:%d was announced as promoted but never said "
                      "master: falling back to the sentinels' answer", cand.host, cand.port);
        w->have_candidate = 0;
    }
    return w->have_candidate;
}

/* Resolve now; returns the delay before the next resolution in ms. A
 * failure is logged once until the error changes, and retried sooner. */
static int resolve_step(spool_watcher *w)
{
    int64_t t0 = spool_now_ns();
    int rc = resolve_and_adopt(w);
    note_slow(w, t0, "resolving");
    if (rc == POOL_ESHUTDOWN)
        return w->poll_ms;
    if (rc != 0 && rc != w->last_resolve_rc)
        spool_log(w->pool, POOL_LOG_WARN, "resolving %s: %s", w->master_name, pool_strerror(rc));
    else if (rc == 0 && w->last_resolve_rc != 0)
        spool_log(w->pool, POOL_LOG_INFO, "resolving %s works again", w->master_name);
    w->last_resolve_rc = rc;
    if (rc == 0) {
        w->retry_ms = HOT_POLL_MS;
        return w->have_candidate ? HOT_POLL_MS : w->poll_ms;
    }
    int ms = w->retry_ms;
    int cap = w->poll_ms < RETRY_MAX_MS ? w->poll_ms : RETRY_MAX_MS;
    w->retry_ms = w->retry_ms * 2 > cap ? cap : w->retry_ms * 2;
    return w->have_candidate ? HOT_POLL_MS : ms;
}

static void *watcher_main(void *arg)
{
    spool_watcher *w = arg;
    /* With no master yet (lazy start) look at once, else after one period. */
    int64_t next_poll = spool_now_ns();
    if (pool_current_master(w->pool, NULL, 0, NULL, NULL) == 0)
        next_poll += (int64_t)w->poll_ms * 1000000;
    int resolve_now = 0;
    while (!stopping(w)) {
        int64_t now = spool_now_ns();
        for (int i = 0; i < w->nsentinels; i++) {
            sp_sentinel *s = &w->sentinels[i];
            if (s->sub == NULL && now >= s->retry_at) {
                int rc = subscribe(w, s);
                if (rc != 0)
                    drop_sub(w, s, pool_strerror(rc));
            }
        }
        note_slow(w, now, "subscribing");
        if (w->have_candidate)
            check_candidate(w);
        now = spool_now_ns();
        if (resolve_now || now >= next_poll) {
            int ms = resolve_step(w);
            resolve_now = 0;
            next_poll = spool_now_ns() + (int64_t)ms * 1000000;
        }

        struct pollfd fds[SP_MAX_SENTINELS + 2];
        int idx[SP_MAX_SENTINELS];
        int n = 0;
        fds[n++] = (struct pollfd){.fd = w->stop_pipe[0], .events = POLLIN};
        fds[n++] = (struct pollfd){.fd = w->poke_pipe[0], .events = POLLIN};
        int64_t wake = next_poll;
        for (int i = 0; i < w->nsentinels; i++) {
            sp_sentinel *s = &w->sentinels[i];
            if (s->sub != NULL) {
                idx[n - 2] = i;
                fds[n++] = (struct pollfd){.fd = s->sub->fd, .events = POLLIN};
            } else {
                wake = min64(wake, s->retry_at);
            }
        }
        if (w->have_candidate)
            wake = min64(wake, spool_now_ns() + (int64_t)HOT_POLL_MS * 1000000);
        int64_t left = wake - spool_now_ns();
        int ms = left <= 0 ? 0 : (int)((left + 999999) / 1000000);
        int rc = poll(fds, (nfds_t)n, ms);
        if (rc < 0 && errno != EINTR)
            break;
        if (rc <= 0)
            continue;
        if (fds[0].revents)
            break;
        if (fds[1].revents) {
            drain_pipe(w->poke_pipe[0]);
            resolve_now = 1;
        }
        for (int k = 2; k < n; k++) {
            if (!fds[k].revents)
                continue;
            sp_sentinel *s = &w->sentinels[idx[k - 2]];
            int got = drain_sub(w, s);
            if (got < 0) {
                drop_sub(w, s, "subscription connection closed");
                resolve_now = 1;
            } else {
                resolve_now |= got;
            }
        }
    }
    return NULL;
}

/* ---- Start, poke, stop --------------------------------------------------- */

static int dup_str(char **dst, const char *src)
{
    *dst = NULL;
    if (src == NULL)
        return 0;
    *dst = strdup(src);
    return *dst == NULL ? -1 : 0;
}

int spool_watcher_start(pool_t *pool, const pool_options_t *o, spool_watcher **out)
{
    *out = NULL;
    spool_watcher *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return POOL_ENOMEM;
    w->pool = pool;
    w->stop_pipe[0] = w->stop_pipe[1] = w->poke_pipe[0] = w->poke_pipe[1] = -1;
    snprintf(w->master_name, sizeof(w->master_name), "%s", o->master_name);
    w->timeout_ms = o->sentinel_timeout_ms;
    w->poll_ms = o->sentinel_poll_ms;
    w->retry_ms = HOT_POLL_MS;
    w->want_replicas = o->max_readers > 0;
    int rc = POOL_ENOMEM;
    if (dup_str(&w->sentinel_username, o->sentinel_username) ||
        dup_str(&w->sentinel_password, o->sentinel_password) ||
        dup_str(&w->username, o->username) || dup_str(&w->password, o->password))
        goto fail;
    rc = POOL_ETHREAD;
    if (pipe2(w->stop_pipe, O_NONBLOCK | O_CLOEXEC) != 0 ||
        pipe2(w->poke_pipe, O_NONBLOCK | O_CLOEXEC) != 0)
        goto fail;

    spool_addr *list = NULL;
    size_t n = 0;
    if ((rc = spool_addr_list_parse(o->sentinels, &list, &n)) != 0)
        goto fail;
    for (size_t i = 0; i < n; i++)
        sp_sentinel_add(w, list[i].host, list[i].port);
    free(list);

    if (!o->lazy_start) {
        /* Fail fast, but give a failover in progress a few tries. */
        for (int attempt = 0; attempt < 5; attempt++) {
            rc = resolve_and_adopt(w);
            if (rc != POOL_ENOTMASTER)
                break;
            usleep(100000);
        }
        if (rc != 0)
            goto fail;
    }
    if (pthread_create(&w->thread, NULL, watcher_main, w) != 0) {
        rc = POOL_ETHREAD;
        goto fail;
    }
    w->started = 1;
    *out = w;
    return 0;
fail:
    spool_watcher_free(w);
    return rc;
}

void spool_watcher_poke(spool_watcher *w)
{
    if (w == NULL)
        return;
    ssize_t n = write(w->poke_pipe[1], "p", 1);
    (void)n; /* a full pipe already says "look again" */
}

void spool_watcher_stop(spool_watcher *w)
{
    if (w == NULL || !w->started)
        return;
    ssize_t n = write(w->stop_pipe[1], "s", 1);
    (void)n;
    pthread_join(w->thread, NULL);
    w->started = 0;
    for (int i = 0; i < w->nsentinels; i++)
        if (w->sentinels[i].sub != NULL) {
            redisFree(w->sentinels[i].sub);
            w->sentinels[i].sub = NULL;
        }
}

void spool_watcher_free(spool_watcher *w)
{
    if (w == NULL)
        return;
    spool_watcher_stop(w);
    for (int i = 0; i < 2; i++) {
        if (w->stop_pipe[i] >= 0)
            close(w->stop_pipe[i]);
        if (w->poke_pipe[i] >= 0)
            close(w->poke_pipe[i]);
    }
    free(w->sentinel_username);
    free(w->sentinel_password);
    free(w->username);
    free(w->password);
    sp_instances_free(w->replicas);
    free(w);
}
