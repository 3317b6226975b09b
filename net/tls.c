/* TLS through OpenSSL and hiredis_ssl, or the stubs of a build without them.
 * See tls.h for why the library drives the handshake itself. */
#define _GNU_SOURCE
#include "net/tls.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/addr.h"

int spool_tls_alert_seen(const redisContext *c)
{
    /* A TLS record: content type 21 (alert), then version 3.x. RESP never
     * starts with byte 0x15. */
    const redisReader *r = c->reader;
    return r->buf != NULL && r->pos == 0 && r->len >= 2 && (unsigned char)r->buf[0] == 0x15 &&
           (unsigned char)r->buf[1] == 0x03;
}

const char *spool_tls_hint(const redisContext *c, int rc)
{
    if (c == NULL || spool_tls_on(c))
        return NULL;
    if (rc == POOL_ETLS)
        return "answered with a TLS alert: it expects TLS";
    /* Redis and Valkey reset a TLS port's connection on plaintext, silently. */
    if (rc == POOL_EIO && c->reader->len == 0)
        return "closed the connection without a reply: a TLS-only port?";
    return NULL;
}

#if !SPOOL_HAVE_TLS

int spool_tls_compiled(void) { return 0; }

int spool_tls_new(const pool_options_t *o, spool_tls_log_fn log, void *log_arg, spool_tls **out,
                  char *err, size_t errlen)
{
    (void)o, (void)log, (void)log_arg;
    *out = NULL;
    snprintf(err, errlen, "tls/sentinel_tls: this build of sentinel_pool has no TLS (it was built "
                          "without hiredis_ssl, e.g. against hiredis 0.14)");
    return POOL_ENOTLS;
}

void spool_tls_free(spool_tls *t) { (void)t; }
void spool_tls_set_log(spool_tls *t, spool_tls_log_fn log, void *log_arg)
{
    (void)t, (void)log, (void)log_arg;
}

int spool_tls_handshake(const spool_tls *t, redisContext *c, const char *host, int port,
                        int64_t deadline_ns, int (*cancelled)(void *), void *arg, int cancelled_rc)
{
    (void)t, (void)c, (void)host, (void)port, (void)deadline_ns, (void)cancelled, (void)arg,
        (void)cancelled_rc;
    return POOL_ENOTLS;
}

int spool_tls_on(const redisContext *c) { return (void)c, 0; }
void spool_tls_nowait(redisContext *c, int on) { (void)c, (void)on; }
int spool_tls_pending(const redisContext *c) { return (void)c, 0; }
int spool_tls_write(redisContext *c, const char *buf, size_t len, size_t *off)
{
    (void)c, (void)buf, (void)len, (void)off;
    return POOL_EIO;
}
int spool_tls_idle_check(redisContext *c) { return (void)c, POOL_EIO; }
int spool_tls_read_error(redisContext *c) { return (void)c, 0; }
void spool_tls_answered(redisContext *c) { (void)c; }

#else /* SPOOL_HAVE_TLS */

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>

#include <hiredis/hiredis_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "net/net.h"

struct spool_tls {
    SSL_CTX *ctx;
    BIO_METHOD *bio_method; /* our socket BIO: send(MSG_NOSIGNAL), switchable to non-blocking */
    char *server_name;      /* NULL: verify the host connected to */
    int verify;
    spool_tls_log_fn log;
    void *log_arg;
};

/* The BIO's own state, freed with the BIO (that is, with the SSL). */
typedef struct tls_sock {
    int fd;
    int nowait; /* 1: MSG_DONTWAIT, for the library's deadline-bound I/O */
    int eof;
} tls_sock;

/* c->privdata of a TLS context: hiredis 1.x leaves that field to its user
 * and frees it with free_privdata, which also marks the context as ours. */
typedef struct tls_conn {
    SSL *ssl;   /* owned by hiredis (freed in redisFree) */
    tls_sock *sock;
    const spool_tls *cfg;
    int cert_asked; /* the server asked for a client certificate we do not have */
    int answered;   /* a round trip on it succeeded (spool_tls_answered) */
    char peer[SPOOL_HOST_MAX + 8];
} tls_conn;

static void tls_conn_free(void *p) { free(p); }

