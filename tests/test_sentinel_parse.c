/* test_sentinel_parse.c: table tests for proto/sentinel_parse, the Sentinel
 * wire formats: the +switch-master and instance event payloads, the replies
 * to SENTINEL get-master-addr-by-name, replicas and sentinels, the flags
 * field, and pub/sub messages. Replies are built by feeding RESP bytes
 * through hiredis' own reader, so the parsers see exactly what they see in
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
#include "proto/addr.h"
#include "proto/sentinel_parse.h"
#include "sentinel_pool.h"

#define RUNID "5e6f1b8c0b7a5d9d2b1c3e4f5a6b7c8d9e0f1a2b"

/* ---- sp_parse_switch_master ------------------------------------------------ */

static void test_switch_master(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t len;
        int want;
        const char *name, *old_host;
        int old_port;
        const char *new_host;
        int new_port;
    } t[] = {
        {S("mymaster 127.0.0.1 6379 127.0.0.1 6380"), 0, "mymaster", "127.0.0.1", 6379,
         "127.0.0.1", 6380},
        {S("mymaster ::1 6379 ::1 6380"), 0, "mymaster", "::1", 6379, "::1", 6380},
        {S("cache-1 2001:db8::10 6379 2001:db8::11 6379"), 0, "cache-1", "2001:db8::10", 6379,
         "2001:db8::11", 6379},
        {S("mymaster redis-0.redis.svc 6379 redis-1.redis.svc 6379"), 0, "mymaster",
         "redis-0.redis.svc", 6379, "redis-1.redis.svc", 6379},
        {S("m 1.2.3.4 1 5.6.7.8 65535"), 0, "m", "1.2.3.4", 1, "5.6.7.8", 65535},
        /* truncated and extra */
        {S(""), POOL_EPROTO, NULL, NULL, 0, NULL, 0},
        {S("mymaster"), POOL_EPROTO, NULL, NULL, 0, NULL, 0},
        {S("mymaster 127.0.0.1 6379"), POOL_EPROTO, NULL, NULL, 0, NULL, 0},
        {S("mymaster 127.0.0.1 6379 127.0.0.1"), POOL_EPROTO, NULL, NULL, 0, NULL, 0},
        {S("mymaster 127.0.0.1 6379 127.0.0.1 6380 extra"), POOL_EPROTO, NULL, NULL, 0, NULL, 0},
        {S("mymaster 127.0.0.1 6379 127.0.0.1 6380 "), POOL_EPROTO, NULL, NULL, 0, NULL, 0},
        {S(" mymaster 127.0.0.1 6379 127.0.0.1 6380"), POOL_EPROTO, NULL, NULL, 0, NULL, 0},
        {S("mymaster  127.0.0.1 6379 127.0.0.1 6380"), POOL_EPROTO, NULL, NULL, 0, NULL, 0},
        {S("mymaster\t127.0.0.1 6379 127.0.0.1 6380"), POOL_EPROTO, NULL, NULL, 0, NULL, 0},
        {S("mymaster 127.0.0.1 6379 127.0.0.1 6380\r\n"), POOL_EPROTO, NULL, NULL, 0, NULL, 0},
        {S("mymaster 127.0.0.1 6379 127.0.0.1 6380\0"), POOL_EPROTO, NULL, NULL, 0, NULL, 0},
        /* ports */
        {S("m 1.2.3.4 0 5.6.7.8 6380"), POOL_EPROTO, NULL, NULL, 0, NULL, 0},
        {S("m 1.2.3.4 6379 5.6.7.8 0"), POOL_EPROTO, NULL, NULL, 0, NULL, 0},
        {S("m 1.2.3.4 6379 5.6.7.8 65536"), POOL_EPROTO, NULL, NULL, 0, NULL, 0},
        {S("m 1.2.3.4 6379 5.6.7.8 70000"), POOL_EPROTO, NULL, NULL, 0, NULL, 0},
        {S("m 1.2.3.4 6379 5.6.7.8 -1"), POOL_EPROTO, NULL, NULL, 0, NULL, 0},
        {S("m 1.2.3.4 6379 5.6.7.8 abc"), POOL_EPROTO, NULL, NULL, 0, NULL, 0},
        {S("m 1.2.3.4 6379 5.6.7.8 80x"), POOL_EPROTO, NULL, NULL, 0, NULL, 0},
        {S("m 1.2.3.4 6379 5.6.7.8 99999999999999999999"), POOL_EPROTO, NULL, NULL, 0, NULL, 0},
        /* names and hosts */
        {S("my\x01master 1.2.3.4 6379 5.6.7.8 6380"), POOL_EPROTO, NULL, NULL, 0, NULL, 0},
        {S("my\0master 1.2.3.4 6379 5.6.7.8 6380"), POOL_EPROTO, NULL, NULL, 0, NULL, 0},
        {S("m 1.2.\0.4 6379 5.6.7.8 6380"), POOL_EPROTO, NULL, NULL, 0, NULL, 0},
        {S("m 1.2.3.4 6379 5.6.7.\x80 6380"), POOL_EPROTO, NULL, NULL, 0, NULL, 0},
        /* A name is bytes: UTF-8 passes (the host may not, above). */
        {S("mym\xc3\xa4ster 1.2.3.4 6379 5.6.7.8 6380"), 0, "mym\xc3\xa4ster", "1.2.3.4", 6379,
         "5.6.7.8", 6380},
        {S("\xe6\x97\xa5\xe6\x9c\xac 1.2.3.4 6379 5.6.7.8 6380"), 0, "\xe6\x97\xa5\xe6\x9c\xac",
         "1.2.3.4", 6379, "5.6.7.8", 6380},
        /* Brackets are not a server's habit; passed through, getaddrinfo refuses them. */
        {S("m [::1] 6379 [::2] 6380"), 0, "m", "[::1]", 6379, "[::2]", 6380},
    };
    for (size_t i = 0; i < N_(t); i++) {
        sp_switch_master m;
        memset(&m, 0x5a, sizeof m);
        int rc = sp_parse_switch_master(t[i].s, t[i].len, &m);
        ROW_RC(i, t[i].s, rc, t[i].want);
        if (rc == 0) {
            assert_string_equal(m.name, t[i].name);
            assert_string_equal(m.old_addr.host, t[i].old_host);
            assert_int_equal(m.old_addr.port, t[i].old_port);
            assert_string_equal(m.new_addr.host, t[i].new_host);
            assert_int_equal(m.new_addr.port, t[i].new_port);
        } else {
            assert_int_equal(m.old_addr.port, 0x5a5a5a5a);
        }
    }
}

