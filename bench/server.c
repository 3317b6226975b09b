/* A redis-server of our own: free loopback port, temporary directory, dies
 * with us (PR_SET_PDEATHSIG) and is stopped by pid at exit. Call from the
 * main thread: PDEATHSIG fires when the forking *thread* exits. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "bench.h"

bench_server *bench_server_current;

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

static int answers_ping(int port)
{
    struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (c == NULL)
        return 0;
    int ok = 0;
    if (!c->err) {
        redisReply *r = redisCommand(c, "PING");
        ok = r != NULL && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
        if (r != NULL)
            freeReplyObject(r);
    }
    redisFree(c);
    return ok;
}

static pid_t spawn(const char *dir, int port, int maxclients)
{
    char p[16], mc[16], log[128];
    snprintf(p, sizeof(p), "%d", port);
    snprintf(mc, sizeof(mc), "%d", maxclients);
    snprintf(log, sizeof(log), "%s/redis.log", dir);
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(127);
    if (chdir(dir) != 0)
        _exit(127);
    const char *prog = getenv("SENTINEL_POOL_SERVER"); /* e.g. valkey-server */
    if (prog == NULL || *prog == '\0')
        prog = "redis-server";
    execlp(prog, prog, "--port", p, "--bind", "127.0.0.1", "--save", "",
           "--appendonly", "no", "--daemonize", "no", "--dir", dir, "--maxclients", mc,
           "--logfile", log, (char *)NULL);
    _exit(127);
}

int bench_server_start(bench_server *s, int maxclients)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->dir, sizeof(s->dir), "/tmp/spool-bench-XXXXXX");
    if (mkdtemp(s->dir) == NULL) {
        fprintf(stderr, "bench: mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    bench_server_current = s;
    for (int attempt = 0; attempt < 5; attempt++) {
        int port = free_port();
        if (port <= 0)
            continue;
        pid_t pid = spawn(s->dir, port, maxclients);
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
            if (answers_ping(port)) {
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
    if (s->dir[0] != '\0') {
        nftw(s->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
        s->dir[0] = '\0';
    }
}