static tls_conn *conn_of(const redisContext *c)
{
    return c != NULL && c->free_privdata == tls_conn_free ? c->privdata : NULL;
}

int spool_tls_compiled(void) { return 1; }

/* OpenSSL asks this only when the server requests a client certificate and
 * none is configured: remember it, send none (the server may accept that). */
static int no_client_cert(SSL *ssl, X509 **x509, EVP_PKEY **pkey)
{
    (void)x509, (void)pkey;
    tls_conn *tc = SSL_get_app_data(ssl);
    if (tc != NULL)
        tc->cert_asked = 1;
    return 0;
}

static void tls_log(const spool_tls *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tls_log(const spool_tls *t, const char *fmt, ...)
{
    if (t->log == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    t->log(t->log_arg, fmt, ap);
    va_end(ap);
}

static const char *reason_of(unsigned long e)
{
    if (ERR_SYSTEM_ERROR(e)) /* fopen() and friends: errno in the reason */
        return strerror(ERR_GET_REASON(e));
    const char *r = ERR_reason_error_string(e);
    return r != NULL ? r : "unknown OpenSSL error";
}

/* This thread's OpenSSL errors as text (the first says what, e.g. "No such
 * file or directory"; the last where), then a clean queue. */
static const char *ssl_reason(char *buf, size_t len)
{
    unsigned long first = ERR_peek_error(), last = ERR_peek_last_error();
    if (first == 0)
        snprintf(buf, len, "connection closed");
    else if (first == last || strcmp(reason_of(first), reason_of(last)) == 0)
        snprintf(buf, len, "%s", reason_of(last));
    else
        snprintf(buf, len, "%s (%s)", reason_of(first), reason_of(last));
    ERR_clear_error();
    return buf;
}

/* ---- The socket BIO ---------------------------------------------------- */

static int sock_write(BIO *b, const char *buf, int len)
{
    tls_sock *s = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n = send(s->fd, buf, (size_t)len, MSG_NOSIGNAL | (s->nowait ? MSG_DONTWAIT : 0));
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_write(b);
    return (int)n;
}

static int sock_read(BIO *b, char *buf, int len)
{
    tls_sock *s = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n = recv(s->fd, buf, (size_t)len, s->nowait ? MSG_DONTWAIT : 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_read(b);
    if (n == 0)
        s->eof = 1;
    return (int)n;
}

static long sock_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)ptr;
    tls_sock *s = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_EOF:
        return s != NULL && s->eof;
    case BIO_CTRL_GET_CLOSE:
        return BIO_get_shutdown(b);
    case BIO_CTRL_SET_CLOSE:
        BIO_set_shutdown(b, (int)num);
        return 1;
    default:
        return 0;
    }
}

static int sock_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static int sock_destroy(BIO *b)
{
    free(BIO_get_data(b));
    BIO_set_data(b, NULL);
    return 1;
}

static BIO_METHOD *sock_method_new(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "sentinel_pool socket");
    if (m == NULL)
        return NULL;
    if (!BIO_meth_set_write(m, sock_write) || !BIO_meth_set_read(m, sock_read) ||
        !BIO_meth_set_ctrl(m, sock_ctrl) || !BIO_meth_set_create(m, sock_create) ||
        !BIO_meth_set_destroy(m, sock_destroy)) {
        BIO_meth_free(m);
        return NULL;
    }
    return m;
}

/* ---- The context -------------------------------------------------------- */

