/* Section 5: memory per connection, pool versus raw hiredis contexts. Each
 * figure comes from a fresh process (this binary re-executed with
 * --mem-child), so neither side inherits the other's freed heap: the child
 * reads its RSS and heap in use, opens N connections, reads them again. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "bench.h"

typedef struct mem_sample {
    long rss0, rss1, heap0, heap1;
} mem_sample;

int bench_memory_child(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    const char *kind = argv[0], *addr = argv[2];
    int n = atoi(argv[1]);
    const char *colon = strrchr(addr, ':');
    if (n <= 0 || colon == NULL)
        return 2;
    int port = atoi(colon + 1);
    bench_raise_nofile(n + 64);
    /* The application keeps its connections somewhere either way: allocate
     * that array before the first reading, then settle stdio and malloc. */
    redisContext **cs = calloc((size_t)n, sizeof(*cs));
    if (cs == NULL)
        return 3;
    (void)bench_rss_bytes();
    mem_sample m;
    m.heap0 = bench_heap_bytes();
    m.rss0 = bench_rss_bytes();
    pool_t *pool = NULL;
    if (strcmp(kind, "raw") == 0) {
        for (int i = 0; i < n; i++) {
            cs[i] = redisConnect("127.0.0.1", port);
            if (cs[i] == NULL || cs[i]->err)
                return 4;
            /* One round trip, as the pool's handshake does one: both sides
             * then hold hiredis' buffers in their used state. */
            redisReply *r = redisCommand(cs[i], "PING");
            if (r == NULL)
                return 4;
            freeReplyObject(r);
        }
    } else {
        pool_options_t o;
        pool_options_init(&o);
        o.master_addr = addr;
        o.max_connections = n;
        if (pool_create(&o, &pool) != 0)
            return 5;
        for (int i = 0; i < n; i++)
            if (pool_get_writer(pool, &cs[i]) != 0)
                return 5;
    }
    m.heap1 = bench_heap_bytes();
    m.rss1 = bench_rss_bytes();
    printf("%ld %ld %ld %ld\n", m.rss0, m.rss1, m.heap0, m.heap1);
    fflush(stdout);
    for (int i = 0; i < n; i++) {
        if (pool != NULL)
            pool_put(pool, cs[i]);
        else
            redisFree(cs[i]);
    }
    pool_destroy(pool);
    free(cs);
    return 0;
}

static void run_child(const char *self_exe, const char *kind, int n, const char *addr,
                      mem_sample *out)
{
    int fds[2];
    if (pipe(fds) != 0)
        bench_die("pipe failed");
    char nbuf[16];
    snprintf(nbuf, sizeof(nbuf), "%d", n);
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        bench_die("fork failed");
    if (pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(127);
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl(self_exe, self_exe, "--mem-child", kind, nbuf, addr, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char buf[256];
    size_t len = 0;
    ssize_t k;
    while (len < sizeof(buf) - 1 && (k = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0)
        len += (size_t)k;
    buf[len] = '\0';
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 ||
        sscanf(buf, "%ld %ld %ld %ld", &out->rss0, &out->rss1, &out->heap0, &out->heap1) != 4)
        bench_die("memory child (%s, %d connections) failed, status %d", kind, n, st);
}

void bench_memory(const bench_opts *o, const bench_server *srv, const char *self_exe,
                  mem_result *out)
{
    int n = o->mem_conns;
    memset(out, 0, sizeof(*out));
    out->conns = n;
    for (int rep = 0; rep < o->reps; rep++) {
        mem_sample r1, rn, p1, pn;
        run_child(self_exe, "raw", 1, srv->addr, &r1);
        run_child(self_exe, "pool", 1, srv->addr, &p1);
        run_child(self_exe, "raw", n, srv->addr, &rn);
        run_child(self_exe, "pool", n, srv->addr, &pn);
        series_add(&out->raw_rss1, (double)r1.rss1);
        series_add(&out->raw_rssN, (double)rn.rss1);
        series_add(&out->pool_rss1, (double)p1.rss1);
        series_add(&out->pool_rssN, (double)pn.rss1);
        series_add(&out->raw_drss1, (double)(r1.rss1 - r1.rss0));
        series_add(&out->raw_drssN, (double)(rn.rss1 - rn.rss0));
        series_add(&out->pool_drss1, (double)(p1.rss1 - p1.rss0));
        series_add(&out->pool_drssN, (double)(pn.rss1 - pn.rss0));
        series_add(&out->raw_dheap1, (double)(r1.heap1 - r1.heap0));
        series_add(&out->raw_dheapN, (double)(rn.heap1 - rn.heap0));
        series_add(&out->pool_dheap1, (double)(p1.heap1 - p1.heap0));
        series_add(&out->pool_dheapN, (double)(pn.heap1 - pn.heap0));
        /* Per connection: the slope between 1 and N connections, so fixed
         * costs (the pool object, its housekeeper thread) drop out. */
        double k = n > 1 ? n - 1 : 1;
        double raw_rss = ((rn.rss1 - rn.rss0) - (r1.rss1 - r1.rss0)) / k;
        double pool_rss = ((pn.rss1 - pn.rss0) - (p1.rss1 - p1.rss0)) / k;
        double raw_heap = ((rn.heap1 - rn.heap0) - (r1.heap1 - r1.heap0)) / k;
        double pool_heap = ((pn.heap1 - pn.heap0) - (p1.heap1 - p1.heap0)) / k;
        series_add(&out->raw_rss_per_conn, raw_rss);
        series_add(&out->pool_rss_per_conn, pool_rss);
        series_add(&out->raw_heap_per_conn, raw_heap);
        series_add(&out->pool_heap_per_conn, pool_heap);
        series_add(&out->extra_rss_per_conn, pool_rss - raw_rss);
        series_add(&out->extra_heap_per_conn, pool_heap - raw_heap);
        fprintf(stderr, "  memory: rep %d/%d done\n", rep + 1, o->reps);
    }
}
