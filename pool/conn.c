/* One connection: open it, log it in, ask its role (net/probe.h), check it
 * is alive, and watch every reply it reads for the signs of a demoted
 * master. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "proto/hiredis_compat.h"
#include "net/net.h"
#include "net/probe.h"
#include "pool/pool_internal.h"

/* ---- Reply guard -----------------------------------------------------------
 * Every reply a pool connection reads, whatever command the caller ran,
 * goes through the slot's reply guard (reply_guard.h): it marks a connection
 * that reads -READONLY/-MASTERDOWN and refuses replies beyond the pool's
 * limits before hiredis allocates them (0.14 has no cap of its own). */

static void install_guard(pool_t *p, spool_slot *s, redisContext *c)
{
    /* Chained to hiredis' functions, not to spool_connect()'s fixed caps,
     * so the pool's own limits are the ones that apply. */
    spool_reply_guard_start(c->reader, &s->guard, p->cfg.max_reply_elements,
                            p->cfg.max_reply_bulk, &s->flags); /* replaces spool_connect()'s */
    atomic_store_explicit(&s->flags, 0, memory_order_relaxed);
    /* TLS writes go through the library's BIO, which never raises SIGPIPE. */
    int nosignal = p->cfg.sigpipe == POOL_SIGPIPE_PREVENT && !spool_tls_on(c);
    spool_hygiene_attach(&s->hyg, &s->guard, c, nosignal);
    s->push_cb = spool_hr_push_cb(c);
}

/* ---- Handshake ------------------------------------------------------------ */

static int is_error(const redisReply *r) { return r->type == REDIS_REPLY_ERROR; }

/* The pool's login: AUTH, SELECT and CLIENT SETNAME as configured, sent
 * on every new connection and again after a reset. */
#define LOGIN_MAX 3
typedef struct login {
    int auth_at, select_at;
    char db[16];
} login;

static int login_cmds(const spool_config *cfg, login *l, spool_cmd *cmds)
{
    int n = 0;
    l->auth_at = l->select_at = -1;
    if (cfg->password != NULL) {
        l->auth_at = n;
        cmds[n++] = spool_auth_cmd(cfg->username, cfg->password);
    }
    if (cfg->database != 0) {
        snprintf(l->db, sizeof(l->db), "%d", cfg->database);
        l->select_at = n;
        cmds[n++] = (spool_cmd){2, {"SELECT", l->db}};
    }
    if (cfg->client_name != NULL && cfg->client_name[0] != '\0')
        cmds[n++] = (spool_cmd){3, {"CLIENT", "SETNAME", cfg->client_name}};
    return n;
}

/* The reply to login command i (cmds as login_cmds() made them). */
static int login_reply(pool_t *p, const login *l, int i, const spool_cmd *cmds, const redisReply *r)
{
    if (!is_error(r))
        return 0;
    if (i == l->auth_at || spool_starts_with(r->str, r->len, "NOAUTH"))
        return POOL_EAUTH;
    if (i == l->select_at)
        return POOL_EINVAL;
    spool_log(p, POOL_LOG_WARN, "handshake: %s refused: %s", cmds[i].argv[0], r->str);
    return 0;
}

/* A connection is handed to a caller right after the handshake or a
 * ROLE/PING check. Bytes beyond the replies we asked for (a server out of
 * step with its client) would be read by the caller as the answer to its
 * first command: refuse the connection instead, as pool_put() refuses one
 * with unread replies. */
static int in_step(const redisContext *c)
{
    return c->reader->pos < c->reader->len ? POOL_EPROTO : 0;
}

/* Read on every validation (ALWAYS runs it per checkout): no pool lock. */
static int role_denied(pool_t *p) { return atomic_load_explicit(&p->role_denied, memory_order_relaxed); }

/* The probe found ROLE denied by ACL: ask INFO from now on (net/probe.h). */
static void note_denied(pool_t *p, int denied)
{
    if (denied && atomic_exchange(&p->role_denied, 1) == 0)
        spool_log(p, POOL_LOG_WARN, "ROLE denied by ACL, validating with INFO replication");
}

int spool_conn_role(pool_t *p, redisContext *c, int64_t deadline_ns, spool_role *out)
{
    int denied = 0;
    int rc = spool_probe_on(c, deadline_ns, -1, role_denied(p), out, &denied);
    note_denied(p, denied);
    return rc != 0 ? rc : in_step(c);
}

