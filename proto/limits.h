/* The library's caps and sizes, each with why it is what it is. In one
 * place so that a limit is found, changed and reviewed once; the structs,
 * parsers and checks that use one include this header. Constants only. */
#ifndef SPOOL_LIMITS_H
#define SPOOL_LIMITS_H

/* ---- Names and addresses ------------------------------------------------- */

/* A host as stored: a DNS name is at most 253 bytes, plus the NUL. */
#define SPOOL_HOST_MAX 256
/* Ports are 1..SPOOL_PORT_MAX: TCP's 16 bits (0 is no port). */
#define SPOOL_PORT_MAX 65535
/* Master and instance names: 1..127 bytes; a name is one space-separated
 * field of every Sentinel event, and options are checked against the same. */
#define SP_NAME_MAX 128
/* A run id: 40 hex digits, or "" before a sentinel's first INFO. */
#define SP_RUNID_MAX 41
/* What follows an event's instance prefix: Sentinel truncates an event to
 * 1023 bytes. */
#define SP_REST_MAX 1024
/* A replica's link word from ROLE (connected, connecting, sync, handshake,
 * ...): the longest Redis sends is 10 bytes. */
#define SPOOL_LINK_STATE_MAX 16

/* ---- Lists ------------------------------------------------------------------ */

/* Entries of one SENTINEL replicas/sentinels reply: more is not a real
 * deployment, and each entry is parsed into a struct of about 700 bytes. */
#define SP_INSTANCES_MAX 1024
/* Replicas of one master that reads may use: the first this many its ROLE
 * lists (with the offset each acknowledged, for lag) are the candidates,
 * and the pool's replica table is a fixed array of this size, filled under
 * its lock without allocating. One limit for both: a larger table could
 * never fill. spool_role is copied by value (on a caller's stack when a
 * checkout validates), so it stays small. */
#define SPOOL_MAX_REPLICAS 16
/* Sentinels one set knows: its thread polls all of their sockets with one
 * poll() over a fixed array. */
#define SP_MAX_SENTINELS 64
/* max_connections and max_readers: each pool's slot arrays are allocated
 * whole at create time. */
#define SPOOL_MAX_CONNECTIONS 4096
/* Arguments of one command the library sends itself: the longest is
 * SUBSCRIBE with every channel a set watches (15). */
#define SPOOL_CMD_MAX_ARGS 16

/* ---- Replies ------------------------------------------------------------- */

/* pool_options_t.max_reply_elements' default: an array of 2^20 elements is
 * 8 MiB of pointers before any element arrives. */
#define SPOOL_DEFAULT_MAX_REPLY_ELEMENTS 1048576LL
/* pool_options_t.max_reply_bulk's default: Redis' own proto-max-bulk-len. */
#define SPOOL_DEFAULT_MAX_REPLY_BULK (512LL * 1024 * 1024)
/* Elements of one array on the contexts the library reads itself
 * (sentinels, role probes, the tool): as a pool's default, since hiredis
 * 0.14 has no cap and "*2147483647" would ask it for 16 GiB. */
#define SPOOL_NET_MAX_ELEMENTS SPOOL_DEFAULT_MAX_REPLY_ELEMENTS
/* Unparsed bytes a round trip on such a context may buffer: far above any
 * answer the library asks for. Strings need no cap of their own there:
 * hiredis builds one only once all of it is buffered. */
#define SPOOL_NET_MAX_BUFFER (64LL * 1024 * 1024)
/* A pool connection's round trips may buffer max_reply_bulk plus this: the
 * largest string's header and CRLF, and the small replies around it. */
#define SPOOL_REPLY_FRAME_SLACK 1024
/* Unparsed bytes of a sentinel subscription: events are under 1 KiB, so a
 * sentinel streaming more is dropped before its buffer grows. */
#define SPOOL_SUB_MAX_BUFFER (4LL * 1024 * 1024)
/* Bytes one spool_read_available() takes over TLS, where it loops over
 * records: as much as one recv() of a plaintext socket would. */
#define SPOOL_READ_AVAILABLE_MAX (64 * 1024)

#endif
