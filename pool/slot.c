/* pool/slot.c: the slot state machine's edge table (pool/slot.h) and the
 * slot primitives the writer and reader sides share: claim, release, evict,
 * reap. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool/pool_internal.h"

#ifdef SPOOL_CHECK_SLOT_EDGES
/* The edges of pool/slot.h: bit t of spool_slot_edges[f] allows f -> t. */
#define EDGE(t) (1u << (t))
static const unsigned spool_slot_edges[SLOT_STATES] = {
    [SLOT_EMPTY] = EDGE(SLOT_RESERVED) | EDGE(SLOT_DEAD),
    [SLOT_IDLE] = EDGE(SLOT_RESERVED) | EDGE(SLOT_BUSY),
    [SLOT_RESERVED] = EDGE(SLOT_BUSY) | EDGE(SLOT_IDLE) | EDGE(SLOT_EMPTY) | EDGE(SLOT_DEAD),
    [SLOT_BUSY] = EDGE(SLOT_RESERVED) | EDGE(SLOT_IDLE) | EDGE(SLOT_EMPTY) | EDGE(SLOT_CUTTING),
    [SLOT_CUTTING] = EDGE(SLOT_BUSY),
    [SLOT_DEAD] = 0,
};

void spool_slot_check_edge(const spool_slot *s, int from, int to)
{
    /* A store's from is the state its owner holds, stable under us. */
    if (from == SPOOL_SLOT_OWNED)
        from = atomic_load_explicit(&s->state, memory_order_relaxed);
    if (from >= 0 && from < SLOT_STATES && to >= 0 && to < SLOT_STATES &&
        (spool_slot_edges[from] & EDGE(to)) != 0)
        return;
    fprintf(stderr, "sentinel_pool: slot %u: no edge %d -> %d in the slot state machine\n",
            s->index, from, to);
    abort();
}
#endif

spool_slot *spool_slots_new(pool_t *p, int n)
{
    /* Cache-line aligned: a slot's first line is all a checkout touches. */
    spool_slot *slots = aligned_alloc(SPOOL_CACHELINE, sizeof(spool_slot) * (size_t)n);
    if (slots == NULL)
        return NULL;
    memset(slots, 0, sizeof(spool_slot) * (size_t)n);
    for (int i = 0; i < n; i++) {
        slots[i].index = (uint32_t)i;
        slots[i].pool = p;
    }
    return slots;
}

void spool_count(_Atomic uint64_t *c) { atomic_fetch_add_explicit(c, 1, memory_order_relaxed); }

void spool_close_conn(pool_t *p, spool_slot *s, _Atomic uint64_t *reason)
{
    if (s->ctx != NULL) {
        redisFree(s->ctx);
        s->ctx = NULL;
        spool_count(&p->stats.closed);
        if (reason != NULL)
            spool_count(reason);
    }
}

/* After shutdown every slot ends DEAD exactly once; whoever wins the CAS
 * closes what is left and drops the slot's pool reference. */
void spool_reap_slot(pool_t *p, spool_slot *s)
{
    if (spool_slot_move(s, SLOT_IDLE, SLOT_RESERVED, SPOOL_MOVE_CAS, NULL)) {
        spool_close_conn(p, s, &p->stats.evicted_shutdown);
        spool_slot_move(s, SLOT_RESERVED, SLOT_DEAD, SPOOL_MOVE_STORE, NULL);
        spool_pool_unref(p);
        return;
    }
    if (spool_slot_move(s, SLOT_EMPTY, SLOT_DEAD, SPOOL_MOVE_CAS, NULL))
        spool_pool_unref(p);
}

/* A slot came back: wake one writer waiter for a writer slot (every sleeper
 * on changed wants the same thing, so one signal is never lost to a thread
 * that cannot use it), or the reader nappers for a reader slot. Only paid
 * when someone waits. */
void spool_slot_wake(pool_t *p, const spool_slot *s)
{
    pthread_mutex_lock(&p->mu);
    if (s >= p->slots && s < p->slots + p->nslots)
        pthread_cond_signal(&p->changed);
    else
        pthread_cond_broadcast(&p->slow);
    pthread_mutex_unlock(&p->mu);
}

void spool_slot_release(pool_t *p, spool_slot *s, int state)
{
    spool_slot_move(s, SPOOL_SLOT_OWNED, state, SPOOL_MOVE_STORE, NULL);
    spool_slot_after_release(p, s);
}

spool_slot *spool_claim_idle(pool_t *p)
{
    /* Lowest index first: surplus connections gather at the top and age out. */
    for (int i = 0; i < p->nslots; i++)
        if (spool_try_claim(&p->slots[i], SLOT_IDLE, SLOT_RESERVED))
            return &p->slots[i];
    return NULL;
}

spool_slot *spool_claim_empty(pool_t *p)
{
    for (int i = 0; i < p->nslots; i++)
        if (spool_try_claim(&p->slots[i], SLOT_EMPTY, SLOT_RESERVED))
            return &p->slots[i];
    return NULL;
}

/* Evict a connection we hold and hand its slot back empty. */
void spool_evict(pool_t *p, spool_slot *s, _Atomic uint64_t *reason)
{
    spool_close_conn(p, s, reason);
    spool_slot_release(p, s, SLOT_EMPTY);
}
