/* fx_node.c: spawning, readiness, signals and stopping of single servers. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "fx_internal.h"

extern char **environ;

#define FXI_PORT_ATTEMPTS 20
#define FXI_READY_DEFAULT_MS 10000
#define FXI_STOP_GRACE_MS 2000
#define FXI_TAIL_LINES 25

enum { FXI_READY_OK = 0, FXI_READY_FAIL = -1, FXI_READY_PORT_TAKEN = -2 };

/* ------------------------------------------------------------------------ */
/* Small utilities                                                          */
/* ------------------------------------------------------------------------ */

int64_t fx_now_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        abort(); /* CLOCK_MONOTONIC cannot fail on Linux */
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fx_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static long file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return 0;
    return (long)st.st_size;
}

void fxi_tail(const char *path, int lines)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    char buf[8192];
    long size = file_size(path);
    long start = size > (long)sizeof(buf) - 1 ? size - (long)sizeof(buf) + 1 : 0;
    if (fseek(f, start, SEEK_SET) != 0) {
        fclose(f);
        return;
    }
    size_t got = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[got] = '\0';
    if (got == 0)
        return;
    /* Walk back over `lines` newlines (ignoring a trailing one). */
    size_t end = got;
    if (end > 0 && buf[end - 1] == '\n')
        end--;
    size_t pos = end;
    int seen = 0;
    while (pos > 0) {
        if (buf[pos - 1] == '\n' && ++seen == lines)
            break;
        pos--;
    }
    fprintf(stderr, "    --- tail of %s ---\n", path);
    const char *p = buf + pos;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        fprintf(stderr, "    | %.*s\n", (int)l, p);
        if (!nl)
            break;
        p = nl + 1;
    }
}

/* Does `path`, from byte `offset` on, contain `needle`? */
static int file_contains_since(const char *path, long offset, const char *needle)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    if (fseek(f, offset, SEEK_SET) != 0) {
        fclose(f);
        return 0;
    }
    char buf[16384];
    size_t got = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[got] = '\0';
    return strstr(buf, needle) != NULL;
}

static int path_join(char *out, size_t len, const char *dir, const char *name)
{
    int w = snprintf(out, len, "%s/%s", dir, name);
    return (w < 0 || (size_t)w >= len) ? -1 : 0;
}

static void out_log_path(const fx_node *n, char *out, size_t len)
{
    if (path_join(out, len, n->dir, "stdout.log") != 0)
        out[0] = '\0';
}

void fx_node_dump(const fx_node *n)
{
    if (!n || n->dir[0] == '\0')
        return;
    char out[512];
    fxi_tail(n->log, FXI_TAIL_LINES);
    out_log_path(n, out, sizeof(out));
    if (out[0] && file_size(out) > 0)
        fxi_tail(out, FXI_TAIL_LINES);
}

int fxi_info_field(const char *info, const char *key, char *out, size_t outlen)
{
    size_t kl = strlen(key);
    const char *p = info;
    while (p && *p) {
        if (strncmp(p, key, kl) == 0 && p[kl] == ':') {
            const char *v = p + kl + 1;
            size_t l = strcspn(v, "\r\n");
            if (l >= outlen)
                l = outlen - 1;
            memcpy(out, v, l);
            out[l] = '\0';
            return 0;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -1;
}

const char *fxi_kv(const redisReply *r, const char *key)
{
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && strcmp(k->str, key) == 0 &&
            (v->type == REDIS_REPLY_STRING || v->type == REDIS_REPLY_STATUS))
            return v->str;
    }
    return NULL;
}

long long fxi_reply_ll(const redisReply *r)
{
    if (!r)
        return -1;
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(r->str, &end, 10);
        if (errno != 0 || end == r->str || *end != '\0')
            return -1;
        return v;
    }
    return -1;
}

const char *fxi_node_host(const fx_node *n)
{
    return n->host[0] ? n->host : FXI_DEFAULT_HOST;
}

