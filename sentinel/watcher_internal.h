/* The Sentinel watcher's insides. Not installed. */
#ifndef SP_WATCHER_INTERNAL_H
#define SP_WATCHER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "pool/addr.h"
#include "pool/pool_watch.h"
#include "pool/role.h"
#include "sentinel/parse.h"

#define SP_MAX_SENTINELS 64

typedef struct sp_sentinel {
    spool_addr addr;
    redisContext *sub;  /* pub/sub connection, NULL while down */
    int64_t retry_at;   /* next subscribe attempt (monotonic ns) */
    int backoff_ms;     /* grows while it stays down */
    int alive;          /* last contact worked: report each loss once */
} sp_sentinel;

struct spool_watcher {
    pool_t *pool;
    char master_name[SP_NAME_MAX];
    char *sentinel_username, *sentinel_password; /* for the sentinels */
    char *username, *password;                   /* for ROLE on data nodes */
    int timeout_ms, poll_ms;

    /* Owned by the watcher thread once it runs. */
    sp_sentinel sentinels[SP_MAX_SENTINELS];
    int nsentinels;
    spool_addr candidate; /* a promoted node named by an event, being verified */
    int have_candidate;
    int64_t candidate_until;
    /* The node we last moved away from, and until when going back to it
     * needs proof that the new one stopped being master: a sentinel that has
     * not heard of the promotion yet still names the old master, which Redis
     * 7.0 leaves writable for seconds after a graceful failover. */
    spool_addr left;
    int64_t left_until;
    /* The node this watcher last handed to spool_writer_set(). */
    spool_addr adopted;
    int have_adopted;
    spool_role adopted_role; /* ROLE of the master last confirmed: replica offsets */
    int have_adopted_role;

    /* Replica reads: what the last sentinel answer listed as fit. */
    int want_replicas; /* max_readers > 0 */
    sp_instance *replicas;
    size_t nreplicas;
    int have_replicas;
    /* The master a pending candidate is replacing: while the candidate is
     * pending, a sentinel answer naming it is stale, not a reason to unfence. */
    spool_addr failing;
    int have_failing;
    /* Noise control: the last resolution error logged and the last node
     * reported as VALIDATION_FAILED, each reported once until it changes. */
    int last_resolve_rc;
    spool_addr last_invalid;
    int retry_ms; /* re-resolve delay while resolution fails (grows) */

    int stop_pipe[2]; /* readable once pool_destroy() starts: aborts any wait */
    int poke_pipe[2]; /* readable when a worker asks for re-resolution */
    pthread_t thread;
    int started;
};

/* resolve.c: ask the sentinels in order where the master is; move the one
 * that answered to the front and learn the sentinels it knows. 0 with *out,
 * POOL_ENOSENTINEL, POOL_EUNKNOWNMASTER or POOL_ESHUTDOWN. */
int sp_resolve(spool_watcher *w, spool_addr *out);
/* Ask a data node its role, with the data-node credentials, before deadline. */
int sp_node_role(spool_watcher *w, const spool_addr *node, int64_t deadline_ns, spool_role *out);
/* Open and log in to a sentinel. */
int sp_sentinel_connect(spool_watcher *w, const spool_addr *a, int64_t deadline_ns,
                        redisContext **out);
/* Add a sentinel if new; returns its index or -1. */
int sp_sentinel_add(spool_watcher *w, const char *host, int port);

#endif
