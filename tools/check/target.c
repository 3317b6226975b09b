/* target.c: what a run acts on, by node number (harness.h, NODES): the
 * fixture's topology in the self-contained mode, or an existing deployment
 * reached with the user's credentials and TLS options (deploy.h). The
 * scenarios, the settle wait, verification and the sentinel watch reach
 * servers only through these calls, so both modes share them. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "deploy.h"
#include "harness.h"
#include "net/net.h"
#include "net/probe.h"
#include "proto/role.h"
#include "proto/sentinel_parse.h"

void h_target_from_topology(h_run *r)
{
    const fx_topology *t = &r->topo;
    r->n_nodes = t->n_data < H_MAX_NODES ? t->n_data : H_MAX_NODES;
    for (int i = 0; i < r->n_nodes; i++) {
        const fx_node *n = &t->data[i];
        /* The pool connects to what Sentinel announces. */
        const char *host = n->name[0] ? n->name : n->host[0] ? n->host : "127.0.0.1";
        snprintf(r->node[i].host, sizeof(r->node[i].host), "%s", host);
        r->node[i].port = n->port;
    }
    r->n_sent = t->n_sentinels < H_MAX_SENTINELS ? t->n_sentinels : H_MAX_SENTINELS;
    for (int i = 0; i < r->n_sent; i++) {
        const fx_node *n = &t->sentinel[i];
        snprintf(r->sent[i].host, sizeof(r->sent[i].host), "%s", n->host[0] ? n->host : "127.0.0.1");
        r->sent[i].port = n->port;
    }
    snprintf(r->master_name, sizeof(r->master_name), "%s", t->master_name);
}

int h_node_of(const h_run *r, const char *host, int port)
{
    for (int i = 0; host != NULL && i < r->n_nodes; i++)
        if (r->node[i].port == port && strcasecmp(r->node[i].host, host) == 0)
            return i;
    return -1;
}

static const char *addr_name(const h_addr *a, char *buf, size_t len)
{
    if (strchr(a->host, ':') != NULL)
        snprintf(buf, len, "[%s]:%d", a->host, a->port); /* IPv6 */
    else
        snprintf(buf, len, "%s:%d", a->host, a->port);
    return buf;
}

const char *h_node_name(const h_run *r, int i, char *buf, size_t len)
{
    if (i < 0 || i >= r->n_nodes) {
        snprintf(buf, len, i < 0 ? "?" : "another node");
        return buf;
    }
    return addr_name(&r->node[i], buf, len);
}

const char *h_sentinel_name(const h_run *r, int i, char *buf, size_t len)
{
    if (i < 0 || i >= r->n_sent) {
        snprintf(buf, len, "?");
        return buf;
    }
    return addr_name(&r->sent[i], buf, len);
}

static redisContext *deploy_connect(h_run *r, const h_addr *a, int sentinel, int quiet)
{
    redisContext *c = NULL;
    char hint[160] = "";
    int rc = ck_open(r->deploy, a->host, a->port, sentinel, &c, hint, sizeof(hint));
    if (rc != 0 && !quiet) {
        char buf[300];
        h_say(r, "%s %s: %s%s%s", sentinel ? "sentinel" : "node", addr_name(a, buf, sizeof(buf)),
              ck_why(rc), hint[0] ? ": " : "", hint);
    }
    return rc == 0 ? c : NULL;
}

redisContext *h_connect_node(h_run *r, int i, int timeout_ms, int quiet)
{
    if (i < 0 || i >= r->n_nodes)
        return NULL;
    if (r->deploy == NULL)
        return quiet ? fx_connect_quiet(&r->topo.data[i], timeout_ms) : fx_connect(&r->topo.data[i]);
    return deploy_connect(r, &r->node[i], 0, quiet);
}

/* A deployment's poll connection in *slot, opened when there is none. */
static redisContext *kept(h_run *r, redisContext **slot, const h_addr *a, int sentinel)
{
    if (*slot == NULL)
        *slot = deploy_connect(r, a, sentinel, 1);
    return *slot;
}

/* After any failure the connection may be out of step: the next poll opens
 * a new one. */
static void drop(redisContext **slot)
{
    redisFree(*slot);
    *slot = NULL;
}

void h_target_close(h_run *r)
{
    for (int i = 0; i < H_MAX_NODES; i++)
        drop(&r->poll_node[i]);
    for (int i = 0; i < H_MAX_SENTINELS; i++)
        drop(&r->poll_sent[i]);
}

/* What node i says it is; 0, or -1 when it cannot be asked. A deployment's
 * node is asked as the pool asks (ROLE, or INFO replication for a user an
 * ACL denies ROLE) on its kept poll connection, which the library opened.
 * The fixture's nodes are local, its user may run ROLE, and its
 * connections are hiredis' own (over TLS too), which the library's round
 * trip does not drive: ROLE through hiredis, a new connection each time. */
