/* A sentinel set: one thread that listens to every known sentinel at once
 * (one subscription each) and asks them where the masters are (one query
 * connection each), for every watch on it: one per pool, any master name.
 * It acts on the first credible event, asks again after every
 * (re)subscribe, and polls for all names together in one round trip per
 * sentinel_poll_ms to one sentinel (the last that answered; each process
 * starts at a random one), jittered so a fleet of processes does not poll
 * in step. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/net.h"
#include "net/tls.h"
#include "proto/options_abi.h"
#include "proto/reply_guard.h"
#include "proto/sentinel_parse.h"
#include "sentinel/sentinel_source.h"
#include "sentinel/watcher_internal.h"

/* The sentinels' own list (SENTINEL sentinels) is asked every this many
 * steps, and whenever a watch has no writer yet; +sentinel events tell the
 * rest. */
#define DISCOVERY_EVERY 10
/* A loop turn slower than this is logged (DEBUG): it delays switches. */
#define SLOW_STEP_MS 100
/* pool_create() without lazy_start gives a failover in progress this many
 * resolutions before it gives up with POOL_ENOTMASTER. */
#define START_ATTEMPTS 5

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

void sp_set_log(sp_set *s, pool_log_level_t level, const char *fmt, ...)
{
    if (s->log_fn == NULL || level > s->log_level)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    s->log_fn(s->log_userdata, level, msg);
}

static void tls_log(void *arg, const char *fmt, va_list ap)
{
    sp_set *s = arg;
    if (s->log_fn == NULL || POOL_LOG_WARN > s->log_level)
        return;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    s->log_fn(s->log_userdata, POOL_LOG_WARN, msg);
}

/* ---- Sentinels ------------------------------------------------------------ */

static void tell_added(sp_watch *w, const spool_addr *a)
{
    char buf[SPOOL_HOST_MAX + 8];
    sp_watch_emit(w, POOL_EVENT_SENTINEL_ADDED, NULL, 0, a->host, a->port, "sentinel %s added",
                  spool_addr_format(a->host, a->port, buf, sizeof(buf)));
}

int sp_sentinel_add(sp_set *s, const char *host, int port)
{
    spool_addr a = {.port = port};
    if (snprintf(a.host, sizeof(a.host), "%s", host) >= (int)sizeof(a.host))
        return -1;
    for (int i = 0; i < s->nsentinels; i++)
        if (spool_addr_equal(&s->sentinels[i].addr, &a))
            return i;
    if (s->nsentinels >= SP_MAX_SENTINELS || !spool_port_valid(port) ||
        strlen(host) >= SPOOL_HOST_MAX)
        return -1;
    sp_sentinel *sn = &s->sentinels[s->nsentinels];
    memset(sn, 0, sizeof(*sn));
    strcpy(sn->addr.host, host);
    sn->addr.port = port;
    sn->backoff_ms = 100;
    atomic_store(&s->n_sentinels, s->nsentinels + 1);
    for (size_t k = 0; k < s->nsnap; k++)
        if (s->snap[k]->welcomed)
            tell_added(s->snap[k], &sn->addr);
    return s->nsentinels++;
}