static void test_switch_master_long_fields(void **state)
{
    (void)state;
    sp_switch_master m;
    buf b = {0};
    char *n127 = repeat('n', 127), *n128 = repeat('n', 128), *h10k = repeat('h', 10240);
    b_fmt(&b, "%s 1.2.3.4 6379 5.6.7.8 6380", n127);
    assert_int_equal(sp_parse_switch_master(b.p, b.len, &m), 0);
    assert_string_equal(m.name, n127);
    b.len = 0;
    b_str(&b, n128);
    b_str(&b, " 1.2.3.4 6379 5.6.7.8 6380");
    assert_int_equal(sp_parse_switch_master(b.p, b.len, &m), POOL_EPROTO);
    b.len = 0;
    b_str(&b, "m ");
    b_str(&b, h10k);
    b_str(&b, " 6379 5.6.7.8 6380");
    assert_int_equal(sp_parse_switch_master(b.p, b.len, &m), POOL_EPROTO);
    /* Every prefix of a valid payload but the whole one is truncated. */
    const char *full = "mymaster 127.0.0.1 6379 127.0.0.1 6380";
    for (size_t n = 0; n < strlen(full); n++) {
        int rc = sp_parse_switch_master(full, n, &m);
        /* "... 127.0.0.1 638" and "63" are valid ports: the cut is
         * undetectable there, so only the address may differ. */
        if (rc == 0)
            assert_true(m.new_addr.port == 6 || m.new_addr.port == 63 || m.new_addr.port == 638);
        else
            assert_int_equal(rc, POOL_EPROTO);
    }
    assert_int_equal(sp_parse_switch_master(NULL, 0, &m), POOL_EINVAL);
    assert_int_equal(sp_parse_switch_master(full, strlen(full), NULL), POOL_EINVAL);
    free(n127);
    free(n128);
    free(h10k);
    free(b.p);
}

/* ---- sp_parse_instance_event ----------------------------------------------- */

static void test_instance_event(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t len;
        int want;
        sp_instance_kind kind;
        const char *name, *host;
        int port;
        const char *mname, *mhost;
        int mport;
        const char *rest;
    } t[] = {
        /* +sdown */
        {S("master mymaster 127.0.0.1 6379"), 0, SP_INSTANCE_MASTER, "mymaster", "127.0.0.1", 6379,
         "mymaster", "127.0.0.1", 6379, ""},
        /* +odown */
        {S("master mymaster 127.0.0.1 6379 #quorum 2/2"), 0, SP_INSTANCE_MASTER, "mymaster",
         "127.0.0.1", 6379, "mymaster", "127.0.0.1", 6379, "#quorum 2/2"},
        /* +slave */
        {S("slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379"), 0,
         SP_INSTANCE_REPLICA, "127.0.0.1:6380", "127.0.0.1", 6380, "mymaster", "127.0.0.1", 6379,
         ""},
        /* +sentinel */
        {S("sentinel " RUNID " 127.0.0.1 26380 @ mymaster 127.0.0.1 6379"), 0,
         SP_INSTANCE_SENTINEL, RUNID, "127.0.0.1", 26380, "mymaster", "127.0.0.1", 6379, ""},
        {S("slave [::1]:6380 ::1 6380 @ mymaster ::1 6379"), 0, SP_INSTANCE_REPLICA, "[::1]:6380",
         "::1", 6380, "mymaster", "::1", 6379, ""},
        /* +role-change */
        {S("slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379 new reported role is "
           "master"),
         0, SP_INSTANCE_REPLICA, "127.0.0.1:6380", "127.0.0.1", 6380, "mymaster", "127.0.0.1",
         6379, "new reported role is master"},
        {S("slave redis-1.svc:6379 redis-1.svc 6379 @ mymaster redis-0.svc 6379"), 0,
         SP_INSTANCE_REPLICA, "redis-1.svc:6379", "redis-1.svc", 6379, "mymaster", "redis-0.svc",
         6379, ""},
        {S("replica 10.0.0.2:6379 10.0.0.2 6379 @ m 10.0.0.1 6379"), 0, SP_INSTANCE_REPLICA,
         "10.0.0.2:6379", "10.0.0.2", 6379, "m", "10.0.0.1", 6379, ""},
        /* UTF-8 master names, as Sentinel prints them (+odown, +promoted-slave) */
        {S("master mym\xc3\xa4ster 127.0.0.1 6379 #quorum 2/2"), 0, SP_INSTANCE_MASTER,
         "mym\xc3\xa4ster", "127.0.0.1", 6379, "mym\xc3\xa4ster", "127.0.0.1", 6379, "#quorum 2/2"},
        {S("slave 127.0.0.1:6380 127.0.0.1 6380 @ mym\xc3\xa4ster 127.0.0.1 6379"), 0,
         SP_INSTANCE_REPLICA, "127.0.0.1:6380", "127.0.0.1", 6380, "mym\xc3\xa4ster", "127.0.0.1",
         6379, ""},
        /* master followed by "@ ...": the rest is free text */
        {S("master m 1.2.3.4 6379 @ x 1.2.3.4 1"), 0, SP_INSTANCE_MASTER, "m", "1.2.3.4", 6379, "m",
         "1.2.3.4", 6379, "@ x 1.2.3.4 1"},
        /* no instance prefix */
        {S("5"), POOL_EPROTO, 0, NULL, NULL, 0, NULL, NULL, 0, NULL},                  /* +new-epoch */
        {S("#tilt mode entered"), POOL_EPROTO, 0, NULL, NULL, 0, NULL, NULL, 0, NULL}, /* +tilt */
        {S("mymaster 127.0.0.1 6379 127.0.0.1 6380"), POOL_EPROTO, 0, NULL, NULL, 0, NULL, NULL, 0,
         NULL},
        {S(""), POOL_EPROTO, 0, NULL, NULL, 0, NULL, NULL, 0, NULL},
        {S("MASTER m 1.2.3.4 6379"), POOL_EPROTO, 0, NULL, NULL, 0, NULL, NULL, 0, NULL},
        {S("bogus m 1.2.3.4 6379"), POOL_EPROTO, 0, NULL, NULL, 0, NULL, NULL, 0, NULL},
        /* truncated */
        {S("master"), POOL_EPROTO, 0, NULL, NULL, 0, NULL, NULL, 0, NULL},
        {S("master m"), POOL_EPROTO, 0, NULL, NULL, 0, NULL, NULL, 0, NULL},
        {S("master m 1.2.3.4"), POOL_EPROTO, 0, NULL, NULL, 0, NULL, NULL, 0, NULL},
        {S("master m 1.2.3.4 "), POOL_EPROTO, 0, NULL, NULL, 0, NULL, NULL, 0, NULL},
        {S("slave 1.2.3.4:1 1.2.3.4 1"), POOL_EPROTO, 0, NULL, NULL, 0, NULL, NULL, 0, NULL},
        {S("slave 1.2.3.4:1 1.2.3.4 1 @"), POOL_EPROTO, 0, NULL, NULL, 0, NULL, NULL, 0, NULL},
        {S("slave 1.2.3.4:1 1.2.3.4 1 @ m 5.6.7.8"), POOL_EPROTO, 0, NULL, NULL, 0, NULL, NULL, 0,
         NULL},
        {S("slave 1.2.3.4:1 1.2.3.4 1 m 5.6.7.8 6379"), POOL_EPROTO, 0, NULL, NULL, 0, NULL, NULL,
         0, NULL},
        /* separators and bytes */
        {S("master m 1.2.3.4 6379 "), POOL_EPROTO, 0, NULL, NULL, 0, NULL, NULL, 0, NULL},
        {S("master m 1.2.3.4 6379  x"), POOL_EPROTO, 0, NULL, NULL, 0, NULL, NULL, 0, NULL},
        {S("master  m 1.2.3.4 6379"), POOL_EPROTO, 0, NULL, NULL, 0, NULL, NULL, 0, NULL},
        {S("master m 1.2.3.4 6379 #quorum\r\n2/2"), POOL_EPROTO, 0, NULL, NULL, 0, NULL, NULL, 0,
         NULL},
        {S("master m 1.2.3.4 6379 #quorum 2/2\0"), POOL_EPROTO, 0, NULL, NULL, 0, NULL, NULL, 0,
         NULL},
        {S("master m\0x 1.2.3.4 6379"), POOL_EPROTO, 0, NULL, NULL, 0, NULL, NULL, 0, NULL},
        {S("master m 1.2.3.4 0"), POOL_EPROTO, 0, NULL, NULL, 0, NULL, NULL, 0, NULL},
        {S("master m 1.2.3.4 65536"), POOL_EPROTO, 0, NULL, NULL, 0, NULL, NULL, 0, NULL},
        {S("master m 1.2.3.4 80x"), POOL_EPROTO, 0, NULL, NULL, 0, NULL, NULL, 0, NULL},
        {S("slave 1.2.3.4:1 1.2.3.4 1 @ m 5.6.7.8 70000"), POOL_EPROTO, 0, NULL, NULL, 0, NULL,
         NULL, 0, NULL},
        {S("slave 1.2.3.4:1 1.2.3.4 1 @ m 5.6.7.8 -1"), POOL_EPROTO, 0, NULL, NULL, 0, NULL, NULL,
         0, NULL},
        {S("slave 1.2.3.4:1 1.2.3.4 1 @@ m 5.6.7.8 6379"), POOL_EPROTO, 0, NULL, NULL, 0, NULL,
         NULL, 0, NULL},
    };
    for (size_t i = 0; i < N_(t); i++) {
        sp_instance_event ev;
        memset(&ev, 0x5a, sizeof ev);
        int rc = sp_parse_instance_event(t[i].s, t[i].len, &ev);
        ROW_RC(i, t[i].s, rc, t[i].want);
        if (rc == 0) {
            assert_int_equal(ev.kind, t[i].kind);
            assert_string_equal(ev.name, t[i].name);
            assert_string_equal(ev.addr.host, t[i].host);
            assert_int_equal(ev.addr.port, t[i].port);
            assert_string_equal(ev.master_name, t[i].mname);
            assert_string_equal(ev.master_addr.host, t[i].mhost);
            assert_int_equal(ev.master_addr.port, t[i].mport);
            assert_string_equal(ev.rest, t[i].rest);
            assert_int_equal(ev.rest_len, strlen(t[i].rest));
        } else {
            assert_int_equal(ev.kind, 0x5a5a5a5a);
        }
    }
}

