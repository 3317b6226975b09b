/* pool/slot.h: a pooled connection's slot and its state machine.
 *
 * A slot is owned by whoever moved it into RESERVED, BUSY or CUTTING; only
 * the owner touches its context. DEAD is terminal, set once during shutdown
 * by whoever wins the CAS, and each DEAD drops one pool reference.
 *
 * THE EDGES (spool_slot_edges in slot.c; debug builds abort on any other):
 *
 *   EMPTY    -> RESERVED  claimed to open a connection
 *            -> DEAD      reaped at shutdown
 *   IDLE     -> RESERVED  claimed to check, close or lend it (writers)
 *            -> BUSY      claimed and lent as it is (a reader's shortcut)
 *   RESERVED -> BUSY      handed out after its checks
 *            -> IDLE      released, kept
 *            -> EMPTY     released, closed
 *            -> DEAD      reaped at shutdown (after closing it)
 *   BUSY     -> RESERVED  taken back by pool_put() for checks or a reset
 *            -> IDLE      a clean put (one CAS), or a reader released
 *            -> EMPTY     a reader closed while held
 *            -> CUTTING   a writer change shuts the socket of an old writer's borrow
 *   CUTTING  -> BUSY      the shutdown(2) is done; the holder still owns it
 *
 * Always change a state with spool_slot_move() (after curl's mstate():
 * one function, so the edges are checked in one place). */
#ifndef SPOOL_SLOT_H
#define SPOOL_SLOT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "pool/hygiene.h"
#include "proto/reply_guard.h"

#define SPOOL_CACHELINE 64

enum {
    SLOT_EMPTY = 0,    /* no connection */
    SLOT_IDLE = 1,     /* connection in the pool, free to claim */
    SLOT_BUSY = 2,     /* lent to a caller */
    SLOT_RESERVED = 3, /* being connected, validated or closed by the pool */
    SLOT_DEAD = 4,     /* pool destroyed */
    SLOT_CUTTING = 5,  /* lent, and the pool is shutting its socket down (old writer) */
    SLOT_STATES
};

/* Per-connection marks set by the reply wrappers (any thread reading the
 * connection) and read on put. */
enum {
    SLOT_F_READONLY = SPOOL_REPLY_READONLY, /* saw -READONLY or -MASTERDOWN */
    SLOT_F_LIMIT = SPOOL_REPLY_LIMIT,       /* a reply exceeded the size limits */
    SLOT_F_LEAKED = 4,                      /* leak already reported for this borrow */
};

typedef struct spool_slot {
    /* Touched by every checkout and put: the first cache line. */
    _Atomic int state;
    _Atomic int flags;
    uint32_t index;
    uint32_t checkout_tick;            /* pool->hk_tick at checkout (owner only) */
    struct pool *pool;
    redisContext *ctx;
    uint64_t generation;               /* writer generation the connection was opened under */
    _Atomic int64_t last_used_ns;      /* coarse clock at checkout, or at put after a
                                          housekeeping pass (see note_put()) */
    /* Counters written only by the slot's current owner (no RMW needed). */
    _Atomic uint64_t checkouts;
    spool_hr_push_fn push_cb;          /* 1.x: the push callback the pool set; each
                                          checkout puts it back */
    /* Off the hot path. */
    _Atomic int64_t borrowed_ns;       /* coarse clock at checkout, for leak detection */
    _Atomic unsigned long borrower;    /* pthread_self() of the borrower, for leak reports */
    spool_reply_guard guard;           /* the reader's privdata: limits, marks into flags,
                                          the borrower's dirt */
    spool_hygiene hyg;                 /* 1.x: the write hook; the push callback to restore */
    _Atomic uint64_t addr_key;         /* readers: hash of raddr[index], a hint any thread
                                          may read (raddr itself is the holder's) */
} __attribute__((aligned(SPOOL_CACHELINE))) spool_slot;
_Static_assert(offsetof(spool_slot, borrowed_ns) <= SPOOL_CACHELINE,
               "a checkout and a put touch the slot's first cache line only");

/* How a move is made: the memory order each caller needs, unchanged. */
typedef enum spool_slot_how {
    SPOOL_MOVE_CLAIM,       /* CAS, acquire, after a relaxed look (a scan of busy slots
                               stays read-only) */
    SPOOL_MOVE_CAS,         /* CAS, seq_cst */
    SPOOL_MOVE_CAS_LOOP_ACQ, /* weak CAS, acquire: the caller retries */
    SPOOL_MOVE_CAS_LOOP,    /* weak CAS, seq_cst: the caller retries */
    SPOOL_MOVE_STORE,       /* the owner's store, seq_cst (pairs with waiters) */
    SPOOL_MOVE_STORE_RELEASE, /* the owner's store, release (publishes the slot) */
} spool_slot_how;

/* For stores: the caller owns the slot in whichever state it holds. */
#define SPOOL_SLOT_OWNED (-1)

#ifdef SPOOL_CHECK_SLOT_EDGES
/* Abort unless from -> to is an edge (from SPOOL_SLOT_OWNED: the state the
 * owner holds now). */
void spool_slot_check_edge(const spool_slot *s, int from, int to);
#endif

/* The one way to change a slot's state. A CAS moves from -> to and returns 1,
 * or returns 0 and leaves the state where it was (*seen, when not NULL, says
 * where; a SPOOL_MOVE_CLAIM that looked and saw another state reports from).
 * A store is the owner's: it moves the slot to `to` and returns 1. */
static inline __attribute__((always_inline)) int spool_slot_move(spool_slot *s, int from, int to,
                                                                 spool_slot_how how, int *seen)
{
#ifdef SPOOL_CHECK_SLOT_EDGES
    spool_slot_check_edge(s, from, to);
#endif
    int expected = from, ok = 1;
    switch (how) {
    case SPOOL_MOVE_CLAIM:
        ok = atomic_load_explicit(&s->state, memory_order_relaxed) == from &&
             atomic_compare_exchange_strong_explicit(&s->state, &expected, to,
                                                     memory_order_acquire, memory_order_relaxed);
        break;
    case SPOOL_MOVE_CAS: ok = atomic_compare_exchange_strong(&s->state, &expected, to); break;
    case SPOOL_MOVE_CAS_LOOP_ACQ:
        ok = atomic_compare_exchange_weak_explicit(&s->state, &expected, to, memory_order_acquire,
                                                   memory_order_relaxed);
        break;
    case SPOOL_MOVE_CAS_LOOP: ok = atomic_compare_exchange_weak(&s->state, &expected, to); break;
    case SPOOL_MOVE_STORE: atomic_store(&s->state, to); break;
    case SPOOL_MOVE_STORE_RELEASE:
        atomic_store_explicit(&s->state, to, memory_order_release);
        break;
    }
    if (!ok && seen != NULL)
        *seen = expected;
    return ok;
}

/* Claim a slot found in from (IDLE or EMPTY) for to: 1 when it is ours. */
static inline int spool_try_claim(spool_slot *s, int from, int to)
{
    return spool_slot_move(s, from, to, SPOOL_MOVE_CLAIM, NULL);
}

#endif