void sp_sentinel_lost(sp_set *s, sp_sentinel *sn, const char *why)
{
    if (!sn->alive)
        return;
    sn->alive = 0;
    char buf[SPOOL_HOST_MAX + 8];
    spool_addr_format(sn->addr.host, sn->addr.port, buf, sizeof(buf));
    for (size_t k = 0; k < s->nsnap; k++)
        sp_watch_emit(s->snap[k], POOL_EVENT_SENTINEL_LOST, sn->addr.host, sn->addr.port, NULL, 0,
                      "sentinel %s lost: %s", buf, why);
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

static void drop_sub(sp_set *s, sp_sentinel *sn, const char *why)
{
    if (sn->sub != NULL) {
        redisFree(sn->sub);
        sn->sub = NULL;
    }
    sn->retry_at = spool_now_ns() + (int64_t)sn->backoff_ms * 1000000;
    sn->backoff_ms = sn->backoff_ms * 2 > 2000 ? 2000 : sn->backoff_ms * 2;
    sp_sentinel_lost(s, sn, why);
}

/* Subscribe: one write; the confirmations are read by the main loop. */
static int subscribe(sp_set *s, sp_sentinel *sn)
{
    redisContext *c = NULL;
    int64_t deadline = spool_deadline_ms(s->timeout_ms);
    int rc = sp_sentinel_connect(s, &sn->addr, deadline, &c);
    if (rc != 0)
        return rc;
    spool_cmd cmds[2] = {{.argc = (int)(sizeof(channels) / sizeof(channels[0]))},
                         {2, {"PSUBSCRIBE", "-failover-abort-*"}}};
    memcpy(cmds[0].argv, channels, sizeof(channels));
    rc = spool_send(c, deadline, s->stop_pipe[0], 2, cmds);
    if (rc != 0) {
        redisFree(c);
        return rc;
    }
    sn->sub = c;
    sn->alive = 1;
    sn->backoff_ms = 100;
    return 0;
}

static void all_due(sp_set *s)
{
    int64_t now = spool_now_ns();
    for (size_t k = 0; k < s->nsnap; k++)
        s->snap[k]->next_resolve = now;
}

/* An event from sentinel i: learn a sentinel, and let every watch judge it
 * (each checks the master name). */
static void on_event(sp_set *s, int i, const char *ch, size_t chlen, const char *payload,
                     size_t plen)
{
    if (chlen == 9 && memcmp(ch, "+sentinel", 9) == 0) {
        sp_instance_event ev;
        if (sp_parse_instance_event(payload, plen, &ev) == 0 && ev.kind == SP_INSTANCE_SENTINEL) {
            for (size_t k = 0; k < s->nsnap; k++)
                if (strcmp(s->snap[k]->master_name, ev.master_name) == 0 &&
                    !s->snap[k]->views[i].foreign) {
                    sp_sentinel_add(s, ev.addr.host, ev.addr.port);
                    break;
                }
        }
        return;
    }
    for (size_t k = 0; k < s->nsnap; k++)
        if (sp_watch_event(s->snap[k], i, ch, chlen, payload, plen))
            s->snap[k]->next_resolve = spool_now_ns();
}

/* Read whatever a subscriber socket has; -1 when the connection is gone. */
static int drain_sub(sp_set *s, int i)
{
    sp_sentinel *sn = &s->sentinels[i];
    if (spool_read_available(sn->sub) != 0)
        return -1;
    /* Events are under 1 KB: a sentinel streaming a huge reply is dropped
     * before its buffer grows without bound. */
    if (spool_reader_over(sn->sub->reader, SPOOL_SUB_MAX_BUFFER))
        return -1;
    for (;;) {
        void *reply = NULL;
        if (redisGetReplyFromReader(sn->sub, &reply) != REDIS_OK)
            return -1;
        if (reply == NULL)
            return 0;
        const char *ch = NULL, *payload = NULL;
        size_t chlen = 0, plen = 0;
        int rc = sp_parse_pubsub_message(reply, &ch, &chlen, &payload, &plen);
        if (rc == 0)
            on_event(s, i, ch, chlen, payload, plen);
        else if (rc == 1)
            all_due(s); /* (re)subscribed: a message may have been missed, look now */
        else
            sp_set_log(s, POOL_LOG_WARN, "sentinel %s:%d sent an unexpected reply",
                       sn->addr.host, sn->addr.port);
        freeReplyObject(reply);
    }
}

/* ---- Watches coming and going --------------------------------------------- */

/* Take the list of watches for this turn: let go of those closing, welcome
 * the new ones (they hear of every sentinel and are asked about at once). */
static void refresh_snapshot(sp_set *s)
{
    pthread_mutex_lock(&s->mu);
    size_t kept = 0;
    for (size_t k = 0; k < s->nwatches; k++) {
        sp_watch *w = s->watches[k];
        if (w->leaving) {
            w->gone = 1;
            continue;
        }
        s->watches[kept++] = w;
    }
    int let_go = kept != s->nwatches;
    s->nwatches = kept;
    if (s->capsnap < kept) {
        sp_watch **snap = realloc(s->snap, kept * sizeof(*snap));
        if (snap != NULL) {
            s->snap = snap;
            s->capsnap = kept;
        }
    }
    s->nsnap = kept <= s->capsnap ? kept : s->capsnap;
    if (s->nsnap > 0)
        memcpy(s->snap, s->watches, s->nsnap * sizeof(*s->snap));
    if (let_go)
        pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (size_t k = 0; k < s->nsnap; k++) {
        sp_watch *w = s->snap[k];
        if (w->welcomed)
            continue;
        w->welcomed = 1;
        for (int i = 0; i < s->nsentinels; i++)
            tell_added(w, &s->sentinels[i].addr);
        w->next_resolve = spool_now_ns();
    }
}

/* Hand the step's result to a pool_create() waiting for it. A result that
 * ends that wait also ends the watch's own retries and takes it out of the
 * next snapshot (the safety poll asks for every watch in it): the creator
 * is about to let go, and a step racing it would be one more connection to
 * a sentinel it gave up on. */
static void report_result(sp_set *s, sp_watch *w, int rc)
{
    pthread_mutex_lock(&s->mu);
    w->first_rc = rc;
    w->attempts++;
    if (rc == 0)
        atomic_store(&s->subscribing, 1);
    int ends_wait = rc != 0 && (rc != POOL_ENOTMASTER || w->attempts >= START_ATTEMPTS);
    if (w->starting && ends_wait) {
        w->next_resolve = INT64_MAX;
        w->leaving = 1;
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* ---- Asking the sentinels ----------------------------------------------------- */

/* One resolution step for the due watches: the sentinel that answered last
 * answers for all of them in one round trip; a watch that needs more (no
 * answer, an answer to check by vote) asks the next ones. */
static void run_step(sp_set *s, sp_watch **due, size_t ndue)
{
    s->ask_sentinels = s->steps++ % DISCOVERY_EVERY == 0 || s->discover_soon;
    s->discover_soon = 0;
    for (size_t k = 0; k < ndue; k++) {
        sp_watch_begin(due[k]);
        s->ask_sentinels |= due[k]->census;
    }
    sp_watch **pending = malloc(ndue * sizeof(*pending));
    size_t npending = ndue;
    if (pending == NULL) {
        for (size_t k = 0; k < ndue; k++)
            due[k]->next_resolve = spool_now_ns() + (int64_t)s->poll_ms * 1000000;
        return;
    }
    memcpy(pending, due, ndue * sizeof(*pending));
    int start = s->next_ask % (s->nsentinels > 0 ? s->nsentinels : 1), answered = -1;
    for (int k = 0; k < s->nsentinels && npending > 0; k++) {
        int i = (start + k) % s->nsentinels;
        int rc = sp_ask(s, i, pending, npending);
        if (rc == POOL_ESHUTDOWN)
            break;
        if (rc == 0 && answered < 0)
            answered = i;
        size_t kept = 0;
        for (size_t q = 0; q < npending; q++)
            if (sp_watch_need_more(pending[q]))
                pending[kept++] = pending[q];
        npending = kept;
    }
    free(pending);
    /* The sentinel that answered first is asked next time too (Redis' client
     * guidelines), and keeps the one query connection held; a vote's other
     * connections are closed. A fleet is spread because each process starts
     * at a random sentinel. */
    s->next_ask = answered >= 0 ? answered : start + 1;
    for (int i = 0; i < s->nsentinels; i++)
        if (i != s->next_ask % s->nsentinels && s->sentinels[i].query != NULL) {
            redisFree(s->sentinels[i].query);
            s->sentinels[i].query = NULL;
        }
    for (size_t k = 0; k < ndue; k++) {
        sp_watch *w = due[k];
        int rc = sp_watch_decide(w);
        w->next_resolve = sp_watch_next_step(w, rc, s->poll_ms);
        report_result(s, w, rc);
    }
}

/* The safety poll's next time: poll_ms to 1.25 x poll_ms from now. */
static int64_t next_poll_time(sp_set *s)
{
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    int64_t span = (int64_t)s->poll_ms * 1000000;
    return spool_now_ns() + span + (int64_t)(s->rng % (uint64_t)(span / 4 + 1));
}

/* ---- The thread ---------------------------------------------------------- */

static void drain_pipe(int fd)
{
    char buf[64];
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
}

static int stopping(sp_set *s)
{
    struct pollfd p = {.fd = s->stop_pipe[0], .events = POLLIN};
    return poll(&p, 1, 0) > 0;
}

static void note_slow(sp_set *s, int64_t since, const char *what)
{
    int64_t ms = (spool_now_ns() - since) / 1000000;
    if (ms >= SLOW_STEP_MS)
        sp_set_log(s, POOL_LOG_DEBUG, "sentinel set: %s took %lld ms", what, (long long)ms);
}

/* One turn: subscriptions, candidates, a resolution step if one is due. */
static void turn(sp_set *s)
{
    int64_t now = spool_now_ns();
    for (int i = 0; i < s->nsentinels && atomic_load(&s->subscribing); i++) {
        sp_sentinel *sn = &s->sentinels[i];
        if (sn->sub == NULL && now >= sn->retry_at) {
            int rc = subscribe(s, sn);
            if (rc != 0)
                drop_sub(s, sn, pool_strerror(rc));
        }
    }
    note_slow(s, now, "subscribing");
    now = spool_now_ns();
    for (size_t k = 0; k < s->nsnap; k++) {
        sp_watch *w = s->snap[k];
        if (atomic_exchange(&w->doubted, 0))
            w->next_resolve = now;
        sp_watch_tick(w);
    }
    note_slow(s, now, "checking promoted candidates");
    now = spool_now_ns();
    int poll_due = now >= s->next_poll;
    size_t ndue = 0;
    for (size_t k = 0; k < s->nsnap; k++)
        if (poll_due || s->snap[k]->next_resolve <= now)
            ndue++;
    if (ndue > 0) {
        sp_watch **due = malloc(ndue * sizeof(*due));
        if (due != NULL) {
            ndue = 0;
            for (size_t k = 0; k < s->nsnap; k++)
                if (poll_due || s->snap[k]->next_resolve <= now)
                    due[ndue++] = s->snap[k];
            run_step(s, due, ndue);
            free(due);
            note_slow(s, now, "resolving");
        }
    }
    if (poll_due) {
        s->next_poll = next_poll_time(s);
        atomic_fetch_add(&s->n_polls, 1);
    }
    int up = 0;
    for (int i = 0; i < s->nsentinels; i++)
        up += s->sentinels[i].sub != NULL;
    atomic_store(&s->n_subscribed, up);
}

/* No pool is watching: hold no connection to any sentinel. */
static void close_connections(sp_set *s)
{
    for (int i = 0; i < s->nsentinels; i++) {
        sp_sentinel *sn = &s->sentinels[i];
        if (sn->sub != NULL) {
            redisFree(sn->sub);
            sn->sub = NULL;
        }
        if (sn->query != NULL) {
            redisFree(sn->query);
            sn->query = NULL;
        }
        sn->retry_at = 0;
        sn->backoff_ms = 100;
    }
}

static void *set_main(void *arg)
{
    sp_set *s = arg;
    s->next_poll = next_poll_time(s);
    while (!stopping(s)) {
        refresh_snapshot(s);
        if (s->nsnap > 0)
            turn(s);
        else
            close_connections(s);

        struct pollfd fds[SP_MAX_SENTINELS + 2];
        int idx[SP_MAX_SENTINELS];
        int n = 0;
        fds[n++] = (struct pollfd){.fd = s->stop_pipe[0], .events = POLLIN};
        fds[n++] = (struct pollfd){.fd = s->poke_pipe[0], .events = POLLIN};
        int64_t wake = s->nsnap > 0 ? s->next_poll : INT64_MAX;
        for (size_t k = 0; k < s->nsnap; k++)
            wake = min64(wake, s->snap[k]->next_resolve);
        for (int i = 0; i < s->nsentinels && s->nsnap > 0; i++) {
            sp_sentinel *sn = &s->sentinels[i];
            if (sn->sub != NULL) {
                idx[n - 2] = i;
                fds[n++] = (struct pollfd){.fd = sn->sub->fd, .events = POLLIN};
            } else {
                wake = min64(wake, sn->retry_at);
            }
        }
        int ms = -1;
        if (wake != INT64_MAX) {
            int64_t left = wake - spool_now_ns();
            ms = left <= 0 ? 0 : (int)((left + 999999) / 1000000);
        }
        int rc = poll(fds, (nfds_t)n, ms);
        if (rc < 0 && errno != EINTR)
            break;
        if (rc <= 0)
            continue;
        if (fds[0].revents)
            break;
        if (fds[1].revents)
            drain_pipe(s->poke_pipe[0]);
        for (int k = 2; k < n; k++) {
            if (!fds[k].revents)
                continue;
            sp_sentinel *sn = &s->sentinels[idx[k - 2]];
            if (drain_sub(s, idx[k - 2]) < 0) {
                drop_sub(s, sn, "subscription connection closed");
                all_due(s);
            }
        }
    }
    close_connections(s);
    return NULL;
}

/* ---- Create, release ------------------------------------------------------- */

static int dup_str(char **dst, const char *src)
{
    *dst = NULL;
    if (src == NULL)
        return 0;
    *dst = strdup(src);
    return *dst == NULL ? -1 : 0;
}

static void stop_thread(sp_set *s);

static void set_free(sp_set *s)
{
    stop_thread(s);
    for (int i = 0; i < s->nsentinels; i++) {
        if (s->sentinels[i].sub != NULL)
            redisFree(s->sentinels[i].sub);
        if (s->sentinels[i].query != NULL)
            redisFree(s->sentinels[i].query);
    }
    for (int i = 0; i < 2; i++) {
        if (s->stop_pipe[i] >= 0)
            close(s->stop_pipe[i]);
        if (s->poke_pipe[i] >= 0)
            close(s->poke_pipe[i]);
    }
    if (s->owns_tls)
        spool_tls_free(s->tls);
    free(s->sentinel_username);
    free(s->sentinel_password);
    free(s->watches);
    free(s->snap);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* A set from opts (validated here: a shared set's options have not been
 * through pool_create()). refs starts at `refs`. */
static int set_new(const pool_options_t *o, int refs, sp_set **out)
{
    *out = NULL;
    char err[256] = "";
    long reserved = spool_options_reserve_used(o);
    if (reserved >= 0)
        snprintf(err, sizeof(err), SPOOL_OPTIONS_RESERVE_MSG, reserved);
    else if (o->sentinels == NULL || o->sentinels[0] == '\0')
        snprintf(err, sizeof(err), "sentinels must list at least one host:port");
    else if (o->sentinel_timeout_ms <= 0)
        snprintf(err, sizeof(err), "sentinel_timeout_ms must be > 0");
    else if (o->sentinel_poll_ms < 10)
        snprintf(err, sizeof(err), "sentinel_poll_ms must be >= 10, got %d", o->sentinel_poll_ms);
    else if (o->sentinel_password == NULL && o->sentinel_username != NULL)
        snprintf(err, sizeof(err), "sentinel_username needs a sentinel_password");
    else if (o->sentinel_tls != 0 && o->sentinel_tls != 1)
        snprintf(err, sizeof(err), "sentinel_tls must be 0 or 1");
    else if (o->log_level < POOL_LOG_ERROR || o->log_level > POOL_LOG_DEBUG)
        snprintf(err, sizeof(err), "log_level must be a pool_log_level_t");
    spool_addr *list = NULL;
    size_t n = 0;
    if (err[0] == '\0' && spool_addr_list_parse(o->sentinels, &list, &n) != 0)
        snprintf(err, sizeof(err), "sentinels: cannot parse \"%.200s\" (want host:port,[v6]:port)",
                 o->sentinels);
    if (err[0] != '\0') {
        if (o->log_fn != NULL)
            o->log_fn(o->log_userdata, POOL_LOG_ERROR, err);
        return POOL_EINVAL;
    }
    sp_set *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        free(list);
        return POOL_ENOMEM;
    }
    s->stop_pipe[0] = s->stop_pipe[1] = s->poke_pipe[0] = s->poke_pipe[1] = -1;
    s->refs = refs;
    s->timeout_ms = o->sentinel_timeout_ms;
    s->poll_ms = o->sentinel_poll_ms;
    s->log_fn = o->log_fn;
    s->log_userdata = o->log_userdata;
    s->log_level = o->log_level;
    s->rng = (uint64_t)spool_now_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)s;
    s->rng |= 1;
    int rc = POOL_ETHREAD;
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s);
        free(list);
        return rc;
    }
    if (pthread_cond_init(&s->cv, NULL) != 0) {
        pthread_mutex_destroy(&s->mu);
        free(s);
        free(list);
        return rc;
    }
    rc = POOL_ENOMEM;
    if (dup_str(&s->sentinel_username, o->sentinel_username) ||
        dup_str(&s->sentinel_password, o->sentinel_password))
        goto fail;
    if (o->sentinel_tls) {
        rc = spool_tls_new(o, tls_log, s, &s->tls, err, sizeof(err));
        if (rc != 0) {
            if (o->log_fn != NULL && err[0] != '\0')
                o->log_fn(o->log_userdata, POOL_LOG_ERROR, err);
            goto fail;
        }
        s->owns_tls = 1;
    }
    rc = POOL_ETHREAD;
    if (pipe2(s->stop_pipe, O_NONBLOCK | O_CLOEXEC) != 0 ||
        pipe2(s->poke_pipe, O_NONBLOCK | O_CLOEXEC) != 0)
        goto fail;
    for (size_t i = 0; i < n; i++)
        sp_sentinel_add(s, list[i].host, list[i].port);
    free(list);
    list = NULL;
    if (s->nsentinels > 0)
        s->next_ask = (int)(s->rng % (uint64_t)s->nsentinels); /* see run_step() */
    if (pthread_create(&s->thread, NULL, set_main, s) != 0)
        goto fail;
    s->started = 1;
    *out = s;
    return 0;
fail:
    free(list);
    set_free(s);
    return rc;
}

