/* pool/writer.c: the writer and its changes: the address in force, fences,
 * the sweep of stale connections at a change, and the pool as a sink
 * (source/source.h) through which a source names the writer. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "pool/pool_internal.h"

/* Under mu: the writer changed or the pool shuts down; every sleeper looks. */
void spool_wake_all_locked(pool_t *p)
{
    pthread_cond_broadcast(&p->changed);
    pthread_cond_broadcast(&p->slow);
}

/* Shut down the socket of a connection lent under an older generation: its
 * holder, maybe blocked on a frozen or demoted master, gets an error now
 * rather than an acknowledgement that the failover throws away, or a wait
 * for command_timeout_ms. The fd stays open: the holder still owns and frees
 * the context. CUTTING keeps pool_put() from freeing it meanwhile. */
static void cut_borrowed(spool_slot *s, uint64_t gen)
{
    /* Claim first, then read: generation and ctx belong to whoever holds the
     * slot, and are only ours to read once the CAS (acquire, pairing with
     * hand_out()'s release) has made us the holder of this borrow. */
    if (!spool_slot_move(s, SLOT_BUSY, SLOT_CUTTING, SPOOL_MOVE_CAS, NULL))
        return;
    if (s->generation < gen)
        shutdown(s->ctx->fd, SHUT_RDWR);
    spool_slot_move(s, SLOT_CUTTING, SLOT_BUSY, SPOOL_MOVE_STORE, NULL);
}

/* Close idle connections opened under a generation older than gen; cut
 * borrowed ones (they are closed when put back). Older, not other: a sweep
 * preempted after its change must leave a later writer's connections be. */
static void sweep_stale(pool_t *p, uint64_t gen)
{
    for (int i = 0; i < p->nslots; i++) {
        spool_slot *s = &p->slots[i];
        if (atomic_load_explicit(&s->state, memory_order_relaxed) == SLOT_BUSY) {
            cut_borrowed(s, gen);
            continue;
        }
        if (!spool_try_claim(s, SLOT_IDLE, SLOT_RESERVED))
            continue;
        if (s->generation < gen) {
            spool_close_conn(p, s, &p->stats.evicted_stale);
            spool_slot_release(p, s, SLOT_EMPTY);
        } else {
            spool_slot_release(p, s, SLOT_IDLE);
        }
    }
}

uint64_t spool_writer_set(pool_t *p, const char *host, int port, const char *why)
{
    char old_host[SPOOL_HOST_MAX];
    pthread_mutex_lock(&p->mu);
    if (p->writer_known && p->writer_port == port && strcmp(p->writer_host, host) == 0) {
        uint64_t gen = atomic_load(&p->generation);
        pthread_mutex_unlock(&p->mu);
        return gen;
    }
    int had_old = p->writer_host[0] != '\0';
    int old_port = p->writer_port;
    snprintf(old_host, sizeof(old_host), "%s", p->writer_host);
    snprintf(p->writer_host, sizeof(p->writer_host), "%s", host);
    p->writer_port = port;
    p->writer_known = 1;
    uint64_t gen = atomic_fetch_add(&p->generation, 1) + 1;
    spool_wake_all_locked(p);
    pthread_mutex_unlock(&p->mu);

    sweep_stale(p, gen);
    spool_emit_gen(p, gen, POOL_EVENT_SWITCH_MASTER, had_old ? old_host : NULL, old_port, host, port,
             "writer is now %s:%d (%s)", host, port, why);
    return gen;
}

/* Fence the writer only if the evidence is about the generation in force. */
static void writer_fence_gen(pool_t *p, uint64_t gen, const char *why)
{
    char host[SPOOL_HOST_MAX];
    pthread_mutex_lock(&p->mu);
    if (!p->writer_known || atomic_load(&p->generation) != gen) {
        pthread_mutex_unlock(&p->mu);
        return;
    }
    p->writer_known = 0;
    int port = p->writer_port;
    snprintf(host, sizeof(host), "%s", p->writer_host);
    uint64_t now = atomic_fetch_add(&p->generation, 1) + 1;
    spool_wake_all_locked(p);
    pthread_mutex_unlock(&p->mu);

    sweep_stale(p, now);
    spool_emit_gen(p, now, POOL_EVENT_MASTER_LOST, host, port, NULL, 0, "writer %s:%d fenced: %s", host,
             port, why);
}

void spool_writer_fence(pool_t *p, const char *why)
{
    writer_fence_gen(p, atomic_load(&p->generation), why);
}

/* A worker saw the writer misbehave. With a watcher, fence (when the
 * evidence is conclusive) and ask it to re-resolve now; a static address has
 * nobody to ask, so the caller just gets the error. */
void spool_writer_doubt(pool_t *p, uint64_t gen, int conclusive, const char *why)
{
    if (p->source == NULL || p->source->ops->doubt == NULL)
        return;
    if (conclusive)
        writer_fence_gen(p, gen, why);
    p->source->ops->doubt(p->source);
}

/* The writer in force, copied under the mutex. 1 when one is known. */
int spool_writer_snapshot(pool_t *p, char host[SPOOL_HOST_MAX], int *port, uint64_t *gen)
{
    pthread_mutex_lock(&p->mu);
    int known = p->writer_known;
    *port = p->writer_port;
    *gen = atomic_load(&p->generation);
    memcpy(host, p->writer_host, SPOOL_HOST_MAX);
    pthread_mutex_unlock(&p->mu);
    return known;
}

int pool_current_master(pool_t *p, char *host, size_t hostlen, int *port, uint64_t *generation)
{
    if (p == NULL)
        return POOL_EINVAL;
    pthread_mutex_lock(&p->mu);
    int known = p->writer_known;
    if (host != NULL && hostlen > 0)
        snprintf(host, hostlen, "%s", known ? p->writer_host : "");
    if (port != NULL)
        *port = known ? p->writer_port : 0;
    if (generation != NULL)
        *generation = atomic_load(&p->generation);
    pthread_mutex_unlock(&p->mu);
    return known ? 0 : POOL_ENOMASTER;
}

static uint64_t sink_writer_set(void *ctx, const char *host, int port, const char *why)
{
    return spool_writer_set(ctx, host, port, why);
}

static void sink_writer_fence(void *ctx, const char *why) { spool_writer_fence(ctx, why); }

static int sink_writer_get(void *ctx, spool_addr *out)
{
    return pool_current_master(ctx, out->host, sizeof(out->host), &out->port, NULL);
}

static void sink_readers_set(void *ctx, const spool_replica_info *list, size_t n)
{
    spool_readers_set(ctx, list, n);
}

static void sink_vemit(void *ctx, pool_event_type_t type, const char *old_host, int old_port,
                       const char *new_host, int new_port, const char *fmt, va_list ap)
{
    pool_t *p = ctx;
    spool_vemit(p, atomic_load(&p->generation), type, old_host, old_port, new_host, new_port, fmt, ap);
}

static void sink_vlog(void *ctx, pool_log_level_t level, const char *fmt, va_list ap)
{
    spool_vlog(ctx, level, fmt, ap);
}

static const spool_tls *sink_node_tls(void *ctx) { return spool_pool_tls(ctx, 0); }

const spool_sink_ops spool_pool_sink_ops = {
    .writer_set = sink_writer_set,
    .writer_fence = sink_writer_fence,
    .writer_get = sink_writer_get,
    .readers_set = sink_readers_set,
    .vemit = sink_vemit,
    .vlog = sink_vlog,
    .node_tls = sink_node_tls,
};
