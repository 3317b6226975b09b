/* fx_topology.c: 1 master + replicas + sentinels, and failover helpers. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "fx_internal.h"

#define FXT_QUERY_MS 1000 /* per-query timeout while polling */

/* Is `flag` one of the comma-separated tokens of `flags`? */
static int has_flag(const char *flags, const char *flag)
{
    size_t fl = strlen(flag);
    const char *p = flags;
    while (p && *p) {
        size_t l = strcspn(p, ",");
        if (l == fl && strncmp(p, flag, fl) == 0)
            return 1;
        p += l;
        if (*p)
            p++;
    }
    return 0;
}

static int flags_healthy(const char *flags)
{
    return flags && !has_flag(flags, "s_down") && !has_flag(flags, "o_down") &&
           !has_flag(flags, "disconnected");
}

/* ROLE's first element: 'm' master, 'r' replica, 's' sentinel, 0 unknown. */
static char node_role(const fx_node *n, int quiet)
{
    redisReply *r = fxi_cmd(n, FXT_QUERY_MS, quiet, "ROLE");
    char role = 0;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
        r->element[0]->type == REDIS_REPLY_STRING) {
        const char *s = r->element[0]->str;
        if (strcmp(s, "master") == 0)
            role = 'm';
        else if (strcmp(s, "slave") == 0 || strcmp(s, "replica") == 0)
            role = 'r';
        else if (strcmp(s, "sentinel") == 0)
            role = 's';
    }
    if (r)
        freeReplyObject(r);
    return role;
}

/* Is host:port, as a server or a sentinel reports it, node n? The port
 * and the host: n's address, or its name when it has one. */
static int node_at(const fx_node *n, const char *host, long long port)
{
    return host != NULL && n->port == port &&
           (strcmp(host, fxi_node_host(n)) == 0 || (n->name[0] && strcmp(host, n->name) == 0));
}

/* The data node at host:port, or -1. */
static int data_index_at(const fx_topology *t, const char *host, long long port)
{
    for (int i = 0; i < t->n_data; i++)
        if (node_at(&t->data[i], host, port))
            return i;
    return -1;
}

/* The data node a sentinel names as master: >= 0; -2 if it answered without
 * the address of one of ours (null / error / unknown); -1 if unreachable. */
static int sentinel_master_index(const fx_topology *t, const fx_node *s)
{
    redisReply *r = fxi_cmd(s, FXT_QUERY_MS, 1, "SENTINEL get-master-addr-by-name %s",
                            t->master_name);
    if (!r)
        return -1;
    int idx = -2;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING) {
        int i = data_index_at(t, r->element[0]->str, fxi_reply_ll(r->element[1]));
        if (i >= 0)
            idx = i;
    }
    freeReplyObject(r);
    return idx;
}

int fx_topology_master_index(fx_topology *t)
{
    int idx = -1, reachable = 0;
    for (int i = 0; i < t->n_sentinels; i++) {
        fx_node *s = &t->sentinel[i];
        if (!fxi_node_usable(s))
            continue;
        int k = sentinel_master_index(t, s);
        if (k == -1)
            continue; /* unreachable: not part of the vote */
        if (k < 0 || (reachable && k != idx))
            return -1;
        idx = k;
        reachable++;
    }
    if (!reachable)
        return -1;
    fx_node *d = &t->data[idx];
    if (!fxi_node_usable(d) || node_role(d, 1) != 'm')
        return -1;
    for (int j = 0; j < t->n_data; j++)
        t->data[j].role = j == idx ? 'm' : 'r';
    return idx;
}

static int info_repl(const fx_node *n, char *buf, size_t len, char *why, size_t wl,
                     const char *label)
{
    redisReply *r = fxi_cmd(n, FXT_QUERY_MS, 1, "INFO replication");
    if (!r || r->type != REDIS_REPLY_STRING) {
        snprintf(why, wl, "%s port %d: INFO replication failed (%s)", label, n->port,
                 r && r->str ? r->str : "no reply");
        if (r)
            freeReplyObject(r);
        return -1;
    }
    snprintf(buf, len, "%s", r->str);
    freeReplyObject(r);
    return 0;
}

/* Find the entry for `port` in a SENTINEL replicas/sentinels reply. */
static const redisReply *find_instance(const redisReply *r, int port)
{
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i < r->elements; i++) {
        const char *p = fxi_kv(r->element[i], "port");
        if (p && atoi(p) == port)
            return r->element[i];
    }
    return NULL;
}

