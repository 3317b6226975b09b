/* Borrower hygiene: what a borrower left on a connection (an open MULTI, a
 * SELECT, a subscription, a reply never read...) must not reach the next
 * borrower. This file notices it; conn.c resets it (RESET, then the pool's
 * own login again) and pool.c decides on put: clean, reset or close.
 *
 * Seen on both hiredis versions through the reply guard (reply_guard.h):
 * +QUEUED, subscribe confirmations, HELLO's reply. On hiredis 1.x also every
 * command the borrower writes, through a hook on the context's write
 * function (whatever table is installed, TLS included, is chained), and the
 * count of commands against replies, which tells a reply still to come (a
 * blocking command left waiting, a pipeline not read to its end). hiredis
 * 0.14 shows no commands: the borrower says so with pool_mark_dirty().
 *
 * Cost on a clean borrow: on 1.x one look at each command's name as it is
 * written (no allocation, no system call); a clean put reads two fields.
 * The push callback (1.x) is not watched: every checkout sets it back to
 * the pool's (spool_mark_borrowed()), a store and no load of a cold line. */
#ifndef SPOOL_HYGIENE_H
#define SPOOL_HYGIENE_H

#include <stddef.h>
#include <hiredis/hiredis.h>

#include "proto/hiredis_compat.h"
#include "proto/reply_guard.h"

typedef struct spool_hygiene {
    spool_hr_write_hook hook;  /* first: the hook finds this struct from c->funcs */
    spool_reply_guard *guard;  /* where dirt and the count of sent commands go */
    size_t scanned;            /* bytes at the front of c->obuf already looked at */
    int nosignal;              /* plaintext: write with send(MSG_NOSIGNAL) */
} spool_hygiene;

/* Start watching c, a new connection whose reader carries guard g. With
 * nosignal, plaintext writes go out with send(MSG_NOSIGNAL) instead of
 * hiredis' write(2) (1.x only; TLS writes never raise SIGPIPE). h must
 * outlive c. */
void spool_hygiene_attach(spool_hygiene *h, spool_reply_guard *g, redisContext *c, int nosignal);

/* The connection is as the pool left it (after its handshake or a reset). */
void spool_hygiene_settle(spool_hygiene *h);

/* What a put must do. */
enum {
    SPOOL_HYG_CLEAN = 0,
    SPOOL_HYG_RESET = 1, /* state to reset: RESET + login, one round trip */
    SPOOL_HYG_UNREAD = 2, /* close: a reply is still to come (maybe a blocked command) */
    SPOOL_HYG_CLOSE = 3,  /* close: nothing resets it (QUIT, SYNC, POOL_DIRTY_CLOSE) */
};

/* The cheap test for a put: 0 when there is nothing to do (g: the
 * connection's guard, h->guard). */
static inline int spool_hygiene_dirty(const spool_reply_guard *g)
{
    return (g->dirt | (unsigned)(g->outstanding > 0)) != 0;
}

int spool_hygiene_verdict(const spool_hygiene *h);

/* "MULTI, SELECT" for the log: the kinds of dirt in dirt. */
void spool_hygiene_describe(unsigned dirt, char *buf, size_t len);

/* Look at the RESP commands in buf[0..len) (a borrower's write, as hiredis
 * formats it): or into *dirt what they change, add to *commands how many
 * there are. Text that is not RESP commands marks SPOOL_DIRT_UNPARSED and
 * ends the look. For the fuzzer and the write hook. */
void spool_hygiene_scan(const char *buf, size_t len, unsigned *dirt, long *commands);

#endif
