/* The smallest useful sentinel_pool program: borrow a connection to the
 * master, run a command with plain hiredis, give it back.
 *
 *   basic 127.0.0.1:6379                      (a fixed master, no Sentinel)
 *   basic mymaster 127.0.0.1:26379,127.0.0.1:26380   (through Sentinel)
 */
#include <signal.h>
#include <stdio.h>

#include <sentinel_pool.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s host:port | master-name sentinels\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* hiredis writes with write(2): see the header */

    pool_options_t opts;
    pool_options_init(&opts);
    if (argc == 2) {
        opts.master_addr = argv[1];
    } else {
        opts.master_name = argv[1];
        opts.sentinels = argv[2];
    }
    opts.max_connections = 4;

    pool_t *pool = NULL;
    int rc = pool_create(&opts, &pool);
    if (rc != 0) {
        fprintf(stderr, "pool_create: %s (%s)\n", pool_strerror(rc), pool_err_name(rc));
        return 1;
    }

    for (int i = 0; i < 3; i++) {
        redisContext *c = NULL;
        rc = pool_get_writer(pool, &c);
        if (rc != 0) {
            fprintf(stderr, "pool_get_writer: %s\n", pool_strerror(rc));
            break;
        }
        redisReply *r = redisCommand(c, "INCR sentinel_pool:example");
        if (r != NULL && r->type == REDIS_REPLY_INTEGER)
            printf("INCR sentinel_pool:example -> %lld\n", r->integer);
        else
            fprintf(stderr, "INCR failed: %s\n", r ? r->str : c->errstr);
        if (r != NULL)
            freeReplyObject(r);
        pool_put(pool, c); /* always: a broken connection is closed, not reused */
    }

    char host[256];
    int port = 0;
    uint64_t gen = 0;
    if (pool_current_master(pool, host, sizeof(host), &port, &gen) == 0)
        printf("master %s:%d, writer generation %llu\n", host, port, (unsigned long long)gen);
    pool_stats_t st;
    pool_stats(pool, &st);
    printf("connections created %llu, checkouts %llu\n", (unsigned long long)st.created,
           (unsigned long long)st.checkouts);
    pool_destroy(pool);
    return rc == 0 ? 0 : 1;
}
