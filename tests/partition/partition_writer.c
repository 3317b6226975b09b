/*
 * partition_writer.c: one side's application in the network partition
 * scenario (scripts/netns-partition.sh, see tools/check/README.md).
 *
 * The script runs one copy inside each client network namespace (the
 * minority side, with the master's host, and the majority side). Each copy
 * creates a pool through the public API only (master_name + the sentinel
 * addresses inside the namespaces' network), runs writer threads until
 * SIGTERM, then reads its keys back from the master the pool ends on and
 * prints what happened: which node acknowledged which write and when,
 * relative to the script's marks (cut, failover, heal, settled), and which
 * acknowledged writes the final master does not have.
 *
 * Writer w of side S owns np:S:cnt:<w> and np:S:log:<w>. One write is
 * MULTI; INCR cnt; RPUSH log <seq>; EXEC in one round trip, retried with the
 * same seq until acknowledged, so the acknowledged seqs are exactly
 * 1..acked (as in the failover harness, tools/check/writer.c).
 *
 * Times are CLOCK_REALTIME microseconds, so that they compare with the
 * script's $EPOCHREALTIME marks across processes and namespaces.
 *
 * Exit: 0 the run and the read-back completed (the script judges the
 * figures), 1 the read-back failed or a writer hung, 2 usage or setup error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "sentinel_pool.h"

#define PW_MAX_WRITERS 64
#define PW_MAX_NODES 8
#define PW_MAX_EVENTS 256
#define PW_NODE_LEN 64

typedef enum {
    PW_E_NOREPLICAS = 0, /* -NOREPLICAS: min-replicas-to-write refused, nothing ran */
    PW_E_READONLY,       /* -READONLY: a replica refused, nothing ran */
    PW_E_TIMEOUT,        /* POOL_ETIMEDOUT or a socket timeout on the command */
    PW_E_CONN,           /* connect failed, EOF, reset */
    PW_E_NOMASTER,       /* POOL_ENOMASTER / POOL_ENOTMASTER */
    PW_E_OTHER,
    PW_E_KINDS
} pw_errkind;

static const char *const pw_err_names[PW_E_KINDS] = {"noreplicas", "readonly", "timeout",
                                                     "conn",       "nomaster", "other"};

typedef struct pw_ack {
    int64_t t_us;
    uint8_t node; /* index into pw_run.nodes */
} pw_ack;

struct pw_run;

typedef struct pw_writer {
    int id;
    pthread_t thread;
    int started;
    struct pw_run *run;
    pw_ack *acks; /* acks[seq - 1]: who acknowledged seq, and when */
    size_t n_acks, cap;
    uint64_t err[PW_E_KINDS];
    uint64_t ambiguous;
    int64_t first_noreplicas_us;
    _Atomic uint64_t acked;
    int oom;
    /* Read back from the final master. */
    long long counter, llen;
    uint64_t lost_old_after_cut, lost_old_before_cut, lost_other, dup, unknown;
    int pending_applied;
} pw_writer;

typedef struct pw_event {
    int64_t t_us;
    pool_event_type_t type;
    char old_addr[PW_NODE_LEN], new_addr[PW_NODE_LEN];
} pw_event;

typedef struct pw_run {
    const char *side;
    const char *sentinels;
    const char *master_name;
    const char *ready_file;
    const char *marks_file;
    int writers;
    int rate;
    int max_seconds;
    int command_timeout_ms;
    int verbose;
    pool_t *pool;
    _Atomic int stop;

    /* Data nodes seen, by "host:port"; appended under node_mu, read lock-free
     * (the string is complete before n_nodes is raised). */
    pthread_mutex_t node_mu;
    char nodes[PW_MAX_NODES][PW_NODE_LEN];
    _Atomic int n_nodes;
    int old_node; /* the master at start: the one the script isolates */

    pthread_mutex_t ev_mu;
    pw_event ev[PW_MAX_EVENTS];
    int n_ev;

    pw_writer w[PW_MAX_WRITERS];

    /* Marks written by the script (0 = absent). */
    int64_t t_cut, t_failover, t_heal, t_settled;
} pw_run;

