/* Borrower state against a real redis-server: whatever one borrower leaves
 * on a connection (each state of the header's BORROWER STATE list), the
 * next borrower gets a connection as the pool set it up: its own user,
 * database and name, RESP2, no transaction, subscription, monitor,
 * tracking or reply mode. hiredis 1.x finds every state itself; on 0.14 the
 * states it cannot see are marked with pool_mark_dirty(), as the header
 * tells users to. Also: a clean put sends nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "fx_assert.h"
#include "proto/hiredis_compat.h"
#include "sentinel_pool.h"

static fx_node node;      /* requirepass + users app and other */
static fx_node clustered; /* cluster-enabled: the only place READONLY means anything */

#define DB 2
#define NAME "spool-hyg"

static int setup(void **state)
{
    (void)state;
    fx_redis_opts o = {0};
    o.requirepass = "s3cret";
    o.acl_users = "user app on >apppw ~* &* +@all\n"
                  "user other on >otherpw ~* &* +@all";
    if (fx_redis_start(&node, &o) != 0)
        return -1;
    /* An explicit bus port: the default, port + 10000, does not exist for
     * the fixture's ports above 55535 and the server refuses to start. */
    static char cluster_config[128];
    snprintf(cluster_config, sizeof(cluster_config),
             "cluster-enabled yes\ncluster-config-file nodes.conf\ncluster-port %d\n",
             fx_free_port());
    fx_redis_opts c = {0};
    c.extra_config = cluster_config;
    return fx_redis_start(&clustered, &c);
}

static int teardown(void **state)
{
    (void)state;
    fx_node_stop(&node);
    fx_node_stop(&clustered);
    return 0;
}

static pool_t *make_pool(const fx_node *n, int database)
{
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", n->port);
    pool_options_t o;
    pool_options_init(&o);
    o.master_addr = addr;
    if (n == &node) {
        o.username = "app";
        o.password = "apppw";
    }
    o.database = database;
    o.client_name = NAME;
    o.max_connections = 1; /* the next borrower gets the same slot */
    o.validate = POOL_VALIDATE_NEVER; /* no ROLE of ours between the borrowers */
    pool_t *p = NULL;
    assert_rc(0, pool_create(&o, &p));
    return p;
}

static redisReply *cmd(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (r == NULL)
        fail_msg("%s: %s", fmt, c->errstr);
    return r;
}

static void run(redisContext *c, const char *fmt)
{
    freeReplyObject(cmd(c, fmt));
}

/* Send without reading the reply (there may be none). */
static void send_only(redisContext *c, const char *fmt)
{
    int done = 0;
    assert_int_equal(redisAppendCommand(c, fmt), REDIS_OK);
    while (!done)
        assert_int_equal(redisBufferWrite(c, &done), REDIS_OK);
}

static long long client_id(redisContext *c)
{
    redisReply *r = cmd(c, "CLIENT ID");
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long id = r->integer;
    freeReplyObject(r);
    return id;
}

/* The value of field key in CLIENT INFO ("flags", "db", ...). */
static void client_field(redisContext *c, const char *key, char *out, size_t len)
{
    redisReply *r = cmd(c, "CLIENT INFO");
    assert_true(spool_hr_is_text(r->type));
    char pat[32];
    snprintf(pat, sizeof(pat), " %s=", key);
    const char *at = strstr(r->str, pat);
    if (at == NULL)
        fail_msg("CLIENT INFO has no %s: %s", key, r->str);
    at += strlen(pat);
    size_t n = strcspn(at, " \r\n");
    snprintf(out, len, "%.*s", (int)n, at);
    freeReplyObject(r);
}

static void expect_field(redisContext *c, const char *key, const char *want)
{
    char got[128];
    client_field(c, key, got, sizeof(got));
    if (strcmp(got, want) != 0)
        fail_msg("CLIENT INFO %s=%s, want %s", key, got, want);
}