static void test_instance_event_long_fields(void **state)
{
    (void)state;
    sp_instance_event ev;
    buf b = {0};
    /* Sentinel truncates events to 1023 bytes; a rest of 1023 still fits. */
    char *r1023 = repeat('r', SP_REST_MAX - 1), *r1024 = repeat('r', SP_REST_MAX);
    char *h10k = repeat('h', 10240), *n128 = repeat('n', 128);
    b_str(&b, "master m 1.2.3.4 6379 ");
    b_str(&b, r1023);
    assert_int_equal(sp_parse_instance_event(b.p, b.len, &ev), 0);
    assert_int_equal(ev.rest_len, SP_REST_MAX - 1);
    assert_string_equal(ev.rest, r1023);
    b.len = 0;
    b_str(&b, "master m 1.2.3.4 6379 ");
    b_str(&b, r1024);
    assert_int_equal(sp_parse_instance_event(b.p, b.len, &ev), POOL_EPROTO);
    b.len = 0;
    b_str(&b, "slave a:1 ");
    b_str(&b, h10k);
    b_str(&b, " 1 @ m 1.2.3.4 6379");
    assert_int_equal(sp_parse_instance_event(b.p, b.len, &ev), POOL_EPROTO);
    b.len = 0;
    b_str(&b, "slave a:1 1.2.3.4 1 @ ");
    b_str(&b, n128);
    b_str(&b, " 1.2.3.4 6379");
    assert_int_equal(sp_parse_instance_event(b.p, b.len, &ev), POOL_EPROTO);
    b.len = 0;
    b_str(&b, "master ");
    b_str(&b, n128);
    b_str(&b, " 1.2.3.4 6379");
    assert_int_equal(sp_parse_instance_event(b.p, b.len, &ev), POOL_EPROTO);
    assert_int_equal(sp_parse_instance_event(NULL, 0, &ev), POOL_EINVAL);
    assert_int_equal(sp_parse_instance_event("master m 1.2.3.4 1", 18, NULL), POOL_EINVAL);
    free(r1023);
    free(r1024);
    free(h10k);
    free(n128);
    free(b.p);
}

/* ---- sp_parse_master_addr_reply -------------------------------------------- */