int fxi_free_port_on(const char *ip)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = 0;
    if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
        fprintf(stderr, "fx_free_port: %s is not an IPv4 address\n", ip);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "fx_free_port: socket: %s\n", strerror(errno));
        return -1;
    }
    socklen_t al = sizeof(a);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0) {
        fprintf(stderr, "fx_free_port: bind/getsockname on %s: %s\n", ip, strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

int fx_free_port(void)
{
    return fxi_free_port_on(FXI_DEFAULT_HOST);
}

/* ------------------------------------------------------------------------ */
/* SIGPIPE guard and connections                                            */
/* ------------------------------------------------------------------------ */

typedef struct {
    sigset_t old;
    int was_pending;
} sigpipe_guard;

static void sigpipe_block(sigpipe_guard *g)
{
    sigset_t set, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    g->was_pending = sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE);
    if (pthread_sigmask(SIG_BLOCK, &set, &g->old) != 0)
        sigemptyset(&g->old);
}

static void sigpipe_restore(sigpipe_guard *g)
{
    sigset_t set, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    if (!g->was_pending && sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE)) {
        /* Consume the SIGPIPE our own write raised before unblocking. */
        struct timespec zero = {0, 0};
        while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

static const char *node_kind(const fx_node *n)
{
    return n->is_sentinel ? "sentinel" : "redis";
}

redisContext *fxi_connect(const fx_node *n, int timeout_ms, int quiet)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(fxi_node_host(n), n->port, tv);
    if (!c) {
        if (!quiet)
            fprintf(stderr, "fx_connect: %s port %d: out of memory\n", node_kind(n), n->port);
        return NULL;
    }
    if (c->err) {
        if (!quiet)
            fprintf(stderr, "fx_connect: %s port %d: connect: %s\n", node_kind(n), n->port,
                    c->errstr);
        redisFree(c);
        return NULL;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        if (!quiet)
            fprintf(stderr, "fx_connect: %s port %d: setting timeout failed\n", node_kind(n),
                    n->port);
        redisFree(c);
        return NULL;
    }
    if (n->tls) {
        char why[256];
        sigpipe_guard g;
        sigpipe_block(&g);
        int rc = fxi_tls_handshake(c, n, why, sizeof(why));
        sigpipe_restore(&g);
        if (rc != 0) {
            if (!quiet)
                fprintf(stderr, "fx_connect: %s port %d: %s\n", node_kind(n), n->port, why);
            redisFree(c);
            return NULL;
        }
    }
    if (n->auth_pass[0]) {
        sigpipe_guard g;
        sigpipe_block(&g);
        redisReply *r = n->auth_user[0]
                            ? redisCommand(c, "AUTH %s %s", n->auth_user, n->auth_pass)
                            : redisCommand(c, "AUTH %s", n->auth_pass);
        sigpipe_restore(&g);
        int ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0;
        if (!ok && !quiet)
            fprintf(stderr, "fx_connect: %s port %d: AUTH%s%s failed: %s\n", node_kind(n),
                    n->port, n->auth_user[0] ? " as " : "", n->auth_user,
                    r ? (r->str ? r->str : "unexpected reply type") : c->errstr);
        if (r)
            freeReplyObject(r);
        if (!ok) {
            redisFree(c);
            return NULL;
        }
    }
    return c;
}

redisContext *fx_connect(const fx_node *n)
{
    return fxi_connect(n, 2000, 0);
}

redisContext *fx_connect_quiet(const fx_node *n, int timeout_ms)
{
    return fxi_connect(n, timeout_ms, 1);
}

redisContext *fx_connect_nonblock(const fx_node *n, int timeout_ms)
{
    redisContext *c = fxi_connect(n, timeout_ms, 1);
    if (!c || fx_set_nonblocking(c) != 0)
        return NULL;
    return c;
}

int fx_set_nonblocking(redisContext *c)
{
    /* hiredis has no call that turns a connected context non-blocking. Its
     * reads and writes, plain and TLS alike, take EAGAIN (or OpenSSL's
     * WANT_READ/WRITE) for "try later" exactly when REDIS_BLOCK is clear,
     * so the socket flag and that context flag are the whole switch. */
    int fl = fcntl(c->fd, F_GETFL);
    if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        redisFree(c);
        return -1;
    }
    c->flags &= ~REDIS_BLOCK;
    return 0;
}

redisReply *fxi_vcmd(const fx_node *n, int timeout_ms, int quiet, const char *fmt, va_list ap)
{
    redisContext *c = fxi_connect(n, timeout_ms, quiet);
    if (!c)
        return NULL;
    sigpipe_guard g;
    sigpipe_block(&g);
    redisReply *r = redisvCommand(c, fmt, ap);
    sigpipe_restore(&g);
    if (!r && !quiet)
        fprintf(stderr, "fx_cmd: %s port %d: %s\n", node_kind(n), n->port,
                c->errstr[0] ? c->errstr : "no reply");
    redisFree(c);
    return r;
}

redisReply *fxi_cmd(const fx_node *n, int timeout_ms, int quiet, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = fxi_vcmd(n, timeout_ms, quiet, fmt, ap);
    va_end(ap);
    return r;
}

redisReply *fx_cmd(const fx_node *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = fxi_vcmd(n, 2000, 0, fmt, ap);
    va_end(ap);
    return r;
}

/* The value of "field:" in INFO text, into buf. */
static int info_field(const char *info, const char *field, char *buf, size_t len)
{
    const char *v = strstr(info, field);
    if (v == NULL)
        return -1;
    v += strlen(field);
    snprintf(buf, len, "%.*s", (int)strcspn(v, "\r\n"), v);
    return 0;
}

int fx_server_version_text(const char *info, char *buf, size_t len)
{
    char v[64];
    /* Valkey also reports redis_version (7.2.4, for clients that check). */
    if (info != NULL && info_field(info, "valkey_version:", v, sizeof(v)) == 0)
        snprintf(buf, len, "Valkey %s", v);
    else if (info != NULL && info_field(info, "redis_version:", v, sizeof(v)) == 0)
        snprintf(buf, len, "Redis %s", v);
    else {
        snprintf(buf, len, "?");
        return -1;
    }
    return 0;
}

void fx_server_version(const fx_node *n, char *buf, size_t len)
{
    redisReply *r = fx_cmd(n, "INFO server");
    fx_server_version_text(r != NULL && r->type == REDIS_REPLY_STRING ? r->str : NULL, buf, len);
    freeReplyObject(r);
}

