/* See probe.h. */
#include "net/probe.h"

#include "proto/hiredis_compat.h"
#include "sentinel_pool.h"

int spool_probe_info(redisContext *c, int64_t deadline_ns, int abort_fd, spool_role *out)
{
    redisReply *r = NULL;
    const char *argv[] = {"INFO", "replication"};
    int rc = spool_command(c, deadline_ns, abort_fd, &r, 2, argv);
    if (rc != 0)
        return rc;
    if (spool_hr_is_text(r->type))
        rc = spool_role_parse_info(r->str, r->len, out);
    else
        rc = spool_starts_with(r->str, r->len, "NOPERM") ? POOL_EAUTH : POOL_EPROTO;
    freeReplyObject(r);
    return rc;
}

int spool_probe_role_reply(redisContext *c, const redisReply *r, int64_t deadline_ns,
                           int abort_fd, spool_role *out, int *denied)
{
    if (r->type != REDIS_REPLY_ERROR)
        return spool_role_parse(r, out);
    if (spool_starts_with(r->str, r->len, "NOAUTH"))
        return POOL_EAUTH;
    if (!spool_starts_with(r->str, r->len, "NOPERM"))
        return POOL_EPROTO;
    *denied = 1;
    return spool_probe_info(c, deadline_ns, abort_fd, out);
}

int spool_probe_on(redisContext *c, int64_t deadline_ns, int abort_fd, int use_info,
                   spool_role *out, int *denied)
{
    if (use_info)
        return spool_probe_info(c, deadline_ns, abort_fd, out);
    spool_cmd cmd = spool_role_cmd();
    redisReply *r = NULL;
    int rc = spool_roundtrip(c, deadline_ns, abort_fd, 1, &cmd, &r, 0);
    if (rc != 0)
        return rc;
    rc = spool_probe_role_reply(c, r, deadline_ns, abort_fd, out, denied);
    freeReplyObject(r);
    return rc;
}

int spool_probe_role(const char *host, int port, int64_t deadline_ns, int timeout_ms,
                     const spool_tls *tls, const char *username, const char *password,
                     int abort_fd, spool_role *out, const char **hint)
{
    *hint = NULL;
    redisContext *c = NULL;
    int rc = spool_connect(host, port, deadline_ns, timeout_ms, tls, &c);
    if (rc != 0)
        return rc;
    spool_cmd cmds[2];
    int n = 0;
    if (password != NULL)
        cmds[n++] = spool_auth_cmd(username, password);
    cmds[n++] = spool_role_cmd();
    redisReply *r[2] = {NULL, NULL};
    rc = spool_roundtrip(c, deadline_ns, abort_fd, (size_t)n, cmds, r, 0);
    *hint = spool_tls_hint(c, rc);
    if (rc == 0) {
        int denied = 0;
        if (n == 2 && r[0]->type == REDIS_REPLY_ERROR)
            rc = POOL_EAUTH;
        else
            rc = spool_probe_role_reply(c, r[n - 1], deadline_ns, abort_fd, out, &denied);
        for (int i = 0; i < n; i++)
            freeReplyObject(r[i]);
    }
    redisFree(c);
    return rc;
}
