/* sentinel_watch.c: the harness's own Sentinel subscriber.
 *
 * One thread holds one hiredis connection per sentinel of the topology,
 * SUBSCRIBEd to +switch-master and +promoted-slave, and stamps the first
 * arrival of each (for the topology's master name, over all sentinels) in
 * the current event with h_now_ns(), the clock of every other harness
 * timestamp. It is independent of the pool: it measures when Sentinel
 * published, so the report can set the pool's switch and the first writer
 * handed out on the new master against it.
 *
 * All connections are served by one poll() loop (100 ms at most per turn,
 * so stop is prompt). They come from h_connect_sentinel_nonblock, which speaks TLS
 * to TLS sentinels and blocks only for the connect and handshake (refused at
 * once while a sentinel is down, a few ms when it is up); after that they
 * are non-blocking. Over TLS, poll() sees only the socket, not what OpenSSL
 * has buffered; that is safe here because OpenSSL reads one record at a
 * time (no read-ahead) and our messages are far smaller than the 16 KiB
 * hiredis reads at once, so a read empties the record it started. A
 * connection that fails, closes
 * (sentinel killed) or stays silent (PING unanswered: a frozen sentinel) is
 * freed and reopened every SW_RETRY_MS until the sentinel is back. The
 * thread touches only atomics shared with the writers and the output lock;
 * it never waits on anything a writer holds.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define SW_POLL_MS 100
#define SW_RETRY_MS 200
#define SW_PING_IDLE_NS 1000000000LL   /* subscribed and silent: send a PING */
#define SW_DEAD_IDLE_NS 3000000000LL   /* no byte at all for this long: reconnect */
#define SW_CONNECT_MS 500              /* connect, TLS handshake */
#define SW_CONNECT_NS 2000000000LL     /* connect + SUBSCRIBE confirmed within */
#define SW_START_WAIT_MS 3000          /* start: wait for every subscription */
#define SW_PAYLOAD_MAX 512

typedef enum { SW_DOWN = 0, SW_CONNECTING, SW_SUBSCRIBED } sw_state;

typedef struct sw_conn {
    int idx; /* sentinel number in the run (bit in sent_switch_mask) */
    int port;
    char name[280]; /* host:port, for messages */
    fx_node node; /* fixture: a copy (port, TLS and credentials do not change on restart) */
    redisContext *c;
    sw_state state;
    int want_write;   /* commands appended, not yet fully written */
    int ping_out;     /* a PING is unanswered */
    int64_t t_open;   /* connect started */
    int64_t t_rx;     /* last byte received */
    int64_t t_retry;  /* next connect attempt (SW_DOWN) */
    int64_t t_lost;   /* when it went down after having been subscribed (0 = never) */
    int lost_said;
} sw_conn;

struct h_swatch {
    h_run *r;
    pthread_t thread;
    int started;
    _Atomic int stop;
    _Atomic int subscribed; /* connections currently subscribed */
    int n;
    sw_conn conn[H_MAX_SENTINELS];
    char master_name[256];
    /* Read by the report after the thread is joined. */
    uint64_t messages, outside, reconnects; /* reconnects: subscribed again after a loss */
};

static void sw_drop(struct h_swatch *sw, sw_conn *k, const char *why, int64_t now)
{
    h_run *r = sw->r;
    if (k->state == SW_SUBSCRIBED) {
        atomic_fetch_sub(&sw->subscribed, 1);
        k->t_lost = now;
        k->lost_said = 0;
    }
    if (k->t_lost != 0 && !k->lost_said && !atomic_load(&sw->stop)) {
        h_say(r, "sentinel watch: lost %s (%s), reconnecting every %d ms", k->name,
              why, SW_RETRY_MS);
        k->lost_said = 1;
    }
    redisFree(k->c);
    k->c = NULL;
    k->state = SW_DOWN;
    k->want_write = 0;
    k->ping_out = 0;
    k->t_retry = now + (int64_t)SW_RETRY_MS * 1000000;
}

