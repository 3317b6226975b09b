/* test_role.c: table tests for proto/role, what a node says it is: ROLE
 * replies (master, replica, sentinel, and hostile shapes) and the
 * replication section of INFO. Replies are built by feeding RESP bytes
 * through hiredis' own reader, so the parser sees exactly what it sees in
 * production. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "parse_util.h"
#include "proto/role.h"
#include "sentinel_pool.h"

/* ---- spool_role_parse ------------------------------------------------------ */

#define ROLE_MASTER1                                                                               \
    "*3\r\n$6\r\nmaster\r\n:1234\r\n*1\r\n*3\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n$4\r\n1234\r\n"
#define ROLE_SLAVE "*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n$9\r\nconnected\r\n:1234\r\n"

static void test_role_parse(void **state)
{
    (void)state;
    static const struct {
        const char *resp;
        size_t len;
        int want;
        spool_role_kind kind;
        long long offset;
        const char *host;
        int port;
        const char *link;
        int replicas;
    } t[] = {
        /* good */
        {S(ROLE_MASTER1), 0, SPOOL_ROLE_MASTER, 1234, "", 0, "", 1},
        {S("*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n"), 0, SPOOL_ROLE_MASTER, 0, "", 0, "", 0},
        {S("*3\r\n$6\r\nmaster\r\n:99\r\n*2\r\n*3\r\n$9\r\n127.0.0.1\r\n:6380\r\n:99\r\n"
           "*3\r\n$3\r\n::1\r\n$4\r\n6381\r\n$2\r\n98\r\n"),
         0, SPOOL_ROLE_MASTER, 99, "", 0, "", 2},
        {S(ROLE_SLAVE), 0, SPOOL_ROLE_REPLICA, 1234, "127.0.0.1", 6379, "connected", 0},
        {S("*5\r\n$7\r\nreplica\r\n$3\r\n::1\r\n$4\r\n6379\r\n$7\r\nconnect\r\n:-1\r\n"), 0,
         SPOOL_ROLE_REPLICA, -1, "::1", 6379, "connect", 0},
        {S("*5\r\n$5\r\nslave\r\n$11\r\nredis-0.svc\r\n:6379\r\n$4\r\nsync\r\n:0\r\n"), 0,
         SPOOL_ROLE_REPLICA, 0, "redis-0.svc", 6379, "sync", 0},
        {S("*2\r\n$8\r\nsentinel\r\n*1\r\n$8\r\nmymaster\r\n"), 0, SPOOL_ROLE_SENTINEL, 0, "", 0,
         "", 0},
        {S("*2\r\n$8\r\nsentinel\r\n*0\r\n"), 0, SPOOL_ROLE_SENTINEL, 0, "", 0, "", 0},
        /* wrong reply types */
        {S("+OK\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S(":1\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("$-1\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("*-1\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("-NOPERM this user has no permissions\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("$6\r\nmaster\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("*0\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("*1\r\n$7\r\nunknown\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("*1\r\n$6\r\nMASTER\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("*3\r\n:1\r\n:0\r\n*0\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("*3\r\n*1\r\n$6\r\nmaster\r\n:0\r\n*0\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("*3\r\n$7\r\nmaster\0\r\n:0\r\n*0\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        /* master: missing, extra, mistyped fields */
        {S("*1\r\n$6\r\nmaster\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("*2\r\n$6\r\nmaster\r\n:0\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("*4\r\n$6\r\nmaster\r\n:0\r\n*0\r\n:0\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("*3\r\n$6\r\nmaster\r\n$1\r\n0\r\n*0\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("*3\r\n$6\r\nmaster\r\n:-5\r\n*0\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("*3\r\n$6\r\nmaster\r\n:0\r\n$0\r\n\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("*3\r\n$6\r\nmaster\r\n:0\r\n*-1\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("*3\r\n$6\r\nmaster\r\n:0\r\n*1\r\n$9\r\n127.0.0.1\r\n"), POOL_EPROTO, 0, 0, NULL, 0,
         NULL, 0},
        {S("*3\r\n$6\r\nmaster\r\n:0\r\n*1\r\n*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n"),
         POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("*3\r\n$6\r\nmaster\r\n:0\r\n*1\r\n*4\r\n$1\r\na\r\n:1\r\n:1\r\n:1\r\n"), POOL_EPROTO, 0,
         0, NULL, 0, NULL, 0},
        {S("*3\r\n$6\r\nmaster\r\n:0\r\n*1\r\n*3\r\n*1\r\n$1\r\na\r\n:6380\r\n:0\r\n"), POOL_EPROTO,
         0, 0, NULL, 0, NULL, 0},
        {S("*3\r\n$6\r\nmaster\r\n:0\r\n*1\r\n*3\r\n:1\r\n:6380\r\n:0\r\n"), POOL_EPROTO, 0, 0,
         NULL, 0, NULL, 0},
        {S("*3\r\n$6\r\nmaster\r\n:0\r\n*1\r\n*3\r\n$3\r\na b\r\n:6380\r\n:0\r\n"), POOL_EPROTO, 0,
         0, NULL, 0, NULL, 0},
        {S("*3\r\n$6\r\nmaster\r\n:0\r\n*1\r\n*3\r\n$1\r\na\r\n:0\r\n:0\r\n"), POOL_EPROTO, 0, 0,
         NULL, 0, NULL, 0},
        {S("*3\r\n$6\r\nmaster\r\n:0\r\n*1\r\n*3\r\n$1\r\na\r\n$5\r\n65536\r\n:0\r\n"), POOL_EPROTO,
         0, 0, NULL, 0, NULL, 0},
        {S("*3\r\n$6\r\nmaster\r\n:0\r\n*1\r\n*3\r\n$1\r\na\r\n$3\r\nabc\r\n:0\r\n"), POOL_EPROTO,
         0, 0, NULL, 0, NULL, 0},
        {S("*3\r\n$6\r\nmaster\r\n:0\r\n*1\r\n*3\r\n$1\r\na\r\n$3\r\n80x\r\n:0\r\n"), POOL_EPROTO,
         0, 0, NULL, 0, NULL, 0},
        {S("*3\r\n$6\r\nmaster\r\n:0\r\n*1\r\n*3\r\n$1\r\na\r\n:-1\r\n:0\r\n"), POOL_EPROTO, 0, 0,
         NULL, 0, NULL, 0},
        {S("*3\r\n$6\r\nmaster\r\n:0\r\n*1\r\n*3\r\n$1\r\na\r\n:1\r\n$1\r\nx\r\n"), POOL_EPROTO, 0,
         0, NULL, 0, NULL, 0},
        {S("*3\r\n$6\r\nmaster\r\n:0\r\n*1\r\n*3\r\n$1\r\na\r\n:1\r\n$-1\r\n"), POOL_EPROTO, 0, 0,
         NULL, 0, NULL, 0},
        /* replica */
        {S("*4\r\n$5\r\nslave\r\n$1\r\na\r\n:6379\r\n$9\r\nconnected\r\n"), POOL_EPROTO, 0, 0, NULL,
         0, NULL, 0},
        {S("*6\r\n$5\r\nslave\r\n$1\r\na\r\n:6379\r\n$9\r\nconnected\r\n:1\r\n:1\r\n"),
         POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("*5\r\n$5\r\nslave\r\n$1\r\na\r\n:0\r\n$9\r\nconnected\r\n:1\r\n"), POOL_EPROTO, 0, 0,
         NULL, 0, NULL, 0},
        {S("*5\r\n$5\r\nslave\r\n$1\r\na\r\n$5\r\n70000\r\n$9\r\nconnected\r\n:1\r\n"), POOL_EPROTO,
         0, 0, NULL, 0, NULL, 0},
        {S("*5\r\n$5\r\nslave\r\n$1\r\na\r\n$0\r\n\r\n$9\r\nconnected\r\n:1\r\n"), POOL_EPROTO, 0,
         0, NULL, 0, NULL, 0},
        {S("*5\r\n$5\r\nslave\r\n$1\r\na\r\n*1\r\n:6379\r\n$9\r\nconnected\r\n:1\r\n"), POOL_EPROTO,
         0, 0, NULL, 0, NULL, 0},
        {S("*5\r\n$5\r\nslave\r\n$0\r\n\r\n:6379\r\n$9\r\nconnected\r\n:1\r\n"), POOL_EPROTO, 0, 0,
         NULL, 0, NULL, 0},
        {S("*5\r\n$5\r\nslave\r\n$-1\r\n:6379\r\n$9\r\nconnected\r\n:1\r\n"), POOL_EPROTO, 0, 0,
         NULL, 0, NULL, 0},
        {S("*5\r\n$5\r\nslave\r\n:1\r\n:6379\r\n$9\r\nconnected\r\n:1\r\n"), POOL_EPROTO, 0, 0,
         NULL, 0, NULL, 0},
        {S("*5\r\n$5\r\nslave\r\n$1\r\na\r\n:6379\r\n$16\r\nconnectedconnect\r\n:1\r\n"),
         POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("*5\r\n$5\r\nslave\r\n$1\r\na\r\n:6379\r\n$4\r\nsy c\r\n:1\r\n"), POOL_EPROTO, 0, 0,
         NULL, 0, NULL, 0},
        {S("*5\r\n$5\r\nslave\r\n$1\r\na\r\n:6379\r\n$0\r\n\r\n:1\r\n"), POOL_EPROTO, 0, 0, NULL, 0,
         NULL, 0},
        {S("*5\r\n$5\r\nslave\r\n$1\r\na\r\n:6379\r\n:1\r\n:1\r\n"), POOL_EPROTO, 0, 0, NULL, 0,
         NULL, 0},
        {S("*5\r\n$5\r\nslave\r\n$1\r\na\r\n:6379\r\n$9\r\nconnected\r\n$4\r\n1234\r\n"),
         POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("*5\r\n$5\r\nslave\r\n$1\r\na\r\n:6379\r\n$9\r\nconnected\r\n:-2\r\n"), POOL_EPROTO, 0,
         0, NULL, 0, NULL, 0},
        /* sentinel */
        {S("*1\r\n$8\r\nsentinel\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("*2\r\n$8\r\nsentinel\r\n$8\r\nmymaster\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("*2\r\n$8\r\nsentinel\r\n*1\r\n:1\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("*2\r\n$8\r\nsentinel\r\n*1\r\n*0\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
    };
    for (size_t i = 0; i < N_(t); i++) {
        redisReply *r = resp(t[i].resp, t[i].len);
        spool_role o;
        memset(&o, 0x5a, sizeof o);
        int rc = spool_role_parse(r, &o);
        ROW_RC(i, t[i].resp, rc, t[i].want);
        if (rc == 0) {
            assert_int_equal(o.kind, t[i].kind);
            assert_int_equal(o.offset, t[i].offset);
            assert_string_equal(o.master_host, t[i].host);
            assert_int_equal(o.master_port, t[i].port);
            assert_string_equal(o.link_state, t[i].link);
            assert_int_equal(o.connected_replicas, t[i].replicas);
        } else {
            assert_int_equal(o.kind, 0x5a5a5a5a); /* untouched */
        }
        freeReplyObject(r);
    }
}

static void test_role_parse_hostile(void **state)
{
    (void)state;
    spool_role o;
    /* A 10 kB master host. */
    char *big = repeat('h', 10240);
    buf b = {0};
    b_str(&b, "*5\r\n$5\r\nslave\r\n");
    b_bulk(&b, big, 10240);
    b_str(&b, ":6379\r\n$9\r\nconnected\r\n:1\r\n");
    redisReply *r = resp(b.p, b.len);
    assert_int_equal(spool_role_parse(r, &o), POOL_EPROTO);
    freeReplyObject(r);
    /* A master with 5000 replicas is fine: all are counted, the first
     * SPOOL_MAX_REPLICAS are kept (the candidates for reads), in order. */
    b.len = 0;
    b_str(&b, "*3\r\n$6\r\nmaster\r\n:7\r\n*5000\r\n");
    for (int i = 0; i < 5000; i++)
        b_fmt(&b, "*3\r\n$8\r\n10.0.0.1\r\n$5\r\n%d\r\n$1\r\n7\r\n", 10000 + i);
    r = resp(b.p, b.len);
    assert_int_equal(spool_role_parse(r, &o), 0);
    assert_int_equal(o.connected_replicas, 5000);
    assert_int_equal(o.nlisted, SPOOL_MAX_REPLICAS);
    for (int i = 0; i < SPOOL_MAX_REPLICAS; i++) {
        assert_string_equal(o.listed[i].addr.host, "10.0.0.1");
        assert_int_equal(o.listed[i].addr.port, 10000 + i);
        assert_int_equal(o.listed[i].offset, 7);
    }
    freeReplyObject(r);
    free(b.p);
    free(big);

    /* Replies built by hand with NULL where hiredis never puts one. */
    redisReply arr = {.type = REDIS_REPLY_ARRAY, .elements = 3, .element = NULL};
    assert_int_equal(spool_role_parse(&arr, &o), POOL_EPROTO);
    redisReply kind = {.type = REDIS_REPLY_STRING, .str = "master", .len = 6};
    redisReply *el[3] = {&kind, NULL, NULL};
    arr.element = el;
    assert_int_equal(spool_role_parse(&arr, &o), POOL_EPROTO);
    redisReply nostr = {.type = REDIS_REPLY_STRING, .str = NULL, .len = 6};
    el[0] = &nostr;
    assert_int_equal(spool_role_parse(&arr, &o), POOL_EPROTO);
    assert_int_equal(spool_role_parse(NULL, &o), POOL_EINVAL);
    assert_int_equal(spool_role_parse(&arr, NULL), POOL_EINVAL);
}

/* ---- spool_role_parse_info ------------------------------------------------- */

#define INFO_MASTER                                                                                \
    "# Replication\r\nrole:master\r\nconnected_slaves:2\r\n"                                       \
    "slave0:ip=127.0.0.1,port=6380,state=online,offset=1234,lag=0\r\n"                             \
    "slave1:ip=127.0.0.1,port=6381,state=online,offset=1234,lag=1\r\n"                             \
    "master_failover_state:no-failover\r\n"                                                        \
    "master_replid:8f1c6d8e2f9e4b7a1c0d3e5f7a9b1c3d5e7f9a1b\r\n"                                   \
    "master_replid2:0000000000000000000000000000000000000000\r\n"                                  \
    "master_repl_offset:1234\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:1\r\n"               \
    "repl_backlog_size:1048576\r\nrepl_backlog_first_byte_offset:1\r\n"                            \
    "repl_backlog_histlen:1234\r\n"

#define INFO_REPLICA_HEAD                                                                          \
    "# Replication\r\nrole:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:6379\r\n"

#define INFO_REPLICA_TAIL                                                                          \
    "master_last_io_seconds_ago:1\r\nmaster_sync_in_progress:0\r\n"                                \
    "slave_read_repl_offset:1234\r\nslave_repl_offset:1230\r\nslave_priority:100\r\n"              \
    "slave_read_only:1\r\nreplica_announced:1\r\nconnected_slaves:0\r\n"                           \
    "master_failover_state:no-failover\r\n"                                                        \
    "master_replid:8f1c6d8e2f9e4b7a1c0d3e5f7a9b1c3d5e7f9a1b\r\n"                                   \
    "master_repl_offset:1234\r\n"

static void test_role_parse_info(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t len;
        int want;
        spool_role_kind kind;
        long long offset;
        const char *host;
        int port;
        const char *link;
        int replicas;
    } t[] = {
        {S(INFO_MASTER), 0, SPOOL_ROLE_MASTER, 1234, "", 0, "", 2},
        {S(INFO_REPLICA_HEAD "master_link_status:up\r\n" INFO_REPLICA_TAIL), 0, SPOOL_ROLE_REPLICA,
         1230, "127.0.0.1", 6379, "connected", 0},
        {S(INFO_REPLICA_HEAD "master_link_status:down\r\n" INFO_REPLICA_TAIL), 0,
         SPOOL_ROLE_REPLICA, 1230, "127.0.0.1", 6379, "connect", 0},
        {S("role:slave\nmaster_host:::1\nmaster_port:6379\nmaster_link_status:up"), 0,
         SPOOL_ROLE_REPLICA, -1, "::1", 6379, "connected", 0},
        {S("role:master"), 0, SPOOL_ROLE_MASTER, 0, "", 0, "", 0},
        {S("\r\n\r\n# Replication\r\nrole:master\r\nnonsense line\r\n:\r\n"), 0,
         SPOOL_ROLE_MASTER, 0, "", 0, "", 0},
        /* bad */
        {S(""), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("# Replication\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("role:sentinel\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("role:\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("role:master \r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("role:master\r\nrole:slave\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("# role:master\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("role:slave\r\nmaster_port:6379\r\nmaster_link_status:up\r\n"), POOL_EPROTO, 0, 0, NULL,
         0, NULL, 0},
        {S("role:slave\r\nmaster_host:a\r\nmaster_link_status:up\r\n"), POOL_EPROTO, 0, 0, NULL, 0,
         NULL, 0},
        {S("role:slave\r\nmaster_host:a\r\nmaster_port:6379\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL,
         0},
        {S("role:slave\r\nmaster_host:a\r\nmaster_port:0\r\nmaster_link_status:up\r\n"),
         POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("role:slave\r\nmaster_host:a\r\nmaster_port:65536\r\nmaster_link_status:up\r\n"),
         POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("role:slave\r\nmaster_host:a\r\nmaster_port:abc\r\nmaster_link_status:up\r\n"),
         POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("role:slave\r\nmaster_host:a\r\nmaster_port:80x\r\nmaster_link_status:up\r\n"),
         POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("role:slave\r\nmaster_host:a\r\nmaster_port:-1\r\nmaster_link_status:up\r\n"),
         POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("role:slave\r\nmaster_host:a\r\nmaster_port:1\r\nmaster_link_status:maybe\r\n"),
         POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("role:slave\r\nmaster_host:\r\nmaster_port:1\r\nmaster_link_status:up\r\n"),
         POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("role:slave\r\nmaster_host:1.2\0.3.4\r\nmaster_port:1\r\nmaster_link_status:up\r\n"),
         POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("role:slave\r\nmaster_host:a b\r\nmaster_port:1\r\nmaster_link_status:up\r\n"),
         POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("role:slave\r\nmaster_host:a\r\nmaster_host:b\r\nmaster_port:1\r\n"
           "master_link_status:up\r\n"),
         POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("role:slave\r\nmaster_host:a\r\nmaster_port:1\r\nmaster_link_status:up\r\n"
           "slave_repl_offset:abc\r\n"),
         POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("role:slave\r\nmaster_host:a\r\nmaster_port:1\r\nmaster_link_status:up\r\n"
           "slave_repl_offset:-2\r\n"),
         POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("role:master\r\nconnected_slaves:-1\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("role:master\r\nconnected_slaves:99999999999\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("role:master\r\nmaster_repl_offset:abc\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
        {S("role:master\r\nmaster_repl_offset:99999999999999999999\r\n"), POOL_EPROTO, 0, 0, NULL,
         0, NULL, 0},
        {S("role:master\r\nmaster_repl_offset:\r\n"), POOL_EPROTO, 0, 0, NULL, 0, NULL, 0},
    };
    for (size_t i = 0; i < N_(t); i++) {
        spool_role o;
        memset(&o, 0x5a, sizeof o);
        int rc = spool_role_parse_info(t[i].s, t[i].len, &o);
        ROW_RC(i, t[i].s, rc, t[i].want);
        if (rc == 0) {
            assert_int_equal(o.kind, t[i].kind);
            assert_int_equal(o.offset, t[i].offset);
            assert_string_equal(o.master_host, t[i].host);
            assert_int_equal(o.master_port, t[i].port);
            assert_string_equal(o.link_state, t[i].link);
            assert_int_equal(o.connected_replicas, t[i].replicas);
        } else {
            assert_int_equal(o.kind, 0x5a5a5a5a);
        }
    }
    /* A 10 kB master_host line. */
    buf b = {0};
    char *big = repeat('h', 10240);
    b_str(&b, "role:slave\r\nmaster_host:");
    b_str(&b, big);
    b_str(&b, "\r\nmaster_port:1\r\nmaster_link_status:up\r\n");
    spool_role o;
    assert_int_equal(spool_role_parse_info(b.p, b.len, &o), POOL_EPROTO);
    /* Cut at every byte: never a crash, and a cut inside a value is never
     * mistaken for a longer one. */
    const char *full = INFO_REPLICA_HEAD "master_link_status:up\r\n" INFO_REPLICA_TAIL;
    for (size_t n = 0; n <= strlen(full); n++) {
        int rc = spool_role_parse_info(full, n, &o);
        assert_true(rc == 0 || rc == POOL_EPROTO);
        if (rc == 0)
            assert_int_equal(o.master_port, 6379);
    }
    assert_int_equal(spool_role_parse_info(NULL, 0, &o), POOL_EINVAL);
    assert_int_equal(spool_role_parse_info("role:master", 11, NULL), POOL_EINVAL);
    free(big);
    free(b.p);
}

/* A master's INFO lists its replicas as slave<N> lines: the same list ROLE
 * gives (online ones, with the offset each acknowledged), so that an ACL
 * user without ROLE gets replica reads and lag too. */
static void test_role_parse_info_replicas(void **state)
{
    (void)state;
    spool_role o;
    assert_int_equal(spool_role_parse_info(S(INFO_MASTER), &o), 0);
    assert_int_equal(o.nlisted, 2);
    assert_string_equal(o.listed[0].addr.host, "127.0.0.1");
    assert_int_equal(o.listed[0].addr.port, 6380);
    assert_int_equal(o.listed[0].offset, 1234);
    assert_int_equal(o.listed[1].addr.port, 6381);

#define M "role:master\r\nmaster_repl_offset:50\r\n"
    static const struct {
        const char *s;
        size_t len;
        int want;
        int nlisted;
        const char *host; /* of the first listed */
        int port;
        long long offset;
    } t[] = {
        {S(M "slave0:ip=10.0.0.7,port=6379,state=online,offset=42,lag=0\r\n"), 0, 1, "10.0.0.7",
         6379, 42},
        /* as ROLE: a replica still syncing is not listed */
        {S(M "slave0:ip=10.0.0.7,port=6379,state=wait_bgsave,offset=0,lag=0\r\n"
             "slave1:ip=10.0.0.8,port=6379,state=online,offset=7,lag=1\r\n"),
         0, 1, "10.0.0.8", 6379, 7},
        {S(M "slave0:ip=redis-1.redis-headless.svc,port=6379,state=online,offset=1,lag=0\r\n"), 0,
         1, "redis-1.redis-headless.svc", 6379, 1},
        {S(M "slave0:ip=::1,port=6380,state=online,offset=1,lag=0\r\n"), 0, 1, "::1", 6380, 1},
        {S(M "slave0:port=6380,state=online,lag=0,offset=3,ip=h\r\n"), 0, 1, "h", 6380, 3},
        {S(M "slave_priority:100\r\nslave_read_only:1\r\n"), 0, 0, NULL, 0, 0},
        /* bad */
        {S(M "slave0:port=6379,state=online,offset=1\r\n"), POOL_EPROTO, 0, NULL, 0, 0},
        {S(M "slave0:ip=a,state=online,offset=1\r\n"), POOL_EPROTO, 0, NULL, 0, 0},
        {S(M "slave0:ip=a,port=1,offset=1\r\n"), POOL_EPROTO, 0, NULL, 0, 0},
        {S(M "slave0:ip=a,port=1,state=online\r\n"), POOL_EPROTO, 0, NULL, 0, 0},
        {S(M "slave0:ip=a,port=0,state=online,offset=1\r\n"), POOL_EPROTO, 0, NULL, 0, 0},
        {S(M "slave0:ip=a,port=1,state=online,offset=-1\r\n"), POOL_EPROTO, 0, NULL, 0, 0},
        {S(M "slave0:ip=a,port=1,state=online,offset=x\r\n"), POOL_EPROTO, 0, NULL, 0, 0},
        {S(M "slave0:ip=a b,port=1,state=online,offset=1\r\n"), POOL_EPROTO, 0, NULL, 0, 0},
        {S(M "slave0:ip=,port=1,state=online,offset=1\r\n"), POOL_EPROTO, 0, NULL, 0, 0},
        {S(M "slave0:ip=a,ip=b,port=1,state=online,offset=1\r\n"), POOL_EPROTO, 0, NULL, 0, 0},
        {S(M "slave0:ip=a,port=1,state=,offset=1\r\n"), POOL_EPROTO, 0, NULL, 0, 0},
        {S(M "slave0:ip=a,port=1,state=online,offset=1,junk\r\n"), POOL_EPROTO, 0, NULL, 0, 0},
        {S(M "slave0:\r\n"), POOL_EPROTO, 0, NULL, 0, 0},
    };
#undef M
    for (size_t i = 0; i < N_(t); i++) {
        int rc = spool_role_parse_info(t[i].s, t[i].len, &o);
        ROW_RC(i, t[i].s, rc, t[i].want);
        if (rc != 0)
            continue;
        assert_int_equal(o.nlisted, t[i].nlisted);
        if (t[i].nlisted > 0) {
            assert_string_equal(o.listed[0].addr.host, t[i].host);
            assert_int_equal(o.listed[0].addr.port, t[i].port);
            assert_int_equal(o.listed[0].offset, t[i].offset);
        }
    }

    /* Many replicas: the first SPOOL_MAX_REPLICAS online ones, in order. */
    buf b = {0};
    b_str(&b, "role:master\r\n");
    for (int i = 0; i < 100; i++)
        b_fmt(&b, "slave%d:ip=10.0.0.1,port=%d,state=online,offset=9,lag=0\r\n", i, 7000 + i);
    assert_int_equal(spool_role_parse_info(b.p, b.len, &o), 0);
    assert_int_equal(o.nlisted, SPOOL_MAX_REPLICAS);
    assert_int_equal(o.listed[SPOOL_MAX_REPLICAS - 1].addr.port, 7000 + SPOOL_MAX_REPLICAS - 1);
    /* A replica's own replicas (chained replication): ROLE does not list
     * them, and neither does this. */
    b.len = 0;
    b_str(&b, INFO_REPLICA_HEAD "master_link_status:up\r\n"
              "slave0:ip=10.0.0.9,port=6379,state=online,offset=1,lag=0\r\n");
    assert_int_equal(spool_role_parse_info(b.p, b.len, &o), 0);
    assert_int_equal(o.kind, SPOOL_ROLE_REPLICA);
    assert_int_equal(o.nlisted, 0);
    free(b.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_role_parse),
        cmocka_unit_test(test_role_parse_hostile),
        cmocka_unit_test(test_role_parse_info),
        cmocka_unit_test(test_role_parse_info_replicas),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
