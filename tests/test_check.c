/* test_check.c: sentinel-pool-check's deployment mode against a topology
 * the tool did not start (the fixture starts it here): the read-only report
 * names every node and role, each misconfiguration gives its warning, bad
 * input ends with a message and exit 2 within the timeouts, and --failover
 * runs one graceful failover that passes its invariants and leaves no key. Runs the
 * built tool as a child process; skips (77) in a build without it. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"

#define TOOL SPOOL_BINARY_DIR "/sentinel-pool-check"

static fx_topology topo;
static char sentinels[256];

typedef struct run_out {
    int status; /* exit status, -1 when it did not exit */
    int64_t ms;
    char text[16384];
} run_out;

/* Run the tool with args (a shell-quoted string of our own making). */
static void run_tool(run_out *out, const char *fmt, ...)
{
    char args[1024], cmd[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "%s %s 2>&1", TOOL, args);
    int64_t t0 = fx_now_ms();
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out->text, 1, sizeof(out->text) - 1, p);
    out->text[n] = '\0';
    char rest[4096]; /* drain: a child blocked on a full pipe would never exit */
    while (fread(rest, 1, sizeof(rest), p) > 0) {
    }
    int st = pclose(p);
    out->ms = fx_now_ms() - t0;
    out->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    printf("$ sentinel-pool-check %s\n%s(exit %d, %lld ms)\n", args, out->text, out->status,
           (long long)out->ms);
}

/* The line of the report that starts with host:port. */
static const char *row(const run_out *o, int port)
{
    char key[64];
    snprintf(key, sizeof(key), "\n127.0.0.1:%d ", port);
    const char *p = strstr(o->text, key);
    return p != NULL ? p + 1 : NULL;
}

static int row_says(const run_out *o, int port, const char *word)
{
    const char *p = row(o, port);
    if (p == NULL)
        return 0;
    const char *eol = strchr(p, '\n');
    const char *w = strstr(p, word);
    return w != NULL && (eol == NULL || w < eol);
}

/* A WARNING line mentioning both needles. */
static int warned(const run_out *o, const char *a, const char *b)
{
    for (const char *p = strstr(o->text, "WARNING: "); p != NULL; p = strstr(p + 1, "WARNING: ")) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        char line[512];
        snprintf(line, sizeof(line), "%.*s", (int)(len < 511 ? len : 511), p);
        if (strstr(line, a) && (b == NULL || strstr(line, b)))
            return 1;
    }
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    if (access(TOOL, X_OK) != 0) {
        printf("# SKIP check: %s not built (SENTINEL_POOL_BUILD_TOOLS=OFF)\n", TOOL);
        exit(77);
    }
    if (fx_topology_start(&topo, NULL) != 0)
        return -1;
    return fx_sentinels_string(&topo, sentinels, sizeof(sentinels));
}

static int group_teardown(void **state)
{
    (void)state;
    fx_topology_stop(&topo);
    return 0;
}

static int tls_args(char *buf, size_t len)
{
    const char *dir = fx_topology_tls_dir(&topo);
    if (dir == NULL)
        return snprintf(buf, len, "%s", "");
    fx_tls_client c;
    if (fx_tls_client_paths(dir, &c) != 0)
        return -1;
    return snprintf(buf, len, "--tls --sentinel-tls --tls-ca-file %s --tls-cert-file %s "
                              "--tls-key-file %s", c.ca, c.cert, c.key);
}

/* A healthy topology: every node with its role, no warning, exit 0. */
static void test_report_names_every_node(void **state)
{
    (void)state;
    char tls[1024];
    assert_true(tls_args(tls, sizeof(tls)) >= 0);
    run_out o;
    run_tool(&o, "--sentinels %s --master-name %s %s", sentinels, topo.master_name, tls);
    assert_int_equal(o.status, 0);
    assert_non_null(strstr(o.text, "no warnings"));
    for (int i = 0; i < topo.n_sentinels; i++)
        assert_true(row_says(&o, topo.sentinel[i].port, "ok"));
    assert_true(row_says(&o, topo.data[0].port, "master"));
    for (int i = 1; i < topo.n_data; i++)
        assert_true(row_says(&o, topo.data[i].port, "replica"));
}