static int probe_node(h_run *r, int i, int timeout_ms, spool_role *out)
{
    if (i < 0 || i >= r->n_nodes)
        return -1;
    if (r->deploy == NULL) {
        redisContext *c = h_connect_node(r, i, timeout_ms, 1);
        if (c == NULL)
            return -1;
        redisReply *rep = redisCommand(c, "ROLE");
        int rc = rep != NULL ? spool_role_parse(rep, out) : -1;
        if (rep != NULL)
            freeReplyObject(rep);
        redisFree(c);
        return rc == 0 ? 0 : -1;
    }
    redisContext *c = kept(r, &r->poll_node[i], &r->node[i], 0);
    if (c == NULL)
        return -1;
    int denied = 0;
    int rc = spool_probe_on(c, spool_deadline_ms(timeout_ms), -1, 0, out, &denied);
    if (rc != 0)
        drop(&r->poll_node[i]);
    return rc == 0 ? 0 : -1;
}

char h_role_of(h_run *r, int i)
{
    spool_role parsed;
    if (probe_node(r, i, 500, &parsed) != 0)
        return 0;
    return parsed.kind == SPOOL_ROLE_MASTER ? 'm' : parsed.kind == SPOOL_ROLE_REPLICA ? 'r' : 0;
}

/* Deployment: what every sentinel names; the node number when a majority
 * answered and all who answered agree. */
static int deploy_master_index(h_run *r)
{
    int answered = 0, agreed = -2;
    for (int i = 0; i < r->n_sent; i++) {
        redisContext *c = kept(r, &r->poll_sent[i], &r->sent[i], 1);
        if (c == NULL)
            continue;
        redisReply *rep = redisCommand(c, "SENTINEL get-master-addr-by-name %s", r->master_name);
        spool_addr a;
        if (rep != NULL && sp_parse_master_addr_reply(rep, &a) == 0) {
            int idx = h_node_of(r, a.host, a.port);
            answered++;
            if (agreed == -2)
                agreed = idx;
            else if (agreed != idx)
                agreed = -1;
        }
        if (rep == NULL || rep->type == REDIS_REPLY_ERROR)
            drop(&r->poll_sent[i]);
        if (rep != NULL)
            freeReplyObject(rep);
    }
    return answered > r->n_sent / 2 && agreed >= 0 ? agreed : -1;
}

int h_master_index(h_run *r)
{
    return r->deploy == NULL ? fx_topology_master_index(&r->topo) : deploy_master_index(r);
}

int h_wait_master_change(h_run *r, int old, int timeout_ms)
{
    if (r->deploy == NULL)
        return fx_wait_master_change(&r->topo, old, timeout_ms);
    int64_t deadline = h_now_ns() + (int64_t)timeout_ms * 1000000;
    while (h_now_ns() < deadline) {
        int mi = deploy_master_index(r);
        if (mi >= 0 && mi != old)
            return mi;
        h_sleep_ms(100);
    }
    return -1;
}

/* Deployment: the master's ROLE lists every other known node, each at or
 * past the offset the master had when the wait began (writers go on). */
static int deploy_synced(h_run *r, int mi, long long *target)
{
    spool_role role;
    if (probe_node(r, mi, 1000, &role) != 0 || role.kind != SPOOL_ROLE_MASTER)
        return 0;
    if (*target < 0)
        *target = role.offset;
    for (int i = 0; i < r->n_nodes; i++) {
        if (i == mi)
            continue;
        int caught_up = 0;
        for (int k = 0; k < role.nlisted && !caught_up; k++)
            caught_up = role.listed[k].addr.port == r->node[i].port &&
                        strcasecmp(role.listed[k].addr.host, r->node[i].host) == 0 &&
                        role.listed[k].offset >= *target;
        if (!caught_up)
            return 0;
    }
    return 1;
}

int h_wait_synced(h_run *r, int timeout_ms)
{
    if (r->deploy == NULL)
        return fx_wait_replicas_synced(&r->topo, timeout_ms);
    int64_t deadline = h_now_ns() + (int64_t)timeout_ms * 1000000;
    long long target = -1;
    int last_master = -1;
    while (h_now_ns() < deadline) {
        int mi = deploy_master_index(r);
        if (mi != last_master)
            target = -1; /* another master: its own offsets */
        last_master = mi;
        if (mi >= 0 && deploy_synced(r, mi, &target))
            return 0;
        h_sleep_ms(100);
    }
    return -1;
}

int h_sentinel_failover(h_run *r, int si, char *why, size_t len)
{
    snprintf(why, len, "no answer");
    if (r->deploy == NULL) {
        if (fx_sentinel_failover(&r->topo, si) == 0)
            return 0;
        snprintf(why, len, "refused (see above)");
        return -1;
    }
    redisContext *c = deploy_connect(r, &r->sent[si], 1, 0);
    if (c == NULL)
        return -1;
    redisReply *rep = redisCommand(c, "SENTINEL FAILOVER %s", r->master_name);
    int rc = -1;
    if (rep != NULL && rep->type == REDIS_REPLY_STATUS)
        rc = 0;
    else if (rep != NULL && rep->type == REDIS_REPLY_ERROR)
        snprintf(why, len, "%s", rep->str);
    else if (rep == NULL)
        snprintf(why, len, "%s", c->errstr);
    if (rep != NULL)
        freeReplyObject(rep);
    redisFree(c);
    return rc;
}

redisContext *h_connect_sentinel_nonblock(h_run *r, const fx_node *snapshot, int si, int timeout_ms)
{
    if (r->deploy == NULL)
        return fx_connect_nonblock(snapshot, timeout_ms);
    redisContext *c = deploy_connect(r, &r->sent[si], 1, 1);
    return c != NULL && fx_set_nonblocking(c) == 0 ? c : NULL;
}
