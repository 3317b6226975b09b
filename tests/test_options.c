/* test_options.c: options a person can get wrong (pool/options.c): every
 * malformed sentinels list, a missing or overlong master_name, a user
 * without a password, out-of-range timeouts, sizes, limits and enums, and
 * master_addr together with sentinels. Each is refused by pool_create()
 * with POOL_EINVAL and no pool, and the log names the option at fault;
 * the valid neighbours of each bound create a pool. No server: lazy_start,
 * and a sentinel port nobody listens on. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "fx_assert.h"
#include "hostile_util.h"
#include "sentinel_pool.h"

static int create_with(pool_options_t *o, recorder *rec)
{
    o->log_fn = on_log;
    o->log_userdata = rec;
    pthread_mutex_lock(&rec->mu);
    rec->last_log[0] = '\0';
    pthread_mutex_unlock(&rec->mu);
    pool_t *p = (pool_t *)0x1;
    int rc = pool_create(o, &p);
    if (rc != 0) {
        assert_null(p);
        return rc;
    }
    pool_destroy(p);
    return rc;
}

static void sentinel_opts(pool_options_t *o, const char *sentinels)
{
    pool_options_init(o);
    o->master_name = "mymaster";
    o->sentinels = sentinels;
    o->lazy_start = 1; /* valid options create a pool without a sentinel */
}

static void expect_einval(pool_options_t *o, recorder *rec, const char *what, const char *msg)
{
    int rc = create_with(o, rec);
    if (rc != POOL_EINVAL)
        fail_msg("%s: expected POOL_EINVAL, got %s", what, pool_err_name(rc));
    pthread_mutex_lock(&rec->mu);
    int has = strstr(rec->last_log, msg) != NULL;
    char logged[512];
    snprintf(logged, sizeof(logged), "%s", rec->last_log);
    pthread_mutex_unlock(&rec->mu);
    if (!has)
        fail_msg("%s: logged \"%s\", want it to mention \"%s\"", what, logged, msg);
}