static void sw_open(struct h_swatch *sw, sw_conn *k, int64_t now)
{
    k->t_retry = now + (int64_t)SW_RETRY_MS * 1000000;
    /* AUTH done if needed */
    redisContext *c = h_connect_sentinel_nonblock(sw->r, &k->node, k->idx, SW_CONNECT_MS);
    if (c == NULL)
        return;
    if (redisAppendCommand(c, "SUBSCRIBE +switch-master +promoted-slave") != REDIS_OK) {
        redisFree(c);
        return;
    }
    k->c = c;
    k->state = SW_CONNECTING;
    k->want_write = 1;
    k->t_open = now;
    k->t_rx = now;
}

/* Split a payload into at most max space-separated tokens (in buf). */
static int split(const char *s, size_t len, char *buf, size_t buflen, char **tok, int max)
{
    if (len >= buflen)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    int n = 0;
    char *save = NULL;
    for (char *p = strtok_r(buf, " ", &save); p != NULL; p = strtok_r(NULL, " ", &save)) {
        if (n == max)
            return -1;
        tok[n++] = p;
    }
    return n;
}

static int port_of(const char *s)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    return end != s && *end == '\0' && v > 0 && v < 65536 ? (int)v : -1;
}

/* One message from sentinel k, arrived at t. */
static void sw_message(struct h_swatch *sw, sw_conn *k, const char *chan, const char *payload,
                       size_t len, int64_t t)
{
    h_run *r = sw->r;
    char buf[SW_PAYLOAD_MAX], *tok[10];
    int n = split(payload, len, buf, sizeof(buf), tok, 10);
    int is_switch = strcmp(chan, "+switch-master") == 0;
    int new_port;
    /* +switch-master <name> <old-ip> <old-port> <new-ip> <new-port>
     * +promoted-slave slave <ip:port> <ip> <port> @ <name> <master-ip> <master-port> */
    if (is_switch) {
        if (n != 5 || strcmp(tok[0], sw->master_name) != 0 || (new_port = port_of(tok[4])) < 0)
            return;
    } else {
        if (n != 8 || strcmp(tok[4], "@") != 0 || strcmp(tok[5], sw->master_name) != 0 ||
            (new_port = port_of(tok[3])) < 0)
            return;
    }
    sw->messages++;
    int b = atomic_load(&r->cur_bucket);
    h_event *e = &r->ev[b];
    int64_t trig = atomic_load(&e->t_trigger);
    if (trig == 0 || t < trig) {
        sw->outside++; /* not during an event: nothing to charge it to */
        return;
    }
    int64_t zero = 0;
    int first;
    if (is_switch) {
        atomic_fetch_or(&e->sent_switch_mask, 1u << k->idx);
        int64_t last = atomic_load(&e->t_sent_switch_last);
        while (t > last && !atomic_compare_exchange_weak(&e->t_sent_switch_last, &last, t)) {
        }
        first = atomic_compare_exchange_strong(&e->t_sent_switch, &zero, t);
        if (first) {
            atomic_store(&e->sent_switch_port, k->port);
            atomic_store(&e->sent_switch_new_port, new_port);
        }
    } else {
        first = atomic_compare_exchange_strong(&e->t_sent_promoted, &zero, t);
        if (first)
            atomic_store(&e->sent_promoted_port, k->port);
    }
    if (!first)
        return;
    int64_t sw_t = atomic_load(&e->t_switch);
    char rel[80] = "";
    if (sw_t != 0)
        snprintf(rel, sizeof(rel), "; the pool switched %.0f ms %s", (double)llabs(t - sw_t) / 1e6,
                 sw_t <= t ? "before" : "after");
    h_say(r, "sentinel %s published %s (%s -> %s:%d), %.3f s after the trigger%s", k->name, chan,
          sw->master_name, is_switch ? tok[3] : tok[2], new_port, (double)(t - trig) / 1e9, rel);
}

