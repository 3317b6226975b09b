/* Table tests for the pure parsers: addresses, ROLE / INFO replication and
 * the Sentinel wire formats. Replies are built by feeding RESP bytes through
 * hiredis' own reader, so the parsers see exactly what they see in
 * production. Every table row that fails names itself before the assertion
 * prints both values. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "proto/addr.h"
#include "proto/role.h"
#include "proto/sentinel_parse.h"
#include "sentinel_pool.h"

#define S(lit) lit, sizeof(lit) - 1
#define N_(a) (sizeof(a) / sizeof((a)[0]))

/* ---- Helpers ------------------------------------------------------------------ */

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

/* Not inlined: gcc 14 then loses track of the realloc above the memcpy and
 * reports a false -Warray-bounds at its callers. */
__attribute__((noinline)) static void b_put(buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = realloc(b->p, cap);
        assert_non_null(b->p);
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void b_str(buf *b, const char *s) { b_put(b, s, strlen(s)); }

static void b_fmt(buf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof tmp);
    b_put(b, tmp, (size_t)n);
}

static void b_bulk(buf *b, const char *s, size_t n)
{
    b_fmt(b, "$%zu\r\n", n);
    b_put(b, s, n);
    b_str(b, "\r\n");
}

static void b_arr(buf *b, size_t n) { b_fmt(b, "*%zu\r\n", n); }

/* "x" repeated n times, malloc'd. */
static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* One complete reply from RESP bytes, through hiredis' reader. */
static redisReply *resp(const char *bytes, size_t len)
{
    redisReader *rd = redisReaderCreate();
    assert_non_null(rd);
    assert_int_equal(redisReaderFeed(rd, bytes, len), REDIS_OK);
    void *r = NULL;
    if (redisReaderGetReply(rd, &r) != REDIS_OK)
        fail_msg("hiredis refused %.*s: %s", (int)len, bytes, rd->errstr);
    redisReaderFree(rd);
    if (r == NULL)
        fail_msg("incomplete RESP: %.*s", (int)len, bytes);
    return r;
}

/* Names from the public X-macro list, so this test links without errors.c. */
static const char *errname(int rc)
{
    switch (rc) {
    case 0:
        return "0";
#define ERR_CASE_(name, value, msg)                                                                \
    case value:                                                                                    \
        return "POOL_" #name;
        POOL_ERRNO_MAP(ERR_CASE_)
#undef ERR_CASE_
    default:
        return rc > 0 ? "positive" : "unknown";
    }
}

/* Report which row failed, then let cmocka print both values. */
#define ROW_RC(i, in, got, want)                                                                   \
    do {                                                                                           \
        if ((got) != (want))                                                                       \
            print_error("row %zu (%s): got %d %s, want %d %s\n", (size_t)(i), (in), (int)(got),    \
                        errname(got), (int)(want), errname(want));                                 \
        assert_int_equal((got), (want));                                                           \
    } while (0)

#define RUNID "5e6f1b8c0b7a5d9d2b1c3e4f5a6b7c8d9e0f1a2b"

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
    /* A master with 5000 replicas is fine (it is only counted). */
    b.len = 0;
    b_str(&b, "*3\r\n$6\r\nmaster\r\n:7\r\n*5000\r\n");
    for (int i = 0; i < 5000; i++)
        b_str(&b, "*3\r\n$8\r\n10.0.0.1\r\n$4\r\n6379\r\n$1\r\n7\r\n");
    r = resp(b.p, b.len);
    assert_int_equal(spool_role_parse(r, &o), 0);
    assert_int_equal(o.connected_replicas, 5000);
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
        cmocka_unit_test(test_port_parse),
        cmocka_unit_test(test_host_copy),
        cmocka_unit_test(test_addr_parse),
        cmocka_unit_test(test_addr_parse_long_hosts),
        cmocka_unit_test(test_addr_list_parse),
        cmocka_unit_test(test_addr_format),
        cmocka_unit_test(test_addr_equal),
        cmocka_unit_test(test_host_is_numeric),
        cmocka_unit_test(test_host_ip_literal),
        cmocka_unit_test(test_role_parse),
        cmocka_unit_test(test_role_parse_hostile),
        cmocka_unit_test(test_role_parse_info),
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