static void test_master_addr_reply(void **state)
{
    (void)state;
    static const struct {
        const char *resp;
        size_t len;
        int want;
        const char *host;
        int port;
    } t[] = {
        {S("*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6379\r\n"), 0, "127.0.0.1", 6379},
        {S("*2\r\n$9\r\n127.0.0.1\r\n:6380\r\n"), 0, "127.0.0.1", 6380},
        {S("*2\r\n$3\r\n::1\r\n$4\r\n6379\r\n"), 0, "::1", 6379},
        {S("*2\r\n$11\r\nredis-0.svc\r\n$5\r\n65535\r\n"), 0, "redis-0.svc", 65535},
        {S("*2\r\n+10.0.0.1\r\n+1\r\n"), 0, "10.0.0.1", 1},
        /* unknown master */
        {S("$-1\r\n"), POOL_EUNKNOWNMASTER, NULL, 0},
        {S("*-1\r\n"), POOL_EUNKNOWNMASTER, NULL, 0},
        {S("-ERR No such master with that name\r\n"), POOL_EUNKNOWNMASTER, NULL, 0},
        /* other errors and wrong types */
        {S("-ERR unknown command 'SENTINEL'\r\n"), POOL_EPROTO, NULL, 0},
        {S("-NOAUTH Authentication required.\r\n"), POOL_EPROTO, NULL, 0},
        {S("-\r\n"), POOL_EPROTO, NULL, 0},
        {S("+OK\r\n"), POOL_EPROTO, NULL, 0},
        {S(":6379\r\n"), POOL_EPROTO, NULL, 0},
        {S("$9\r\n127.0.0.1\r\n"), POOL_EPROTO, NULL, 0},
        {S("*0\r\n"), POOL_EPROTO, NULL, 0},
        {S("*1\r\n$9\r\n127.0.0.1\r\n"), POOL_EPROTO, NULL, 0},
        {S("*3\r\n$9\r\n127.0.0.1\r\n$4\r\n6379\r\n$1\r\nx\r\n"), POOL_EPROTO, NULL, 0},
        {S("*2\r\n$9\r\n127.0.0.1\r\n$1\r\n0\r\n"), POOL_EPROTO, NULL, 0},
        {S("*2\r\n$9\r\n127.0.0.1\r\n$5\r\n65536\r\n"), POOL_EPROTO, NULL, 0},
        {S("*2\r\n$9\r\n127.0.0.1\r\n$5\r\n70000\r\n"), POOL_EPROTO, NULL, 0},
        {S("*2\r\n$9\r\n127.0.0.1\r\n:-1\r\n"), POOL_EPROTO, NULL, 0},
        {S("*2\r\n$9\r\n127.0.0.1\r\n:0\r\n"), POOL_EPROTO, NULL, 0},
        {S("*2\r\n$9\r\n127.0.0.1\r\n:65536\r\n"), POOL_EPROTO, NULL, 0},
        {S("*2\r\n$9\r\n127.0.0.1\r\n:9223372036854775807\r\n"), POOL_EPROTO, NULL, 0},
        {S("*2\r\n$9\r\n127.0.0.1\r\n$2\r\n-1\r\n"), POOL_EPROTO, NULL, 0},
        {S("*2\r\n$9\r\n127.0.0.1\r\n$3\r\nabc\r\n"), POOL_EPROTO, NULL, 0},
        {S("*2\r\n$9\r\n127.0.0.1\r\n$3\r\n80x\r\n"), POOL_EPROTO, NULL, 0},
        {S("*2\r\n$9\r\n127.0.0.1\r\n$3\r\n+80\r\n"), POOL_EPROTO, NULL, 0},
        {S("*2\r\n$9\r\n127.0.0.1\r\n$0\r\n\r\n"), POOL_EPROTO, NULL, 0},
        {S("*2\r\n$9\r\n127.0.0.1\r\n$-1\r\n"), POOL_EPROTO, NULL, 0},
        {S("*2\r\n$9\r\n127.0.0.1\r\n*1\r\n$4\r\n6379\r\n"), POOL_EPROTO, NULL, 0},
        {S("*2\r\n$9\r\n127.0.0.1\r\n-ERR 6379\r\n"), POOL_EPROTO, NULL, 0},
        {S("*2\r\n*1\r\n$9\r\n127.0.0.1\r\n$4\r\n6379\r\n"), POOL_EPROTO, NULL, 0},
        {S("*2\r\n:127\r\n$4\r\n6379\r\n"), POOL_EPROTO, NULL, 0},
        {S("*2\r\n$-1\r\n$4\r\n6379\r\n"), POOL_EPROTO, NULL, 0},
        {S("*2\r\n$0\r\n\r\n$4\r\n6379\r\n"), POOL_EPROTO, NULL, 0},
        {S("*2\r\n$10\r\n127.0\0.0.1\r\n$4\r\n6379\r\n"), POOL_EPROTO, NULL, 0},
        {S("*2\r\n$9\r\n127.0 0.1\r\n$4\r\n6379\r\n"), POOL_EPROTO, NULL, 0},
        {S("*2\r\n$11\r\n127.0.0.1\r\n\r\n$4\r\n6379\r\n"), POOL_EPROTO, NULL, 0},
    };
    for (size_t i = 0; i < N_(t); i++) {
        redisReply *r = resp(t[i].resp, t[i].len);
        spool_addr a = {"untouched", 42};
        int rc = sp_parse_master_addr_reply(r, &a);
        ROW_RC(i, t[i].resp, rc, t[i].want);
        if (rc == 0) {
            assert_string_equal(a.host, t[i].host);
            assert_int_equal(a.port, t[i].port);
        } else {
            assert_string_equal(a.host, "untouched");
            assert_int_equal(a.port, 42);
        }
        freeReplyObject(r);
    }
    /* A 10 kB host. */
    buf b = {0};
    char *big = repeat('h', 10240);
    b_arr(&b, 2);
    b_bulk(&b, big, 10240);
    b_str(&b, "$4\r\n6379\r\n");
    redisReply *r = resp(b.p, b.len);
    spool_addr a;
    assert_int_equal(sp_parse_master_addr_reply(r, &a), POOL_EPROTO);
    assert_int_equal(sp_parse_master_addr_reply(r, NULL), POOL_EINVAL);
    assert_int_equal(sp_parse_master_addr_reply(NULL, &a), POOL_EINVAL);
    freeReplyObject(r);
    free(big);
    free(b.p);
}

/* ---- sp_parse_instances_reply ---------------------------------------------- */

/* One entry as a NULL-terminated key/value list. A value starting with '='
 * is raw RESP (an integer, nil, nested array...); others become bulks. */
static void b_entry(buf *b, const char *const *kv)
{
    size_t n = 0;
    while (kv[n] != NULL)
        n++;
    b_arr(b, n);
    for (size_t i = 0; i < n; i++) {
        if (kv[i][0] == '=')
            b_str(b, kv[i] + 1);
        else
            b_bulk(b, kv[i], strlen(kv[i]));
    }
}

