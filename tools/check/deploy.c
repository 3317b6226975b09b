/* deploy.c: deployment mode's connections (ck_open) and --failover: one
 * graceful failover of an existing deployment under writers, through the
 * same run as the self-contained mode (run.c, target.c).
 *
 * What it changes on the deployment, and nothing else: the writers' keys
 * <prefix>cnt:<w> and <prefix>log:<w> (refused when any of them exists
 * before the run; deleted after it, also when the run fails), and one
 * SENTINEL FAILOVER. Sentinel's own settings are left as they are. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deploy.h"
#include "harness.h"
#include "net/net.h"
#include "net/tls.h"

/* The plaintext half is the library's own hint (net/tls.c), so the tool
 * and the pool's log say it alike. */
void ck_tls_hint(const ck_target *t, int sentinel, const redisContext *c, int rc, char *out,
                 size_t len)
{
    const char *opt = sentinel ? "--sentinel-tls" : "--tls";
    int tls_on = sentinel ? t->o.sentinel_tls : t->o.tls;
    if (rc == 0 || out == NULL || out[0] != '\0')
        return; /* the first failure is the telling one */
    const char *lib = spool_tls_hint(c, rc);
    if (lib != NULL)
        snprintf(out, len, "%s (try %s)", lib, opt);
    /* Redis reads a ClientHello as an inline command: it waits for a line
     * end, or answers -ERR, which is no TLS record. */
    else if (tls_on && c == NULL && (rc == POOL_ETLS || rc == POOL_ETIMEDOUT))
        snprintf(out, len, "TLS asked of a plaintext port? (drop %s)", opt);
}

int ck_open(const ck_target *t, const char *host, int port, int sentinel, redisContext **out,
            char *hint, size_t hintlen)
{
    int64_t deadline = spool_deadline_ms(t->timeout_ms);
    const spool_tls *tls = (sentinel ? t->o.sentinel_tls : t->o.tls) ? t->tls : NULL;
    int rc = spool_connect(host, port, deadline, t->timeout_ms, tls, out);
    ck_tls_hint(t, sentinel, NULL, rc, hint, hintlen);
    if (rc != 0)
        return rc;
    const char *user = sentinel ? t->o.sentinel_username : t->o.username;
    const char *pass = sentinel ? t->o.sentinel_password : t->o.password;
    if (pass == NULL)
        return 0;
    spool_cmd auth = spool_auth_cmd(user, pass);
    redisReply *rep = NULL;
    rc = spool_roundtrip(*out, deadline, -1, 1, &auth, &rep, 0);
    ck_tls_hint(t, sentinel, *out, rc, hint, hintlen);
    if (rc == 0 && rep->type == REDIS_REPLY_ERROR)
        rc = POOL_EAUTH;
    if (rep != NULL)
        freeReplyObject(rep);
    if (rc != 0) {
        redisFree(*out);
        *out = NULL;
    }
    return rc;
}

/* pool_strerror() speaks of checkouts for POOL_ETIMEDOUT; here it is a server. */
const char *ck_why(int rc)
{
    return rc == POOL_ETIMEDOUT ? "no answer within --timeout-ms" : pool_strerror(rc);
}

/* ---- The writers' keys -------------------------------------------------- */

/* How many of the writers' keys exist on node i: 0..2w, or -1. */
static int keys_present(h_run *r, int node)
{
    redisContext *c = h_connect_node(r, node, 0, 0);
    if (c == NULL)
        return -1;
    int n = 0;
    for (int i = 0; i < r->o.writers && n >= 0; i++) {
        char cnt[H_KEY_MAX], log[H_KEY_MAX];
        h_writer_keys(r, i, cnt, log);
        redisReply *rep = redisCommand(c, "EXISTS %s %s", cnt, log);
        if (rep == NULL || rep->type != REDIS_REPLY_INTEGER)
            n = -1;
        else
            n += (int)rep->integer;
        if (rep != NULL)
            freeReplyObject(rep);
    }
    redisFree(c);
    return n;
}

/* Delete the writers' keys on the master the sentinels name now (the
 * replicas follow it); r->keys_left: what is still there after, -1 unknown. */
static void delete_keys(h_run *r)
{
    int mi = h_master_index(r);
    r->keys_left = -1;
    redisContext *c = mi >= 0 ? h_connect_node(r, mi, 0, 0) : NULL;
    if (c == NULL) {
        fprintf(stderr, "sentinel-pool-check: cannot reach the master to delete the keys under "
                        "\"%s\"\n", r->key_prefix);
        return;
    }
    int ok = 1;
    for (int i = 0; i < r->o.writers && ok; i++) {
        char cnt[H_KEY_MAX], log[H_KEY_MAX];
        h_writer_keys(r, i, cnt, log);
        redisReply *rep = redisCommand(c, "DEL %s %s", cnt, log);
        ok = rep != NULL && rep->type == REDIS_REPLY_INTEGER;
        if (!ok)
            fprintf(stderr, "sentinel-pool-check: DEL %s %s: %s\n", cnt, log,
                    rep != NULL && rep->type == REDIS_REPLY_ERROR ? rep->str : c->errstr);
        if (rep != NULL)
            freeReplyObject(rep);
    }
    redisFree(c);
    if (ok)
        r->keys_left = keys_present(r, mi);
}