static volatile sig_atomic_t pw_signalled;

static void on_signal(int sig)
{
    (void)sig;
    pw_signalled = 1;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Index of "host:port", added if new; PW_MAX_NODES - 1 collects overflow. */
static int node_index(pw_run *r, const char *host, int port)
{
    char key[PW_NODE_LEN];
    snprintf(key, sizeof(key), "%s:%d", host, port);
    int n = atomic_load_explicit(&r->n_nodes, memory_order_acquire);
    for (int i = 0; i < n; i++)
        if (strcmp(r->nodes[i], key) == 0)
            return i;
    pthread_mutex_lock(&r->node_mu);
    n = atomic_load_explicit(&r->n_nodes, memory_order_relaxed);
    int idx = -1;
    for (int i = 0; i < n; i++)
        if (strcmp(r->nodes[i], key) == 0)
            idx = i;
    if (idx < 0 && n < PW_MAX_NODES) {
        snprintf(r->nodes[n], PW_NODE_LEN, "%s", key);
        atomic_store_explicit(&r->n_nodes, n + 1, memory_order_release);
        idx = n;
    }
    pthread_mutex_unlock(&r->node_mu);
    return idx >= 0 ? idx : PW_MAX_NODES - 1;
}

static void event_cb(void *userdata, const pool_event_t *e)
{
    pw_run *r = userdata;
    if (e->type != POOL_EVENT_SWITCH_MASTER && e->type != POOL_EVENT_MASTER_LOST &&
        e->type != POOL_EVENT_VALIDATION_FAILED && e->type != POOL_EVENT_WRITER_SUSPECT)
        return;
    pthread_mutex_lock(&r->ev_mu);
    if (r->n_ev < PW_MAX_EVENTS) {
        pw_event *ev = &r->ev[r->n_ev++];
        ev->t_us = now_us();
        ev->type = e->type;
        snprintf(ev->old_addr, sizeof(ev->old_addr), "%s:%d", e->old_host ? e->old_host : "-",
                 e->old_port);
        snprintf(ev->new_addr, sizeof(ev->new_addr), "%s:%d", e->new_host ? e->new_host : "-",
                 e->new_port);
    }
    pthread_mutex_unlock(&r->ev_mu);
}

/* --verbose: the pool's log on stderr, stamped like the marks. */
static void log_cb(void *userdata, pool_log_level_t level, const char *msg)
{
    const pw_run *r = userdata;
    static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    int64_t t = now_us();
    fprintf(stderr, "%lld.%06lld [%s] %s %s\n", (long long)(t / 1000000),
            (long long)(t % 1000000), r->side,
            (unsigned)level < 4 ? names[level] : "?", msg);
}

static pw_errkind classify_pool_rc(int rc)
{
    switch (rc) {
    case POOL_ETIMEDOUT: return PW_E_TIMEOUT;
    case POOL_ENOMASTER:
    case POOL_ENOTMASTER: return PW_E_NOMASTER;
    case POOL_ECONNECT:
    case POOL_EIO: return PW_E_CONN;
    default: return PW_E_OTHER;
    }
}

typedef enum { PW_W_OK, PW_W_ERR, PW_W_AMBIGUOUS } w_outcome;

static w_outcome write_once(redisContext *c, const char *cnt_key, const char *log_key,
                            uint64_t seq, pw_errkind *kind)
{
    redisReply *rep[4] = {NULL, NULL, NULL, NULL};
    w_outcome out = PW_W_ERR;
    *kind = PW_E_OTHER;
    if (redisAppendCommand(c, "MULTI") != REDIS_OK ||
        redisAppendCommand(c, "INCR %s", cnt_key) != REDIS_OK ||
        redisAppendCommand(c, "RPUSH %s %llu", log_key, (unsigned long long)seq) != REDIS_OK ||
        redisAppendCommand(c, "EXEC") != REDIS_OK)
        return PW_W_ERR;
    for (int i = 0; i < 4; i++) {
        void *p = NULL;
        if (redisGetReply(c, &p) != REDIS_OK) {
            /* Sent, maybe applied: only the read-back can tell. */
            *kind = c->err == REDIS_ERR_IO && (strstr(c->errstr, strerror(EAGAIN)) != NULL ||
                                               strstr(c->errstr, "timed out") != NULL)
                        ? PW_E_TIMEOUT
                        : PW_E_CONN;
            out = PW_W_AMBIGUOUS;
            goto done;
        }
        rep[i] = p;
    }
    if (rep[3]->type == REDIS_REPLY_ARRAY && rep[3]->elements == 2 &&
        rep[3]->element[0]->type == REDIS_REPLY_INTEGER) {
        out = PW_W_OK;
        goto done;
    }
    /* Refused: the first error says why (EXEC then says EXECABORT; nothing ran). */
    for (int i = 0; i < 4; i++)
        if (rep[i]->type == REDIS_REPLY_ERROR) {
            *kind = strncmp(rep[i]->str, "NOREPLICAS", 10) == 0 ? PW_E_NOREPLICAS
                    : strncmp(rep[i]->str, "READONLY", 8) == 0  ? PW_E_READONLY
                                                                : PW_E_OTHER;
            break;
        }
done:
    for (int i = 0; i < 4; i++)
        if (rep[i] != NULL)
            freeReplyObject(rep[i]);
    return out;
}

static int record_ack(pw_writer *w, int node)
{
    if (w->n_acks == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 4096;
        pw_ack *a = realloc(w->acks, cap * sizeof(*a));
        if (a == NULL)
            return -1;
        w->acks = a;
        w->cap = cap;
    }
    w->acks[w->n_acks].t_us = now_us();
    w->acks[w->n_acks].node = (uint8_t)node;
    w->n_acks++;
    return 0;
}

static void *writer_main(void *arg)
{
    pw_writer *w = arg;
    pw_run *r = w->run;
    char cnt_key[64], log_key[64];
    snprintf(cnt_key, sizeof(cnt_key), "np:%s:cnt:%d", r->side, w->id);
    snprintf(log_key, sizeof(log_key), "np:%s:log:%d", r->side, w->id);
    int64_t period = r->rate > 0 ? 1000000000 / r->rate : 0;
    int64_t due = mono_ns();

    while (!atomic_load(&r->stop)) {
        if (period > 0) {
            int64_t now = mono_ns();
            if (due > now) {
                struct timespec ts = {.tv_sec = due / 1000000000, .tv_nsec = due % 1000000000};
                while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
                }
            } else if (now - due > 100000000) {
                due = now; /* after an outage, resume the rate instead of bursting */
            }
            due += period;
        }
        redisContext *c = NULL;
        int rc = pool_get_writer(r->pool, &c);
        if (rc != 0) {
            if (rc == POOL_ESHUTDOWN)
                break;
            w->err[classify_pool_rc(rc)]++;
            if (rc != POOL_ETIMEDOUT && rc != POOL_ENOMASTER)
                sleep_ms(10); /* a fast refusal must not become a busy loop */
            continue;
        }
        int node = node_index(r, c->tcp.host ? c->tcp.host : "?", c->tcp.port);
        pw_errkind kind;
        w_outcome out = write_once(c, cnt_key, log_key, w->n_acks + 1, &kind);
        pool_put(r->pool, c);
        if (out == PW_W_OK) {
            if (record_ack(w, node) != 0) {
                w->oom = 1;
                break;
            }
            atomic_store(&w->acked, w->n_acks);
            continue;
        }
        w->err[kind]++;
        if (kind == PW_E_NOREPLICAS && w->first_noreplicas_us == 0)
            w->first_noreplicas_us = now_us();
        if (out == PW_W_AMBIGUOUS)
            w->ambiguous++;
    }
    return NULL;
}

