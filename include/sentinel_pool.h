/*
 * sentinel_pool: a thread-safe pool of hiredis connections to the current
 * master of a Redis deployment managed by Redis Sentinel.
 *
 * THREAD-SAFETY CONTRACT
 *  - A pool_t may be used from any number of threads at once: pool_get_writer(),
 *    pool_put(), pool_stats() and pool_strerror() are thread-safe.
 *  - A borrowed redisContext belongs to the borrowing thread until pool_put():
 *    use it with plain hiredis calls, never share it, never free it yourself.
 *    pool_mark_dirty() is called by that thread only.
 *  - pool_create() and pool_destroy() are not re-entrant for the same pool:
 *    call pool_destroy() once, after which no thread may call into that pool
 *    except to pool_put() connections it still holds (see pool_destroy()).
 *  - Callbacks (log, event) never run while a library lock is held. They
 *    run on the library's threads (the pool's background thread, the
 *    watcher's: the pool's own or its sentinel set's) and on application
 *    threads inside a pool_* call (pool_create() logs why it fails;
 *    pool_get_writer(), pool_get_reader() and pool_put() report what they
 *    find). So a callback may run on several threads at once, also for one
 *    pool: make it thread-safe. Events may arrive out of order (two threads
 *    reporting two changes finish in either order): order them by
 *    `generation` (see EVENTS below), not by arrival.
 *    pool_destroy() waits for the background threads' callbacks to return;
 *    a pool_put() of a connection still borrowed, or a pool_get_*() call
 *    still blocked, may call them after pool_destroy() returned: keep the
 *    callbacks' userdata alive until those have returned.
 *  - The library keeps no global mutable state: everything hangs off the pool.
 *
 * ERRORS: every fallible call returns 0 or a negative POOL_E* code;
 * pool_strerror() turns any int into a static string.
 *
 * EVENTS: which pool_event_t fields each type sets ("-": host NULL, port 0).
 * `generation` is the writer generation the change made for SWITCH_MASTER
 * and MASTER_LOST, and the one in force when the event was reported for
 * the others; a SWITCH_MASTER or MASTER_LOST whose generation is below one
 * already seen is older news. `detail` is always set, for people, in no
 * fixed format.
 *   type                    old_host:old_port          new_host:new_port
 *   SWITCH_MASTER           previous writer (1)        new writer
 *   MASTER_LOST             fenced writer              -
 *   SENTINEL_LOST           the sentinel               -
 *   SENTINEL_ADDED          -                          the sentinel
 *   VALIDATION_FAILED       node whose ROLE is not     -
 *                           master (2)
 *   WRITER_SUSPECT          node that replied          -
 *                           READONLY or MASTERDOWN
 *   CONNECTION_LEAK         -                          -
 *   SENTINEL_MISCONFIGURED  the sentinel               node it names master
 * (1) After a MASTER_LOST, the writer it fenced; "-" on the first resolution.
 * (2) host NULL when that connection is already gone.
 * CONNECTION_LEAK says in detail which connection, which thread, how long.
 *
 * ABI: the structs a caller allocates (pool_options_t, pool_stats_t,
 * pool_sentinel_set_stats_t) have one size for the life of a SONAME. Each
 * ends in a reserve, `reserved`, sized generously, out of which later
 * fields are carved; the library reads and writes exactly that size, so a
 * program built against an older header and a newer library (or the other
 * way round) agree on every byte. pool_options_init(), pool_stats() and
 * pool_sentinel_set_stats() zero what they do not fill, the reserve
 * included; leave it alone (pool_create() refuses options whose reserve is
 * not 0: an option carved out of it by a newer header is not silently
 * ignored by an older library). A field added later means, when 0, what
 * the library did before it existed. The sizes are pinned by static assertions
 * below (pool_options_t 1024 bytes, pool_stats_t 1024,
 * pool_sentinel_set_stats_t 256, on 32- and 64-bit platforms alike): a
 * field that is not taken out of the reserve fails the build. Growing a
 * struct past its reserve, or changing a field, is an ABI break and takes
 * a new SONAME: while the major version is 0 the SONAME carries the minor
 * (libsentinel_pool.so.0.N), so a 0.x minor release may break the ABI and
 * a patch release may not; from 1.0 on, only a major release may.
 * pool_event_t is the library's, handed to the event callback by pointer:
 * it may grow at its end within a SONAME (read the fields you know through
 * the pointer, or copy them).
 *
 * WRITER CHANGES: when the pool moves to a new master (or fences the old
 * one), connections still borrowed under the old writer have their socket
 * shut down (shutdown(2); the context stays valid and yours until
 * pool_put()). A caller blocked on a demoted or frozen master gets an I/O
 * error at once, instead of an acknowledgement that the failover discards
 * or a wait for command_timeout_ms. Treat such an error as "outcome
 * unknown" and retry through a new pool_get_writer().
 *
 * BORROWER STATE: a connection comes back from pool_put() as it went out,
 * whatever its borrower did with it. A clean borrow (commands that change
 * no connection state) costs no round trip on put. A borrow that left state
 * behind is reset on put, in the putting thread, with one round trip
 * (CLIENT REPLY ON, RESET, then the pool's own AUTH, SELECT and CLIENT
 * SETNAME again, within command_timeout_ms), or closed when that cannot
 * help. Counted in pool_stats_t (resets, reset_*, evicted_unread,
 * evicted_unresettable); each reset is logged at POOL_LOG_DEBUG.
 *  - Reset: an open MULTI (with or without queued commands), WATCH, SELECT,
 *    (P|S)SUBSCRIBE, MONITOR, CLIENT REPLY OFF|SKIP, AUTH or HELLO ... AUTH
 *    (as another user), HELLO 3, CLIENT TRACKING|SETNAME|NO-EVICT|NO-TOUCH,
 *    READONLY, RESET. RESET needs Redis >= 6.2 or Valkey; an older server
 *    refuses it and the connection is closed instead.
 *  - Closed: a reply still to come (a blocking command left waiting, a
 *    pipeline not read to its end), QUIT, SYNC/PSYNC.
 *  - With hiredis 1.x the library sees every command a borrower writes
 *    (through the context's write function, which it wraps: leave
 *    c->funcs alone) and counts replies, so all of the above is found
 *    without help; a push callback the borrower replaced is put back.
 *  - With hiredis 0.14 the library sees replies only: it finds a MULTI with
 *    queued commands (+QUEUED), a subscription (its confirmation) and HELLO
 *    (its reply). For everything else (SELECT, WATCH, AUTH, MONITOR, CLIENT
 *    ..., READONLY, a bare MULTI, a reply left unread), call
 *    pool_mark_dirty() before pool_put(). Calling it on 1.x does no harm.
 *
 * SIGPIPE: writing to a connection the peer closed raises SIGPIPE, whose
 * default action ends the process; the pool itself shuts down the sockets
 * of connections still borrowed at a writer change (above), so this
 * happens at every failover, not only when a server dies. By default
 * (sigpipe = POOL_SIGPIPE_PREVENT) no write on a pool connection raises it:
 *  - hiredis 1.x: borrowed connections write with send(MSG_NOSIGNAL) (the
 *    same system call as before, so no cost); the process' signal
 *    disposition is left alone.
 *  - hiredis 0.14, which writes with write(2) and offers no way in:
 *    pool_create() sets SIGPIPE to SIG_IGN when it is still SIG_DFL (a
 *    handler the application installed is left alone) and logs that at
 *    POOL_LOG_INFO. No cost per call.
 * The library's own writes never raise it. POOL_SIGPIPE_APP leaves
 * SIGPIPE to the application (borrowed connections then write as hiredis
 * does); pool_create() warns when SIGPIPE is then still fatal.
 *
 * SHARED SENTINEL SET: a pool created with sentinels has a watcher of its
 * own (one thread, a subscription to every sentinel, and one query
 * connection kept open to the sentinel that answered last). A process with
 * many pools (one per master name, or several per name) can share one
 * instead: pool_sentinel_set_create(), then each pool_create() with
 * opts.sentinel_set. The set's thread serves every pool on it with those
 * same connections and one safety poll per sentinel_poll_ms (jittered up
 * to +25 %) asking for every master name in one round trip. Each process
 * starts at a random sentinel, so a fleet's polls are spread over them.
 *  - Lifetime: the set is reference-counted. pool_sentinel_set_release()
 *    may come before or after the pools are destroyed; the set stops when
 *    the caller released it and its last pool is gone.
 *  - Each pool keeps its own writer, fences, events, log and data-node
 *    credentials; the set's own messages (TLS hints, unusable answers) go
 *    to the set's log_fn. SENTINEL_ADDED/LOST events reach every pool. A
 *    slow sentinel or node delays every pool on the set, bounded by
 *    sentinel_timeout_ms per step.
 *  - Callbacks of pools on a set run on the set's thread: do not call
 *    pool_destroy() (of any pool on that set) or pool_sentinel_set_release()
 *    from them; both wait for that thread.
 *
 * WRONG SENTINELS: a sentinel's word is a hint, ROLE is the truth.
 *  - A promotion announced for our writer fences it at once (this is what
 *    makes graceful failovers lossless), unless ROLE refutes it right away:
 *    the named node is our writer itself, or neither one of our writer's
 *    replicas (its last ROLE) nor a replica of it now.
 *  - A fence for a promotion that does not come true is lifted within 1 s;
 *    that sentinel's next announcements for that node then do not fence for
 *    a minute (logged at POOL_LOG_WARN, naming the sentinel).
 *  - A sentinel naming as master a node that is not our writer's replica,
 *    while the other sentinels name our writer, is outvoted and reported
 *    once (POOL_EVENT_SENTINEL_MISCONFIGURED): typically a sentinel of
 *    another deployment with the same master name. When no writer is known
 *    yet (the first resolution), every sentinel is asked and the majority
 *    of those answering wins.
 *  - Nodes are compared by the name the sentinels give (hostnames with
 *    announce-hostnames), never by a resolved address; names are resolved
 *    again on every connect.
 *
 * TLS (builds with hiredis_ssl, i.e. hiredis 1.x; pool_tls_available()):
 *  - tls = 1 encrypts every connection to data nodes (writers, readers, the
 *    watcher's ROLE checks); sentinel_tls = 1 every connection to the
 *    sentinels (queries and the +switch-master subscriptions). Either, both
 *    or neither. In a build without TLS, either fails pool_create() with
 *    POOL_ENOTLS.
 *  - The certificate is verified (tls_ca_file / tls_ca_dir, else OpenSSL's
 *    default store) and must name the node: tls_server_name when set (sent
 *    as SNI too; one name every node's certificate carries), else the host
 *    as connected to. Sentinel hands out what replicas announce, usually IP
 *    addresses: then each certificate needs that IP in its subjectAltName
 *    (IP SAN), or set tls_server_name to a name all of them carry. With
 *    replica-announce-ip / resolve-hostnames + announce-hostnames, Sentinel
 *    hands out hostnames, which are then checked as DNS names (and sent as
 *    SNI). hiredis itself never checks the name; the library does.
 *  - The handshake is part of connect_timeout_ms (sentinel_timeout_ms for
 *    sentinels): a peer that accepts TCP and never answers TLS (a frozen
 *    node, a plaintext port) fails the attempt in time, as a node that does
 *    not answer: POOL_ECONNECT, retried within checkout_timeout_ms. A
 *    refused certificate gives POOL_ECERT (expired, unknown CA, wrong name:
 *    the log says which), other TLS failures POOL_ETLS (e.g. the server
 *    wants a client certificate: tls_cert_file + tls_key_file). Those two
 *    are not retried within a checkout.
 *  - A borrowed TLS connection is a plain redisContext: use hiredis' usual
 *    calls. Its privdata and free_privdata fields belong to the library.
 */
