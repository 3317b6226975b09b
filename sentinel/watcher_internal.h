/* The Sentinel side's insides: a set (sentinels, connections, one thread)
 * and the watches on it (one per pool: the verdict about its writer). Not
 * installed.
 *
 * Ownership: the set's thread owns the sentinels array and every watch's
 * verdict state. The set's mutex guards only the list of watches, the
 * reference count and the start-up handshake (first_rc). */
#ifndef SP_WATCHER_INTERNAL_H
#define SP_WATCHER_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>

#include "proto/addr.h"
#include "proto/limits.h"
#include "source/source.h"
#include "proto/role.h"
#include "proto/sentinel_parse.h"

#define SP_VAIN_MAX 4          /* per sentinel: nodes announced in vain, remembered */
#define SP_FENCE_ANNOUNCERS 8  /* announcements remembered while a fence is unproven */

typedef struct sp_sentinel {
    spool_addr addr;
    redisContext *sub;   /* pub/sub connection, NULL while down */
    redisContext *query; /* kept open between polls (one sentinel at a time) */
    int64_t retry_at;    /* next subscribe attempt (monotonic ns) */
    int backoff_ms;      /* grows while it stays down */
    int alive;           /* last contact worked: report each loss once */
} sp_sentinel;

/* What one sentinel last said about a watch's master, and how far we trust
 * its word about it. */
typedef struct sp_view {
    spool_addr answer; /* its get-master-addr-by-name answer in step `step` */
    uint64_t step;     /* the watch's step it answered in (0: never) */
    int foreign;       /* outvoted: it names a master of another deployment */
    int reported;      /* SENTINEL_MISCONFIGURED sent (once per sentinel) */
    /* Nodes whose promotion it announced in vain: its announcements of them
     * do not fence until then. */
    struct {
        spool_addr node;
        int64_t until;
    } vain[SP_VAIN_MAX];
} sp_view;

typedef struct sp_watch sp_watch;
typedef struct pool_sentinel_set sp_set; /* the public pool_sentinel_set_t */

/* Ask a data node its role: sp_node_role() in production, a script in the
 * verdict's unit tests. */
typedef int (*sp_role_probe_fn)(sp_watch *w, const spool_addr *node, int64_t deadline_ns,
                                spool_role *out);

struct sp_watch {
    spool_source base; /* first: the pool holds a spool_source* */
    sp_set *set;
    spool_sink sink;
    char master_name[SP_NAME_MAX];
    char *username, *password; /* for ROLE on data nodes */
    int timeout_ms;
    int want_replicas; /* max_readers > 0 */
    sp_role_probe_fn probe;
    int stop_pipe[2]; /* readable once stop() starts: aborts this watch's ROLE checks */

    /* Under the set's mutex. */
    int leaving;  /* stop() asked the thread to let go */
    int gone;     /* the thread let go (or never had it) */
    int first_rc; /* result of the latest resolution; 1 until there is one */
    int attempts; /* resolutions tried so far */
    int starting; /* pool_create() waits for first_rc */
    _Atomic int doubted; /* the pool asked to look again */
    _Atomic int stopped; /* stop() began: doubts are ignored */

    /* Owned by the set's thread once attached. */
    int welcomed; /* told of every sentinel known when it arrived */
    sp_view views[SP_MAX_SENTINELS]; /* by sentinel index (indices never move) */
    uint64_t step;        /* resolution steps begun */
    int step_rc;          /* this step's most telling failure so far */
    int census;           /* ask every sentinel in this step, majority wins */
    spool_addr candidate; /* a promoted node named by an event, being verified */
    int have_candidate;
    int candidate_from;   /* index of the sentinel that announced it */
    int64_t candidate_until;
    /* A fence an announcement put on our writer, until a promotion proves it:
     * if none has by fence_until and the candidate answers as a replica, the
     * fence is lifted and the announcements made meanwhile are held vain. */
    int fence_unproven;
    int64_t fence_until;
    struct {
        int sentinel;
        spool_addr node;
    } announcers[SP_FENCE_ANNOUNCERS];
    int nannouncers;
    spool_addr failing;   /* the master a pending candidate replaces */
    int have_failing;
    /* The node we last moved away from, and until when going back to it
     * needs proof that the new one stopped being master. */
    spool_addr left;
    int64_t left_until;
    spool_addr adopted; /* the node last handed to writer_set() */
    int have_adopted;
    spool_role adopted_role; /* its ROLE when last confirmed: replicas, offsets */
    int have_adopted_role;
    sp_instance *replicas; /* replica reads: the last sentinel answer's list */
    size_t nreplicas;
    int have_replicas;
    struct {
        spool_addr addr;
        int strikes; /* answers in a row that left it out */
    } fit[SPOOL_MAX_REPLICAS]; /* what the pool was last told */
    int nfit;
    int last_resolve_rc; /* noise control: report each error once until it changes */
    spool_addr last_invalid;
    int retry_ms;         /* re-resolve delay while resolution fails (grows) */
    int64_t next_resolve; /* when this watch wants the sentinels asked again */
};

