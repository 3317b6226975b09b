/* inspect.c: the deployment mode, read-only (see inspect.h). Asks every
 * listed sentinel what it monitors under the name, then every data node
 * what it is, through the library's own connect, TLS and parsers (the same
 * code the pool runs), and reports what disagrees. Sends nothing that
 * changes state. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy.h"
#include "harness.h"
#include "inspect.h"
#include "proto/addr.h"
#include "net/net.h"
#include "net/probe.h"
#include "proto/role.h"
#include "net/tls.h"
#include "proto/sentinel_parse.h"
#include "sentinel_pool.h"

#define CK_MAX_WARNINGS 64
#define CK_LINE_MAX 1024

typedef struct ck_sentinel {
    spool_addr addr;
    int rc; /* 0: answered */
    spool_addr master;
    int has_master;
    char flags[128];
    long long quorum, down_after_ms, failover_timeout_ms, others;
    int ckquorum_ok;
    char ckquorum[200];
    sp_instance *replicas;
    size_t nreplicas;
    int replicas_ok;                     /* SENTINEL replicas parsed (empty is a list) */
    int peers_named, peers_numeric;      /* SENTINEL sentinels: by name, by address */
    spool_addr peer_named, peer_numeric; /* the first of each */
    char tls_hint[160];                  /* what a failure suggests about TLS, "" none */
} ck_sentinel;

typedef struct ck_node {
    spool_addr addr;
    int rc;
    spool_role role;
    char read_only[16];    /* replica-read-only, "?" when CONFIG is refused */
    char min_replicas[16]; /* min-replicas-to-write */
    char tls_hint[160];    /* what a failure suggests about TLS, "" none */
} ck_node;

typedef struct ck_run {
    pool_options_t o;
    int timeout_ms;
    long long lag_warn;
    spool_tls *tls;
    ck_failover_opts fo;
    ck_sentinel s[CK_MAX_SENTINELS];
    int ns;
    ck_node n[CK_MAX_NODES];
    int nn;
    spool_addr master; /* the majority's answer */
    int master_votes;
    /* A line names up to three nodes of up to 255-byte hostnames. */
    char warnings[CK_MAX_WARNINGS][CK_LINE_MAX];
    int nw;
    char notes[8][CK_LINE_MAX]; /* worth knowing, not a misconfiguration: no effect on the exit */
    int nnotes;
} ck_run;

static void warn(ck_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(ck_run *r, const char *fmt, ...)
{
    if (r->nw >= CK_MAX_WARNINGS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->warnings[r->nw++], sizeof(r->warnings[0]), fmt, ap);
    va_end(ap);
}

static void note(ck_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(ck_run *r, const char *fmt, ...)
{
    if (r->nnotes >= (int)(sizeof(r->notes) / sizeof(r->notes[0])))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->notes[r->nnotes++], sizeof(r->notes[0]), fmt, ap);
    va_end(ap);
}

int ck_is_deployment_mode(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--sentinels") == 0 || strncmp(argv[i], "--sentinels=", 12) == 0)
            return 1;
    return 0;
}

/* ---- Talking to a server -------------------------------------------------------- */

/* ck_why(rc), followed by what it suggests about TLS when it does. */
static const char *failure(int rc, const char *hint, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s", ck_why(rc), hint[0] != '\0' ? ": " : "", hint);
    return buf;
}

static ck_target target_of(const ck_run *r)
{
    return (ck_target){.o = r->o, .tls = r->tls, .timeout_ms = r->timeout_ms};
}

/* what a failed exchange suggests about TLS (deploy.h) */
static void tls_hint(const ck_run *r, int sentinel, const redisContext *c, int rc, char *out,
                     size_t len)
{
    ck_target t = target_of(r);
    ck_tls_hint(&t, sentinel, c, rc, out, len);
}

static int open_and_login(ck_run *r, const spool_addr *a, int sentinel, redisContext **out,
                          char *hint, size_t hintlen)
{
    ck_target t = target_of(r);
    return ck_open(&t, a->host, a->port, sentinel, out, hint, hintlen);
}

/* The value after key in a flat [k1, v1, k2, v2, ...] reply, or NULL. */
static const redisReply *kv(const redisReply *r, const char *key)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i];
        if (spool_reply_is_str(k) && k->len == strlen(key) && memcmp(k->str, key, k->len) == 0)
            return r->element[i + 1];
    }
    return NULL;
}

static long long kv_ll(const redisReply *r, const char *key)
{
    long long v = -1;
    const redisReply *e = kv(r, key);
    if (e == NULL || spool_reply_ll(e, &v) != 0)
        return -1;
    return v;
}

/* ---- Sentinels -------------------------------------------------------------------- */

/* How the other sentinels are announced, by name or by address: kept as
 * counts and one example of each, for judge_names(). */
