/* Helpers shared by the tests of misbehaving peers and callers
 * (tests/test_hostile_*.c) and of options (test_options.c): start a scripted
 * fake server (tests/support fx_fake), an event and log recorder, and a bound
 * that proves "failed at once, not by a timeout". Header-only (static
 * inline) so each test file stays one executable; include it after
 * <cmocka.h>. */
#ifndef SPOOL_TESTS_HOSTILE_UTIL_H
#define SPOOL_TESTS_HOSTILE_UTIL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fixture.h"
#include "sentinel_pool.h"

#define assert_took_less(ms, hi)                                                                   \
    do {                                                                                           \
        int64_t took_ = (ms);                                                                      \
        if (took_ >= (hi))                                                                         \
            fail_msg("took %lld ms, want < %d ms", (long long)took_, (hi));                        \
    } while (0)

static inline void start_fake(fx_fake *f, const fx_fake_step *steps, size_t n)
{
    memset(f, 0, sizeof(*f));
    assert_int_equal(fx_fake_start(f, steps, n), 0);
}

/* An event and log recorder, for the kinds of events seen. */
typedef struct recorder {
    atomic_int events[8];
    pthread_mutex_t mu;
    char last_log[512];
    /* "connect to h:p failed: <pool_strerror>" lines: one per failed open */
    int n_fail;
    char first_fail[512], last_fail[512];
} recorder;

static inline void on_event(void *ud, const pool_event_t *ev)
{
    recorder *r = ud;
    if (ev->type >= 1 && ev->type < 8)
        atomic_fetch_add(&r->events[ev->type], 1);
}

static inline void on_log(void *ud, pool_log_level_t level, const char *msg)
{
    (void)level;
    recorder *r = ud;
    pthread_mutex_lock(&r->mu);
    snprintf(r->last_log, sizeof(r->last_log), "%s", msg);
    if (strncmp(msg, "connect to ", 11) == 0 && strstr(msg, " failed: ") != NULL) {
        if (r->n_fail++ == 0)
            snprintf(r->first_fail, sizeof(r->first_fail), "%s", msg);
        snprintf(r->last_fail, sizeof(r->last_fail), "%s", msg);
    }
    pthread_mutex_unlock(&r->mu);
}

/* Does a "connect ... failed: <why>" line end with pool_strerror(err)? */
static inline int fail_says(const char *line, int err)
{
    const char *why = strstr(line, " failed: ");
    return why != NULL && strcmp(why + 9, pool_strerror(err)) == 0;
}

static inline void recorder_init(recorder *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
}

#endif