long long fx_connections_received(const fx_node *n)
{
    char v[32];
    long long count = -1;
    redisReply *r = fx_cmd(n, "INFO stats");
    if (r != NULL && r->type == REDIS_REPLY_STRING &&
        info_field(r->str, "total_connections_received:", v, sizeof(v)) == 0)
        count = atoll(v);
    freeReplyObject(r);
    return count;
}

/* ------------------------------------------------------------------------ */
/* Config files                                                             */
/* ------------------------------------------------------------------------ */

/* Redis config strings in double quotes, with \" and \\ escaped. */
static void conf_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void conf_kv(FILE *f, const char *key, const char *value)
{
    fprintf(f, "%s ", key);
    conf_quoted(f, value);
    fputc('\n', f);
}

static void conf_acl_users(FILE *f, const char *users)
{
    const char *p = users;
    while (*p) {
        size_t l = strcspn(p, "\n");
        while (l > 0 && (p[l - 1] == '\r' || p[l - 1] == ' '))
            l--;
        if (l > 0)
            fprintf(f, "%s%.*s\n", strncmp(p, "user ", 5) == 0 ? "" : "user ", (int)l, p);
        p += strcspn(p, "\n");
        if (*p)
            p++;
    }
}

static FILE *conf_open(const fx_node *n)
{
    FILE *f = fopen(n->conf, "we");
    if (!f)
        fprintf(stderr, "fx: cannot write %s: %s\n", n->conf, strerror(errno));
    return f;
}

static int conf_close(const fx_node *n, FILE *f)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        fprintf(stderr, "fx: error writing %s\n", n->conf);
        return -1;
    }
    return 0;
}

static void conf_path(FILE *f, const char *key, const char *dir, const char *name)
{
    char path[512]; /* fits: tls_dir and the names are bounded by fx_node */
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    conf_kv(f, key, path);
}

/* TLS only: port 0 leaves no plaintext way in. tls-replication makes
 * replicas and sentinels connect out over TLS (presenting the server
 * certificate as client certificate) and announce their tls-port. */
static void conf_tls(FILE *f, const fx_node *n)
{
    fprintf(f, "port 0\ntls-port %d\n", n->port);
    conf_path(f, "tls-cert-file", n->tls_dir, n->tls_cert);
    conf_path(f, "tls-key-file", n->tls_dir, n->tls_key);
    conf_path(f, "tls-ca-cert-file", n->tls_dir, "ca.crt");
    fprintf(f, "tls-auth-clients %s\ntls-replication yes\n", n->tls_auth_clients ? "yes" : "no");
}

/* Lines every server gets last, so extra_config cannot undo them. */
static void conf_fixed(FILE *f, const fx_node *n)
{
    fprintf(f, "daemonize no\nbind %s\n", fxi_node_host(n));
    if (n->tls)
        conf_tls(f, n);
    else
        fprintf(f, "port %d\n", n->port);
    conf_kv(f, "dir", n->dir);
    conf_kv(f, "logfile", n->log);
}

static int write_redis_conf(const fx_node *n, const void *ctx)
{
    const fx_redis_opts *o = ctx;
    FILE *f = conf_open(n);
    if (!f)
        return -1;
    fputs("# written by the sentinel_pool test fixture\n"
          "save \"\"\n"
          "appendonly no\n"
          "protected-mode no\n"
          "repl-diskless-sync-delay 0\n",
          f);
    if (o->requirepass)
        conf_kv(f, "requirepass", o->requirepass);
    if (o->masterauth)
        conf_kv(f, "masterauth", o->masterauth);
    if (o->masteruser)
        conf_kv(f, "masteruser", o->masteruser);
    if (o->replicaof_port > 0)
        fprintf(f, "replicaof %s %d\n", o->replicaof_host ? o->replicaof_host : "127.0.0.1",
                o->replicaof_port);
    if (n->name[0])
        conf_kv(f, "replica-announce-ip", n->name);
    if (o->acl_users)
        conf_acl_users(f, o->acl_users);
    if (o->extra_config)
        fprintf(f, "%s\n", o->extra_config);
    conf_fixed(f, n);
    return conf_close(n, f);
}

static int write_sentinel_conf(const fx_node *n, const void *ctx)
{
    const fx_sentinel_opts *o = ctx;
    const char *name = o->master_name ? o->master_name : "mymaster";
    FILE *f = conf_open(n);
    if (!f)
        return -1;
    /* resolve-hostnames before the monitor line, which may name a host. */
    fprintf(f,
            "# written by the sentinel_pool test fixture\n"
            "protected-mode no\n"
            "sentinel resolve-hostnames %s\n",
            o->hostnames ? "yes" : "no");
    if (o->hostnames)
        fputs("sentinel announce-hostnames yes\n", f);
    if (n->name[0])
        fprintf(f, "sentinel announce-ip %s\n", n->name);
    conf_fixed(f, n);
    if (o->requirepass)
        conf_kv(f, "requirepass", o->requirepass);
    fprintf(f, "sentinel monitor %s %s %d %d\n", name,
            o->master_host ? o->master_host : "127.0.0.1", o->master_port,
            o->quorum > 0 ? o->quorum : 2);
    fprintf(f, "sentinel down-after-milliseconds %s %d\n", name,
            o->down_after_ms > 0 ? o->down_after_ms : 1000);
    fprintf(f, "sentinel failover-timeout %s %d\n", name,
            o->failover_timeout_ms > 0 ? o->failover_timeout_ms : 10000);
    fprintf(f, "sentinel parallel-syncs %s %d\n", name,
            o->parallel_syncs > 0 ? o->parallel_syncs : 1);
    if (o->auth_user)
        fprintf(f, "sentinel auth-user %s %s\n", name, o->auth_user);
    if (o->auth_pass) {
        fprintf(f, "sentinel auth-pass %s ", name);
        conf_quoted(f, o->auth_pass);
        fputc('\n', f);
    }
    if (o->extra_config)
        fprintf(f, "%s\n", o->extra_config);
    return conf_close(n, f);
}

