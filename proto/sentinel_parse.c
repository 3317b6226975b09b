/* Sentinel wire parsers. What comes in was written by a server we do not
 * control and possibly by anyone who can PUBLISH on a sentinel, so every
 * field is bounds-checked and validated before it is copied out. */
#include "proto/sentinel_parse.h"
#include "proto/lex.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "sentinel_pool.h"

/* ---- Small helpers ----------------------------------------------------------- */

static int has_elements(const redisReply *r)
{
    return r->type == REDIS_REPLY_ARRAY && (r->elements == 0 || r->element != NULL);
}

static int copy_name(const char *s, size_t len, char out[SP_NAME_MAX])
{
    if (!sp_valid_name(s, len))
        return -1;
    memcpy(out, s, len);
    out[len] = '\0';
    return 0;
}

static int contains(const char *s, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; s != NULL && n <= len && i <= len - n; i++)
        if (memcmp(s + i, needle, n) == 0)
            return 1;
    return 0;
}

/* Sentinel says "-ERR No such master with that name" for an unknown name. */
static int error_code(const redisReply *r)
{
    return contains(r->str, r->len, "No such master") ? POOL_EUNKNOWNMASTER : POOL_EPROTO;
}

int sp_valid_name(const char *name, size_t len)
{
    if (name == NULL || len < 1 || len >= SP_NAME_MAX)
        return 0;
    /* Bytes from 0x80 up pass untouched: Sentinel stores a name as the
     * bytes it was given (UTF-8 or not) and prints them as they are in
     * every event, so refusing them here would only hide that name's
     * events. Spaces and control bytes would split or corrupt a field. */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= ' ' || c == 0x7f)
            return 0;
    }
    return 1;
}

/* ---- Space-separated payloads --------------------------------------------- */

/* Fields are separated by exactly one space: an empty field (double,
 * leading or trailing space) is malformed, as is running out of fields. */
typedef struct fields {
    const char *p, *end;
    int done;
} fields;

static int take(fields *f, const char **s, size_t *n)
{
    if (f->done)
        return -1;
    const char *sp = memchr(f->p, ' ', (size_t)(f->end - f->p));
    const char *stop = sp != NULL ? sp : f->end;
    if (stop == f->p)
        return -1;
    *s = f->p;
    *n = (size_t)(stop - f->p);
    f->p = sp != NULL ? sp + 1 : f->end;
    f->done = sp == NULL;
    return 0;
}

static int take_name(fields *f, char out[SP_NAME_MAX])
{
    const char *s;
    size_t n;
    return take(f, &s, &n) == 0 ? copy_name(s, n, out) : -1;
}

/* "<ip> <port>": ip as Redis prints it (bare IPv6, hostname). */
static int take_addr(fields *f, spool_addr *a)
{
    const char *s;
    size_t n;
    if (take(f, &s, &n) != 0 || spool_host_copy(s, n, a->host) != 0 || take(f, &s, &n) != 0)
        return -1;
    a->port = spool_port_parse(s, n);
    return a->port >= 1 ? 0 : -1;
}

int sp_parse_switch_master(const char *payload, size_t len, sp_switch_master *out)
{
    if (payload == NULL || out == NULL)
        return POOL_EINVAL;
    fields f = {payload, payload + len, 0};
    sp_switch_master m;
    if (take_name(&f, m.name) != 0 || take_addr(&f, &m.old_addr) != 0 ||
        take_addr(&f, &m.new_addr) != 0 || !f.done)
        return POOL_EPROTO;
    *out = m;
    return 0;
}

