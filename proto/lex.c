/* See lex.h. */
#include "proto/lex.h"

#include <limits.h>
#include <string.h>

#include "proto/limits.h"

int spool_mem_is(const char *s, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    return len == n && memcmp(s, lit, n) == 0;
}

int spool_starts_with(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return s != NULL && len >= n && memcmp(s, prefix, n) == 0;
}

int spool_printable(const char *s, size_t len, int allow_space)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < ' ' || c >= 0x7f || (c == ' ' && !allow_space))
            return 0;
    }
    return 1;
}

/* Decimal long long with an optional '-', bounds checked digit by digit. */
int spool_ll_parse(const char *s, size_t len, long long *out)
{
    if (s == NULL || len == 0)
        return -1;
    int neg = s[0] == '-';
    size_t i = (size_t)neg;
    if (i == len)
        return -1;
    unsigned long long v = 0;
    unsigned long long lim = neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (lim - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = neg ? (v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v)
               : (long long)v;
    return 0;
}

int spool_reply_is_str(const redisReply *e)
{
    return e != NULL && (e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS) &&
           (e->str != NULL || e->len == 0);
}

int spool_reply_is(const redisReply *e, const char *lit)
{
    return spool_reply_is_str(e) && spool_mem_is(e->str, e->len, lit);
}

int spool_reply_ll(const redisReply *e, long long *out)
{
    if (e == NULL)
        return -1;
    if (e->type == REDIS_REPLY_INTEGER) {
        *out = e->integer;
        return 0;
    }
    if (spool_reply_is_str(e))
        return spool_ll_parse(e->str, e->len, out);
    return -1;
}

int spool_reply_port(const redisReply *e, int min)
{
    long long v;
    if (spool_reply_ll(e, &v) != 0 || v < min || v > SPOOL_PORT_MAX)
        return -1;
    /* spool_reply_ll() took a sign; a string port must be plain digits. */
    if (e->type != REDIS_REPLY_INTEGER && (e->str[0] < '0' || e->str[0] > '9'))
        return -1;
    return (int)v;
}

unsigned spool_word_bit_of(const spool_word_bit *t, size_t n, const char *s, size_t len)
{
    for (size_t k = 0; k < n; k++)
        if (spool_mem_is(s, len, t[k].word))
            return t[k].bit;
    return 0;
}
