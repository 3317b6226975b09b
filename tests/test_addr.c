/* test_addr.c: table tests for proto/addr, the address parsers: a port, a
 * host as a server sends it, "host:port" and "[v6]:port" as a user writes
 * them, the sentinels list, and formatting and comparing addresses. Every
 * table row that fails names itself before the assertion prints both
 * values. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse_util.h"
#include "proto/addr.h"
#include "sentinel_pool.h"

/* ---- spool_port_parse ------------------------------------------------------ */

static void test_port_parse(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t len;
        int want;
    } t[] = {
        {S("6379"), 6379},   {S("1"), 1},        {S("65535"), 65535}, {S("00080"), 80},
        {S("0"), -1},        {S("65536"), -1},   {S("70000"), -1},    {S("-1"), -1},
        {S("abc"), -1},      {S("80x"), -1},     {S(""), -1},         {S(" 80"), -1},
        {S("80 "), -1},      {S("+80"), -1},     {S("8\0" "0"), -1},  {S("0x50"), -1},
        {S("99999999999999999999999999"), -1},   {S("4294967377"), -1},
    };
    for (size_t i = 0; i < N_(t); i++)
        ROW_RC(i, t[i].s, spool_port_parse(t[i].s, t[i].len), t[i].want);
    assert_int_equal(spool_port_parse(NULL, 4), -1);
}

/* ---- spool_host_copy ------------------------------------------------------- */

static void test_host_copy(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t len;
        int want;
    } t[] = {
        {S("127.0.0.1"), 0},
        {S("::1"), 0}, /* servers send IPv6 unbracketed */
        {S("2001:db8::1"), 0},
        {S("fe80::1%eth0"), 0},
        {S("redis-0.redis.default.svc.cluster.local"), 0},
        {S("?"), 0},
        {S(""), POOL_EPROTO},
        {S("a b"), POOL_EPROTO},
        {S("a\tb"), POOL_EPROTO},
        {S("a\0b"), POOL_EPROTO},
        {S("host\r\n"), POOL_EPROTO},
        {S("\x7f"), POOL_EPROTO},
        {S("caf\xc3\xa9"), POOL_EPROTO},
    };
    for (size_t i = 0; i < N_(t); i++) {
        char out[SPOOL_HOST_MAX];
        int rc = spool_host_copy(t[i].s, t[i].len, out);
        ROW_RC(i, t[i].s, rc, t[i].want);
        if (rc == 0)
            assert_string_equal(out, t[i].s);
    }
    char out[SPOOL_HOST_MAX];
    char *max = repeat('a', SPOOL_HOST_MAX - 1), *big = repeat('a', 10240);
    assert_int_equal(spool_host_copy(max, SPOOL_HOST_MAX - 1, out), 0);
    assert_string_equal(out, max);
    assert_int_equal(spool_host_copy(big, SPOOL_HOST_MAX, out), POOL_EPROTO);
    assert_int_equal(spool_host_copy(big, 10240, out), POOL_EPROTO);
    assert_int_equal(spool_host_copy(NULL, 0, out), POOL_EPROTO);
    free(max);
    free(big);
}

/* ---- spool_addr_parse ------------------------------------------------------ */

