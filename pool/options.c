/* Options: documented defaults, validation with a clear message, and owned
 * copies of every string so the caller may free its struct after create. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/addr.h"
#include "proto/sentinel_parse.h"
#include "proto/limits.h"
#include "proto/options_abi.h"
#include "pool/pool_internal.h"
#include "net/tls.h"

void pool_options_init(pool_options_t *o)
{
    if (o == NULL)
        return;
    /* sizeof(*o) is the caller's size too, fixed for the SONAME (header,
     * "ABI"): every field not set below, the reserve included, is 0. */
    memset(o, 0, sizeof(*o));
    o->sentinel_timeout_ms = 500;
    o->sentinel_poll_ms = 1000;
    o->max_connections = 16;
    o->checkout_timeout_ms = 2000;
    o->connect_timeout_ms = 1000;
    o->command_timeout_ms = 2000;
    o->idle_timeout_ms = 60000;
    o->client_name = "sentinel_pool";
    o->validate = POOL_VALIDATE_IDLE;
    o->validate_idle_ms = 1000;
    o->max_reply_elements = SPOOL_DEFAULT_MAX_REPLY_ELEMENTS;
    o->max_reply_bulk = SPOOL_DEFAULT_MAX_REPLY_BULK;
    o->log_level = POOL_LOG_WARN;
}

static int dup_opt(char **dst, const char *src)
{
    *dst = NULL;
    if (src == NULL)
        return 0;
    *dst = strdup(src);
    return *dst == NULL ? POOL_ENOMEM : 0;
}

void spool_config_free(spool_config *cfg)
{
    spool_tls_free(cfg->tls_ctx);
    cfg->tls_ctx = NULL;
    char **strs[] = {&cfg->master_name, &cfg->sentinels,         &cfg->master_addr,
                     &cfg->sentinel_username, &cfg->sentinel_password, &cfg->username,
                     &cfg->password,     &cfg->client_name};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
}

#define BAD(...)                                                                                   \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        return POOL_EINVAL;                                                                        \
    } while (0)

/* A master name: the rule the event parsers apply (sp_valid_name), so that
 * a name accepted here is one whose events are understood. */
static int valid_master_name(const char *s)
{
    return s != NULL && sp_valid_name(s, strlen(s));
}

/* SNI and the certificate name: 1..127 bytes, no space or control byte. */
static int valid_server_name(const char *s)
{
    if (s == NULL || s[0] == '\0' || strlen(s) >= SP_NAME_MAX)
        return 0;
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return 0;
    return 1;
}

static int check(const pool_options_t *o, char *err, size_t errlen)
{
    long reserved = spool_options_reserve_used(o);
    if (reserved >= 0)
        BAD(SPOOL_OPTIONS_RESERVE_MSG, reserved);
    int has_sentinel = o->sentinels != NULL || o->master_name != NULL || o->sentinel_set != NULL;
    if (has_sentinel && o->master_addr != NULL && o->sentinel_set == NULL)
        BAD("set either master_addr or master_name+sentinels, not both");
    if (!has_sentinel && o->master_addr == NULL)
        BAD("no master: set master_addr, or master_name and sentinels");
    if (o->sentinel_set != NULL) {
        if (o->master_addr != NULL)
            BAD("set either master_addr or master_name+sentinel_set, not both");
        if (o->sentinels != NULL || o->sentinel_username != NULL ||
            o->sentinel_password != NULL || o->sentinel_tls)
            BAD("with sentinel_set, leave sentinels, sentinel_username, sentinel_password and "
                "sentinel_tls unset: they are the set's");
        if (!valid_master_name(o->master_name))
            BAD("master_name must be 1..127 bytes without spaces or control characters");
    } else if (has_sentinel) {
        if (!valid_master_name(o->master_name))
            BAD("master_name must be 1..127 bytes without spaces or control characters");
        if (o->sentinels == NULL || o->sentinels[0] == '\0')
            BAD("sentinels must list at least one host:port");
        spool_addr *list = NULL;
        size_t n = 0;
        if (spool_addr_list_parse(o->sentinels, &list, &n) != 0)
            BAD("sentinels: cannot parse \"%.200s\" (want host:port,[v6]:port)", o->sentinels);
        free(list);
    } else {
        spool_addr a;
        if (spool_addr_parse(o->master_addr, strlen(o->master_addr), &a) != 0)
            BAD("master_addr: cannot parse \"%.200s\" (want host:port or [v6]:port)",
                o->master_addr);
    }
    if (o->max_connections < 1 || o->max_connections > SPOOL_MAX_CONNECTIONS)
        BAD("max_connections must be 1..%d, got %d", SPOOL_MAX_CONNECTIONS, o->max_connections);
    if (o->min_idle < 0 || o->min_idle > o->max_connections)
        BAD("min_idle must be 0..max_connections, got %d", o->min_idle);
    if (o->checkout_timeout_ms < 0)
        BAD("checkout_timeout_ms must be >= 0, got %d", o->checkout_timeout_ms);
    if (o->connect_timeout_ms <= 0 || o->command_timeout_ms <= 0 || o->sentinel_timeout_ms <= 0)
        BAD("connect_timeout_ms, command_timeout_ms and sentinel_timeout_ms must be > 0");
    if (o->idle_timeout_ms < 0 || o->validate_idle_ms < 0 || o->leak_threshold_ms < 0)
        BAD("idle_timeout_ms, validate_idle_ms and leak_threshold_ms must be >= 0");
    if (o->sentinel_poll_ms < 10)
        BAD("sentinel_poll_ms must be >= 10, got %d", o->sentinel_poll_ms);
    if (o->sigpipe != POOL_SIGPIPE_PREVENT && o->sigpipe != POOL_SIGPIPE_APP)
        BAD("sigpipe must be a pool_sigpipe_t, got %d", (int)o->sigpipe);
    if (o->validate < POOL_VALIDATE_NEVER || o->validate > POOL_VALIDATE_ALWAYS)
        BAD("validate must be a pool_validate_t, got %d", (int)o->validate);
    if (o->database < 0)
        BAD("database must be >= 0, got %d", o->database);
    if (o->max_reply_elements < 1 || o->max_reply_bulk < 1)
        BAD("max_reply_elements and max_reply_bulk must be >= 1");
    if (o->max_reply_elements > 0x7fffffff)
        BAD("max_reply_elements must fit an int");
    if (o->password == NULL && o->username != NULL)
        BAD("username needs a password");
    if (o->sentinel_password == NULL && o->sentinel_username != NULL)
        BAD("sentinel_username needs a sentinel_password");
    if (o->max_readers < 0 || o->max_readers > SPOOL_MAX_CONNECTIONS)
        BAD("max_readers must be 0..%d, got %d", SPOOL_MAX_CONNECTIONS, o->max_readers);
    if (o->read_spread < POOL_SPREAD_ROUND_ROBIN || o->read_spread > POOL_SPREAD_LEAST_BORROWED)
        BAD("read_spread must be a pool_spread_t, got %d", (int)o->read_spread);
    if (o->read_fallback < POOL_READ_FAIL || o->read_fallback > POOL_READ_MASTER)
        BAD("read_fallback must be a pool_read_fallback_t, got %d", (int)o->read_fallback);
    if (o->max_replica_lag_bytes < 0)
        BAD("max_replica_lag_bytes must be >= 0");
    if (o->log_level < POOL_LOG_ERROR || o->log_level > POOL_LOG_DEBUG)
        BAD("log_level must be a pool_log_level_t");
    if ((o->tls != 0 && o->tls != 1) || (o->sentinel_tls != 0 && o->sentinel_tls != 1))
        BAD("tls and sentinel_tls must be 0 or 1");
    if (o->sentinel_tls && !has_sentinel)
        BAD("sentinel_tls needs sentinels (master_addr has none)");
    /* Certificates without TLS switched on would silently mean plaintext. */
    if (!o->tls && !o->sentinel_tls &&
        (o->tls_ca_file || o->tls_ca_dir || o->tls_cert_file || o->tls_key_file ||
         o->tls_server_name || o->tls_skip_verify))
        BAD("tls_* options are set but neither tls nor sentinel_tls is 1");
    if (o->tls_server_name != NULL && !valid_server_name(o->tls_server_name))
        BAD("tls_server_name must be 1..127 printable bytes without spaces");
    return 0;
}

