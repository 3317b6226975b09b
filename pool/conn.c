/* One connection: open it, log it in, ask its role, check it is alive, and
 * watch every reply it reads for the signs of a demoted master. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "pool/hiredis_compat.h"
#include "pool/net.h"
#include "pool/pool_internal.h"

int64_t spool_coarse_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- Reply guard -----------------------------------------------------------
 * Every reply a pool connection reads, whatever command the caller ran,
 * goes through the slot's reply guard (reply_guard.h): it marks a connection
 * that reads -READONLY/-MASTERDOWN and refuses replies beyond the pool's
 * limits before hiredis allocates them (0.14 has no cap of its own). */

static void install_guard(pool_t *p, spool_slot *s, redisContext *c)
{
    /* Chained to hiredis' functions, not to spool_connect()'s fixed caps,
     * so the pool's own limits are the ones that apply. */
    s->guard.max_elements = p->cfg.max_reply_elements;
    s->guard.max_bulk = p->cfg.max_reply_bulk;
    s->guard.flags = &s->flags;
    spool_reply_guard_install(c->reader, &s->guard); /* c has spool_connect()'s guard */
    atomic_store_explicit(&s->flags, 0, memory_order_relaxed);
}

/* ---- Handshake ------------------------------------------------------------ */

static int is_error(const redisReply *r) { return r->type == REDIS_REPLY_ERROR; }

/* FIX: a connection is handed to a caller right after the handshake or a
 * ROLE/PING check. Bytes beyond the replies we asked for (a server out of
 * step with its client) would be read by the caller as the answer to its
 * first command: refuse the connection instead, as pool_put() refuses one
 * with unread replies. */
static int in_step(const redisContext *c)
{
    return c->reader->pos < c->reader->len ? POOL_EPROTO : 0;
}

static int role_from_info(pool_t *p, redisContext *c, int64_t deadline_ns, spool_role *out)
{
    redisReply *r = NULL;
    const char *argv[] = {"INFO", "replication"};
    int rc = spool_command(c, deadline_ns, -1, &r, 2, argv);
    if (rc != 0)
        return rc;
    if (spool_hr_is_text(r->type))
        rc = spool_role_parse_info(r->str, r->len, out);
    else
        rc = spool_starts_with(r->str, r->len, "NOPERM") ? POOL_EAUTH : POOL_EPROTO;
    freeReplyObject(r);
    (void)p;
    return rc;
}

/* Interpret a ROLE reply; on an ACL refusal switch the pool to INFO. */
static int role_from_reply(pool_t *p, redisContext *c, const redisReply *r, int64_t deadline_ns,
                           spool_role *out)
{
    if (!is_error(r))
        return spool_role_parse(r, out);
    if (spool_starts_with(r->str, r->len, "NOAUTH"))
        return POOL_EAUTH;
    if (!spool_starts_with(r->str, r->len, "NOPERM"))
        return POOL_EPROTO;
    if (atomic_exchange(&p->role_denied, 1) == 0)
        spool_log(p, POOL_LOG_WARN, "ROLE denied by ACL, validating with INFO replication");
    return role_from_info(p, c, deadline_ns, out);
}

/* Read on every validation (ALWAYS runs it per checkout): no pool lock. */
static int role_denied(pool_t *p) { return atomic_load_explicit(&p->role_denied, memory_order_relaxed); }

int spool_conn_role(pool_t *p, redisContext *c, int64_t deadline_ns, spool_role *out)
{
    if (role_denied(p))
        return role_from_info(p, c, deadline_ns, out);
    redisReply *r = NULL;
    const char *argv[] = {"ROLE"};
    int rc = spool_command(c, deadline_ns, -1, &r, 1, argv);
    if (rc != 0)
        return rc;
    rc = role_from_reply(p, c, r, deadline_ns, out);
    freeReplyObject(r);
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

    spool_cmd cmds[4];
    int n = 0, auth_at = -1, select_at = -1, role_at = -1;
    char db[16];
    if (cfg->password != NULL) {
        auth_at = n;
        cmds[n] = cfg->username != NULL
                      ? (spool_cmd){3, {"AUTH", cfg->username, cfg->password}}
                      : (spool_cmd){2, {"AUTH", cfg->password}};
        n++;
    }
    if (cfg->database != 0) {
        snprintf(db, sizeof(db), "%d", cfg->database);
        select_at = n;
        cmds[n++] = (spool_cmd){2, {"SELECT", db}};
    }
    if (cfg->client_name != NULL && cfg->client_name[0] != '\0')
        cmds[n++] = (spool_cmd){3, {"CLIENT", "SETNAME", cfg->client_name}};
    int use_info = check_role && role_denied(p);
    if (check_role && !use_info) {
        role_at = n;
        cmds[n++] = (spool_cmd){1, {"ROLE"}};
    }

    redisReply *replies[4] = {NULL, NULL, NULL, NULL};
    if (n > 0)
        rc = spool_roundtrip(c, deadline_ns, -1, (size_t)n, cmds, replies,
                             cfg->max_reply_bulk + 1024);
    for (int i = 0; rc == 0 && i < n; i++) {
        const redisReply *r = replies[i];
        if (i == auth_at && is_error(r))
            rc = POOL_EAUTH;
        else if (is_error(r) && spool_starts_with(r->str, r->len, "NOAUTH"))
            rc = POOL_EAUTH;
        else if (i == select_at && is_error(r))
            rc = POOL_EINVAL;
        else if (i == role_at)
            rc = role_from_reply(p, c, r, deadline_ns, role_out);
        else if (is_error(r))
            spool_log(p, POOL_LOG_WARN, "handshake: %s refused: %s", cmds[i].argv[0], r->str);
    }
    for (int i = 0; i < n; i++)
        if (replies[i] != NULL)
            freeReplyObject(replies[i]);
    if (rc == 0 && use_info)
        rc = role_from_info(p, c, deadline_ns, role_out);
    if (rc == 0)
        rc = in_step(c);
    const char *hint = spool_tls_hint(c, rc);
    if (hint != NULL)
        spool_log(p, POOL_LOG_WARN, "%s:%d %s (tls = 1?)", host, port, hint);
    if (rc != 0) {
        redisFree(c);
        /* FIX: connect_timeout_ms covers TCP connect + handshake, and a
         * connect cut by the deadline is POOL_ECONNECT (above); a handshake
         * cut by it, or by the server closing (maxclients), returned
         * POOL_ETIMEDOUT or POOL_EIO, so the same slow or refusing node
         * gave three codes depending on the phase, and pool_get_writer()
         * could return the undocumented POOL_EIO. All are "could not
         * connect"; POOL_ETIMEDOUT stays "no pooled connection came free". */
        return rc == POOL_ETIMEDOUT || rc == POOL_EIO ? POOL_ECONNECT : rc;
    }
    *out = c;
    return 0;
}
