/* ROLE and INFO replication parsers. The answer decides whether the pool
 * hands out a connection as "the writer", so anything odd is POOL_EPROTO:
 * a node we cannot understand is not a master we can trust. */
#include "proto/role.h"

#include <limits.h>
#include <string.h>

#include "proto/addr.h"
#include "proto/lex.h"
#include "sentinel_pool.h"

/* A link state word: printable, no spaces, fits link_state. */
static int copy_state(const char *s, size_t len, char *out, size_t outlen)
{
    if (len == 0 || len >= outlen || !spool_printable(s, len, 0))
        return -1;
    memcpy(out, s, len);
    out[len] = '\0';
    return 0;
}

/* ["master", offset, [[ip, port, offset], ...]] */
static int parse_master(const redisReply *r, spool_role *o)
{
    if (r->elements != 3 || r->element[1] == NULL || r->element[1]->type != REDIS_REPLY_INTEGER ||
        r->element[1]->integer < 0)
        return POOL_EPROTO;
    const redisReply *list = r->element[2];
    if (list == NULL || list->type != REDIS_REPLY_ARRAY || list->elements > INT_MAX ||
        (list->elements > 0 && list->element == NULL))
        return POOL_EPROTO;
    for (size_t i = 0; i < list->elements; i++) {
        const redisReply *e = list->element[i];
        char host[SPOOL_HOST_MAX];
        long long off;
        if (e == NULL || e->type != REDIS_REPLY_ARRAY || e->elements != 3 || e->element == NULL ||
            !spool_reply_is_str(e->element[0]) || spool_host_copy(e->element[0]->str, e->element[0]->len, host) != 0 ||
            spool_reply_port(e->element[1], 1) < 1 || spool_reply_ll(e->element[2], &off) != 0 || off < 0)
            return POOL_EPROTO;
        if (o->nlisted < SPOOL_MAX_REPLICAS) {
            memcpy(o->listed[o->nlisted].addr.host, host, sizeof(host));
            o->listed[o->nlisted].addr.port = spool_reply_port(e->element[1], 1);
            o->listed[o->nlisted].offset = off;
            o->nlisted++;
        }
    }
    o->kind = SPOOL_ROLE_MASTER;
    o->offset = r->element[1]->integer;
    o->connected_replicas = (int)list->elements;
    return 0;
}

/* ["slave", master-host, master-port, state, offset] */
static int parse_replica(const redisReply *r, spool_role *o)
{
    if (r->elements != 5)
        return POOL_EPROTO;
    const redisReply *host = r->element[1], *state = r->element[3], *off = r->element[4];
    if (!spool_reply_is_str(host) || spool_host_copy(host->str, host->len, o->master_host) != 0)
        return POOL_EPROTO;
    o->master_port = spool_reply_port(r->element[2], 1);
    if (o->master_port < 1)
        return POOL_EPROTO;
    if (!spool_reply_is_str(state) || copy_state(state->str, state->len, o->link_state, sizeof o->link_state) != 0)
        return POOL_EPROTO;
    /* -1 until the replica has synced once. */
    if (off == NULL || off->type != REDIS_REPLY_INTEGER || off->integer < -1)
        return POOL_EPROTO;
    o->kind = SPOOL_ROLE_REPLICA;
    o->offset = off->integer;
    return 0;
}

/* ["sentinel", [master-names...]] */
static int parse_sentinel(const redisReply *r, spool_role *o)
{
    if (r->elements != 2)
        return POOL_EPROTO;
    const redisReply *names = r->element[1];
    if (names == NULL || names->type != REDIS_REPLY_ARRAY ||
        (names->elements > 0 && names->element == NULL))
        return POOL_EPROTO;
    for (size_t i = 0; i < names->elements; i++)
        if (!spool_reply_is_str(names->element[i]))
            return POOL_EPROTO;
    o->kind = SPOOL_ROLE_SENTINEL;
    return 0;
}