static void count_peers(ck_sentinel *s, const redisReply *rep)
{
    sp_instance *peers = NULL;
    size_t n = 0;
    if (sp_parse_instances_reply(rep, &peers, &n) != 0)
        return;
    for (size_t k = 0; k < n; k++) {
        if (!spool_host_is_numeric(peers[k].addr.host)) {
            if (s->peers_named++ == 0)
                s->peer_named = peers[k].addr;
        } else if (s->peers_numeric++ == 0) {
            s->peer_numeric = peers[k].addr;
        }
    }
    sp_instances_free(peers);
}

static void ask_sentinel(ck_run *r, ck_sentinel *s)
{
    redisContext *c = NULL;
    s->rc = open_and_login(r, &s->addr, 1, &c, s->tls_hint, sizeof(s->tls_hint));
    if (s->rc != 0)
        return;
    const char *name = r->o.master_name;
    spool_cmd cmds[5] = {
        {3, {"SENTINEL", "get-master-addr-by-name", name}},
        {3, {"SENTINEL", "master", name}},
        {3, {"SENTINEL", "replicas", name}},
        {3, {"SENTINEL", "ckquorum", name}},
        {3, {"SENTINEL", "sentinels", name}},
    };
    redisReply *rep[5] = {NULL};
    s->rc = spool_roundtrip(c, spool_deadline_ms(r->timeout_ms), -1, 5, cmds, rep, 0);
    tls_hint(r, 1, c, s->rc, s->tls_hint, sizeof(s->tls_hint));
    if (s->rc == 0) {
        s->rc = sp_parse_master_addr_reply(rep[0], &s->master);
        s->has_master = s->rc == 0;
        const redisReply *f = kv(rep[1], "flags");
        snprintf(s->flags, sizeof(s->flags), "%s", f && spool_reply_is_str(f) ? f->str : "?");
        s->quorum = kv_ll(rep[1], "quorum");
        s->down_after_ms = kv_ll(rep[1], "down-after-milliseconds");
        s->failover_timeout_ms = kv_ll(rep[1], "failover-timeout");
        s->others = kv_ll(rep[1], "num-other-sentinels");
        s->replicas_ok =
            s->rc == 0 && sp_parse_instances_reply(rep[2], &s->replicas, &s->nreplicas) == 0;
        count_peers(s, rep[4]);
        s->ckquorum_ok = rep[3]->type == REDIS_REPLY_STATUS;
        snprintf(s->ckquorum, sizeof(s->ckquorum), "%.*s",
                 spool_reply_is_str(rep[3]) || rep[3]->type == REDIS_REPLY_ERROR
                     ? (int)rep[3]->len
                     : 1,
                 spool_reply_is_str(rep[3]) || rep[3]->type == REDIS_REPLY_ERROR ? rep[3]->str
                                                                                   : "?");
        for (int i = 0; i < 5; i++)
            freeReplyObject(rep[i]);
    }
    redisFree(c);
}

/* The answer most sentinels gave; ties go to the first listed. */
static void vote(ck_run *r)
{
    for (int i = 0; i < r->ns; i++) {
        if (!r->s[i].has_master)
            continue;
        int votes = 0;
        for (int j = 0; j < r->ns; j++)
            votes += r->s[j].has_master && spool_addr_equal(&r->s[j].master, &r->s[i].master);
        if (votes > r->master_votes) {
            r->master_votes = votes;
            r->master = r->s[i].master;
        }
    }
}

static int listed_in(const ck_sentinel *s, const spool_addr *a)
{
    for (size_t k = 0; k < s->nreplicas; k++)
        if (spool_addr_equal(&s->replicas[k].addr, a))
            return 1;
    return 0;
}

static void judge_timings(ck_run *r);
static void judge_replica_sets(ck_run *r);
static void judge_lag(ck_run *r);
static void judge_names(ck_run *r);