static void test_bad_sentinel_options(void **state)
{
    (void)state;
    recorder rec;
    recorder_init(&rec);
    pool_options_t o;
    int dead = fx_free_port();
    assert_true(dead > 0);
    char ok_list[64];
    snprintf(ok_list, sizeof(ok_list), "127.0.0.1:%d", dead);

    /* Control: these options are valid. */
    sentinel_opts(&o, ok_list);
    assert_rc(0, create_with(&o, &rec));

    const char *bad_lists[] = {
        "127.0.0.1:26379,", ",127.0.0.1:26379", "[::1]:0", "[::1]:65536", "[::1]", "[::1",
        "[]:26379", "[::1]26379", "::1:26379", "127.0.0.1", "127.0.0.1:", ":26379", "a b:26379",
        "127.0.0.1:26379;127.0.0.1:26380", "127.0.0.1:2637x", "127.0.0.1:-1", " , ",
    };
    for (size_t i = 0; i < sizeof(bad_lists) / sizeof(bad_lists[0]); i++) {
        sentinel_opts(&o, bad_lists[i]);
        expect_einval(&o, &rec, bad_lists[i], "sentinels");
    }
    /* A 300-byte host name (a DNS name is at most 253 bytes). */
    char longhost[320];
    memset(longhost, 'h', 300);
    snprintf(longhost + 300, sizeof(longhost) - 300, ":26379");
    sentinel_opts(&o, longhost);
    expect_einval(&o, &rec, "300-byte host", "sentinels");

    sentinel_opts(&o, ok_list);
    o.sentinel_username = "app";
    expect_einval(&o, &rec, "sentinel_username without password", "sentinel_username");
    o.sentinel_password = "pw";
    assert_rc(0, create_with(&o, &rec));

    sentinel_opts(&o, NULL);
    expect_einval(&o, &rec, "master_name without sentinels", "sentinels");
    sentinel_opts(&o, ok_list);
    o.master_name = NULL;
    expect_einval(&o, &rec, "sentinels without master_name", "master_name");
    char name[200];
    memset(name, 'n', 128);
    name[128] = '\0';
    o.master_name = name;
    expect_einval(&o, &rec, "128-byte master_name", "master_name");
    name[127] = '\0';
    assert_rc(0, create_with(&o, &rec)); /* 127 bytes is the longest allowed */
    o.master_name = "my\nmaster";
    expect_einval(&o, &rec, "master_name with a newline", "master_name");
    o.master_name = "my\x01master";
    expect_einval(&o, &rec, "master_name with a control byte", "master_name");

    sentinel_opts(&o, ok_list);
    o.sentinel_timeout_ms = 0;
    expect_einval(&o, &rec, "sentinel_timeout_ms 0", "sentinel_timeout_ms");
    o.sentinel_timeout_ms = -5;
    expect_einval(&o, &rec, "sentinel_timeout_ms < 0", "sentinel_timeout_ms");
    sentinel_opts(&o, ok_list);
    o.sentinel_poll_ms = 9;
    expect_einval(&o, &rec, "sentinel_poll_ms 9", "sentinel_poll_ms");
    o.sentinel_poll_ms = 10;
    assert_rc(0, create_with(&o, &rec));

    sentinel_opts(&o, ok_list);
    o.max_connections = 4097;
    expect_einval(&o, &rec, "max_connections 4097", "max_connections");
    sentinel_opts(&o, ok_list);
    o.min_idle = -1;
    expect_einval(&o, &rec, "min_idle -1", "min_idle");
    sentinel_opts(&o, ok_list);
    o.checkout_timeout_ms = -1;
    expect_einval(&o, &rec, "checkout_timeout_ms -1", "checkout_timeout_ms");
    sentinel_opts(&o, ok_list);
    o.command_timeout_ms = 0;
    expect_einval(&o, &rec, "command_timeout_ms 0", "command_timeout_ms");
    sentinel_opts(&o, ok_list);
    o.idle_timeout_ms = -1;
    expect_einval(&o, &rec, "idle_timeout_ms -1", "idle_timeout_ms");
    sentinel_opts(&o, ok_list);
    o.leak_threshold_ms = -1;
    expect_einval(&o, &rec, "leak_threshold_ms -1", "leak_threshold_ms");
    sentinel_opts(&o, ok_list);
    o.database = -1;
    expect_einval(&o, &rec, "database -1", "database");
    sentinel_opts(&o, ok_list);
    o.max_reply_elements = 0;
    expect_einval(&o, &rec, "max_reply_elements 0", "max_reply_elements");
    o.max_reply_elements = 0x80000000LL;
    expect_einval(&o, &rec, "max_reply_elements > INT_MAX", "max_reply_elements");
    sentinel_opts(&o, ok_list);
    o.max_reply_bulk = -1;
    expect_einval(&o, &rec, "max_reply_bulk -1", "max_reply_bulk");
    sentinel_opts(&o, ok_list);
    o.validate = (pool_validate_t)-1;
    expect_einval(&o, &rec, "validate -1", "validate");
    sentinel_opts(&o, ok_list);
    o.log_level = (pool_log_level_t)9;
    expect_einval(&o, &rec, "log_level 9", "log_level");
    sentinel_opts(&o, ok_list);
    o.master_addr = "127.0.0.1:6379";
    expect_einval(&o, &rec, "master_addr and sentinels", "either");
    /* An option from a newer header, carved out of the reserve, or options
     * never initialised: refused, not silently ignored. */
    sentinel_opts(&o, ok_list);
    o.reserved[0] = 1;
    expect_einval(&o, &rec, "reserved[0] set", "reserved[0]");
    sentinel_opts(&o, ok_list);
    o.reserved[sizeof(o.reserved) - 1] = 0x80;
    expect_einval(&o, &rec, "last reserved byte set", "reserved[");
    /* The sentinel set reads the same struct, and refuses the same way. */
    sentinel_opts(&o, ok_list);
    o.log_fn = on_log;
    o.log_userdata = &rec;
    pool_sentinel_set_t *set = NULL;
    assert_rc(0, pool_sentinel_set_create(&o, &set));
    pool_sentinel_set_release(set);
    o.reserved[7] = 1;
    set = (pool_sentinel_set_t *)0x1;
    assert_rc(POOL_EINVAL, pool_sentinel_set_create(&o, &set));
    assert_null(set);
    pthread_mutex_lock(&rec.mu);
    assert_non_null(strstr(rec.last_log, "reserved[7]"));
    pthread_mutex_unlock(&rec.mu);

    /* What passes: whitespace around entries, IPv6 literals. (A zone index
     * is in test_ipv6_link_local_zone: here the watcher would resolve it.) */
    sentinel_opts(&o, " 127.0.0.1:1 , [::1]:2,[::ffff:127.0.0.1]:3 ");
    assert_rc(0, create_with(&o, &rec));
    pthread_mutex_destroy(&rec.mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_sentinel_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
