/* report_sentinel.c: the figures set against Sentinel's own announcement
 * (sentinel_watch.c): per event, when the first sentinel published
 * +switch-master and +promoted-slave, and how the pool's SWITCH_MASTER, the
 * first writer handed out on the new master and the first write acknowledged
 * there stand relative to +switch-master. These deltas are signed: the pool
 * fences and switches on the leader's promotion events, which come before
 * +switch-master, so a negative value is expected, not an error. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "report_internal.h"

typedef struct sw_ev {
    int have_swm, have_promo, have_hand, have_ack, have_pool, have_pool_promo;
    double swm_s, swm_last_s, promo_s, hand_s; /* after the trigger */
    double hand_ms, ack_ms, pool_ms;           /* minus +switch-master */
    double pool_promo_ms;                      /* pool switch minus +promoted-slave */
    int publishers;
} sw_ev;

static void sw_event(const h_run *r, int b, sw_ev *s)
{
    memset(s, 0, sizeof(*s));
    const h_event *e = &r->ev[b];
    int64_t trig = atomic_load(&e->t_trigger);
    int64_t swm = atomic_load(&e->t_sent_switch), promo = atomic_load(&e->t_sent_promoted);
    int64_t pool = atomic_load(&e->t_switch), hand = atomic_load(&e->t_first_handout);
    int64_t ack = 0;
    for (int i = 0; i < r->o.writers; i++) {
        int64_t fn = r->w[i].b != NULL ? r->w[i].b[b].first_new : 0;
        if (fn != 0 && (ack == 0 || fn < ack))
            ack = fn;
    }
    if (trig == 0)
        return;
    s->have_swm = swm != 0;
    s->have_promo = promo != 0;
    s->have_hand = hand != 0;
    s->swm_s = (double)(swm - trig) / 1e9;
    s->swm_last_s = (double)(atomic_load(&e->t_sent_switch_last) - trig) / 1e9;
    s->promo_s = (double)(promo - trig) / 1e9;
    s->hand_s = (double)(hand - trig) / 1e9;
    s->publishers = __builtin_popcount(atomic_load(&e->sent_switch_mask));
    s->have_pool_promo = promo != 0 && pool != 0;
    s->pool_promo_ms = (double)(pool - promo) / 1e6;
    if (!s->have_swm)
        return;
    s->hand_ms = (double)(hand - swm) / 1e6;
    s->have_ack = ack != 0;
    s->ack_ms = (double)(ack - swm) / 1e6;
    s->have_pool = pool != 0;
    s->pool_ms = (double)(pool - swm) / 1e6;
}

/* Median, p99 (nearest rank) and max of v[0..n) (sorted here). */
typedef struct sw_dist {
    int n;
    double med, p99, max;
} sw_dist;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static sw_dist dist(double *v, int n)
{
    sw_dist d = {n, 0, 0, 0};
    if (n == 0)
        return d;
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    d.med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    d.p99 = v[(99 * n + 99) / 100 - 1]; /* rank ceil(0.99 n) */
    d.max = v[n - 1];
    return d;
}

enum { D_SWM, D_PROMO, D_POOL, D_HAND, D_ACK, D_N };

/* The distributions of one kind; v must hold D_N * n_buckets doubles. */
static void kind_dists(const h_run *r, h_kind k, double *v, sw_dist *d, int *events, int *all_pub)
{
    int n[D_N] = {0};
    double *col[D_N];
    for (int j = 0; j < D_N; j++)
        col[j] = v + (size_t)j * (size_t)r->n_buckets;
    *events = 0;
    *all_pub = 0;
    for (int b = 0; b < r->n_buckets; b++) {
        if (r->ev[b].kind != k)
            continue;
        (*events)++;
        sw_ev s;
        sw_event(r, b, &s);
        if (s.have_swm) {
            col[D_SWM][n[D_SWM]++] = s.swm_s;
            *all_pub += s.publishers == r->n_sent;
        }
        if (s.have_promo)
            col[D_PROMO][n[D_PROMO]++] = s.promo_s;
        if (s.have_pool)
            col[D_POOL][n[D_POOL]++] = s.pool_ms;
        if (s.have_hand && s.have_swm)
            col[D_HAND][n[D_HAND]++] = s.hand_ms;
        if (s.have_ack)
            col[D_ACK][n[D_ACK]++] = s.ack_ms;
    }
    for (int j = 0; j < D_N; j++)
        d[j] = dist(col[j], n[j]);
}

