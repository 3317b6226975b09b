/* bench --hotpath MODE N: N operations of one kind on one thread, each
 * loop a function of its own, for callgrind to count instructions in
 * (scripts/profile-hotpath runs it): time on this machine is too noisy for
 * differences of a few tens of nanoseconds, instruction counts are not.
 *   cycle      pool_get_writer + pool_put, no command
 *   pool       pool_get_writer + SET + pool_put (default options)
 *   dedicated  SET on a dedicated connection with the pool's socket timeout
 * The difference pool - dedicated is what the library adds per command on
 * the client's side, the reply guard and the write hook included. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "bench.h"

static void set_once(redisContext *c, int i)
{
    redisReply *r = redisCommand(c, "SET bench:hot:%d %s", i & 1023, "0123456789abcdef");
    if (r == NULL || r->type != REDIS_REPLY_STATUS)
        bench_die("SET failed: %s", c->errstr);
    freeReplyObject(r);
}

__attribute__((noinline)) static void hotpath_cycle(pool_t *p, long n)
{
    for (long i = 0; i < n; i++) {
        redisContext *c;
        if (pool_get_writer(p, &c) != 0)
            bench_die("pool_get_writer failed");
        pool_put(p, c);
    }
}

__attribute__((noinline)) static void hotpath_pool(pool_t *p, long n)
{
    for (long i = 0; i < n; i++) {
        redisContext *c;
        if (pool_get_writer(p, &c) != 0)
            bench_die("pool_get_writer failed");
        set_once(c, (int)i);
        pool_put(p, c);
    }
}

__attribute__((noinline)) static void hotpath_dedicated(redisContext *c, long n)
{
    for (long i = 0; i < n; i++)
        set_once(c, (int)i);
}

/* Connections open, caches and allocator warm, outside the counted loops
 * (callgrind counts from a loop's function on: each is entered once). */
static void warm_up(pool_t *p, redisContext *d)
{
    for (int i = 0; i < 100; i++) {
        redisContext *c;
        if (pool_get_writer(p, &c) != 0)
            bench_die("pool_get_writer failed");
        set_once(c, i);
        pool_put(p, c);
        set_once(d, i);
    }
}

int bench_hotpath(const bench_server *srv, const char *mode, long n)
{
    pool_options_t po;
    bench_pool_options(srv, &po);
    pool_t *p = NULL;
    int rc = pool_create(&po, &p);
    if (rc != 0)
        bench_die("pool_create: %s", pool_err_name(rc));
    char err[200];
    redisContext *d = bench_connect(srv, po.command_timeout_ms, err, sizeof(err));
    if (d == NULL)
        bench_die("dedicated connection: %s", err);
    warm_up(p, d);
    if (strcmp(mode, "cycle") == 0)
        hotpath_cycle(p, n);
    else if (strcmp(mode, "pool") == 0)
        hotpath_pool(p, n);
    else if (strcmp(mode, "dedicated") == 0)
        hotpath_dedicated(d, n);
    else
        bench_die("--hotpath: unknown mode %s (cycle, pool or dedicated)", mode);
    redisFree(d);
    pool_destroy(p);
    return 0;
}