#ifndef SENTINEL_POOL_H
#define SENTINEL_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version: the single source; CMake reads these three lines. */
#define SENTINEL_POOL_VERSION_MAJOR 0
#define SENTINEL_POOL_VERSION_MINOR 1
#define SENTINEL_POOL_VERSION_PATCH 0
#define SENTINEL_POOL_VERSION_NUM                                                                  \
    ((SENTINEL_POOL_VERSION_MAJOR * 10000) + (SENTINEL_POOL_VERSION_MINOR * 100) +                 \
     SENTINEL_POOL_VERSION_PATCH)

#if defined(SENTINEL_POOL_STATIC)
#define POOL_EXPORT
#elif defined(__GNUC__)
#define POOL_EXPORT __attribute__((visibility("default")))
#else
#define POOL_EXPORT
#endif

/* Compile-time size checks of the public structs (ABI above): C11 and C++11
 * have a static assertion; older dialects get a negative array size. */
#if defined(__cplusplus) && __cplusplus >= 201103L
#define POOL_ABI_ASSERT_(name, cond) static_assert(cond, "ABI: " #name)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define POOL_ABI_ASSERT_(name, cond) _Static_assert(cond, "ABI: " #name)
#else
#define POOL_ABI_ASSERT_(name, cond) typedef char pool_abi_assert_##name##_[(cond) ? 1 : -1]
#endif