int spool_conn_ping(pool_t *p, redisContext *c, int64_t deadline_ns)
{
    (void)p;
    redisReply *r = NULL;
    const char *argv[] = {"PING"};
    int rc = spool_command(c, deadline_ns, -1, &r, 1, argv);
    if (rc != 0)
        return rc;
    rc = (r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0) ? 0 : POOL_EPROTO;
    freeReplyObject(r);
    return rc != 0 ? rc : in_step(c);
}

int spool_conn_peek(redisContext *c)
{
    char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    /* Over TLS, bytes may be records for OpenSSL alone (TLS 1.3 session
     * tickets arrive after the handshake): let it look. */
    if (n > 0 && spool_tls_on(c))
        return spool_tls_idle_check(c);
    return POOL_EIO; /* 0: closed by the peer; >0: bytes nobody asked for */
}

int spool_conn_open(pool_t *p, spool_slot *s, const char *host, int port, int64_t deadline_ns,
                    int check_role, spool_role *role_out, redisContext **out)
{
    return spool_conn_open_ex(p, s, host, port, deadline_ns, check_role, NULL, NULL, role_out,
                              out);
}

int spool_conn_open_ex(pool_t *p, spool_slot *s, const char *host, int port, int64_t deadline_ns,
                       int check_role, int (*cancelled)(void *), void *arg, spool_role *role_out,
                       redisContext **out)
{
    const spool_config *cfg = &p->cfg;
    *out = NULL;
    redisContext *c = NULL;
    int rc = spool_connect_ex(host, port, deadline_ns, cfg->command_timeout_ms,
                              spool_pool_tls(p, 0), cancelled, arg, &c);
    if (rc != 0)
        return rc == POOL_ETIMEDOUT ? POOL_ECONNECT : rc;
    install_guard(p, s, c);

    spool_cmd cmds[LOGIN_MAX + 1];
    login l;
    int n = login_cmds(cfg, &l, cmds), role_at = -1;
    int use_info = check_role && role_denied(p), denied = 0;
    if (check_role && !use_info) {
        role_at = n;
        cmds[n++] = spool_role_cmd();
    }

    redisReply *replies[4] = {NULL, NULL, NULL, NULL};
    if (n > 0)
        rc = spool_roundtrip(c, deadline_ns, -1, (size_t)n, cmds, replies,
                             spool_reply_guard_max_buffer(&s->guard));
    for (int i = 0; rc == 0 && i < n; i++) {
        if (i == role_at)
            rc = spool_probe_role_reply(c, replies[i], deadline_ns, -1, role_out, &denied);
        else
            rc = login_reply(p, &l, i, cmds, replies[i]);
    }
    for (int i = 0; i < n; i++)
        if (replies[i] != NULL)
            freeReplyObject(replies[i]);
    note_denied(p, denied);
    if (rc == 0 && use_info)
        rc = spool_probe_info(c, deadline_ns, -1, role_out);
    if (rc == 0)
        rc = in_step(c);
    const char *hint = spool_tls_hint(c, rc);
    if (hint != NULL)
        spool_log(p, POOL_LOG_WARN, "%s:%d %s (tls = 1?)", host, port, hint);
    if (rc == 0)
        spool_hygiene_settle(&s->hyg);
    if (rc != 0) {
        redisFree(c);
        /* connect_timeout_ms covers TCP connect + handshake, and failing
         * either is "could not connect": a handshake cut by the deadline
         * (POOL_ETIMEDOUT) or by the server closing (maxclients, POOL_EIO)
         * is POOL_ECONNECT, as a connect cut by the deadline is (above).
         * So a slow or refusing node gives one code whatever the phase,
         * pool_get_writer() returns only documented codes, and
         * POOL_ETIMEDOUT keeps its one meaning, "no pooled connection came
         * free". */
        return rc == POOL_ETIMEDOUT || rc == POOL_EIO ? POOL_ECONNECT : rc;
    }
    *out = c;
    return 0;
}

/* ---- Reset: what a borrower left behind ---------------------------------- */

/* Replies before RESET's belong to the borrower (pub/sub messages, MONITOR
 * lines, a late reply, CLIENT REPLY ON's answer, which in pub/sub mode is
 * an error listing RESET among the commands allowed): drop them. A server
 * without RESET says "unknown command". */
static int reset_answer(const redisReply *r)
{
    if (r->type == REDIS_REPLY_STATUS && r->len == 5 && memcmp(r->str, "RESET", 5) == 0)
        return 1;
    if (r->type == REDIS_REPLY_ERROR && spool_starts_with(r->str, r->len, "ERR unknown command") &&
        strstr(r->str, "RESET") != NULL)
        return -1;
    return 0;
}

