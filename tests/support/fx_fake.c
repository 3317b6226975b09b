/* fx_fake.c: scripted fake server for hostile-input tests.
 *
 * One background thread runs a poll() loop over the listening socket, a stop
 * pipe and every accepted connection; each connection walks its own copy of
 * the script position, so slow scripts never hold up other connections and
 * fx_fake_stop() is prompt whatever the script is doing. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fixture.h"
#include "fx_internal.h"

#define FXF_RBUF_MAX (1024 * 1024)

typedef struct fxf_conn {
    int fd;
    size_t step;
    size_t off;      /* progress inside a SEND/DRIBBLE */
    int64_t wake_at; /* SLEEP/DRIBBLE timer, 0 = none */
    int eof;         /* peer closed its side */
    int want_write;  /* blocked on POLLOUT */
    char *rbuf;
    size_t rlen, rcap;
} fxf_conn;

/* Length of one complete RESP command at the start of buf: >0 consumed,
 * 0 incomplete, -1 malformed (the caller then consumes everything). */
static long resp_command_len(const char *buf, size_t len)
{
    if (len == 0)
        return 0;
    if (buf[0] != '*') { /* inline command: up to '\n' */
        const char *nl = memchr(buf, '\n', len);
        return nl ? (long)(nl - buf) + 1 : 0;
    }
    const char *p = buf, *end = buf + len;
    const char *crlf = memmem(p, (size_t)(end - p), "\r\n", 2);
    if (!crlf)
        return 0;
    char *e = NULL;
    long n = strtol(p + 1, &e, 10);
    if (e != crlf || n < 0 || n > 1024 * 1024)
        return -1;
    p = crlf + 2;
    for (long i = 0; i < n; i++) {
        if (p >= end)
            return 0;
        if (*p != '$')
            return -1;
        crlf = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!crlf)
            return 0;
        long bl = strtol(p + 1, &e, 10);
        if (e != crlf || bl < 0 || bl > 512L * 1024 * 1024)
            return -1;
        p = crlf + 2;
        if ((size_t)(end - p) < (size_t)bl + 2)
            return 0;
        p += bl + 2;
    }
    return (long)(p - buf);
}

static void consume(fxf_conn *c, size_t n)
{
    memmove(c->rbuf, c->rbuf + n, c->rlen - n);
    c->rlen -= n;
}

static void record(fx_fake *f, const char *data, size_t n)
{
    atomic_fetch_add(&f->bytes_in, n);
    if (pthread_mutex_lock(&f->rec_lock) != 0)
        return;
    size_t room = FX_FAKE_RECORD_MAX - f->rec_len;
    size_t take = n < room ? n : room;
    memcpy(f->rec + f->rec_len, data, take);
    f->rec_len += take;
    pthread_mutex_unlock(&f->rec_lock);
}