int sp_parse_instance_event(const char *payload, size_t len, sp_instance_event *out)
{
    if (payload == NULL || out == NULL)
        return POOL_EINVAL;
    fields f = {payload, payload + len, 0};
    /* Built in a local, so *out stays untouched on failure; about 2 kB. */
    sp_instance_event ev;
    const char *s;
    size_t n;
    if (take(&f, &s, &n) != 0)
        return POOL_EPROTO;
    if (spool_mem_is(s, n, "master"))
        ev.kind = SP_INSTANCE_MASTER;
    else if (spool_mem_is(s, n, "slave") || spool_mem_is(s, n, "replica"))
        ev.kind = SP_INSTANCE_REPLICA;
    else if (spool_mem_is(s, n, "sentinel"))
        ev.kind = SP_INSTANCE_SENTINEL;
    else
        return POOL_EPROTO;
    if (take_name(&f, ev.name) != 0 || take_addr(&f, &ev.addr) != 0)
        return POOL_EPROTO;
    if (ev.kind == SP_INSTANCE_MASTER) {
        memcpy(ev.master_name, ev.name, sizeof ev.name);
        ev.master_addr = ev.addr;
    } else if (take(&f, &s, &n) != 0 || !spool_mem_is(s, n, "@") ||
               take_name(&f, ev.master_name) != 0 || take_addr(&f, &ev.master_addr) != 0) {
        return POOL_EPROTO;
    }
    ev.rest_len = f.done ? 0 : (size_t)(f.end - f.p);
    /* A separator followed by nothing or by another space is an empty field,
     * as elsewhere; beyond that the rest is free text without control bytes. */
    if ((!f.done && (ev.rest_len == 0 || f.p[0] == ' ')) || ev.rest_len >= sizeof ev.rest ||
        !spool_printable(f.p, ev.rest_len, 1))
        return POOL_EPROTO;
    if (ev.rest_len > 0)
        memcpy(ev.rest, f.p, ev.rest_len);
    ev.rest[ev.rest_len] = '\0';
    *out = ev;
    return 0;
}

/* ---- Replies ---------------------------------------------------------------- */

int sp_parse_master_addr_reply(const redisReply *r, spool_addr *out)
{
    if (r == NULL || out == NULL)
        return POOL_EINVAL;
    if (r->type == REDIS_REPLY_NIL)
        return POOL_EUNKNOWNMASTER;
    if (r->type == REDIS_REPLY_ERROR)
        return error_code(r);
    if (!has_elements(r) || r->elements != 2)
        return POOL_EPROTO;
    const redisReply *host = r->element[0];
    spool_addr a;
    if (!spool_reply_is_str(host) || spool_host_copy(host->str, host->len, a.host) != 0)
        return POOL_EPROTO;
    if ((a.port = spool_reply_port(r->element[1], 1)) < 1)
        return POOL_EPROTO;
    *out = a;
    return 0;
}

/* Flag words as Redis 7.0's sentinel.c prints them; unknown words pass. */
static const spool_word_bit flag_words[] = {
    {"s_down", SP_FLAG_S_DOWN},
    {"o_down", SP_FLAG_O_DOWN},
    {"master", SP_FLAG_MASTER},
    {"slave", SP_FLAG_SLAVE},
    {"replica", SP_FLAG_SLAVE},
    {"sentinel", SP_FLAG_SENTINEL},
    {"disconnected", SP_FLAG_DISCONNECTED},
    {"master_down", SP_FLAG_MASTER_DOWN},
    {"failover_in_progress", SP_FLAG_FAILOVER_IN_PROGRESS},
    {"promoted", SP_FLAG_PROMOTED},
    {"reconf_sent", SP_FLAG_RECONF_SENT},
    {"reconf_inprog", SP_FLAG_RECONF_INPROG},
    {"reconf_done", SP_FLAG_RECONF_DONE},
    {"force_failover", SP_FLAG_FORCE_FAILOVER},
    {"script_kill_sent", SP_FLAG_SCRIPT_KILL_SENT},
};