static void test_addr_parse(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t len;
        int want;
        const char *host;
        int port;
    } t[] = {
        {S("localhost:26379"), 0, "localhost", 26379},
        {S("127.0.0.1:6379"), 0, "127.0.0.1", 6379},
        {S("  10.0.0.1:26379  "), 0, "10.0.0.1", 26379},
        {S("\t[::1]:26379\r\n"), 0, "::1", 26379},
        {S("[2001:db8::1]:6379"), 0, "2001:db8::1", 6379},
        {S("[::ffff:10.0.0.1]:1"), 0, "::ffff:10.0.0.1", 1},
        {S("[fe80::1%eth0]:6379"), 0, "fe80::1%eth0", 6379},
        {S("redis_0.svc-1:65535"), 0, "redis_0.svc-1", 65535},
        {S("::1:6379"), POOL_EINVAL, NULL, 0}, /* bare IPv6: ambiguous */
        {S("2001:db8::1"), POOL_EINVAL, NULL, 0},
        {S("host"), POOL_EINVAL, NULL, 0},
        {S("host:"), POOL_EINVAL, NULL, 0},
        {S(":6379"), POOL_EINVAL, NULL, 0},
        {S("host:0"), POOL_EINVAL, NULL, 0},
        {S("host:65536"), POOL_EINVAL, NULL, 0},
        {S("host:70000"), POOL_EINVAL, NULL, 0},
        {S("host:-1"), POOL_EINVAL, NULL, 0},
        {S("host:abc"), POOL_EINVAL, NULL, 0},
        {S("host:80x"), POOL_EINVAL, NULL, 0},
        {S("host:80 x"), POOL_EINVAL, NULL, 0},
        {S("host: 80"), POOL_EINVAL, NULL, 0},
        {S("ho st:80"), POOL_EINVAL, NULL, 0},
        {S("host/x:80"), POOL_EINVAL, NULL, 0},
        {S("host:6379:1"), POOL_EINVAL, NULL, 0},
        {S("[::1]"), POOL_EINVAL, NULL, 0},
        {S("[::1]6379"), POOL_EINVAL, NULL, 0},
        {S("[::1]:"), POOL_EINVAL, NULL, 0},
        {S("[::1]:80x"), POOL_EINVAL, NULL, 0},
        {S("[]:6379"), POOL_EINVAL, NULL, 0},
        {S("[127.0.0.1]:6379"), POOL_EINVAL, NULL, 0},
        {S("[localhost]:6379"), POOL_EINVAL, NULL, 0},
        {S("[::1:6379"), POOL_EINVAL, NULL, 0},
        {S("[::1%]:80"), POOL_EINVAL, NULL, 0},
        {S("[[::1]]:80"), POOL_EINVAL, NULL, 0},
        {S(""), POOL_EINVAL, NULL, 0},
        {S("   "), POOL_EINVAL, NULL, 0},
        {S("h\0st:80"), POOL_EINVAL, NULL, 0},
        {S("host:80\0"), POOL_EINVAL, NULL, 0},
        {S("h\xc3\xa9:80"), POOL_EINVAL, NULL, 0},
    };
    for (size_t i = 0; i < N_(t); i++) {
        spool_addr a = {"untouched", 42};
        int rc = spool_addr_parse(t[i].s, t[i].len, &a);
        ROW_RC(i, t[i].s, rc, t[i].want);
        if (rc == 0) {
            assert_string_equal(a.host, t[i].host);
            assert_int_equal(a.port, t[i].port);
        } else {
            assert_string_equal(a.host, "untouched");
            assert_int_equal(a.port, 42);
        }
    }
}

static void test_addr_parse_long_hosts(void **state)
{
    (void)state;
    spool_addr a;
    buf b = {0};
    char *h255 = repeat('a', SPOOL_HOST_MAX - 1), *h256 = repeat('a', SPOOL_HOST_MAX);
    char *h10k = repeat('b', 10240);
    b_fmt(&b, "%.*s:6379", SPOOL_HOST_MAX - 1, h255);
    assert_int_equal(spool_addr_parse(b.p, b.len, &a), 0);
    assert_string_equal(a.host, h255);
    b.len = 0;
    b_str(&b, h256);
    b_str(&b, ":6379");
    assert_int_equal(spool_addr_parse(b.p, b.len, &a), POOL_EINVAL);
    b.len = 0;
    b_str(&b, h10k);
    b_str(&b, ":6379");
    assert_int_equal(spool_addr_parse(b.p, b.len, &a), POOL_EINVAL);
    b.len = 0;
    b_str(&b, "[::");
    b_put(&b, h10k, 10240);
    memset(b.p + 3, 'f', 10240); /* a 10 kB "IPv6" literal of hex digits */
    b_str(&b, "]:6379");
    assert_int_equal(spool_addr_parse(b.p, b.len, &a), POOL_EINVAL);
    free(h255);
    free(h256);
    free(h10k);
    free(b.p);
    assert_int_equal(spool_addr_parse(NULL, 0, &a), POOL_EINVAL);
    assert_int_equal(spool_addr_parse("h:1", 3, NULL), POOL_EINVAL);
}