/* Error codes: name, value, message. One list makes the enum, pool_strerror()
 * and pool_err_name(), so they cannot drift apart. */
#define POOL_ERRNO_MAP(X)                                                                          \
    X(ETIMEDOUT, -1, "timed out waiting for a connection")                                        \
    X(ENOMASTER, -2, "no master known")                                                            \
    X(ECONNECT, -3, "could not connect to the server")                                             \
    X(EAUTH, -4, "authentication failed")                                                          \
    X(EINVAL, -5, "invalid option or argument")                                                    \
    X(ESHUTDOWN, -6, "pool is shutting down")                                                      \
    X(ENOMEM, -7, "out of memory")                                                                 \
    X(EPROTO, -8, "unexpected or malformed reply")                                                 \
    X(ENOTMASTER, -9, "node is not a master (ROLE check failed)")                                  \
    X(ENOSENTINEL, -10, "no sentinel reachable")                                                   \
    X(EUNKNOWNMASTER, -11, "the sentinels do not know this master name")                           \
    X(EIO, -12, "I/O error or connection lost")                                                    \
    X(ETHREAD, -13, "could not create a thread or lock")                                           \
    X(ELIMIT, -14, "reply exceeds the configured size limits")                                     \
    X(ENOREPLICA, -15, "no replica qualifies")                                                     \
    X(ENOTPOOLED, -16, "connection does not belong to this pool")                                 \
    X(ENOTLS, -17, "TLS was asked for but this build has no TLS (hiredis_ssl)")                   \
    X(ETLS, -18, "TLS handshake failed (the log says why)")                                        \
    X(ECERT, -19, "server certificate refused: untrusted, expired or wrong name (the log says which)")