int spool_role_parse(const redisReply *r, spool_role *out)
{
    if (r == NULL || out == NULL)
        return POOL_EINVAL;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->element == NULL)
        return POOL_EPROTO;
    spool_role o;
    memset(&o, 0, sizeof o);
    const redisReply *kind = r->element[0];
    int rc;
    if (spool_reply_is(kind, "master"))
        rc = parse_master(r, &o);
    else if (spool_reply_is(kind, "slave") || spool_reply_is(kind, "replica"))
        rc = parse_replica(r, &o);
    else if (spool_reply_is(kind, "sentinel"))
        rc = parse_sentinel(r, &o);
    else
        rc = POOL_EPROTO;
    if (rc == 0)
        *out = o;
    return rc;
}

/* ---- INFO replication ------------------------------------------------------ */

enum {
    INFO_ROLE = 1 << 0,
    INFO_HOST = 1 << 1,
    INFO_PORT = 1 << 2,
    INFO_LINK = 1 << 3,
    INFO_SLAVE_OFF = 1 << 4,
    INFO_MASTER_OFF = 1 << 5,
    INFO_CONNECTED = 1 << 6,
};

/* The fields we need among the many INFO replication lists. */
static const spool_word_bit info_keys[] = {
    {"role", INFO_ROLE},
    {"master_host", INFO_HOST},
    {"master_port", INFO_PORT},
    {"master_link_status", INFO_LINK},
    {"slave_repl_offset", INFO_SLAVE_OFF},
    {"master_repl_offset", INFO_MASTER_OFF},
    {"connected_slaves", INFO_CONNECTED},
};

/* The value of known key into o (or the offsets). 0 or -1. */
static int info_field(unsigned key, const char *val, size_t vlen, spool_role *o,
                      long long *slave_off, long long *master_off)
{
    long long v = 0;
    switch (key) {
    case INFO_ROLE:
        if (spool_mem_is(val, vlen, "master"))
            o->kind = SPOOL_ROLE_MASTER;
        else if (spool_mem_is(val, vlen, "slave") || spool_mem_is(val, vlen, "replica"))
            o->kind = SPOOL_ROLE_REPLICA;
        else
            return -1;
        return 0;
    case INFO_HOST:
        return spool_host_copy(val, vlen, o->master_host) == 0 ? 0 : -1;
    case INFO_PORT:
        return (o->master_port = spool_port_parse(val, vlen)) >= 1 ? 0 : -1;
    case INFO_LINK:
        /* Same words as ROLE's state, so callers check one vocabulary. */
        if (spool_mem_is(val, vlen, "up"))
            strcpy(o->link_state, "connected");
        else if (spool_mem_is(val, vlen, "down"))
            strcpy(o->link_state, "connect");
        else
            return -1;
        return 0;
    case INFO_SLAVE_OFF:
        if (spool_ll_parse(val, vlen, &v) != 0 || v < -1)
            return -1;
        *slave_off = v;
        return 0;
    case INFO_MASTER_OFF:
        if (spool_ll_parse(val, vlen, &v) != 0 || v < 0)
            return -1;
        *master_off = v;
        return 0;
    case INFO_CONNECTED:
        if (spool_ll_parse(val, vlen, &v) != 0 || v < 0 || v > INT_MAX)
            return -1;
        o->connected_replicas = (int)v;
        return 0;
    default:
        return -1;
    }
}

/* "slave<N>", the key of one replica line of a master's INFO replication
 * (not slave_repl_offset and its kin). */
static int is_replica_key(const char *key, size_t klen)
{
    if (klen <= 5 || memcmp(key, "slave", 5) != 0)
        return 0;
    for (size_t i = 5; i < klen; i++)
        if (key[i] < '0' || key[i] > '9')
            return 0;
    return 1;
}

/* "ip=H,port=P,state=S,offset=O,lag=L": appended to o->listed when the
 * state is online, as ROLE lists only online replicas (the first
 * SPOOL_MAX_REPLICAS, as ROLE's parser keeps). 0 or POOL_EPROTO. */