/* What Redis 7.0 sends for one replica, most of it ignored. */
#define REPLICA_KV(...)                                                                            \
    {"name", "127.0.0.1:6380", "ip", "127.0.0.1", "port", "6380", "runid", RUNID, "flags",        \
     "slave", "link-pending-commands", "0", "link-refcount", "1", "last-ping-sent", "0",           \
     "last-ok-ping-reply", "510", "last-ping-reply", "510", "down-after-milliseconds", "1000",     \
     "info-refresh", "5042", "role-reported", "slave", "role-reported-time", "100231",             \
     "master-link-down-time", "0", "master-link-status", "ok", "master-host", "127.0.0.1",         \
     "master-port", "6379", "slave-priority", "100", "replica-priority", "100",                    \
     "slave-repl-offset", "123456", "replica-announced", "1", __VA_ARGS__ NULL}

static void test_instances_reply(void **state)
{
    (void)state;
    static const struct {
        const char *kv[64];
        int want;
    } t[] = {
        {REPLICA_KV(), 0},
        /* a sentinel entry */
        {{"name", RUNID, "ip", "127.0.0.1", "port", "26380", "runid", RUNID, "flags", "sentinel",
          "link-pending-commands", "0", "last-hello-message", "312", "voted-leader", "?",
          "voted-leader-epoch", "0", NULL},
         0},
        /* minimal, integers instead of strings, odd but valid values */
        {{"name", "a:1", "ip", "a", "port", "=:1\r\n", NULL}, 0},
        {{"name", "a:1", "ip", "::1", "port", "=:65535\r\n", "slave-repl-offset", "=:0\r\n",
          "slave-priority", "=:0\r\n", NULL},
         0},
        {{"name", "a:1", "ip", "a", "port", "1", "flags", "", "runid", "", NULL}, 0},
        {{"name", "a:1", "ip", "a", "port", "1", "flags", "slave,,brand_new_flag,", NULL}, 0},
        {{"name", "a:1", "ip", "a", "port", "1", "master-host", "?", "master-port", "0",
          "master-link-status", "err", NULL},
         0},
        {{"name", "a:1", "ip", "a", "port", "1", "future-key", "=*2\r\n:1\r\n$-1\r\n", NULL}, 0},
        {{"name", "a:1", "ip", "a", "port", "1", "future-key", "=$-1\r\n", NULL}, 0},
        /* missing required keys */
        {{"ip", "a", "port", "1", NULL}, POOL_EPROTO},
        {{"name", "a:1", "port", "1", NULL}, POOL_EPROTO},
        {{"name", "a:1", "ip", "a", NULL}, POOL_EPROTO},
        {{NULL}, POOL_EPROTO},
        /* ports */
        {{"name", "a:1", "ip", "a", "port", "0", NULL}, POOL_EPROTO},
        {{"name", "a:1", "ip", "a", "port", "65536", NULL}, POOL_EPROTO},
        {{"name", "a:1", "ip", "a", "port", "70000", NULL}, POOL_EPROTO},
        {{"name", "a:1", "ip", "a", "port", "-1", NULL}, POOL_EPROTO},
        {{"name", "a:1", "ip", "a", "port", "abc", NULL}, POOL_EPROTO},
        {{"name", "a:1", "ip", "a", "port", "80x", NULL}, POOL_EPROTO},
        {{"name", "a:1", "ip", "a", "port", "=:-1\r\n", NULL}, POOL_EPROTO},
        {{"name", "a:1", "ip", "a", "port", "=$-1\r\n", NULL}, POOL_EPROTO},
        {{"name", "a:1", "ip", "a", "port", "=*1\r\n$4\r\n6379\r\n", NULL}, POOL_EPROTO},
        {{"name", "a:1", "ip", "a", "port", "1", "master-port", "65536", NULL}, POOL_EPROTO},
        {{"name", "a:1", "ip", "a", "port", "1", "master-port", "-1", NULL}, POOL_EPROTO},
        /* shapes */
        {{"name", "a:1", "ip", "a", "port", "1", "flags", NULL}, POOL_EPROTO},
        {{"name", "a:1", "ip", "a", "port", "1", "=:7\r\n", "x", NULL}, POOL_EPROTO},
        {{"name", "a:1", "ip", "a", "port", "1", "=$-1\r\n", "x", NULL}, POOL_EPROTO},
        {{"name", "a:1", "ip", "a", "port", "1", "=*0\r\n", "x", NULL}, POOL_EPROTO},
        {{"name", "a:1", "ip", "a", "ip", "b", "port", "1", NULL}, POOL_EPROTO},
        {{"name", "=*1\r\n$3\r\na:1\r\n", "ip", "a", "port", "1", NULL}, POOL_EPROTO},
        {{"name", "a:1", "ip", "=:1\r\n", "port", "1", NULL}, POOL_EPROTO},
        {{"name", "a:1", "ip", "=$-1\r\n", "port", "1", NULL}, POOL_EPROTO},
        {{"name", "a:1", "ip", "=-ERR x\r\n", "port", "1", NULL}, POOL_EPROTO},
        /* bad values */
        {{"name", "", "ip", "a", "port", "1", NULL}, POOL_EPROTO},
        {{"name", "a 1", "ip", "a", "port", "1", NULL}, POOL_EPROTO},
        {{"name", "a:1", "ip", "", "port", "1", NULL}, POOL_EPROTO},
        {{"name", "a:1", "ip", "a b", "port", "1", NULL}, POOL_EPROTO},
        {{"name", "a:1", "ip", "a", "port", "1", "runid", RUNID "0", NULL}, POOL_EPROTO},
        {{"name", "a:1", "ip", "a", "port", "1", "flags", "s_down slave", NULL}, POOL_EPROTO},
        {{"name", "a:1", "ip", "a", "port", "1", "flags", "=:1\r\n", NULL}, POOL_EPROTO},
        {{"name", "a:1", "ip", "a", "port", "1", "master-link-status", "maybe", NULL}, POOL_EPROTO},
        {{"name", "a:1", "ip", "a", "port", "1", "master-link-status", "=:1\r\n", NULL},
         POOL_EPROTO},
        {{"name", "a:1", "ip", "a", "port", "1", "slave-repl-offset", "-5", NULL}, POOL_EPROTO},
        {{"name", "a:1", "ip", "a", "port", "1", "slave-repl-offset", "abc", NULL}, POOL_EPROTO},
        {{"name", "a:1", "ip", "a", "port", "1", "slave-repl-offset", "99999999999999999999",
          NULL},
         POOL_EPROTO},
        {{"name", "a:1", "ip", "a", "port", "1", "master-host", "", NULL}, POOL_EPROTO},
        {{"name", "a:1", "ip", "a", "port", "1", "slave-priority", "=:4294967296\r\n", NULL},
         POOL_EPROTO},
    };
    for (size_t i = 0; i < N_(t); i++) {
        buf b = {0};
        b_arr(&b, 1);
        b_entry(&b, t[i].kv);
        redisReply *r = resp(b.p, b.len);
        sp_instance *list = (sp_instance *)1;
        size_t n = 99;
        int rc = sp_parse_instances_reply(r, &list, &n);
        ROW_RC(i, t[i].kv[0] ? t[i].kv[1] : "(empty)", rc, t[i].want);
        if (rc == 0) {
            assert_int_equal(n, 1);
            assert_non_null(list);
        } else {
            assert_int_equal(n, 0);
            assert_null(list);
        }
        sp_instances_free(rc == 0 ? list : NULL);
        freeReplyObject(r);
        free(b.p);
    }
}

