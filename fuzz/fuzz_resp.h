/* Shared by the fuzz targets that take RESP: feed the bytes through hiredis'
 * own reader under the library's reply guard (proto/reply_guard.c, the code
 * every library connection reads through), so the decoders see exactly the
 * reply objects the library sees, RESP3 types included on hiredis 1.x.
 *
 * hiredis 0.14 has no cap on array sizes ("*2147483647" asks for 16 GiB, and
 * Debian's build aborts on a failed allocation); the guard's cap stops it.
 * Everything lives on the stack: no state is kept between inputs. */
#ifndef SPOOL_FUZZ_RESP_H
#define SPOOL_FUZZ_RESP_H

#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>

#include "proto/reply_guard.h"

#define FUZZ_MAX_ELEMENTS 4096 /* above SP_INSTANCES_MAX, so the cap is reached */
#define FUZZ_MAX_BULK 65536
#define FUZZ_MAX_REPLIES 64

/* Call fn on every complete reply in data[0..size); *marks gets the guard's
 * marks when marks is not NULL. */
static inline void fuzz_each_reply_marked(const uint8_t *data, size_t size,
                                   void (*fn)(const redisReply *), _Atomic int *marks)
{
    redisReader *rd = redisReaderCreate();
    if (rd == NULL)
        return;
    spool_reply_guard guard = {
        .max_elements = FUZZ_MAX_ELEMENTS, .max_bulk = FUZZ_MAX_BULK, .flags = marks};
    if (spool_reply_guard_install(rd, &guard) != NULL &&
        redisReaderFeed(rd, (const char *)data, size) == REDIS_OK) {
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

static inline void fuzz_each_reply(const uint8_t *data, size_t size, void (*fn)(const redisReply *))
{
    fuzz_each_reply_marked(data, size, fn, NULL);
}

#endif
