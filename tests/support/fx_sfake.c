/* fx_sfake.c: a fake sentinel that announces promotions that do not
 * happen (see fx_sfake.h). A poll() loop over the listening socket, a stop
 * pipe and every connection; the announcements ride on the poll timeout. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "fixture.h"
#include "fx_sfake.h"

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t ms_to_ns(int ms) { return (int64_t)ms * 1000000; }


#define FK_MAX_CONNS 32
#define FK_MAX_SUBS 32
#define FK_NAME 64
#define FK_IN_MAX (64 * 1024)
#define FK_OUT_MAX (1024 * 1024)
#define FK_MAX_ARGS 64

typedef struct fk_conn {
    int fd; /* -1: free slot */
    char *in;
    size_t in_len;
    char *out;
    size_t out_len, out_cap;
    int close_after_flush; /* 1: QUIT answered, close once sent; 2: output
                              overflowed (a peer not reading): drop */
    int nchans, npats;
    char chans[FK_MAX_SUBS][FK_NAME];
    char pats[FK_MAX_SUBS][FK_NAME];
} fk_conn;

struct fx_sfake {
    /* Set by fx_sfake_start(), read-only afterwards. */
    char master_name[FK_NAME];
    int truth_port; /* the real sentinel whose master the fake names */
    /* Nodes announced as promoted, in turn: a port on 127.0.0.1, or 0 for
     * the current master itself. skip_master: leave out the current master
     * (the fake then announces the master's replicas, whichever it is). */
    int cand[FX_SFAKE_MAX_ANNOUNCE];
    int ncand;
    int skip_master;
    int period_ms;

    int port; /* where it listens on 127.0.0.1 */
    atomic_int announcing;
    atomic_ulong connections, commands, announcements, messages;
    atomic_int subscribers; /* connections with a subscription right now */

    /* Under mu: the master as the real sentinel names it. */
    pthread_mutex_t mu;
    int mu_init;
    char master_host[FK_NAME];
    int master_port;

    /* The fake's thread only (and fx_sfake_start() before the thread). */
    int lfd;
    int stop_pipe[2];
    pthread_t thread;
    int started;
    redisContext *truth;
    int next_cand;
    fk_conn conns[FK_MAX_CONNS];
};

static int fk_conn_subscribed(const fk_conn *c) { return c->nchans + c->npats > 0; }

static void fk_close(fx_sfake *f, fk_conn *c)
{
    if (c->fd < 0)
        return;
    if (fk_conn_subscribed(c))
        atomic_fetch_sub(&f->subscribers, 1);
    close(c->fd);
    free(c->in);
    free(c->out);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}

static void fk_out(fk_conn *c, const char *data, size_t len)
{
    if (c->close_after_flush == 2)
        return; /* overflowed: being dropped */
    if (c->out_len + len > FK_OUT_MAX) {
        c->close_after_flush = 2;
        return;
    }
    if (c->out_len + len > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + len)
            cap *= 2;
        char *nb = realloc(c->out, cap);
        if (nb == NULL) {
            c->close_after_flush = 2;
            return;
        }
        c->out = nb;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
}

static void fk_outf(fk_conn *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void fk_outf(fk_conn *c, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(buf)) {
        c->close_after_flush = 2;
        return;
    }
    fk_out(c, buf, (size_t)n);
}

static void fk_bulk(fk_conn *c, const char *s, size_t len)
{
    fk_outf(c, "$%zu\r\n", len);
    fk_out(c, s, len);
    fk_out(c, "\r\n", 2);
}

static void fk_bulk_str(fk_conn *c, const char *s) { fk_bulk(c, s, strlen(s)); }