int spool_tls_new(const pool_options_t *o, spool_tls_log_fn log, void *log_arg, spool_tls **out,
                  char *err, size_t errlen)
{
    *out = NULL;
    spool_tls *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return POOL_ENOMEM;
    t->log = log;
    t->log_arg = log_arg;
    t->verify = !o->tls_skip_verify;
    char why[256];
    int rc = POOL_ENOMEM;
    ERR_clear_error();
    if ((t->ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
        (t->bio_method = sock_method_new()) == NULL ||
        (o->tls_server_name != NULL && (t->server_name = strdup(o->tls_server_name)) == NULL)) {
        snprintf(err, errlen, "TLS: out of memory creating the OpenSSL context");
        goto fail;
    }
    rc = POOL_EINVAL;
    if (!SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION)) {
        snprintf(err, errlen, "TLS: cannot require TLS 1.2: %s", ssl_reason(why, sizeof(why)));
        goto fail;
    }
    if (o->tls_ca_file != NULL || o->tls_ca_dir != NULL) {
        if (!SSL_CTX_load_verify_locations(t->ctx, o->tls_ca_file, o->tls_ca_dir)) {
            snprintf(err, errlen, "TLS: cannot load CAs from %s%s%s: %s",
                     o->tls_ca_file ? o->tls_ca_file : "", o->tls_ca_file && o->tls_ca_dir ? ", " : "",
                     o->tls_ca_dir ? o->tls_ca_dir : "", ssl_reason(why, sizeof(why)));
            goto fail;
        }
    } else if (!SSL_CTX_set_default_verify_paths(t->ctx)) {
        snprintf(err, errlen, "TLS: cannot load OpenSSL's default CAs: %s",
                 ssl_reason(why, sizeof(why)));
        goto fail;
    }
    if ((o->tls_cert_file == NULL) != (o->tls_key_file == NULL)) {
        snprintf(err, errlen, "TLS: tls_cert_file and tls_key_file go together");
        goto fail;
    }
    if (o->tls_cert_file != NULL) {
        if (!SSL_CTX_use_certificate_chain_file(t->ctx, o->tls_cert_file)) {
            snprintf(err, errlen, "TLS: cannot load tls_cert_file %s: %s", o->tls_cert_file,
                     ssl_reason(why, sizeof(why)));
            goto fail;
        }
        if (!SSL_CTX_use_PrivateKey_file(t->ctx, o->tls_key_file, SSL_FILETYPE_PEM)) {
            snprintf(err, errlen, "TLS: cannot load tls_key_file %s: %s", o->tls_key_file,
                     ssl_reason(why, sizeof(why)));
            goto fail;
        }
        if (!SSL_CTX_check_private_key(t->ctx)) {
            snprintf(err, errlen, "TLS: tls_key_file %s does not match tls_cert_file %s",
                     o->tls_key_file, o->tls_cert_file);
            goto fail;
        }
    }
    SSL_CTX_set_verify(t->ctx, t->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_client_cert_cb(t->ctx, no_client_cert);
    /* A server's EOF without close_notify is what every cut connection
     * looks like; report it as the end of the connection, not a TLS error. */
    SSL_CTX_set_options(t->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    *out = t;
    return 0;
fail:
    ERR_clear_error();
    spool_tls_free(t);
    return rc;
}

void spool_tls_free(spool_tls *t)
{
    if (t == NULL)
        return;
    SSL_CTX_free(t->ctx);
    BIO_meth_free(t->bio_method);
    free(t->server_name);
    free(t);
}

void spool_tls_set_log(spool_tls *t, spool_tls_log_fn log, void *log_arg)
{
    if (t != NULL) {
        t->log = log;
        t->log_arg = log_arg;
    }
}

/* ---- One connection ----------------------------------------------------- */

/* What the certificate must name: tls_server_name, else the host as given
 * (an IP address from Sentinel must be among the certificate's IP SANs). */
static int set_peer_name(const spool_tls *t, SSL *ssl, const char *host)
{
    const char *name = t->server_name != NULL ? t->server_name : host;
    char ip[64];
    if (spool_host_ip_literal(name, ip, sizeof(ip)))
        return !t->verify || X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ip);
    if (!SSL_set_tlsext_host_name(ssl, name))
        return 0;
    if (!t->verify)
        return 1;
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return SSL_set1_host(ssl, name);
}

/* hiredis writes the ClientHello with write(2) before we can swap in our
 * BIO: keep SIGPIPE off this thread meanwhile, and swallow one it raised. */
static int initiate_quietly(redisContext *c, SSL *ssl)
{
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    int rc = redisInitiateSSL(c, ssl);
    sigset_t pending;
    if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) &&
        !sigismember(&old, SIGPIPE)) {
        struct timespec zero = {0, 0};
        sigtimedwait(&pipe_set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static int wait_io(int fd, short events, int64_t deadline_ns, int (*cancelled)(void *), void *arg,
                   int cancelled_rc)
{
    for (;;) {
        int64_t now = spool_now_ns();
        if (now >= deadline_ns)
            return POOL_ETIMEDOUT;
        int64_t until = deadline_ns;
        if (cancelled != NULL && until > now + 50000000)
            until = now + 50000000;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)((until - now + 999999) / 1000000));
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return POOL_EIO;
        if (cancelled != NULL && cancelled(arg))
            return cancelled_rc;
    }
}