/* "cut 1732540000.123456" lines, as bash's $EPOCHREALTIME prints them. */
static int64_t parse_epoch_us(const char *s)
{
    char *end = NULL;
    long long sec = strtoll(s, &end, 10);
    if (end == s || sec <= 0)
        return 0;
    long long us = 0;
    if (*end == '.' || *end == ',') {
        int digits = 0;
        for (const char *p = end + 1; *p >= '0' && *p <= '9' && digits < 6; p++, digits++)
            us = us * 10 + (*p - '0');
        for (; digits < 6; digits++)
            us *= 10;
    }
    return (int64_t)sec * 1000000 + us;
}

static void read_marks(pw_run *r)
{
    if (r->marks_file == NULL)
        return;
    FILE *f = fopen(r->marks_file, "r");
    if (f == NULL)
        return;
    char line[128], name[32], val[64];
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "%31s %63s", name, val) != 2)
            continue;
        int64_t t = parse_epoch_us(val);
        if (strcmp(name, "cut") == 0)
            r->t_cut = t;
        else if (strcmp(name, "failover") == 0)
            r->t_failover = t;
        else if (strcmp(name, "heal") == 0)
            r->t_heal = t;
        else if (strcmp(name, "settled") == 0)
            r->t_settled = t;
    }
    fclose(f);
}

