/* test_resp3.c: every RESP3 type byte on a borrowed connection, through the
 * pool's reply guard. hiredis 1.x parses RESP3 frames on any connection
 * (a server or proxy can send one unasked); 0.14 knows none of them. Each
 * frame is answered by a scripted fake server (well-formed, malformed and
 * over the limits), then a real server is switched to RESP3 with HELLO 3.
 * What each hiredis version must do is spelled out per case: a correct
 * reply and the connection kept, or a failed context and the connection
 * evicted for the right reason, never a crash (ASan runs this). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "fx_assert.h"
#include "proto/hiredis_compat.h"
#include "sentinel_pool.h"

static fx_node master;

static int setup(void **state)
{
    (void)state;
    return fx_redis_start(&master, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    fx_node_stop(&master);
    return 0;
}

/* ---- A reply, written out ---------------------------------------------------
 * "status OK", "double 1.5 (1.5)", "map[2]{status a, int 1}": one string
 * to compare, so each case states its whole expected reply on one line. */

static void put(char *out, size_t len, const char *fmt, ...)
{
    size_t used = strlen(out);
    if (used + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + used, len - used, fmt, ap);
    va_end(ap);
}

static void describe(const redisReply *r, char *out, size_t len)
{
    const char *agg = NULL;
    switch (r->type) {
    case REDIS_REPLY_STATUS:
        put(out, len, "status %.*s", (int)r->len, r->str);
        return;
    case REDIS_REPLY_ERROR:
        put(out, len, "error %.*s", (int)r->len, r->str);
        return;
    case REDIS_REPLY_STRING:
        put(out, len, "string %.*s", (int)r->len, r->str);
        return;
    case REDIS_REPLY_INTEGER:
        put(out, len, "int %lld", r->integer);
        return;
    case REDIS_REPLY_NIL:
        put(out, len, "nil");
        return;
    case REDIS_REPLY_ARRAY:
        agg = "array";
        break;
#if SPOOL_HIREDIS_1X
    case REDIS_REPLY_DOUBLE:
        put(out, len, "double %g (%.*s)", r->dval, (int)r->len, r->str);
        return;
    case REDIS_REPLY_BOOL:
        put(out, len, "bool %lld", r->integer);
        return;
    case REDIS_REPLY_BIGNUM:
        put(out, len, "bignum %.*s", (int)r->len, r->str);
        return;
    case REDIS_REPLY_VERB:
        put(out, len, "verbatim %s:%.*s", r->vtype, (int)r->len, r->str);
        return;
    case REDIS_REPLY_MAP:
        agg = "map";
        break;
    case REDIS_REPLY_SET:
        agg = "set";
        break;
    case REDIS_REPLY_PUSH:
        agg = "push";
        break;
#endif
    default:
        put(out, len, "type%d", r->type);
        return;
    }
    put(out, len, "%s[%zu]{", agg, r->elements);
    for (size_t i = 0; i < r->elements; i++) {
        if (i > 0)
            put(out, len, ", ");
        describe(r->element[i], out, len);
    }
    put(out, len, "}");
}

/* ---- Every type byte from a fake server ---------------------------------- */

/* What a case must end in. */
#define OK(desc) "ok " desc   /* this reply; the connection goes back idle */
#define PROTO "protocol"      /* c->err REDIS_ERR_PROTOCOL, evicted as broken */
#define LIMIT "limit"         /* c->err REDIS_ERR_OOM, evicted for the limit */
#define READONLY_OK(desc) "readonly " desc /* this error; evicted as read-only */

typedef struct resp3_case {
    const char *what;
    const char *frame;
    long long max_elements, max_bulk; /* 0: defaults */
    const char *want_014, *want_1x;
} resp3_case;

/* A pool of one connection to 127.0.0.1:port. handshake 0 (for the fake):
 * no CLIENT SETNAME and no ROLE check, so a scripted frame answers the first
 * command a caller sends. Limits of 0 keep the defaults. */
