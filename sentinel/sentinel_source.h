/* sentinel/sentinel_source.h: the Sentinel source (source/source.h), on the
 * pool's own sentinel set or the shared one in opts->sentinel_set. Opens as
 * every source does (see spool_static_source_open). */
#ifndef SPOOL_SENTINEL_SOURCE_H
#define SPOOL_SENTINEL_SOURCE_H

#include "source/source.h"

int spool_sentinel_source_open(const pool_options_t *opts, spool_sink sink, spool_source **out);

#endif
