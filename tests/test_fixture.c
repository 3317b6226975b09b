/* test_fixture.c: the test launcher itself (tests/support) against real
 * redis-server / redis-sentinel processes and the scripted fake server. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"

static void assert_pid_gone(pid_t pid)
{
    assert_true(pid > 0);
    errno = 0;
    int r = kill(pid, 0);
    if (r != -1 || errno != ESRCH)
        fail_msg("pid %d still exists (kill returned %d, errno %s)", (int)pid, r, strerror(errno));
}

static void assert_dir_gone(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0)
        fail_msg("directory %s still exists", dir);
}

static void assert_status(redisReply *r, const char *want)
{
    if (!r)
        fail_msg("no reply, wanted +%s", want);
    if (r->type != REDIS_REPLY_STATUS || strcmp(r->str, want) != 0)
        fail_msg("reply type %d '%s', wanted +%s", r->type, r->str ? r->str : "", want);
    freeReplyObject(r);
}

static void assert_error_prefix(redisReply *r, const char *prefix)
{
    if (!r)
        fail_msg("no reply, wanted -%s...", prefix);
    if (r->type != REDIS_REPLY_ERROR || strncmp(r->str, prefix, strlen(prefix)) != 0)
        fail_msg("reply type %d '%s', wanted -%s...", r->type, r->str ? r->str : "", prefix);
    freeReplyObject(r);
}

static redisContext *raw_connect(int port, int timeout_ms)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    assert_non_null(c);
    if (c->err)
        fail_msg("connect to port %d: %s", port, c->errstr);
    assert_int_equal(redisSetTimeout(c, tv), REDIS_OK);
    return c;
}

/* ---------------------------------------------------------------------- */

static int setup_node(void **state)
{
    *state = calloc(1, sizeof(fx_node));
    return *state ? 0 : -1;
}

static int teardown_node(void **state)
{
    fx_node_stop(*state);
    free(*state);
    return 0;
}

static void test_single_redis_auth(void **state)
{
    fx_node *n = *state;
    fx_redis_opts o;
    memset(&o, 0, sizeof(o));
    o.requirepass = "default-secret";
    o.acl_users = "user app on >app-secret ~* +@all";
    assert_int_equal(fx_redis_start(n, &o), 0);
    assert_true(n->port > 0 && n->port < 65536);
    assert_int_equal(n->role, 'm');
    assert_true(n->running);

    /* The fixture authenticates by itself. */
    assert_status(fx_cmd(n, "PING"), "PONG");

    /* Without AUTH: NOAUTH; as the ACL user: OK; wrong password: WRONGPASS. */
    redisContext *c = raw_connect(n->port, 2000);
    assert_error_prefix(redisCommand(c, "PING"), "NOAUTH");
    assert_error_prefix(redisCommand(c, "AUTH app wrong"), "WRONGPASS");
    assert_status(redisCommand(c, "AUTH app app-secret"), "OK");
    redisReply *r = redisCommand(c, "ACL WHOAMI");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "app");
    freeReplyObject(r);
    assert_status(redisCommand(c, "SET k v"), "OK");
    redisFree(c);

    /* kill -9 and restart: same port and config, new pid, data gone (save ""). */
    pid_t old_pid = n->pid;
    int port = n->port;
    assert_int_equal(fx_node_kill9(n), 0);
    assert_false(n->running);
    assert_pid_gone(old_pid);
    assert_int_equal(fx_node_restart(n), 0);
    assert_int_equal(n->port, port);
    assert_int_not_equal(n->pid, old_pid);
    assert_status(fx_cmd(n, "PING"), "PONG");

    /* SIGSTOP: the server stops answering (fx_cmd times out after 2 s). */
    assert_int_equal(fx_node_sigstop(n), 0);
    fprintf(stderr, "(an AUTH timeout message is expected next)\n");
    int64_t t0 = fx_now_ms();
    r = fx_cmd(n, "PING");
    assert_null(r);
    assert_true(fx_now_ms() - t0 >= 1900);
    assert_int_equal(fx_node_sigcont(n), 0);
    assert_status(fx_cmd(n, "PING"), "PONG");

    /* Stop from the SIGSTOPped state too: SIGTERM must still work. */
    assert_int_equal(fx_node_sigstop(n), 0);
    char dir[256];
    snprintf(dir, sizeof(dir), "%s", n->dir);
    pid_t pid = n->pid;
    t0 = fx_now_ms();
    fx_node_stop(n);
    fprintf(stderr, "[timing] stopping a SIGSTOPped redis: %lld ms\n", (long long)(fx_now_ms() - t0));
    assert_pid_gone(pid);
    assert_dir_gone(dir);
    fx_node_stop(n); /* idempotent */
}

/* ---------------------------------------------------------------------- */

