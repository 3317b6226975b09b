/* cmocka assertions on pool results, shared by the test programs. Include
 * after <cmocka.h>. (The fixture itself does not use cmocka: the harness
 * and the bench link it without.) */
#ifndef SENTINEL_POOL_TEST_FX_ASSERT_H
#define SENTINEL_POOL_TEST_FX_ASSERT_H

#include "sentinel_pool.h"

/* Fail with both codes' names and the message when a call's result differs. */
#define assert_rc(expected, actual)                                                                \
    do {                                                                                           \
        int rc_ = (actual);                                                                        \
        if (rc_ != (expected))                                                                     \
            fail_msg("expected %s, got %s (%s)", pool_err_name(expected), pool_err_name(rc_),      \
                     pool_strerror(rc_));                                                          \
    } while (0)

/* pool_stats(), which must succeed. */
static inline pool_stats_t stats(pool_t *p)
{
    pool_stats_t st;
    assert_rc(0, pool_stats(p, &st));
    return st;
}

#endif
