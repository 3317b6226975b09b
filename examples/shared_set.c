/* Several pools, one per master name, on one shared sentinel set: one
 * watcher thread and two connections per sentinel for all of them.
 *
 *   shared_set 127.0.0.1:26379,127.0.0.1:26380 shard-1 shard-2 ...
 */
#include <stdio.h>

#include <sentinel_pool.h>

#define MAX_NAMES 16

int main(int argc, char **argv)
{
    if (argc < 3 || argc - 2 > MAX_NAMES) {
        fprintf(stderr, "usage: %s sentinels master-name [master-name ...] (up to %d)\n",
                argv[0], MAX_NAMES);
        return 2;
    }
    pool_options_t so;
    pool_options_init(&so);
    so.sentinels = argv[1];
    pool_sentinel_set_t *set = NULL;
    int rc = pool_sentinel_set_create(&so, &set);
    if (rc != 0) {
        fprintf(stderr, "pool_sentinel_set_create: %s\n", pool_strerror(rc));
        return 1;
    }

    pool_t *pools[MAX_NAMES] = {NULL};
    int n = 0;
    for (int i = 2; i < argc; i++) {
        pool_options_t o;
        pool_options_init(&o);
        o.sentinel_set = set; /* sentinels, their credentials and TLS: the set's */
        o.master_name = argv[i];
        o.max_connections = 4;
        rc = pool_create(&o, &pools[n]);
        if (rc != 0) {
            fprintf(stderr, "pool_create(%s): %s\n", argv[i], pool_strerror(rc));
            break;
        }
        n++;
    }
    /* The pools hold the set from here on; release it now or after them. */
    pool_sentinel_set_release(set);

    for (int i = 0; i < n; i++) {
        redisContext *c = NULL;
        if (pool_get_writer(pools[i], &c) != 0)
            continue;
        redisReply *r = redisCommand(c, "INCR sentinel_pool:example");
        if (r != NULL && r->type == REDIS_REPLY_INTEGER)
            printf("%s: INCR -> %lld on %s:%d\n", argv[i + 2], r->integer, c->tcp.host,
                   c->tcp.port);
        if (r != NULL)
            freeReplyObject(r);
        pool_put(pools[i], c);
    }
    for (int i = 0; i < n; i++)
        pool_destroy(pools[i]); /* the last one takes the set with it */
    return n == argc - 2 ? 0 : 1;
}