int sp_parse_flags(const char *s, size_t len, unsigned *out)
{
    if ((s == NULL && len > 0) || out == NULL)
        return POOL_EINVAL;
    if (!spool_printable(s, len, 0))
        return POOL_EPROTO;
    unsigned bits = 0;
    size_t i = 0;
    while (i < len) {
        const char *comma = memchr(s + i, ',', len - i);
        size_t n = comma != NULL ? (size_t)(comma - (s + i)) : len - i;
        bits |= spool_word_bit_of(flag_words, sizeof flag_words / sizeof flag_words[0], s + i, n);
        i += n + 1;
    }
    *out = bits;
    return 0;
}

enum {
    K_NAME = 1 << 0,
    K_IP = 1 << 1,
    K_PORT = 1 << 2,
    K_RUNID = 1 << 3,
    K_FLAGS = 1 << 4,
    K_LINK = 1 << 5,
    K_OFFSET = 1 << 6,
    K_MHOST = 1 << 7,
    K_MPORT = 1 << 8,
    K_SPRIO = 1 << 9,
    K_RPRIO = 1 << 10,
};

static const spool_word_bit instance_keys[] = {
    {"name", K_NAME},
    {"ip", K_IP},
    {"port", K_PORT},
    {"runid", K_RUNID},
    {"flags", K_FLAGS},
    {"master-link-status", K_LINK},
    {"slave-repl-offset", K_OFFSET},
    {"master-host", K_MHOST},
    {"master-port", K_MPORT},
    /* Redis 7 sends both spellings with the same value. */
    {"slave-priority", K_SPRIO},
    {"replica-priority", K_RPRIO},
};

/* One known key's value into *o. 0 or -1. */
static int instance_field(unsigned key, const redisReply *v, sp_instance *o)
{
    long long n;
    switch (key) {
    case K_NAME:
        return spool_reply_is_str(v) ? copy_name(v->str, v->len, o->name) : -1;
    case K_IP:
        return spool_reply_is_str(v) ? spool_host_copy(v->str, v->len, o->addr.host) : -1;
    case K_PORT:
        return (o->addr.port = spool_reply_port(v, 1)) >= 1 ? 0 : -1;
    case K_RUNID:
        if (!spool_reply_is_str(v) || v->len >= sizeof o->runid ||
            !spool_printable(v->str, v->len, 0))
            return -1;
        if (v->len > 0)
            memcpy(o->runid, v->str, v->len);
        o->runid[v->len] = '\0';
        return 0;
    case K_FLAGS:
        return spool_reply_is_str(v) && sp_parse_flags(v->str, v->len, &o->flags) == 0 ? 0 : -1;
    case K_LINK:
        if (spool_reply_is(v, "ok"))
            o->master_link_ok = 1;
        else if (spool_reply_is(v, "err"))
            o->master_link_ok = 0;
        else
            return -1;
        return 0;
    case K_OFFSET:
        if (spool_reply_ll(v, &n) != 0 || n < 0)
            return -1;
        o->repl_offset = n;
        o->has_repl_offset = 1;
        return 0;
    case K_MHOST:
        /* "?" while the replica has not reported its master yet. */
        return spool_reply_is_str(v) ? spool_host_copy(v->str, v->len, o->master_host) : -1;
    case K_MPORT:
        /* 0 while unknown, like master-host "?". */
        return (o->master_port = spool_reply_port(v, 0)) >= 0 ? 0 : -1;
    case K_SPRIO:
    case K_RPRIO:
        if (spool_reply_ll(v, &n) != 0 || n < 0 || n > INT_MAX)
            return -1;
        o->priority = (int)n;
        return 0;
    default:
        return -1;
    }
}

