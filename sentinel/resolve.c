/* Asking the sentinels where the master is, and asking a node what it is.
 * Follows Redis' client guidelines: sentinels in order, a short timeout
 * each, the one that answered moves to the front; a sentinel's answer is a
 * hint, ROLE on the node is the truth. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "pool/net.h"
#include "sentinel/parse.h"
#include "sentinel/watcher_internal.h"

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

int sp_sentinel_add(spool_watcher *w, const char *host, int port)
{
    for (int i = 0; i < w->nsentinels; i++)
        if (w->sentinels[i].addr.port == port && strcmp(w->sentinels[i].addr.host, host) == 0)
            return i;
    if (w->nsentinels >= SP_MAX_SENTINELS || port < 1 || port > 65535 ||
        strlen(host) >= SPOOL_HOST_MAX)
        return -1;
    sp_sentinel *s = &w->sentinels[w->nsentinels];
    memset(s, 0, sizeof(*s));
    strcpy(s->addr.host, host);
    s->addr.port = port;
    s->backoff_ms = 100;
    char buf[SPOOL_HOST_MAX + 8];
    spool_emit(w->pool, POOL_EVENT_SENTINEL_ADDED, NULL, 0, host, port, "sentinel %s added",
               spool_addr_format(host, port, buf, sizeof(buf)));
    return w->nsentinels++;
}

/* A plaintext round trip failed the way a TLS-only server makes it fail:
 * say what to change. */
static void note_tls_hint(spool_watcher *w, const redisContext *c, int rc, const spool_addr *a,
                          int is_sentinel)
{
    const char *hint = spool_tls_hint(c, rc);
    if (hint != NULL)
        spool_log(w->pool, POOL_LOG_WARN, "%s %s:%d %s (%s = 1?)",
                  is_sentinel ? "sentinel" : "node", a->host, a->port, hint,
                  is_sentinel ? "sentinel_tls" : "tls");
}

int sp_sentinel_connect(spool_watcher *w, const spool_addr *a, int64_t deadline_ns,
                        redisContext **out)
{
    redisContext *c = NULL;
    *out = NULL;
    int rc = spool_connect(a->host, a->port, deadline_ns, w->timeout_ms,
                           spool_pool_tls(w->pool, 1), &c);
    if (rc != 0)
        return rc;
    if (w->sentinel_password != NULL) {
        spool_cmd auth = w->sentinel_username != NULL
                             ? (spool_cmd){3, {"AUTH", w->sentinel_username, w->sentinel_password}}
                             : (spool_cmd){2, {"AUTH", w->sentinel_password}};
        redisReply *r = NULL;
        rc = spool_roundtrip(c, deadline_ns, w->stop_pipe[0], 1, &auth, &r, 0);
        note_tls_hint(w, c, rc, a, 1);
        if (rc == 0 && r->type == REDIS_REPLY_ERROR)
            rc = POOL_EAUTH;
        if (r != NULL)
            freeReplyObject(r);
        if (rc != 0) {
            redisFree(c);
            return rc;
        }
    }
    *out = c;
    return 0;
}

/* Learn the sentinels that this one knows (reply to SENTINEL sentinels). */
static void learn_sentinels(spool_watcher *w, const redisReply *r)
{
    sp_instance *list = NULL;
    size_t n = 0;
    if (sp_parse_instances_reply(r, &list, &n) != 0)
        return;
    for (size_t i = 0; i < n; i++)
        if (!(list[i].flags & (SP_FLAG_S_DOWN | SP_FLAG_O_DOWN | SP_FLAG_DISCONNECTED)))
            sp_sentinel_add(w, list[i].addr.host, list[i].addr.port);
    free(list);
}

/* Keep the replicas the sentinel sees as up with a working master link. */
static void learn_replicas(spool_watcher *w, const redisReply *r)
{
    sp_instance *list = NULL;
    size_t n = 0;
    if (sp_parse_instances_reply(r, &list, &n) != 0)
        return;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (!(list[i].flags & (SP_FLAG_S_DOWN | SP_FLAG_O_DOWN | SP_FLAG_DISCONNECTED)) &&
            list[i].master_link_ok != 0)
            list[kept++] = list[i];
    sp_instances_free(w->replicas);
    w->replicas = list;
    w->nreplicas = kept;
    w->have_replicas = 1;
}

static void move_to_front(spool_watcher *w, int i)
{
    if (i <= 0)
        return;
    sp_sentinel s = w->sentinels[i];
    memmove(&w->sentinels[1], &w->sentinels[0], sizeof(sp_sentinel) * (size_t)i);
    w->sentinels[0] = s;
}

