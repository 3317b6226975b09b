/* fx_tls.c: test certificates, and TLS for the fixture's own connections.
 * Everything that needs hiredis_ssl sits under SPOOL_HAVE_TLS; without it
 * the same functions fail with a message, so tests can say why they skip. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "fx_internal.h"

#ifdef SPOOL_HAVE_TLS
#include <hiredis/hiredis_ssl.h> /* after hiredis.h, which it needs */
#endif

#define FXT_CERTS_PREFIX "fx-certs-"

extern char **environ;

int fx_tls_available(void)
{
#ifdef SPOOL_HAVE_TLS
    return 1;
#else
    return 0;
#endif
}

int fx_tls_certs_script_in(const char *source_dir, const char *exe, char *out, size_t len)
{
    char installed[4096];
    const char *slash = exe != NULL ? strrchr(exe, '/') : NULL;
    int n = slash != NULL ? snprintf(installed, sizeof(installed), "%.*s/%s",
                                     (int)(slash - exe), exe, SPOOL_CERTS_FROM_BIN)
                          : -1;
    snprintf(out, len, "%s/tests/support/make-certs.sh", source_dir);
    if (access(out, R_OK) == 0)
        return 0;
    if (n < 0 || (size_t)n >= sizeof(installed) || access(installed, R_OK) != 0)
        return -1;
    n = snprintf(out, len, "%s", installed);
    return n >= 0 && (size_t)n < len ? 0 : -1;
}

int fx_tls_certs_script(char *out, size_t len)
{
    /* Linux: the fixture is (prctl, /proc) anyway. */
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    return fx_tls_certs_script_in(SPOOL_SOURCE_DIR, n > 0 ? exe : NULL, out, len);
}

int fx_tls_from_env(void)
{
    const char *v = getenv("SENTINEL_POOL_TEST_TLS");
    return v != NULL && *v != '\0' && strcmp(v, "0") != 0;
}

int fx_tls_client_paths(const char *dir, fx_tls_client *out)
{
    if (!dir || !*dir || !out)
        return -1;
    int a = snprintf(out->ca, sizeof(out->ca), "%s/ca.crt", dir);
    int b = snprintf(out->cert, sizeof(out->cert), "%s/client.crt", dir);
    int c = snprintf(out->key, sizeof(out->key), "%s/client.key", dir);
    if (a < 0 || b < 0 || c < 0 || (size_t)a >= sizeof(out->ca) ||
        (size_t)b >= sizeof(out->cert) || (size_t)c >= sizeof(out->key)) {
        fprintf(stderr, "fx_tls_client_paths: %s is too long\n", dir);
        return -1;
    }
    return 0;
}

void fx_tls_remove_certs(const char *dir)
{
    if (!dir || !*dir)
        return;
    const char *base = strrchr(dir, '/');
    base = base ? base + 1 : dir;
    /* So that a wrong argument never turns into rm -r of something else. */
    if (strncmp(base, FXT_CERTS_PREFIX, strlen(FXT_CERTS_PREFIX)) != 0) {
        fprintf(stderr, "fx_tls_remove_certs: %s is not an " FXT_CERTS_PREFIX "* dir: kept\n",
                dir);
        return;
    }
    fxi_remove_dir(dir);
}

#ifdef SPOOL_HAVE_TLS

/* Did snprintf's result fit? Leaves out empty when it did not. */
static int fits(char *out, size_t len, int written)
{
    if (written >= 0 && (size_t)written < len)
        return 1;
    out[0] = '\0';
    return 0;
}

/* Run bash make-certs.sh DIR; the script's own stderr says what failed. */
static int run_make_certs(const char *dir)
{
    char script[4096];
    if (fx_tls_certs_script(script, sizeof(script)) != 0) {
        fprintf(stderr, "fx_tls_make_certs: no make-certs.sh: not at %s, nor installed (%s from "
                        "the program's directory)\n",
                script, SPOOL_CERTS_FROM_BIN);
        return -1;
    }
    char bash[] = "bash";
    char *argv[] = {bash, script, (char *)dir, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "bash", NULL, NULL, argv, environ);
    if (rc != 0) {
        fprintf(stderr, "fx_tls_make_certs: cannot run bash %s: %s\n", script, strerror(rc));
        return -1;
    }
    int status = 0;
    /* This pid only: the fixture promises never to reap other children. */
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "fx_tls_make_certs: waitpid: %s\n", strerror(errno));
            return -1;
        }
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status))
        fprintf(stderr, "fx_tls_make_certs: %s %s exited with %d\n", script, dir,
                WEXITSTATUS(status));
    else
        fprintf(stderr, "fx_tls_make_certs: %s %s killed by signal %d\n", script, dir,
                WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return -1;
}