static int setup_topology(void **state)
{
    *state = calloc(1, sizeof(fx_topology));
    return *state ? 0 : -1;
}

static int teardown_topology(void **state)
{
    fx_topology_stop(*state);
    free(*state);
    return 0;
}

static void collect_pids(const fx_topology *t, pid_t *pids, char dirs[][256])
{
    for (int i = 0; i < 3; i++) {
        pids[i] = t->data[i].pid;
        pids[3 + i] = t->sentinel[i].pid;
        snprintf(dirs[i], 256, "%s", t->data[i].dir);
        snprintf(dirs[3 + i], 256, "%s", t->sentinel[i].dir);
    }
}

static void test_topology_failover(void **state)
{
    fx_topology *t = *state;
    int64_t t0 = fx_now_ms();
    assert_int_equal(fx_topology_start(t, NULL), 0);
    fprintf(stderr, "[timing] fx_topology_start: %lld ms\n", (long long)(fx_now_ms() - t0));
    assert_int_equal(t->n_data, 3);
    assert_int_equal(t->n_sentinels, 3);
    assert_string_equal(t->master_name, "mymaster");
    assert_int_equal(t->quorum, 2);
    assert_int_equal(fx_topology_master_index(t), 0);

    char buf[128], want[128];
    assert_int_equal(fx_sentinels_string(t, buf, sizeof(buf)), 0);
    snprintf(want, sizeof(want), "127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d", t->sentinel[0].port,
             t->sentinel[1].port, t->sentinel[2].port);
    assert_string_equal(buf, want);
    char tiny[8];
    assert_int_equal(fx_sentinels_string(t, tiny, sizeof(tiny)), -1);

    /* A write on the master reaches the replicas. */
    assert_status(fx_cmd(&t->data[0], "SET before failover"), "OK");

    /* First failover. */
    t0 = fx_now_ms();
    assert_int_equal(fx_sentinel_failover(t, 0), 0);
    int idx = fx_wait_master_change(t, 0, 15000);
    int64_t first = fx_now_ms() - t0;
    fprintf(stderr, "[timing] SENTINEL FAILOVER -> fx_wait_master_change: %lld ms (new master data[%d])\n",
            (long long)first, idx);
    assert_true(idx == 1 || idx == 2);
    assert_true(first < 15000);
    assert_int_equal(t->data[idx].role, 'm');
    assert_int_equal(t->data[0].role, 'r');

    /* The old master is demoted and every replica follows the new one. */
    t0 = fx_now_ms();
    assert_int_equal(fx_wait_replicas_synced(t, 20000), 0);
    fprintf(stderr, "[timing] fx_wait_replicas_synced after failover: %lld ms\n",
            (long long)(fx_now_ms() - t0));
    redisReply *r = fx_cmd(&t->data[0], "ROLE");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_string_equal(r->element[0]->str, "slave");
    freeReplyObject(r);
    r = fx_cmd(&t->data[idx], "GET before");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "failover");
    freeReplyObject(r);

    /* A second failover right after the first, asked of another sentinel. */
    t0 = fx_now_ms();
    assert_int_equal(fx_sentinel_failover(t, 1), 0);
    int idx2 = fx_wait_master_change(t, idx, 15000);
    fprintf(stderr, "[timing] second SENTINEL FAILOVER -> fx_wait_master_change: %lld ms (data[%d])\n",
            (long long)(fx_now_ms() - t0), idx2);
    assert_true(idx2 >= 0 && idx2 != idx);

    pid_t pids[6];
    char dirs[6][256];
    collect_pids(t, pids, dirs);
    t0 = fx_now_ms();
    fx_topology_stop(t);
    fprintf(stderr, "[timing] fx_topology_stop: %lld ms\n", (long long)(fx_now_ms() - t0));
    for (int i = 0; i < 6; i++) {
        assert_pid_gone(pids[i]);
        assert_dir_gone(dirs[i]);
    }
    fx_topology_stop(t); /* idempotent */
}