/* replica-read-only no on one replica: its warning, exit 1. */
static void test_writable_replica(void **state)
{
    (void)state;
    redisReply *r = fx_cmd(&topo.data[1], "CONFIG SET replica-read-only no");
    assert_non_null(r);
    freeReplyObject(r);
    char tls[1024], port[16];
    assert_true(tls_args(tls, sizeof(tls)) >= 0);
    run_out o;
    run_tool(&o, "--sentinels %s --master-name %s %s", sentinels, topo.master_name, tls);
    r = fx_cmd(&topo.data[1], "CONFIG SET replica-read-only yes");
    if (r != NULL)
        freeReplyObject(r);
    snprintf(port, sizeof(port), ":%d", topo.data[1].port);
    assert_int_equal(o.status, 1);
    assert_true(warned(&o, "replica-read-only no", port));
}

/* A replica frozen while the master takes 2 MB: the master's own count of
 * what it acknowledged says how far behind it is. */
static void test_lagging_replica(void **state)
{
    (void)state;
    fx_node *rep = &topo.data[2];
    assert_int_equal(fx_node_sigstop(rep), 0);
    redisContext *c = fx_connect(&topo.data[0]);
    assert_non_null(c);
    char *big = malloc(2 * 1024 * 1024);
    assert_non_null(big);
    memset(big, 'x', 2 * 1024 * 1024);
    redisReply *r = redisCommand(c, "SET check:big %b", big, (size_t)(2 * 1024 * 1024));
    free(big);
    assert_non_null(r);
    freeReplyObject(r);
    fx_sleep_ms(300); /* the other replica acknowledges (once a second, or on REPLCONF GETACK) */
    char tls[1024], port[16];
    assert_true(tls_args(tls, sizeof(tls)) >= 0);
    run_out o;
    run_tool(&o, "--sentinels %s --master-name %s --timeout-ms 500 --lag-warn-bytes 1000000 %s",
             sentinels, topo.master_name, tls);
    assert_int_equal(fx_node_sigcont(rep), 0);
    r = redisCommand(c, "DEL check:big");
    if (r != NULL)
        freeReplyObject(r);
    redisFree(c);
    snprintf(port, sizeof(port), ":%d", rep->port);
    assert_int_equal(o.status, 1);
    assert_true(warned(&o, "bytes behind", port));
    assert_int_equal(fx_wait_replicas_synced(&topo, 30000), 0);
}

/* A sentinel of another deployment with the same master name, listed
 * first: outvoted in the report, and named in a warning. */
static void test_foreign_sentinel(void **state)
{
    (void)state;
    if (fx_topology_tls_dir(&topo) != NULL)
        skip(); /* B would need A's certificates; the plaintext run covers it */
    fx_topology b;
    fx_topology_opts bo;
    memset(&bo, 0, sizeof(bo));
    bo.n_replicas = -1;
    bo.n_sentinels = 1;
    assert_int_equal(fx_topology_start(&b, &bo), 0);
    run_out o;
    run_tool(&o, "--sentinels 127.0.0.1:%d,%s --master-name %s", b.sentinel[0].port, sentinels,
             topo.master_name);
    char port[16];
    snprintf(port, sizeof(port), ":%d", b.sentinel[0].port);
    int foreign = warned(&o, "another deployment", port);
    int master_row = row_says(&o, topo.data[0].port, "master");
    fx_topology_stop(&b);
    assert_int_equal(o.status, 1);
    assert_true(foreign);
    assert_true(master_row);
}

/* How many of the keys named prefix* exist on the node (KEYS: a test topology). */
static long long keys_under(const fx_node *n, const char *prefix)
{
    redisReply *r = fx_cmd(n, "KEYS %s*", prefix);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    long long k = (long long)r->elements;
    freeReplyObject(r);
    return k;
}

/* --failover --yes: one graceful failover of the topology started here,
 * under writers through the pool; the invariants hold (exit 0), the
 * sentinels name another master afterwards, and the writers' keys are gone
 * from every node. */
