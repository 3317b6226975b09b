/* Address parsing. Two audiences with different rules: option strings come
 * from a person and must be unambiguous ("[v6]:port"), hosts sent by servers
 * come as Redis prints them (bare IPv6, hostnames) and only need to be safe
 * to store, log and hand to getaddrinfo(). */
#include "proto/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/lex.h"
#include "sentinel_pool.h"

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static int is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* A character of a bare hostname or IPv4 literal in an option string. */
static int is_host_char(char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_';
}

/* A character inside "[...]": hex digits, ':' and '.' (v4-mapped), plus a
 * zone index after '%' ("fe80::1%eth0"), whose name follows host rules. */
static int is_v6_char(char c) { return is_hex(c) || c == ':' || c == '.'; }

int spool_port_parse(const char *s, size_t len)
{
    if (s == NULL || len == 0)
        return -1;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
        /* Checked every digit, so a long run of digits cannot overflow. */
        if (v > SPOOL_PORT_MAX)
            return -1;
    }
    return spool_port_valid(v) ? (int)v : -1;
}

int spool_host_copy(const char *s, size_t len, char out[SPOOL_HOST_MAX])
{
    if (s == NULL || out == NULL || len == 0 || len >= SPOOL_HOST_MAX)
        return POOL_EPROTO;
    /* Printable ASCII only: no spaces, no control bytes (NUL included), no
     * bytes >= 0x80. What passes is safe in a log line and as a C string. */
    if (!spool_printable(s, len, 0))
        return POOL_EPROTO;
    memcpy(out, s, len);
    out[len] = '\0';
    return 0;
}

/* Validate the inside of "[...]" from an option string. */
static int valid_v6(const char *s, size_t len)
{
    size_t i = 0, colons = 0;
    for (; i < len && s[i] != '%'; i++) {
        if (!is_v6_char(s[i]))
            return 0;
        colons += s[i] == ':';
    }
    if (colons < 2)
        return 0;
    if (i < len) { /* zone index */
        if (++i == len)
            return 0;
        for (; i < len; i++)
            if (!is_host_char(s[i]))
                return 0;
    }
    return 1;
}

static int valid_hostname(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!is_host_char(s[i]))
            return 0;
    return 1;
}

int spool_addr_parse(const char *s, size_t len, spool_addr *out)
{
    if (s == NULL || out == NULL)
        return POOL_EINVAL;
    while (len > 0 && is_space(s[0])) {
        s++;
        len--;
    }
    while (len > 0 && is_space(s[len - 1]))
        len--;
    if (len == 0)
        return POOL_EINVAL;

    const char *host, *port;
    size_t hostlen, portlen;
    if (s[0] == '[') {
        const char *end = memchr(s, ']', len);
        if (end == NULL)
            return POOL_EINVAL;
        host = s + 1;
        hostlen = (size_t)(end - host);
        if (!valid_v6(host, hostlen))
            return POOL_EINVAL;
        size_t used = (size_t)(end - s) + 1;
        if (used >= len || s[used] != ':')
            return POOL_EINVAL;
        port = s + used + 1;
        portlen = len - used - 1;
    } else {
        const char *colon = memchr(s, ':', len);
        if (colon == NULL)
            return POOL_EINVAL;
        host = s;
        hostlen = (size_t)(colon - s);
        port = colon + 1;
        portlen = len - hostlen - 1;
        /* A second ':' means a bare IPv6 literal: "::1:6379" could be
         * host "::1" port 6379 or host "::1:6379" with no port. */
        if (memchr(port, ':', portlen) != NULL || !valid_hostname(host, hostlen))
            return POOL_EINVAL;
    }
    if (hostlen >= SPOOL_HOST_MAX)
        return POOL_EINVAL;
    int p = spool_port_parse(port, portlen);
    if (p < 1)
        return POOL_EINVAL;
    memcpy(out->host, host, hostlen);
    out->host[hostlen] = '\0';
    out->port = p;
    return 0;
}

int spool_addr_list_parse(const char *s, spool_addr **out, size_t *count)
{
    if (s == NULL || out == NULL || count == NULL)
        return POOL_EINVAL;
    *out = NULL;
    *count = 0;
    size_t len = strlen(s);
    size_t n = 1;
    for (size_t i = 0; i < len; i++)
        n += s[i] == ',';
    if (n > SIZE_MAX / sizeof(spool_addr))
        return POOL_ENOMEM;
    spool_addr *list = malloc(n * sizeof *list);
    if (list == NULL)
        return POOL_ENOMEM;
    const char *p = s, *end = s + len;
    for (size_t i = 0; i < n; i++) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma != NULL ? comma : end;
        /* An empty entry ("a:1,,b:2", trailing comma) is rejected by
         * spool_addr_parse() since nothing is left after trimming. */
        if (spool_addr_parse(p, (size_t)(stop - p), &list[i]) != 0) {
            free(list);
            return POOL_EINVAL;
        }
        p = stop + 1;
    }
    *out = list;
    *count = n;
    return 0;
}

const char *spool_addr_format(const char *host, int port, char *buf, size_t buflen)
{
    if (buf == NULL || buflen == 0)
        return buf;
    if (host == NULL)
        host = "";
    /* snprintf truncates and always terminates: a short buffer gets a
     * shortened string, never an overflow. */
    if (strchr(host, ':') != NULL)
        snprintf(buf, buflen, "[%s]:%d", host, port);
    else
        snprintf(buf, buflen, "%s:%d", host, port);
    return buf;
}

int spool_host_is_numeric(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

int spool_host_ip_literal(const char *host, char *buf, size_t buflen)
{
    if (buf == NULL || buflen == 0)
        return 0;
    snprintf(buf, buflen, "%s", host != NULL ? host : "");
    buf[strcspn(buf, "%")] = '\0'; /* an IPv6 zone is not part of the address */
    return spool_host_is_numeric(buf);
}

int spool_addr_equal(const spool_addr *a, const spool_addr *b)
{
    /* DNS names and IPv6 hex digits are case-insensitive; names are compared
     * as the sentinels give them, never resolved. */
    return a->port == b->port && strcasecmp(a->host, b->host) == 0;
}