typedef enum {
    POOL_OK = 0,
#define POOL_ERR_ENUM_(name, value, msg) POOL_##name = (value),
    POOL_ERRNO_MAP(POOL_ERR_ENUM_)
#undef POOL_ERR_ENUM_
} pool_err_t;

/* ROLE validation before a connection is handed out by pool_get_writer(). */
typedef enum {
    POOL_VALIDATE_NEVER = 0,  /* trust the pool's view of the master */
    POOL_VALIDATE_IDLE = 1,   /* ROLE when the connection sat idle >= validate_idle_ms */
    POOL_VALIDATE_ALWAYS = 2, /* ROLE on every checkout: one extra round trip */
} pool_validate_t;

/* How pool_get_reader() picks among the replicas fit to read from. */
typedef enum {
    POOL_SPREAD_ROUND_ROBIN = 0,   /* each checkout the next replica */
    POOL_SPREAD_LEAST_BORROWED = 1, /* the replica with fewest connections out */
} pool_spread_t;

/* Who keeps SIGPIPE from ending the process (see SIGPIPE above). */
typedef enum {
    POOL_SIGPIPE_PREVENT = 0, /* the library: no pool connection's write raises it */
    POOL_SIGPIPE_APP = 1,     /* the application: the library changes nothing */
} pool_sigpipe_t;

/* pool_mark_dirty(): what the connection needs before the next borrower. */
typedef enum {
    POOL_DIRTY_RESET = 1, /* state changed (SELECT, WATCH, AUTH, ...): reset it on put */
    POOL_DIRTY_CLOSE = 2, /* a reply left unread, or any doubt: close it on put */
} pool_dirty_t;

/* What pool_get_reader() does when no replica qualifies. */
typedef enum {
    POOL_READ_FAIL = 0,   /* return POOL_ENOREPLICA */
    POOL_READ_MASTER = 1, /* hand out a writer connection instead */
} pool_read_fallback_t;

typedef enum {
    POOL_LOG_ERROR = 0,
    POOL_LOG_WARN = 1,
    POOL_LOG_INFO = 2,
    POOL_LOG_DEBUG = 3,
} pool_log_level_t;

/* Log callback: msg is valid only during the call. It may run on several
 * threads at once (THREAD-SAFETY above). */
typedef void (*pool_log_fn)(void *userdata, pool_log_level_t level, const char *msg);

typedef enum {
    POOL_EVENT_SWITCH_MASTER = 1,     /* writer moved: old -> new, generation bumped */
    POOL_EVENT_MASTER_LOST = 2,       /* writer fenced: no master known for now */
    POOL_EVENT_SENTINEL_LOST = 3,     /* a sentinel stopped answering */
    POOL_EVENT_SENTINEL_ADDED = 4,    /* a sentinel was discovered */
    POOL_EVENT_VALIDATION_FAILED = 5, /* ROLE on a node did not say master */
    POOL_EVENT_WRITER_SUSPECT = 6,    /* READONLY/MASTERDOWN reply seen by a caller */
    POOL_EVENT_CONNECTION_LEAK = 7,   /* a connection was borrowed past leak_threshold_ms */
    POOL_EVENT_SENTINEL_MISCONFIGURED = 8, /* a sentinel's answers disagree with the other
                                              sentinels' and with ROLE (it monitors another
                                              deployment under this master name): reported
                                              once per sentinel, its answers are outvoted;
                                              old_host/old_port name the sentinel */
} pool_event_type_t;

typedef struct pool_event {
    pool_event_type_t type;
    const char *old_host; /* may be NULL */
    int old_port;
    const char *new_host; /* may be NULL */
    int new_port;
    uint64_t generation; /* writer generation after the event */
    const char *detail;  /* human-readable text, never NULL */
} pool_event_t;

/* Event callback: the event and its strings are valid only during the call.
 * It may run on several threads at once, and events may arrive out of
 * order: see THREAD-SAFETY and EVENTS above. */