static int info_replica(const char *val, size_t vlen, spool_role *o)
{
    char host[SPOOL_HOST_MAX];
    int port = 0, have_host = 0, online = -1;
    long long off = -1;
    const char *p = val, *end = val + vlen;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *fe = comma != NULL ? comma : end;
        const char *eq = memchr(p, '=', (size_t)(fe - p));
        if (eq == NULL)
            return POOL_EPROTO;
        size_t klen = (size_t)(eq - p), flen = (size_t)(fe - eq - 1);
        const char *f = eq + 1;
        if (spool_mem_is(p, klen, "ip")) {
            if (have_host || spool_host_copy(f, flen, host) != 0)
                return POOL_EPROTO;
            have_host = 1;
        } else if (spool_mem_is(p, klen, "port")) {
            if (port != 0 || (port = spool_port_parse(f, flen)) < 1)
                return POOL_EPROTO;
        } else if (spool_mem_is(p, klen, "state")) {
            if (online >= 0 || flen == 0 || !spool_printable(f, flen, 0))
                return POOL_EPROTO;
            online = spool_mem_is(f, flen, "online");
        } else if (spool_mem_is(p, klen, "offset")) {
            if (off >= 0 || spool_ll_parse(f, flen, &off) != 0 || off < 0)
                return POOL_EPROTO;
        }
        p = comma != NULL ? comma + 1 : end;
    }
    if (!have_host || port < 1 || online < 0 || off < 0)
        return POOL_EPROTO;
    if (online && o->nlisted < SPOOL_MAX_REPLICAS) {
        memcpy(o->listed[o->nlisted].addr.host, host, sizeof(host));
        o->listed[o->nlisted].addr.port = port;
        o->listed[o->nlisted].offset = off;
        o->nlisted++;
    }
    return 0;
}

/* One "key:value" line. Returns 0, or POOL_EPROTO for a known key with a bad
 * value or seen twice (a reply that says two things is not trusted). */
static int info_line(const char *key, size_t klen, const char *val, size_t vlen, spool_role *o,
                     unsigned *seen, long long *slave_off, long long *master_off)
{
    if (is_replica_key(key, klen))
        return info_replica(val, vlen, o);
    unsigned bit = spool_word_bit_of(info_keys, sizeof info_keys / sizeof info_keys[0], key, klen);
    if (bit == 0)
        return 0; /* the many fields we do not need */
    if (info_field(bit, val, vlen, o, slave_off, master_off) != 0 ||
        spool_seen_once(seen, bit) != 0)
        return POOL_EPROTO;
    return 0;
}

int spool_role_parse_info(const char *text, size_t len, spool_role *out)
{
    if (text == NULL || out == NULL)
        return POOL_EINVAL;
    spool_role o;
    memset(&o, 0, sizeof o);
    unsigned seen = 0;
    long long slave_off = -1, master_off = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl != NULL ? nl : end;
        size_t n = (size_t)(eol - p);
        if (n > 0 && p[n - 1] == '\r')
            n--;
        const char *colon = n > 0 && p[0] != '#' ? memchr(p, ':', n) : NULL;
        if (colon != NULL) {
            size_t klen = (size_t)(colon - p);
            int rc = info_line(p, klen, colon + 1, n - klen - 1, &o, &seen, &slave_off,
                               &master_off);
            if (rc != 0)
                return rc;
        }
        p = nl != NULL ? nl + 1 : end;
    }
    if (!(seen & INFO_ROLE))
        return POOL_EPROTO;
    if (o.kind == SPOOL_ROLE_MASTER) {
        o.offset = master_off;
        /* A master's own master_* lines do not exist; clear anything odd. */
        o.master_host[0] = '\0';
        o.master_port = 0;
        o.link_state[0] = '\0';
    } else {
        if (!(seen & INFO_HOST) || !(seen & INFO_PORT) || !(seen & INFO_LINK))
            return POOL_EPROTO;
        o.offset = slave_off;
        o.connected_replicas = 0;
        o.nlisted = 0; /* its own replicas (chained): ROLE does not list them */
    }
    *out = o;
    return 0;
}