static void test_instances_reply_fields(void **state)
{
    (void)state;
    static const char *const replica[] = REPLICA_KV();
    static const char *const sentinel[] = {"name", RUNID, "ip", "::1", "port", "=:26380\r\n",
                                           "runid", RUNID, "flags", "s_down,sentinel,disconnected",
                                           NULL};
    static const char *const fresh[] = {"name",   "10.0.0.9:6379", "ip",          "10.0.0.9",
                                        "port",   "6379",          "runid",       "",
                                        "flags",  "s_down,slave,disconnected,promoted",
                                        "master-host", "?", "master-port", "0",
                                        "master-link-status", "err", NULL};
    buf b = {0};
    b_arr(&b, 3);
    b_entry(&b, replica);
    b_entry(&b, sentinel);
    b_entry(&b, fresh);
    redisReply *r = resp(b.p, b.len);
    sp_instance *l = NULL;
    size_t n = 0;
    assert_int_equal(sp_parse_instances_reply(r, &l, &n), 0);
    assert_int_equal(n, 3);

    assert_string_equal(l[0].name, "127.0.0.1:6380");
    assert_string_equal(l[0].addr.host, "127.0.0.1");
    assert_int_equal(l[0].addr.port, 6380);
    assert_string_equal(l[0].runid, RUNID);
    assert_int_equal(l[0].flags, SP_FLAG_SLAVE);
    assert_int_equal(l[0].master_link_ok, 1);
    assert_int_equal(l[0].has_repl_offset, 1);
    assert_int_equal(l[0].repl_offset, 123456);
    assert_int_equal(l[0].priority, 100);
    assert_string_equal(l[0].master_host, "127.0.0.1");
    assert_int_equal(l[0].master_port, 6379);

    assert_string_equal(l[1].name, RUNID);
    assert_string_equal(l[1].addr.host, "::1");
    assert_int_equal(l[1].addr.port, 26380);
    assert_int_equal(l[1].flags, SP_FLAG_S_DOWN | SP_FLAG_SENTINEL | SP_FLAG_DISCONNECTED);
    assert_int_equal(l[1].master_link_ok, -1);
    assert_int_equal(l[1].has_repl_offset, 0);
    assert_int_equal(l[1].priority, -1);
    assert_string_equal(l[1].master_host, "");
    assert_int_equal(l[1].master_port, 0);

    assert_string_equal(l[2].runid, "");
    assert_int_equal(l[2].flags, SP_FLAG_S_DOWN | SP_FLAG_SLAVE | SP_FLAG_DISCONNECTED |
                                     SP_FLAG_PROMOTED);
    assert_int_equal(l[2].master_link_ok, 0);
    assert_string_equal(l[2].master_host, "?");
    assert_int_equal(l[2].master_port, 0);
    sp_instances_free(l);
    freeReplyObject(r);
    free(b.p);
}

static void test_instances_reply_shapes(void **state)
{
    (void)state;
    static const struct {
        const char *resp;
        size_t len;
        int want;
    } t[] = {
        {S("-ERR No such master with that name\r\n"), POOL_EUNKNOWNMASTER},
        {S("-ERR unknown subcommand 'replicas'\r\n"), POOL_EPROTO},
        {S("$-1\r\n"), POOL_EPROTO},
        {S("*-1\r\n"), POOL_EPROTO},
        {S("+OK\r\n"), POOL_EPROTO},
        {S(":3\r\n"), POOL_EPROTO},
        {S("*1\r\n$4\r\nname\r\n"), POOL_EPROTO},
        {S("*1\r\n$-1\r\n"), POOL_EPROTO},
        /* embedded NUL in the ip (b_entry cannot write one) */
        {S("*1\r\n*6\r\n$4\r\nname\r\n$3\r\na:1\r\n$2\r\nip\r\n$3\r\na\0b\r\n$4\r\nport\r\n"
           ":1\r\n"),
         POOL_EPROTO},
        {S("*1\r\n:1\r\n"), POOL_EPROTO},
        {S("*2\r\n*6\r\n$4\r\nname\r\n$3\r\na:1\r\n$2\r\nip\r\n$1\r\na\r\n$4\r\nport\r\n:1\r\n"
           "*2\r\n$4\r\nname\r\n$3\r\na:1\r\n"),
         POOL_EPROTO},
    };
    for (size_t i = 0; i < N_(t); i++) {
        redisReply *r = resp(t[i].resp, t[i].len);
        sp_instance *list = (sp_instance *)1;
        size_t n = 99;
        int rc = sp_parse_instances_reply(r, &list, &n);
        ROW_RC(i, t[i].resp, rc, t[i].want);
        assert_null(list);
        assert_int_equal(n, 0);
        freeReplyObject(r);
    }
    /* Empty: success, nothing allocated. */
    redisReply *r = resp(S("*0\r\n"));
    sp_instance *list = (sp_instance *)1;
    size_t n = 99;
    assert_int_equal(sp_parse_instances_reply(r, &list, &n), 0);
    assert_null(list);
    assert_int_equal(n, 0);
    assert_int_equal(sp_parse_instances_reply(NULL, &list, &n), POOL_EINVAL);
    assert_int_equal(sp_parse_instances_reply(r, NULL, &n), POOL_EINVAL);
    assert_int_equal(sp_parse_instances_reply(r, &list, NULL), POOL_EINVAL);
    freeReplyObject(r);

    /* SP_INSTANCES_MAX entries pass, one more is refused. */
    static const char *const one[] = {"name", "a:1", "ip", "a", "port", "1", NULL};
    for (size_t count = SP_INSTANCES_MAX; count <= SP_INSTANCES_MAX + 1; count++) {
        buf b = {0};
        b_arr(&b, count);
        for (size_t i = 0; i < count; i++)
            b_entry(&b, one);
        r = resp(b.p, b.len);
        int rc = sp_parse_instances_reply(r, &list, &n);
        assert_int_equal(rc, count == SP_INSTANCES_MAX ? 0 : POOL_EPROTO);
        assert_int_equal(n, count == SP_INSTANCES_MAX ? count : 0);
        sp_instances_free(list);
        freeReplyObject(r);
        free(b.p);
    }
    /* A 10 kB ip. */
    char *big = repeat('h', 10240);
    const char *kv[] = {"name", "a:1", "ip", big, "port", "1", NULL};
    buf b = {0};
    b_arr(&b, 1);
    b_entry(&b, kv);
    r = resp(b.p, b.len);
    assert_int_equal(sp_parse_instances_reply(r, &list, &n), POOL_EPROTO);
    freeReplyObject(r);
    free(b.p);
    free(big);
    sp_instances_free(NULL);
}