/* ---- Summary text -------------------------------------------------------- */

void h_sw_header(char *buf, size_t len)
{
    snprintf(buf, len, "%7s %7s %9s %9s", "+swm", "+promo", "hand-swm", "pool-swm");
}

static void cell_s(char *buf, size_t len, int have, double v)
{
    if (have)
        snprintf(buf, len, "%.2f", v);
    else
        snprintf(buf, len, "-");
}

static void cell_ms(char *buf, size_t len, int have, double v)
{
    if (have)
        snprintf(buf, len, "%+.0fms", v);
    else
        snprintf(buf, len, "-");
}

void h_sw_cells(const h_run *r, int b, char *buf, size_t len)
{
    sw_ev s;
    sw_event(r, b, &s);
    char a[16], p[16], h[24], q[24];
    cell_s(a, sizeof(a), s.have_swm, s.swm_s);
    cell_s(p, sizeof(p), s.have_promo, s.promo_s);
    cell_ms(h, sizeof(h), s.have_swm && s.have_hand, s.hand_ms);
    cell_ms(q, sizeof(q), s.have_pool, s.pool_ms);
    snprintf(buf, len, "%7s %7s %9s %9s", a, p, h, q);
}

void h_sw_print_legend(void)
{
    printf("         +swm = the first sentinel's +switch-master (own subscriber on every "
           "sentinel), +promo = +promoted-slave (the failover leader's), both s after the "
           "trigger; hand-swm = first writer handed out on the new master minus +swm, pool-swm "
           "= the pool's SWITCH_MASTER minus +swm (negative: before Sentinel published it).\n");
}

static void print_dist(const char *what, const sw_dist *d, const char *unit)
{
    if (d->n == 0)
        printf(" %s -;", what);
    else
        printf(" %s median %+.0f p99 %+.0f max %+.0f %s (n=%d);", what, d->med, d->p99, d->max,
               unit, d->n);
}

void h_sw_print_kind(const h_run *r, h_kind k)
{
    double *v = calloc((size_t)D_N * (size_t)r->n_buckets, sizeof(double));
    if (v == NULL)
        return;
    sw_dist d[D_N];
    int events, all_pub;
    kind_dists(r, k, v, d, &events, &all_pub);
    free(v);
    int expect = k == H_GRACEFUL || k == H_CRASH || k == H_FREEZE;
    if (!expect && d[D_SWM].n == 0 && d[D_PROMO].n == 0)
        return;
    printf("  %-13s      sentinel: +switch-master (first of the sentinels) in %d/%d events",
           "", d[D_SWM].n, events);
    if (d[D_SWM].n)
        printf(", median %.3f s p99 %.3f s max %.3f s after the trigger, published by all %d "
               "sentinels in %d",
               d[D_SWM].med, d[D_SWM].p99, d[D_SWM].max, r->n_sent, all_pub);
    printf("; +promoted-slave in %d/%d", d[D_PROMO].n, events);
    if (d[D_PROMO].n)
        printf(", median %.3f s p99 %.3f s max %.3f s", d[D_PROMO].med, d[D_PROMO].p99,
               d[D_PROMO].max);
    printf("\n  %-13s      minus +switch-master (negative = earlier):", "");
    print_dist("pool SWITCH_MASTER", &d[D_POOL], "ms");
    print_dist("first writer handed out on the new master", &d[D_HAND], "ms");
    print_dist("first write acknowledged there", &d[D_ACK], "ms");
    putchar('\n');
}