static void test_failover(void **state)
{
    (void)state;
    char tls[1024], prefix[64], json[128], svg[128];
    assert_true(tls_args(tls, sizeof(tls)) >= 0);
    snprintf(prefix, sizeof(prefix), "spc-test:%d:", (int)getpid());
    snprintf(json, sizeof(json), "/tmp/spc-test-%d.json", (int)getpid());
    snprintf(svg, sizeof(svg), "/tmp/spc-test-%d.svg", (int)getpid());
    assert_int_equal(fx_wait_replicas_synced(&topo, 20000), 0);
    int before = fx_topology_master_index(&topo);
    assert_true(before >= 0);
    run_out o;
    run_tool(&o,
             "--sentinels %s --master-name %s %s --failover --yes --key-prefix %s --writers 4 "
             "--rate 200 --lead-ms 500 --quiet --json %s --plot %s",
             sentinels, topo.master_name, tls, prefix, json, svg);
    assert_int_equal(o.status, 0);
    assert_non_null(strstr(o.text, "result: PASS"));
    assert_non_null(strstr(o.text, "[PASS] 3c the run's keys deleted"));
    assert_int_equal(fx_wait_replicas_synced(&topo, 20000), 0);
    int after = fx_topology_master_index(&topo);
    assert_true(after >= 0);
    assert_int_not_equal(after, before);
    for (int i = 0; i < topo.n_data; i++)
        assert_int_equal(keys_under(&topo.data[i], prefix), 0);
    char buf[8192];
    FILE *f = fopen(svg, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(svg);
    assert_non_null(strstr(buf, "<svg"));
    f = fopen(json, "r");
    assert_non_null(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(json);
    char want[96];
    snprintf(want, sizeof(want), "\"final_master\": \"127.0.0.1:%d\"", topo.data[after].port);
    assert_non_null(strstr(buf, want));
}

/* --failover that must not run: not confirmed (stdin is not "yes"), or
 * keys under the prefix exist already (they stay as they were); --yes
 * without --failover is a usage error. The master does not change. */
static void test_failover_refused(void **state)
{
    (void)state;
    char tls[1024], prefix[64];
    assert_true(tls_args(tls, sizeof(tls)) >= 0);
    snprintf(prefix, sizeof(prefix), "spc-refused:%d:", (int)getpid());
    int before = fx_topology_master_index(&topo);
    assert_true(before >= 0);
    run_out o;
    run_tool(&o, "--sentinels %s --master-name %s %s --failover --key-prefix %s < /dev/null",
             sentinels, topo.master_name, tls, prefix);
    assert_int_equal(o.status, 2);
    assert_non_null(strstr(o.text, "not confirmed; nothing was changed"));

    redisReply *r = fx_cmd(&topo.data[before], "SET %scnt:1 precious", prefix);
    assert_non_null(r);
    freeReplyObject(r);
    run_tool(&o, "--sentinels %s --master-name %s %s --failover --yes --key-prefix %s",
             sentinels, topo.master_name, tls, prefix);
    assert_int_equal(o.status, 2);
    assert_non_null(strstr(o.text, "exist already"));
    r = fx_cmd(&topo.data[before], "GET %scnt:1", prefix);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "precious");
    freeReplyObject(r);
    r = fx_cmd(&topo.data[before], "DEL %scnt:1", prefix);
    assert_non_null(r);
    freeReplyObject(r);

    run_tool(&o, "--sentinels %s --master-name %s --yes", sentinels, topo.master_name);
    assert_int_equal(o.status, 2);
    assert_int_equal(fx_topology_master_index(&topo), before);
}

/* Bad input: a clear message, exit 2, within the timeouts. */
static void test_bad_input(void **state)
{
    (void)state;
    int dead = fx_free_port();
    assert_true(dead > 0);
    char tls[1024];
    assert_true(tls_args(tls, sizeof(tls)) >= 0);
    run_out o;
    run_tool(&o, "--sentinels %s --master-name nosuchmaster %s", sentinels, tls);
    assert_int_equal(o.status, 2);
    assert_non_null(strstr(o.text, "no sentinel knows this master name"));
    run_tool(&o, "--sentinels 127.0.0.1:%d --master-name %s --timeout-ms 500", dead,
             topo.master_name);
    assert_int_equal(o.status, 2);
    assert_non_null(strstr(o.text, "no sentinel answered"));
    assert_true(o.ms < 3000);
    if (fx_topology_tls_dir(&topo) == NULL) {
        run_tool(&o, "--sentinels %s --master-name %s --password wrong", sentinels,
                 topo.master_name);
        assert_int_equal(o.status, 2);
        assert_non_null(strstr(o.text, "authentication failed"));
        /* TLS asked of plaintext sentinels: refused within the timeout. */
        run_tool(&o, "--sentinels %s --master-name %s --sentinel-tls --timeout-ms 500",
                 sentinels, topo.master_name);
        assert_int_equal(o.status, 2);
        assert_true(o.ms < 5000);
    }
    run_tool(&o, "--sentinels nonsense --master-name %s", topo.master_name);
    assert_int_equal(o.status, 2);
    run_tool(&o, "--master-name %s", topo.master_name);
    assert_int_equal(o.status, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_names_every_node),
        cmocka_unit_test(test_writable_replica),
        cmocka_unit_test(test_lagging_replica),
        cmocka_unit_test(test_foreign_sentinel),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_failover_refused),
        cmocka_unit_test(test_failover), /* last: the master changes */
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
