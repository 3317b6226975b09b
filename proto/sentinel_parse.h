/* Sentinel wire parsers: a pub/sub message payload or a redisReply in, a
 * small struct and a POOL_E* code out. Pure functions: no sockets, no locks,
 * no clocks, no global mutable state, so they are table-tested and fuzzed.
 *
 * All of them are strict about types and bounds (anything malformed is
 * POOL_EPROTO, NULL arguments are POOL_EINVAL) and lenient where real
 * servers differ: ports as integers or strings, "slave" or "replica",
 * IPv6 literals without brackets, hostnames in place of IPs. On failure the
 * output struct is left untouched. */
#ifndef SPOOL_SENTINEL_PARSE_H
#define SPOOL_SENTINEL_PARSE_H

#include <stddef.h>
#include <hiredis/hiredis.h>

#include "proto/addr.h"
#include "proto/limits.h"

/* The one rule for a master name, wherever one is checked: pool_create()
 * and pool_sentinel_set's pools (pool/options.c), every event parser here,
 * sentinel-pool-check. Is name 1..SP_NAME_MAX-1 bytes, none of them a space,
 * an ASCII control byte or DEL? 1 or 0. Other bytes (UTF-8 "mymäster")
 * pass: Sentinel accepts them in SENTINEL MONITOR and prints them verbatim
 * in its events, which split fields on single spaces. Instance names in
 * events (a replica's "ip:port", a sentinel's run id) follow it too. */
int sp_valid_name(const char *name, size_t len);

/* +switch-master: "<name> <old-ip> <old-port> <new-ip> <new-port>". */
typedef struct sp_switch_master {
    char name[SP_NAME_MAX];
    spool_addr old_addr;
    spool_addr new_addr;
} sp_switch_master;

int sp_parse_switch_master(const char *payload, size_t len, sp_switch_master *out);

typedef enum {
    SP_INSTANCE_MASTER = 1,
    SP_INSTANCE_REPLICA = 2, /* "slave" on the wire */
    SP_INSTANCE_SENTINEL = 3,
} sp_instance_kind;

/* An event with an instance prefix (+sdown, +odown, +role-change, ...):
 *   "master <name> <ip> <port>[ rest]"
 *   "<slave|sentinel> <instance-name> <ip> <port> @ <master> <m-ip> <m-port>[ rest]"
 * For a master, master_name/master_addr repeat name/addr. rest is what
 * follows the prefix without its leading space ("#quorum 2/2", "new reported
 * role is master"), "" when nothing does. */
typedef struct sp_instance_event {
    sp_instance_kind kind;
    char name[SP_NAME_MAX]; /* replica: "ip:port"; sentinel: run id or "ip:port" */
    spool_addr addr;
    char master_name[SP_NAME_MAX];
    spool_addr master_addr;
    char rest[SP_REST_MAX]; /* printable ASCII, NUL-terminated */
    size_t rest_len;
} sp_instance_event;

int sp_parse_instance_event(const char *payload, size_t len, sp_instance_event *out);

/* SENTINEL get-master-addr-by-name: 0 with *out set; POOL_EUNKNOWNMASTER for
 * a nil reply or "-ERR No such master..."; POOL_EPROTO for anything else. */
int sp_parse_master_addr_reply(const redisReply *r, spool_addr *out);

/* Bits of the "flags" field of SENTINEL replicas/sentinels. Unknown words
 * are ignored. */
enum {
    SP_FLAG_S_DOWN = 1u << 0,
    SP_FLAG_O_DOWN = 1u << 1,
    SP_FLAG_MASTER = 1u << 2,
    SP_FLAG_SLAVE = 1u << 3,
    SP_FLAG_SENTINEL = 1u << 4,
    SP_FLAG_DISCONNECTED = 1u << 5,
    SP_FLAG_MASTER_DOWN = 1u << 6,
    SP_FLAG_FAILOVER_IN_PROGRESS = 1u << 7,
    SP_FLAG_PROMOTED = 1u << 8,
    SP_FLAG_RECONF_SENT = 1u << 9,
    SP_FLAG_RECONF_INPROG = 1u << 10,
    SP_FLAG_RECONF_DONE = 1u << 11,
    SP_FLAG_FORCE_FAILOVER = 1u << 12,
    SP_FLAG_SCRIPT_KILL_SENT = 1u << 13,
};

/* Parse a comma list of flag words into SP_FLAG_* bits. 0 or POOL_EPROTO
 * (control bytes or spaces); unknown words and empty items are ignored. */
int sp_parse_flags(const char *s, size_t len, unsigned *out);

/* One entry of SENTINEL replicas / SENTINEL sentinels. */
typedef struct sp_instance {
    char name[SP_NAME_MAX];
    spool_addr addr;
    char runid[SP_RUNID_MAX]; /* "" when absent or not yet known */
    unsigned flags;           /* SP_FLAG_* */
    int master_link_ok;       /* master-link-status: 1 "ok", 0 "err", -1 absent */
    int has_repl_offset;      /* 1 when slave-repl-offset was given */
    long long repl_offset;    /* slave-repl-offset */
    int priority;             /* replica-priority / slave-priority, -1 absent */
    char master_host[SPOOL_HOST_MAX]; /* master-host, "" absent ("?" = unknown) */
    int master_port;          /* master-port, 0 when absent or unknown */
} sp_instance;

/* SENTINEL replicas|sentinels <name>: an array of flat key/value arrays.
 * name, ip and port are required; numbers may be strings or integers; unknown
 * keys are ignored; a known key given twice is malformed. On success *out is
 * a malloc'd array of *count entries (NULL when 0), freed with
 * sp_instances_free() or free(). POOL_EUNKNOWNMASTER for "-ERR No such
 * master...", POOL_EPROTO for a malformed reply or more than
 * SP_INSTANCES_MAX entries, POOL_ENOMEM. On failure *out is NULL and *count 0. */
int sp_parse_instances_reply(const redisReply *r, sp_instance **out, size_t *count);
void sp_instances_free(sp_instance *list);

/* A pub/sub push. Returns 0 for ["message", ch, payload] and
 * ["pmessage", pattern, ch, payload] with *channel and *payload pointing into r
 * (valid while r lives); 1 for a reply to skip: a (p)(un)subscribe
 * confirmation [kind, ch|nil, count] or a subscribed-mode PING reply
 * ["pong", data] (*payload NULL, *channel the channel or NULL); POOL_EPROTO
 * for anything else. */
int sp_parse_pubsub_message(const redisReply *r, const char **channel, size_t *chlen,
                            const char **payload, size_t *plen);

#endif