/* Find the entry for node n (its port, and its host or name in "ip"). */
static const redisReply *find_node(const redisReply *r, const fx_node *n)
{
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i < r->elements; i++) {
        const char *p = fxi_kv(r->element[i], "port");
        if (p && node_at(n, fxi_kv(r->element[i], "ip"), atoi(p)))
            return r->element[i];
    }
    return NULL;
}

int fx_sentinel_flags(const fx_node *s, const char *kind, const char *master_name, int port,
                      char *out, size_t len)
{
    redisReply *r = fxi_cmd(s, FXT_QUERY_MS, 1, "SENTINEL %s %s", kind, master_name);
    const redisReply *e = find_instance(r, port);
    const char *flags = e ? fxi_kv(e, "flags") : NULL;
    if (flags != NULL)
        snprintf(out, len, "%s", flags);
    if (r)
        freeReplyObject(r);
    return flags != NULL ? 0 : -1;
}

/* One round of the "ready for a failover" condition around master mi. */
static int check_synced(fx_topology *t, int mi, char *why, size_t wl)
{
    fx_node *m = &t->data[mi];
    char info[8192], val[64];
    if (!fxi_node_usable(m)) {
        snprintf(why, wl, "master data[%d] port %d is not running", mi, m->port);
        return 0;
    }
    if (node_role(m, 1) != 'm') {
        snprintf(why, wl, "data[%d] port %d: ROLE is not master", mi, m->port);
        return 0;
    }
    if (info_repl(m, info, sizeof(info), why, wl, "master") != 0)
        return 0;
    if (fxi_info_field(info, "master_repl_offset", val, sizeof(val)) != 0) {
        snprintf(why, wl, "master port %d: no master_repl_offset", m->port);
        return 0;
    }
    long long moff = atoll(val);

    for (int j = 0; j < t->n_data; j++) {
        fx_node *d = &t->data[j];
        if (j == mi || !fxi_node_usable(d))
            continue;
        if (info_repl(d, info, sizeof(info), why, wl, "replica") != 0)
            return 0;
        char mhost[256];
        if (fxi_info_field(info, "master_port", val, sizeof(val)) != 0 ||
            fxi_info_field(info, "master_host", mhost, sizeof(mhost)) != 0 ||
            !node_at(m, mhost, atoi(val))) {
            snprintf(why, wl, "data[%d] port %d: not yet a replica of port %d", j, d->port,
                     m->port);
            return 0;
        }
        if (fxi_info_field(info, "master_link_status", val, sizeof(val)) != 0 ||
            strcmp(val, "up") != 0) {
            snprintf(why, wl, "data[%d] port %d: master_link_status %s", j, d->port, val);
            return 0;
        }
        if (fxi_info_field(info, "slave_repl_offset", val, sizeof(val)) != 0 ||
            atoll(val) < moff) {
            snprintf(why, wl, "data[%d] port %d: offset %s behind master %lld", j, d->port, val,
                     moff);
            return 0;
        }
    }

    for (int i = 0; i < t->n_sentinels; i++) {
        fx_node *s = &t->sentinel[i];
        if (!fxi_node_usable(s))
            continue;
        int k = sentinel_master_index(t, s);
        if (k != mi) {
            char named[32];
            if (k >= 0)
                snprintf(named, sizeof(named), "data[%d]", k);
            else
                snprintf(named, sizeof(named), "%s", k == -1 ? "nothing (no answer)" : "no node of ours");
            snprintf(why, wl, "sentinel[%d] port %d names %s as master, want data[%d] port %d", i,
                     s->port, named, mi, m->port);
            return 0;
        }
        redisReply *r =
            fxi_cmd(s, FXT_QUERY_MS, 1, "SENTINEL replicas %s", t->master_name);
        for (int j = 0; j < t->n_data; j++) {
            fx_node *d = &t->data[j];
            if (j == mi || !fxi_node_usable(d))
                continue;
            const redisReply *e = find_node(r, d);
            const char *flags = e ? fxi_kv(e, "flags") : NULL;
            const char *link = e ? fxi_kv(e, "master-link-status") : NULL;
            const char *mport = e ? fxi_kv(e, "master-port") : NULL;
            const char *mhost = e ? fxi_kv(e, "master-host") : NULL;
            if (!e || !flags_healthy(flags) || !has_flag(flags, "slave") || !link ||
                strcmp(link, "ok") != 0 || !mport || !node_at(m, mhost, atoi(mport))) {
                snprintf(why, wl, "sentinel[%d] port %d: replica port %d %s (flags %s, link %s)",
                         i, s->port, d->port, e ? "not healthy" : "unknown",
                         flags ? flags : "-", link ? link : "-");
                if (r)
                    freeReplyObject(r);
                return 0;
            }
        }
        if (r)
            freeReplyObject(r);
        r = fxi_cmd(s, FXT_QUERY_MS, 1, "SENTINEL sentinels %s", t->master_name);
        for (int k = 0; k < t->n_sentinels; k++) {
            fx_node *o = &t->sentinel[k];
            if (k == i || !fxi_node_usable(o))
                continue;
            const redisReply *e = find_node(r, o);
            const char *flags = e ? fxi_kv(e, "flags") : NULL;
            if (!e || !flags_healthy(flags)) {
                snprintf(why, wl, "sentinel[%d] port %d: peer sentinel port %d %s (flags %s)", i,
                         s->port, o->port, e ? "not healthy" : "not discovered yet",
                         flags ? flags : "-");
                if (r)
                    freeReplyObject(r);
                return 0;
            }
        }
        if (r)
            freeReplyObject(r);
    }
    return 1;
}

