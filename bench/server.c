/* A redis-server of our own: free loopback port, temporary directory, dies
 * with us (PR_SET_PDEATHSIG) and is stopped by pid at exit. Call from the
 * main thread: PDEATHSIG fires when the forking *thread* exits. A TLS-only
 * one gets test certificates made at start in its directory. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "bench.h"

extern char **environ;

/* The servers running, for the exit and signal handlers. */
#define MAX_LIVE 4
static bench_server *live[MAX_LIVE];

static void live_add(bench_server *s)
{
    for (int i = 0; i < MAX_LIVE; i++)
        if (live[i] == NULL) {
            live[i] = s;
            return;
        }
    bench_die("more than %d servers", MAX_LIVE);
}

static void live_remove(const bench_server *s)
{
    for (int i = 0; i < MAX_LIVE; i++)
        if (live[i] == s)
            live[i] = NULL;
}

void bench_servers_stop_all(void)
{
    for (int i = 0; i < MAX_LIVE; i++)
        bench_server_stop(live[i]);
}

void bench_servers_kill_all(void)
{
    for (int i = 0; i < MAX_LIVE; i++)
        if (live[i] != NULL && live[i]->pid > 0)
            kill(live[i]->pid, SIGKILL);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int answers_ping(const bench_server *s)
{
    char err[160];
    redisContext *c = bench_connect(s, 200, err, sizeof(err));
    if (c == NULL)
        return 0;
    redisReply *r = redisCommand(c, "PING");
    int ok = r != NULL && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
    if (r != NULL)
        freeReplyObject(r);
    redisFree(c);
    return ok;
}

/* bash make-certs.sh DIR, the script the tests use; it says on stderr what
 * failed. */
static int make_certs(const char *dir)
{
    char bash[] = "bash", script[] = SPOOL_SOURCE_DIR "/tests/support/make-certs.sh";
    char *argv[] = {bash, script, (char *)dir, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "bash", NULL, NULL, argv, environ);
    if (rc != 0) {
        fprintf(stderr, "bench: cannot run bash %s: %s\n", script, strerror(rc));
        return -1;
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bench: %s %s failed (status 0x%x)\n", script, dir, (unsigned)st);
        return -1;
    }
    return 0;
}

/* Certificates in the server's directory and the dedicated connections'
 * TLS context trusting their CA. */
static int tls_prepare(bench_server *s)
{
    char err[200];
    snprintf(s->ca_file, sizeof(s->ca_file), "%s/ca.crt", s->dir);
    if (make_certs(s->dir) != 0)
        return -1;
    if (bench_tls_context_new(s, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench: %s\n", err);
        return -1;
    }
    return 0;
}

static pid_t spawn(const bench_server *s, int port, int maxclients)
{
    char p[16], mc[16], log[128], cert[128], key[128];
    snprintf(p, sizeof(p), "%d", port);
    snprintf(mc, sizeof(mc), "%d", maxclients);
    snprintf(log, sizeof(log), "%s/redis.log", s->dir);
    snprintf(cert, sizeof(cert), "%s/server.crt", s->dir);
    snprintf(key, sizeof(key), "%s/server.key", s->dir);
    const char *prog = getenv("SENTINEL_POOL_SERVER"); /* e.g. valkey-server */
    if (prog == NULL || *prog == '\0')
        prog = "redis-server";
    /* TLS-only: port 0 closes the plaintext listener, so nothing in the
     * section can reach the server without TLS by mistake. */
    const char *plain[] = {"--port", p, NULL};
    const char *tls[] = {"--port", "0", "--tls-port", p, "--tls-cert-file", cert,
                         "--tls-key-file", key, "--tls-ca-cert-file", s->ca_file,
                         "--tls-auth-clients", "no", NULL};
    const char *common[] = {"--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                            "--daemonize", "no", "--dir", s->dir, "--maxclients", mc,
                            "--logfile", log, NULL};
    const char *argv[32];
    int n = 0;
    argv[n++] = prog;
    for (const char *const *a = s->tls ? tls : plain; *a != NULL; a++)
        argv[n++] = *a;
    for (const char *const *a = common; *a != NULL; a++)
        argv[n++] = *a;
    argv[n] = NULL;
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(127);
    if (chdir(s->dir) != 0)
        _exit(127);
    execvp(prog, (char *const *)argv);
    _exit(127);
}

int bench_server_start(bench_server *s, int maxclients, int tls)
{
    memset(s, 0, sizeof(*s));
    s->tls = tls;
    snprintf(s->dir, sizeof(s->dir), "/tmp/spool-bench-XXXXXX");
    if (mkdtemp(s->dir) == NULL) {
        fprintf(stderr, "bench: mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    live_add(s); /* from here on the exit handler removes the directory */
    if (tls && tls_prepare(s) != 0)
        return -1;
    for (int attempt = 0; attempt < 5; attempt++) {
        int port = free_port();
        if (port <= 0)
            continue;
        pid_t pid = spawn(s, port, maxclients);
        if (pid < 0) {
            fprintf(stderr, "bench: fork: %s\n", strerror(errno));
            return -1;
        }
        s->pid = pid;
        s->port = port;
        /* Up to 5 s; a child that exited lost the port race: try another. */
        for (int i = 0; i < 250; i++) {
            int st;
            if (waitpid(pid, &st, WNOHANG) == pid) {
                s->pid = 0;
                break;
            }
            if (answers_ping(s)) {
                snprintf(s->addr, sizeof(s->addr), "127.0.0.1:%d", port);
                return 0;
            }
            bench_sleep_s(0.02);
        }
        if (s->pid != 0) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, NULL, 0);
            s->pid = 0;
        }
    }
    fprintf(stderr, "bench: redis-server did not start (log in %s/redis.log)\n", s->dir);
    return -1;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void bench_server_stop(bench_server *s)
{
    if (s == NULL)
        return;
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        int done = 0;
        for (int i = 0; i < 150 && !done; i++) {
            if (waitpid(s->pid, NULL, WNOHANG) == s->pid)
                done = 1;
            else
                bench_sleep_s(0.02);
        }
        if (!done) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, NULL, 0);
        }
        s->pid = 0;
    }
    bench_tls_context_free(s);
    if (s->dir[0] != '\0') {
        nftw(s->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
        s->dir[0] = '\0';
    }
    live_remove(s);
}
