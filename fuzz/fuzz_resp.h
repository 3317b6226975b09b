/* Shared by the fuzz targets that take RESP: feed the bytes through hiredis'
 * own reader under the reply guard the library reads Sentinel replies,
 * pub/sub messages and ROLE answers through (spool_reply_guard_attach_library(),
 * what spool_connect() puts on every context it opens), so the decoders see
 * exactly the reply objects they see in production, with the same caps,
 * RESP3 types included on hiredis 1.x.
 *
 * hiredis 0.14 has no cap on array sizes ("*2147483647" asks for 16 GiB, and
 * Debian's build aborts on a failed allocation); the guard's cap stops it.
 * Nothing is kept between inputs but the library's own shared guard. */
#ifndef SPOOL_FUZZ_RESP_H
#define SPOOL_FUZZ_RESP_H

#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>

#include "proto/reply_guard.h"

#define FUZZ_MAX_REPLIES 64

/* Call fn on every complete reply in data[0..size) read by rd (already
 * guarded), then free rd. */
static inline void fuzz_replies_of(redisReader *rd, const uint8_t *data, size_t size,
                                   void (*fn)(const redisReply *))
{
    if (redisReaderFeed(rd, (const char *)data, size) == REDIS_OK) {
        for (int i = 0; i < FUZZ_MAX_REPLIES; i++) {
            void *r = NULL;
            if (redisReaderGetReply(rd, &r) != REDIS_OK || r == NULL)
                break;
            fn(r);
            freeReplyObject(r);
        }
    }
    redisReaderFree(rd);
}

/* The same through a reader as spool_connect() guards it. */
static inline void fuzz_each_reply(const uint8_t *data, size_t size, void (*fn)(const redisReply *))
{
    redisReader *rd = redisReaderCreate();
    if (rd == NULL)
        return;
    if (spool_reply_guard_attach_library(rd) != 0)
        __builtin_trap(); /* a fresh reader has hiredis' defaults */
    fuzz_replies_of(rd, data, size, fn);
}

#endif