typedef void (*pool_event_fn)(void *userdata, const pool_event_t *event);

/* Options. Initialise with pool_options_init() and change what you need; the
 * library copies every string at pool_create(), so the caller may free or
 * reuse the struct right after. A zero or NULL means "the default" only where
 * stated. Defaults in [brackets]. */
typedef struct pool_options {
    /* Where the master is: either master_name + sentinels, or master_addr. */
    const char *master_name;       /* name monitored by the sentinels: 1..127 bytes, no
                                      space or control character, UTF-8 welcome [NULL] */
    const char *sentinels;         /* "host:port,host:port,[::1]:26379" [NULL] */
    const char *master_addr;       /* static "host:port" without Sentinel [NULL] */
    const char *sentinel_username; /* ACL user for the sentinels [NULL] */
    const char *sentinel_password; /* AUTH for the sentinels [NULL] */
    int lazy_start;                /* 1: pool_create() succeeds with no sentinel up [0] */
    int sentinel_timeout_ms;       /* one sentinel round trip, connect included [500] */
    int sentinel_poll_ms;          /* re-query the master address this often [1000] */
    /* Watch master_name through a set shared with other pools (see SHARED
     * SENTINEL SET) instead of a watcher of the pool's own [NULL]. Then
     * sentinels, sentinel_username, sentinel_password and sentinel_tls must
     * stay unset, and sentinel_timeout_ms / sentinel_poll_ms are the set's. */
    struct pool_sentinel_set *sentinel_set;

    /* Pool size and timing. */
    int max_connections;     /* connections to the writer [16] (1..4096) */
    int min_idle;            /* keep this many open when idle [0] */
    int checkout_timeout_ms; /* longest pool_get_writer() wait [2000] */
    int connect_timeout_ms;  /* TCP connect + handshake [1000] */
    int command_timeout_ms;  /* socket read/write timeout on borrowed connections [2000] */
    int idle_timeout_ms;     /* close connections idle longer [60000]; 0 = never */

    /* Data node login and setup. */
    const char *username;    /* ACL user for data nodes [NULL] */
    const char *password;    /* AUTH for data nodes [NULL] */
    int database;            /* SELECT this db when non-zero [0] */
    const char *client_name; /* CLIENT SETNAME [sentinel_pool]; "" = do not set */

    /* Validation. */
    pool_validate_t validate; /* [POOL_VALIDATE_IDLE] */
    int validate_idle_ms;     /* idle window for POOL_VALIDATE_IDLE [1000] */
    int health_check_ping;    /* 1: PING on checkout [0] */

    /* Reply limits: a reply beyond them fails its connection cleanly (the
     * caller sees REDIS_ERR_OOM, put closes it and counts evicted_limit),
     * the same on hiredis 0.14 and 1.x. hiredis (both versions) buffers a
     * bulk string whole before it can be refused, so max_reply_bulk bounds
     * what the caller is handed, not the memory used while it arrives. On
     * hiredis 1.x, a map of N pairs counts 2N elements (keys and values, as
     * the same reply in RESP2), sets and push messages count like arrays, and
     * max_reply_bulk also applies to verbatim strings, big numbers and the
     * text of doubles. -READONLY/-MASTERDOWN is noticed at any depth. */
    long long max_reply_elements; /* elements of one array/map/set/push [1048576] */
    long long max_reply_bulk;     /* bytes of one string of any kind [536870912] */

    /* Replica reads (pool_get_reader(); needs Sentinel). */
    int max_readers;                    /* reader connections, all replicas [0 = no
                                           replica reads: the watcher then does not
                                           track replicas at all]; reads use at most
                                           16 replicas, the first 16 the master's
                                           ROLE lists */
    pool_spread_t read_spread;          /* [POOL_SPREAD_ROUND_ROBIN] */
    long long max_replica_lag_bytes;    /* skip replicas further behind [0 = no limit] */
    pool_read_fallback_t read_fallback; /* [POOL_READ_FAIL] */

    /* TLS (see TLS above; needs a build with hiredis_ssl, else POOL_ENOTLS).
     * The two switches are independent; the files and the name apply to
     * both. Peer verification is on unless tls_skip_verify. */
    int tls;                     /* 1: TLS to data nodes (writers, readers, ROLE checks) [0] */
    int sentinel_tls;            /* 1: TLS to the sentinels [0] */
    const char *tls_ca_file;     /* PEM file of trusted CAs [NULL] */
    const char *tls_ca_dir;      /* directory of trusted CAs (c_rehash layout) [NULL];
                                    neither: OpenSSL's default store */
    const char *tls_cert_file;   /* client certificate (chain) for mutual TLS [NULL] */
    const char *tls_key_file;    /* its private key, unencrypted PEM [NULL] */
    const char *tls_server_name; /* SNI and the name the certificate must carry, for every
                                    node [NULL: the host connected to, as Sentinel gave it] */
    int tls_skip_verify;         /* 1: accept any certificate (tests only) [0] */

    pool_sigpipe_t sigpipe; /* [POOL_SIGPIPE_PREVENT] */
    int leak_threshold_ms; /* report connections borrowed longer [0 = off] */

    pool_log_fn log_fn;         /* [NULL] */
    void *log_userdata;         /* [NULL] */
    pool_log_level_t log_level; /* most verbose level delivered [POOL_LOG_WARN] */
    pool_event_fn event_fn;     /* [NULL] */
    void *event_userdata;       /* [NULL] */

    /* Room for options to come (ABI above): zeroed by pool_options_init();
     * pool_create() refuses a nonzero byte here (POOL_EINVAL), as an option
     * this library version does not know. The fields above take 280 bytes
     * with 64-bit pointers and 184 with 32-bit ones; a new field comes out
     * of both figures below so that the struct stays 1024 bytes everywhere. */
#if UINTPTR_MAX > 0xffffffffu
#define POOL_OPTIONS_RESERVED_ 744
#else
#define POOL_OPTIONS_RESERVED_ 840
#endif
    unsigned char reserved[POOL_OPTIONS_RESERVED_];
} pool_options_t;
POOL_ABI_ASSERT_(pool_options_t, sizeof(pool_options_t) == 1024);