/* ---- Before the run ------------------------------------------------------- */

/* "Redis 7.0.15" / "Valkey 8.1.1" from the master's INFO server. */
static void server_version(h_run *r)
{
    redisContext *c = h_connect_node(r, 0, 0, 1);
    redisReply *rep = c != NULL ? redisCommand(c, "INFO server") : NULL;
    if (fx_server_version_text(rep != NULL && rep->type == REDIS_REPLY_STRING ? rep->str : NULL,
                               r->server, sizeof(r->server)) != 0)
        snprintf(r->server, sizeof(r->server), "server ?");
    if (rep != NULL)
        freeReplyObject(rep);
    redisFree(c);
}

static int confirmed(h_run *r, const ck_failover_opts *fo)
{
    char m[300];
    printf("\nsentinel-pool-check --failover will now, on the deployment above:\n"
           "  - write with %d threads through a pool, %d writes/s each, to the keys\n"
           "    %scnt:0 .. %scnt:%d and %slog:0 .. %slog:%d (deleted afterwards);\n"
           "  - ask Sentinel for one graceful failover of \"%s\" (SENTINEL FAILOVER): the\n"
           "    master %s hands over to a replica. Clients of the deployment see it as a\n"
           "    real failover.\n",
           r->o.writers, r->o.rate, r->key_prefix, r->key_prefix, r->o.writers - 1, r->key_prefix,
           r->key_prefix, r->o.writers - 1, r->master_name, h_node_name(r, 0, m, sizeof(m)));
    if (fo->yes)
        return 1;
    printf("Type yes to go on: ");
    fflush(stdout);
    char line[64];
    if (fgets(line, sizeof(line), stdin) == NULL || strcmp(line, "yes\n") != 0) {
        fprintf(stderr, "sentinel-pool-check: not confirmed; nothing was changed "
                        "(--yes skips the question)\n");
        return 0;
    }
    return 1;
}

static int fill_run(h_run *r, const ck_target *t, const spool_addr *sentinels, int ns,
                    const spool_addr *nodes, int nn, const ck_failover_opts *fo)
{
    if (nn < 2) {
        fprintf(stderr, "sentinel-pool-check: --failover needs a replica that answers\n");
        return -1;
    }
    if (strlen(fo->key_prefix) == 0 || strlen(fo->key_prefix) > 100) {
        fprintf(stderr, "sentinel-pool-check: --key-prefix: 1 to 100 bytes\n");
        return -1;
    }
    r->deploy = t;
    r->n_nodes = nn < H_MAX_NODES ? nn : H_MAX_NODES;
    for (int i = 0; i < r->n_nodes; i++) {
        snprintf(r->node[i].host, sizeof(r->node[i].host), "%s", nodes[i].host);
        r->node[i].port = nodes[i].port;
    }
    r->n_sent = ns < H_MAX_SENTINELS ? ns : H_MAX_SENTINELS;
    for (int i = 0; i < r->n_sent; i++) {
        snprintf(r->sent[i].host, sizeof(r->sent[i].host), "%s", sentinels[i].host);
        r->sent[i].port = sentinels[i].port;
    }
    snprintf(r->master_name, sizeof(r->master_name), "%s", t->o.master_name);
    snprintf(r->key_prefix, sizeof(r->key_prefix), "%s", fo->key_prefix);
    h_opts *o = &r->o;
    o->plan_kinds[0] = H_GRACEFUL;
    o->n_plan_kinds = 1;
    o->failovers = 1;
    o->writers = fo->writers;
    o->rate = fo->rate;
    o->lead_ms = fo->lead_ms;
    o->timeout_s = fo->timeout_s;
    o->quiet = fo->quiet;
    o->verbose = fo->verbose;
    o->json = fo->json;
    o->plot = fo->plot;
    o->tls = t->o.tls;
    return 0;
}

int ck_failover_main(const ck_target *t, const spool_addr *sentinels, int ns,
                     const spool_addr *nodes, int nn, const ck_failover_opts *fo)
{
    static h_run run; /* large (writers), and the watchdog may outlive this frame */
    h_run *r = &run;
    if (fill_run(r, t, sentinels, ns, nodes, nn, fo) != 0)
        return 2;
    int present = keys_present(r, 0);
    if (present != 0) {
        fprintf(stderr,
                present < 0 ? "sentinel-pool-check: cannot check the master for the keys under "
                              "\"%s\"\n"
                            : "sentinel-pool-check: keys under \"%s\" exist already; they are not "
                              "ours to overwrite and delete: choose another --key-prefix\n",
                r->key_prefix);
        return 2;
    }
    server_version(r);
    if (!confirmed(r, fo))
        return 2;
    if (h_run_prepare(r) != 0)
        return 2;
    pool_options_t po = t->o; /* the user's sentinels, credentials and TLS, as given */
    int rc = h_run_execute(r, &po);
    if (rc == H_RUN_STUCK) {
        fprintf(stderr, "sentinel-pool-check: the keys under \"%s\" were left on the deployment\n",
                r->key_prefix);
        fflush(NULL);
        _exit(1);
    }
    h_phase(r, "deleting the writers' keys");
    delete_keys(r);
    h_target_close(r);
    if (rc != 0) {
        h_monitor_stop(r);
        return 2;
    }
    return h_run_finish(r);
}