/* Drop one reference; the last one stops the thread and frees the set. */
static void set_unref(sp_set *s, int caller)
{
    pthread_mutex_lock(&s->mu);
    if (caller)
        s->released = 1;
    int last = --s->refs == 0;
    pthread_mutex_unlock(&s->mu);
    if (last)
        set_free(s);
}

int pool_sentinel_set_create(const pool_options_t *opts, pool_sentinel_set_t **out)
{
    if (out == NULL)
        return POOL_EINVAL;
    *out = NULL;
    if (opts == NULL)
        return POOL_EINVAL;
    if (opts->sentinel_set != NULL) {
        if (opts->log_fn != NULL)
            opts->log_fn(opts->log_userdata, POOL_LOG_ERROR,
                         "pool_sentinel_set_create: opts.sentinel_set must be NULL");
        return POOL_EINVAL;
    }
    sp_set *s = NULL;
    int rc = set_new(opts, 1, &s);
    if (rc != 0)
        return rc;
    *out = s;
    return 0;
}

int pool_sentinel_set_stats(pool_sentinel_set_t *set, pool_sentinel_set_stats_t *out)
{
    if (set == NULL || out == NULL)
        return POOL_EINVAL;
    sp_set *s = set;
    /* The caller's size too, fixed for the SONAME (header, "ABI"): the
     * reserve comes back zeroed. */
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&s->mu);
    out->pools = s->nwatches;
    pthread_mutex_unlock(&s->mu);
    out->sentinels = (uint64_t)atomic_load(&s->n_sentinels);
    out->subscribed = (uint64_t)atomic_load(&s->n_subscribed);
    out->connects = atomic_load(&s->n_connects);
    out->round_trips = atomic_load(&s->n_round_trips);
    out->polls = atomic_load(&s->n_polls);
    out->misconfigured = atomic_load(&s->n_misconfigured);
    return 0;
}