/* Classify a failed SSL_connect, and log it. */
static int handshake_failed(const tls_conn *tc, int ssl_err)
{
    const spool_tls *t = tc->cfg;
    long v = SSL_get_verify_result(tc->ssl);
    char why[256];
    if (t->verify && v != X509_V_OK) {
        ERR_clear_error();
        tls_log(t, "TLS to %s: server certificate refused: %s", tc->peer,
                X509_verify_cert_error_string(v));
        return POOL_ECERT;
    }
    if (ssl_err == SSL_ERROR_SYSCALL || ssl_err == SSL_ERROR_ZERO_RETURN) {
        if (ERR_peek_last_error() == 0) {
            tls_log(t, "TLS to %s: connection closed during the handshake (%s)", tc->peer,
                    errno != 0 ? strerror(errno) : "no TLS answer");
            return POOL_ETLS;
        }
    }
    tls_log(t, "TLS to %s: handshake failed: %s", tc->peer, ssl_reason(why, sizeof(why)));
    return POOL_ETLS;
}

int spool_tls_handshake(const spool_tls *t, redisContext *c, const char *host, int port,
                        int64_t deadline_ns, int (*cancelled)(void *), void *arg, int cancelled_rc)
{
    tls_conn *tc = calloc(1, sizeof(*tc));
    tls_sock *sock = calloc(1, sizeof(*sock));
    SSL *ssl = tc != NULL && sock != NULL ? SSL_new(t->ctx) : NULL;
    BIO *bio = ssl != NULL ? BIO_new(t->bio_method) : NULL;
    if (bio == NULL || !set_peer_name(t, ssl, host)) {
        BIO_free(bio);
        SSL_free(ssl);
        free(sock);
        free(tc);
        ERR_clear_error();
        return POOL_ENOMEM;
    }
    tc->cfg = t;
    tc->ssl = ssl;
    tc->sock = sock;
    SSL_set_app_data(ssl, tc);
    snprintf(tc->peer, sizeof(tc->peer), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    sock->fd = c->fd;
    sock->nowait = 1;
    BIO_set_data(bio, sock);

    /* The context is non-blocking here, so hiredis sends the ClientHello and
     * returns; the rest of the handshake is ours, bounded by the deadline. */
    ERR_clear_error();
    errno = 0;
    if (initiate_quietly(c, ssl) != REDIS_OK) {
        /* On loopback the whole handshake may run inside that call. */
        int rc = c->err == REDIS_ERR_OOM ? POOL_ENOMEM : handshake_failed(tc, SSL_ERROR_SSL);
        SSL_free(ssl); /* hiredis keeps it only on success */
        BIO_free(bio);
        free(tc);
        ERR_clear_error();
        return rc;
    }
    SSL_set_bio(ssl, bio, bio); /* from here on redisFree(c) frees all of it */
    c->privdata = tc;
    c->free_privdata = tls_conn_free;

    for (;;) {
        ERR_clear_error();
        errno = 0;
        int r = SSL_connect(ssl);
        if (r == 1)
            break;
        int e = SSL_get_error(ssl, r);
        short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (ev == 0)
            return handshake_failed(tc, e);
        int rc = wait_io(c->fd, ev, deadline_ns, cancelled, arg, cancelled_rc);
        if (rc == POOL_ETIMEDOUT) {
            /* A node that does not answer, as a frozen master: "could not
             * connect" like a TCP timeout, retried, and a reason to doubt
             * the writer; not a TLS refusal that retrying cannot change. */
            tls_log(t, "TLS to %s: no handshake answer within the connect deadline (a frozen or "
                       "silent peer, or a plaintext server on this port)", tc->peer);
            return POOL_ETIMEDOUT;
        }
        if (rc != 0)
            return rc;
    }
    sock->nowait = 0;
    return 0;
}

int spool_tls_on(const redisContext *c) { return conn_of(c) != NULL; }

void spool_tls_nowait(redisContext *c, int on)
{
    tls_conn *tc = conn_of(c);
    if (tc == NULL)
        return;
    tc->sock->nowait = on;
    /* hiredis' TLS read treats "would block" as an error on a blocking
     * context and as "no data yet" on a non-blocking one. */
    if (on)
        c->flags &= ~REDIS_BLOCK;
    else
        c->flags |= REDIS_BLOCK;
}

int spool_tls_pending(const redisContext *c)
{
    tls_conn *tc = conn_of(c);
    /* SSL_has_pending also counts records read but not yet decrypted. */
    return tc != NULL && (SSL_pending(tc->ssl) > 0 || SSL_has_pending(tc->ssl));
}

/* One SSL_read() of at most a byte that never blocks, whatever mode the
 * connection is in: OpenSSL processes what arrived (tickets, an alert, a
 * close). Returns SSL_get_error()'s verdict; the error queue is left as is. */
static int read_byte_nowait(tls_conn *tc)
{
    char b;
    int was = tc->sock->nowait;
    tc->sock->nowait = 1;
    int n = SSL_read(tc->ssl, &b, 1);
    int e = n > 0 ? SSL_ERROR_NONE : SSL_get_error(tc->ssl, n);
    tc->sock->nowait = was;
    return e;
}

int spool_tls_write(redisContext *c, const char *buf, size_t len, size_t *off)
{
    tls_conn *tc = conn_of(c);
    if (tc == NULL)
        return POOL_EIO;
    while (*off < len) {
        size_t left = len - *off;
        ERR_clear_error();
        int n = SSL_write(tc->ssl, buf + *off, left > (size_t)0x40000000 ? 0x40000000 : (int)left);
        if (n > 0) {
            *off += (size_t)n;
            continue;
        }
        int e = SSL_get_error(tc->ssl, n);
        if (e == SSL_ERROR_WANT_READ)
            return 1;
        if (e == SSL_ERROR_WANT_WRITE)
            return 2;
        /* A server that refused us (say, no client certificate under TLS
         * 1.3) sent its alert and closed; our write met the reset. Read
         * the alert, which says why, instead of reporting a bare I/O error. */
        if (ERR_peek_error() == 0)
            (void)read_byte_nowait(tc);
        int rc = spool_tls_read_error(c);
        return rc != 0 ? rc : POOL_EIO;
    }
    return 0;
}

int spool_tls_idle_check(redisContext *c)
{
    tls_conn *tc = conn_of(c);
    if (tc == NULL)
        return POOL_EIO;
    ERR_clear_error();
    int e = read_byte_nowait(tc);
    ERR_clear_error();
    /* Nothing but records for OpenSSL itself (session tickets): alive. */
    return e == SSL_ERROR_WANT_READ ? 0 : POOL_EIO;
}

void spool_tls_answered(redisContext *c)
{
    tls_conn *tc = conn_of(c);
    if (tc != NULL)
        tc->answered = 1;
}

int spool_tls_read_error(redisContext *c)
{
    tls_conn *tc = conn_of(c);
    if (tc == NULL)
        return 0;
    char why[256];
    /* Under mutual TLS, TLS 1.3 reports a refused client certificate after
     * the handshake: the server's alert arrives with the first reply. */
    if (ERR_peek_last_error() != 0 && ERR_GET_LIB(ERR_peek_last_error()) == ERR_LIB_SSL) {
        tls_log(tc->cfg, "TLS to %s: %s", tc->peer, ssl_reason(why, sizeof(why)));
        return POOL_ETLS;
    }
    ERR_clear_error();
    /* ...or, when its reset overtook the alert, only a closed connection. */
    if (tc->cert_asked && !tc->answered) {
        tls_log(tc->cfg, "TLS to %s: client certificate required by the server, none is "
                         "configured (tls_cert_file, tls_key_file); it closed the connection",
                tc->peer);
        return POOL_ETLS;
    }
    return 0;
}

#endif /* SPOOL_HAVE_TLS */