static int wait_synced_around(fx_topology *t, int mi, int timeout_ms, const char *what)
{
    char why[256] = "";
    int64_t deadline = fx_now_ms() + timeout_ms;
    for (;;) {
        int cur = mi >= 0 ? mi : fx_topology_master_index(t);
        if (cur < 0)
            snprintf(why, sizeof(why), "sentinels do not agree on a master whose ROLE is master");
        else if (check_synced(t, cur, why, sizeof(why)))
            return 0;
        if (fx_now_ms() >= deadline)
            break;
        fx_sleep_ms(50);
    }
    fprintf(stderr, "%s: not converged after %d ms: %s\n", what, timeout_ms, why);
    return -1;
}

int fx_wait_replicas_synced(fx_topology *t, int timeout_ms)
{
    if (wait_synced_around(t, -1, timeout_ms, "fx_wait_replicas_synced") == 0)
        return 0;
    fx_topology_dump(t);
    return -1;
}

int fx_topology_start(fx_topology *t, const fx_topology_opts *o)
{
    fx_topology_opts none;
    if (!t)
        return -1;
    if (!o) {
        memset(&none, 0, sizeof(none));
        o = &none;
    }
    memset(t, 0, sizeof(*t));
    int n_repl = o->n_replicas == 0 ? 2 : (o->n_replicas < 0 ? 0 : o->n_replicas);
    t->n_data = 1 + n_repl;
    t->n_sentinels = o->n_sentinels == 0 ? 3 : o->n_sentinels;
    if (t->n_data > FX_MAX_DATA || t->n_sentinels < 1 || t->n_sentinels > FX_MAX_SENTINELS) {
        fprintf(stderr, "fx_topology_start: at most %d replicas and 1..%d sentinels\n",
                FX_MAX_DATA - 1, FX_MAX_SENTINELS);
        return -1;
    }
    const char *name = o->master_name ? o->master_name : "mymaster";
    if (strlen(name) >= sizeof(t->master_name) || strcspn(name, " \t\r\n\"") != strlen(name)) {
        fprintf(stderr, "fx_topology_start: bad master name\n");
        return -1;
    }
    strcpy(t->master_name, name);
    const fx_host *dh = o->data_hosts, *sh = o->sentinel_hosts;
    t->hostnames = dh && dh[0].name;
    for (int i = 1; t->hostnames && i < t->n_data; i++)
        if (!dh[i].name) {
            fprintf(stderr, "fx_topology_start: data_hosts[0] has a name, data_hosts[%d] none\n",
                    i);
            return -1;
        }
    t->quorum = o->quorum > 0 ? o->quorum : (t->n_sentinels == 1 ? 1 : 2);
    t->down_after_ms = o->down_after_ms > 0 ? o->down_after_ms : 1000;
    t->failover_timeout_ms = o->failover_timeout_ms > 0 ? o->failover_timeout_ms : 10000;
    snprintf(t->data_password, sizeof(t->data_password), "%s",
             o->data_password ? o->data_password : "");
    snprintf(t->sentinel_password, sizeof(t->sentinel_password), "%s",
             o->sentinel_password ? o->sentinel_password : "");

    fx_tls own_tls;
    const fx_tls *tls = o->tls;
    if (tls && tls->dir)
        snprintf(t->tls_dir, sizeof(t->tls_dir), "%s", tls->dir);
    if (!tls && fx_tls_from_env()) {
        /* A run that asked for TLS must not pass in plaintext. */
        if (!fx_tls_available()) {
            fprintf(stderr, "fx_topology_start: SENTINEL_POOL_TEST_TLS is set, but this build "
                            "has no TLS (no hiredis_ssl): not starting a plaintext topology\n");
            return -1;
        }
        if (fx_tls_make_certs(t->tls_dir, sizeof(t->tls_dir)) != 0)
            return -1;
        t->tls_own_certs = 1;
        fprintf(stderr, "fx_topology_start: SENTINEL_POOL_TEST_TLS: TLS only, certificates in %s\n",
                t->tls_dir);
        memset(&own_tls, 0, sizeof(own_tls));
        own_tls.dir = t->tls_dir;
        tls = &own_tls;
    }

    fx_redis_opts ro;
    memset(&ro, 0, sizeof(ro));
    ro.requirepass = o->data_password;
    ro.masterauth = o->data_password;
    ro.acl_users = o->data_acl_users;
    ro.extra_config = o->data_extra_config;
    ro.tls = tls;
    for (int i = 0; i < t->n_data; i++) {
        if (i > 0) {
            ro.replicaof_host = t->hostnames ? t->data[0].name : fxi_node_host(&t->data[0]);
            ro.replicaof_port = t->data[0].port;
            ro.port = o->same_port ? t->data[0].port : 0;
        }
        ro.bind_ip = dh ? dh[i].ip : NULL;
        ro.announce_host = dh ? dh[i].name : NULL;
        if (fx_redis_start(&t->data[i], &ro) != 0) {
            fprintf(stderr, "fx_topology_start: data node %d failed to start\n", i);
            fx_topology_stop(t);
            return -1;
        }
    }

    fx_sentinel_opts so;
    memset(&so, 0, sizeof(so));
    so.master_name = t->master_name;
    so.master_host = t->hostnames ? t->data[0].name : fxi_node_host(&t->data[0]);
    so.master_port = t->data[0].port;
    so.hostnames = t->hostnames;
    so.quorum = t->quorum;
    so.down_after_ms = t->down_after_ms;
    so.failover_timeout_ms = t->failover_timeout_ms;
    so.parallel_syncs = 1;
    so.auth_pass = o->data_password;
    so.requirepass = o->sentinel_password;
    so.extra_config = o->sentinel_extra_config;
    so.no_debug_timing = o->no_debug_timing;
    so.ping_period_ms = o->ping_period_ms;
    so.publish_period_ms = o->publish_period_ms;
    so.info_period_ms = o->info_period_ms;
    so.ask_period_ms = o->ask_period_ms;
    so.tls = tls;
    for (int i = 0; i < t->n_sentinels; i++) {
        so.bind_ip = sh ? sh[i].ip : NULL;
        so.announce_host = sh ? sh[i].name : NULL;
        so.port = o->same_port && i > 0 ? t->sentinel[0].port : 0;
        if (fx_sentinel_start(&t->sentinel[i], &so) != 0) {
            fprintf(stderr, "fx_topology_start: sentinel %d failed to start\n", i);
            fx_topology_stop(t);
            return -1;
        }
    }

    int timeout = o->start_timeout_ms > 0 ? o->start_timeout_ms : 30000;
    if (wait_synced_around(t, 0, timeout, "fx_topology_start") != 0) {
        fx_topology_dump(t);
        fx_topology_stop(t);
        return -1;
    }
    return 0;
}

