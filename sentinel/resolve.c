/* Asking the sentinels where the masters are, and asking a node what it
 * is (net/probe.h). One query connection per sentinel, kept open: a
 * steady-state poll costs one round trip and no new connection. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "net/net.h"
#include "net/probe.h"
#include "proto/sentinel_parse.h"
#include "sentinel/watcher_internal.h"

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Commands per master name in one ask: get-master-addr-by-name, sentinels,
 * replicas. */
#define CMDS_PER_NAME 3
/* Master names asked in one round trip; more are asked in further ones. */
#define NAMES_PER_TRIP 32

/* A plaintext round trip failed the way a TLS-only server makes it fail:
 * say what to change. */
static void note_tls_hint(sp_set *s, const redisContext *c, int rc, const spool_addr *a)
{
    const char *hint = spool_tls_hint(c, rc);
    if (hint != NULL)
        sp_set_log(s, POOL_LOG_WARN, "sentinel %s:%d %s (sentinel_tls = 1?)", a->host, a->port,
                   hint);
}

int sp_sentinel_connect(sp_set *s, const spool_addr *a, int64_t deadline_ns, redisContext **out)
{
    redisContext *c = NULL;
    *out = NULL;
    int rc = spool_connect(a->host, a->port, deadline_ns, s->timeout_ms, s->tls, &c);
    if (rc != 0)
        return rc;
    atomic_fetch_add(&s->n_connects, 1);
    if (s->sentinel_password != NULL) {
        spool_cmd auth = spool_auth_cmd(s->sentinel_username, s->sentinel_password);
        redisReply *r = NULL;
        rc = spool_roundtrip(c, deadline_ns, s->stop_pipe[0], 1, &auth, &r, 0);
        note_tls_hint(s, c, rc, a);
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

/* Whether an entry of SENTINEL sentinels/replicas is one to use: the
 * sentinel answering does not see it down or disconnected. */
static int seen_up(const sp_instance *e)
{
    return !(e->flags & (SP_FLAG_S_DOWN | SP_FLAG_O_DOWN | SP_FLAG_DISCONNECTED));
}

/* Learn the sentinels that this one knows (reply to SENTINEL sentinels). */
static void learn_sentinels(sp_set *s, const redisReply *r)
{
    sp_instance *list = NULL;
    size_t n = 0;
    if (sp_parse_instances_reply(r, &list, &n) != 0)
        return;
    for (size_t i = 0; i < n; i++)
        if (seen_up(&list[i]))
            sp_sentinel_add(s, list[i].addr.host, list[i].addr.port);
    free(list);
}

/* The replicas the sentinel sees as up with a working master link. */
static void learn_replicas(sp_watch *w, const redisReply *r)
{
    sp_instance *list = NULL;
    size_t n = 0;
    if (sp_parse_instances_reply(r, &list, &n) != 0)
        return;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (seen_up(&list[i]) && list[i].master_link_ok != 0)
            list[kept++] = list[i];
    sp_watch_replicas(w, list, kept);
}

/* Learn sentinels only from one whose answer for name names the writer a
 * watch confirmed: a sentinel of another deployment would otherwise bring
 * its peers along and win the next vote. */
static int vouched(int i, const char *name, sp_watch **watches, size_t n)
{
    for (size_t q = 0; q < n; q++) {
        const sp_watch *w = watches[q];
        const sp_view *v = &w->views[i];
        if (strcmp(w->master_name, name) == 0 && w->have_adopted && !v->foreign &&
            v->step == w->step && spool_addr_equal(&v->answer, &w->adopted))
            return 1;
    }
    return 0;
}

/* What a watch hears when sentinel i could not be asked at all: certificate
 * and TLS failures are news; anything else is "not reachable". */
static int unreachable_rc(int rc)
{
    return rc == POOL_ECERT || rc == POOL_ETLS || rc == POOL_ESHUTDOWN ? rc : POOL_ENOSENTINEL;
}

/* One round trip for up to NAMES_PER_TRIP distinct names among watches. */
static int ask_names(sp_set *s, int i, sp_watch **watches, size_t n, size_t *done)
{
    sp_sentinel *sn = &s->sentinels[i];
    int64_t deadline = spool_deadline_ms(s->timeout_ms);
    spool_cmd cmds[NAMES_PER_TRIP * CMDS_PER_NAME];
    const char *names[NAMES_PER_TRIP];
    int want_replicas[NAMES_PER_TRIP];
    size_t nnames = 0, ncmd = 0, k = *done;
    for (; k < n && nnames < NAMES_PER_TRIP; k++) {
        size_t j = 0;
        while (j < nnames && strcmp(names[j], watches[k]->master_name) != 0)
            j++;
        if (j == nnames) {
            names[nnames] = watches[k]->master_name;
            want_replicas[nnames++] = 0;
        }
        want_replicas[j] |= watches[k]->want_replicas;
    }
    size_t first[NAMES_PER_TRIP];
    for (size_t j = 0; j < nnames; j++) {
        first[j] = ncmd;
        cmds[ncmd++] = (spool_cmd){3, {"SENTINEL", "get-master-addr-by-name", names[j]}};
        if (s->ask_sentinels)
            cmds[ncmd++] = (spool_cmd){3, {"SENTINEL", "sentinels", names[j]}};
        if (want_replicas[j])
            cmds[ncmd++] = (spool_cmd){3, {"SENTINEL", "replicas", names[j]}};
    }
    int rc = 0;
    if (sn->query == NULL)
        rc = sp_sentinel_connect(s, &sn->addr, deadline, &sn->query);
    redisReply *r[NAMES_PER_TRIP * CMDS_PER_NAME];
    if (rc == 0) {
        atomic_fetch_add(&s->n_round_trips, 1);
        rc = spool_roundtrip(sn->query, deadline, s->stop_pipe[0], ncmd, cmds, r, 0);
        note_tls_hint(s, sn->query, rc, &sn->addr);
        if (rc != 0) {
            redisFree(sn->query); /* out of step after any failure */
            sn->query = NULL;
        }
    }
    for (size_t q = *done; q < k; q++) {
        sp_watch *w = watches[q];
        size_t j = 0;
        while (strcmp(names[j], w->master_name) != 0)
            j++;
        if (rc != 0) {
            sp_watch_answer(w, i, unreachable_rc(rc), NULL);
            continue;
        }
        spool_addr node;
        int arc = sp_parse_master_addr_reply(r[first[j]], &node);
        /* An answer that cannot be used counts as no answer; "unknown name"
         * is news. */
        if (arc != 0 && arc != POOL_EUNKNOWNMASTER) {
            sp_set_log(s, POOL_LOG_WARN, "sentinel %s:%d: unusable answer for %s: %s",
                       sn->addr.host, sn->addr.port, names[j], pool_strerror(arc));
            arc = POOL_ENOSENTINEL;
        }
        sp_watch_answer(w, i, arc, &node);
        if (arc == 0 && want_replicas[j] && w->want_replicas && !w->views[i].foreign)
            learn_replicas(w, r[first[j] + 1 + (s->ask_sentinels ? 1 : 0)]);
    }
    if (rc == 0) {
        for (size_t j = 0; j < nnames && s->ask_sentinels; j++) {
            if (vouched(i, names[j], watches, k))
                learn_sentinels(s, r[first[j] + 1]);
            else
                s->discover_soon = 1; /* once a writer is confirmed */
        }
        for (size_t q = 0; q < ncmd; q++)
            freeReplyObject(r[q]);
    }
    *done = k;
    return rc;
}

int sp_ask(sp_set *s, int i, sp_watch **watches, size_t n)
{
    int rc = 0;
    for (size_t done = 0; done < n && rc == 0;)
        rc = ask_names(s, i, watches, n, &done);
    sp_sentinel *sn = &s->sentinels[i];
    if (rc == 0)
        sn->alive = 1;
    else if (rc != POOL_ESHUTDOWN)
        sp_sentinel_lost(s, sn, pool_strerror(rc));
    return rc;
}

int sp_node_role(sp_watch *w, const spool_addr *node, int64_t deadline_ns, spool_role *out)
{
    const char *hint = NULL;
    int rc = spool_probe_role(node->host, node->port,
                              min64(deadline_ns, spool_deadline_ms(w->timeout_ms)), w->timeout_ms,
                              w->sink.ops->node_tls(w->sink.ctx), w->username, w->password,
                              w->stop_pipe[0], out, &hint);
    if (hint != NULL)
        sp_watch_log(w, POOL_LOG_WARN, "node %s:%d %s (tls = 1?)", node->host, node->port, hint);
    return rc;
}