static void judge_sentinels(ck_run *r)
{
    char buf[SPOOL_HOST_MAX + 8];
    for (int i = 0; i < r->ns; i++) {
        ck_sentinel *s = &r->s[i];
        const char *who = spool_addr_format(s->addr.host, s->addr.port, buf, sizeof(buf));
        if (s->rc != 0 && s->rc != POOL_EUNKNOWNMASTER) {
            char f[256];
            warn(r, "sentinel %s: %s", who, failure(s->rc, s->tls_hint, f, sizeof(f)));
            continue;
        }
        if (s->rc == POOL_EUNKNOWNMASTER) {
            warn(r, "sentinel %s does not monitor \"%s\"", who, r->o.master_name);
            continue;
        }
        if (!spool_addr_equal(&s->master, &r->master)) {
            /* Another deployment under the same name, or one that has not
             * heard of a failover: its replicas tell which. */
            int shared = 0;
            for (int j = 0; j < r->ns && !shared; j++)
                for (size_t k = 0; k < s->nreplicas && !shared; k++)
                    shared = j != i && listed_in(&r->s[j], &s->replicas[k].addr);
            warn(r,
                 "sentinel %s names %s:%d as master, %d other(s) name %s:%d%s", who,
                 s->master.host, s->master.port, r->master_votes, r->master.host,
                 r->master.port,
                 shared ? " (a stale view?)"
                        : ": it monitors another deployment under the same name");
        }
        if (!s->ckquorum_ok)
            warn(r, "sentinel %s: SENTINEL CKQUORUM says: %s", who, s->ckquorum);
        if (s->quorum > 0 && s->others >= 0 && s->quorum > s->others + 1)
            warn(r, "sentinel %s: quorum %lld is more than the %lld sentinels it knows", who,
                 s->quorum, s->others + 1);
    }
    judge_timings(r);
    judge_replica_sets(r);
}

/* ---- Data nodes ------------------------------------------------------------------- */

static void config_get(redisContext *c, int timeout_ms, const char *key, char *out, size_t len)
{
    const char *argv[] = {"CONFIG", "GET", key};
    redisReply *rep = NULL;
    snprintf(out, len, "?");
    if (spool_command(c, spool_deadline_ms(timeout_ms), -1, &rep, 3, argv) != 0)
        return;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 && spool_reply_is_str(rep->element[1]))
        snprintf(out, len, "%s", rep->element[1]->str);
    freeReplyObject(rep);
}

static void ask_node(ck_run *r, ck_node *n)
{
    redisContext *c = NULL;
    n->rc = open_and_login(r, &n->addr, 0, &c, n->tls_hint, sizeof(n->tls_hint));
    snprintf(n->read_only, sizeof(n->read_only), "?");
    snprintf(n->min_replicas, sizeof(n->min_replicas), "?");
    if (n->rc != 0)
        return;
    /* The pool's own probe: ROLE, or INFO replication for an ACL user
     * without ROLE, so the report reads a node as the pool would. */
    int denied = 0;
    n->rc = spool_probe_on(c, spool_deadline_ms(r->timeout_ms), -1, 0, &n->role, &denied);
    tls_hint(r, 0, c, n->rc, n->tls_hint, sizeof(n->tls_hint));
    if (n->rc == 0) {
        config_get(c, r->timeout_ms, "replica-read-only", n->read_only, sizeof(n->read_only));
        config_get(c, r->timeout_ms, "min-replicas-to-write", n->min_replicas,
                   sizeof(n->min_replicas));
    }
    redisFree(c);
}

static void add_node(ck_run *r, const spool_addr *a)
{
    for (int i = 0; i < r->nn; i++)
        if (spool_addr_equal(&r->n[i].addr, a))
            return;
    if (r->nn < CK_MAX_NODES)
        r->n[r->nn++].addr = *a;
}

static void judge_nodes(ck_run *r)
{
    const ck_node *m = &r->n[0];
    for (int i = 0; i < r->nn; i++) {
        const ck_node *n = &r->n[i];
        if (n->rc != 0) {
            char f[256];
            warn(r, "node %s:%d: %s", n->addr.host, n->addr.port,
                 failure(n->rc, n->tls_hint, f, sizeof(f)));
            continue;
        }
        if (i == 0) {
            if (n->role.kind != SPOOL_ROLE_MASTER)
                warn(r, "the sentinels' master %s:%d says its ROLE is not master",
                     n->addr.host, n->addr.port);
            if (strcmp(n->min_replicas, "0") == 0)
                note(r, "master %s:%d: min-replicas-to-write 0 (the default): in a partition "
                        "the old master keeps acknowledging writes that the failover discards",
                     n->addr.host, n->addr.port);
            continue;
        }
        if (n->role.kind != SPOOL_ROLE_REPLICA) {
            warn(r, "node %s:%d is listed as a replica but its ROLE is not replica",
                 n->addr.host, n->addr.port);
            continue;
        }
        int known = 0;
        for (int k = 0; k < m->role.nlisted && !known; k++)
            known = spool_addr_equal(&m->role.listed[k].addr, &n->addr);
        if (m->rc == 0 && m->role.kind == SPOOL_ROLE_MASTER && !known)
            warn(r, "replica %s:%d is not among the replicas its master lists", n->addr.host,
                 n->addr.port);
        spool_addr its = {.port = n->role.master_port};
        snprintf(its.host, sizeof(its.host), "%s", n->role.master_host);
        if (!spool_addr_equal(&its, &m->addr))
            warn(r, "replica %s:%d replicates from %s:%d, not from the master %s:%d",
                 n->addr.host, n->addr.port, its.host, its.port, m->addr.host, m->addr.port);
        if (strcmp(n->role.link_state, "connected") != 0)
            warn(r, "replica %s:%d: link to its master is %s", n->addr.host, n->addr.port,
                 n->role.link_state);
        if (strcmp(n->read_only, "no") == 0)
            warn(r, "replica %s:%d has replica-read-only no: writes sent to it succeed and are "
                    "lost at the next sync",
                 n->addr.host, n->addr.port);
    }
    judge_lag(r);
    judge_names(r);
}

