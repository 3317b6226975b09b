/* deploy.h: an existing deployment as sentinel-pool-check reaches it
 * (deployment mode): the user's credentials and TLS options, and the
 * --failover run over it (deploy.c). */
#ifndef CK_DEPLOY_H
#define CK_DEPLOY_H

#include <hiredis/hiredis.h>

#include "proto/addr.h"
#include "net/tls.h"
#include "sentinel_pool.h"

#define CK_MAX_SENTINELS 16
#define CK_MAX_NODES 32

/* How to reach the deployment. o's strings belong to argv. */
typedef struct ck_target {
    pool_options_t o; /* master_name, sentinels, credentials, TLS as the pool takes them */
    spool_tls *tls;   /* made from o when o.tls or o.sentinel_tls */
    int timeout_ms;   /* per server: connect, login, each command */
} ck_target;

/* A connection to host:port, logged in with the data nodes' (sentinel 0)
 * or the sentinels' credentials, blocking, each command bounded by
 * timeout_ms. 0 or a POOL_E* code (POOL_EAUTH: credentials refused). On
 * failure hint (NULL: not wanted; else "" on entry) says what it suggests
 * about TLS, worded with this tool's options, or stays "". */
int ck_open(const ck_target *t, const char *host, int port, int sentinel, redisContext **out,
            char *hint, size_t hintlen);
/* What a failed exchange (rc) with a server suggests about TLS, worded with
 * this tool's options, into out when out is "" (the first failure is the
 * telling one); c is NULL when the connect itself failed. */
void ck_tls_hint(const ck_target *t, int sentinel, const redisContext *c, int rc, char *out,
                 size_t len);
/* pool_strerror(), but POOL_ETIMEDOUT speaks of a server, not a checkout. */
const char *ck_why(int rc);

/* --failover's settings (deployment mode). */
typedef struct ck_failover_opts {
    int enabled;
    int yes;                /* no confirmation */
    const char *key_prefix; /* writers' keys begin with it */
    int writers, rate, lead_ms, timeout_s, quiet, verbose;
    const char *json, *plot;
} ck_failover_opts;

/* One graceful failover of the deployment under writers (after the
 * read-only report said it could be inspected): nodes[0] is the master the
 * sentinels agree on, nodes[1..] its replicas that answered. The exit
 * status: 0 every invariant held, 1 one failed, 2 not run (refused,
 * not confirmed, keys in the way, setup), 3 the watchdog. */
int ck_failover_main(const ck_target *t, const spool_addr *sentinels, int ns,
                     const spool_addr *nodes, int nn, const ck_failover_opts *fo);

#endif
