/* TLS on the library's connections: one OpenSSL context per pool, and the
 * per-connection steps the network layer (net.c) needs. This and tls.c are
 * the only files that know whether the build has TLS; without it the same
 * calls exist and spool_tls_new() fails with POOL_ENOTLS.
 *
 * Why the library drives OpenSSL itself instead of handing hiredis a
 * redisSSLContext: hiredis (up to 1.4.1) sends server_name as SNI only and
 * never checks the certificate's name, and its blocking handshake has no
 * deadline. Here the handshake runs on the non-blocking socket within the
 * connect deadline, the name is checked (SSL_set1_host, or the IP address),
 * and writes go through send(MSG_NOSIGNAL), so no TLS write raises SIGPIPE. */
#ifndef SPOOL_TLS_H
#define SPOOL_TLS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>

#include "sentinel_pool.h"

typedef struct spool_tls spool_tls;

/* Where TLS failures are reported (the pool's log, at WARN). */
typedef void (*spool_tls_log_fn)(void *arg, const char *fmt, va_list ap);

/* 1 when the build has TLS. */
int spool_tls_compiled(void);

/* Load o's CA, certificate and key into a new context. 0, POOL_ENOTLS,
 * POOL_EINVAL (a file that cannot be loaded; why in err), POOL_ENOMEM. The
 * context is immutable afterwards and may be used by any thread. */
int spool_tls_new(const pool_options_t *o, spool_tls_log_fn log, void *log_arg, spool_tls **out,
                  char *err, size_t errlen);
void spool_tls_free(spool_tls *t);
/* Set where failures are logged, before the first connection. */
void spool_tls_set_log(spool_tls *t, spool_tls_log_fn log, void *log_arg);

/* Run the TLS handshake on c, a context whose non-blocking TCP connect to
 * host:port just completed, before deadline_ns (checking cancelled(arg)
 * every few tens of ms when given). On success c reads and writes through
 * TLS with hiredis' usual calls. On failure c must be freed. 0,
 * POOL_ECERT (certificate refused), POOL_ETLS (handshake refused or
 * broken), POOL_ETIMEDOUT (no answer by the deadline), POOL_ENOMEM, or
 * cancelled's code; the log says why. */
int spool_tls_handshake(const spool_tls *t, redisContext *c, const char *host, int port,
                        int64_t deadline_ns, int (*cancelled)(void *), void *arg,
                        int cancelled_rc);

/* 1 when c runs over TLS. */
int spool_tls_on(const redisContext *c);

/* Switch c's TLS reads and writes between blocking (what a borrower's hiredis
 * calls expect) and non-blocking (what the library's deadline-bound round
 * trips use). No system call. */
void spool_tls_nowait(redisContext *c, int on);

/* Decrypted bytes waiting inside OpenSSL, which poll() cannot see. */
int spool_tls_pending(const redisContext *c);

/* Non-blocking write of buf[*off..len): advances *off. 0 when all is
 * written, 1 to wait for POLLIN, 2 to wait for POLLOUT, or POOL_EIO/POOL_ETLS. */
int spool_tls_write(redisContext *c, const char *buf, size_t len, size_t *off);

/* Is an idle TLS connection still usable? Processes what the server sent
 * meanwhile (TLS 1.3 session tickets, an alert, a close) without blocking:
 * 0 alive, POOL_EIO when closed or holding bytes nobody asked for. */
int spool_tls_idle_check(redisContext *c);

/* After a failed read or write on a TLS context: POOL_ETLS when OpenSSL
 * reported a TLS error (e.g. the server's "certificate required" alert under
 * mutual TLS), or when a server that asked for a client certificate we have
 * not got closed the connection before answering anything (logged); else 0
 * (an ordinary I/O error). */
int spool_tls_read_error(redisContext *c);

/* A round trip on c succeeded: from now on a close is just a close. */
void spool_tls_answered(redisContext *c);

/* Does a plaintext reply buffer start with a TLS alert record? The sign of a
 * TLS-only server reached without TLS. */
int spool_tls_alert_seen(const redisContext *c);

/* After a plaintext round trip failed with rc: a hint for the log when the
 * server looks like it wants TLS (its alert, or a reset before any reply),
 * else NULL. */
const char *spool_tls_hint(const redisContext *c, int rc);

#endif