/* Lag: the master's offset less the replica's own (fresh), or, for a
 * replica too busy or frozen to answer, less what it last acknowledged to
 * the master (replicas acknowledge once a second). */
static void judge_lag(ck_run *r)
{
    const ck_node *m = &r->n[0];
    if (m->rc != 0 || m->role.kind != SPOOL_ROLE_MASTER)
        return;
    for (int k = 0; k < m->role.nlisted; k++) {
        const spool_addr *a = &m->role.listed[k].addr;
        long long lag = m->role.offset - m->role.listed[k].offset;
        for (int i = 1; i < r->nn; i++)
            if (spool_addr_equal(&r->n[i].addr, a) && r->n[i].rc == 0 &&
                r->n[i].role.offset >= 0)
                lag = m->role.offset - r->n[i].role.offset;
        if (lag > r->lag_warn)
            warn(r, "replica %s:%d is %lld bytes behind the master", a->host, a->port, lag);
    }
}

/* A sentinel that answered and names the majority's master: its settings
 * and replicas are about this deployment. */
static int in_view(const ck_run *r, const ck_sentinel *s)
{
    return s->rc == 0 && s->has_master && spool_addr_equal(&s->master, &r->master);
}

/* One of the failover timings and the range outside which it hurts. */
typedef struct ck_timing {
    const char *key;
    long long (*get)(const ck_sentinel *s);
    long long lo_ms, hi_ms;
    const char *below, *above; /* what goes wrong outside */
} ck_timing;

static long long down_after(const ck_sentinel *s) { return s->down_after_ms; }
static long long failover_timeout(const ck_sentinel *s) { return s->failover_timeout_ms; }

static const ck_timing ck_timings[] = {
    /* Redis' own default is 30 s; 1 s is the least that rides out a fork, a
     * slow command or a lost packet, a minute the most a writer should wait
     * before Sentinel even starts. */
    {"down-after-milliseconds", down_after, 1000, 60000,
     "under 1 s a short stall (a fork, a slow command, a lost packet) starts a needless failover",
     "over 60 s writes fail that long before a dead master is even noticed"},
    /* Sentinel asks for votes and sees the promotion once a second each; a
     * sentinel retries a failover only after twice this timeout. */
    {"failover-timeout", failover_timeout, 3000, 900000,
     "under 3 s a failover can be abandoned midway (votes and the promotion are polled once "
     "a second)",
     "over 15 min a failover that stalls is retried only after twice that"},
};

/* How many sentinels in view have value v for t, and whether one before i has. */
static int same_value(const ck_run *r, const ck_timing *t, long long v, int i, int *before)
{
    int n = 0;
    *before = 0;
    for (int j = 0; j < r->ns; j++) {
        if (!in_view(r, &r->s[j]) || t->get(&r->s[j]) != v)
            continue;
        n++;
        *before |= j < i;
    }
    return n;
}

/* Each out-of-range value once, and the first disagreement: the failover's
 * timing then depends on which sentinel happens to act. */
static void judge_timing(ck_run *r, const ck_timing *t)
{
    char buf[SPOOL_HOST_MAX + 8], fbuf[SPOOL_HOST_MAX + 8];
    const ck_sentinel *first = NULL;
    int disagreed = 0;
    for (int i = 0; i < r->ns; i++) {
        const ck_sentinel *s = &r->s[i];
        long long v = t->get(s);
        if (!in_view(r, s) || v < 0)
            continue;
        const char *who = spool_addr_format(s->addr.host, s->addr.port, buf, sizeof(buf));
        if (first == NULL) {
            first = s;
        } else if (t->get(first) != v && !disagreed) {
            disagreed = 1;
            warn(r, "sentinels disagree on %s: %s has %lld, %s has %lld (SENTINEL SET it alike "
                    "on every sentinel)",
                 t->key, spool_addr_format(first->addr.host, first->addr.port, fbuf, sizeof(fbuf)),
                 t->get(first), who, v);
        }
        int before = 0;
        int n = same_value(r, t, v, i, &before);
        if ((v < t->lo_ms || v > t->hi_ms) && !before) {
            char more[32] = "";
            if (n > 1)
                snprintf(more, sizeof(more), " (and %d more)", n - 1);
            warn(r, "sentinel %s%s: %s %lld: %s", who, more, t->key, v,
                 v < t->lo_ms ? t->below : t->above);
        }
    }
}