/* Send what is buffered without blocking; -1 when the connection is dead. */
static int fk_flush(fk_conn *c)
{
    size_t off = 0;
    while (off < c->out_len) {
        ssize_t n = send(c->fd, c->out + off, c->out_len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        return -1;
    }
    if (off > 0) {
        memmove(c->out, c->out + off, c->out_len - off);
        c->out_len -= off;
    }
    return 0;
}

typedef struct fk_cmd {
    int argc;
    const char *argv[FK_MAX_ARGS];
    size_t len[FK_MAX_ARGS];
} fk_cmd;

/* "<digits>\r\n" at *pp: 1 (and *pp past it), 0 incomplete, -1 malformed. */
static int fk_read_int(const char **pp, const char *end, long *out)
{
    const char *p = *pp;
    const char *cr = memchr(p, '\r', (size_t)(end - p));
    if (cr == NULL || cr + 1 >= end)
        return (end - p) > 16 ? -1 : 0;
    if (cr[1] != '\n' || cr == p || cr - p > 9)
        return -1;
    long v = 0;
    for (const char *q = p; q < cr; q++) {
        if (*q == '-' && q == p && cr - p > 1)
            continue;
        if (*q < '0' || *q > '9')
            return -1;
        v = v * 10 + (*q - '0');
    }
    *out = *p == '-' ? -v : v;
    *pp = cr + 2;
    return 1;
}

/* One command at the start of buf: 1 with *cmd (pointing into buf) and
 * *used, 0 incomplete, -1 malformed. */
static int fk_parse(const char *buf, size_t n, fk_cmd *cmd, size_t *used)
{
    if (n == 0)
        return 0;
    const char *end = buf + n;
    cmd->argc = 0;
    if (buf[0] != '*') { /* inline */
        const char *nl = memchr(buf, '\n', n);
        if (nl == NULL)
            return 0;
        size_t ll = (size_t)(nl - buf);
        if (ll > 0 && buf[ll - 1] == '\r')
            ll--;
        size_t i = 0;
        while (i < ll && cmd->argc < FK_MAX_ARGS) {
            while (i < ll && buf[i] == ' ')
                i++;
            if (i >= ll)
                break;
            size_t s = i;
            while (i < ll && buf[i] != ' ')
                i++;
            cmd->argv[cmd->argc] = buf + s;
            cmd->len[cmd->argc++] = i - s;
        }
        *used = (size_t)(nl - buf) + 1;
        return 1;
    }
    const char *p = buf + 1;
    long count = 0;
    int rc = fk_read_int(&p, end, &count);
    if (rc <= 0)
        return rc;
    if (count < 0 || count > FK_MAX_ARGS)
        return -1;
    for (long k = 0; k < count; k++) {
        if (p >= end)
            return 0;
        if (*p != '$')
            return -1;
        p++;
        long len = 0;
        rc = fk_read_int(&p, end, &len);
        if (rc <= 0)
            return rc;
        if (len < 0 || len > 4096)
            return -1;
        if (end - p < len + 2)
            return 0;
        cmd->argv[k] = p;
        cmd->len[k] = (size_t)len;
        p += len;
        if (p[0] != '\r' || p[1] != '\n')
            return -1;
        p += 2;
    }
    cmd->argc = (int)count;
    *used = (size_t)(p - buf);
    return 1;
}

static int fk_is(const fk_cmd *cmd, int i, const char *word)
{
    return i < cmd->argc && cmd->len[i] == strlen(word) &&
           strncasecmp(cmd->argv[i], word, cmd->len[i]) == 0;
}

static int fk_arg_is_name(const fx_sfake *f, const fk_cmd *cmd, int i)
{
    return i < cmd->argc && cmd->len[i] == strlen(f->master_name) &&
           memcmp(cmd->argv[i], f->master_name, cmd->len[i]) == 0;
}

static void fk_master(fx_sfake *f, char host[FK_NAME], int *port)
{
    pthread_mutex_lock(&f->mu);
    memcpy(host, f->master_host, FK_NAME);
    *port = f->master_port;
    pthread_mutex_unlock(&f->mu);
}

static const char fk_runid[] = "fa1efa1efa1efa1efa1efa1efa1efa1efa1efa1e";

static void fk_subscribe(fx_sfake *f, fk_conn *c, const fk_cmd *cmd, int pattern)
{
    int was = fk_conn_subscribed(c);
    for (int i = 1; i < cmd->argc; i++) {
        char name[FK_NAME];
        size_t len = cmd->len[i] < FK_NAME - 1 ? cmd->len[i] : FK_NAME - 1;
        memcpy(name, cmd->argv[i], len);
        name[len] = '\0';
        char(*list)[FK_NAME] = pattern ? c->pats : c->chans;
        int *n = pattern ? &c->npats : &c->nchans;
        int have = 0;
        for (int k = 0; k < *n; k++)
            have |= strcmp(list[k], name) == 0;
        if (!have && *n < FK_MAX_SUBS)
            memcpy(list[(*n)++], name, len + 1);
        const char *kind = pattern ? "psubscribe" : "subscribe";
        fk_outf(c, "*3\r\n");
        fk_bulk_str(c, kind);
        fk_bulk(c, cmd->argv[i], cmd->len[i]);
        fk_outf(c, ":%d\r\n", c->nchans + c->npats);
    }
    if (!was && fk_conn_subscribed(c))
        atomic_fetch_add(&f->subscribers, 1);
}

static void fk_sentinel_cmd(fx_sfake *f, fk_conn *c, const fk_cmd *cmd)
{
    char host[FK_NAME];
    int port = 0;
    fk_master(f, host, &port);
    if (fk_is(cmd, 1, "get-master-addr-by-name")) {
        if (!fk_arg_is_name(f, cmd, 2) || port == 0) {
            fk_outf(c, "*-1\r\n");
            return;
        }
        char p[16];
        snprintf(p, sizeof(p), "%d", port);
        fk_outf(c, "*2\r\n");
        fk_bulk_str(c, host);
        fk_bulk_str(c, p);
        return;
    }
    if (fk_is(cmd, 1, "sentinels") || fk_is(cmd, 1, "replicas") || fk_is(cmd, 1, "slaves") ||
        fk_is(cmd, 1, "master")) {
        if (!fk_arg_is_name(f, cmd, 2)) {
            fk_outf(c, "-ERR No such master with that name\r\n");
            return;
        }
        if (!fk_is(cmd, 1, "master")) {
            fk_outf(c, "*0\r\n");
            return;
        }
        char p[16];
        snprintf(p, sizeof(p), "%d", port);
        const char *kv[] = {"name",       f->master_name, "ip",    host,  "port", p,
                            "runid",      "",             "flags", "master",
                            "num-slaves", "0",            "num-other-sentinels", "0",
                            "quorum",     "2"};
        size_t n = sizeof(kv) / sizeof(kv[0]);
        fk_outf(c, "*%zu\r\n", n);
        for (size_t i = 0; i < n; i++)
            fk_bulk_str(c, kv[i]);
        return;
    }
    if (fk_is(cmd, 1, "myid")) {
        fk_bulk_str(c, fk_runid);
        return;
    }
    if (fk_is(cmd, 1, "ckquorum")) {
        fk_outf(c, "+OK 1 usable Sentinels. Quorum and failover authorization can be reached\r\n");
        return;
    }
    fk_outf(c, "-ERR Unknown sentinel subcommand\r\n");
}

static void fk_handle(fx_sfake *f, fk_conn *c, const fk_cmd *cmd)
{
    if (cmd->argc == 0)
        return;
    atomic_fetch_add(&f->commands, 1);
    if (fk_is(cmd, 0, "AUTH") || fk_is(cmd, 0, "CLIENT")) {
        fk_outf(c, "+OK\r\n");
    } else if (fk_is(cmd, 0, "PING")) {
        if (fk_conn_subscribed(c)) {
            fk_outf(c, "*2\r\n");
            fk_bulk_str(c, "pong");
            if (cmd->argc > 1)
                fk_bulk(c, cmd->argv[1], cmd->len[1]);
            else
                fk_bulk_str(c, "");
        } else {
            fk_outf(c, "+PONG\r\n");
        }
    } else if (fk_is(cmd, 0, "QUIT")) {
        fk_outf(c, "+OK\r\n");
        c->close_after_flush = 1;
    } else if (fk_is(cmd, 0, "SENTINEL")) {
        fk_sentinel_cmd(f, c, cmd);
    } else if (fk_is(cmd, 0, "SUBSCRIBE") && cmd->argc > 1) {
        fk_subscribe(f, c, cmd, 0);
    } else if (fk_is(cmd, 0, "PSUBSCRIBE") && cmd->argc > 1) {
        fk_subscribe(f, c, cmd, 1);
    } else if (fk_is(cmd, 0, "ROLE")) {
        fk_outf(c, "*2\r\n");
        fk_bulk_str(c, "sentinel");
        fk_outf(c, "*1\r\n");
        fk_bulk_str(c, f->master_name);
    } else if (fk_is(cmd, 0, "INFO")) {
        char host[FK_NAME], info[512];
        int port = 0;
        fk_master(f, host, &port);
        snprintf(info, sizeof(info),
                 "# Server\r\nredis_version:7.0.15\r\nredis_mode:sentinel\r\nrun_id:%s\r\n\r\n"
                 "# Sentinel\r\nsentinel_masters:1\r\nmaster0:name=%s,status=ok,address=%s:%d,"
                 "slaves=0,sentinels=1\r\n",
                 fk_runid, f->master_name, host, port);
        fk_bulk_str(c, info);
    } else {
        fk_outf(c, "-ERR unknown command '%.*s'\r\n", (int)(cmd->len[0] > 40 ? 40 : cmd->len[0]),
                cmd->argv[0]);
    }
}

static void fk_accept(fx_sfake *f)
{
    for (int tries = 0; tries < 16; tries++) {
        int fd = accept4(f->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        fk_conn *c = NULL;
        for (int i = 0; i < FK_MAX_CONNS && c == NULL; i++)
            if (f->conns[i].fd < 0)
                c = &f->conns[i];
        char *in = c != NULL ? malloc(FK_IN_MAX) : NULL;
        if (in == NULL) {
            close(fd);
            continue;
        }
        memset(c, 0, sizeof(*c));
        c->fd = fd;
        c->in = in;
        atomic_fetch_add(&f->connections, 1);
    }
}

static void fk_read(fx_sfake *f, fk_conn *c)
{
    ssize_t n = recv(c->fd, c->in + c->in_len, FK_IN_MAX - c->in_len, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        fk_close(f, c);
        return;
    }
    if (n > 0)
        c->in_len += (size_t)n;
    size_t off = 0;
    for (int guard = 0; guard < 4096; guard++) {
        fk_cmd cmd;
        size_t used = 0;
        int rc = fk_parse(c->in + off, c->in_len - off, &cmd, &used);
        if (rc < 0) {
            fk_close(f, c);
            return;
        }
        if (rc == 0)
            break;
        fk_handle(f, c, &cmd);
        off += used;
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    if (c->in_len == FK_IN_MAX || c->close_after_flush == 2 || fk_flush(c) != 0 ||
        (c->close_after_flush && c->out_len == 0))
        fk_close(f, c);
}

/* Deliver one message to every connection subscribed to channel (or to a
 * pattern that matches it); returns how many got it. */
static int fk_publish(fx_sfake *f, const char *channel, const char *payload)
{
    int got = 0;
    for (int i = 0; i < FK_MAX_CONNS; i++) {
        fk_conn *c = &f->conns[i];
        if (c->fd < 0)
            continue;
        for (int k = 0; k < c->nchans; k++)
            if (strcmp(c->chans[k], channel) == 0) {
                fk_outf(c, "*3\r\n");
                fk_bulk_str(c, "message");
                fk_bulk_str(c, channel);
                fk_bulk_str(c, payload);
                got++;
            }
        for (int k = 0; k < c->npats; k++)
            if (fnmatch(c->pats[k], channel, 0) == 0) {
                fk_outf(c, "*4\r\n");
                fk_bulk_str(c, "pmessage");
                fk_bulk_str(c, c->pats[k]);
                fk_bulk_str(c, channel);
                fk_bulk_str(c, payload);
                got++;
            }
        if (c->close_after_flush == 2 || fk_flush(c) != 0)
            fk_close(f, c);
    }
    return got;
}

/* Ask the real sentinel where the master is (blocking, 300 ms at most). */
static int fk_refresh_master(fx_sfake *f)
{
    struct timeval tv = {0, 300000};
    if (f->truth == NULL) {
        redisContext *c = redisConnectWithTimeout("127.0.0.1", f->truth_port, tv);
        if (c == NULL)
            return -1;
        if (c->err != 0 || redisSetTimeout(c, tv) != REDIS_OK) {
            redisFree(c);
            return -1;
        }
        f->truth = c;
    }
    redisReply *r = redisCommand(f->truth, "SENTINEL get-master-addr-by-name %s", f->master_name);
    if (r == NULL) {
        redisFree(f->truth);
        f->truth = NULL;
        return -1;
    }
    int rc = -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING &&
        r->element[0]->len < FK_NAME) {
        char *e = NULL;
        long port = strtol(r->element[1]->str, &e, 10);
        if (e != r->element[1]->str && *e == '\0' && port > 0 && port < 65536) {
            pthread_mutex_lock(&f->mu);
            memcpy(f->master_host, r->element[0]->str, r->element[0]->len + 1);
            f->master_port = (int)port;
            pthread_mutex_unlock(&f->mu);
            rc = 0;
        }
    }
    freeReplyObject(r);
    return rc;
}

/* Publish the next false promotion, in the order a leading sentinel does:
 * send-slaveof-noone, promoted-slave, then switch-master. */
static void fk_announce(fx_sfake *f)
{
    char mhost[FK_NAME];
    int mport = 0;
    fk_master(f, mhost, &mport);
    if (mport == 0 || !atomic_load(&f->announcing) || f->ncand == 0)
        return;
    int p = 0;
    for (int k = 0; k < f->ncand && p == 0; k++) {
        int i = (f->next_cand + k) % f->ncand;
        int port = f->cand[i] == 0 ? mport : f->cand[i];
        if (f->skip_master && port == mport)
            continue;
        p = port;
        f->next_cand = (i + 1) % f->ncand;
    }
    if (p == 0)
        return;
    char rep[300], sw[300];
    snprintf(rep, sizeof(rep), "slave 127.0.0.1:%d 127.0.0.1 %d @ %s %s %d", p, p, f->master_name,
             mhost, mport);
    snprintf(sw, sizeof(sw), "%s %s %d 127.0.0.1 %d", f->master_name, mhost, mport, p);
    int got = fk_publish(f, "+failover-state-send-slaveof-noone", rep);
    got += fk_publish(f, "+promoted-slave", rep);
    got += fk_publish(f, "+switch-master", sw);
    if (got > 0) {
        atomic_fetch_add(&f->announcements, 1);
        atomic_fetch_add(&f->messages, (unsigned long)got);
    }
}

static void *fk_main(void *arg)
{
    fx_sfake *f = arg;
    int64_t next_tick = mono_ns();
    for (;;) {
        struct pollfd pf[FK_MAX_CONNS + 2];
        int map[FK_MAX_CONNS];
        int n = 0;
        pf[n++] = (struct pollfd){.fd = f->stop_pipe[0], .events = POLLIN};
        pf[n++] = (struct pollfd){.fd = f->lfd, .events = POLLIN};
        for (int i = 0; i < FK_MAX_CONNS; i++)
            if (f->conns[i].fd >= 0) {
                map[n - 2] = i;
                pf[n++] = (struct pollfd){.fd = f->conns[i].fd,
                                          .events = (short)(POLLIN |
                                                            (f->conns[i].out_len ? POLLOUT : 0))};
            }
        int64_t left = next_tick - mono_ns();
        int ms = left <= 0 ? 0 : (int)((left + 999999) / 1000000);
        int rc = poll(pf, (nfds_t)n, ms);
        if (rc < 0 && errno != EINTR)
            break;
        if (rc > 0) {
            if (pf[0].revents)
                break;
            if (pf[1].revents & POLLIN)
                fk_accept(f);
            for (int k = 2; k < n; k++) {
                fk_conn *c = &f->conns[map[k - 2]];
                if (c->fd != pf[k].fd || pf[k].revents == 0)
                    continue;
                if (pf[k].revents & (POLLIN | POLLHUP | POLLERR))
                    fk_read(f, c);
                if (c->fd >= 0 && (pf[k].revents & POLLOUT) &&
                    (fk_flush(c) != 0 || (c->close_after_flush && c->out_len == 0)))
                    fk_close(f, c);
            }
        }
        if (mono_ns() >= next_tick) {
            fk_refresh_master(f);
            fk_announce(f);
            next_tick = mono_ns() + ms_to_ns(f->period_ms);
        }
    }
    return NULL;
}

/* Close everything start opened (whatever it got to). */
static void sfake_close(fx_sfake *f)
{
    if (f->started) {
        ssize_t w = write(f->stop_pipe[1], "s", 1);
        (void)w;
        pthread_join(f->thread, NULL);
        f->started = 0;
    }
    for (int i = 0; i < FK_MAX_CONNS; i++)
        if (f->conns[i].fd >= 0)
            fk_close(f, &f->conns[i]);
    if (f->truth != NULL) {
        redisFree(f->truth);
        f->truth = NULL;
    }
    for (int i = 0; i < 2; i++)
        if (f->stop_pipe[i] >= 0) {
            close(f->stop_pipe[i]);
            f->stop_pipe[i] = -1;
        }
    if (f->lfd >= 0) {
        close(f->lfd);
        f->lfd = -1;
    }
    if (f->mu_init) {
        pthread_mutex_destroy(&f->mu);
        f->mu_init = 0;
    }
}

void fx_sfake_stop(fx_sfake *f)
{
    if (f == NULL)
        return;
    sfake_close(f);
    free(f);
}

int fx_sfake_start(fx_sfake **out, const fx_sfake_opts *o)
{
    *out = NULL;
    if (o == NULL || o->truth_port <= 0 || o->n_announce < 0 ||
        o->n_announce > FX_SFAKE_MAX_ANNOUNCE) {
        fprintf(stderr, "fx_sfake_start: bad options\n");
        return -1;
    }
    fx_sfake *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        fprintf(stderr, "fx_sfake_start: out of memory\n");
        return -1;
    }
    f->lfd = -1;
    f->stop_pipe[0] = f->stop_pipe[1] = -1;
    for (int i = 0; i < FK_MAX_CONNS; i++)
        f->conns[i].fd = -1;
    snprintf(f->master_name, sizeof(f->master_name), "%s",
             o->master_name != NULL ? o->master_name : "mymaster");
    f->truth_port = o->truth_port;
    memcpy(f->cand, o->announce, sizeof(f->cand));
    f->ncand = o->n_announce;
    f->skip_master = o->skip_master;
    f->period_ms = o->period_ms > 0 ? o->period_ms : 100;
    atomic_store(&f->announcing, 1);
    const char *step = "pthread_mutex_init";
    if (pthread_mutex_init(&f->mu, NULL) != 0)
        goto fail;
    f->mu_init = 1;
    step = "socket";
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (f->lfd < 0)
        goto fail;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0; /* the kernel picks a free port: no race with other tests */
    socklen_t sl = sizeof(sa);
    step = "bind/listen";
    if (bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(f->lfd, 64) != 0 ||
        getsockname(f->lfd, (struct sockaddr *)&sa, &sl) != 0)
        goto fail;
    f->port = ntohs(sa.sin_port);
    step = "pipe2";
    if (pipe2(f->stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        goto fail;
    int ok = 0;
    for (int i = 0; i < 20 && !ok; i++) {
        ok = fk_refresh_master(f) == 0;
        if (!ok)
            fx_sleep_ms(100);
    }
    if (!ok) {
        fprintf(stderr, "fx_sfake_start: the sentinel on port %d names no master '%s'\n",
                f->truth_port, f->master_name);
        sfake_close(f);
        free(f);
        return -1;
    }
    step = "pthread_create";
    if (pthread_create(&f->thread, NULL, fk_main, f) != 0)
        goto fail;
    f->started = 1;
    *out = f;
    return 0;
fail:
    fprintf(stderr, "fx_sfake_start: %s failed: %s\n", step, strerror(errno));
    sfake_close(f);
    free(f);
    return -1;
}

int fx_sfake_port(const fx_sfake *f) { return f->port; }

void fx_sfake_set_announcing(fx_sfake *f, int on) { atomic_store(&f->announcing, on != 0); }

fx_sfake_counts fx_sfake_get_counts(fx_sfake *f)
{
    fx_sfake_counts c;
    c.connections = atomic_load(&f->connections);
    c.commands = atomic_load(&f->commands);
    c.announcements = atomic_load(&f->announcements);
    c.messages = atomic_load(&f->messages);
    c.subscribers = atomic_load(&f->subscribers);
    return c;
}

int fx_sfake_wait_subscribed(fx_sfake *f, int timeout_ms)
{
    int64_t deadline = mono_ns() + ms_to_ns(timeout_ms);
    while (atomic_load(&f->subscribers) == 0) {
        if (mono_ns() >= deadline)
            return -1;
        fx_sleep_ms(10);
    }
    return 0;
}