static pool_t *static_pool(int port, int handshake, long long max_elements, long long max_bulk)
{
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    pool_options_t o;
    pool_options_init(&o);
    o.master_addr = addr;
    o.max_connections = 1;
    o.checkout_timeout_ms = 2000;
    o.command_timeout_ms = 5000;
    if (!handshake) {
        o.client_name = "";
        o.validate = POOL_VALIDATE_NEVER;
    }
    if (max_elements > 0)
        o.max_reply_elements = max_elements;
    if (max_bulk > 0)
        o.max_reply_bulk = max_bulk;
    pool_t *p = NULL;
    assert_rc(0, pool_create(&o, &p));
    return p;
}

static void run_case(const resp3_case *k)
{
    const char *want = SPOOL_HIREDIS_1X ? k->want_1x : k->want_014;
    print_message("resp3 case: %-34s want %s\n", k->what, want);
    fx_fake f;
    memset(&f, 0, sizeof(f));
    fx_fake_step steps[] = {FX_READ, FX_SEND(k->frame, strlen(k->frame)), FX_HANG};
    assert_int_equal(fx_fake_start(&f, steps, 3), 0);
    pool_t *p = static_pool(f.port, 0, k->max_elements, k->max_bulk);

    redisContext *c = NULL;
    assert_rc(0, pool_get_writer(p, &c));
    redisReply *r = redisCommand(c, "GET k");
    char got[512] = "";
    if (r != NULL) {
        describe(r, got, sizeof(got));
        freeReplyObject(r);
    }
    int err = c->err;
    char errstr[128];
    snprintf(errstr, sizeof(errstr), "%s", c->errstr);
    pool_put(p, c);
    pool_stats_t st = stats(p);
    pool_destroy(p);
    fx_fake_stop(&f);

    assert_int_equal(st.in_use, 0);
    if (strncmp(want, "ok ", 3) == 0 || strncmp(want, "readonly ", 9) == 0) {
        const char *desc = strchr(want, ' ') + 1;
        if (err != 0 || strcmp(got, desc) != 0)
            fail_msg("%s: got '%s' (err %d %s), want '%s'", k->what, got, err, errstr, desc);
        int ro = want[0] == 'r';
        assert_int_equal(st.evicted_readonly, ro);
        assert_int_equal(st.readonly_replies, ro);
        assert_int_equal(st.idle, ro ? 0 : 1);
        assert_int_equal(st.evicted_broken + st.evicted_limit, 0);
        return;
    }
    if (got[0] != '\0')
        fail_msg("%s: got a reply '%s', want %s", k->what, got, want);
    int want_err = strcmp(want, LIMIT) == 0 ? REDIS_ERR_OOM : REDIS_ERR_PROTOCOL;
    if (err != want_err)
        fail_msg("%s: c->err %d (%s), want %d", k->what, err, errstr, want_err);
    int limit = strcmp(want, LIMIT) == 0;
    assert_int_equal(st.evicted_limit, limit);
    assert_int_equal(st.evicted_broken, !limit);
    assert_int_equal(st.idle, 0);
    assert_int_equal(st.closed, 1);
}

