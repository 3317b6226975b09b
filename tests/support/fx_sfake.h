/*
 * fx_sfake.h: a fake Redis Sentinel that is wrong about promotions, for
 * tests of what a client does with a sentinel it should not believe.
 *
 * It listens on a free 127.0.0.1 port (plaintext only) and answers like a
 * sentinel monitoring one master: AUTH, CLIENT, QUIT (+OK), PING (+PONG, or
 * ["pong", ""] once subscribed), ROLE, INFO, SENTINEL get-master-addr-by-name
 * (the master a REAL sentinel names: it asks that one every period),
 * SENTINEL sentinels|replicas|slaves (empty arrays), SENTINEL master, myid,
 * ckquorum; SUBSCRIBE and PSUBSCRIBE (confirmations, then messages as
 * ["message", channel, payload] or ["pmessage", pattern, channel, payload]);
 * anything else gets -ERR. Every period_ms it announces one node as
 * promoted in the master's place, in the order a leading sentinel does:
 *
 *   +failover-state-send-slaveof-noone  slave <ip>:<port> <ip> <port> @ <name> <m-ip> <m-port>
 *   +promoted-slave                     slave <ip>:<port> <ip> <port> @ <name> <m-ip> <m-port>
 *   +switch-master                      <name> <m-ip> <m-port> <ip> <port>
 *
 * and nothing of it ever happens. The announced nodes are taken in turn
 * from opts.announce (ports on 127.0.0.1; 0 stands for the master itself);
 * with skip_master the master of the moment is left out, so announcing
 * every data node of a topology announces the replicas of whichever node is
 * master, before and after a real failover.
 *
 * One background thread serves every connection (up to 32) and the timer;
 * fx_sfake_stop() is prompt. The counters may be read from any thread.
 */
#ifndef SENTINEL_POOL_TEST_FX_SFAKE_H
#define SENTINEL_POOL_TEST_FX_SFAKE_H

#ifdef __cplusplus
extern "C" {
#endif

#define FX_SFAKE_MAX_ANNOUNCE 8

typedef struct fx_sfake fx_sfake;

typedef struct fx_sfake_opts {
    const char *master_name; /* default "mymaster" */
    int truth_port;          /* a real sentinel on 127.0.0.1 (plaintext, no
                                password) naming the master: required */
    int announce[FX_SFAKE_MAX_ANNOUNCE]; /* announced as promoted, in turn */
    int n_announce;
    int skip_master;         /* leave out the master of the moment */
    int period_ms;           /* default 100 */
} fx_sfake_opts;

/* Listen, learn the master from the real sentinel (retried for up to 2 s)
 * and start the thread, announcing. 0, or -1 with a message on stderr. */
int fx_sfake_start(fx_sfake **out, const fx_sfake_opts *o);
/* Stop the thread, close every connection, free. NULL is fine. */
void fx_sfake_stop(fx_sfake *f);

int fx_sfake_port(const fx_sfake *f);
/* Announcing on (1, as started) or off (0); answers go on either way. */
void fx_sfake_set_announcing(fx_sfake *f, int on);

typedef struct fx_sfake_counts {
    unsigned long connections;   /* accepted so far */
    unsigned long commands;      /* commands answered */
    unsigned long announcements; /* periods in which a message reached a subscriber */
    unsigned long messages;      /* messages delivered */
    int subscribers;             /* connections subscribed right now */
} fx_sfake_counts;

fx_sfake_counts fx_sfake_get_counts(fx_sfake *f);
/* Wait until some connection is subscribed: 0, or -1 after timeout_ms. */
int fx_sfake_wait_subscribed(fx_sfake *f, int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif
