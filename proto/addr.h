/* Address parsing: "host:port", "[v6]:port", and comma lists of them. Pure
 * functions (no I/O, no allocation except the list), so they can be fuzzed. */
#ifndef SPOOL_ADDR_H
#define SPOOL_ADDR_H

#include <stddef.h>

#include "proto/limits.h"

typedef struct spool_addr {
    char host[SPOOL_HOST_MAX]; /* IPv6 literals are stored without brackets */
    int port;                  /* 1..65535 */
} spool_addr;

/* Parse one address from s[0..len). Accepts "host:port", "[v6]:port",
 * surrounding spaces. Returns 0 or POOL_EINVAL. */
int spool_addr_parse(const char *s, size_t len, spool_addr *out);

/* Parse a port given as decimal text (no sign, no spaces): 1..65535 or -1. */
int spool_port_parse(const char *s, size_t len);

/* Validate a host as received from a server (no spaces, no control bytes,
 * 1..SPOOL_HOST_MAX-1 bytes) and copy it into out. 0 or POOL_EPROTO. */
int spool_host_copy(const char *s, size_t len, char out[SPOOL_HOST_MAX]);

/* Parse "a:1,b:2,[::1]:3" into a malloc'd array (free with free()). Empty
 * entries are an error. Returns 0, POOL_EINVAL or POOL_ENOMEM. */
int spool_addr_list_parse(const char *s, spool_addr **out, size_t *count);

/* Same host (ASCII case ignored: DNS names and IPv6 hex digits) and port.
 * Nodes are compared by the name the sentinels give, never resolved. */
int spool_addr_equal(const spool_addr *a, const spool_addr *b);

/* A port within 1..SPOOL_PORT_MAX. */
static inline int spool_port_valid(long long port) { return port >= 1 && port <= SPOOL_PORT_MAX; }

/* 1 when host is an IPv4 or IPv6 literal (no zone index), 0 for a name. */
int spool_host_is_numeric(const char *host);

/* The address a certificate must name for host: host without an IPv6
 * zone ("fe80::1%eth0": "fe80::1") into buf. 1 when that is an IPv4 or
 * IPv6 literal, 0 for a name (buf then holds no use). */
int spool_host_ip_literal(const char *host, char *buf, size_t buflen);

/* Format host:port, bracketing IPv6 literals, into buf; returns buf. */
const char *spool_addr_format(const char *host, int port, char *buf, size_t buflen);

#endif