int fx_tls_make_certs(char *dir, size_t len)
{
    if (!dir || len == 0)
        return -1;
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    if (!fits(dir, len,
              snprintf(dir, len, "%s/" FXT_CERTS_PREFIX "%d-XXXXXX", tmp, (int)getpid()))) {
        fprintf(stderr, "fx_tls_make_certs: TMPDIR too long for a %zu-byte buffer\n", len);
        return -1;
    }
    if (!mkdtemp(dir)) {
        fprintf(stderr, "fx_tls_make_certs: mkdtemp %s: %s\n", dir, strerror(errno));
        dir[0] = '\0';
        return -1;
    }
    if (run_make_certs(dir) != 0) {
        fx_tls_remove_certs(dir);
        dir[0] = '\0';
        return -1;
    }
    return 0;
}

static int copy_name(char *dst, size_t len, const char *src, const char *dflt)
{
    return fits(dst, len, snprintf(dst, len, "%s", src && *src ? src : dflt)) ? 0 : -1;
}

int fxi_tls_node_init(fx_node *n, const fx_tls *t, const char *what)
{
    n->tls = 0;
    if (!t)
        return 0;
    if (!t->dir || !*t->dir || copy_name(n->tls_dir, sizeof(n->tls_dir), t->dir, "") != 0 ||
        copy_name(n->tls_cert, sizeof(n->tls_cert), t->cert, "server.crt") != 0 ||
        copy_name(n->tls_key, sizeof(n->tls_key), t->key, "server.key") != 0) {
        fprintf(stderr, "%s: fx_tls needs a dir (< %zu bytes) and cert/key names (< %zu)\n",
                what, sizeof(n->tls_dir), sizeof(n->tls_cert));
        return -1;
    }
    n->tls = 1;
    n->tls_auth_clients = t->auth_clients != 0;
    return 0;
}

int fxi_tls_handshake(redisContext *c, const fx_node *n, char *err, size_t len)
{
    char ca[300], cert[300], key[300];
    if (!fits(ca, sizeof(ca), snprintf(ca, sizeof(ca), "%s/ca.crt", n->tls_dir)) ||
        !fits(cert, sizeof(cert), snprintf(cert, sizeof(cert), "%s/client.crt", n->tls_dir)) ||
        !fits(key, sizeof(key), snprintf(key, sizeof(key), "%s/client.key", n->tls_dir))) {
        snprintf(err, len, "certificate paths too long");
        return -1;
    }
    /* A context per connection costs about 0.25 ms (the handshake 2.5);
     * one per node would need freeing wherever a node is forgotten, and
     * copies of an fx_node (tests pass them by value) would share it. */
    redisSSLContextError ctx_err = REDIS_SSL_CTX_NONE;
#if HIREDIS_MAJOR > 1 || (HIREDIS_MAJOR == 1 && HIREDIS_MINOR >= 2)
    /* The launcher trusts the servers it started: tests run them with
     * expired.crt or other-server.crt on purpose, and rejecting those is the
     * library's job. The client certificate still goes out (auth_clients). */
    redisSSLOptions opts = {.cacert_filename = ca,
                            .cert_filename = cert,
                            .private_key_filename = key,
                            .verify_mode = REDIS_SSL_VERIFY_NONE};
    redisSSLContext *ctx = redisCreateSSLContextWithOptions(&opts, &ctx_err);
#else
    /* hiredis_ssl < 1.2 always verifies: nodes with a certificate that
     * ca.crt does not vouch for (expired, other-ca) never become ready. */
    redisSSLContext *ctx = redisCreateSSLContext(ca, NULL, cert, key, NULL, &ctx_err);
#endif
    if (!ctx) {
        snprintf(err, len, "TLS context from %s: %s", n->tls_dir,
                 redisSSLContextGetError(ctx_err));
        return -1;
    }
    int rc = redisInitiateSSLWithContext(c, ctx);
    /* Safe to free now: the SSL object holds its own reference to the
     * SSL_CTX, and redisFree(c) releases the SSL object. */
    redisFreeSSLContext(ctx);
    if (rc != REDIS_OK) {
        snprintf(err, len, "TLS handshake: %s", c->errstr[0] ? c->errstr : "failed");
        return -1;
    }
    return 0;
}

#else /* !SPOOL_HAVE_TLS */

int fx_tls_make_certs(char *dir, size_t len)
{
    if (dir && len > 0)
        dir[0] = '\0';
    fprintf(stderr, "fx_tls_make_certs: the fixture was built without TLS (no hiredis_ssl)\n");
    return -1;
}

int fxi_tls_node_init(fx_node *n, const fx_tls *t, const char *what)
{
    n->tls = 0;
    if (!t)
        return 0;
    fprintf(stderr, "%s: TLS asked for, but the fixture was built without hiredis_ssl\n", what);
    return -1;
}

int fxi_tls_handshake(redisContext *c, const fx_node *n, char *err, size_t len)
{
    (void)c;
    (void)n;
    snprintf(err, len, "the fixture was built without TLS");
    return -1;
}

#endif
