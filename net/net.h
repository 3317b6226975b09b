/* Network boundary: connect and round trips that end by one overall deadline
 * however the server dribbles its bytes, with SIGPIPE blocked on our writes.
 * hiredis' own errors are mapped to POOL_E* codes here and only here.
 * The sends and reads below drive contexts that spool_connect() made: its
 * TLS layer (net/tls.c) is what they write through, so a context whose TLS
 * hiredis_ssl set up by itself would get plaintext. */
#ifndef SPOOL_NET_H
#define SPOOL_NET_H

#include <stdint.h>
#include <hiredis/hiredis.h>

#include "net/tls.h"
#include "proto/limits.h"

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t spool_now_ns(void);
static inline int64_t spool_deadline_ms(int ms) { return spool_now_ns() + (int64_t)ms * 1000000; }

/* Connect to host:port (hostname, IPv4 or IPv6 literal) before deadline_ns,
 * over TLS when tls is not NULL (the handshake inside the same deadline).
 * Name resolution is bounded by the deadline too. The returned context is
 * blocking with a socket timeout of cmd_timeout_ms. 0, POOL_ECONNECT,
 * POOL_ETIMEDOUT, POOL_ENOMEM, and over TLS POOL_ETLS or POOL_ECERT. */
int spool_connect(const char *host, int port, int64_t deadline_ns, int cmd_timeout_ms,
                  const spool_tls *tls, redisContext **out);

/* The same, giving up with SPOOL_ECANCELLED as soon as cancelled(arg) says
 * so (checked every few tens of ms while the TCP connect is pending): a
 * checkout stuck connecting to a master that just went away should not
 * wait out connect_timeout_ms once the writer changed. */
#define SPOOL_ECANCELLED (-1000) /* internal, never returned to callers */
typedef int (*spool_cancel_fn)(void *arg);
int spool_connect_ex(const char *host, int port, int64_t deadline_ns, int cmd_timeout_ms,
                     const spool_tls *tls, spool_cancel_fn cancelled, void *arg,
                     redisContext **out);

/* One command of a round trip: up to SPOOL_CMD_MAX_ARGS arguments, argv[i]
 * NUL-terminated. */
typedef struct spool_cmd {
    int argc;
    const char *argv[SPOOL_CMD_MAX_ARGS];
} spool_cmd;

/* AUTH [user] password: the one way every login here is spelled. */
static inline spool_cmd spool_auth_cmd(const char *user, const char *password)
{
    return user != NULL ? (spool_cmd){3, {"AUTH", user, password}}
                        : (spool_cmd){2, {"AUTH", password}};
}

/* Send ncmd commands in one write (MSG_NOSIGNAL) before deadline_ns without
 * reading anything: for SUBSCRIBE, whose confirmations the caller reads. */
int spool_send(redisContext *c, int64_t deadline_ns, int abort_fd, size_t ncmd,
               const spool_cmd *cmds);

/* Send ncmd commands in one write and read their ncmd replies, all before
 * deadline_ns, with send(MSG_NOSIGNAL) so a closed peer cannot raise SIGPIPE.
 * abort_fd >= 0: give up with POOL_ESHUTDOWN when it becomes readable. At
 * most max_buffer bytes may wait unparsed in the reader (POOL_ELIMIT beyond;
 * <= 0: SPOOL_NET_MAX_BUFFER; a pool connection passes
 * spool_reply_guard_max_buffer() of its guard).
 * replies[0..ncmd) are set on success (caller frees them); on failure none
 * are returned and c must be closed. 0, POOL_ETIMEDOUT, POOL_EIO,
 * POOL_EPROTO, POOL_ENOMEM, POOL_ELIMIT, POOL_ESHUTDOWN, POOL_ETLS (a TLS
 * error, or a plaintext connection answered with a TLS alert). */
int spool_roundtrip(redisContext *c, int64_t deadline_ns, int abort_fd, size_t ncmd,
                    const spool_cmd *cmds, redisReply **replies, long long max_buffer);

/* spool_roundtrip() for a pipeline whose first replies cannot be known in
 * advance (a borrower's leftovers: pub/sub messages, MONITOR lines, a late
 * reply): replies are read and dropped until keep(reply) says 1 (0: drop,
 * -1: fail with POOL_EPROTO); that one and the nwant-1 after it are
 * returned in replies[0..nwant). The deadline bounds the dropping too. */
typedef int (*spool_keep_fn)(const redisReply *r);
int spool_roundtrip_skip(redisContext *c, int64_t deadline_ns, size_t ncmd, const spool_cmd *cmds,
                         spool_keep_fn keep, size_t nwant, redisReply **replies,
                         long long max_buffer);

/* Read what has arrived on c (after poll() said so) into its reader without
 * blocking, also over TLS. 0, POOL_EIO (closed), POOL_ETLS, POOL_ENOMEM. */
int spool_read_available(redisContext *c);

/* One command, a convenience over spool_roundtrip(). */
int spool_command(redisContext *c, int64_t deadline_ns, int abort_fd, redisReply **reply,
                  int argc, const char **argv);

/* Contexts from spool_connect() carry the library's reply guard
 * (spool_reply_guard_attach_library()): arrays of more than
 * SPOOL_NET_MAX_ELEMENTS are refused (hiredis 0.14 has no cap), and every
 * RESP3 type hiredis 1.x parses is built. */

/* Map a failed context (c->err) to a POOL_E* code. */
int spool_map_redis_err(const redisContext *c);

#endif
