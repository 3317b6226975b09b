/* writer.c: the writer threads.
 *
 * Each writer w owns two keys on the master: the counter <prefix>cnt:<w> and
 * the list <prefix>log:<w> (prefix "fh:", or --key-prefix on a deployment).
 * One write is the pipelined transaction
 *     MULTI; INCR <prefix>cnt:<w>; RPUSH <prefix>log:<w> <seq>; EXEC
 * sent in one round trip: both effects or neither, so on any node the
 * counter equals the list length, and the list says which sequence numbers
 * were applied.
 *
 * The writer retries the same sequence number until one attempt is
 * acknowledged (at-least-once, as an application that retries would). So
 * acknowledged sequence numbers are exactly 1..acked, a missing one on the
 * final master is a lost acknowledged write, and a number present twice is
 * an ambiguous attempt (connection lost or timed out after sending) that had
 * in fact been applied before the successful retry.
 *
 * Every outcome is put back with pool_put() and counted; a writer never
 * stops on an error, only when the run ends.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

static int starts_with(const char *s, const char *prefix)
{
    return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

static h_errkind classify_pool_rc(int rc)
{
    switch (rc) {
    case POOL_ETIMEDOUT: return H_ERR_TIMEOUT;
    case POOL_ENOMASTER:
    case POOL_ENOTMASTER: return H_ERR_NOMASTER;
    case POOL_ECONNECT:
    case POOL_EIO: return H_ERR_CONN;
    default: return H_ERR_OTHER;
    }
}

/* hiredis reports a socket timeout (SO_RCVTIMEO/SO_SNDTIMEO, set by the pool
 * from command_timeout_ms) as REDIS_ERR_IO with strerror(EAGAIN). */
static h_errkind classify_io(const redisContext *c)
{
    if (c->err == REDIS_ERR_IO &&
        (strstr(c->errstr, strerror(EAGAIN)) != NULL || strstr(c->errstr, "timed out") != NULL))
        return H_ERR_TIMEOUT;
    return H_ERR_CONN;
}

static h_errkind classify_error_reply(const char *s)
{
    return starts_with(s, "READONLY") ? H_ERR_READONLY : H_ERR_OTHER;
}

typedef enum { W_OK, W_ERR, W_AMBIGUOUS } w_outcome;

/* One transaction on c. On W_OK *incr is the counter's new value. */
static w_outcome write_once(redisContext *c, const char *cnt_key, const char *log_key,
                            uint64_t seq, h_errkind *kind, long long *incr)
{
    redisReply *rep[4] = {NULL, NULL, NULL, NULL};
    w_outcome out = W_ERR;
    *kind = H_ERR_OTHER;
    if (redisAppendCommand(c, "MULTI") != REDIS_OK ||
        redisAppendCommand(c, "INCR %s", cnt_key) != REDIS_OK ||
        redisAppendCommand(c, "RPUSH %s %llu", log_key, (unsigned long long)seq) != REDIS_OK ||
        redisAppendCommand(c, "EXEC") != REDIS_OK)
        return W_ERR; /* out of memory: nothing was sent */
    for (int i = 0; i < 4; i++) {
        void *p = NULL;
        if (redisGetReply(c, &p) != REDIS_OK) {
            /* Part or all of the transaction may have reached the server and
             * run: we cannot tell. */
            *kind = classify_io(c);
            out = W_AMBIGUOUS;
            goto done;
        }
        rep[i] = p;
    }
    const redisReply *exec = rep[3];
    if (exec->type == REDIS_REPLY_ARRAY && exec->elements == 2 &&
        exec->element[0]->type == REDIS_REPLY_INTEGER &&
        exec->element[1]->type == REDIS_REPLY_INTEGER) {
        *incr = exec->element[0]->integer;
        out = W_OK;
        goto done;
    }
    /* The server refused: the first error explains it (EXEC then says
     * EXECABORT, and nothing ran). */
    for (int i = 0; i < 4; i++)
        if (rep[i]->type == REDIS_REPLY_ERROR) {
            *kind = classify_error_reply(rep[i]->str);
            break;
        }
done:
    for (int i = 0; i < 4; i++)
        if (rep[i] != NULL)
            freeReplyObject(rep[i]);
    return out;
}

/* Follow the run's bucket: the first sequence number current in a bucket
 * marks where that bucket's acknowledged writes start. */
