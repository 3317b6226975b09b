/* See hygiene.h. */
#define _GNU_SOURCE
#include "pool/hygiene.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
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

/* A decimal length and its CRLF at buf[*pos]; -1 when malformed. */
static long long parse_len(const char *buf, size_t len, size_t *pos)
{
    size_t i = *pos;
    long long v = 0;
    while (i < len && buf[i] >= '0' && buf[i] <= '9') {
        if (v > (LLONG_MAX - 9) / 10)
            return -1;
        v = v * 10 + (buf[i] - '0');
        i++;
    }
    if (i == *pos || len - i < 2 || buf[i] != '\r' || buf[i + 1] != '\n')
        return -1;
    *pos = i + 2;
    return v;
}

void spool_hygiene_scan(const char *buf, size_t len, unsigned *dirt, long *commands)
{
    size_t pos = 0;
    while (pos < len) {
        if (buf[pos++] != '*')
            goto unparsed;
        long long argc = parse_len(buf, len, &pos);
        if (argc < 1)
            goto unparsed;
        const char *name = NULL, *sub = NULL;
        size_t nlen = 0, slen = 0;
        for (long long i = 0; i < argc; i++) {
            if (pos >= len || buf[pos++] != '$')
                goto unparsed;
            long long alen = parse_len(buf, len, &pos);
            if (alen < 0 || (unsigned long long)alen > len - pos || len - pos - (size_t)alen < 2)
                goto unparsed;
            if (i == 0) {
                name = buf + pos;
                nlen = (size_t)alen;
            } else if (i == 1) {
                sub = buf + pos;
                slen = (size_t)alen;
            }
            pos += (size_t)alen;
            if (buf[pos] != '\r' || buf[pos + 1] != '\n')
                goto unparsed;
            pos += 2;
        }
        (*commands)++;
        *dirt = apply(*dirt, name, nlen, sub, slen);
    }
    return;
unparsed:
    *dirt |= SPOOL_DIRT_UNPARSED;
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
        spool_hygiene_scan(c->obuf + h->scanned, len - h->scanned, &h->guard->dirt, &n);
        h->guard->outstanding += n;
        h->scanned = len;
    }
    ssize_t n = h->nosignal ? write_nosignal(c) : h->hook.chained(c);
    if (n > 0)
        h->scanned = len - (size_t)n;
    return n;
}

void spool_hygiene_attach(spool_hygiene *h, spool_reply_guard *g, redisContext *c, int nosignal)
{
    h->guard = g;
    h->scanned = 0;
    h->nosignal = nosignal;
    h->push_cb = spool_hr_push_cb(c);
    spool_hr_hook_write(c, &h->hook, hygiene_write); /* nothing to hook on 0.14 */
    g->dirt = 0;
    g->outstanding = 0;
}

void spool_hygiene_restore_push(spool_hygiene *h, redisContext *c)
{
    if (spool_hr_push_cb(c) != h->push_cb)
        spool_hr_set_push_cb(c, h->push_cb);
}

void spool_hygiene_settle(spool_hygiene *h, redisContext *c)
{
    spool_hygiene_restore_push(h, c);
    h->guard->dirt = 0;
    h->guard->outstanding = 0;
    h->scanned = 0;
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
    if (used == 0)
        snprintf(buf, len, "a replaced push callback");
}
