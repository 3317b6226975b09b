/* See hygiene.h. */
#define _GNU_SOURCE
#include "pool/hygiene.h"

#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <hiredis/sds.h>

/* ---- Commands ---------------------------------------------------------- */

/* name[0..n) equals upper, ignoring ASCII case; n is upper's length. */
static int is(const char *name, size_t n, const char *upper)
{
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        if (ch != upper[i])
            return 0;
    }
    return 1;
}

static unsigned client_dirt(const char *sub, size_t n)
{
    if (n == 5 && is(sub, n, "REPLY"))
        return SPOOL_DIRT_REPLY_MODE;
    if ((n == 8 && (is(sub, n, "TRACKING") || is(sub, n, "NO-EVICT") || is(sub, n, "NO-TOUCH"))) ||
        (n == 7 && (is(sub, n, "SETNAME") || is(sub, n, "CACHING"))))
        return SPOOL_DIRT_CLIENT;
    return 0;
}

/* What one command (name and first argument) does to the connection's
 * state. The switch on the length keeps GET, SET and the like to one
 * comparison. */
static unsigned apply(unsigned dirt, const char *name, size_t n, const char *sub, size_t sn)
{
    const unsigned ends_transaction = SPOOL_DIRT_TRANSACTION | SPOOL_DIRT_WATCH;
    switch (n) {
    case 4:
        if (is(name, n, "AUTH"))
            return dirt | SPOOL_DIRT_USER;
        if (is(name, n, "EXEC"))
            return dirt & ~ends_transaction;
        if (is(name, n, "QUIT") || is(name, n, "SYNC"))
            return dirt | SPOOL_DIRT_CLOSE;
        break;
    case 5:
        if (is(name, n, "MULTI"))
            return dirt | SPOOL_DIRT_TRANSACTION;
        if (is(name, n, "WATCH"))
            return dirt | SPOOL_DIRT_WATCH;
        if (is(name, n, "HELLO"))
            return dirt | SPOOL_DIRT_PROTOCOL;
        if (is(name, n, "RESET"))
            return dirt | SPOOL_DIRT_USER; /* it logs the connection out */
        if (is(name, n, "PSYNC"))
            return dirt | SPOOL_DIRT_CLOSE;
        break;
    case 6:
        if (is(name, n, "SELECT"))
            return dirt | SPOOL_DIRT_DATABASE;
        if (is(name, n, "CLIENT") && sub != NULL)
            return dirt | client_dirt(sub, sn);
        break;
    case 7:
        if (is(name, n, "UNWATCH"))
            return dirt & ~(unsigned)SPOOL_DIRT_WATCH;
        if (is(name, n, "DISCARD"))
            return dirt & ~ends_transaction;
        if (is(name, n, "MONITOR"))
            return dirt | SPOOL_DIRT_MONITOR;
        break;
    case 8:
        if (is(name, n, "READONLY"))
            return dirt | SPOOL_DIRT_READONLY;
        break;
    case 9:
        if (is(name, n, "SUBSCRIBE"))
            return dirt | SPOOL_DIRT_PUBSUB;
        break;
    case 10:
        if (is(name, n, "PSUBSCRIBE") || is(name, n, "SSUBSCRIBE"))
            return dirt | SPOOL_DIRT_PUBSUB;
        break;
    default:
        break;
    }
    return dirt;
}

static inline int is_crlf(const char *p)
{
    uint16_t v; /* one load and one compare */
    memcpy(&v, p, sizeof(v));
    const uint16_t crlf = (uint16_t)('\r' | '\n' << 8);
    const uint16_t crlf_be = (uint16_t)('\n' | '\r' << 8);
    return v == (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? crlf : crlf_be);
}

/* A decimal length and its CRLF at p (at most 18 digits, so no overflow);
 * the byte after the CRLF, or NULL when malformed. Most lengths in a
 * command have one or two digits: those first. */
static inline const char *parse_len(const char *p, const char *end, size_t *out)
{
    if (end - p >= 4) {
        unsigned d0 = (unsigned)(unsigned char)p[0] - '0', d1 = (unsigned)(unsigned char)p[1] - '0';
        if (d0 < 10 && is_crlf(p + 1)) {
            *out = d0;
            return p + 3;
        }
        if (d0 < 10 && d1 < 10 && is_crlf(p + 2)) {
            *out = d0 * 10 + d1;
            return p + 4;
        }
    }
    const char *start = p;
    size_t v = 0;
    while (p < end && (unsigned char)(*p - '0') < 10)
        v = v * 10 + (size_t)(*p++ - '0');
    if (p == start || p - start > 18 || end - p < 2 || !is_crlf(p))
        return NULL;
    *out = v;
    return p + 2;
}

/* One bulk argument "$<len>\r\n<bytes>\r\n" at p: its bytes in *arg and
 * *alen; the byte after it, or NULL when malformed. */
static inline const char *parse_arg(const char *p, const char *end, const char **arg, size_t *alen)
{
    if (p >= end || *p != '$' || (p = parse_len(p + 1, end, alen)) == NULL ||
        *alen > (size_t)(end - p) || (size_t)(end - p) - *alen < 2 || !is_crlf(p + *alen))
        return NULL;
    *arg = p;
    return p + *alen + 2;
}