void fx_topology_stop(fx_topology *t)
{
    if (!t)
        return;
    /* Sentinels first in the list: all get SIGTERM at once anyway, but a
     * sentinel must not see the data nodes vanish and start a failover. */
    fx_node *all[FX_MAX_SENTINELS + FX_MAX_DATA];
    size_t n = 0;
    for (int i = 0; i < FX_MAX_SENTINELS; i++)
        all[n++] = &t->sentinel[i];
    for (int i = 0; i < FX_MAX_DATA; i++)
        all[n++] = &t->data[i];
    fxi_stop_many(all, n, 2000);
    for (size_t i = 0; i < n; i++)
        fx_node_stop(all[i]); /* already reaped: only removes the directory */
    if (t->tls_own_certs) {
        fx_tls_remove_certs(t->tls_dir);
        t->tls_own_certs = 0;
        t->tls_dir[0] = '\0';
    }
}

const char *fx_topology_tls_dir(const fx_topology *t)
{
    return t && t->tls_dir[0] ? t->tls_dir : NULL;
}

int fx_sentinel_failover(fx_topology *t, int sentinel_idx)
{
    if (!t || sentinel_idx < 0 || sentinel_idx >= t->n_sentinels) {
        fprintf(stderr, "fx_sentinel_failover: bad sentinel index %d\n", sentinel_idx);
        return -1;
    }
    fx_node *s = &t->sentinel[sentinel_idx];
    redisReply *r = fx_cmd(s, "SENTINEL FAILOVER %s", t->master_name);
    int ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0;
    if (!ok)
        fprintf(stderr, "fx_sentinel_failover: sentinel port %d: %s\n", s->port,
                r && r->str ? r->str : "no reply");
    if (r)
        freeReplyObject(r);
    return ok ? 0 : -1;
}