/* One round trip: CLIENT REPLY ON (a SKIP or OFF would eat RESET's answer),
 * RESET (Redis 6.2+, Valkey: ends MULTI, WATCH, subscriptions, MONITOR,
 * tracking, READONLY; back to RESP2, db 0, no name, and logged out to the
 * default user), the pool's own login again, and CLIENT NO-EVICT OFF
 * (Redis 7.0's RESET leaves that on; its answer, an error before 7.0, is
 * not looked at). */
static int reset_conn(pool_t *p, spool_slot *s, int64_t deadline_ns)
{
    const spool_config *cfg = &p->cfg;
    redisContext *c = s->ctx;
    spool_cmd cmds[3 + LOGIN_MAX];
    cmds[0] = (spool_cmd){3, {"CLIENT", "REPLY", "ON"}};
    cmds[1] = (spool_cmd){1, {"RESET"}};
    login l;
    int n = login_cmds(cfg, &l, cmds + 2);
    cmds[2 + n] = (spool_cmd){3, {"CLIENT", "NO-EVICT", "OFF"}};
    redisReply *replies[2 + LOGIN_MAX] = {NULL};
    int rc = spool_roundtrip_skip(c, deadline_ns, (size_t)(n + 3), cmds, reset_answer,
                                  (size_t)(n + 2), replies, spool_reply_guard_max_buffer(&s->guard));
    for (int i = 0; rc == 0 && i < n; i++)
        rc = login_reply(p, &l, i, cmds + 2, replies[i + 1]);
    for (int i = 0; i < n + 2; i++)
        if (replies[i] != NULL)
            freeReplyObject(replies[i]);
    return rc != 0 ? rc : in_step(c);
}

static void count_reset(pool_t *p, unsigned d)
{
    spool_counters *st = &p->stats;
    spool_count(&st->resets);
    if (d & (SPOOL_DIRT_TRANSACTION | SPOOL_DIRT_QUEUED | SPOOL_DIRT_WATCH))
        spool_count(&st->reset_transaction);
    if (d & SPOOL_DIRT_DATABASE)
        spool_count(&st->reset_database);
    if (d & (SPOOL_DIRT_PUBSUB | SPOOL_DIRT_MONITOR))
        spool_count(&st->reset_pubsub);
    if (d & SPOOL_DIRT_REPLY_MODE)
        spool_count(&st->reset_reply_mode);
    if (d & SPOOL_DIRT_USER)
        spool_count(&st->reset_user);
    if (d & SPOOL_DIRT_PROTOCOL)
        spool_count(&st->reset_protocol);
    if (d & (SPOOL_DIRT_CLIENT | SPOOL_DIRT_READONLY))
        spool_count(&st->reset_client);
    if (d & (SPOOL_DIRT_MARKED | SPOOL_DIRT_UNPARSED))
        spool_count(&st->reset_marked);
}

int spool_conn_tidy(pool_t *p, spool_slot *s)
{
    redisContext *c = s->ctx;
    unsigned d = s->guard.dirt;
    int verdict = spool_hygiene_verdict(&s->hyg);
    if (verdict == SPOOL_HYG_CLEAN)
        return 0;
    char what[160]; /* for the log lines below */
    spool_hygiene_describe(d, what, sizeof(what));
    switch (verdict) {
    case SPOOL_HYG_UNREAD:
        spool_log(p, POOL_LOG_DEBUG, "closing %s:%d: a reply is still to come (%ld)",
                  c->tcp.host, c->tcp.port, s->guard.outstanding);
        spool_evict(p, s, &p->stats.evicted_unread);
        return 1;
    case SPOOL_HYG_CLOSE:
        spool_log(p, POOL_LOG_DEBUG, "closing %s:%d after %s", c->tcp.host, c->tcp.port, what);
        spool_evict(p, s, &p->stats.evicted_unresettable);
        return 1;
    default:
        break;
    }
    int rc = reset_conn(p, s, spool_deadline_ms(p->cfg.command_timeout_ms));
    if (rc != 0) {
        spool_log(p, POOL_LOG_WARN, "closing %s:%d: reset after %s failed: %s", c->tcp.host,
                  c->tcp.port, what, pool_strerror(rc));
        spool_evict(p, s, &p->stats.evicted_unresettable);
        return 1;
    }
    spool_hygiene_settle(&s->hyg);
    count_reset(p, d);
    spool_log(p, POOL_LOG_DEBUG, "reset %s:%d after %s (RESET and login, one round trip)",
              c->tcp.host, c->tcp.port, what);
    return 0;
}