static inline __attribute__((always_inline)) void scan(const char *buf, size_t len,
                                                       unsigned *dirt, long *commands)
{
    const char *p = buf, *end = buf + len;
    while (p < end) {
        size_t argc, nlen, slen = 0;
        const char *name, *sub = NULL;
        if (*p != '*' || (p = parse_len(p + 1, end, &argc)) == NULL || argc == 0 ||
            (p = parse_arg(p, end, &name, &nlen)) == NULL)
            goto unparsed;
        if (argc >= 2 && (p = parse_arg(p, end, &sub, &slen)) == NULL)
            goto unparsed;
        for (size_t i = 2; i < argc; i++) {
            const char *skip;
            size_t skiplen;
            if ((p = parse_arg(p, end, &skip, &skiplen)) == NULL)
                goto unparsed;
        }
        (*commands)++;
        if (nlen >= 4 && nlen <= 10) /* the names apply() knows */
            *dirt = apply(*dirt, name, nlen, sub, slen);
    }
    return;
unparsed:
    *dirt |= SPOOL_DIRT_UNPARSED;
}

void spool_hygiene_scan(const char *buf, size_t len, unsigned *dirt, long *commands)
{
    scan(buf, len, dirt, commands);
}

/* ---- The write hook (hiredis 1.x) ---------------------------------------- */

/* hiredis' plaintext write, with MSG_NOSIGNAL: a peer that closed (or a
 * socket the pool shut down at a writer change) gives EPIPE, not SIGPIPE.
 * Same contract as hiredis': bytes written, 0 to try again, -1 with c->err. */
static ssize_t write_nosignal(redisContext *c)
{
    ssize_t n = send(c->fd, c->obuf, sdslen(c->obuf), MSG_NOSIGNAL);
    if (n >= 0)
        return n;
    if (errno == EINTR || ((errno == EAGAIN || errno == EWOULDBLOCK) && !(c->flags & REDIS_BLOCK)))
        return 0;
    int e = errno;
    c->err = REDIS_ERR_IO;
    const char *msg = strerror_r(e, c->errstr, sizeof(c->errstr));
    if (msg != c->errstr)
        snprintf(c->errstr, sizeof(c->errstr), "%s", msg);
    errno = e;
    return -1;
}

/* Every write of a watched connection: look at the commands not looked at
 * yet, then write as before. hiredis drops the n bytes written from the
 * front of obuf afterwards, all of them already looked at. */
static ssize_t hygiene_write(redisContext *c)
{
    spool_hygiene *h = (spool_hygiene *)(void *)spool_hr_write_hook_of(c);
    size_t len = sdslen(c->obuf);
    if (h->scanned > len)
        h->scanned = 0; /* obuf replaced behind our back: look again */
    if (h->scanned < len) {
        long n = 0;
        scan(c->obuf + h->scanned, len - h->scanned, &h->guard->dirt, &n);
        h->guard->outstanding += n;
        h->scanned = len;
    }
    ssize_t n = h->nosignal ? write_nosignal(c) : h->hook.chained(c);
    if (n > 0)
        h->scanned = len - (size_t)n;
    return n;
}

void spool_hygiene_settle(spool_hygiene *h)
{
    h->guard->dirt = 0;
    h->guard->outstanding = 0;
    h->scanned = 0;
}

void spool_hygiene_attach(spool_hygiene *h, spool_reply_guard *g, redisContext *c, int nosignal)
{
    h->guard = g;
    h->nosignal = nosignal;
    spool_hr_hook_write(c, &h->hook, hygiene_write); /* nothing to hook on 0.14 */
    spool_hygiene_settle(h);
}

int spool_hygiene_verdict(const spool_hygiene *h)
{
    unsigned d = h->guard->dirt;
    if (d & SPOOL_DIRT_CLOSE)
        return SPOOL_HYG_CLOSE;
    /* A reply still to come cannot be told from a blocked command, which a
     * RESET would queue behind, unless replies were switched off or are not
     * one per command anyway. */
    const unsigned uncounted = SPOOL_DIRT_REPLY_MODE | SPOOL_DIRT_PUBSUB | SPOOL_DIRT_MONITOR |
                               SPOOL_DIRT_UNPARSED;
    if (h->guard->outstanding > 0 && !(d & uncounted))
        return SPOOL_HYG_UNREAD;
    return d != 0 ? SPOOL_HYG_RESET : SPOOL_HYG_CLEAN;
}

void spool_hygiene_describe(unsigned dirt, char *buf, size_t len)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        {SPOOL_DIRT_TRANSACTION, "MULTI"},       {SPOOL_DIRT_QUEUED, "+QUEUED"},
        {SPOOL_DIRT_WATCH, "WATCH"},             {SPOOL_DIRT_DATABASE, "SELECT"},
        {SPOOL_DIRT_PUBSUB, "SUBSCRIBE"},        {SPOOL_DIRT_MONITOR, "MONITOR"},
        {SPOOL_DIRT_REPLY_MODE, "CLIENT REPLY"}, {SPOOL_DIRT_USER, "AUTH/RESET"},
        {SPOOL_DIRT_PROTOCOL, "HELLO"},          {SPOOL_DIRT_CLIENT, "CLIENT TRACKING/SETNAME/..."},
        {SPOOL_DIRT_READONLY, "READONLY"},       {SPOOL_DIRT_MARKED, "pool_mark_dirty()"},
        {SPOOL_DIRT_UNPARSED, "inline commands"}, {SPOOL_DIRT_CLOSE, "QUIT/SYNC/POOL_DIRTY_CLOSE"},
    };
    size_t used = 0;
    if (len == 0)
        return;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!(dirt & names[i].bit))
            continue;
        int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", names[i].name);
        if (n < 0 || (size_t)n >= len - used)
            return;
        used += (size_t)n;
    }
}