int fx_wait_master_change(fx_topology *t, int old_index, int timeout_ms)
{
    int64_t deadline = fx_now_ms() + timeout_ms;
    for (;;) {
        int idx = fx_topology_master_index(t);
        if (idx >= 0 && idx != old_index)
            return idx;
        if (fx_now_ms() >= deadline)
            break;
        fx_sleep_ms(FXI_POLL_STEP_MS);
    }
    fprintf(stderr, "fx_wait_master_change: no agreed new master (old data[%d]) after %d ms\n",
            old_index, timeout_ms);
    fx_topology_dump(t);
    return -1;
}

static int sentinels_string(const fx_topology *t, char *buf, size_t len, int named)
{
    size_t used = 0;
    if (!t || !buf || len == 0)
        return -1;
    buf[0] = '\0';
    for (int i = 0; i < t->n_sentinels; i++) {
        const fx_node *s = &t->sentinel[i];
        int w = snprintf(buf + used, len - used, "%s%s:%d", i ? "," : "",
                         named && s->name[0] ? s->name : fxi_node_host(s), s->port);
        if (w < 0 || (size_t)w >= len - used) {
            buf[0] = '\0';
            return -1;
        }
        used += (size_t)w;
    }
    return 0;
}

int fx_data_cmd(const fx_topology *t, const char *fmt, ...)
{
    int bad = 0;
    for (int i = 0; i < t->n_data; i++) {
        va_list ap;
        va_start(ap, fmt);
        redisReply *r = fxi_vcmd(&t->data[i], 2000, 0, fmt, ap);
        va_end(ap);
        bad |= r == NULL || r->type == REDIS_REPLY_ERROR;
        freeReplyObject(r);
    }
    return bad ? -1 : 0;
}

int fx_sentinels_string(const fx_topology *t, char *buf, size_t len)
{
    return sentinels_string(t, buf, len, 0);
}

int fx_sentinels_string_named(const fx_topology *t, char *buf, size_t len)
{
    return sentinels_string(t, buf, len, 1);
}

static void dump_node(const char *kind, int i, const fx_node *n)
{
    char where[160] = "";
    if (n->name[0] || strcmp(fxi_node_host(n), FXI_DEFAULT_HOST) != 0)
        snprintf(where, sizeof(where), "%s%s%s ", n->name, n->name[0] ? " at " : "",
                 fxi_node_host(n));
    fprintf(stderr, "  == %s[%d] %sport %d pid %d role %c %s%s dir %s ==\n", kind, i, where,
            n->port, (int)n->pid, n->role ? n->role : '-', n->running ? "running" : "not running",
            n->stopped ? " (SIGSTOPped)" : "", n->dir[0] ? n->dir : "(removed)");
    fx_node_dump(n);
}

void fx_topology_dump(const fx_topology *t)
{
    if (!t)
        return;
    fprintf(stderr, "fx_topology_dump: master name %s, quorum %d\n", t->master_name, t->quorum);
    for (int i = 0; i < t->n_data; i++)
        dump_node("data", i, &t->data[i]);
    for (int i = 0; i < t->n_sentinels; i++)
        dump_node("sentinel", i, &t->sentinel[i]);
}