void pool_sentinel_set_release(pool_sentinel_set_t *set)
{
    if (set != NULL)
        set_unref(set, 1);
}

/* ---- A watch: the pool's source ---------------------------------------------- */

static void watch_release(sp_watch *w)
{
    for (int i = 0; i < 2; i++)
        if (w->stop_pipe[i] >= 0)
            close(w->stop_pipe[i]);
    free(w->username);
    free(w->password);
    sp_instances_free(w->replicas);
    free(w);
}

static void poke(sp_set *s)
{
    ssize_t n = write(s->poke_pipe[1], "p", 1);
    (void)n; /* a full pipe already says "look again" */
}

static void watch_doubt(spool_source *src)
{
    sp_watch *w = (sp_watch *)src;
    if (atomic_load(&w->stopped))
        return;
    atomic_store(&w->doubted, 1);
    poke(w->set);
}

static void stop_thread(sp_set *s)
{
    if (!s->started)
        return;
    ssize_t n = write(s->stop_pipe[1], "s", 1);
    (void)n;
    pthread_join(s->thread, NULL);
    s->started = 0;
}

/* Let go of the pool: after this the thread never touches w or its sink. */
static void watch_stop(spool_source *src)
{
    sp_watch *w = (sp_watch *)src;
    sp_set *s = w->set;
    ssize_t n = write(w->stop_pipe[1], "s", 1); /* aborts its ROLE check in flight */
    (void)n;
    atomic_store(&w->stopped, 1);
    if (s->private_set) {
        stop_thread(s); /* also aborts a sentinel query in flight */
        return;
    }
    pthread_mutex_lock(&s->mu);
    w->leaving = 1;
    pthread_mutex_unlock(&s->mu);
    poke(s);
    pthread_mutex_lock(&s->mu);
    while (!w->gone && s->started)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

/* The set lives as long as its watches' memory, so a doubt() racing the
 * pool's destruction pokes a pipe that still exists. */
static void watch_free(spool_source *src)
{
    sp_watch *w = (sp_watch *)src;
    sp_set *s = w->set;
    watch_release(w);
    set_unref(s, 0);
}

static const spool_source_ops watch_ops = {
    .doubt = watch_doubt, .stop = watch_stop, .free = watch_free};

/* Wait for the watch's first verdict, as pool_create() without lazy_start
 * promises: a master confirmed, or why not. A failover in progress
 * (POOL_ENOTMASTER) gets a few more resolutions. */
static int wait_first(sp_set *s, sp_watch *w)
{
    pthread_mutex_lock(&s->mu);
    int rc;
    for (;;) {
        rc = w->first_rc;
        if (rc == 0 || (rc != 1 && rc != POOL_ENOTMASTER) ||
            (rc == POOL_ENOTMASTER && w->attempts >= START_ATTEMPTS))
            break;
        pthread_cond_wait(&s->cv, &s->mu);
    }
    w->starting = 0;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int spool_sentinel_source_open(const pool_options_t *o, spool_sink sink, spool_source **out)
{
    *out = NULL;
    sp_set *s = o->sentinel_set;
    int rc;
    if (s == NULL) {
        if ((rc = set_new(o, 0, &s)) != 0)
            return rc;
        s->private_set = 1;
    }
    sp_watch *w = calloc(1, sizeof(*w));
    rc = POOL_ENOMEM;
    if (w == NULL)
        goto fail_set;
    w->base.ops = &watch_ops;
    w->set = s;
    w->sink = sink;
    w->probe = sp_node_role;
    w->stop_pipe[0] = w->stop_pipe[1] = -1;
    snprintf(w->master_name, sizeof(w->master_name), "%s", o->master_name);
    w->timeout_ms = s->timeout_ms;
    w->want_replicas = o->max_readers > 0;
    w->retry_ms = 20;
    w->first_rc = 1;
    w->last_resolve_rc = 1;
    w->next_resolve = INT64_MAX;
    if (dup_str(&w->username, o->username) || dup_str(&w->password, o->password))
        goto fail_watch;
    rc = POOL_ETHREAD;
    if (pipe2(w->stop_pipe, O_NONBLOCK | O_CLOEXEC) != 0)
        goto fail_watch;

    pthread_mutex_lock(&s->mu);
    if (s->nwatches == s->capwatches) {
        size_t cap = s->capwatches ? s->capwatches * 2 : 4;
        sp_watch **list = realloc(s->watches, cap * sizeof(*list));
        if (list == NULL) {
            pthread_mutex_unlock(&s->mu);
            rc = POOL_ENOMEM;
            goto fail_watch;
        }
        s->watches = list;
        s->capwatches = cap;
    }
    s->watches[s->nwatches++] = w;
    s->refs++;
    w->starting = !o->lazy_start;
    pthread_mutex_unlock(&s->mu);
    if (o->lazy_start)
        atomic_store(&s->subscribing, 1);
    poke(s);
    if (!o->lazy_start && (rc = wait_first(s, w)) != 0) {
        watch_stop(&w->base);
        watch_free(&w->base);
        return rc;
    }
    *out = &w->base;
    return 0;
fail_watch:
    watch_release(w);
fail_set:
    if (o->sentinel_set == NULL)
        set_free(s);
    return rc;
}