/* What the pool set up, and nothing a borrower left. */
static void expect_fresh(redisContext *c, const char *user, int db)
{
    char dbs[16];
    snprintf(dbs, sizeof(dbs), "%d", db);
    expect_field(c, "flags", "N"); /* no multi, pubsub, monitor, tracking, readonly, no-evict */
    expect_field(c, "db", dbs);
    expect_field(c, "sub", "0");
    expect_field(c, "psub", "0");
    /* No MULTI open (flags would say x); Valkey 8 shows multi=0, not -1,
     * once a connection has had one. */
    char multi[16];
    client_field(c, "multi", multi, sizeof(multi));
    if (strcmp(multi, "-1") != 0 && strcmp(multi, "0") != 0)
        fail_msg("CLIENT INFO multi=%s, want -1 or 0", multi);
    expect_field(c, "resp", "2");
    expect_field(c, "redir", "-1");
    expect_field(c, "user", user);
    expect_field(c, "name", NAME);
    /* Replies come, and are not +QUEUED. */
    redisReply *r = cmd(c, "SET hyg:probe 1");
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    assert_string_equal(r->str, "OK");
    freeReplyObject(r);
}

/* ---- One state per case ------------------------------------------------ */

typedef struct hyg_case {
    const char *name;
    void (*dirty)(redisContext *c); /* what the first borrower does */
    int seen_014;                   /* hiredis 0.14 notices it without pool_mark_dirty() */
    pool_dirty_t mark;              /* what a 0.14 user marks when it is not seen */
    int closes;                     /* the pool closes it (1) rather than resets it (0) */
    size_t counter;                 /* offsetof the pool_stats_t counter it bumps */
    void (*check)(redisContext *c); /* more checks on the next borrower, or NULL */
    int closes_014;                 /* on 0.14, where that differs: -1 same as closes */
    size_t counter_014;             /* on 0.14, where that differs: 0 same as counter
                                       (or reset_marked / evicted_unresettable when
                                       marked) */
} hyg_case;

static void multi_queued(redisContext *c)
{
    run(c, "MULTI");
    redisReply *r = cmd(c, "SET hyg:k 1");
    assert_string_equal(r->str, "QUEUED");
    freeReplyObject(r);
}
static void multi_bare(redisContext *c) { run(c, "MULTI"); }
static void select5(redisContext *c) { run(c, "SELECT 5"); }
static void subscribe(redisContext *c) { run(c, "SUBSCRIBE hyg:chan"); }
static void psubscribe(redisContext *c) { run(c, "PSUBSCRIBE hyg:*"); }
static void ssubscribe(redisContext *c) { run(c, "SSUBSCRIBE hyg:shard"); }
static void reply_off(redisContext *c) { send_only(c, "CLIENT REPLY OFF"); }
static void reply_skip(redisContext *c) { send_only(c, "CLIENT REPLY SKIP"); }
static void auth_other(redisContext *c) { run(c, "AUTH other otherpw"); }
static void hello_auth_other(redisContext *c) { run(c, "HELLO 2 AUTH other otherpw"); }
static void tracking(redisContext *c) { run(c, "CLIENT TRACKING ON BCAST"); }
static void setname(redisContext *c) { run(c, "CLIENT SETNAME someone-else"); }
static void no_evict(redisContext *c) { run(c, "CLIENT NO-EVICT ON"); }
static void borrower_reset(redisContext *c) { run(c, "RESET"); }
static void quit(redisContext *c) { run(c, "QUIT"); }

static void hello3(redisContext *c)
{
    redisReply *r = redisCommand(c, "HELLO 3"); /* 0.14 cannot parse the map */
    if (r != NULL)
        freeReplyObject(r);
}

static void monitor(redisContext *c)
{
    run(c, "MONITOR");
    redisReply *r = fx_cmd(&node, "SET hyg:seen-by-monitor 1"); /* a line for it to carry */
    freeReplyObject(r);
}

static void watch(redisContext *c)
{
    run(c, "WATCH hyg:w");
    redisReply *r = fx_cmd(&node, "SET hyg:w changed-elsewhere");
    freeReplyObject(r);
}

/* Its own transaction must go through: no WATCH left to abort it. */
static void transaction_commits(redisContext *c)
{
    run(c, "MULTI");
    run(c, "SET hyg:w mine");
    redisReply *r = cmd(c, "EXEC");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
}

static void blocking_left_waiting(redisContext *c) { send_only(c, "BLPOP hyg:empty 0"); }

/* Two GETs sent, one reply read. */
/* A GET and a BLPOP that answers after 300 ms sent, one reply read. */
static void pipeline_half_read(redisContext *c)
{
    assert_int_equal(redisAppendCommand(c, "GET hyg:a"), REDIS_OK);
    assert_int_equal(redisAppendCommand(c, "BLPOP hyg:empty 0.3"), REDIS_OK);
    void *r = NULL;
    assert_int_equal(redisGetReply(c, &r), REDIS_OK);
    freeReplyObject(r);
}