/* Read what is available. Returns -1 if the connection must be dropped. */
static int conn_read(fx_fake *f, fxf_conn *c)
{
    for (;;) {
        if (c->rlen == c->rcap) {
            if (c->rcap >= FXF_RBUF_MAX)
                return 0; /* stop reading; READ steps see what they have */
            size_t ncap = c->rcap ? c->rcap * 2 : 4096;
            char *nb = realloc(c->rbuf, ncap);
            if (!nb) {
                fprintf(stderr, "fx_fake: out of memory\n");
                return -1;
            }
            c->rbuf = nb;
            c->rcap = ncap;
        }
        ssize_t r = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
        if (r > 0) {
            record(f, c->rbuf + c->rlen, (size_t)r);
            c->rlen += (size_t)r;
            continue;
        }
        if (r == 0) {
            c->eof = 1;
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        return -1; /* ECONNRESET and friends */
    }
}

static void conn_close(fxf_conn *c, int reset)
{
    if (reset) {
        struct linger lg = {1, 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close(c->fd);
    c->fd = -1;
    free(c->rbuf);
    c->rbuf = NULL;
    c->rlen = c->rcap = 0;
}

/* Send up to `n` bytes. Returns bytes sent, 0 if it would block, -1 on error. */
static ssize_t conn_send(fxf_conn *c, const char *b, size_t n)
{
    for (;;) {
        ssize_t w = send(c->fd, b, n, MSG_NOSIGNAL);
        if (w >= 0)
            return w;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        return -1;
    }
}

/* Run the script as far as it goes without blocking. Closes c on the way
 * out when the script (or the peer) ends the connection. */
static void conn_advance(fx_fake *f, fxf_conn *c, int64_t now)
{
    c->want_write = 0;
    while (c->fd >= 0) {
        if (c->step >= f->n_steps) { /* end of script: behave like HANG */
            c->rlen = 0;
            if (c->eof)
                conn_close(c, 0);
            return;
        }
        const fx_fake_step *s = &f->steps[c->step];
        switch (s->kind) {
        case FX_STEP_READ: {
            long l = resp_command_len(c->rbuf, c->rlen);
            if (l == 0) {
                if (c->eof)
                    conn_close(c, 0);
                return;
            }
            consume(c, l < 0 ? c->rlen : (size_t)l);
            atomic_fetch_add(&f->commands, 1);
            c->step++;
            break;
        }
        case FX_STEP_READ_ANY:
            if (c->rlen == 0) {
                if (c->eof)
                    conn_close(c, 0);
                return;
            }
            c->rlen = 0;
            c->step++;
            break;
        case FX_STEP_SEND:
        case FX_STEP_DRIBBLE: {
            if (c->off >= s->len) {
                c->off = 0;
                c->wake_at = 0;
                c->step++;
                break;
            }
            if (s->kind == FX_STEP_DRIBBLE && c->wake_at && now < c->wake_at)
                return;
            size_t n = s->kind == FX_STEP_DRIBBLE ? 1 : s->len - c->off;
            ssize_t w = conn_send(c, s->bytes + c->off, n);
            if (w < 0) {
                conn_close(c, 0);
                return;
            }
            if (w == 0) {
                c->want_write = 1;
                return;
            }
            c->off += (size_t)w;
            if (s->kind == FX_STEP_DRIBBLE && c->off < s->len) {
                c->wake_at = now + s->delay_ms;
                if (s->delay_ms > 0)
                    return;
            }
            break;
        }
        case FX_STEP_SLEEP:
            if (c->wake_at == 0)
                c->wake_at = now + s->delay_ms;
            if (now < c->wake_at)
                return;
            c->wake_at = 0;
            c->step++;
            break;
        case FX_STEP_CLOSE:
            conn_close(c, 0);
            return;
        case FX_STEP_RESET:
            conn_close(c, 1);
            return;
        case FX_STEP_HANG:
            c->rlen = 0; /* discard: the peer's writes never block */
            if (c->eof)
                conn_close(c, 0);
            return;
        case FX_STEP_REPEAT:
            c->step = 0;
            break;
        default:
            conn_close(c, 0);
            return;
        }
    }
}

static void *fake_thread(void *arg)
{
    fx_fake *f = arg;
    fxf_conn *conns = NULL;
    size_t nconns = 0, capconns = 0;
    struct pollfd *pfds = NULL;
    size_t cappfds = 0;

    for (;;) {
        int64_t now = fx_now_ms();
        /* Advance every connection, drop closed ones, find the next timer. */
        int64_t next = -1;
        size_t live = 0;
        for (size_t i = 0; i < nconns; i++) {
            conn_advance(f, &conns[i], now);
            if (conns[i].fd < 0)
                continue;
            if (conns[i].wake_at && (next < 0 || conns[i].wake_at < next))
                next = conns[i].wake_at;
            conns[live++] = conns[i];
        }
        nconns = live;

        size_t want = 2 + nconns;
        if (want > cappfds) {
            struct pollfd *np = realloc(pfds, want * sizeof(*np));
            if (!np) {
                fprintf(stderr, "fx_fake: out of memory\n");
                break;
            }
            pfds = np;
            cappfds = want;
        }
        size_t np = 0;
        pfds[np++] = (struct pollfd){.fd = f->stop_pipe[0], .events = POLLIN};
        pfds[np++] = (struct pollfd){
            .fd = (f->flags & FX_FAKE_NO_ACCEPT) ? -1 : f->listen_fd, .events = POLLIN};
        for (size_t i = 0; i < nconns; i++) {
            short ev = 0;
            if (!conns[i].eof && conns[i].rlen < FXF_RBUF_MAX)
                ev |= POLLIN;
            if (conns[i].want_write)
                ev |= POLLOUT;
            pfds[np++] = (struct pollfd){.fd = conns[i].fd, .events = ev};
        }
        int timeout = 1000;
        if (next >= 0) {
            int64_t d = next - fx_now_ms();
            timeout = d < 0 ? 0 : (d > 1000 ? 1000 : (int)d);
        }
        int pr = poll(pfds, np, timeout);
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "fx_fake: poll: %s\n", strerror(errno));
            break;
        }
        if (pfds[0].revents)
            break; /* stop requested */
        for (size_t i = 0; i < nconns; i++) {
            short rev = pfds[2 + i].revents;
            if (rev & (POLLIN | POLLHUP | POLLERR)) {
                /* HUP/ERR after EOF would make poll() spin: the peer is gone. */
                if (conn_read(f, &conns[i]) != 0 ||
                    (conns[i].eof && (rev & (POLLHUP | POLLERR))))
                    conn_close(&conns[i], 0);
            }
        }
        if (pfds[1].revents & POLLIN) {
            for (;;) {
                int fd = accept4(f->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0)
                    break; /* EAGAIN, or a transient error: poll again */
                if (nconns == capconns) {
                    size_t nc = capconns ? capconns * 2 : 8;
                    fxf_conn *cc = realloc(conns, nc * sizeof(*cc));
                    if (!cc) {
                        fprintf(stderr, "fx_fake: out of memory\n");
                        close(fd);
                        break;
                    }
                    conns = cc;
                    capconns = nc;
                }
                memset(&conns[nconns], 0, sizeof(conns[nconns]));
                conns[nconns].fd = fd;
                nconns++;
                atomic_fetch_add(&f->connections, 1);
            }
        }
    }
    for (size_t i = 0; i < nconns; i++)
        if (conns[i].fd >= 0)
            conn_close(&conns[i], 0);
    free(conns);
    free(pfds);
    return NULL;
}

static int validate(const fx_fake_step *steps, size_t n)
{
    int blocks = 0; /* a step that waits, so REPEAT cannot spin */
    for (size_t i = 0; i < n; i++) {
        const fx_fake_step *s = &steps[i];
        if (s->kind < FX_STEP_READ || s->kind > FX_STEP_REPEAT) {
            fprintf(stderr, "fx_fake_start: step %zu: unknown kind %d\n", i, (int)s->kind);
            return -1;
        }
        if ((s->kind == FX_STEP_SEND || s->kind == FX_STEP_DRIBBLE) && s->len > 0 && !s->bytes) {
            fprintf(stderr, "fx_fake_start: step %zu: bytes is NULL\n", i);
            return -1;
        }
        if (s->delay_ms < 0) {
            fprintf(stderr, "fx_fake_start: step %zu: negative delay\n", i);
            return -1;
        }
        if (s->kind == FX_STEP_READ || s->kind == FX_STEP_READ_ANY || s->kind == FX_STEP_HANG ||
            (s->kind == FX_STEP_SLEEP && s->delay_ms > 0) ||
            (s->kind == FX_STEP_DRIBBLE && s->delay_ms > 0 && s->len > 1))
            blocks = 1;
        if (s->kind == FX_STEP_REPEAT && !blocks) {
            fprintf(stderr, "fx_fake_start: step %zu: REPEAT without a waiting step before it\n",
                    i);
            return -1;
        }
    }
    return 0;
}

static void fake_free(fx_fake *f)
{
    if (f->listen_fd >= 0)
        close(f->listen_fd);
    if (f->stop_pipe[0] >= 0)
        close(f->stop_pipe[0]);
    if (f->stop_pipe[1] >= 0)
        close(f->stop_pipe[1]);
    if (f->rec_lock_init)
        pthread_mutex_destroy(&f->rec_lock);
    free(f->steps);
    free(f->bytes);
    free(f->rec);
    memset(f, 0, sizeof(*f));
    f->listen_fd = f->stop_pipe[0] = f->stop_pipe[1] = -1;
}

int fx_fake_start_ex(fx_fake *f, const fx_fake_step *steps, size_t n, unsigned flags)
{
    if (!f || (n > 0 && !steps))
        return -1;
    memset(f, 0, sizeof(*f));
    f->listen_fd = f->stop_pipe[0] = f->stop_pipe[1] = -1;
    if (validate(steps, n) != 0)
        return -1;
    f->flags = flags;
    atomic_init(&f->connections, 0);
    atomic_init(&f->commands, 0);
    atomic_init(&f->bytes_in, 0);

    /* Deep copy, so the caller's arrays and buffers need not outlive us. */
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += steps[i].bytes ? steps[i].len : 0;
    f->steps = calloc(n ? n : 1, sizeof(*f->steps));
    f->bytes = malloc(total ? total : 1);
    f->rec = malloc(FX_FAKE_RECORD_MAX);
    if (!f->steps || !f->bytes || !f->rec) {
        fprintf(stderr, "fx_fake_start: out of memory\n");
        fake_free(f);
        return -1;
    }
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        f->steps[i] = steps[i];
        if (steps[i].bytes && steps[i].len) {
            memcpy(f->bytes + off, steps[i].bytes, steps[i].len);
            f->steps[i].bytes = f->bytes + off;
            off += steps[i].len;
        }
    }
    f->n_steps = n;
    if (pthread_mutex_init(&f->rec_lock, NULL) != 0) {
        fprintf(stderr, "fx_fake_start: mutex init failed\n");
        fake_free(f);
        return -1;
    }
    f->rec_lock_init = 1;

    if (pipe2(f->stop_pipe, O_CLOEXEC) != 0) {
        fprintf(stderr, "fx_fake_start: pipe2: %s\n", strerror(errno));
        fake_free(f);
        return -1;
    }
    f->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (f->listen_fd < 0) {
        fprintf(stderr, "fx_fake_start: socket: %s\n", strerror(errno));
        fake_free(f);
        return -1;
    }
    int one = 1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof(a);
    if (setsockopt(f->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(f->listen_fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(f->listen_fd, 128) != 0 ||
        getsockname(f->listen_fd, (struct sockaddr *)&a, &al) != 0) {
        fprintf(stderr, "fx_fake_start: listen on 127.0.0.1: %s\n", strerror(errno));
        fake_free(f);
        return -1;
    }
    f->port = ntohs(a.sin_port);

    /* The thread takes no signals: they belong to the test's main thread. */
    sigset_t all, old;
    sigfillset(&all);
    if (pthread_sigmask(SIG_SETMASK, &all, &old) != 0) {
        fake_free(f);
        return -1;
    }
    int rc = pthread_create(&f->thread, NULL, fake_thread, f);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        fprintf(stderr, "fx_fake_start: pthread_create: %s\n", strerror(rc));
        fake_free(f);
        return -1;
    }
    f->thread_started = 1;
    return 0;
}

int fx_fake_start(fx_fake *f, const fx_fake_step *steps, size_t n)
{
    return fx_fake_start_ex(f, steps, n, FX_FAKE_DEFAULT);
}

void fx_fake_stop(fx_fake *f)
{
    if (!f)
        return;
    if (f->thread_started) {
        char b = 1;
        ssize_t w;
        do {
            w = write(f->stop_pipe[1], &b, 1);
        } while (w < 0 && errno == EINTR);
        if (w != 1)
            fprintf(stderr, "fx_fake_stop: cannot wake the thread: %s\n", strerror(errno));
        int rc = pthread_join(f->thread, NULL);
        if (rc != 0)
            fprintf(stderr, "fx_fake_stop: pthread_join: %s\n", strerror(rc));
        f->thread_started = 0;
    } else if (f->steps == NULL && f->rec == NULL) {
        return; /* zeroed or already stopped: nothing to free */
    }
    fake_free(f);
}

unsigned long fx_fake_connections(fx_fake *f)
{
    return atomic_load(&f->connections);
}

unsigned long fx_fake_commands(fx_fake *f)
{
    return atomic_load(&f->commands);
}

size_t fx_fake_received(fx_fake *f, char *buf, size_t len)
{
    if (!f || !buf || len == 0 || !f->rec_lock_init)
        return 0;
    if (pthread_mutex_lock(&f->rec_lock) != 0)
        return 0;
    size_t n = f->rec_len < len - 1 ? f->rec_len : len - 1;
    memcpy(buf, f->rec, n);
    pthread_mutex_unlock(&f->rec_lock);
    buf[n] = '\0';
    return n;
}