static void judge_timings(ck_run *r)
{
    for (size_t k = 0; k < sizeof(ck_timings) / sizeof(ck_timings[0]); k++)
        judge_timing(r, &ck_timings[k]);
}

/* Sentinels that agree on the master but not on its replicas. A sentinel
 * forgets a replica only on SENTINEL RESET, so the usual cause is a replica
 * gone for good that some still list; clients asking those try a dead node. */
static void judge_replica_sets(ck_run *r)
{
    char buf[SPOOL_HOST_MAX + 8], obuf[SPOOL_HOST_MAX + 8];
    for (int i = 0; i < r->ns; i++) {
        const ck_sentinel *s = &r->s[i];
        if (!in_view(r, s) || !s->replicas_ok)
            continue;
        for (size_t k = 0; k < s->nreplicas; k++) {
            const spool_addr *a = &s->replicas[k].addr;
            int judged = 0; /* from an earlier sentinel that lists it */
            for (int j = 0; j < i && !judged; j++)
                judged = in_view(r, &r->s[j]) && r->s[j].replicas_ok && listed_in(&r->s[j], a);
            for (int j = 0; j < r->ns && !judged; j++) {
                const ck_sentinel *o = &r->s[j];
                if (j == i || !in_view(r, o) || !o->replicas_ok || listed_in(o, a))
                    continue;
                judged = 1;
                warn(r, "replica %s:%d is listed by sentinel %s, not by sentinel %s (gone for "
                        "good? SENTINEL RESET %s on each sentinel, one at a time)",
                     a->host, a->port,
                     spool_addr_format(s->addr.host, s->addr.port, buf, sizeof(buf)),
                     spool_addr_format(o->addr.host, o->addr.port, obuf, sizeof(obuf)),
                     r->o.master_name);
            }
        }
    }
}

/* Every address the deployment announces, sorted into names and numbers,
 * with the first of each kind to show. */
typedef struct ck_names {
    int named, numeric;
    char a_name[SPOOL_HOST_MAX + 24], a_number[SPOOL_HOST_MAX + 24];
} ck_names;

static void name_seen(ck_names *k, const char *what, const char *host, int port, int count)
{
    char buf[SPOOL_HOST_MAX + 8], ip[SPOOL_HOST_MAX];
    if (count <= 0 || host[0] == '\0')
        return;
    int numeric = spool_host_ip_literal(host, ip, sizeof(ip)); /* fe80::1%eth0 is an address */
    char *ex = numeric ? k->a_number : k->a_name;
    if ((numeric ? k->numeric : k->named) == 0)
        snprintf(ex, sizeof(k->a_name), "%s %s", what,
                 spool_addr_format(host, port, buf, sizeof(buf)));
    if (numeric)
        k->numeric += count;
    else
        k->named += count;
}

/* Hostnames or addresses: worth knowing (names must resolve, wherever the
 * clients run), and a mix is wrong: the library and other clients compare
 * nodes by the name the sentinels give, so one node under two names is two. */
static void judge_names(ck_run *r)
{
    ck_names k = {0};
    name_seen(&k, "master", r->master.host, r->master.port, 1);
    for (int i = 0; i < r->ns; i++) {
        const ck_sentinel *s = &r->s[i];
        name_seen(&k, "sentinel", s->peer_named.host, s->peer_named.port, s->peers_named);
        name_seen(&k, "sentinel", s->peer_numeric.host, s->peer_numeric.port, s->peers_numeric);
        for (size_t j = 0; in_view(r, s) && j < s->nreplicas; j++)
            name_seen(&k, "replica", s->replicas[j].addr.host, s->replicas[j].addr.port, 1);
    }
    for (int i = 0; i < r->nn; i++) {
        const spool_role *role = &r->n[i].role;
        if (r->n[i].rc != 0)
            continue;
        for (int j = 0; role->kind == SPOOL_ROLE_MASTER && j < role->nlisted; j++)
            name_seen(&k, "replica (in ROLE)", role->listed[j].addr.host,
                      role->listed[j].addr.port, 1);
        if (role->kind == SPOOL_ROLE_REPLICA)
            name_seen(&k, "master (in ROLE)", role->master_host, role->master_port, 1);
    }
    if (k.named > 0 && k.numeric > 0)
        warn(r, "hostnames and addresses mixed (%s by name, %s by address): clients that compare "
                "nodes by name see one node as two; announce one kind everywhere",
             k.a_name, k.a_number);
    else if (k.named > 0)
        note(r, "the deployment announces hostnames (%s): every client must resolve them",
             k.a_name);
    else
        note(r, "the deployment announces IP addresses, not hostnames");
}

/* ---- The report --------------------------------------------------------------------- */