#define AT(field) offsetof(pool_stats_t, field)
#define RESET_(name, fn, seen, field, check) {name, fn, seen, POOL_DIRTY_RESET, 0, AT(field), check, -1, 0}
#define CLOSE_(name, fn, field) {name, fn, 0, POOL_DIRTY_CLOSE, 1, AT(field), NULL, -1, 0}

static const hyg_case cases[] = {
    RESET_("MULTI + queued SET", multi_queued, 1, reset_transaction, NULL),
    RESET_("bare MULTI", multi_bare, 0, reset_transaction, NULL),
    RESET_("WATCH", watch, 0, reset_transaction, transaction_commits),
    RESET_("SELECT 5", select5, 0, reset_database, NULL),
    RESET_("SUBSCRIBE", subscribe, 1, reset_pubsub, NULL),
    RESET_("PSUBSCRIBE", psubscribe, 1, reset_pubsub, NULL),
    RESET_("SSUBSCRIBE", ssubscribe, 1, reset_pubsub, NULL),
    RESET_("MONITOR", monitor, 0, reset_pubsub, NULL),
    RESET_("CLIENT REPLY OFF", reply_off, 0, reset_reply_mode, NULL),
    RESET_("CLIENT REPLY SKIP", reply_skip, 0, reset_reply_mode, NULL),
    RESET_("AUTH other", auth_other, 0, reset_user, NULL),
    RESET_("HELLO 2 AUTH other", hello_auth_other, 1, reset_protocol, NULL),
    /* 0.14 cannot parse HELLO 3's map: the context fails and is closed. */
    {"HELLO 3", hello3, 1, POOL_DIRTY_RESET, 0, AT(reset_protocol), NULL, 1, AT(evicted_broken)},
    RESET_("CLIENT TRACKING", tracking, 0, reset_client, NULL),
    RESET_("CLIENT SETNAME", setname, 0, reset_client, NULL),
    RESET_("CLIENT NO-EVICT", no_evict, 0, reset_client, NULL),
    RESET_("RESET by the borrower", borrower_reset, 0, reset_user, NULL),
    CLOSE_("blocking command left waiting", blocking_left_waiting, evicted_unread),
    CLOSE_("pipeline read halfway", pipeline_half_read, evicted_unread),
    CLOSE_("QUIT", quit, evicted_unresettable),
};

static uint64_t counter(pool_t *p, size_t at)
{
    pool_stats_t st = stats(p);
    uint64_t v;
    memcpy(&v, (const char *)&st + at, sizeof(v));
    return v;
}

static void run_case(const hyg_case *k)
{
    int hooked = spool_hr_can_hook_write();
    int closes = k->closes;
    size_t at = k->counter;
    if (!hooked && k->closes_014 >= 0)
        closes = k->closes_014;
    if (!hooked && k->counter_014 != 0)
        at = k->counter_014;
    else if (!hooked && !k->seen_014) /* what the caller's mark says */
        at = k->mark == POOL_DIRTY_CLOSE ? AT(evicted_unresettable) : AT(reset_marked);
    pool_t *p = make_pool(&node, DB);
    redisContext *c = NULL;
    assert_rc(0, pool_get_writer(p, &c));
    long long id = client_id(c);
    uint64_t before = counter(p, at), resets = stats(p).resets;
    k->dirty(c);
    if (!hooked && !k->seen_014)
        assert_rc(0, pool_mark_dirty(p, c, k->mark));
    pool_put(p, c);
    if (counter(p, at) != before + 1)
        fail_msg("%s: counter did not move", k->name);

    assert_rc(0, pool_get_writer(p, &c));
    if (closes) {
        assert_true(client_id(c) != id);
        assert_int_equal(stats(p).resets, resets);
    } else {
        if (client_id(c) != id)
            fail_msg("%s: closed, not reset", k->name);
        assert_int_equal(stats(p).resets, resets + 1);
    }
    expect_fresh(c, "app", DB);
    if (k->check != NULL)
        k->check(c);
    pool_put(p, c);
    pool_destroy(p);
}

static void test_each_state(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("  %s\n", cases[i].name);
        run_case(&cases[i]);
    }
}