static void sw_reply(struct h_swatch *sw, sw_conn *k, redisReply *rep, int64_t t)
{
    if (rep->type == REDIS_REPLY_ERROR) {
        h_say(sw->r, "sentinel watch: %s refused: %s", k->name, rep->str);
        sw_drop(sw, k, "error reply", t);
        return;
    }
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 2 ||
        rep->element[0]->type != REDIS_REPLY_STRING)
        return; /* nothing we subscribed to */
    const char *kind = rep->element[0]->str;
    if (strcmp(kind, "message") == 0 && rep->elements == 3 &&
        rep->element[1]->type == REDIS_REPLY_STRING &&
        rep->element[2]->type == REDIS_REPLY_STRING) {
        sw_message(sw, k, rep->element[1]->str, rep->element[2]->str, rep->element[2]->len, t);
    } else if (strcmp(kind, "subscribe") == 0 && rep->elements == 3 &&
               rep->element[2]->type == REDIS_REPLY_INTEGER && rep->element[2]->integer == 2 &&
               k->state == SW_CONNECTING) {
        k->state = SW_SUBSCRIBED;
        atomic_fetch_add(&sw->subscribed, 1);
        if (k->t_lost != 0) {
            sw->reconnects++;
            h_say(sw->r, "sentinel watch: subscribed again to %s, %.2f s after losing it",
                  k->name, (double)(t - k->t_lost) / 1e9);
        }
    } else if (strcmp(kind, "pong") == 0) {
        k->ping_out = 0;
    }
}

/* Read what arrived; 0, or -1 after dropping the connection. */
static int sw_read(struct h_swatch *sw, sw_conn *k, int64_t t)
{
    if (redisBufferRead(k->c) != REDIS_OK) {
        sw_drop(sw, k, k->c->err == REDIS_ERR_EOF ? "closed" : k->c->errstr, t);
        return -1;
    }
    k->t_rx = t;
    /* Bounded: one read is at most 16 KiB of replies. */
    for (;;) {
        void *p = NULL;
        if (redisGetReplyFromReader(k->c, &p) != REDIS_OK) {
            sw_drop(sw, k, "protocol error", t);
            return -1;
        }
        if (p == NULL)
            return 0;
        sw_reply(sw, k, p, t);
        freeReplyObject(p);
        if (k->c == NULL)
            return -1;
    }
}

/* Timeouts and keepalive, before each poll. */
static void sw_tick(struct h_swatch *sw, sw_conn *k, int64_t now)
{
    if (k->c == NULL) {
        if (now >= k->t_retry)
            sw_open(sw, k, now);
        return;
    }
    if (k->state == SW_CONNECTING && now - k->t_open > SW_CONNECT_NS) {
        sw_drop(sw, k, "no subscription confirmed", now);
        return;
    }
    if (k->state == SW_SUBSCRIBED && now - k->t_rx > SW_DEAD_IDLE_NS) {
        sw_drop(sw, k, "PING unanswered", now);
        return;
    }
    if (k->state == SW_SUBSCRIBED && !k->ping_out && now - k->t_rx > SW_PING_IDLE_NS) {
        if (redisAppendCommand(k->c, "PING") == REDIS_OK) {
            k->ping_out = 1;
            k->want_write = 1;
        }
    }
}