static void print_report(const ck_run *r)
{
    char buf[SPOOL_HOST_MAX + 8], mbuf[SPOOL_HOST_MAX + 8];
    printf("master name \"%s\": %d of %d sentinels name %s\n\n", r->o.master_name,
           r->master_votes, r->ns,
           r->master_votes ? spool_addr_format(r->master.host, r->master.port, buf, sizeof(buf))
                           : "no master");
    printf("%-28s %-8s %-28s %6s %9s %10s %7s  %s\n", "SENTINEL", "STATE", "NAMES MASTER",
           "QUORUM", "DOWN-AFTER", "FO-TIMEOUT", "OTHERS", "CKQUORUM");
    for (int i = 0; i < r->ns; i++) {
        const ck_sentinel *s = &r->s[i];
        spool_addr_format(s->addr.host, s->addr.port, buf, sizeof(buf));
        if (s->rc != 0) {
            printf("%-28s %-8s %s\n", buf, "ERROR",
                   failure(s->rc, s->tls_hint, mbuf, sizeof(mbuf)));
            continue;
        }
        printf("%-28s %-8s %-28s %6lld %9lld %10lld %7lld  %s\n", buf, "ok",
               spool_addr_format(s->master.host, s->master.port, mbuf, sizeof(mbuf)), s->quorum,
               s->down_after_ms, s->failover_timeout_ms, s->others, s->ckquorum);
    }
    if (r->master_votes == 0)
        return; /* nothing to ask the nodes about */
    printf("\n%-28s %-8s %-28s %14s %12s %9s %12s\n", "NODE", "ROLE", "REPLICA OF", "OFFSET",
           "LAG (bytes)", "READ-ONLY", "MIN-REPLICAS");
    for (int i = 0; i < r->nn; i++) {
        const ck_node *n = &r->n[i];
        spool_addr_format(n->addr.host, n->addr.port, buf, sizeof(buf));
        if (n->rc != 0) {
            printf("%-28s %-8s %s\n", buf, "ERROR",
                   failure(n->rc, n->tls_hint, mbuf, sizeof(mbuf)));
            continue;
        }
        const char *role = n->role.kind == SPOOL_ROLE_MASTER    ? "master"
                           : n->role.kind == SPOOL_ROLE_REPLICA ? "replica"
                                                                : "other";
        if (n->role.kind == SPOOL_ROLE_REPLICA) {
            char lag[24] = "-"; /* the master's offset less the replica's own */
            if (r->n[0].rc == 0 && n->role.offset >= 0)
                snprintf(lag, sizeof(lag), "%lld", r->n[0].role.offset - n->role.offset);
            printf("%-28s %-8s %-28s %14lld %12s %9s %12s\n", buf, role,
                   spool_addr_format(n->role.master_host, n->role.master_port, mbuf,
                                     sizeof(mbuf)),
                   n->role.offset, lag, n->read_only, n->min_replicas);
        } else {
            printf("%-28s %-8s %-28s %14lld %12s %9s %12s\n", buf, role, "-", n->role.offset,
                   "-", n->read_only, n->min_replicas);
        }
    }
    printf("\n");
    for (int i = 0; i < r->nnotes; i++)
        printf("NOTE: %s\n", r->notes[i]);
    if (r->nw == 0)
        printf("no warnings\n");
    for (int i = 0; i < r->nw; i++)
        printf("WARNING: %s\n", r->warnings[i]);
}