/* ------------------------------------------------------------------------ */
/* Processes                                                                */
/* ------------------------------------------------------------------------ */

/* A program by name (searched in PATH, then /usr/bin) or by path. */
static int find_program(const char *name, char *out, size_t len)
{
    if (strchr(name, '/') != NULL) {
        int w = snprintf(out, len, "%s", name);
        return w > 0 && (size_t)w < len && access(out, X_OK) == 0 ? 0 : -1;
    }
    const char *path = getenv("PATH");
    while (path && *path) {
        size_t l = strcspn(path, ":");
        int w = snprintf(out, len, "%.*s/%s", (int)l, path, name);
        if (l > 0 && w > 0 && (size_t)w < len && access(out, X_OK) == 0)
            return 0;
        path += l;
        if (*path)
            path++;
    }
    int w = snprintf(out, len, "/usr/bin/%s", name);
    return w > 0 && (size_t)w < len && access(out, X_OK) == 0 ? 0 : -1;
}

/* The first of the environment variables that is set, else NULL. The
 * FX_REDIS_* names are the fixture's older spellings. */
static const char *env_program(const char *name, const char *old_name)
{
    const char *e = getenv(name);
    if (e == NULL || *e == '\0')
        e = getenv(old_name);
    return e != NULL && *e != '\0' ? e : NULL;
}

/* Which programs run the data nodes and the sentinels:
 *   SENTINEL_POOL_SERVER    name or path [redis-server]  (e.g. valkey-server)
 *   SENTINEL_POOL_SENTINEL  name or path [redis-sentinel, or, when only
 *                           SENTINEL_POOL_SERVER is set, that program with
 *                           --sentinel, so one variable switches both]
 * Sets *as_server when the sentinel is a server started with --sentinel. */
static int find_exe(int sentinel, char *out, size_t len, int *as_server)
{
    const char *server = env_program("SENTINEL_POOL_SERVER", "FX_REDIS_SERVER");
    *as_server = 0;
    if (!sentinel) {
        if (find_program(server ? server : "redis-server", out, len) == 0)
            return 0;
        fprintf(stderr, "fx: %s not found (set SENTINEL_POOL_SERVER)\n",
                server ? server : "redis-server");
        return -1;
    }
    const char *sent = env_program("SENTINEL_POOL_SENTINEL", "FX_REDIS_SENTINEL");
    if (sent != NULL || server == NULL) {
        if (find_program(sent ? sent : "redis-sentinel", out, len) == 0)
            return 0;
        if (sent != NULL) {
            fprintf(stderr, "fx: %s not found (SENTINEL_POOL_SENTINEL)\n", sent);
            return -1;
        }
    }
    *as_server = 1;
    if (find_program(server ? server : "redis-server", out, len) == 0)
        return 0;
    fprintf(stderr, "fx: no sentinel program found (set SENTINEL_POOL_SENTINEL)\n");
    return -1;
}

/* In the child, dup2 onto itself keeps FD_CLOEXEC: clear it explicitly. */
static int child_dup(int from, int to)
{
    if (from == to) {
        int fl = fcntl(to, F_GETFD);
        return fl < 0 ? -1 : fcntl(to, F_SETFD, fl & ~FD_CLOEXEC);
    }
    return dup2(from, to) < 0 ? -1 : 0;
}