static void test_flags(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int want;
        unsigned bits;
    } t[] = {
        {"", 0, 0},
        {"master", 0, SP_FLAG_MASTER},
        {"s_down,o_down,master", 0, SP_FLAG_S_DOWN | SP_FLAG_O_DOWN | SP_FLAG_MASTER},
        {"slave,promoted,reconf_sent,reconf_inprog,reconf_done", 0,
         SP_FLAG_SLAVE | SP_FLAG_PROMOTED | SP_FLAG_RECONF_SENT | SP_FLAG_RECONF_INPROG |
             SP_FLAG_RECONF_DONE},
        {"master,failover_in_progress,force_failover,master_down,script_kill_sent", 0,
         SP_FLAG_MASTER | SP_FLAG_FAILOVER_IN_PROGRESS | SP_FLAG_FORCE_FAILOVER |
             SP_FLAG_MASTER_DOWN | SP_FLAG_SCRIPT_KILL_SENT},
        {"sentinel,disconnected", 0, SP_FLAG_SENTINEL | SP_FLAG_DISCONNECTED},
        {",,,", 0, 0},
        {"s_downs,_down,slav,SLAVE", 0, 0},
        {"s_down,", 0, SP_FLAG_S_DOWN},
        {"s_down, slave", POOL_EPROTO, 0},
        {"slave\r\n", POOL_EPROTO, 0},
    };
    for (size_t i = 0; i < N_(t); i++) {
        unsigned bits = 0xdead;
        int rc = sp_parse_flags(t[i].s, strlen(t[i].s), &bits);
        ROW_RC(i, t[i].s, rc, t[i].want);
        if (rc == 0)
            assert_int_equal(bits, t[i].bits);
    }
    unsigned bits;
    assert_int_equal(sp_parse_flags(NULL, 1, &bits), POOL_EINVAL);
    assert_int_equal(sp_parse_flags("a", 1, NULL), POOL_EINVAL);
    assert_int_equal(sp_parse_flags(NULL, 0, &bits), 0);
    assert_int_equal(sp_valid_name(S("mymaster")), 1);
    assert_int_equal(sp_valid_name(S("")), 0);
    assert_int_equal(sp_valid_name(NULL, 3), 0);
    assert_int_equal(sp_valid_name(S("a\x7f")), 0);
    /* Sentinel accepts any bytes but spaces and control bytes would break
     * its events' fields: UTF-8 (and Latin-1) names pass, as in options. */
    assert_int_equal(sp_valid_name(S("mym\xc3\xa4ster")), 1);
    assert_int_equal(sp_valid_name(S("\xe4")), 1);
    assert_int_equal(sp_valid_name(S("\xff\x80")), 1);
    assert_int_equal(sp_valid_name(S("my master")), 0);
    assert_int_equal(sp_valid_name(S("my\tmaster")), 0);
    assert_int_equal(sp_valid_name(S("my\nmaster")), 0);
    assert_int_equal(sp_valid_name(S("my\0master")), 0);
}

/* ---- sp_parse_pubsub_message ------------------------------------------------ */

#define SWITCH_PAYLOAD "mymaster 127.0.0.1 6379 127.0.0.1 6380"