/* ---- Options and the run ---------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sentinel-pool-check --sentinels HOST:PORT,... --master-name NAME [options]\n"
            "Deployment mode: what each sentinel and each data node says (read-only), and\n"
            "with --failover one graceful failover under writers through the pool.\n"
            "  --user U / --password P                  data nodes (as the pool's username/password)\n"
            "  --sentinel-user U / --sentinel-password P  sentinels\n"
            "  --tls / --sentinel-tls                   TLS to data nodes / to sentinels\n"
            "  --tls-ca-file F --tls-cert-file F --tls-key-file F --tls-server-name N\n"
            "  --timeout-ms MS                          per server, connect included [2000]\n"
            "  --lag-warn-bytes N                       warn for replicas further behind [1048576]\n"
            "--failover: after the report, writers through a pool and one SENTINEL FAILOVER,\n"
            "with the self-contained mode's figures and invariants; asks for confirmation:\n"
            "  --yes                                    do not ask\n"
            "  --key-prefix P                           the writers' keys begin with P; refused\n"
            "                                           if one exists; deleted after the run\n"
            "                                           [sentinel-pool-check:]\n"
            "  --writers W [4]  --rate R writes/s per writer [100]  --lead-ms MS [2000]\n"
            "  --json FILE  --plot FILE  --quiet  --verbose  --timeout S (watchdog) [auto]\n"
            "Exit: 0 no warning, 1 warnings, 2 could not inspect. With --failover: 0 every\n"
            "invariant held, 1 one failed, 2 not run (not confirmed, keys in the way, no\n"
            "replica, setup), 3 watchdog.\n");
}

/* Why a handshake or a certificate failed ("the log says why"). */
static void tls_log(void *arg, const char *fmt, va_list ap)
{
    (void)arg;
    fputs("sentinel-pool-check: TLS: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

static int parse(int argc, char **argv, ck_run *r)
{
    enum {
        O_SENTINELS = 1000, O_NAME, O_USER, O_PASS, O_SUSER, O_SPASS, O_TLS, O_STLS, O_CA,
        O_CERT, O_KEY, O_SNI, O_TIMEOUT, O_LAG, O_HELP, O_FAILOVER, O_YES, O_PREFIX,
        O_WRITERS, O_RATE, O_LEAD, O_JSON, O_PLOT, O_QUIET, O_VERBOSE, O_WATCHDOG
    };
    static const struct option longopts[] = {
        {"sentinels", required_argument, NULL, O_SENTINELS},
        {"master-name", required_argument, NULL, O_NAME},
        {"user", required_argument, NULL, O_USER},
        {"password", required_argument, NULL, O_PASS},
        {"sentinel-user", required_argument, NULL, O_SUSER},
        {"sentinel-password", required_argument, NULL, O_SPASS},
        {"tls", no_argument, NULL, O_TLS},
        {"sentinel-tls", no_argument, NULL, O_STLS},
        {"tls-ca-file", required_argument, NULL, O_CA},
        {"tls-cert-file", required_argument, NULL, O_CERT},
        {"tls-key-file", required_argument, NULL, O_KEY},
        {"tls-server-name", required_argument, NULL, O_SNI},
        {"timeout-ms", required_argument, NULL, O_TIMEOUT},
        {"lag-warn-bytes", required_argument, NULL, O_LAG},
        {"help", no_argument, NULL, O_HELP},
        {"failover", no_argument, NULL, O_FAILOVER},
        {"yes", no_argument, NULL, O_YES},
        {"key-prefix", required_argument, NULL, O_PREFIX},
        {"writers", required_argument, NULL, O_WRITERS},
        {"rate", required_argument, NULL, O_RATE},
        {"lead-ms", required_argument, NULL, O_LEAD},
        {"json", required_argument, NULL, O_JSON},
        {"plot", required_argument, NULL, O_PLOT},
        {"quiet", no_argument, NULL, O_QUIET},
        {"verbose", no_argument, NULL, O_VERBOSE},
        {"timeout", required_argument, NULL, O_WATCHDOG},
        {NULL, 0, NULL, 0},
    };
    ck_failover_opts *fo = &r->fo;
    fo->key_prefix = "sentinel-pool-check:";
    fo->writers = 4;
    fo->rate = 100;
    fo->lead_ms = 2000;
    pool_options_init(&r->o);
    r->timeout_ms = 2000;
    r->lag_warn = 1048576;
    int opt, bad = 0;
    char *end;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case O_SENTINELS: r->o.sentinels = optarg; break;
        case O_NAME: r->o.master_name = optarg; break;
        case O_USER: r->o.username = optarg; break;
        case O_PASS: r->o.password = optarg; break;
        case O_SUSER: r->o.sentinel_username = optarg; break;
        case O_SPASS: r->o.sentinel_password = optarg; break;
        case O_TLS: r->o.tls = 1; break;
        case O_STLS: r->o.sentinel_tls = 1; break;
        case O_CA: r->o.tls_ca_file = optarg; break;
        case O_CERT: r->o.tls_cert_file = optarg; break;
        case O_KEY: r->o.tls_key_file = optarg; break;
        case O_SNI: r->o.tls_server_name = optarg; break;
        case O_TIMEOUT: bad |= h_parse_int(optarg, 1, 600000, &r->timeout_ms); break;
        case O_LAG:
            errno = 0;
            r->lag_warn = strtoll(optarg, &end, 10);
            bad |= errno || *end || r->lag_warn < 0;
            break;
        case O_FAILOVER: fo->enabled = 1; break;
        case O_YES: fo->yes = 1; break;
        case O_PREFIX: fo->key_prefix = optarg; break;
        case O_WRITERS: bad |= h_parse_int(optarg, 1, H_MAX_WRITERS, &fo->writers); break;
        case O_RATE: bad |= h_parse_int(optarg, 1, 100000, &fo->rate); break;
        case O_LEAD: bad |= h_parse_int(optarg, 0, 600000, &fo->lead_ms); break;
        case O_WATCHDOG: bad |= h_parse_int(optarg, 1, 86400, &fo->timeout_s); break;
        case O_JSON: fo->json = optarg; break;
        case O_PLOT: fo->plot = optarg; break;
        case O_QUIET: fo->quiet = 1; break;
        case O_VERBOSE: fo->verbose = 1; break;
        case 'h':
        case O_HELP: usage(stdout); exit(0);
        default: bad = 1;
        }
    }
    if (!fo->enabled && (fo->yes || fo->json || fo->plot)) {
        fprintf(stderr, "sentinel-pool-check: --yes, --json and --plot go with --failover\n");
        bad = 1;
    }
    if (fo->timeout_s == 0)
        fo->timeout_s = 300 + fo->lead_ms / 1000;
    if (optind < argc || r->o.sentinels == NULL || r->o.master_name == NULL ||
        !sp_valid_name(r->o.master_name, strlen(r->o.master_name)))
        bad = 1;
    spool_addr *list = NULL;
    size_t n = 0;
    if (!bad && spool_addr_list_parse(r->o.sentinels, &list, &n) != 0) {
        fprintf(stderr, "sentinel-pool-check: cannot parse --sentinels \"%s\"\n", r->o.sentinels);
        bad = 1;
    }
    for (size_t i = 0; i < n && r->ns < CK_MAX_SENTINELS; i++)
        r->s[r->ns++].addr = list[i];
    free(list);
    if (bad) {
        usage(stderr);
        return -1;
    }
    if (r->o.tls || r->o.sentinel_tls) {
        char err[256] = "";
        int rc = spool_tls_new(&r->o, tls_log, NULL, &r->tls, err, sizeof(err));
        if (rc != 0) {
            fprintf(stderr, "sentinel-pool-check: TLS: %s %s\n", pool_strerror(rc), err);
            return -1;
        }
    }
    return 0;
}

