/* verify.c: read every writer's counter and list back from the final master
 * and count lost, duplicated and unknown sequence numbers per bucket. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define LRANGE_CHUNK 100000

/* ---- Reading the data back ---------------------------------------------- */

static long long reply_ll(const redisReply *rep, int *ok)
{
    *ok = 1;
    if (rep == NULL) {
        *ok = 0;
        return 0;
    }
    if (rep->type == REDIS_REPLY_INTEGER)
        return rep->integer;
    if (rep->type == REDIS_REPLY_NIL)
        return 0;
    if (rep->type == REDIS_REPLY_STRING) {
        char *end = NULL;
        long long v = strtoll(rep->str, &end, 10);
        if (end != rep->str && *end == '\0')
            return v;
    }
    *ok = 0;
    return 0;
}

/* The bucket an acknowledged sequence number belongs to: the last bucket
 * whose first_seq is <= seq. */
static int bucket_of(const h_run *r, const h_writer *w, uint64_t seq)
{
    int lo = 0, hi = r->n_buckets - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (w->b[mid].first_seq <= seq)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

static int verify_writer(h_run *r, redisContext *c, h_writer *w)
{
    uint64_t acked = atomic_load(&w->acked);
    int ok = 1;
    char cnt_key[H_KEY_MAX], log_key[H_KEY_MAX];
    h_writer_keys(r, w->id, cnt_key, log_key);
    redisReply *rep = redisCommand(c, "GET %s", cnt_key);
    w->counter = reply_ll(rep, &ok);
    if (rep)
        freeReplyObject(rep);
    if (!ok)
        return -1;
    rep = redisCommand(c, "LLEN %s", log_key);
    w->llen = reply_ll(rep, &ok);
    if (rep)
        freeReplyObject(rep);
    if (!ok)
        return -1;

    /* counts[s]: how often s is in the list, s in 1..acked+1 (acked+1 is the
     * attempt in flight when the writer stopped). */
    unsigned char *counts = calloc(acked + 2, 1);
    if (counts == NULL)
        return -1;
    for (long long off = 0; off < w->llen; off += LRANGE_CHUNK) {
        rep = redisCommand(c, "LRANGE %s %lld %lld", log_key, off, off + LRANGE_CHUNK - 1);
        if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
            if (rep)
                freeReplyObject(rep);
            free(counts);
            return -1;
        }
        for (size_t i = 0; i < rep->elements; i++) {
            long long v = reply_ll(rep->element[i], &ok);
            if (!ok || v < 1 || (uint64_t)v > acked + 1) {
                w->phantom++;
                continue;
            }
            if (counts[v] < 255)
                counts[v]++;
        }
        freeReplyObject(rep);
    }
    for (uint64_t s = 1; s <= acked + 1; s++) {
        if (s <= acked && counts[s] == 0) {
            w->lost++;
            w->lost_by_bucket[bucket_of(r, w, s)]++;
        }
        if (counts[s] > 1) {
            w->dup += counts[s] - 1u;
            w->dup_by_bucket[bucket_of(r, w, s)] += counts[s] - 1u;
        }
    }
    if (counts[acked + 1] > 0) {
        if (w->pending_ambiguous)
            w->unacked_applied = 1;
        else
            w->phantom++; /* applied though no attempt of it could have run */
    }
    free(counts);
    return 0;
}

int h_verify_data(h_run *r)
{
    h_phase(r, "verifying the data on the final master");
    h_wait_synced(r, 30000);
    int mi = h_master_index(r);
    if (mi < 0) {
        snprintf(r->verify_note, sizeof(r->verify_note), "no agreed master at the end");
        return -1;
    }
    r->master_idx = mi;
    r->final_master = mi;
    redisContext *c = h_connect_node(r, mi, 5000, 0);
    if (c == NULL) {
        snprintf(r->verify_note, sizeof(r->verify_note), "cannot connect to the final master");
        return -1;
    }
    struct timeval tv = {.tv_sec = 30, .tv_usec = 0};
    redisSetTimeout(c, tv);
    int rc = 0;
    for (int i = 0; i < r->o.writers && rc == 0; i++)
        if (verify_writer(r, c, &r->w[i]) != 0) {
            snprintf(r->verify_note, sizeof(r->verify_note),
                     "reading writer %d's keys failed: %s", i, c->err ? c->errstr : "bad reply");
            rc = -1;
        }
    redisFree(c);
    return rc;
}