typedef struct pool pool_t;
typedef struct pool_sentinel_set pool_sentinel_set_t;

typedef struct pool_stats {
    uint64_t generation;          /* current writer generation (1 = first master) */
    uint64_t created;             /* connections opened */
    uint64_t closed;              /* connections closed, for any reason */
    uint64_t in_use;              /* borrowed right now */
    uint64_t idle;                /* open and in the pool right now */
    uint64_t checkouts;           /* successful pool_get_writer() */
    uint64_t waits;               /* checkouts that had to sleep for a connection */
    uint64_t checkout_timeouts;   /* checkouts that gave up at checkout_timeout_ms: with
                                     POOL_ETIMEDOUT, or the last error seen while retrying
                                     (POOL_ENOMASTER, POOL_ECONNECT, ...) */
    uint64_t validations;         /* ROLE checks run */
    uint64_t validation_failures; /* ROLE checks that did not say master */
    uint64_t health_failures;     /* checkout peek or PING found a dead connection */
    uint64_t connect_failures;    /* connect/handshake attempts that failed */
    /* Evictions by reason: */
    uint64_t evicted_broken;      /* c->err set, or unread data left, on put */
    uint64_t evicted_idle;        /* idle past idle_timeout_ms */
    uint64_t evicted_stale;       /* opened under an older writer generation */
    uint64_t evicted_readonly;    /* saw -READONLY or -MASTERDOWN */
    uint64_t evicted_limit;       /* reply exceeded max_reply_elements/bulk */
    uint64_t evicted_shutdown;    /* closed by pool_destroy() */
    uint64_t leaks_reported;      /* borrowed past leak_threshold_ms */
    uint64_t readonly_replies;    /* -READONLY/-MASTERDOWN replies seen by callers */
    /* Borrower state (see BORROWER STATE), writers and readers together: */
    uint64_t resets;              /* connections reset on put (one round trip each) */
    uint64_t reset_transaction;   /* ... that had MULTI or WATCH open */
    uint64_t reset_database;      /* ... SELECT */
    uint64_t reset_pubsub;        /* ... a subscription or MONITOR */
    uint64_t reset_reply_mode;    /* ... CLIENT REPLY */
    uint64_t reset_user;          /* ... AUTH or RESET */
    uint64_t reset_protocol;      /* ... HELLO */
    uint64_t reset_client;        /* ... CLIENT TRACKING/SETNAME/NO-EVICT/NO-TOUCH, READONLY */
    uint64_t reset_marked;        /* ... pool_mark_dirty(), or a write that was not RESP */
    uint64_t evicted_unread;      /* closed on put: a reply still to come */
    uint64_t evicted_unresettable; /* closed on put: QUIT/SYNC/POOL_DIRTY_CLOSE, or the
                                      reset failed (server without RESET, timeout, AUTH
                                      refused) */
    /* Readers: */
    uint64_t reader_checkouts;    /* successful pool_get_reader() from a replica */
    uint64_t reader_fallbacks;    /* pool_get_reader() served by the master */
    uint64_t reader_in_use;       /* reader connections borrowed right now */
    uint64_t reader_idle;         /* reader connections in the pool right now */
    uint64_t replicas_usable;     /* replicas fit for reads right now (lag included) */
    uint64_t no_replica;          /* pool_get_reader() found no replica fit */
    /* Room for counters to come (ABI above): zeroed by pool_stats(). A new
     * counter takes one word of it. */
    uint64_t reserved[91];
} pool_stats_t;
POOL_ABI_ASSERT_(pool_stats_t, sizeof(pool_stats_t) == 1024);