/* --failover, over the master and the replicas that answered as its
 * connected replicas (the ones a settled deployment must have in sync). */
static int failover(ck_run *r)
{
    spool_addr sentinels[CK_MAX_SENTINELS], nodes[CK_MAX_NODES];
    int nn = 0;
    if (r->n[0].rc != 0 || r->n[0].role.kind != SPOOL_ROLE_MASTER) {
        fprintf(stderr, "sentinel-pool-check: --failover not run: the master does not answer "
                        "as master\n");
        return 2;
    }
    nodes[nn++] = r->n[0].addr;
    for (int i = 1; i < r->nn; i++) {
        const ck_node *n = &r->n[i];
        spool_addr its = {.port = n->role.master_port};
        snprintf(its.host, sizeof(its.host), "%s", n->role.master_host);
        if (n->rc == 0 && n->role.kind == SPOOL_ROLE_REPLICA &&
            strcmp(n->role.link_state, "connected") == 0 && spool_addr_equal(&its, &r->master))
            nodes[nn++] = n->addr;
    }
    for (int i = 0; i < r->ns; i++)
        sentinels[i] = r->s[i].addr;
    ck_target t = target_of(r);
    return ck_failover_main(&t, sentinels, r->ns, nodes, nn, &r->fo);
}

int ck_inspect_main(int argc, char **argv)
{
    ck_run *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        fprintf(stderr, "sentinel-pool-check: out of memory\n");
        return 2;
    }
    int status = 2;
    if (parse(argc, argv, r) != 0)
        goto out;
    for (int i = 0; i < r->ns; i++)
        ask_sentinel(r, &r->s[i]);
    vote(r);
    if (r->master_votes == 0) {
        int unknown = 0;
        for (int i = 0; i < r->ns; i++)
            unknown += r->s[i].rc == POOL_EUNKNOWNMASTER;
        fprintf(stderr, "sentinel-pool-check: %s\n",
                unknown ? "no sentinel knows this master name"
                        : "no sentinel answered (see the table)");
        print_report(r);
        goto out;
    }
    judge_sentinels(r);
    add_node(r, &r->master);
    for (int i = 0; i < r->ns; i++)
        if (r->s[i].rc == 0 && spool_addr_equal(&r->s[i].master, &r->master))
            for (size_t k = 0; k < r->s[i].nreplicas; k++)
                add_node(r, &r->s[i].replicas[k].addr);
    for (int i = 0; i < r->nn; i++)
        ask_node(r, &r->n[i]);
    judge_nodes(r);
    print_report(r);
    status = r->n[0].rc == POOL_EAUTH ? 2 : r->nw > 0 ? 1 : 0;
    if (r->fo.enabled && status != 2)
        status = failover(r);
    else if (r->fo.enabled)
        fprintf(stderr, "sentinel-pool-check: --failover not run: the deployment could not be "
                        "inspected\n");
out:
    for (int i = 0; i < r->ns; i++)
        sp_instances_free(r->s[i].replicas);
    spool_tls_free(r->tls);
    free(r);
    return status;
}