static void test_resp3_type_bytes(void **state)
{
    (void)state;
    static const resp3_case cases[] = {
        /* Doubles (','). */
        {"double", ",1.5\r\n", 0, 0, PROTO, OK("double 1.5 (1.5)")},
        {"double inf", ",inf\r\n", 0, 0, PROTO, OK("double inf (inf)")},
        {"double -inf", ",-inf\r\n", 0, 0, PROTO, OK("double -inf (-inf)")},
        {"double exponent", ",-1.25e3\r\n", 0, 0, PROTO, OK("double -1250 (-1.25e3)")},
        {"double garbage", ",abc\r\n", 0, 0, PROTO, PROTO},
        {"double empty", ",\r\n", 0, 0, PROTO, PROTO},
        {"double over max_reply_bulk", ",1.0000000000001\r\n", 0, 10, PROTO, LIMIT},
        /* Booleans ('#'). */
        {"bool true", "#t\r\n", 0, 0, PROTO, OK("bool 1")},
        {"bool false", "#f\r\n", 0, 0, PROTO, OK("bool 0")},
        {"bool bad", "#x\r\n", 0, 0, PROTO, PROTO},
        /* Null ('_'). */
        {"null", "_\r\n", 0, 0, PROTO, OK("nil")},
        /* Big numbers ('('). */
        {"big number", "(1234567890123456789012345678901234567890\r\n", 0, 0, PROTO,
         OK("bignum 1234567890123456789012345678901234567890")},
        {"big number over max_reply_bulk", "(123456789012345\r\n", 0, 10, PROTO, LIMIT},
        /* Verbatim strings ('='). */
        {"verbatim", "=8\r\ntxt:abcd\r\n", 0, 0, PROTO, OK("verbatim txt:abcd")},
        {"verbatim empty text", "=4\r\nmkd:\r\n", 0, 0, PROTO, OK("verbatim mkd:")},
        {"verbatim without its type", "=2\r\nab\r\n", 0, 0, PROTO, PROTO},
        {"verbatim over max_reply_bulk", "=16\r\ntxt:0123456789ab\r\n", 0, 10, PROTO, LIMIT},
        /* Maps ('%'): hiredis counts keys and values. */
        {"map", "%2\r\n+a\r\n:1\r\n+b\r\n,2.5\r\n", 0, 0, PROTO,
         OK("map[4]{status a, int 1, status b, double 2.5 (2.5)}")},
        {"map at the element cap", "%2\r\n:1\r\n:2\r\n:3\r\n:4\r\n", 4, 0, PROTO,
         OK("map[4]{int 1, int 2, int 3, int 4}")},
        {"map over the element cap", "%3\r\n", 4, 0, PROTO, LIMIT},
        {"map of 2^31-1 pairs", "%2147483647\r\n", 0, 0, PROTO, LIMIT},
        {"map bad length", "%x\r\n", 0, 0, PROTO, PROTO},
        /* Sets ('~'). */
        {"set", "~3\r\n:1\r\n#t\r\n_\r\n", 0, 0, PROTO, OK("set[3]{int 1, bool 1, nil}")},
        {"set over the element cap", "~5\r\n", 4, 0, PROTO, LIMIT},
        /* Nesting RESP3 in RESP2 and the reverse. */
        {"array of RESP3", "*3\r\n,0.5\r\n#f\r\n%1\r\n+k\r\n~1\r\n:7\r\n", 0, 0, PROTO,
         OK("array[3]{double 0.5 (0.5), bool 0, map[2]{status k, set[1]{int 7}}}")},
        /* Push ('>'): hiredis hands it to the push callback (freed by
         * default) and the caller gets the reply after it. */
        {"push, then the reply", ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n$1\r\nv\r\n", 0, 0,
         PROTO, OK("string v")},
        {"push over the element cap", ">9\r\n", 4, 0, PROTO, LIMIT},
        /* Attributes ('|'): hiredis 1.2 does not parse them either. (Should
         * a later one, its reply objects cannot hold them, and the guard
         * refuses them: the connection is then evicted as broken.) */
        {"attribute", "|1\r\n+key\r\n+val\r\n+OK\r\n", 0, 0, PROTO, PROTO},
        {"attribute inside an array", "*1\r\n|1\r\n+a\r\n+b\r\n:1\r\n", 0, 0, PROTO, PROTO},
        /* Errors: simple errors mark the connection on both versions. */
        {"READONLY error", "-READONLY You can't write against a read only replica.\r\n", 0, 0,
         READONLY_OK("error READONLY You can't write against a read only replica."),
         READONLY_OK("error READONLY You can't write against a read only replica.")},
        {"MASTERDOWN in a map", "%1\r\n+k\r\n-MASTERDOWN link down\r\n", 0, 0, PROTO,
         READONLY_OK("map[2]{status k, error MASTERDOWN link down}")},
        {"blob error", "!21\r\nSYNTAX invalid syntax\r\n", 0, 0, PROTO, PROTO},
        {"unknown type byte", "@1\r\n", 0, 0, PROTO, PROTO},
        /* Element counts: the pool's cap below INT_MAX, a protocol error
         * above it, on both versions (1.x's own cap is set to 0.14's). */
        {"array of 2^31-1", "*2147483647\r\n", 0, 0, LIMIT, LIMIT},
        {"array of 2^31", "*2147483648\r\n", 0, 0, PROTO, PROTO},
        {"array of 5e9", "*5000000000\r\n", 0, 0, PROTO, PROTO},
        /* Deeper than hiredis 0.14 can nest (7 levels). */
        {"nested 9 deep", "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", 0, 0, PROTO,
         OK("array[1]{array[1]{array[1]{array[1]{array[1]{array[1]{array[1]{array[1]{"
            "array[1]{int 1}}}}}}}}}")},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(&cases[i]);
}

/* ---- A real server in RESP3 ---------------------------------------------- */

static void expect(redisContext *c, const char *want, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (r == NULL)
        fail_msg("%s: no reply (err %d %s)", fmt, c->err, c->errstr);
    char got[1024] = "";
    describe(r, got, sizeof(got));
    freeReplyObject(r);
    if (strcmp(got, want) != 0)
        fail_msg("%s: got '%s', want '%s'", fmt, got, want);
}

/* A borrower switches its connection to RESP3. On hiredis 1.x every type
 * comes back right and the connection stays usable; on 0.14 the HELLO reply
 * (a map) is a protocol error and the pool replaces the connection. */
static void test_hello3_real_server(void **state)
{
    (void)state;
    redisReply *r = fx_cmd(&master, "DEL r3:z r3:h r3:s");
    freeReplyObject(r);
    freeReplyObject(fx_cmd(&master, "ZADD r3:z 1.5 m"));
    freeReplyObject(fx_cmd(&master, "HSET r3:h f v"));
    freeReplyObject(fx_cmd(&master, "SADD r3:s a"));

    pool_t *p = static_pool(master.port, 1, 0, 0);
    redisContext *c = NULL;
    assert_rc(0, pool_get_writer(p, &c));
    r = redisCommand(c, "HELLO 3");
#if !SPOOL_HIREDIS_1X
    assert_null(r);
    assert_int_equal(c->err, REDIS_ERR_PROTOCOL);
    pool_put(p, c);
    assert_int_equal(stats(p).evicted_broken, 1);
    assert_rc(0, pool_get_writer(p, &c)); /* a fresh RESP2 connection */
    expect(c, "status PONG", "PING");
    pool_put(p, c);
    pool_destroy(p);
#else
    assert_non_null(r);
    assert_int_equal(r->type, 9 /* REDIS_REPLY_MAP */);
    freeReplyObject(r);
    expect(c, "double 1.5 (1.5)", "ZSCORE r3:z m");
    expect(c, "map[2]{string f, string v}", "HGETALL r3:h");
    expect(c, "set[1]{string a}", "SMEMBERS r3:s");
    expect(c, "nil", "GET r3:missing");
    expect(c, "bool 1", "EVAL %s 0", "redis.setresp(3); return true");
    expect(c, "bignum 123456789012345678901234567890", "EVAL %s 0",
           "return {big_number='123456789012345678901234567890'}");
    expect(c, "verbatim txt:hello", "EVAL %s 0", "return {verbatim_string={format='txt', string='hello'}}");
    expect(c, "double 0.25 (0.25)", "EVAL %s 0", "return {double=0.25}");
    r = redisCommand(c, "INFO server");
    assert_non_null(r);
    assert_int_equal(r->type, 14 /* REDIS_REPLY_VERB */);
    assert_string_equal(r->vtype, "txt");
    assert_non_null(strstr(r->str, "redis_version") != NULL ? r->str : strstr(r->str, "valkey"));
    freeReplyObject(r);
    /* A READONLY error in RESP3 marks the connection like in RESP2. */
    expect(c, "error READONLY You can't write against a read only replica.", "EVAL %s 0",
           "return redis.error_reply(\"READONLY You can't write against a read only replica.\")");
    expect(c, "status OK", "SET r3:k v");
    pool_put(p, c);
    pool_stats_t st = stats(p);
    assert_int_equal(st.evicted_readonly, 1);
    assert_int_equal(st.evicted_broken + st.evicted_limit, 0);
    pool_destroy(p);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resp3_type_bytes),
        cmocka_unit_test(test_hello3_real_server),
    };
    if (getenv("SPOOL_TEST_FILTER") != NULL)
        cmocka_set_test_filter(getenv("SPOOL_TEST_FILTER"));
    return cmocka_run_group_tests(tests, setup, teardown);
}
