/* Helpers shared by the fixture's translation units; not for tests. */
#ifndef SENTINEL_POOL_TEST_FX_INTERNAL_H
#define SENTINEL_POOL_TEST_FX_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "fixture.h"

#define FXI_POLL_STEP_MS 20
#define FXI_DEFAULT_HOST "127.0.0.1" /* where nodes listen unless told otherwise */


/* The address n listens on: n->host, or FXI_DEFAULT_HOST when unset. */
const char *fxi_node_host(const fx_node *n);
/* A port free on the IPv4 address ip a moment ago (bind to ip:0), or -1. */
int fxi_free_port_on(const char *ip);

/* Print the last `lines` lines of a file to stderr (nothing if missing). */
void fxi_tail(const char *path, int lines);

/* Connect with the given timeout (connect and per-recv), AUTH if needed.
 * quiet = 1: no stderr output on failure. */
redisContext *fxi_connect(const fx_node *n, int timeout_ms, int quiet);
/* One command on a fresh connection, SIGPIPE blocked on this thread. */
redisReply *fxi_cmd(const fx_node *n, int timeout_ms, int quiet, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
redisReply *fxi_vcmd(const fx_node *n, int timeout_ms, int quiet, const char *fmt, va_list ap);

/* Reachable = spawned, not reaped, not SIGSTOPped. Reaps if it exited. */
int fxi_node_usable(fx_node *n);

/* Stop several nodes concurrently: SIGTERM all, SIGKILL after grace_ms. */
void fxi_stop_many(fx_node **nodes, size_t count, int grace_ms);

/* Value of "key:" in an INFO text; copies into out. 0 if found. */
int fxi_info_field(const char *info, const char *key, char *out, size_t outlen);

/* Look up a key in a flat [k, v, k, v...] array reply; NULL if absent. */
const char *fxi_kv(const redisReply *r, const char *key);

/* Parse an integer or bulk-string port/number reply element. -1 if not. */
long long fxi_reply_ll(const redisReply *r);

/* Apply the node's SENTINEL DEBUG periods; errors are ignored. */
void fxi_sentinel_apply_debug(const fx_node *n);

/* Remove a directory tree, or keep it (and say so) under FX_KEEP_DIRS. */
void fxi_remove_dir(const char *dir);

/* Copy t (NULL: plaintext) into the node's tls fields. -1 with a message
 * when t is unusable or the fixture was built without SPOOL_HAVE_TLS. */
int fxi_tls_node_init(fx_node *n, const fx_tls *t, const char *what);
/* TLS handshake on a connected blocking context, presenting client.crt
 * (the context's timeout bounds it). 0, or -1 with the reason in err. The
 * caller blocks SIGPIPE: OpenSSL writes with write(2). */
int fxi_tls_handshake(redisContext *c, const fx_node *n, char *err, size_t len);

#endif