static void test_pubsub(void **state)
{
    (void)state;
    static const struct {
        const char *resp;
        size_t len;
        int want;
        const char *ch;
        const char *payload;
        size_t plen;
    } t[] = {
        {S("*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n$38\r\n" SWITCH_PAYLOAD "\r\n"), 0,
         "+switch-master", SWITCH_PAYLOAD, 38},
        {S("*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$6\r\n+sdown\r\n$30\r\nmaster mymaster "
           "127.0.0.1 6379\r\n"),
         0, "+sdown", "master mymaster 127.0.0.1 6379", 30},
        {S("*3\r\n$7\r\nmessage\r\n$0\r\n\r\n$0\r\n\r\n"), 0, "", "", 0},
        /* embedded NUL passes this layer untouched; the payload parsers refuse it */
        {S("*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$3\r\na\0b\r\n"), 0, "c", "a", 3},
        /* control replies to skip */
        {S("*3\r\n$9\r\nsubscribe\r\n$14\r\n+switch-master\r\n:1\r\n"), 1, "+switch-master", NULL,
         0},
        {S("*3\r\n$10\r\npsubscribe\r\n$1\r\n*\r\n:1\r\n"), 1, "*", NULL, 0},
        {S("*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"), 1, NULL, NULL, 0},
        {S("*3\r\n$12\r\npunsubscribe\r\n$1\r\n*\r\n:0\r\n"), 1, "*", NULL, 0},
        {S("*2\r\n$4\r\npong\r\n$0\r\n\r\n"), 1, NULL, NULL, 0},
        /* malformed */
        {S("+OK\r\n"), POOL_EPROTO, NULL, NULL, 0},
        {S("$-1\r\n"), POOL_EPROTO, NULL, NULL, 0},
        {S("-ERR x\r\n"), POOL_EPROTO, NULL, NULL, 0},
        {S("*0\r\n"), POOL_EPROTO, NULL, NULL, 0},
        {S("*-1\r\n"), POOL_EPROTO, NULL, NULL, 0},
        {S("*1\r\n$7\r\nmessage\r\n"), POOL_EPROTO, NULL, NULL, 0},
        {S("*2\r\n$7\r\nmessage\r\n$1\r\nc\r\n"), POOL_EPROTO, NULL, NULL, 0},
        {S("*4\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\np\r\n$1\r\nx\r\n"), POOL_EPROTO, NULL, NULL,
         0},
        {S("*3\r\n$8\r\npmessage\r\n$1\r\nc\r\n$1\r\np\r\n"), POOL_EPROTO, NULL, NULL, 0},
        {S("*3\r\n$7\r\nMESSAGE\r\n$1\r\nc\r\n$1\r\np\r\n"), POOL_EPROTO, NULL, NULL, 0},
        {S("*3\r\n:7\r\n$1\r\nc\r\n$1\r\np\r\n"), POOL_EPROTO, NULL, NULL, 0},
        {S("*3\r\n*1\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\np\r\n"), POOL_EPROTO, NULL, NULL, 0},
        {S("*3\r\n$7\r\nmessage\r\n:1\r\n$1\r\np\r\n"), POOL_EPROTO, NULL, NULL, 0},
        {S("*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n:1\r\n"), POOL_EPROTO, NULL, NULL, 0},
        {S("*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$-1\r\n"), POOL_EPROTO, NULL, NULL, 0},
        {S("*3\r\n$7\r\nmessage\r\n*1\r\n$1\r\nc\r\n$1\r\np\r\n"), POOL_EPROTO, NULL, NULL, 0},
        {S("*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n*1\r\n$1\r\np\r\n"), POOL_EPROTO, NULL, NULL, 0},
        {S("*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n-ERR p\r\n"), POOL_EPROTO, NULL, NULL, 0},
        {S("*4\r\n$8\r\npmessage\r\n:1\r\n$1\r\nc\r\n$1\r\np\r\n"), POOL_EPROTO, NULL, NULL, 0},
        {S("*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n$1\r\n1\r\n"), POOL_EPROTO, NULL, NULL, 0},
        {S("*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:-1\r\n"), POOL_EPROTO, NULL, NULL, 0},
        {S("*3\r\n$9\r\nsubscribe\r\n:1\r\n:1\r\n"), POOL_EPROTO, NULL, NULL, 0},
        {S("*2\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n"), POOL_EPROTO, NULL, NULL, 0},
        {S("*2\r\n$4\r\npong\r\n:1\r\n"), POOL_EPROTO, NULL, NULL, 0},
        {S("*3\r\n$4\r\npong\r\n$0\r\n\r\n$0\r\n\r\n"), POOL_EPROTO, NULL, NULL, 0},
    };
    for (size_t i = 0; i < N_(t); i++) {
        redisReply *r = resp(t[i].resp, t[i].len);
        const char *ch = (const char *)1, *pl = (const char *)1;
        size_t chlen = 99, plen = 99;
        int rc = sp_parse_pubsub_message(r, &ch, &chlen, &pl, &plen);
        ROW_RC(i, t[i].resp, rc, t[i].want);
        if (rc < 0) {
            freeReplyObject(r);
            continue;
        }
        if (t[i].ch == NULL) {
            assert_null(ch);
            assert_int_equal(chlen, 0);
        } else {
            assert_int_equal(chlen, strlen(t[i].ch));
            assert_memory_equal(ch, t[i].ch, chlen);
        }
        if (t[i].payload == NULL) {
            assert_null(pl);
            assert_int_equal(plen, 0);
        } else {
            assert_int_equal(plen, t[i].plen);
            assert_memory_equal(pl, t[i].payload, strlen(t[i].payload));
        }
        freeReplyObject(r);
    }
    const char *ch, *pl;
    size_t chlen, plen;
    redisReply *r = resp(S("*2\r\n$4\r\npong\r\n$0\r\n\r\n"));
    assert_int_equal(sp_parse_pubsub_message(NULL, &ch, &chlen, &pl, &plen), POOL_EINVAL);
    assert_int_equal(sp_parse_pubsub_message(r, NULL, &chlen, &pl, &plen), POOL_EINVAL);
    assert_int_equal(sp_parse_pubsub_message(r, &ch, NULL, &pl, &plen), POOL_EINVAL);
    assert_int_equal(sp_parse_pubsub_message(r, &ch, &chlen, NULL, &plen), POOL_EINVAL);
    assert_int_equal(sp_parse_pubsub_message(r, &ch, &chlen, &pl, NULL), POOL_EINVAL);
    freeReplyObject(r);
}

/* The path the watcher takes: a push, then the payload parser for its channel. */
static void test_pubsub_to_event(void **state)
{
    (void)state;
    redisReply *r =
        resp(S("*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n$38\r\n" SWITCH_PAYLOAD "\r\n"));
    const char *ch, *pl;
    size_t chlen, plen;
    assert_int_equal(sp_parse_pubsub_message(r, &ch, &chlen, &pl, &plen), 0);
    sp_switch_master m;
    assert_int_equal(sp_parse_switch_master(pl, plen, &m), 0);
    assert_string_equal(m.new_addr.host, "127.0.0.1");
    assert_int_equal(m.new_addr.port, 6380);
    freeReplyObject(r);

    r = resp(S("*3\r\n$7\r\nmessage\r\n$6\r\n+odown\r\n$42\r\nmaster mymaster 127.0.0.1 6379 "
               "#quorum 2/2\r\n"));
    assert_int_equal(sp_parse_pubsub_message(r, &ch, &chlen, &pl, &plen), 0);
    sp_instance_event ev;
    assert_int_equal(sp_parse_instance_event(pl, plen, &ev), 0);
    assert_string_equal(ev.rest, "#quorum 2/2");
    freeReplyObject(r);

    r = resp(S("*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$3\r\na\0b\r\n"));
    assert_int_equal(sp_parse_pubsub_message(r, &ch, &chlen, &pl, &plen), 0);
    assert_int_equal(sp_parse_switch_master(pl, plen, &m), POOL_EPROTO);
    assert_int_equal(sp_parse_instance_event(pl, plen, &ev), POOL_EPROTO);
    freeReplyObject(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_switch_master),
        cmocka_unit_test(test_switch_master_long_fields),
        cmocka_unit_test(test_instance_event),
        cmocka_unit_test(test_instance_event_long_fields),
        cmocka_unit_test(test_master_addr_reply),
        cmocka_unit_test(test_instances_reply),
        cmocka_unit_test(test_instances_reply_fields),
        cmocka_unit_test(test_instances_reply_shapes),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_pubsub),
        cmocka_unit_test(test_pubsub_to_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