/* ---- spool_addr_list_parse ------------------------------------------------- */

static void test_addr_list_parse(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int want;
        size_t count;
        const char *host[3];
        int port[3];
    } t[] = {
        {"a:1", 0, 1, {"a"}, {1}},
        {"a:1,b:2,[::1]:3", 0, 3, {"a", "b", "::1"}, {1, 2, 3}},
        {" 10.0.0.1:26379 , 10.0.0.2:26379 ", 0, 2, {"10.0.0.1", "10.0.0.2"}, {26379, 26379}},
        {"", POOL_EINVAL, 0, {NULL}, {0}},
        {" ", POOL_EINVAL, 0, {NULL}, {0}},
        {",", POOL_EINVAL, 0, {NULL}, {0}},
        {"a:1,", POOL_EINVAL, 0, {NULL}, {0}},
        {",a:1", POOL_EINVAL, 0, {NULL}, {0}},
        {"a:1,,b:2", POOL_EINVAL, 0, {NULL}, {0}},
        {"a:1, ,b:2", POOL_EINVAL, 0, {NULL}, {0}},
        {"a:1,b", POOL_EINVAL, 0, {NULL}, {0}},
        {"a:1,::1:6379", POOL_EINVAL, 0, {NULL}, {0}},
        {"a:1;b:2", POOL_EINVAL, 0, {NULL}, {0}},
        {"a:0", POOL_EINVAL, 0, {NULL}, {0}},
    };
    for (size_t i = 0; i < N_(t); i++) {
        spool_addr *list = (spool_addr *)1;
        size_t n = 99;
        int rc = spool_addr_list_parse(t[i].s, &list, &n);
        ROW_RC(i, t[i].s, rc, t[i].want);
        assert_int_equal(n, t[i].count);
        if (rc != 0) {
            assert_null(list);
            continue;
        }
        for (size_t k = 0; k < n; k++) {
            assert_string_equal(list[k].host, t[i].host[k]);
            assert_int_equal(list[k].port, t[i].port[k]);
        }
        free(list);
    }
    spool_addr *list;
    size_t n;
    assert_int_equal(spool_addr_list_parse(NULL, &list, &n), POOL_EINVAL);
    assert_int_equal(spool_addr_list_parse("a:1", NULL, &n), POOL_EINVAL);
    assert_int_equal(spool_addr_list_parse("a:1", &list, NULL), POOL_EINVAL);

    /* 500 entries */
    buf b = {0};
    for (int i = 0; i < 500; i++)
        b_fmt(&b, "%s10.0.%d.%d:%d", i ? "," : "", i / 256, i % 256, 26379 + i);
    assert_int_equal(spool_addr_list_parse(b.p, &list, &n), 0);
    assert_int_equal(n, 500);
    assert_string_equal(list[499].host, "10.0.1.243");
    assert_int_equal(list[499].port, 26379 + 499);
    free(list);
    free(b.p);
}

/* ---- spool_addr_format ----------------------------------------------------- */