static int spawn(fx_node *n)
{
    char exe[512];
    char *argv[4];
    char arg_sentinel[] = "--sentinel";
    int as_server = 0;
    if (find_exe(n->is_sentinel, exe, sizeof(exe), &as_server) != 0)
        return -1;
    argv[2] = n->is_sentinel && as_server ? arg_sentinel : NULL;
    argv[0] = exe;
    argv[1] = n->conf;
    argv[3] = NULL;

    char outpath[512];
    out_log_path(n, outpath, sizeof(outpath));
    int outfd = open(outpath[0] ? outpath : "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                     0600);
    if (outfd < 0) {
        fprintf(stderr, "fx: open %s: %s\n", outpath, strerror(errno));
        return -1;
    }
    int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (nullfd < 0) {
        fprintf(stderr, "fx: open /dev/null: %s\n", strerror(errno));
        close(outfd);
        return -1;
    }
    long maxfd = sysconf(_SC_OPEN_MAX);
    if (maxfd < 0 || maxfd > 65536)
        maxfd = 65536;
    pid_t parent = getpid();

    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "fx: fork: %s\n", strerror(errno));
        close(outfd);
        close(nullfd);
        return -1;
    }
    if (pid == 0) {
        /* Child: async-signal-safe calls only (the test may have threads). */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
            _exit(126);
        if (getppid() != parent) /* parent already gone: PDEATHSIG missed */
            _exit(126);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        struct sigaction dfl;
        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        for (int s = 1; s < NSIG; s++)
            if (s != SIGKILL && s != SIGSTOP)
                sigaction(s, &dfl, NULL); /* fails harmlessly for RT gaps */
        if (child_dup(nullfd, 0) != 0 || child_dup(outfd, 1) != 0 || child_dup(outfd, 2) != 0)
            _exit(126);
        if (close_range(3, ~0U, 0) != 0)
            for (long fd = 3; fd < maxfd; fd++)
                close((int)fd);
        execve(exe, argv, environ);
        _exit(127);
    }
    close(outfd);
    close(nullfd);
    n->pid = pid;
    n->running = 1;
    n->stopped = 0;
    return 0;
}

/* Reap the node if it has exited. Returns 1 if it is (now) gone. */
static int reap_nohang(fx_node *n, int *status)
{
    if (!n->running)
        return 1;
    int st = 0;
    pid_t r;
    do {
        r = waitpid(n->pid, &st, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == 0)
        return 0;
    /* r == pid: exited; r < 0 (ECHILD): someone else reaped it. */
    n->running = 0;
    n->stopped = 0;
    if (status)
        *status = r == n->pid ? st : -1;
    return 1;
}

static void reap_block(fx_node *n)
{
    if (!n->running)
        return;
    while (waitpid(n->pid, NULL, 0) < 0 && errno == EINTR) {
    }
    n->running = 0;
    n->stopped = 0;
}

int fxi_node_usable(fx_node *n)
{
    return n->running && !n->stopped && !reap_nohang(n, NULL);
}

void fxi_stop_many(fx_node **nodes, size_t count, int grace_ms)
{
    for (size_t i = 0; i < count; i++) {
        fx_node *n = nodes[i];
        if (!n || !n->running)
            continue;
        kill(n->pid, SIGTERM);
        if (n->stopped)
            kill(n->pid, SIGCONT); /* a stopped process never sees SIGTERM */
    }
    int64_t deadline = fx_now_ms() + grace_ms;
    for (;;) {
        int left = 0;
        for (size_t i = 0; i < count; i++)
            if (nodes[i] && !reap_nohang(nodes[i], NULL))
                left++;
        if (left == 0 || fx_now_ms() >= deadline)
            break;
        fx_sleep_ms(FXI_POLL_STEP_MS);
    }
    for (size_t i = 0; i < count; i++) {
        fx_node *n = nodes[i];
        if (!n || !n->running)
            continue;
        fprintf(stderr, "fx: %s port %d pid %d ignored SIGTERM for %d ms: SIGKILL\n",
                node_kind(n), n->port, (int)n->pid, grace_ms);
        kill(n->pid, SIGKILL);
        reap_block(n);
    }
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0 && errno != ENOENT)
        fprintf(stderr, "fx: remove %s: %s\n", path, strerror(errno));
    return 0;
}

void fxi_remove_dir(const char *dir)
{
    const char *keep = getenv("FX_KEEP_DIRS");
    if (keep && *keep && strcmp(keep, "0") != 0)
        fprintf(stderr, "fx: keeping %s\n", dir);
    else if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
        fprintf(stderr, "fx: removing %s: %s\n", dir, strerror(errno));
}

static void remove_dir(fx_node *n)
{
    if (n->dir[0] == '\0')
        return;
    fxi_remove_dir(n->dir);
    n->dir[0] = '\0';
    n->conf[0] = '\0';
    n->log[0] = '\0';
}

void fx_node_stop(fx_node *n)
{
    if (!n)
        return;
    fx_node *one[1] = {n};
    fxi_stop_many(one, 1, FXI_STOP_GRACE_MS);
    remove_dir(n);
}

int fx_node_kill9(fx_node *n)
{
    if (!n || !n->running) {
        fprintf(stderr, "fx_node_kill9: port %d: not running\n", n ? n->port : -1);
        return -1;
    }
    if (kill(n->pid, SIGKILL) != 0) {
        fprintf(stderr, "fx_node_kill9: port %d pid %d: %s\n", n->port, (int)n->pid,
                strerror(errno));
        return -1;
    }
    reap_block(n);
    return 0;
}

/* Process state letter from /proc/<pid>/stat, or 0. */
static char proc_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t got = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[got] = '\0';
    char *p = strrchr(buf, ')'); /* comm may contain spaces or parens */
    return (p && p[1] == ' ') ? p[2] : 0;
}

