/* Helpers shared by the parser table tests (tests/test_addr.c, test_role.c,
 * test_sentinel_parse.c): a growing byte buffer to write RESP with, one
 * reply built from RESP bytes by hiredis' own reader (so the parsers see
 * exactly what they see in production), and a row check that names the
 * failing table row before cmocka prints both values. Header-only (static
 * inline) so each test file stays one executable; include it after
 * <cmocka.h>. */
#ifndef SPOOL_TESTS_PARSE_UTIL_H
#define SPOOL_TESTS_PARSE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "sentinel_pool.h"

#define S(lit) lit, sizeof(lit) - 1
#define N_(a) (sizeof(a) / sizeof((a)[0]))

/* ---- Helpers ------------------------------------------------------------------ */

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

/* Not inlined: gcc 14 then loses track of the realloc above the memcpy and
 * reports a false -Warray-bounds at its callers. (Hence not "static inline"
 * like the rest; unused: a file that builds no RESP does not call it.) */
__attribute__((noinline, unused)) static void b_put(buf *b, const char *s, size_t n)
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

static inline void b_str(buf *b, const char *s) { b_put(b, s, strlen(s)); }

static inline void b_fmt(buf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof tmp);
    b_put(b, tmp, (size_t)n);
}

static inline void b_bulk(buf *b, const char *s, size_t n)
{
    b_fmt(b, "$%zu\r\n", n);
    b_put(b, s, n);
    b_str(b, "\r\n");
}

static inline void b_arr(buf *b, size_t n) { b_fmt(b, "*%zu\r\n", n); }

/* "x" repeated n times, malloc'd. */
static inline char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* One complete reply from RESP bytes, through hiredis' reader. */
static inline redisReply *resp(const char *bytes, size_t len)
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
static inline const char *errname(int rc)
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

#endif