void h_sw_print_totals(const h_run *r)
{
    uint64_t msgs, outside, reconn;
    h_swatch_counts(r, &msgs, &outside, &reconn);
    printf("sentinel watch: %llu +switch-master/+promoted-slave messages for %s (%llu outside "
           "events), subscribed again %llu times after losing a sentinel\n",
           (unsigned long long)msgs, r->master_name, (unsigned long long)outside,
           (unsigned long long)reconn);
}

/* ---- JSON ---------------------------------------------------------------- */

static void jnum(FILE *f, const char *key, int have, double v, const char *sep)
{
    fprintf(f, "\"%s\": ", key);
    if (have)
        fprintf(f, "%.3f", v);
    else
        fputs("null", f);
    fputs(sep, f);
}

void h_sw_json_event(FILE *f, const h_run *r, int b)
{
    const h_event *e = &r->ev[b];
    sw_ev s;
    sw_event(r, b, &s);
    fputs(", \"sentinel\": {", f);
    jnum(f, "switch_master_s", s.have_swm, s.swm_s, ", ");
    jnum(f, "switch_master_last_s", s.have_swm, s.swm_last_s, ", ");
    fprintf(f, "\"switch_master_sentinel_port\": %d, \"switch_master_new_port\": %d, "
               "\"switch_master_publishers\": %d, ",
            atomic_load(&e->sent_switch_port), atomic_load(&e->sent_switch_new_port),
            s.publishers);
    jnum(f, "promoted_slave_s", s.have_promo, s.promo_s, ", ");
    fprintf(f, "\"promoted_slave_sentinel_port\": %d, ", atomic_load(&e->sent_promoted_port));
    jnum(f, "first_handout_new_master_s", s.have_hand, s.hand_s, ", ");
    jnum(f, "pool_switch_minus_switch_master_ms", s.have_pool, s.pool_ms, ", ");
    jnum(f, "first_handout_new_master_minus_switch_master_ms", s.have_swm && s.have_hand,
         s.hand_ms, ", ");
    jnum(f, "first_write_new_master_minus_switch_master_ms", s.have_ack, s.ack_ms, ", ");
    jnum(f, "pool_switch_minus_promoted_slave_ms", s.have_pool_promo, s.pool_promo_ms, "}");
}

static void jdist(FILE *f, const char *key, const sw_dist *d, const char *sep)
{
    fprintf(f, "\"%s\": {\"n\": %d, ", key, d->n);
    jnum(f, "median", d->n > 0, d->med, ", ");
    jnum(f, "p99", d->n > 0, d->p99, ", ");
    jnum(f, "max", d->n > 0, d->max, "}");
    fputs(sep, f);
}

void h_sw_json_kind(FILE *f, const h_run *r, h_kind k)
{
    double *v = calloc((size_t)D_N * (size_t)r->n_buckets, sizeof(double));
    if (v == NULL) {
        fputs(", \"sentinel\": null", f);
        return;
    }
    sw_dist d[D_N];
    int events, all_pub;
    kind_dists(r, k, v, d, &events, &all_pub);
    free(v);
    fprintf(f, ", \"sentinel\": {\"events_all_sentinels_published\": %d, ", all_pub);
    jdist(f, "switch_master_s", &d[D_SWM], ", ");
    jdist(f, "promoted_slave_s", &d[D_PROMO], ", ");
    jdist(f, "pool_switch_minus_switch_master_ms", &d[D_POOL], ", ");
    jdist(f, "first_handout_new_master_minus_switch_master_ms", &d[D_HAND], ", ");
    jdist(f, "first_write_new_master_minus_switch_master_ms", &d[D_ACK], "}");
}

void h_sw_json_totals(FILE *f, const h_run *r)
{
    uint64_t msgs, outside, reconn;
    h_swatch_counts(r, &msgs, &outside, &reconn);
    fprintf(f, "  \"sentinel_watch\": {\"messages\": %llu, \"outside_events\": %llu, "
               "\"resubscribed\": %llu},\n",
            (unsigned long long)msgs, (unsigned long long)outside, (unsigned long long)reconn);
}