static void *sw_main(void *arg)
{
    struct h_swatch *sw = arg;
    struct pollfd pfd[H_MAX_SENTINELS];
    sw_conn *map[H_MAX_SENTINELS];
    while (!atomic_load(&sw->stop)) {
        int64_t now = h_now_ns();
        int nf = 0;
        for (int i = 0; i < sw->n; i++) {
            sw_conn *k = &sw->conn[i];
            sw_tick(sw, k, now);
            if (k->c == NULL)
                continue;
            pfd[nf] = (struct pollfd){.fd = k->c->fd,
                                      .events = (short)(POLLIN | (k->want_write ? POLLOUT : 0))};
            map[nf++] = k;
        }
        int pr = poll(pfd, (nfds_t)nf, SW_POLL_MS);
        if (pr < 0)
            h_sleep_ms(10); /* EINTR, or a failure that must not become a busy loop */
        if (pr <= 0)
            continue; /* with nf == 0 the poll timeout is the retry pause */
        int64_t t = h_now_ns(); /* arrival time of everything this turn */
        for (int j = 0; j < nf; j++) {
            sw_conn *k = map[j];
            short re = pfd[j].revents;
            if (re == 0)
                continue;
            /* A refused or reset connect shows as POLLERR/POLLHUP: the read
             * reports it. */
            if ((re & (POLLIN | POLLERR | POLLHUP | POLLNVAL)) && sw_read(sw, k, t) != 0)
                continue;
            if ((re & POLLOUT) && k->want_write) {
                int done = 0;
                if (redisBufferWrite(k->c, &done) != REDIS_OK) {
                    sw_drop(sw, k, k->c->errstr, t);
                    continue;
                }
                k->want_write = !done;
            }
        }
    }
    for (int i = 0; i < sw->n; i++) {
        redisFree(sw->conn[i].c);
        sw->conn[i].c = NULL;
    }
    return NULL;
}

int h_swatch_start(h_run *r)
{
    struct h_swatch *sw = calloc(1, sizeof(*sw));
    if (sw == NULL)
        return -1;
    sw->r = r;
    /* Snapshot on the main thread: the fixture rewrites the nodes on restart
     * (same port), and this thread must not read them meanwhile. */
    sw->n = r->n_sent;
    for (int i = 0; i < sw->n; i++) {
        sw->conn[i].idx = i;
        sw->conn[i].port = r->sent[i].port;
        h_sentinel_name(r, i, sw->conn[i].name, sizeof(sw->conn[i].name));
        if (r->deploy == NULL && i < r->topo.n_sentinels)
            sw->conn[i].node = r->topo.sentinel[i];
    }
    snprintf(sw->master_name, sizeof(sw->master_name), "%s", r->master_name);
    if (pthread_create(&sw->thread, NULL, sw_main, sw) != 0) {
        free(sw);
        return -1;
    }
    sw->started = 1;
    r->swatch = sw;
    int64_t deadline = h_now_ns() + (int64_t)SW_START_WAIT_MS * 1000000;
    while (atomic_load(&sw->subscribed) < sw->n && h_now_ns() < deadline)
        h_sleep_ms(10);
    int got = atomic_load(&sw->subscribed);
    if (got < sw->n)
        h_say(r, "warning: sentinel watch subscribed to only %d of %d sentinels so far", got,
              sw->n);
    else
        h_say(r, "sentinel watch: subscribed to +switch-master and +promoted-slave on all %d "
                 "sentinels",
              sw->n);
    return 0;
}

void h_swatch_stop(h_run *r)
{
    struct h_swatch *sw = r->swatch;
    if (sw == NULL || !sw->started)
        return;
    atomic_store(&sw->stop, 1);
    int rc = pthread_join(sw->thread, NULL);
    if (rc != 0)
        fprintf(stderr, "sentinel-pool-check: sentinel watch: pthread_join: %s\n", strerror(rc));
    sw->started = 0;
}

void h_swatch_free(h_run *r)
{
    h_swatch_stop(r);
    free(r->swatch);
    r->swatch = NULL;
}

void h_swatch_counts(const h_run *r, uint64_t *messages, uint64_t *outside, uint64_t *reconnects)
{
    const struct h_swatch *sw = r->swatch;
    *messages = sw ? sw->messages : 0;
    *outside = sw ? sw->outside : 0;
    *reconnects = sw ? sw->reconnects : 0;
}