static void test_topology_with_passwords(void **state)
{
    fx_topology *t = *state;
    fx_topology_opts o;
    memset(&o, 0, sizeof(o));
    o.master_name = "pwmaster";
    o.n_replicas = 1;
    o.data_password = "data-pw";
    o.data_acl_users = "user app on >app-pw ~* +@all";
    o.sentinel_password = "sentinel-pw";
    int64_t t0 = fx_now_ms();
    assert_int_equal(fx_topology_start(t, &o), 0);
    fprintf(stderr, "[timing] fx_topology_start (1 replica, passwords): %lld ms\n",
            (long long)(fx_now_ms() - t0));
    assert_int_equal(t->n_data, 2);
    assert_int_equal(fx_topology_master_index(t), 0);

    /* The sentinels require their password; the fixture supplies it. */
    redisContext *c = raw_connect(t->sentinel[0].port, 2000);
    assert_error_prefix(redisCommand(c, "SENTINEL get-master-addr-by-name pwmaster"), "NOAUTH");
    redisFree(c);
    redisReply *r = fx_cmd(&t->sentinel[0], "SENTINEL get-master-addr-by-name pwmaster");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(atoi(r->element[1]->str), t->data[0].port);
    freeReplyObject(r);

    /* The ACL user works on a data node. */
    c = raw_connect(t->data[1].port, 2000);
    assert_status(redisCommand(c, "AUTH app app-pw"), "OK");
    redisFree(c);

    pid_t pids[6];
    char dirs[6][256];
    collect_pids(t, pids, dirs);
    fx_topology_stop(t);
    for (int i = 0; i < 6; i++) {
        if (i == 2) /* no third data node */
            continue;
        assert_pid_gone(pids[i]);
        assert_dir_gone(dirs[i]);
    }
}

/* ---------------------------------------------------------------------- */

static int setup_fake(void **state)
{
    *state = calloc(1, sizeof(fx_fake));
    return *state ? 0 : -1;
}

static int teardown_fake(void **state)
{
    fx_fake_stop(*state);
    free(*state);
    return 0;
}

static void test_fake_dribble(void **state)
{
    fx_fake *f = *state;
    const fx_fake_step steps[] = {FX_READ, FX_DRIBBLE_STR("+PONG\r\n", 40), FX_CLOSE};
    assert_int_equal(fx_fake_start(f, steps, sizeof(steps) / sizeof(steps[0])), 0);
    assert_true(f->port > 0);

    redisContext *c = raw_connect(f->port, 2000);
    int64_t t0 = fx_now_ms();
    redisReply *r = redisCommand(c, "PING");
    int64_t took = fx_now_ms() - t0;
    fprintf(stderr, "[timing] 7 bytes dribbled 40 ms apart: %lld ms\n", (long long)took);
    assert_status(r, "PONG");
    assert_true(took >= 6 * 40);
    /* The script closed the connection after the reply. */
    r = redisCommand(c, "PING");
    assert_null(r);
    /* EOF, or IO (ECONNRESET) when the RST answering our write wins. */
    if (c->err != REDIS_ERR_EOF && c->err != REDIS_ERR_IO)
        fail_msg("err %d (%s), wanted EOF or IO", c->err, c->errstr);
    redisFree(c);

    assert_int_equal(fx_fake_connections(f), 1);
    assert_int_equal(fx_fake_commands(f), 1);
    char rec[256];
    assert_true(fx_fake_received(f, rec, sizeof(rec)) > 0);
    assert_non_null(strstr(rec, "PING"));
}

static void test_fake_split_repeat_and_reset(void **state)
{
    fx_fake *f = *state;
    fx_fake_step steps[] = {FX_READ, FX_SEND_STR("$5\r\nhel"), FX_SLEEP(50),
                            FX_SEND_STR("lo\r\n"), FX_REPEAT};
    /* The fake copies the script: scribbling on ours afterwards is harmless. */
    char volatile_bytes[] = "$5\r\nhel";
    steps[1].bytes = volatile_bytes;
    assert_int_equal(fx_fake_start(f, steps, 5), 0);
    memset(volatile_bytes, 'x', sizeof(volatile_bytes) - 1);

    redisContext *c = raw_connect(f->port, 2000);
    for (int i = 0; i < 3; i++) {
        redisReply *r = redisCommand(c, "GET k%d", i);
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        assert_string_equal(r->str, "hello");
        freeReplyObject(r);
    }
    /* A second connection is served concurrently with the first. */
    redisContext *c2 = raw_connect(f->port, 2000);
    redisReply *r = redisCommand(c2, "GET x");
    assert_non_null(r);
    assert_string_equal(r->str, "hello");
    freeReplyObject(r);
    redisFree(c2);
    redisFree(c);
    assert_int_equal(fx_fake_commands(f), 4);
    fx_fake_stop(f);

    const fx_fake_step rst[] = {FX_READ, FX_RESET};
    assert_int_equal(fx_fake_start(f, rst, 2), 0);
    c = raw_connect(f->port, 2000);
    r = redisCommand(c, "PING");
    assert_null(r);
    assert_int_not_equal(c->err, 0);
    redisFree(c);
}