static int signal_and_wait_state(fx_node *n, int sig, int want_stopped, const char *what)
{
    if (!n || !n->running) {
        fprintf(stderr, "%s: port %d: not running\n", what, n ? n->port : -1);
        return -1;
    }
    if (kill(n->pid, sig) != 0) {
        fprintf(stderr, "%s: port %d pid %d: %s\n", what, n->port, (int)n->pid,
                strerror(errno));
        return -1;
    }
    int64_t deadline = fx_now_ms() + 2000;
    for (;;) {
        char s = proc_state(n->pid);
        int is_stopped = s == 'T' || s == 't';
        if (s != 0 && is_stopped == want_stopped)
            break;
        if (s == 0 || s == 'Z' || fx_now_ms() >= deadline) {
            fprintf(stderr, "%s: port %d pid %d: state '%c' after signal\n", what, n->port,
                    (int)n->pid, s ? s : '?');
            return -1;
        }
        fx_sleep_ms(5);
    }
    n->stopped = want_stopped;
    return 0;
}

int fx_node_sigstop(fx_node *n)
{
    return signal_and_wait_state(n, SIGSTOP, 1, "fx_node_sigstop");
}

int fx_node_sigcont(fx_node *n)
{
    return signal_and_wait_state(n, SIGCONT, 0, "fx_node_sigcont");
}

/* ------------------------------------------------------------------------ */
/* Readiness and start                                                      */
/* ------------------------------------------------------------------------ */

static void describe_status(int status, char *buf, size_t len)
{
    if (status == -1)
        snprintf(buf, len, "exited (reaped elsewhere)");
    else if (WIFEXITED(status))
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(buf, len, "ended (status 0x%x)", (unsigned)status);
}

static int wait_ready(fx_node *n, int timeout_ms, long log_off, long out_off, const char *what)
{
    int64_t deadline = fx_now_ms() + timeout_ms;
    char last[160] = "no answer yet";
    for (;;) {
        int status = 0;
        if (reap_nohang(n, &status)) {
            char outpath[512];
            out_log_path(n, outpath, sizeof(outpath));
            if (file_contains_since(n->log, log_off, "Address already in use") ||
                (outpath[0] && file_contains_since(outpath, out_off, "Address already in use")))
                return FXI_READY_PORT_TAKEN;
            char desc[64];
            describe_status(status, desc, sizeof(desc));
            fprintf(stderr, "%s: port %d pid %d: server %s before answering PING\n", what,
                    n->port, (int)n->pid, desc);
            return FXI_READY_FAIL;
        }
        redisContext *c = fxi_connect(n, 250, 1);
        if (c) {
            /* Whoever answers may be a foreign process that hangs up. */
            sigpipe_guard g;
            sigpipe_block(&g);
            redisReply *r = redisCommand(c, "PING");
            int pong = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
            if (r && r->type == REDIS_REPLY_ERROR)
                snprintf(last, sizeof(last), "PING: %s", r->str);
            if (r)
                freeReplyObject(r);
            if (pong) {
                r = redisCommand(c, "INFO server");
                char pidbuf[32] = "";
                if (r && r->type == REDIS_REPLY_STRING &&
                    fxi_info_field(r->str, "process_id", pidbuf, sizeof(pidbuf)) == 0) {
                    if (atol(pidbuf) == (long)n->pid) {
                        freeReplyObject(r);
                        redisFree(c);
                        sigpipe_restore(&g);
                        return FXI_READY_OK;
                    }
                    /* Someone else answers on our port; ours will fail to
                     * bind and exit, which the next round detects. */
                    snprintf(last, sizeof(last), "port answered by pid %s, not ours", pidbuf);
                }
                if (r)
                    freeReplyObject(r);
            }
            redisFree(c);
            sigpipe_restore(&g);
        }
        if (fx_now_ms() >= deadline) {
            fprintf(stderr, "%s: port %d pid %d: not ready after %d ms (%s)\n", what, n->port,
                    (int)n->pid, timeout_ms, last);
            return FXI_READY_FAIL;
        }
        fx_sleep_ms(FXI_POLL_STEP_MS);
    }
}

static int make_dir(fx_node *n, const char *kind)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    int w = snprintf(n->dir, sizeof(n->dir), "%s/fx-%d-%s-XXXXXX", tmp, (int)getpid(), kind);
    if (w < 0 || (size_t)w >= sizeof(n->dir)) {
        fprintf(stderr, "fx: TMPDIR too long\n");
        n->dir[0] = '\0';
        return -1;
    }
    if (!mkdtemp(n->dir)) {
        fprintf(stderr, "fx: mkdtemp %s: %s\n", n->dir, strerror(errno));
        n->dir[0] = '\0';
        return -1;
    }
    const char *conf = n->is_sentinel ? "sentinel.conf" : "redis.conf";
    const char *log = n->is_sentinel ? "sentinel.log" : "redis.log";
    if (path_join(n->conf, sizeof(n->conf), n->dir, conf) != 0 ||
        path_join(n->log, sizeof(n->log), n->dir, log) != 0) {
        fprintf(stderr, "fx: path too long under %s\n", n->dir);
        remove_dir(n);
        return -1;
    }
    return 0;
}

typedef int (*write_conf_fn)(const fx_node *n, const void *ctx);

