/* What a node says it is: parsers for ROLE and INFO replication replies.
 * Pure functions: no I/O, no locks, no clock. */
#ifndef SPOOL_ROLE_H
#define SPOOL_ROLE_H

#include <hiredis/hiredis.h>
#include "proto/addr.h"
#include "proto/lex.h" /* what callers check error replies with */
#include "proto/limits.h"

typedef enum {
    SPOOL_ROLE_UNKNOWN = 0,
    SPOOL_ROLE_MASTER = 1,
    SPOOL_ROLE_REPLICA = 2,
    SPOOL_ROLE_SENTINEL = 3,
} spool_role_kind;

typedef struct spool_role {
    spool_role_kind kind;
    long long offset;       /* master: its offset; replica: processed offset */
    char master_host[SPOOL_HOST_MAX]; /* replica only */
    int master_port;        /* replica only */
    char link_state[SPOOL_LINK_STATE_MAX]; /* replica only: connected, connecting, sync, ... */
    int connected_replicas; /* master only */
    /* master only: the first SPOOL_MAX_REPLICAS replicas it lists, with
     * the offset each acknowledged (for replica lag) */
    int nlisted;
    struct {
        spool_addr addr;
        long long offset;
    } listed[SPOOL_MAX_REPLICAS];
} spool_role;

/* Parse a ROLE reply. Lenient on port as integer or string and on
 * "slave"/"replica"; strict on types and bounds. 0 or POOL_EPROTO. */
int spool_role_parse(const redisReply *r, spool_role *out);

/* Parse the text of INFO replication (fallback when ROLE is denied by ACL):
 * the same answer, a master's slave<N> lines giving listed (online ones
 * only, as ROLE). */
int spool_role_parse_info(const char *text, size_t len, spool_role *out);

#endif