/* Fill *opts with the documented defaults; every byte without one (the
 * reserve included) is 0. Thread-safe; opts must not be NULL. */
POOL_EXPORT void pool_options_init(pool_options_t *opts);

/* Create a pool. On success returns 0 and stores the pool in *out; on failure
 * returns a negative POOL_E* code and leaves *out NULL: POOL_EINVAL for bad
 * options (the reason goes to log_fn; also a TLS file that cannot be loaded),
 * POOL_ENOTLS when TLS is asked for in a build without it. With sentinels
 * and !lazy_start it
 * resolves the master first: POOL_ENOSENTINEL when no sentinel gives a usable
 * answer, POOL_EUNKNOWNMASTER when they do not know master_name,
 * POOL_ENOTMASTER when the named node's ROLE is not master, POOL_ECONNECT or
 * POOL_ETIMEDOUT when the named node does not answer, POOL_EAUTH when it
 * refuses the credentials, POOL_ECERT or POOL_ETLS when every sentinel (or
 * the named node) fails TLS that way; POOL_ENOMEM, or POOL_ETHREAD when a
 * thread or lock cannot be made. Connections open lazily. Not thread-safe with
 * respect to the pool it creates (nobody else has it yet). */
POOL_EXPORT int pool_create(const pool_options_t *opts, pool_t **out);

/* Create a sentinel set: one watcher thread, a subscription to every
 * sentinel and one query connection, for every pool created on it
 * (pool_options_t.sentinel_set), whatever their number and master names.
 * Uses from opts: sentinels (required), sentinel_username,
 * sentinel_password, sentinel_timeout_ms, sentinel_poll_ms, sentinel_tls
 * with the tls_* files, log_fn, log_userdata, log_level; the rest is
 * ignored. Returns 0 with *out, POOL_EINVAL (bad options: the reason goes to
 * log_fn), POOL_ENOTLS, POOL_ENOMEM or POOL_ETHREAD. It does not contact the
 * sentinels: the first pool created on it does. Thread-safe. */
POOL_EXPORT int pool_sentinel_set_create(const pool_options_t *opts, pool_sentinel_set_t **out);

/* What a sentinel set did so far (pool_sentinel_set_stats()). */
typedef struct pool_sentinel_set_stats {
    uint64_t pools;              /* pools on the set right now */
    uint64_t sentinels;          /* sentinels known (listed or discovered) */
    uint64_t subscribed;         /* sentinels with a subscription up right now */
    uint64_t connects;           /* connections opened to sentinels, both kinds */
    uint64_t round_trips;        /* query round trips (each asks for every name due) */
    uint64_t polls;              /* safety polls run */
    uint64_t misconfigured;      /* SENTINEL_MISCONFIGURED reports, all pools */
    /* Room for counters to come (ABI above): zeroed by
     * pool_sentinel_set_stats(). A new counter takes one word of it. */
    uint64_t reserved[25];
} pool_sentinel_set_stats_t;
POOL_ABI_ASSERT_(pool_sentinel_set_stats_t, sizeof(pool_sentinel_set_stats_t) == 256);

/* Copy the set's counters into *out. 0, or POOL_EINVAL for NULL arguments.
 * Thread-safe; each counter is exact, they are not read together. */
POOL_EXPORT int pool_sentinel_set_stats(pool_sentinel_set_t *set, pool_sentinel_set_stats_t *out);

/* Drop the caller's reference. Pools created on the set keep it alive: its
 * thread and connections go when the last of them is destroyed (or now, if
 * there is none). Call once per set, from any thread but not from a pool
 * callback. NULL is ignored. */
POOL_EXPORT void pool_sentinel_set_release(pool_sentinel_set_t *set);

/* Destroy the pool: stops the background thread, wakes every thread blocked
 * in pool_get_writer() or pool_get_reader() with POOL_ESHUTDOWN, closes idle connections. Borrowed
 * connections stay valid until their holder calls pool_put(), which then
 * closes them; the pool's memory is released when the last one comes back.
 * Threads blocked in pool_get_writer() or pool_get_reader() keep the pool's
 * memory alive until they return. Accepts NULL. Call once; no other call may
 * start on the pool after it. */
POOL_EXPORT void pool_destroy(pool_t *pool);