/* fixed_port > 0: that port, one attempt; else free ports, retried. */
static int start_common(fx_node *n, const char *what, write_conf_fn write_conf, const void *ctx,
                        int ready_ms, int fixed_port)
{
    char outpath[512];
    int attempts = fixed_port > 0 ? 1 : FXI_PORT_ATTEMPTS;
    for (int attempt = 1; attempt <= attempts; attempt++) {
        int port = fixed_port > 0 ? fixed_port : fxi_free_port_on(fxi_node_host(n));
        if (port < 0)
            break;
        n->port = port;
        if (write_conf(n, ctx) != 0)
            break;
        out_log_path(n, outpath, sizeof(outpath));
        long log_off = file_size(n->log);
        long out_off = outpath[0] ? file_size(outpath) : 0;
        if (spawn(n) != 0)
            break;
        int rc = wait_ready(n, ready_ms, log_off, out_off, what);
        if (rc == FXI_READY_OK)
            return 0;
        if (n->running) {
            kill(n->pid, SIGKILL);
            reap_block(n);
        }
        if (rc == FXI_READY_PORT_TAKEN) {
            if (fixed_port > 0) {
                fprintf(stderr, "%s: port %d on %s is taken\n", what, port, fxi_node_host(n));
                break;
            }
            fprintf(stderr, "%s: port %d was taken meanwhile (attempt %d), trying another\n",
                    what, port, attempt);
            continue;
        }
        fx_node_dump(n);
        break;
    }
    fprintf(stderr, "%s: failed (last port %d on %s, dir %s)\n", what, n->port,
            fxi_node_host(n), n->dir);
    remove_dir(n);
    return -1;
}

