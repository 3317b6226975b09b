/* The network boundary: every connect and every round trip the library makes
 * itself ends by one overall deadline. hiredis 0.14's socket timeout applies
 * per recv(), so a server dribbling bytes could stretch it without bound;
 * here each wait is a poll() against the time that is left. */
#define _GNU_SOURCE
#include "net/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "proto/addr.h"
#include "proto/limits.h"
#include "proto/reply_guard.h"
#include "net/tls.h"
#include "sentinel_pool.h"

int64_t spool_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int remaining_ms(int64_t deadline_ns)
{
    int64_t left = deadline_ns - spool_now_ns();
    if (left <= 0)
        return 0;
    int64_t ms = (left + 999999) / 1000000;
    return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}

static struct timeval ms_to_tv(int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    return tv;
}

int spool_map_redis_err(const redisContext *c)
{
    if (c == NULL)
        return POOL_ENOMEM;
    switch (c->err) {
    case 0:
        return 0;
    case REDIS_ERR_OOM:
        return POOL_ENOMEM;
    case REDIS_ERR_PROTOCOL:
        return POOL_EPROTO;
    case REDIS_ERR_IO:
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ETIMEDOUT)
            return POOL_ETIMEDOUT;
        return POOL_EIO;
    default:
        return POOL_EIO;
    }
}

/* ---- Reply caps for every context opened here -----------------------------
 * Contexts from spool_connect() carry the library's reply guard
 * (reply_guard.h); pool connections replace it with their own (conn.c).
 * read_replies() bounds the buffer. */
static int cap_replies(redisContext *c)
{
    return spool_reply_guard_attach_library(c->reader) == 0 ? 0 : POOL_EPROTO;
}

/* Asynchronous name resolution so a slow resolver cannot hold a caller past
 * its deadline. The request outlives a timed-out caller: whoever drops the
 * last reference (the caller or glibc's completion thread) frees it. */
typedef struct lookup {
    atomic_int refs;
    struct gaicb cb;
    struct addrinfo hints;
    char port[8];
    char host[];
} lookup;

static void lookup_unref(lookup *l)
{
    if (atomic_fetch_sub(&l->refs, 1) == 1) {
        if (l->cb.ar_result != NULL)
            freeaddrinfo(l->cb.ar_result);
        free(l);
    }
}

static void lookup_done(union sigval sv) { lookup_unref(sv.sival_ptr); }

/* Resolve host to a numeric address string in out. */
static int resolve(const char *host, int port, int64_t deadline_ns, char *out, size_t outlen)
{
    size_t hlen = strlen(host);
    lookup *l = calloc(1, sizeof(*l) + hlen + 1);
    if (l == NULL)
        return POOL_ENOMEM;
    memcpy(l->host, host, hlen + 1);
    snprintf(l->port, sizeof(l->port), "%d", port);
    l->hints.ai_family = AF_UNSPEC;
    l->hints.ai_socktype = SOCK_STREAM;
    l->cb.ar_name = l->host;
    l->cb.ar_service = l->port;
    l->cb.ar_request = &l->hints;
    atomic_init(&l->refs, 2);

    struct sigevent sev;
    memset(&sev, 0, sizeof(sev));
    sev.sigev_notify = SIGEV_THREAD;
    sev.sigev_notify_function = lookup_done;
    sev.sigev_value.sival_ptr = l;
    struct gaicb *list[1] = {&l->cb};
    if (getaddrinfo_a(GAI_NOWAIT, list, 1, &sev) != 0) {
        free(l);
        return POOL_ECONNECT;
    }
    for (;;) {
        int ms = remaining_ms(deadline_ns);
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
        const struct gaicb *wait[1] = {&l->cb};
        int rc = gai_suspend(wait, 1, &ts);
        if (rc == EAI_INTR)
            continue;
        if (gai_error(&l->cb) != EAI_INPROGRESS)
            break;
        if (ms == 0 || rc == EAI_AGAIN) {
            /* Cancelled before it ran: no completion will come, drop both refs. */
            if (gai_cancel(&l->cb) == EAI_CANCELED)
                lookup_unref(l);
            lookup_unref(l);
            return POOL_ETIMEDOUT;
        }
    }
    int rc = POOL_ECONNECT;
    if (gai_error(&l->cb) == 0 && l->cb.ar_result != NULL) {
        const struct addrinfo *ai = l->cb.ar_result;
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ai->ai_addr;
        const void *src = ai->ai_family == AF_INET6
                              ? (const void *)&in6->sin6_addr
                              : (const void *)&((const struct sockaddr_in *)ai->ai_addr)->sin_addr;
        if (inet_ntop(ai->ai_family, src, out, (socklen_t)outlen) != NULL)
            rc = 0;
        /* inet_ntop() drops the zone of a link-local address
         * ("fe80::1%eth0", which the option parser accepts), and connect()
         * to fe80::/10 without a scope fails with EINVAL: the scope is
         * carried over as "%<index>", which hiredis' getaddrinfo() parses
         * back. */
        if (rc == 0 && ai->ai_family == AF_INET6 && in6->sin6_scope_id != 0) {
            size_t used = strlen(out);
            int n = snprintf(out + used, outlen - used, "%%%u", (unsigned)in6->sin6_scope_id);
            if (n < 0 || (size_t)n >= outlen - used)
                rc = POOL_ECONNECT;
        }
    }
    lookup_unref(l);
    return rc;
}