static int parse_instance(const redisReply *e, sp_instance *o)
{
    if (e == NULL || !has_elements(e) || e->elements % 2 != 0)
        return -1;
    memset(o, 0, sizeof *o);
    o->master_link_ok = -1;
    o->priority = -1;
    unsigned seen = 0;
    for (size_t i = 0; i < e->elements; i += 2) {
        const redisReply *k = e->element[i], *v = e->element[i + 1];
        if (!spool_reply_is_str(k) || v == NULL)
            return -1;
        unsigned key = spool_word_bit_of(instance_keys,
                                         sizeof instance_keys / sizeof instance_keys[0], k->str,
                                         k->len);
        if (key == 0)
            continue; /* dozens of counters and timers we do not need */
        if (spool_seen_once(&seen, key) != 0 || instance_field(key, v, o) != 0)
            return -1;
    }
    return (seen & (K_NAME | K_IP | K_PORT)) == (K_NAME | K_IP | K_PORT) ? 0 : -1;
}

int sp_parse_instances_reply(const redisReply *r, sp_instance **out, size_t *count)
{
    if (r == NULL || out == NULL || count == NULL)
        return POOL_EINVAL;
    *out = NULL;
    *count = 0;
    if (r->type == REDIS_REPLY_ERROR)
        return error_code(r);
    if (!has_elements(r) || r->elements > SP_INSTANCES_MAX)
        return POOL_EPROTO;
    if (r->elements == 0)
        return 0;
    sp_instance *list = calloc(r->elements, sizeof *list);
    if (list == NULL)
        return POOL_ENOMEM;
    for (size_t i = 0; i < r->elements; i++) {
        if (parse_instance(r->element[i], &list[i]) != 0) {
            free(list);
            return POOL_EPROTO;
        }
    }
    *out = list;
    *count = r->elements;
    return 0;
}

void sp_instances_free(sp_instance *list) { free(list); }

/* ---- Pub/sub ------------------------------------------------------------------ */

int sp_parse_pubsub_message(const redisReply *r, const char **channel, size_t *chlen,
                            const char **payload, size_t *plen)
{
    if (r == NULL || channel == NULL || chlen == NULL || payload == NULL || plen == NULL)
        return POOL_EINVAL;
    if (!has_elements(r) || r->elements < 2)
        return POOL_EPROTO;
    const redisReply *kind = r->element[0];
    const redisReply *ch = NULL, *msg = NULL;
    int rc;
    if (spool_reply_is(kind, "message") && r->elements == 3) {
        ch = r->element[1];
        msg = r->element[2];
        rc = 0;
    } else if (spool_reply_is(kind, "pmessage") && r->elements == 4) {
        if (!spool_reply_is_str(r->element[1]))
            return POOL_EPROTO;
        ch = r->element[2];
        msg = r->element[3];
        rc = 0;
    } else if ((spool_reply_is(kind, "subscribe") || spool_reply_is(kind, "psubscribe") ||
                spool_reply_is(kind, "unsubscribe") || spool_reply_is(kind, "punsubscribe")) &&
               r->elements == 3) {
        /* The channel is nil in an UNSUBSCRIBE reply when none was left. */
        const redisReply *c = r->element[1], *n = r->element[2];
        if ((!spool_reply_is_str(c) && (c == NULL || c->type != REDIS_REPLY_NIL)) || n == NULL ||
            n->type != REDIS_REPLY_INTEGER || n->integer < 0)
            return POOL_EPROTO;
        ch = spool_reply_is_str(c) ? c : NULL;
        rc = 1;
    } else if (spool_reply_is(kind, "pong") && r->elements == 2) {
        /* A PING in subscribed mode answers ["pong", arg] in RESP2. */
        if (!spool_reply_is_str(r->element[1]))
            return POOL_EPROTO;
        rc = 1;
    } else {
        return POOL_EPROTO;
    }
    if (rc == 0 && (!spool_reply_is_str(ch) || !spool_reply_is_str(msg)))
        return POOL_EPROTO;
    *channel = ch != NULL ? ch->str : NULL;
    *chlen = ch != NULL ? ch->len : 0;
    *payload = msg != NULL ? msg->str : NULL;
    *plen = msg != NULL ? msg->len : 0;
    return rc;
}