/* Borrow a connection to the current master. Blocks up to
 * checkout_timeout_ms. Returns 0 and the context in *out (the caller owns it
 * until pool_put()), or: POOL_ETIMEDOUT (every connection stayed borrowed),
 * POOL_ENOMASTER (no master known, e.g. during a failover), POOL_ENOTMASTER
 * (the node's ROLE is not master), POOL_ECONNECT (connect or handshake
 * failed, or the node did not answer in time), POOL_EAUTH, POOL_EPROTO (the
 * node answered out of step or with garbage), POOL_ELIMIT (a handshake reply
 * beyond the limits), POOL_ECERT and POOL_ETLS (see TLS above),
 * POOL_ESHUTDOWN, POOL_EINVAL (NULL arguments). When
 * several attempts fail within the timeout, the most telling error is
 * returned. The context is connected, authenticated, on the right database,
 * and per the validation policy confirmed as master. Thread-safe. */
POOL_EXPORT int pool_get_writer(pool_t *pool, redisContext **out);

/* Borrow a connection to a replica fit for reads: listed by the sentinels
 * as up with its master link ok, within max_replica_lag_bytes of the master,
 * and confirmed with ROLE (replica, link connected) when opened and per the
 * validation policy. Spread per read_spread. When none qualifies:
 * POOL_ENOREPLICA, or with POOL_READ_MASTER a writer connection (as
 * pool_get_writer()). Also the connection errors of pool_get_writer()
 * (POOL_ECONNECT, POOL_EAUTH, POOL_EPROTO, POOL_ELIMIT, POOL_ECERT,
 * POOL_ETLS), POOL_ETIMEDOUT, POOL_ESHUTDOWN, POOL_EINVAL (NULL
 * arguments). Return it with pool_put(). Thread-safe; takes the pool mutex
 * briefly (reads are not the lock-free hot path). */
POOL_EXPORT int pool_get_reader(pool_t *pool, redisContext **out);

/* Return a borrowed connection. Connections with c->err set, unread replies,
 * a READONLY/MASTERDOWN reply, or from an older writer generation are closed
 * instead of reused; one whose borrower left state behind is reset first
 * (one round trip, up to command_timeout_ms) or closed (BORROWER STATE).
 * NULL c is ignored. Thread-safe. Returns nothing: a context that does not
 * belong to the pool is logged and left alone. */
POOL_EXPORT void pool_put(pool_t *pool, redisContext *c);

/* Say what a borrowed connection needs before the next borrower: reset
 * (POOL_DIRTY_RESET) or close (POOL_DIRTY_CLOSE) on pool_put(). Needed with
 * hiredis 0.14 for the state it cannot see (BORROWER STATE); harmless with
 * 1.x. Call it between the checkout and pool_put(), from the thread holding
 * c; marks add up, and the put clears them. Returns 0, POOL_EINVAL (NULL
 * argument, unknown what) or POOL_ENOTPOOLED (c is not borrowed from this
 * pool). */
POOL_EXPORT int pool_mark_dirty(pool_t *pool, redisContext *c, pool_dirty_t what);

/* Copy the counters into *out (all of it, the reserve zeroed). Returns 0, or
 * POOL_EINVAL when pool or out is NULL (then *out is untouched).
 * Thread-safe; figures are a consistent-enough snapshot (each counter is
 * exact, they are not read atomically together). */
POOL_EXPORT int pool_stats(pool_t *pool, pool_stats_t *out);

/* Current writer address (host copied into host[hostlen]) and generation;
 * host, port and generation may each be NULL. Returns 0; POOL_ENOMASTER
 * when none is known (during a failover, or before the first resolution
 * with lazy_start): then host is "", *port 0, and *generation still the
 * current one; POOL_EINVAL when pool is NULL. Thread-safe. */
POOL_EXPORT int pool_current_master(pool_t *pool, char *host, size_t hostlen, int *port,
                                    uint64_t *generation);

/* Static message for any code, known or not. */
POOL_EXPORT const char *pool_strerror(int err);
/* Static symbolic name, e.g. "POOL_ETIMEDOUT"; "POOL_UNKNOWN" for others. */
POOL_EXPORT const char *pool_err_name(int err);
/* Static name of an event type without its prefix, e.g. "SWITCH_MASTER";
 * "UNKNOWN" for others. Thread-safe. */
POOL_EXPORT const char *pool_event_name(pool_event_type_t type);
/* 1 when this build has TLS (hiredis_ssl found at build time), else 0: then
 * tls or sentinel_tls make pool_create() fail with POOL_ENOTLS. Thread-safe. */
POOL_EXPORT int pool_tls_available(void);
/* "0.1.0" */
POOL_EXPORT const char *pool_version(void);

#ifdef __cplusplus
}
#endif

#endif /* SENTINEL_POOL_H */