static void note_bucket(h_writer *w)
{
    int nb = atomic_load(&w->run->cur_bucket);
    while (w->bucket < nb) {
        w->bucket++;
        w->b[w->bucket].first_seq = w->seq;
    }
}

/* A READONLY reply is a violation unless it came on a connection whose
 * checkout began before the pool switched away from the old master, during
 * an event that changes the master. */
static int readonly_is_violation(h_run *r, int b, int64_t t_checkout)
{
    h_event *e = &r->ev[b];
    if (!e->expect_switch)
        return 1;
    int64_t trig = atomic_load(&e->t_trigger);
    if (trig == 0)
        return 1;
    int64_t sw = atomic_load(&e->t_switch);
    return sw != 0 && t_checkout >= sw;
}

/* A success at t: update every triggered event window it closes a gap in.
 * The outage of a writer for an event is the longest gap between two of its
 * consecutive successes that overlaps [trigger, switch + 1 s] (the whole
 * event when no switch is expected or none came): from "last success before"
 * to "first success after" when the event stops writes outright. The window
 * ends soon after the switch so that an unrelated stall while the event
 * settles (the old master's demotion takes ~10 s) is not charged to the
 * failover; max_gap keeps the longest gap of the whole event for those. */
static void on_success(h_writer *w, int64_t t, int node)
{
    h_run *r = w->run;
    int nb = atomic_load(&r->cur_bucket);
    int64_t tp = w->prev_ok;
    for (int b = w->scan_from; b <= nb && b < r->n_buckets; b++) {
        h_event *e = &r->ev[b];
        int64_t trig = atomic_load(&e->t_trigger);
        if (trig == 0) {
            if (b < nb && b == w->scan_from)
                w->scan_from = b + 1; /* a finished bucket without trigger (warm-up) */
            continue;
        }
        if (t < trig)
            continue;
        int64_t end = atomic_load(&e->t_end);
        if (end != 0 && tp > end) {
            if (b == w->scan_from)
                w->scan_from = b + 1;
            continue;
        }
        h_wbucket *hb = &w->b[b];
        if (hb->first_ok_after == 0) {
            hb->first_ok_after = tp >= trig ? tp : t;
            hb->last_ok_before = tp < trig ? tp : 0;
        }
        int64_t from = tp != 0 ? tp : trig;
        if (t - from > hb->max_gap) {
            hb->max_gap = t - from;
            hb->max_gap_from = from;
        }
        int64_t sw = e->expect_switch ? atomic_load(&e->t_switch) : 0;
        if ((sw == 0 || from <= sw + 1000000000) && t - from > hb->out_gap) {
            hb->out_gap = t - from;
            hb->out_gap_from = from;
        }
        if (e->expect_switch && node != atomic_load(&e->old_node)) {
            if (hb->first_new == 0)
                hb->first_new = t;
        } else if (e->expect_switch && node == atomic_load(&e->old_node)) {
            /* The library's promise: after its switch, at most the write in
             * flight on a connection borrowed before it lands on the old master. */
            int64_t sw = atomic_load(&e->t_switch);
            if (sw != 0 && t > sw)
                hb->old_after_switch++;
        }
    }
    w->prev_ok = t;
    atomic_store(&w->last_ok, t);
}

/* The first connection handed out on another node than the old master after
 * the trigger: when the failover reached the application. */
static void note_handout(h_run *r, int b, int node)
{
    h_event *e = &r->ev[b];
    if (!e->expect_switch || atomic_load(&e->t_first_handout) != 0 ||
        node == atomic_load(&e->old_node))
        return;
    int64_t trig = atomic_load(&e->t_trigger), now = h_now_ns(), zero = 0;
    if (trig != 0 && now >= trig)
        atomic_compare_exchange_strong(&e->t_first_handout, &zero, now);
}

static void count_error(h_writer *w, int b, h_errkind k)
{
    w->b[b].err[k]++;
    atomic_fetch_add(&w->errors, 1);
    h_tl_err(w, h_now_ns(), k);
}

static void pace(int64_t period, int64_t *due)
{
    if (period <= 0)
        return;
    int64_t now = h_now_ns();
    if (*due > now) {
        struct timespec ts = {.tv_sec = *due / 1000000000, .tv_nsec = *due % 1000000000};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
        }
    } else if (now - *due > 100000000) {
        *due = now; /* after an outage, resume the rate instead of bursting */
    }
    *due += period;
}

