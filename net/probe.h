/* Asking a data node what it is: ROLE, or INFO replication where an ACL
 * forbids ROLE (the answer means the same, and a node we cannot read is not
 * a master we can trust). The one probe of the pool (on its own
 * connections, ROLE inside the login round trip) and of the Sentinel side
 * (a connection of its own per check). Callers decide what a denial
 * changes for them: the pool remembers it and asks INFO from then on. */
#ifndef SPOOL_PROBE_H
#define SPOOL_PROBE_H

#include <stdint.h>
#include <hiredis/hiredis.h>

#include "net/net.h"
#include "net/tls.h"
#include "proto/role.h"

/* The command, for callers that send it within a round trip of their own. */
static inline spool_cmd spool_role_cmd(void) { return (spool_cmd){1, {"ROLE"}}; }

/* What ROLE's reply r, read on c, says: into *out. On an ACL refusal
 * (-NOPERM) INFO replication is asked on c instead (before deadline_ns;
 * abort_fd as for spool_roundtrip()) and *denied is set to 1. 0, POOL_EAUTH
 * (-NOAUTH, or INFO refused too), POOL_EPROTO, or the round trip's code. */
int spool_probe_role_reply(redisContext *c, const redisReply *r, int64_t deadline_ns,
                           int abort_fd, spool_role *out, int *denied);

/* INFO replication on c, parsed: for a caller that knows ROLE is denied.
 * The same codes. */
int spool_probe_info(redisContext *c, int64_t deadline_ns, int abort_fd, spool_role *out);

/* ROLE (INFO replication when use_info) on c, an open connection. The
 * same codes; *denied as above. */
int spool_probe_on(redisContext *c, int64_t deadline_ns, int abort_fd, int use_info,
                   spool_role *out, int *denied);

/* A probe on a connection of its own, closed afterwards: connect to
 * host:port before deadline_ns (tls NULL: plaintext; each command bounded
 * by timeout_ms), AUTH when password is not NULL (a refusal: POOL_EAUTH),
 * then ROLE in the same round trip. *hint gets spool_tls_hint()'s advice
 * when the round trip failed the way a TLS-only node makes it fail, else
 * NULL. The codes of spool_connect() and of the above. */
int spool_probe_role(const char *host, int port, int64_t deadline_ns, int timeout_ms,
                     const spool_tls *tls, const char *username, const char *password,
                     int abort_fd, spool_role *out, const char **hint);

#endif
