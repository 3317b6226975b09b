/* The one check of pool_options_t's reserve, for both readers of options,
 * pool_create() and pool_sentinel_set_create() (header, "ABI"): a nonzero
 * reserve byte is an option this library version does not know, set by a
 * caller built against a newer header, or options that never went through
 * pool_options_init(). Ignoring it would silently mean something else. */
#ifndef SPOOL_OPTIONS_ABI_H
#define SPOOL_OPTIONS_ABI_H

#include <stddef.h>

#include "sentinel_pool.h"

/* What the log says; its argument is the index spool_options_reserve_used()
 * returned. */
#define SPOOL_OPTIONS_RESERVE_MSG                                                                  \
    "reserved[%ld] is not 0: an option this library version does not know (built against a "   \
    "newer sentinel_pool.h?), or options not set up by pool_options_init()"

/* Index of the first nonzero byte of o->reserved; -1 when all are 0. */
static inline long spool_options_reserve_used(const pool_options_t *o)
{
    for (size_t i = 0; i < sizeof(o->reserved); i++)
        if (o->reserved[i] != 0)
            return (long)i;
    return -1;
}

#endif