/* READONLY only means something on a cluster node. */
static void test_readonly_mode(void **state)
{
    (void)state;
    pool_t *p = make_pool(&clustered, 0);
    redisContext *c = NULL;
    assert_rc(0, pool_get_writer(p, &c));
    long long id = client_id(c);
    run(c, "READONLY");
    expect_field(c, "flags", "r");
    if (!spool_hr_can_hook_write())
        assert_rc(0, pool_mark_dirty(p, c, POOL_DIRTY_RESET));
    pool_put(p, c);
    pool_stats_t st = stats(p);
    assert_int_equal(spool_hr_can_hook_write() ? st.reset_client : st.reset_marked, 1);
    assert_rc(0, pool_get_writer(p, &c));
    assert_int_equal(client_id(c), id);
    expect_field(c, "flags", "N");
    expect_field(c, "user", "default");
    expect_field(c, "name", NAME);
    pool_put(p, c);
    pool_destroy(p);
}

/* The server's count of commands, read on a connection of its own: each
 * read counts itself once. */
static long long commands_processed(redisContext *admin)
{
    redisReply *r = cmd(admin, "INFO stats");
    const char *at = strstr(r->str, "total_commands_processed:");
    assert_non_null(at);
    long long n = atoll(at + strlen("total_commands_processed:"));
    freeReplyObject(r);
    return n;
}

/* A clean put sends nothing: between two readings of the server's command
 * count, the borrower's commands and the second reading, no more. A whole
 * transaction (MULTI ... EXEC) leaves nothing behind either. */
static void test_clean_put_sends_nothing(void **state)
{
    (void)state;
    pool_t *p = make_pool(&node, DB);
    redisContext *c = NULL, *admin = fx_connect(&node);
    assert_non_null(admin);
    assert_rc(0, pool_get_writer(p, &c)); /* opened (handshake) before counting */
    pool_put(p, c);

    long long before = commands_processed(admin);
    assert_rc(0, pool_get_writer(p, &c));
    run(c, "SET hyg:clean 1");
    pool_put(p, c);
    assert_int_equal(commands_processed(admin) - before, 2); /* the SET, this INFO */

    before = commands_processed(admin);
    assert_rc(0, pool_get_writer(p, &c));
    transaction_commits(c);
    pool_put(p, c);
    assert_int_equal(commands_processed(admin) - before, 4); /* MULTI, SET, EXEC, this INFO */
    pool_stats_t st = stats(p);
    assert_int_equal(st.resets, 0);
    assert_int_equal(st.closed, 0);
    redisFree(admin);
    pool_destroy(p);
}

/* hiredis 1.x: a borrower's push callback does not outlive its borrow. */
static int pushes;
static void count_push(void *privdata, void *reply)
{
    (void)privdata;
    pushes++;
    freeReplyObject(reply);
}

static void test_push_callback_restored(void **state)
{
    (void)state;
    if (!spool_hr_can_hook_write())
        skip(); /* 0.14 has no push callback */
    pool_t *p = make_pool(&node, DB);
    redisContext *c = NULL;
    assert_rc(0, pool_get_writer(p, &c));
    spool_hr_push_fn original = spool_hr_push_cb(c);
    spool_hr_set_push_cb(c, count_push);
    pool_put(p, c);
    assert_rc(0, pool_get_writer(p, &c));
    assert_true(spool_hr_push_cb(c) == original);
    pool_put(p, c);
    assert_int_equal(stats(p).resets, 0); /* no round trip for that */
    pool_destroy(p);
}

/* Bad arguments to pool_mark_dirty(). */
static void test_mark_dirty_arguments(void **state)
{
    (void)state;
    pool_t *p = make_pool(&node, DB);
    redisContext *c = NULL, *stranger = fx_connect(&node);
    assert_non_null(stranger);
    assert_rc(0, pool_get_writer(p, &c));
    assert_rc(POOL_EINVAL, pool_mark_dirty(NULL, c, POOL_DIRTY_RESET));
    assert_rc(POOL_EINVAL, pool_mark_dirty(p, NULL, POOL_DIRTY_RESET));
    assert_rc(POOL_EINVAL, pool_mark_dirty(p, c, (pool_dirty_t)7));
    assert_rc(POOL_ENOTPOOLED, pool_mark_dirty(p, stranger, POOL_DIRTY_RESET));
    pool_put(p, c);
    assert_rc(POOL_ENOTPOOLED, pool_mark_dirty(p, c, POOL_DIRTY_RESET)); /* returned already */
    redisFree(stranger);
    pool_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_state),
        cmocka_unit_test(test_readonly_mode),
        cmocka_unit_test(test_clean_put_sends_nothing),
        cmocka_unit_test(test_push_callback_restored),
        cmocka_unit_test(test_mark_dirty_arguments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
