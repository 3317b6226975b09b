/* How the bench reaches one of its servers, plain or TLS: the dedicated
 * hiredis connections and the pool's options. Every section makes both
 * through here, so a TLS-only server needs nothing else from them. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>
#ifdef BENCH_HAVE_TLS
#include <hiredis/hiredis_ssl.h> /* after hiredis.h, which it needs */
#endif

#include "bench.h"

const char *bench_tls_unavailable(void)
{
#ifdef BENCH_HAVE_TLS
    if (!pool_tls_available())
        return "the library was built without TLS (pool_tls_available() = 0)";
    return NULL;
#else
    return "this build has no TLS (hiredis_ssl was not found at build time)";
#endif
}

int bench_tls_context_new(bench_server *s, char *err, size_t errlen)
{
#ifdef BENCH_HAVE_TLS
    redisInitOpenSSL();
    redisSSLContextError e = REDIS_SSL_CTX_NONE;
    /* No server name: hiredis would only send it as SNI (it never checks a
     * certificate's names), and SNI cannot carry an IP address. One context
     * for every connection, as an application would share it. */
    s->tls_ctx = redisCreateSSLContext(s->ca_file, NULL, NULL, NULL, NULL, &e);
    if (s->tls_ctx == NULL) {
        snprintf(err, errlen, "redisCreateSSLContext(%s): %s", s->ca_file,
                 redisSSLContextGetError(e));
        return -1;
    }
    return 0;
#else
    (void)s;
    snprintf(err, errlen, "%s", bench_tls_unavailable());
    return -1;
#endif
}

void bench_tls_context_free(bench_server *s)
{
#ifdef BENCH_HAVE_TLS
    if (s->tls_ctx != NULL)
        redisFreeSSLContext(s->tls_ctx);
#endif
    s->tls_ctx = NULL;
}

static int tls_initiate(redisContext *c, const bench_server *s, char *err, size_t errlen)
{
#ifdef BENCH_HAVE_TLS
    if (redisInitiateSSLWithContext(c, s->tls_ctx) == REDIS_OK)
        return 0;
    snprintf(err, errlen, "TLS handshake: %s", c->errstr[0] ? c->errstr : "failed");
#else
    (void)c;
    (void)s;
    snprintf(err, errlen, "%s", bench_tls_unavailable());
#endif
    return -1;
}

redisContext *bench_connect(const bench_server *s, int timeout_ms, char *err, size_t errlen)
{
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    redisContext *c = timeout_ms > 0 ? redisConnectWithTimeout("127.0.0.1", s->port, tv)
                                     : redisConnect("127.0.0.1", s->port);
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* The timeout also bounds the handshake's reads: a server still
     * starting must not hang the caller. */
    if (c->err)
        snprintf(err, errlen, "connect: %s", c->errstr);
    else if (timeout_ms > 0 && redisSetTimeout(c, tv) != REDIS_OK)
        snprintf(err, errlen, "redisSetTimeout: %s", c->errstr);
    else if (!s->tls || tls_initiate(c, s, err, errlen) == 0)
        return c;
    redisFree(c);
    return NULL;
}

void bench_pool_options(const bench_server *s, pool_options_t *po)
{
    pool_options_init(po);
    po->master_addr = s->addr;
    if (s->tls) {
        po->tls = 1;
        po->tls_ca_file = s->ca_file;
    }
}