/* Wait for a non-blocking connect to finish, in slices when it can be
 * cancelled. 0 connected, or a POOL_E* code / SPOOL_ECANCELLED. */
static int finish_connect(int fd, int64_t deadline_ns, spool_cancel_fn cancelled, void *arg)
{
    for (;;) {
        if (remaining_ms(deadline_ns) == 0)
            return POOL_ETIMEDOUT;
        int64_t until = deadline_ns;
        if (cancelled != NULL && until > spool_now_ns() + 50000000)
            until = spool_now_ns() + 50000000;
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int n = poll(&pfd, 1, remaining_ms(until));
        if (n < 0 && errno != EINTR)
            return POOL_ECONNECT;
        if (n > 0)
            break;
        if (cancelled != NULL && cancelled(arg))
            return SPOOL_ECANCELLED;
    }
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
        return err == ETIMEDOUT ? POOL_ETIMEDOUT : POOL_ECONNECT;
    return 0;
}

/* Hand the connected context to hiredis' blocking API, as a context from
 * redisConnect() would be (the fields are the same in 0.14 and 1.x). */
static int make_blocking(redisContext *c)
{
    int fl = fcntl(c->fd, F_GETFL);
    if (fl < 0 || fcntl(c->fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
        return -1;
    c->flags |= REDIS_BLOCK | REDIS_CONNECTED;
    int one = 1;
    return setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int spool_connect(const char *host, int port, int64_t deadline_ns, int cmd_timeout_ms,
                  const spool_tls *tls, redisContext **out)
{
    return spool_connect_ex(host, port, deadline_ns, cmd_timeout_ms, tls, NULL, NULL, out);
}

int spool_connect_ex(const char *host, int port, int64_t deadline_ns, int cmd_timeout_ms,
                     const spool_tls *tls, spool_cancel_fn cancelled, void *arg,
                     redisContext **out)
{
    *out = NULL;
    char numeric[INET6_ADDRSTRLEN + 12]; /* + "%<scope id>" */
    const char *ip = host;
    if (!spool_host_is_numeric(host)) {
        int rc = resolve(host, port, deadline_ns, numeric, sizeof(numeric));
        if (rc != 0)
            return rc;
        ip = numeric;
    }
    if (remaining_ms(deadline_ns) == 0)
        return POOL_ETIMEDOUT;
    /* Non-blocking connect, waited for with poll(): bounded by the deadline
     * and, when asked, by the caller's reason to give up. */
    redisContext *c = redisConnectNonBlock(ip, port);
    if (c == NULL)
        return POOL_ENOMEM;
    if (c->err) {
        redisFree(c);
        return POOL_ECONNECT;
    }
    int rc = finish_connect(c->fd, deadline_ns, cancelled, arg);
    if (rc == 0 && tls != NULL)
        rc = spool_tls_handshake(tls, c, host, port, deadline_ns, cancelled, arg,
                                 SPOOL_ECANCELLED);
    if (rc == 0 && make_blocking(c) != 0)
        rc = POOL_ECONNECT;
    if (rc != 0) {
        redisFree(c);
        return rc;
    }
    if (cmd_timeout_ms > 0 && redisSetTimeout(c, ms_to_tv(cmd_timeout_ms)) != REDIS_OK) {
        redisFree(c);
        return POOL_ECONNECT;
    }
    rc = cap_replies(c);
    if (rc != 0) {
        redisFree(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* Wait until fd is ready for events, or the deadline, or abort_fd fires. */
static int wait_fd(int fd, short events, int64_t deadline_ns, int abort_fd)
{
    for (;;) {
        struct pollfd p[2] = {{.fd = fd, .events = events}, {.fd = abort_fd, .events = POLLIN}};
        int ms = remaining_ms(deadline_ns);
        if (ms == 0)
            return POOL_ETIMEDOUT;
        int n = poll(p, abort_fd >= 0 ? 2 : 1, ms);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return POOL_EIO;
        }
        if (n == 0)
            continue; /* re-check the clock: poll may wake a little early */
        if (abort_fd >= 0 && (p[1].revents & POLLIN))
            return POOL_ESHUTDOWN;
        if (p[0].revents & (events | POLLERR | POLLHUP))
            return 0;
    }
}

static int send_all(int fd, const char *buf, size_t len, int64_t deadline_ns, int abort_fd)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = wait_fd(fd, POLLOUT, deadline_ns, abort_fd);
            if (rc != 0)
                return rc;
            continue;
        }
        return POOL_EIO;
    }
    return 0;
}

/* One read of what is there into c's reader, after poll() said so (or
 * OpenSSL holds decrypted bytes). Over TLS the read is non-blocking: a
 * record only partly arrived waits for the next poll(), not in recv(). */
static int read_some(redisContext *c)
{
    if (redisBufferRead(c) == REDIS_OK)
        return 0;
    int rc = spool_tls_read_error(c);
    if (rc != 0)
        return rc;
    return c->err == REDIS_ERR_EOF ? POOL_EIO : spool_map_redis_err(c);
}

/* Read replies until n are collected; only ever reads when poll() says data
 * is there, so the blocking socket never blocks past the deadline. */
static int read_replies(redisContext *c, int64_t deadline_ns, int abort_fd, size_t n,
                        spool_keep_fn keep, redisReply **replies, long long max_buffer)
{
    size_t got = 0;
    while (got < n) {
        void *r = NULL;
        if (spool_tls_alert_seen(c))
            return POOL_ETLS; /* a TLS server reached without TLS */
        if (redisGetReplyFromReader(c, &r) != REDIS_OK)
            return spool_map_redis_err(c) == POOL_ENOMEM ? POOL_ELIMIT : POOL_EPROTO;
        if (r != NULL && got == 0 && keep != NULL) {
            int k = keep(r);
            if (k <= 0) {
                freeReplyObject(r);
                if (k < 0)
                    return POOL_EPROTO;
                continue;
            }
        }
        if (r != NULL) {
            replies[got++] = r;
            continue;
        }
        if (spool_reader_over(c->reader, max_buffer))
            return POOL_ELIMIT;
        if (!spool_tls_pending(c)) {
            int rc = wait_fd(c->fd, POLLIN, deadline_ns, abort_fd);
            if (rc != 0)
                return rc;
        }
        int rc = read_some(c);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int spool_read_available(redisContext *c)
{
    if (!spool_tls_on(c))
        return read_some(c);
    /* One SSL_read() returns one TLS record, where one recv() takes
     * everything the socket holds. Reading goes on until OpenSSL would wait
     * (bounded like a recv()), so nothing stays buffered where poll()
     * cannot see it and a sentinel's queued events (+sdown, +odown,
     * +failover-state-...) are handled in one watcher step, as in
     * plaintext. One record per wake-up would take one step per event,
     * each possibly a 500 ms check of a frozen master: a switch 0.5-1 s
     * late. */
    spool_tls_nowait(c, 1);
    int rc = 0;
    size_t got = 0;
    while (rc == 0 && got < SPOOL_READ_AVAILABLE_MAX) {
        size_t before = c->reader->len; /* feeding only appends */
        rc = read_some(c);
        if (c->reader->len <= before)
            break;
        got += c->reader->len - before;
    }
    spool_tls_nowait(c, 0);
    if (got > 0)
        spool_tls_answered(c);
    return rc;
}

static int send_tls(redisContext *c, const char *buf, size_t len, int64_t deadline_ns,
                    int abort_fd)
{
    size_t off = 0;
    for (;;) {
        int rc = spool_tls_write(c, buf, len, &off);
        if (rc <= 0)
            return rc;
        rc = wait_fd(c->fd, rc == 1 ? POLLIN : POLLOUT, deadline_ns, abort_fd);
        if (rc != 0)
            return rc;
    }
}

/* spool_send() without switching TLS modes: the caller has c in nowait. */
static int send_cmds(redisContext *c, int64_t deadline_ns, int abort_fd, size_t ncmd,
                     const spool_cmd *cmds)
{
    if (c == NULL || c->err || ncmd == 0 || (c->obuf != NULL && c->obuf[0] != '\0'))
        return POOL_EIO; /* unsent caller commands would interleave with ours */
    /* Format all commands into one buffer: one write per round trip. */
    char *buf = NULL;
    size_t len = 0;
    for (size_t i = 0; i < ncmd; i++) {
        char *cmd = NULL;
        const char *argv[SPOOL_CMD_MAX_ARGS]; /* hiredis 0.14 wants a non-const array */
        if (cmds[i].argc <= 0 || cmds[i].argc > SPOOL_CMD_MAX_ARGS) {
            free(buf);
            return POOL_EINVAL;
        }
        memcpy(argv, cmds[i].argv, sizeof(argv));
        int clen = redisFormatCommandArgv(&cmd, cmds[i].argc, argv, NULL);
        if (clen < 0) {
            free(buf);
            return POOL_ENOMEM;
        }
        char *grown = realloc(buf, len + (size_t)clen);
        if (grown == NULL) {
            redisFreeCommand(cmd);
            free(buf);
            return POOL_ENOMEM;
        }
        buf = grown;
        memcpy(buf + len, cmd, (size_t)clen);
        len += (size_t)clen;
        redisFreeCommand(cmd);
    }
    int rc = spool_tls_on(c) ? send_tls(c, buf, len, deadline_ns, abort_fd)
                             : send_all(c->fd, buf, len, deadline_ns, abort_fd);
    free(buf);
    return rc;
}

int spool_send(redisContext *c, int64_t deadline_ns, int abort_fd, size_t ncmd,
               const spool_cmd *cmds)
{
    spool_tls_nowait(c, 1); /* no-ops on plaintext */
    int rc = send_cmds(c, deadline_ns, abort_fd, ncmd, cmds);
    spool_tls_nowait(c, 0);
    return rc;
}

static int roundtrip(redisContext *c, int64_t deadline_ns, int abort_fd, size_t ncmd,
                     const spool_cmd *cmds, spool_keep_fn keep, size_t nwant,
                     redisReply **replies, long long max_buffer)
{
    for (size_t i = 0; i < nwant; i++)
        replies[i] = NULL;
    if (max_buffer <= 0)
        max_buffer = SPOOL_NET_MAX_BUFFER;
    spool_tls_nowait(c, 1); /* no-ops on plaintext */
    int rc = send_cmds(c, deadline_ns, abort_fd, ncmd, cmds);
    if (rc == 0) {
        /* Our commands count as the borrower's do: a connection's own reply
         * guard then sees as many replies as commands. */
        spool_reply_guard_expect(c->reader, (long)ncmd);
        rc = read_replies(c, deadline_ns, abort_fd, nwant, keep, replies, max_buffer);
    }
    spool_tls_nowait(c, 0);
    if (rc == 0)
        spool_tls_answered(c);
    if (rc != 0) {
        for (size_t i = 0; i < nwant; i++) {
            if (replies[i] != NULL)
                freeReplyObject(replies[i]);
            replies[i] = NULL;
        }
    }
    return rc;
}

int spool_roundtrip_skip(redisContext *c, int64_t deadline_ns, size_t ncmd, const spool_cmd *cmds,
                         spool_keep_fn keep, size_t nwant, redisReply **replies,
                         long long max_buffer)
{
    return roundtrip(c, deadline_ns, -1, ncmd, cmds, keep, nwant, replies, max_buffer);
}

int spool_roundtrip(redisContext *c, int64_t deadline_ns, int abort_fd, size_t ncmd,
                    const spool_cmd *cmds, redisReply **replies, long long max_buffer)
{
    return roundtrip(c, deadline_ns, abort_fd, ncmd, cmds, NULL, ncmd, replies, max_buffer);
}

int spool_command(redisContext *c, int64_t deadline_ns, int abort_fd, redisReply **reply,
                  int argc, const char **argv)
{
    spool_cmd cmd = {.argc = argc};
    if (argc <= 0 || argc > SPOOL_CMD_MAX_ARGS)
        return POOL_EINVAL;
    for (int i = 0; i < argc; i++)
        cmd.argv[i] = argv[i];
    *reply = NULL;
    return spool_roundtrip(c, deadline_ns, abort_fd, 1, &cmd, reply, 0);
}
