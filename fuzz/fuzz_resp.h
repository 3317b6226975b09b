/* Shared by the fuzz targets that take RESP: feed the bytes through hiredis'
 * own reader so the decoders see exactly the reply objects the library sees.
 *
 * hiredis 0.14 has no cap on array sizes ("*2147483647" asks for 16 GiB, and
 * Debian's build aborts on a failed allocation), so the reader's createArray
 * is wrapped with the kind of limit the pool installs on real connections.
 * Everything lives on the stack: no state is kept between inputs. */
#ifndef SPOOL_FUZZ_RESP_H
#define SPOOL_FUZZ_RESP_H

#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>

#define FUZZ_MAX_ELEMENTS 4096 /* above SP_INSTANCES_MAX, so the cap is reached */
#define FUZZ_MAX_REPLIES 64

static void *fuzz_create_array(const redisReadTask *t, int elements)
{
    const redisReplyObjectFunctions *orig = t->privdata;
    if (elements > FUZZ_MAX_ELEMENTS)
        return NULL; /* the reader reports an out-of-memory error */
    return orig->createArray(t, elements);
}

/* Call fn on every complete reply in data[0..size). */
static void fuzz_each_reply(const uint8_t *data, size_t size, void (*fn)(const redisReply *))
{
    redisReader *rd = redisReaderCreate();
    if (rd == NULL)
        return;
    redisReplyObjectFunctions fns = *rd->fn;
    fns.createArray = fuzz_create_array;
    rd->privdata = rd->fn;
    rd->fn = &fns;
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

#endif