static void *writer_main(void *arg)
{
    h_writer *w = arg;
    h_run *r = w->run;
    char cnt_key[H_KEY_MAX], log_key[H_KEY_MAX];
    h_writer_keys(r, w->id, cnt_key, log_key);
    int64_t period = r->o.rate > 0 ? 1000000000 / r->o.rate : 0;
    int64_t due = h_now_ns();

    while (!atomic_load(&r->stop)) {
        pace(period, &due);
        note_bucket(w);
        int b = w->bucket;
        int64_t t_checkout = h_now_ns();
        redisContext *c = NULL;
        int rc = pool_get_writer(r->pool, &c);
        if (rc != 0) {
            if (rc == POOL_ESHUTDOWN)
                break;
            count_error(w, b, classify_pool_rc(rc));
            /* ETIMEDOUT/ENOMASTER already waited checkout_timeout_ms; a fast
             * refusal should not become a busy loop. */
            if (rc != POOL_ETIMEDOUT && rc != POOL_ENOMASTER)
                h_sleep_ms(1);
            continue;
        }
        int node = h_node_of(r, c->tcp.host, c->tcp.port);
        note_handout(r, b, node);
        h_errkind kind;
        long long incr = 0;
        w_outcome out = write_once(c, cnt_key, log_key, w->seq, &kind, &incr);
        pool_put(r->pool, c); /* always, whatever happened */

        if (out == W_OK) {
            h_wbucket *hb = &w->b[b];
            hb->ok++;
            if (incr <= w->last_incr)
                hb->rewinds++;
            w->last_incr = incr;
            int64_t t_ok = h_now_ns();
            on_success(w, t_ok, node);
            h_tl_ok(w, t_ok, node);
            w->seq++;
            w->pending_ambiguous = 0;
            atomic_store(&w->acked, w->seq - 1);
            continue;
        }
        count_error(w, b, kind);
        if (out == W_AMBIGUOUS) {
            w->b[b].ambiguous++;
            w->pending_ambiguous = 1;
        }
        if (kind == H_ERR_READONLY && readonly_is_violation(r, b, t_checkout))
            w->b[b].readonly_after++;
    }
    atomic_store(&w->done, 1);
    return NULL;
}

void h_writer_keys(const h_run *r, int id, char cnt[H_KEY_MAX], char log[H_KEY_MAX])
{
    snprintf(cnt, H_KEY_MAX, "%scnt:%d", r->key_prefix, id);
    snprintf(log, H_KEY_MAX, "%slog:%d", r->key_prefix, id);
}

int h_writers_start(h_run *r)
{
    for (int i = 0; i < r->o.writers; i++) {
        h_writer *w = &r->w[i];
        w->id = i;
        w->run = r;
        w->seq = 1;
        w->b = calloc((size_t)r->n_buckets, sizeof(*w->b));
        w->lost_by_bucket = calloc((size_t)r->n_buckets, sizeof(uint64_t));
        w->dup_by_bucket = calloc((size_t)r->n_buckets, sizeof(uint64_t));
        if (w->b == NULL || w->lost_by_bucket == NULL || w->dup_by_bucket == NULL)
            return -1;
        w->b[0].first_seq = 1;
        if (pthread_create(&w->thread, NULL, writer_main, w) != 0)
            return -1;
        w->started = 1;
    }
    return 0;
}

int h_writers_stop(h_run *r, int timeout_ms)
{
    atomic_store(&r->stop, 1);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (dl.tv_nsec >= 1000000000) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000;
    }
    int stuck = 0;
    for (int i = 0; i < r->o.writers; i++) {
        h_writer *w = &r->w[i];
        if (!w->started)
            continue;
        int rc = pthread_timedjoin_np(w->thread, NULL, &dl);
        if (rc != 0) {
            stuck++;
            fprintf(stderr, "sentinel-pool-check: writer %d did not stop within %d ms (%s)\n", i,
                    timeout_ms, strerror(rc));
            continue;
        }
        w->started = 0;
        /* Buckets the writer never reached start where it stopped. */
        for (int b = w->bucket + 1; b < r->n_buckets; b++)
            w->b[b].first_seq = w->seq;
    }
    return stuck;
}