/* Parse a list element as an unsigned decimal; 0 if it is not one. */
static uint64_t elem_seq(const redisReply *e)
{
    if (e->type != REDIS_REPLY_STRING || e->len == 0 || e->len > 19)
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < e->len; i++) {
        if (e->str[i] < '0' || e->str[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(e->str[i] - '0');
    }
    return v;
}

static int verify_writer(pw_run *r, redisContext *c, pw_writer *w)
{
    redisReply *cnt = redisCommand(c, "GET np:%s:cnt:%d", r->side, w->id);
    redisReply *lst = cnt ? redisCommand(c, "LRANGE np:%s:log:%d 0 -1", r->side, w->id) : NULL;
    int rc = -1;
    uint8_t *seen = NULL;
    if (cnt == NULL || lst == NULL || lst->type != REDIS_REPLY_ARRAY ||
        (cnt->type != REDIS_REPLY_STRING && cnt->type != REDIS_REPLY_NIL))
        goto out;
    w->counter = cnt->type == REDIS_REPLY_STRING ? strtoll(cnt->str, NULL, 10) : 0;
    w->llen = (long long)lst->elements;
    size_t acked = w->n_acks;
    seen = calloc(acked + 2, 1);
    if (seen == NULL)
        goto out;
    for (size_t i = 0; i < lst->elements; i++) {
        uint64_t s = elem_seq(lst->element[i]);
        if (s == 0 || s > acked + 1) {
            w->unknown++;
            continue;
        }
        if (seen[s] < 255)
            seen[s]++;
    }
    for (size_t s = 1; s <= acked + 1; s++) {
        if (seen[s] > 1)
            w->dup += seen[s] - 1u;
        if (s == acked + 1) {
            w->pending_applied = seen[s] > 0; /* an unacknowledged last attempt that ran */
            break;
        }
        if (seen[s] == 0) {
            const pw_ack *a = &w->acks[s - 1];
            if (a->node != r->old_node)
                w->lost_other++;
            else if (r->t_cut != 0 && a->t_us >= r->t_cut)
                w->lost_old_after_cut++;
            else
                w->lost_old_before_cut++;
        }
    }
    rc = 0;
out:
    free(seen);
    if (cnt)
        freeReplyObject(cnt);
    if (lst)
        freeReplyObject(lst);
    return rc;
}

/* Read every writer's keys on the master the pool ends on (ROLE-checked).
 * Writes the verified address into final[len]. */
static int verify_all(pw_run *r, char *final, size_t len)
{
    int64_t deadline = mono_ns() + 15000000000LL;
    for (;;) {
        redisContext *c = NULL;
        int rc = pool_get_writer(r->pool, &c);
        if (rc == 0) {
            int ok = 0;
            redisReply *role = redisCommand(c, "ROLE");
            if (role != NULL && role->type == REDIS_REPLY_ARRAY && role->elements > 0 &&
                role->element[0]->type == REDIS_REPLY_STRING &&
                strcmp(role->element[0]->str, "master") == 0)
                ok = 1;
            if (role != NULL)
                freeReplyObject(role);
            if (ok) {
                snprintf(final, len, "%s:%d", c->tcp.host ? c->tcp.host : "?", c->tcp.port);
                int bad = 0;
                for (int i = 0; i < r->writers; i++)
                    bad |= verify_writer(r, c, &r->w[i]);
                pool_put(r->pool, c);
                if (!bad)
                    return 0;
                fprintf(stderr, "partition_writer[%s]: read-back failed on %s: %s\n", r->side,
                        final, c->errstr[0] ? c->errstr : "unexpected reply");
                return -1;
            }
            pool_put(r->pool, c);
        }
        if (mono_ns() > deadline) {
            fprintf(stderr, "partition_writer[%s]: no master to read back from: %s\n", r->side,
                    rc ? pool_err_name(rc) : "ROLE is not master");
            return -1;
        }
        sleep_ms(200);
    }
}

static double rel_s(int64_t t, int64_t ref) { return (double)(t - ref) / 1e6; }

static void fmt_rel(char *buf, size_t len, int64_t t, int64_t ref)
{
    if (t == 0 || ref == 0)
        snprintf(buf, len, "none");
    else
        snprintf(buf, len, "%.3f", rel_s(t, ref));
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void report(pw_run *r, const char *final)
{
    int64_t cut = r->t_cut;
    int64_t last_old = 0, first_new = 0, first_norep = 0, first_switch = 0;
    uint64_t acked = 0, old_after_cut = 0, old_after_switch = 0, ambiguous = 0;
    uint64_t err[PW_E_KINDS] = {0};
    uint64_t lost_ac = 0, lost_bc = 0, lost_o = 0, dup = 0, unknown = 0, mismatch = 0;
    uint64_t pending_applied = 0;
    int64_t gaps[PW_MAX_WRITERS];

    pthread_mutex_lock(&r->ev_mu);
    for (int i = 0; i < r->n_ev; i++)
        if (r->ev[i].type == POOL_EVENT_SWITCH_MASTER && r->ev[i].t_us >= cut &&
            strcmp(r->ev[i].old_addr, r->nodes[r->old_node]) == 0) {
            first_switch = r->ev[i].t_us;
            break;
        }
    pthread_mutex_unlock(&r->ev_mu);

    for (int i = 0; i < r->writers; i++) {
        pw_writer *w = &r->w[i];
        acked += w->n_acks;
        ambiguous += w->ambiguous;
        for (int k = 0; k < PW_E_KINDS; k++)
            err[k] += w->err[k];
        if (w->first_noreplicas_us && (first_norep == 0 || w->first_noreplicas_us < first_norep))
            first_norep = w->first_noreplicas_us;
        lost_ac += w->lost_old_after_cut;
        lost_bc += w->lost_old_before_cut;
        lost_o += w->lost_other;
        dup += w->dup;
        unknown += w->unknown;
        mismatch += w->counter != w->llen;
        pending_applied += (uint64_t)w->pending_applied;
        /* Longest stall from the cut on: the widest gap between two acks
         * that ends after the cut (the first ack after it counts from it). */
        int64_t gap = 0, prev = 0;
        for (size_t s = 0; s < w->n_acks; s++) {
            const pw_ack *a = &w->acks[s];
            if (a->node == r->old_node && a->t_us > last_old)
                last_old = a->t_us;
            if (cut && a->t_us >= cut) {
                if (a->node == r->old_node)
                    old_after_cut++;
                else if (first_new == 0 || a->t_us < first_new)
                    first_new = a->t_us;
                if (a->node == r->old_node && first_switch && a->t_us > first_switch)
                    old_after_switch++;
                int64_t from = prev && prev > cut ? prev : cut;
                if (a->t_us - from > gap)
                    gap = a->t_us - from;
            }
            prev = a->t_us;
        }
        gaps[i] = gap;
    }
    qsort(gaps, (size_t)r->writers, sizeof(gaps[0]), cmp_i64);

    printf("== side %s: %d writers at %d/s each, sentinels %s\n", r->side, r->writers, r->rate,
           r->sentinels);
    printf("   isolated (initial) master %s, final master %s\n", r->nodes[r->old_node], final);
    pthread_mutex_lock(&r->ev_mu);
    for (int i = 0; i < r->n_ev; i++) {
        const pw_event *e = &r->ev[i];
        const char *name = e->type == POOL_EVENT_SWITCH_MASTER     ? "SWITCH_MASTER"
                           : e->type == POOL_EVENT_MASTER_LOST     ? "MASTER_LOST"
                           : e->type == POOL_EVENT_VALIDATION_FAILED ? "VALIDATION_FAILED"
                                                                   : "WRITER_SUSPECT";
        char t[32];
        fmt_rel(t, sizeof(t), e->t_us, cut);
        printf("   pool event %-17s %s -> %s at cut%s%s s\n", name, e->old_addr, e->new_addr,
               t[0] == '-' ? "" : "+", t);
    }
    pthread_mutex_unlock(&r->ev_mu);
    char s_last[32], s_last_h[32], s_new[32], s_norep[32], s_sw[32];
    fmt_rel(s_last, sizeof(s_last), last_old, cut);
    fmt_rel(s_last_h, sizeof(s_last_h), last_old, r->t_heal);
    fmt_rel(s_new, sizeof(s_new), first_new, cut);
    fmt_rel(s_norep, sizeof(s_norep), first_norep, cut);
    fmt_rel(s_sw, sizeof(s_sw), first_switch, cut);
    printf("   last ack on the isolated master: cut %s s (heal %s s); acks there after the cut: "
           "%llu\n",
           s_last, s_last_h, (unsigned long long)old_after_cut);
    printf("   first ack on another node after the cut: cut %s s; pool switch: cut %s s; first "
           "NOREPLICAS: cut %s s\n",
           s_new, s_sw, s_norep);
    printf("   acked %llu; lost: %llu acked by the isolated master after the cut, %llu before "
           "it, %llu by other nodes; duplicated %llu, unknown %llu, counter!=list %llu, last "
           "unacknowledged attempt applied %llu\n",
           (unsigned long long)acked, (unsigned long long)lost_ac, (unsigned long long)lost_bc,
           (unsigned long long)lost_o, (unsigned long long)dup, (unsigned long long)unknown,
           (unsigned long long)mismatch, (unsigned long long)pending_applied);
    printf("   errors:");
    for (int k = 0; k < PW_E_KINDS; k++)
        printf(" %s %llu", pw_err_names[k], (unsigned long long)err[k]);
    printf(" (ambiguous %llu); longest stall from the cut: median %.2f s, max %.2f s\n",
           (unsigned long long)ambiguous, gaps[r->writers / 2] / 1e6,
           gaps[r->writers - 1] / 1e6);

    /* One machine-readable line for the script. */
    printf("RESULT side=%s writers=%d old=%s final=%s acked=%llu old_acks_after_cut=%llu "
           "old_last_ack_s=%s old_last_ack_from_heal_s=%s first_new_ack_s=%s switch_s=%s "
           "first_noreplicas_s=%s old_acks_after_switch=%llu lost_old_after_cut=%llu "
           "lost_old_before_cut=%llu lost_other=%llu dup=%llu unknown=%llu mismatch=%llu "
           "ambiguous=%llu max_stall_s=%.3f",
           r->side, r->writers, r->nodes[r->old_node], final, (unsigned long long)acked,
           (unsigned long long)old_after_cut, s_last, s_last_h, s_new, s_sw, s_norep,
           (unsigned long long)old_after_switch, (unsigned long long)lost_ac,
           (unsigned long long)lost_bc, (unsigned long long)lost_o, (unsigned long long)dup,
           (unsigned long long)unknown, (unsigned long long)mismatch,
           (unsigned long long)ambiguous, gaps[r->writers - 1] / 1e6);
    for (int k = 0; k < PW_E_KINDS; k++)
        printf(" err_%s=%llu", pw_err_names[k], (unsigned long long)err[k]);
    printf("\n");
    fflush(stdout);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: partition_writer --side NAME --sentinels LIST [options]\n"
            "One side's writers for scripts/netns-partition.sh: a pool (public API,\n"
            "master name + sentinels), writer threads until SIGTERM, then a read-back from\n"
            "the final master and one RESULT line.\n"
            "  --side NAME          key prefix and label (letters, digits, '-')\n"
            "  --sentinels LIST     host:port,host:port,...\n"
            "  --master-name NAME   [mymaster]\n"
            "  --writers W          writer threads [4] (1..%d)\n"
            "  --rate R             writes/s per writer, 0 = unthrottled [200]\n"
            "  --command-timeout-ms MS  pool option command_timeout_ms [library default]\n"
            "  --ready FILE         created once every writer has written\n"
            "  --marks FILE         'cut|failover|heal|settled <epoch s.us>' lines, read at stop\n"
            "  --max-seconds S      stop by itself after S s [600]\n"
            "  --verbose            the pool's log (INFO) on stderr\n",
            PW_MAX_WRITERS);
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int write_ready(const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return -1;
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "%ld\n", (long)getpid());
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}

int main(int argc, char **argv)
{
    static pw_run run; /* large: writers and events */
    pw_run *r = &run;
    r->master_name = "mymaster";
    r->writers = 4;
    r->rate = 200;
    r->max_seconds = 600;
    enum {
        O_SIDE = 1000, O_SENT, O_NAME, O_WRITERS, O_RATE, O_CTO, O_READY, O_MARKS, O_MAX,
        O_VERBOSE
    };
    static const struct option longopts[] = {
        {"side", required_argument, NULL, O_SIDE},
        {"sentinels", required_argument, NULL, O_SENT},
        {"master-name", required_argument, NULL, O_NAME},
        {"writers", required_argument, NULL, O_WRITERS},
        {"rate", required_argument, NULL, O_RATE},
        {"command-timeout-ms", required_argument, NULL, O_CTO},
        {"ready", required_argument, NULL, O_READY},
        {"marks", required_argument, NULL, O_MARKS},
        {"max-seconds", required_argument, NULL, O_MAX},
        {"verbose", no_argument, NULL, O_VERBOSE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int bad = 0, opt;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case O_SIDE: r->side = optarg; break;
        case O_SENT: r->sentinels = optarg; break;
        case O_NAME: r->master_name = optarg; break;
        case O_WRITERS: bad |= parse_int(optarg, 1, PW_MAX_WRITERS, &r->writers); break;
        case O_RATE: bad |= parse_int(optarg, 0, 1000000, &r->rate); break;
        case O_CTO: bad |= parse_int(optarg, 1, 600000, &r->command_timeout_ms); break;
        case O_READY: r->ready_file = optarg; break;
        case O_MARKS: r->marks_file = optarg; break;
        case O_MAX: bad |= parse_int(optarg, 1, 86400, &r->max_seconds); break;
        case O_VERBOSE: r->verbose = 1; break;
        case 'h': usage(stdout); return 0;
        default: bad = 1; break;
        }
    }
    if (bad || optind < argc || r->side == NULL || r->sentinels == NULL ||
        strspn(r->side, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") !=
            strlen(r->side) ||
        strlen(r->side) == 0 || strlen(r->side) > 20) {
        usage(stderr);
        return 2;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: the main loop's sleep wakes up */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    pthread_mutex_init(&r->node_mu, NULL);
    pthread_mutex_init(&r->ev_mu, NULL);

    pool_options_t po;
    pool_options_init(&po);
    po.master_name = r->master_name;
    po.sentinels = r->sentinels;
    po.max_connections = r->writers * 2 > 16 ? r->writers * 2 : 16;
    po.client_name = "partition_writer";
    po.event_fn = event_cb;
    po.event_userdata = r;
    if (r->command_timeout_ms > 0)
        po.command_timeout_ms = r->command_timeout_ms;
    if (r->verbose) {
        po.log_fn = log_cb;
        po.log_userdata = r;
        po.log_level = POOL_LOG_INFO;
    }
    int rc = pool_create(&po, &r->pool);
    if (rc != 0) {
        fprintf(stderr, "partition_writer[%s]: pool_create: %s (%s)\n", r->side,
                pool_err_name(rc), pool_strerror(rc));
        return 2;
    }
    char host[PW_NODE_LEN];
    int port = 0;
    rc = pool_current_master(r->pool, host, sizeof(host), &port, NULL);
    if (rc != 0) {
        fprintf(stderr, "partition_writer[%s]: pool_current_master: %s\n", r->side,
                pool_err_name(rc));
        pool_destroy(r->pool);
        return 2;
    }
    r->old_node = node_index(r, host, port);

    int setup_failed = 0;
    for (int i = 0; i < r->writers && !setup_failed; i++) {
        pw_writer *w = &r->w[i];
        w->id = i;
        w->run = r;
        if (pthread_create(&w->thread, NULL, writer_main, w) != 0)
            setup_failed = 1;
        else
            w->started = 1;
    }
    /* Ready once every writer has an acknowledged write: the script cuts
     * the network only after both sides are known to be writing. */
    int64_t t_start = mono_ns();
    int ready = 0;
    while (!setup_failed && !pw_signalled && mono_ns() - t_start < 30000000000LL) {
        ready = 1;
        for (int i = 0; i < r->writers; i++)
            ready &= atomic_load(&r->w[i].acked) > 0;
        if (ready)
            break;
        sleep_ms(20);
    }
    if (!ready || (r->ready_file != NULL && write_ready(r->ready_file) != 0)) {
        fprintf(stderr, "partition_writer[%s]: %s\n", r->side,
                setup_failed ? "cannot start the writer threads"
                : !ready     ? "the writers did not all write within 30 s"
                             : "cannot write the ready file");
        setup_failed = 1;
    }
    while (!setup_failed && !pw_signalled && mono_ns() - t_start < r->max_seconds * 1000000000LL)
        sleep_ms(50);

    atomic_store(&r->stop, 1);
    /* A writer blocks at most checkout_timeout_ms or command_timeout_ms. */
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 20;
    int stuck = 0, oom = 0;
    for (int i = 0; i < r->writers; i++) {
        if (!r->w[i].started)
            continue;
        if (pthread_timedjoin_np(r->w[i].thread, NULL, &dl) != 0)
            stuck++;
        oom |= r->w[i].oom;
    }
    if (stuck) {
        /* A stuck writer may be inside the pool: do not destroy it under it. */
        fprintf(stderr, "partition_writer[%s]: FAIL: %d writers did not stop within 20 s\n",
                r->side, stuck);
        fflush(NULL);
        _exit(1);
    }
    if (setup_failed || oom) {
        if (oom)
            fprintf(stderr, "partition_writer[%s]: out of memory\n", r->side);
        pool_destroy(r->pool);
        return 2;
    }
    read_marks(r);
    char final[PW_NODE_LEN] = "none";
    int vrc = verify_all(r, final, sizeof(final));
    if (vrc == 0)
        report(r, final);
    pool_stats_t st;
    if (pool_stats(r->pool, &st) == 0 && st.in_use != 0) {
        fprintf(stderr, "partition_writer[%s]: FAIL: %llu connections still borrowed\n",
                r->side, (unsigned long long)st.in_use);
        vrc = -1;
    }
    pool_destroy(r->pool);
    for (int i = 0; i < r->writers; i++)
        free(r->w[i].acks);
    return vrc == 0 ? 0 : 1;
}