/* The set (the public pool_sentinel_set_t). */
struct pool_sentinel_set {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* watches: first_rc set, or the thread let go */
    int refs;          /* the caller's (until released) + one per watch; under mu */
    int released;
    sp_watch **watches; /* under mu; the thread keeps a snapshot */
    size_t nwatches, capwatches;

    char *sentinel_username, *sentinel_password;
    int timeout_ms, poll_ms;
    struct spool_tls *tls; /* for the sentinels; NULL: plaintext */
    int owns_tls;
    int private_set; /* made for one pool: its thread stops with that pool's watch */
    /* Subscribe only once a watch resolved (or is lazy): a pool_create()
     * that fails on its first answer leaves no subscription behind. */
    _Atomic int subscribing;
    /* Counters for pool_sentinel_set_stats(). */
    _Atomic uint64_t n_connects, n_round_trips, n_polls, n_misconfigured;
    _Atomic int n_subscribed, n_sentinels;
    pool_log_fn log_fn;
    void *log_userdata;
    pool_log_level_t log_level;

    /* Owned by the thread (before it starts: by the creator). */
    sp_watch **snap; /* the watches this turn of the loop serves */
    size_t nsnap, capsnap;
    sp_sentinel sentinels[SP_MAX_SENTINELS];
    int nsentinels;
    int next_ask;   /* who answers the next poll: the last that answered */
    uint64_t steps; /* resolution steps run */
    int ask_sentinels; /* this step also asks SENTINEL sentinels (discovery) */
    int discover_soon; /* a step asked, but no confirmed writer vouched for the answer */
    uint64_t rng;   /* jitter */
    int64_t next_poll;

    int stop_pipe[2]; /* readable once the set stops: aborts any wait */
    int poke_pipe[2]; /* readable when a watch was attached or doubted */
    pthread_t thread;
    int started;
};

/* ---- set.c ---------------------------------------------------------------- */
void sp_set_log(sp_set *s, pool_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Add a sentinel if new (telling every watch); its index or -1. Thread only. */
int sp_sentinel_add(sp_set *s, const char *host, int port);
void sp_sentinel_lost(sp_set *s, sp_sentinel *sn, const char *why);

/* ---- resolve.c ------------------------------------------------------------ */
int sp_sentinel_connect(sp_set *s, const spool_addr *a, int64_t deadline_ns, redisContext **out);
/* One round trip to sentinel i on its query connection for the master names
 * of watches[0..n): get-master-addr-by-name for each, replicas when one of
 * them wants replicas, sentinels when s->ask_sentinels. Each watch's answer is handed to
 * sp_watch_answer(). Returns 0 when the sentinel answered at all. */
int sp_ask(sp_set *s, int i, sp_watch **watches, size_t n);
/* ROLE of a data node with the watch's credentials and its pool's TLS. */
int sp_node_role(sp_watch *w, const spool_addr *node, int64_t deadline_ns, spool_role *out);

/* ---- verdict.c ------------------------------------------------------------ */
void sp_watch_log(sp_watch *w, pool_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sp_watch_emit(sp_watch *w, pool_event_type_t type, const char *old_host, int old_port,
                   const char *new_host, int new_port, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
/* Sentinel i answered get-master-addr-by-name for this watch: rc 0 with
 * *node, or POOL_EUNKNOWNMASTER / POOL_EPROTO. */
void sp_watch_answer(sp_watch *w, int i, int rc, const spool_addr *node);
void sp_watch_replicas(sp_watch *w, sp_instance *list, size_t n); /* takes list */
/* A resolution step: begin, feed answers (sp_watch_answer) while
 * sp_watch_need_more() says another sentinel should be asked, then decide:
 * 0 when the writer in force is right afterwards, else why not. */
void sp_watch_begin(sp_watch *w);
int sp_watch_need_more(sp_watch *w);
int sp_watch_decide(sp_watch *w);
/* An event for this watch's master name, from sentinel i. Returns 1 when
 * it calls for asking the sentinels now. */
int sp_watch_event(sp_watch *w, int i, const char *ch, size_t chlen, const char *payload,
                   size_t plen);
/* Candidate bookkeeping, once per loop turn: verify it, or give up on it. */
void sp_watch_tick(sp_watch *w);
/* When this watch wants its next step, given this step's result: a
 * monotonic time, or INT64_MAX for "at the set's next safety poll". */
int64_t sp_watch_next_step(sp_watch *w, int rc, int poll_ms);

#endif