static void test_fake_never_answers(void **state)
{
    fx_fake *f = *state;
    /* Empty script: accept and never answer. */
    assert_int_equal(fx_fake_start(f, NULL, 0), 0);
    redisContext *c = raw_connect(f->port, 300);
    int64_t t0 = fx_now_ms();
    redisReply *r = redisCommand(c, "PING");
    assert_null(r);
    assert_int_equal(c->err, REDIS_ERR_IO);
    assert_true(fx_now_ms() - t0 >= 250);
    /* Stop is prompt even with a connection open. */
    t0 = fx_now_ms();
    fx_fake_stop(f);
    int64_t stop = fx_now_ms() - t0;
    fprintf(stderr, "[timing] fx_fake_stop with an open connection: %lld ms\n", (long long)stop);
    assert_true(stop < 200);
    redisFree(c);

    /* NO_ACCEPT: the kernel completes the connect, nobody ever reads. */
    assert_int_equal(fx_fake_start_ex(f, NULL, 0, FX_FAKE_NO_ACCEPT), 0);
    c = raw_connect(f->port, 300);
    r = redisCommand(c, "PING");
    assert_null(r);
    assert_int_equal(fx_fake_connections(f), 0);
    redisFree(c);

    /* A script that could spin is refused. */
    fx_fake bad;
    const fx_fake_step spin[] = {FX_SEND_STR("+OK\r\n"), FX_REPEAT};
    assert_int_equal(fx_fake_start(&bad, spin, 2), -1);
    fx_fake_stop(&bad);
}

static void test_zeroed_objects_are_safe(void **state)
{
    (void)state;
    fx_node n;
    fx_topology t;
    fx_fake f;
    memset(&n, 0, sizeof(n));
    memset(&t, 0, sizeof(t));
    memset(&f, 0, sizeof(f));
    fx_node_stop(&n);
    fx_node_stop(NULL);
    fx_topology_stop(&t);
    fx_topology_stop(NULL);
    fx_fake_stop(&f);
    fx_fake_stop(NULL);
    assert_int_equal(fx_node_kill9(&n), -1);
    assert_int_equal(fx_node_restart(&n), -1);
    int p = fx_free_port();
    assert_true(p > 0 && p < 65536);
}

/* mkdir -p of path's directory part. */
static void mkdir_parents(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            fail_msg("mkdir %s: %s", buf, strerror(errno));
        *p = '/';
    }
}

static void touch(const char *path)
{
    mkdir_parents(path);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* make-certs.sh: the source tree's while it exists, else the installed one
 * next to the program (an installed sentinel-pool-check --tls), else none. */
static void test_certs_script_lookup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR") != NULL && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char root[512], src[600], exe[600], installed[1200], in_src[700], out[1200];
    snprintf(root, sizeof(root), "%s/fx-lookup-XXXXXX", tmp);
    assert_non_null(mkdtemp(root));
    snprintf(src, sizeof(src), "%s/src", root);
    snprintf(exe, sizeof(exe), "%s/prefix/bin/sentinel-pool-check", root);
    snprintf(installed, sizeof(installed), "%s/prefix/bin/%s", root, SPOOL_CERTS_FROM_BIN);
    snprintf(in_src, sizeof(in_src), "%s/tests/support/make-certs.sh", src);
    touch(exe);
    int none = fx_tls_certs_script_in(src, exe, out, sizeof(out));
    int none_names_src = strcmp(out, in_src) == 0;
    touch(installed);
    int inst = fx_tls_certs_script_in(src, exe, out, sizeof(out));
    int inst_path = strcmp(out, installed) == 0;
    int no_exe = fx_tls_certs_script_in(src, NULL, out, sizeof(out));
    touch(in_src);
    int both = fx_tls_certs_script_in(src, exe, out, sizeof(out));
    int both_path = strcmp(out, in_src) == 0;
    nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    assert_int_equal(none, -1);
    assert_true(none_names_src);
    assert_int_equal(inst, 0);
    assert_true(inst_path);
    assert_int_equal(no_exe, -1);
    assert_int_equal(both, 0);
    assert_true(both_path);
    /* In the build tree, the source tree's. */
    assert_int_equal(fx_tls_certs_script(out, sizeof(out)), 0);
    assert_string_equal(out, SPOOL_SOURCE_DIR "/tests/support/make-certs.sh");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zeroed_objects_are_safe),
        cmocka_unit_test(test_certs_script_lookup),
        cmocka_unit_test_setup_teardown(test_fake_dribble, setup_fake, teardown_fake),
        cmocka_unit_test_setup_teardown(test_fake_split_repeat_and_reset, setup_fake,
                                        teardown_fake),
        cmocka_unit_test_setup_teardown(test_fake_never_answers, setup_fake, teardown_fake),
        cmocka_unit_test_setup_teardown(test_single_redis_auth, setup_node, teardown_node),
        cmocka_unit_test_setup_teardown(test_topology_failover, setup_topology,
                                        teardown_topology),
        cmocka_unit_test_setup_teardown(test_topology_with_passwords, setup_topology,
                                        teardown_topology),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