static void test_addr_format(void **state)
{
    (void)state;
    char buf_[64];
    assert_string_equal(spool_addr_format("127.0.0.1", 6379, buf_, sizeof buf_), "127.0.0.1:6379");
    assert_string_equal(spool_addr_format("::1", 26379, buf_, sizeof buf_), "[::1]:26379");
    assert_string_equal(spool_addr_format("redis-0.svc", 1, buf_, sizeof buf_), "redis-0.svc:1");
    assert_string_equal(spool_addr_format(NULL, 6379, buf_, sizeof buf_), ":6379");
    /* A short buffer truncates, terminated, never overflows. */
    char small[6] = {'x', 'x', 'x', 'x', 'x', 'x'};
    assert_ptr_equal(spool_addr_format("127.0.0.1", 6379, small, 5), small);
    assert_string_equal(small, "127.");
    assert_int_equal(small[5], 'x');
    assert_ptr_equal(spool_addr_format("::1", 1, small, 0), small);
    assert_int_equal(small[0], '1');
    assert_null(spool_addr_format("h", 1, NULL, 10));
    /* Round trip through the parser. */
    spool_addr a;
    spool_addr_format("2001:db8::1", 6380, buf_, sizeof buf_);
    assert_int_equal(spool_addr_parse(buf_, strlen(buf_), &a), 0);
    assert_string_equal(a.host, "2001:db8::1");
    assert_int_equal(a.port, 6380);
}

/* Nodes are compared by name as the sentinels give them: ASCII case does
 * not matter (DNS names, IPv6 hex), the port and every other byte do, and
 * nothing is resolved ("localhost" is not 127.0.0.1). */
static void test_addr_equal(void **state)
{
    (void)state;
    spool_addr a = {.host = "SP-Node-0.Redis.svc", .port = 6379};
    spool_addr b = {.host = "sp-node-0.redis.svc", .port = 6379};
    assert_true(spool_addr_equal(&a, &b));
    b.port = 6380;
    assert_false(spool_addr_equal(&a, &b));
    spool_addr v6a = {.host = "2001:DB8::1", .port = 1}, v6b = {.host = "2001:db8::1", .port = 1};
    assert_true(spool_addr_equal(&v6a, &v6b));
    spool_addr l = {.host = "localhost", .port = 1}, ip = {.host = "127.0.0.1", .port = 1};
    assert_false(spool_addr_equal(&l, &ip));
    spool_addr n1 = {.host = "sp-node-1", .port = 1}, n10 = {.host = "sp-node-10", .port = 1};
    assert_false(spool_addr_equal(&n1, &n10));
}

/* Names and numbers, as sentinel-pool-check sorts what a deployment
 * announces: an address with a zone index counts as a name (getaddrinfo
 * resolves it). */
static void test_host_is_numeric(void **state)
{
    (void)state;
    assert_true(spool_host_is_numeric("127.0.0.1"));
    assert_true(spool_host_is_numeric("::1"));
    assert_true(spool_host_is_numeric("2001:DB8::1"));
    assert_false(spool_host_is_numeric("localhost"));
    assert_false(spool_host_is_numeric("sp-node-0.redis.svc"));
    assert_false(spool_host_is_numeric("127.0.0.1.nip.io"));
    assert_false(spool_host_is_numeric("fe80::1%eth0"));
    assert_false(spool_host_is_numeric(""));
}

/* What a certificate must name (tls.c): the address without its zone. */
static void test_host_ip_literal(void **state)
{
    (void)state;
    char ip[64];
    assert_true(spool_host_ip_literal("fe80::1%eth0", ip, sizeof(ip)));
    assert_string_equal(ip, "fe80::1");
    assert_true(spool_host_ip_literal("10.0.0.1", ip, sizeof(ip)));
    assert_string_equal(ip, "10.0.0.1");
    assert_false(spool_host_ip_literal("redis.example", ip, sizeof(ip)));
    assert_false(spool_host_ip_literal("10.0.0.1", ip, 5)); /* cut short: "10.0" */
    assert_true(spool_port_valid(1) && spool_port_valid(65535));
    assert_false(spool_port_valid(0) || spool_port_valid(65536));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_port_parse),
        cmocka_unit_test(test_host_copy),
        cmocka_unit_test(test_addr_parse),
        cmocka_unit_test(test_addr_parse_long_hosts),
        cmocka_unit_test(test_addr_list_parse),
        cmocka_unit_test(test_addr_format),
        cmocka_unit_test(test_addr_equal),
        cmocka_unit_test(test_host_is_numeric),
        cmocka_unit_test(test_host_ip_literal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