static void mark_lost(spool_watcher *w, sp_sentinel *s, const char *why)
{
    if (!s->alive)
        return;
    s->alive = 0;
    char buf[SPOOL_HOST_MAX + 8];
    spool_emit(w->pool, POOL_EVENT_SENTINEL_LOST, s->addr.host, s->addr.port, NULL, 0,
               "sentinel %s lost: %s", spool_addr_format(s->addr.host, s->addr.port, buf, sizeof(buf)),
               why);
}

/* One sentinel: 0 with *out, or why not. */
static int ask_one(spool_watcher *w, sp_sentinel *s, spool_addr *out)
{
    int64_t deadline = spool_deadline_ms(w->timeout_ms);
    redisContext *c = NULL;
    int rc = sp_sentinel_connect(w, &s->addr, deadline, &c);
    if (rc != 0)
        return rc;
    spool_cmd cmds[3] = {
        {3, {"SENTINEL", "get-master-addr-by-name", w->master_name}},
        {3, {"SENTINEL", "sentinels", w->master_name}},
        {3, {"SENTINEL", "replicas", w->master_name}},
    };
    size_t ncmd = w->want_replicas ? 3 : 2;
    redisReply *r[3] = {NULL, NULL, NULL};
    rc = spool_roundtrip(c, deadline, w->stop_pipe[0], ncmd, cmds, r, 0);
    note_tls_hint(w, c, rc, &s->addr, 1);
    if (rc == 0) {
        rc = sp_parse_master_addr_reply(r[0], out);
        if (rc == 0)
            learn_sentinels(w, r[1]);
        if (rc == 0 && ncmd == 3)
            learn_replicas(w, r[2]);
        for (size_t i = 0; i < ncmd; i++)
            freeReplyObject(r[i]);
    }
    redisFree(c);
    return rc;
}

int sp_resolve(spool_watcher *w, spool_addr *out)
{
    int unknown = 0, tls_refused = 0, tls_rc = 0;
    for (int i = 0; i < w->nsentinels; i++) {
        sp_sentinel *s = &w->sentinels[i];
        int rc = ask_one(w, s, out);
        if (rc == POOL_ESHUTDOWN)
            return rc;
        if (rc == 0) {
            s->alive = 1;
            move_to_front(w, i);
            return 0;
        }
        if (rc == POOL_EUNKNOWNMASTER) {
            unknown++;
            continue; /* it answered: alive, just does not know the name */
        }
        if (rc == POOL_ECERT || rc == POOL_ETLS) {
            tls_refused++;
            tls_rc = rc;
        }
        mark_lost(w, s, pool_strerror(rc));
    }
    if (unknown > 0)
        return POOL_EUNKNOWNMASTER;
    /* Every sentinel failed TLS: that, not "none reachable", is the news. */
    return tls_refused == w->nsentinels && tls_refused > 0 ? tls_rc : POOL_ENOSENTINEL;
}

int sp_node_role(spool_watcher *w, const spool_addr *node, int64_t deadline_ns, spool_role *out)
{
    redisContext *c = NULL;
    int64_t d = min64(deadline_ns, spool_deadline_ms(w->timeout_ms));
    int rc = spool_connect(node->host, node->port, d, w->timeout_ms, spool_pool_tls(w->pool, 0),
                           &c);
    if (rc != 0)
        return rc;
    spool_cmd cmds[2];
    int n = 0;
    if (w->password != NULL)
        cmds[n++] = w->username != NULL ? (spool_cmd){3, {"AUTH", w->username, w->password}}
                                        : (spool_cmd){2, {"AUTH", w->password}};
    cmds[n++] = (spool_cmd){1, {"ROLE"}};
    redisReply *r[2] = {NULL, NULL};
    rc = spool_roundtrip(c, d, w->stop_pipe[0], (size_t)n, cmds, r, 0);
    note_tls_hint(w, c, rc, node, 0);
    if (rc == 0) {
        const redisReply *role = r[n - 1];
        if (n == 2 && r[0]->type == REDIS_REPLY_ERROR)
            rc = POOL_EAUTH;
        else if (role->type == REDIS_REPLY_ERROR && spool_starts_with(role->str, role->len, "NOPERM")) {
            /* An ACL user without ROLE: INFO replication says the same. */
            redisReply *info = NULL;
            const char *argv[] = {"INFO", "replication"};
            rc = spool_command(c, d, w->stop_pipe[0], &info, 2, argv);
            if (rc == 0) {
                rc = info->type == REDIS_REPLY_STRING
                         ? spool_role_parse_info(info->str, info->len, out)
                         : POOL_EAUTH;
                freeReplyObject(info);
            }
        } else if (role->type == REDIS_REPLY_ERROR)
            rc = spool_starts_with(role->str, role->len, "NOAUTH") ? POOL_EAUTH : POOL_EPROTO;
        else
            rc = spool_role_parse(role, out);
        for (int i = 0; i < n; i++)
            freeReplyObject(r[i]);
    }
    redisFree(c);
    return rc;
}