static void copy_str(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

/* A hostname as config files and Sentinel take it: letters, digits, '-'
 * and '.', 1..63 bytes. */
static int valid_name(const char *s)
{
    size_t l = strlen(s);
    return l > 0 && l < sizeof(((fx_node *)0)->name) &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") == l;
}

/* Copy bind_ip (NULL: 127.0.0.1) and announce (NULL: none) into n. */
static int node_addr_init(fx_node *n, const char *bind_ip, const char *announce, const char *what)
{
    struct in_addr a;
    const char *ip = bind_ip ? bind_ip : FXI_DEFAULT_HOST;
    if (strlen(ip) >= sizeof(n->host) || inet_pton(AF_INET, ip, &a) != 1) {
        fprintf(stderr, "%s: bind_ip %s is not an IPv4 address\n", what, ip);
        return -1;
    }
    if (announce && !valid_name(announce)) {
        fprintf(stderr, "%s: bad hostname to announce: \"%s\"\n", what, announce);
        return -1;
    }
    copy_str(n->host, sizeof(n->host), ip);
    copy_str(n->name, sizeof(n->name), announce);
    return 0;
}

int fx_redis_start(fx_node *n, const fx_redis_opts *o)
{
    fx_redis_opts none;
    if (!n)
        return -1;
    if (!o) {
        memset(&none, 0, sizeof(none));
        o = &none;
    }
    memset(n, 0, sizeof(*n));
    n->role = o->replicaof_port > 0 ? 'r' : 'm';
    if (o->auth_user || o->auth_pass) {
        copy_str(n->auth_user, sizeof(n->auth_user), o->auth_user);
        copy_str(n->auth_pass, sizeof(n->auth_pass), o->auth_pass);
    } else {
        copy_str(n->auth_pass, sizeof(n->auth_pass), o->requirepass);
    }
    if (node_addr_init(n, o->bind_ip, o->announce_host, "fx_redis_start") != 0 ||
        fxi_tls_node_init(n, o->tls, "fx_redis_start") != 0)
        return -1;
    if (make_dir(n, "redis") != 0)
        return -1;
    return start_common(n, "fx_redis_start", write_redis_conf, o,
                        o->ready_timeout_ms > 0 ? o->ready_timeout_ms : FXI_READY_DEFAULT_MS,
                        o->port);
}

static int debug_period(int v, int dflt)
{
    return v == 0 ? dflt : (v < 0 ? 0 : v);
}

void fxi_sentinel_apply_debug(const fx_node *n)
{
    const char *names[4] = {"ping-period", "publish-period", "info-period", "ask-period"};
    int vals[4] = {n->sdebug_ping_period_ms, n->sdebug_publish_period_ms,
                   n->sdebug_info_period_ms, n->sdebug_ask_period_ms};
    char nums[4][16];
    const char *argv[2 + 8];
    int argc = 0;
    argv[argc++] = "SENTINEL";
    argv[argc++] = "DEBUG";
    for (int i = 0; i < 4; i++) {
        if (vals[i] <= 0)
            continue;
        snprintf(nums[i], sizeof(nums[i]), "%d", vals[i]);
        argv[argc++] = names[i];
        argv[argc++] = nums[i];
    }
    if (argc == 2)
        return;
    redisContext *c = fxi_connect(n, 2000, 0);
    if (!c)
        return;
    sigpipe_guard g;
    sigpipe_block(&g);
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    sigpipe_restore(&g);
    if (!r || r->type == REDIS_REPLY_ERROR)
        fprintf(stderr, "fx: sentinel port %d: SENTINEL DEBUG not applied (%s); going on\n",
                n->port, r ? r->str : c->errstr);
    if (r)
        freeReplyObject(r);
    redisFree(c);
}

int fx_sentinel_start(fx_node *n, const fx_sentinel_opts *o)
{
    if (!n || !o || o->master_port <= 0) {
        fprintf(stderr, "fx_sentinel_start: master_port is required\n");
        return -1;
    }
    memset(n, 0, sizeof(*n));
    n->role = 's';
    n->is_sentinel = 1;
    copy_str(n->auth_pass, sizeof(n->auth_pass), o->requirepass);
    if (node_addr_init(n, o->bind_ip, o->announce_host, "fx_sentinel_start") != 0 ||
        fxi_tls_node_init(n, o->tls, "fx_sentinel_start") != 0)
        return -1;
    if (!o->no_debug_timing) {
        /* 300, not 100: with a faster ping, a crash failover aborts with
         * -failover-abort-no-good-slave (replica INFO judged stale after
         * 5 ping periods but refreshed only every 1000 ms while the master
         * is down). */
        n->sdebug_ping_period_ms = debug_period(o->ping_period_ms, 300);
        n->sdebug_publish_period_ms = debug_period(o->publish_period_ms, 200);
        n->sdebug_info_period_ms = debug_period(o->info_period_ms, 500);
        n->sdebug_ask_period_ms = debug_period(o->ask_period_ms, 100);
    }
    if (make_dir(n, "sentinel") != 0)
        return -1;
    if (start_common(n, "fx_sentinel_start", write_sentinel_conf, o,
                     o->ready_timeout_ms > 0 ? o->ready_timeout_ms : FXI_READY_DEFAULT_MS,
                     o->port) != 0)
        return -1;
    fxi_sentinel_apply_debug(n);
    return 0;
}

/* The config file with every "bind" line replaced by "bind <ip>". */
static int conf_rebind(const fx_node *n, const char *ip)
{
    FILE *in = fopen(n->conf, "re");
    if (!in) {
        fprintf(stderr, "fx_node_rebind: cannot read %s: %s\n", n->conf, strerror(errno));
        return -1;
    }
    char tmp[320];
    if (snprintf(tmp, sizeof(tmp), "%s.rebind", n->conf) >= (int)sizeof(tmp)) {
        fclose(in);
        return -1;
    }
    FILE *out = fopen(tmp, "we");
    if (!out) {
        fprintf(stderr, "fx_node_rebind: cannot write %s: %s\n", tmp, strerror(errno));
        fclose(in);
        return -1;
    }
    char line[4096];
    int binds = 0, bad = 0;
    while (fgets(line, sizeof(line), in) != NULL) {
        const char *p = line + strspn(line, " \t");
        size_t l = strlen(line);
        if (l == sizeof(line) - 1 && line[l - 1] != '\n')
            bad = 1; /* a line longer than any the fixture or a rewrite writes */
        if (strncmp(p, "bind", 4) == 0 && (p[4] == ' ' || p[4] == '\t')) {
            fprintf(out, "bind %s\n", ip);
            binds++;
        } else {
            fputs(line, out);
        }
    }
    if (ferror(in))
        bad = 1;
    fclose(in);
    if (binds == 0)
        fprintf(out, "bind %s\n", ip);
    if (ferror(out))
        bad = 1;
    if (fclose(out) != 0 || bad || rename(tmp, n->conf) != 0) {
        fprintf(stderr, "fx_node_rebind: rewriting %s failed\n", n->conf);
        remove(tmp);
        return -1;
    }
    return 0;
}

int fx_node_rebind(fx_node *n, const char *ip)
{
    struct in_addr a;
    if (!n || n->dir[0] == '\0') {
        fprintf(stderr, "fx_node_rebind: node was never started or already stopped\n");
        return -1;
    }
    if (!ip || strlen(ip) >= sizeof(n->host) || inet_pton(AF_INET, ip, &a) != 1) {
        fprintf(stderr, "fx_node_rebind: %s is not an IPv4 address\n", ip ? ip : "(null)");
        return -1;
    }
    if (n->running) {
        fx_node *one[1] = {n};
        fxi_stop_many(one, 1, FXI_STOP_GRACE_MS);
    }
    if (conf_rebind(n, ip) != 0)
        return -1;
    copy_str(n->host, sizeof(n->host), ip);
    return 0;
}

int fx_node_restart(fx_node *n)
{
    if (!n || n->dir[0] == '\0') {
        fprintf(stderr, "fx_node_restart: node was never started or already stopped\n");
        return -1;
    }
    if (n->running) {
        fx_node *one[1] = {n};
        fxi_stop_many(one, 1, FXI_STOP_GRACE_MS);
    }
    char outpath[512];
    out_log_path(n, outpath, sizeof(outpath));
    long log_off = file_size(n->log);
    long out_off = outpath[0] ? file_size(outpath) : 0;
    if (spawn(n) != 0)
        return -1;
    int rc = wait_ready(n, FXI_READY_DEFAULT_MS, log_off, out_off, "fx_node_restart");
    if (rc != FXI_READY_OK) {
        if (rc == FXI_READY_PORT_TAKEN)
            fprintf(stderr, "fx_node_restart: port %d is now used by another process\n",
                    n->port);
        if (n->running) {
            kill(n->pid, SIGKILL);
            reap_block(n);
        }
        fx_node_dump(n);
        return -1;
    }
    if (n->is_sentinel)
        fxi_sentinel_apply_debug(n);
    return 0;
}