int spool_config_init(spool_config *cfg, const pool_options_t *o, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof(*cfg));
    int rc = check(o, err, errlen);
    if (rc != 0)
        return rc;
    if (dup_opt(&cfg->master_name, o->master_name) || dup_opt(&cfg->sentinels, o->sentinels) ||
        dup_opt(&cfg->master_addr, o->master_addr) ||
        dup_opt(&cfg->sentinel_username, o->sentinel_username) ||
        dup_opt(&cfg->sentinel_password, o->sentinel_password) ||
        dup_opt(&cfg->username, o->username) || dup_opt(&cfg->password, o->password) ||
        dup_opt(&cfg->client_name, o->client_name)) {
        spool_config_free(cfg);
        snprintf(err, errlen, "out of memory copying options");
        return POOL_ENOMEM;
    }
    if (o->tls || o->sentinel_tls) {
        rc = spool_tls_new(o, NULL, NULL, &cfg->tls_ctx, err, errlen);
        if (rc != 0) {
            spool_config_free(cfg);
            return rc;
        }
    }
    cfg->tls = o->tls;
    cfg->sentinel_tls = o->sentinel_tls;
    cfg->lazy_start = o->lazy_start;
    cfg->sentinel_timeout_ms = o->sentinel_timeout_ms;
    cfg->sentinel_poll_ms = o->sentinel_poll_ms;
    cfg->max_connections = o->max_connections;
    cfg->min_idle = o->min_idle;
    cfg->checkout_timeout_ms = o->checkout_timeout_ms;
    cfg->connect_timeout_ms = o->connect_timeout_ms;
    cfg->command_timeout_ms = o->command_timeout_ms;
    cfg->idle_timeout_ms = o->idle_timeout_ms;
    cfg->database = o->database;
    cfg->validate = o->validate;
    cfg->validate_idle_ms = o->validate_idle_ms;
    cfg->health_check_ping = o->health_check_ping;
    cfg->max_reply_elements = o->max_reply_elements;
    cfg->max_reply_bulk = o->max_reply_bulk;
    cfg->sigpipe = o->sigpipe;
    cfg->leak_threshold_ms = o->leak_threshold_ms;
    cfg->max_readers = o->max_readers;
    cfg->read_spread = o->read_spread;
    cfg->max_replica_lag_bytes = o->max_replica_lag_bytes;
    cfg->read_fallback = o->read_fallback;
    cfg->log_fn = o->log_fn;
    cfg->log_userdata = o->log_userdata;
    cfg->log_level = o->log_level;
    cfg->event_fn = o->event_fn;
    cfg->event_userdata = o->event_userdata;
    return 0;
}
