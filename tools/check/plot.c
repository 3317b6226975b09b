/* plot.c: --plot FILE, an SVG timeline of the run, plain fprintf.
 *
 * Recording: with --plot, each writer counts its acknowledged writes per data
 * node (the port of the borrowed connection) and its errors per kind in 100 ms
 * slots since the run start (h_tl_slot); only its own thread writes them, the
 * main thread reads them after the join. Without --plot nothing is recorded.
 *
 * The picture, top to bottom: marker labels, the pool's writer per generation
 * (from its SWITCH_MASTER / MASTER_LOST events), acknowledged writes/s per node,
 * errors/s per kind (log scale), the time axis in seconds since the harness
 * started (the same clock as its log lines), and a legend on the right.
 * Vertical markers: each fault (red), its later steps (grey dashed: Sentinel
 * agrees, restart, SIGCONT, old master demoted), the pool's +switch-master
 * (teal) and fences (orange dashed), each labelled with the generation. Hover
 * a label for details. Long runs use coarser bins so the file stays small. */
#define _GNU_SOURCE
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define ARROW "\xe2\x86\x92"
#define DOT "\xc2\xb7"
#define TIMES "\xc3\x97"

/* ---- Recording (writer threads) ---------------------------------------- */

/* The slot for time t, grown on demand; NULL when not recording. A failed
 * allocation stops the recording (tl_cap = -1): the plot says so. */
static h_tl_slot *tl_slot(h_writer *w, int64_t t)
{
    const h_run *r = w->run;
    if (r->o.plot == NULL || t < r->t0 || w->tl_cap < 0)
        return NULL;
    int64_t i64 = (t - r->t0) / H_TL_SLOT_NS;
    if (i64 >= (1 << 28))
        return NULL; /* 310 days */
    int i = (int)i64;
    if (i >= w->tl_cap) {
        int cap = w->tl_cap > 0 ? w->tl_cap : 1024;
        while (cap <= i)
            cap *= 2;
        h_tl_slot *p = realloc(w->tl, (size_t)cap * sizeof(*p));
        if (p == NULL) {
            w->tl_cap = -1;
            return NULL;
        }
        memset(p + w->tl_cap, 0, (size_t)(cap - w->tl_cap) * sizeof(*p));
        w->tl = p;
        w->tl_cap = cap;
    }
    if (i >= w->tl_n)
        w->tl_n = i + 1;
    return &w->tl[i];
}

void h_tl_ok(h_writer *w, int64_t t, int node)
{
    h_tl_slot *s = tl_slot(w, t);
    if (s != NULL)
        s->ok[node >= 0 && node < H_TL_NODES - 1 ? node : H_TL_NODES - 1]++;
}

void h_tl_err(h_writer *w, int64_t t, h_errkind k)
{
    h_tl_slot *s = tl_slot(w, t);
    if (s != NULL && (unsigned)k < H_ERR_KINDS)
        s->err[k]++;
}

const char *h_plot_default_path(void)
{
    static char path[PATH_MAX];
    char exe[PATH_MAX - 32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *slash = NULL;
    if (n > 0) {
        exe[n] = '\0';
        slash = strrchr(exe, '/');
    }
    if (slash == NULL)
        return "failover-demo.svg";
    *slash = '\0';
    snprintf(path, sizeof(path), "%s/failover-demo.svg", exe);
    return path;
}

/* ---- Small helpers --------------------------------------------------------- */

/* Natural logarithm for x > 0, without libm (the harness does not link it). */
static double ln_approx(double x)
{
    int e = 0;
    while (x >= 2) {
        x /= 2;
        e++;
    }
    while (x < 1) {
        x *= 2;
        e--;
    }
    double z = (x - 1) / (x + 1), z2 = z * z, term = z, sum = 0;
    for (int k = 1; k < 24; k += 2) {
        sum += term / k;
        term *= z2;
    }
    return 2 * sum + e * 0.69314718055994531;
}

static double floor_pos(double x)
{
    return x < 0 ? -(double)(long long)(-x + 0.999999) : (double)(long long)x;
}

/* Smallest 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k >= v (five ticks stay round). */
static double nice_ceil(double v)
{
    if (v <= 0)
        return 1;
    double p = 1;
    while (p * 10 <= v)
        p *= 10;
    while (p > v)
        p /= 10;
    static const double m[] = {1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10};
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
        if (m[i] * p >= v)
            return m[i] * p;
    return 10 * p;
}

static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char)*s >= 0x20)
                fputc(*s, f);
        }
    }
}

/* Rough width of text in px at font size fs (sans-serif, mostly lower case). */
static double text_w(const char *s, double fs)
{
    double n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80) /* count UTF-8 characters once */
            n++;
    return n * fs * 0.58;
}

/* ---- What to draw -------------------------------------------------------- */

enum { M_FAULT, M_STEP, M_SWITCH, M_FENCE, M_GEN, M_CATS };
static const struct {
    const char *color, *dash, *name, *name2;
    double width;
} mcat[M_CATS] = {
    [M_FAULT] = {"#c62828", "", "fault injected by the harness", "", 2},
    [M_STEP] = {"#888888", "4 3", "its later steps: sentinels agree,",
                "restart, SIGCONT, old master demoted", 1},
    [M_SWITCH] = {"#00897b", "", "+switch-master seen by the pool",
                  "(event callback), new generation", 1.6},
    [M_FENCE] = {"#ef6c00", "6 3", "fence: MASTER_LOST seen by the pool,", "new generation", 1.6},
    [M_GEN] = {"#7b1fa2", "2 2", "other generation change", "", 1.2},
};

typedef struct marker {
    double t; /* seconds since run start */
    int cat;
    char label[400];
    char tip[400];
    int lane, right; /* label lane; label left of the line */
} marker;

/* Data nodes by number (repeating past 6), then "another node". */
static const char *node_color(int k)
{
    static const char *const palette[] = {"#1565c0", "#2e7d32", "#8e24aa",
                                          "#00838f", "#ef6c00", "#5d4037"};
    if (k < 0 || k >= H_TL_NODES - 1)
        return "#6d4c41";
    return palette[k % (int)(sizeof(palette) / sizeof(palette[0]))];
}
static const char *const err_color[H_ERR_KINDS] = {"#d32f2f", "#f57c00", "#c0a000", "#607d8b",
                                                   "#ec407a"};

static const char *fault_label(h_kind k)
{
    switch (k) {
    case H_GRACEFUL: return "graceful";
    case H_CRASH: return "kill -9";
    case H_FREEZE: return "SIGSTOP";
    case H_KILL_SENTINEL: return "kill -9 sentinel";
    case H_WAIT: return "wait (no fault)";
    default: return h_kind_name(k);
    }
}

static const char *action2_label(h_kind k)
{
    switch (k) {
    case H_CRASH: return "restart";
    case H_FREEZE: return "SIGCONT";
    case H_KILL_SENTINEL: return "sentinel restart";
    default: return "undone";
    }
}

typedef struct plot {
    h_run *r;
    FILE *f;
    double t_start, t_end; /* seconds since run start */
    int slot0, bin_slots, n_bins;
    double bin_s;
    uint64_t (*ok)[H_TL_NODES]; /* per bin */
    uint64_t (*err)[H_ERR_KINDS];
    uint64_t ok_total[H_TL_NODES], err_total[H_ERR_KINDS];
    int truncated;
    marker *m;
    int nm, mcap;
    h_pool_event *pe; /* sorted copy of the pool events */
    int npe;
    /* geometry */
    double px0, px1, lane_y0, strip_y, chart_y, chart_h, err_y, err_h, axis_y;
    int n_lanes;
} plot;

static double X(const plot *p, double t)
{
    return p->px0 + (t - p->t_start) / (p->t_end - p->t_start) * (p->px1 - p->px0);
}

static marker *add_marker(plot *p, int64_t t, int cat)
{
    if (t == 0)
        return NULL;
    if (p->nm == p->mcap) {
        int cap = p->mcap ? p->mcap * 2 : 64;
        marker *m = realloc(p->m, (size_t)cap * sizeof(*m));
        if (m == NULL)
            return NULL;
        p->m = m;
        p->mcap = cap;
    }
    marker *m = &p->m[p->nm++];
    memset(m, 0, sizeof(*m));
    m->t = h_rel_s(p->r, t);
    m->cat = cat;
    return m;
}

static int cmp_pe(const void *a, const void *b)
{
    const h_pool_event *x = a, *y = b;
    return x->t < y->t ? -1 : x->t > y->t;
}

static int cmp_marker(const void *a, const void *b)
{
    const marker *x = a, *y = b;
    return x->t < y->t ? -1 : x->t > y->t;
}

/* A node in a label: ":port" on the fixture's loopback topology, where the
 * port tells nodes apart; the whole address on a deployment. */
static const char *short_addr(const h_run *r, const char *addr)
{
    const char *c = strrchr(addr, ':');
    return c != NULL && r->deploy == NULL ? c : addr;
}

static void collect_markers(plot *p)
{
    h_run *r = p->r;
    int multi = r->o.failovers > 1;
    for (int b = 1; b < r->n_buckets - 1; b++) {
        h_event *e = &r->ev[b];
        int64_t trig = atomic_load(&e->t_trigger);
        char rnd[16] = "";
        if (multi)
            snprintf(rnd, sizeof(rnd), " #%d", e->round);
        char target[300] = "";
        if (e->kind == H_KILL_SENTINEL && e->sentinel_port != 0)
            snprintf(target, sizeof(target), " :%d", e->sentinel_port);
        else if (e->kind != H_KILL_SENTINEL && e->kind != H_WAIT)
            h_node_name(r, atomic_load(&e->old_node), target, sizeof(target));
        marker *m = add_marker(p, trig, M_FAULT);
        if (m != NULL) {
            snprintf(m->label, sizeof(m->label), "%s%s%s%s", fault_label(e->kind), rnd,
                     target[0] && target[0] != ' ' ? " " : "", target);
            snprintf(m->tip, sizeof(m->tip),
                     "%s #%d at %.2f s: %s%s%s (settled %.2f s after the trigger)",
                     h_kind_name(e->kind), e->round, m->t, fault_label(e->kind),
                     e->failed ? "; FAILED: " : "", e->failed ? e->note : "",
                     atomic_load(&e->t_end) ? h_rel_s(r, atomic_load(&e->t_end)) - m->t : -1.0);
        }
        if ((m = add_marker(p, e->t_master_changed, M_STEP)) != NULL) {
            snprintf(m->label, sizeof(m->label), "sentinels agree");
            snprintf(m->tip, sizeof(m->tip),
                     "%.2f s: all sentinels name the new master (%.2f s after the trigger)", m->t,
                     (double)(e->t_master_changed - trig) / 1e9);
        }
        if ((m = add_marker(p, e->t_action2, M_STEP)) != NULL) {
            snprintf(m->label, sizeof(m->label), "%s", action2_label(e->kind));
            snprintf(m->tip, sizeof(m->tip), "%.2f s: %s (%.2f s after the trigger)", m->t,
                     action2_label(e->kind), (double)(e->t_action2 - trig) / 1e9);
        }
        if ((m = add_marker(p, e->t_old_demoted, M_STEP)) != NULL) {
            snprintf(m->label, sizeof(m->label), "old master demoted");
            snprintf(m->tip, sizeof(m->tip),
                     "%.2f s: the old master's ROLE says replica (%.2f s after the trigger)", m->t,
                     (double)(e->t_old_demoted - trig) / 1e9);
        }
    }
    uint64_t gen = 0;
    for (int i = 0; i < p->npe; i++) {
        const h_pool_event *pe = &p->pe[i];
        int changed = pe->generation > gen;
        if (changed)
            gen = pe->generation;
        marker *m = NULL;
        if (pe->type == POOL_EVENT_SWITCH_MASTER) {
            if ((m = add_marker(p, pe->t, M_SWITCH)) == NULL)
                continue;
            if (strcmp(pe->old_addr, "-") == 0)
                snprintf(m->label, sizeof(m->label), "pool start %s gen %llu",
                         short_addr(r, pe->new_addr), (unsigned long long)pe->generation);
            else
                snprintf(m->label, sizeof(m->label), "+switch-master %s gen %llu",
                         short_addr(r, pe->new_addr), (unsigned long long)pe->generation);
        } else if (pe->type == POOL_EVENT_MASTER_LOST) {
            if ((m = add_marker(p, pe->t, M_FENCE)) == NULL)
                continue;
            snprintf(m->label, sizeof(m->label), "fence %s gen %llu", short_addr(r, pe->old_addr),
                     (unsigned long long)pe->generation);
        } else if (changed) {
            if ((m = add_marker(p, pe->t, M_GEN)) == NULL)
                continue;
            snprintf(m->label, sizeof(m->label), "gen %llu", (unsigned long long)pe->generation);
        } else {
            continue;
        }
        snprintf(m->tip, sizeof(m->tip), "%.3f s: pool event, generation %llu: %s", m->t,
                 (unsigned long long)pe->generation, pe->detail);
    }
    qsort(p->m, (size_t)p->nm, sizeof(*p->m), cmp_marker);
}

/* Greedy label lanes, lane 0 nearest the chart: the first lane whose last
 * label ends before this one starts. */
#define MAX_LANES 9
#define LANE_H 14
static void place_labels(plot *p, double right_limit)
{
    double occ[MAX_LANES];
    for (int i = 0; i < MAX_LANES; i++)
        occ[i] = -1e9;
    p->n_lanes = 1;
    /* A long run has no room for the grey step labels: their lines stay,
     * with the details on hover. */
    int step_labels = (p->px1 - p->px0) / (p->t_end - p->t_start) >= 25;
    for (int i = 0; i < p->nm; i++) {
        marker *m = &p->m[i];
        if (m->cat == M_STEP && !step_labels)
            m->label[0] = '\0';
        if (m->label[0] == '\0')
            continue;
        double fs = m->cat == M_STEP ? 10 : 11;
        double x = X(p, m->t), w = text_w(m->label, fs) + 6;
        m->right = x + 3 + w > right_limit;
        double from = m->right ? x - 3 - w : x;
        double to = m->right ? x + 2 : x + 3 + w;
        int best = 0;
        for (int l = 0; l < MAX_LANES; l++) {
            if (occ[l] < from) {
                best = l;
                break;
            }
            if (occ[l] < occ[best])
                best = l;
        }
        m->lane = best;
        occ[best] = to > occ[best] ? to : occ[best];
        if (best + 1 > p->n_lanes)
            p->n_lanes = best + 1;
    }
}

/* Bins: run slots summed over writers, then grouped so that a long run keeps
 * at most about 1200 bins (the file size stays bounded). */
static int make_bins(plot *p)
{
    h_run *r = p->r;
    int n_slots = 0, first = -1, last = -1;
    for (int i = 0; i < r->o.writers; i++) {
        if (r->w[i].tl_n > n_slots)
            n_slots = r->w[i].tl_n;
        if (r->w[i].tl_cap < 0)
            p->truncated = 1;
    }
    for (int s = 0; s < n_slots; s++) {
        int any = 0;
        for (int i = 0; i < r->o.writers && !any; i++) {
            const h_writer *w = &r->w[i];
            if (s >= w->tl_n)
                continue;
            for (int k = 0; k < H_TL_NODES; k++)
                any |= w->tl[s].ok[k] != 0;
            for (int k = 0; k < H_ERR_KINDS; k++)
                any |= w->tl[s].err[k] != 0;
        }
        if (any) {
            if (first < 0)
                first = s;
            last = s;
        }
    }
    double slot_s = (double)H_TL_SLOT_NS / 1e9;
    double t0 = first >= 0 ? first * slot_s : 0, t1 = last >= 0 ? (last + 1) * slot_s : 1;
    if (p->npe > 0) {
        double a = h_rel_s(r, p->pe[0].t), z = h_rel_s(r, p->pe[p->npe - 1].t);
        if (a < t0 || first < 0)
            t0 = a;
        if (z > t1)
            t1 = z;
    }
    for (int i = 0; i < p->nm; i++)
        if (p->m[i].t > t1)
            t1 = p->m[i].t;
    p->t_start = floor_pos(t0);
    p->t_end = floor_pos(t1) + 1;
    if (p->t_end - p->t_start < 5)
        p->t_end = p->t_start + 5;

    int span = (int)((p->t_end - p->t_start) / slot_s + 0.5);
    static const int steps[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000};
    p->bin_slots = steps[sizeof(steps) / sizeof(steps[0]) - 1];
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
        if (span / steps[i] <= 1200) {
            p->bin_slots = steps[i];
            break;
        }
    p->slot0 = (int)(p->t_start / slot_s + 0.5);
    p->n_bins = (span + p->bin_slots - 1) / p->bin_slots;
    p->bin_s = p->bin_slots * slot_s;
    p->ok = calloc((size_t)p->n_bins + 1, sizeof(*p->ok));
    p->err = calloc((size_t)p->n_bins + 1, sizeof(*p->err));
    if (p->ok == NULL || p->err == NULL)
        return -1;
    for (int i = 0; i < r->o.writers; i++) {
        const h_writer *w = &r->w[i];
        for (int s = p->slot0; s < w->tl_n; s++) {
            int b = (s - p->slot0) / p->bin_slots;
            if (b >= p->n_bins)
                break;
            for (int k = 0; k < H_TL_NODES; k++) {
                p->ok[b][k] += w->tl[s].ok[k];
                p->ok_total[k] += w->tl[s].ok[k];
            }
            for (int k = 0; k < H_ERR_KINDS; k++) {
                p->err[b][k] += w->tl[s].err[k];
                p->err_total[k] += w->tl[s].err[k];
            }
        }
    }
    return 0;
}

/* ---- Drawing --------------------------------------------------------------- */

static double bin_x(const plot *p, int b) { return X(p, p->t_start + (b + 0.5) * p->bin_s); }

/* One series as a line (and a light area under it), drawn only where it or a
 * neighbour is non-zero so idle nodes do not pile up on the baseline. */
static void draw_series(plot *p, const double *v, double vmax, const char *color, double width,
                        int area, int whole)
{
    int lo = 0, hi = -1; /* whole: every bin from the first to the last non-zero one */
    for (int b = 0; whole && b < p->n_bins; b++)
        if (v[b] > 0) {
            if (hi < 0)
                lo = b;
            hi = b;
        }
    FILE *f = p->f;
    double ybase = p->chart_y + p->chart_h;
    for (int pass = area ? 0 : 1; pass < 2; pass++) {
        fputs("<path d=\"", f);
        int open = 0;
        double first_x = 0, last_x = 0;
        for (int b = 0; b < p->n_bins; b++) {
            int keep = v[b] > 0 || (b > 0 && v[b - 1] > 0) || (b + 1 < p->n_bins && v[b + 1] > 0) ||
                       (b >= lo && b <= hi);
            if (!keep) {
                if (open && pass == 0)
                    fprintf(f, "L%.1f %.1fL%.1f %.1fZ", last_x, ybase, first_x, ybase);
                open = 0;
                continue;
            }
            /* Skip the middle of a flat run: same value before and after. */
            if (open && b > 0 && b + 1 < p->n_bins && v[b] == v[b - 1] && v[b] == v[b + 1])
                continue;
            double x = bin_x(p, b), y = ybase - v[b] / vmax * p->chart_h;
            fprintf(f, "%c%.1f %.1f", open ? 'L' : 'M', x, y);
            if (!open)
                first_x = x;
            last_x = x;
            open = 1;
        }
        if (open && pass == 0)
            fprintf(f, "L%.1f %.1fL%.1f %.1fZ", last_x, ybase, first_x, ybase);
        if (pass == 0)
            fprintf(f, "\" fill=\"%s\" fill-opacity=\"0.13\" stroke=\"none\"/>\n", color);
        else
            fprintf(f,
                    "\" fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\" "
                    "stroke-linejoin=\"round\"/>\n",
                    color, width);
    }
}

static void draw_time_axis(plot *p)
{
    FILE *f = p->f;
    double pps = (p->px1 - p->px0) / (p->t_end - p->t_start);
    static const int steps[] = {1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600};
    int step = 7200;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
        if (steps[i] * pps >= 48) {
            step = steps[i];
            break;
        }
    double top = p->strip_y, bottom = p->err_y + p->err_h;
    fputs("<g class=\"grid\">", f);
    long long s0 = (long long)p->t_start;
    for (long long s = (s0 + step - 1) / step * step; s <= p->t_end; s += step)
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", X(p, (double)s), top,
                X(p, (double)s), bottom);
    fputs("</g>\n<g class=\"tick\">", f);
    for (long long s = (s0 + step - 1) / step * step; s <= p->t_end; s += step)
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%lld</text>", X(p, (double)s), p->axis_y + 14, s);
    fputs("</g>\n", f);
    fprintf(f, "<line class=\"ax\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", p->px0,
            p->axis_y, p->px1, p->axis_y);
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#444\">seconds since the "
            "harness started (the clock of its log lines)</text>\n",
            (p->px0 + p->px1) / 2, p->axis_y + 32);
}

/* Event windows, trigger to settled: drawn first, under everything. */
static void draw_windows(plot *p)
{
    FILE *f = p->f;
    double bottom = p->err_y + p->err_h;
    for (int b = 1; b < p->r->n_buckets - 1; b++) {
        const h_event *e = &p->r->ev[b];
        int64_t a = atomic_load(&e->t_trigger), z = atomic_load(&e->t_end);
        if (a == 0 || z == 0)
            continue;
        double x0 = X(p, h_rel_s(p->r, a)), x1 = X(p, h_rel_s(p->r, z));
        fprintf(f,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" "
                "fill-opacity=\"0.06\"/>\n",
                x0, p->chart_y, x1 - x0, bottom - p->chart_y, e->failed ? "#b71c1c" : "#c62828");
    }
}

static void draw_markers(plot *p)
{
    FILE *f = p->f;
    double bottom = p->err_y + p->err_h;
    for (int i = 0; i < p->nm; i++) {
        const marker *m = &p->m[i];
        double x = X(p, m->t), ly = p->lane_y0 - m->lane * LANE_H;
        fprintf(f, "<g><title>");
        xml_text(f, m->tip);
        fprintf(f,
                "</title><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-width=\"%.1f\"%s%s%s/>",
                x, m->label[0] ? ly - 10 : p->strip_y, x, bottom, mcat[m->cat].color,
                mcat[m->cat].width, *mcat[m->cat].dash ? " stroke-dasharray=\"" : "",
                mcat[m->cat].dash, *mcat[m->cat].dash ? "\"" : "");
        if (m->label[0] == '\0') {
            /* no label to hover: a wider invisible line carries the tooltip */
            fprintf(f,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#fff\" "
                    "stroke-opacity=\"0\" stroke-width=\"7\"/></g>\n",
                    x, p->strip_y, x, bottom);
            continue;
        }
        fprintf(f, "<text class=\"lbl\" x=\"%.1f\" y=\"%.1f\" fill=\"%s\"%s%s>",
                m->right ? x - 3 : x + 3, ly, mcat[m->cat].color,
                m->right ? " text-anchor=\"end\"" : "",
                m->cat == M_STEP ? " font-size=\"10\"" : " font-weight=\"bold\"");
        xml_text(f, m->label);
        fputs("</text></g>\n", f);
    }
}

/* The pool's writer over time: a segment per generation, coloured by node,
 * grey while fenced (no master). */
static void draw_writer_strip(plot *p)
{
    FILE *f = p->f;
    h_run *r = p->r;
    double y = p->strip_y, h = 18;
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#333\">pool writer</text>\n",
            p->px0 - 6, y + 13);
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fafafa\" "
            "stroke=\"#ddd\"/>\n",
            p->px0, y, p->px1 - p->px0, h);
    int idx[4096];
    int n = 0;
    for (int i = 0; i < p->npe && n < (int)(sizeof(idx) / sizeof(idx[0])); i++)
        if (p->pe[i].type == POOL_EVENT_SWITCH_MASTER || p->pe[i].type == POOL_EVENT_MASTER_LOST)
            idx[n++] = i;
    for (int j = 0; j < n; j++) {
        const h_pool_event *pe = &p->pe[idx[j]];
        double a = h_rel_s(r, pe->t);
        double z = j + 1 < n ? h_rel_s(r, p->pe[idx[j + 1]].t) : p->t_end;
        double x0 = X(p, a), x1 = X(p, z);
        int fenced = pe->type == POOL_EVENT_MASTER_LOST;
        const char *color = fenced ? "url(#fenced)" : node_color(pe->new_node);
        fprintf(f, "<g><title>generation %llu from %.3f s: %s%s</title>",
                (unsigned long long)pe->generation, a,
                fenced ? "fenced, no master (was " : "writer ",
                fenced ? pe->old_addr : pe->new_addr);
        if (fenced)
            fputs(")", f);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"%s/>", x0,
                y, x1 - x0 > 0.8 ? x1 - x0 : 0.8, h, color,
                fenced ? " stroke=\"#ef6c00\" stroke-width=\"0.8\"" : " fill-opacity=\"0.75\"");
        char txt[320];
        if (fenced)
            snprintf(txt, sizeof(txt), "gen %llu fenced", (unsigned long long)pe->generation);
        else
            snprintf(txt, sizeof(txt), "gen %llu " DOT " %s", (unsigned long long)pe->generation,
                     short_addr(r, pe->new_addr));
        if (text_w(txt, 10) + 6 > x1 - x0)
            snprintf(txt, sizeof(txt), "%llu", (unsigned long long)pe->generation);
        if (text_w(txt, 10) + 4 <= x1 - x0)
            fprintf(f,
                    "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"%s\" "
                    "text-anchor=\"middle\">%s</text>",
                    (x0 + x1) / 2, y + 12.5, fenced ? "#333" : "#fff", txt);
        fputs("</g>\n", f);
    }
}

static void draw_chart(plot *p)
{
    FILE *f = p->f;
    double *v = calloc((size_t)p->n_bins + 1, sizeof(double));
    double *tot = calloc((size_t)p->n_bins + 1, sizeof(double));
    if (v == NULL || tot == NULL) {
        free(v);
        free(tot);
        return;
    }
    double vmax = 0;
    for (int b = 0; b < p->n_bins; b++) {
        for (int k = 0; k < H_TL_NODES; k++)
            tot[b] += (double)p->ok[b][k] / p->bin_s;
        if (tot[b] > vmax)
            vmax = tot[b];
    }
    vmax = nice_ceil(vmax * 1.05);
    double y0 = p->chart_y, h = p->chart_h;
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
            "stroke=\"#bbb\"/>\n",
            p->px0, y0, p->px1 - p->px0, h);
    fputs("<g class=\"grid\">", f);
    for (int i = 1; i < 5; i++)
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", p->px0,
                y0 + h - h * i / 5, p->px1, y0 + h - h * i / 5);
    fputs("</g>\n<g class=\"ytick\">", f);
    for (int i = 0; i <= 5; i++)
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%g</text>", p->px0 - 6, y0 + h - h * i / 5 + 4,
                vmax * i / 5);
    fputs("</g>\n", f);
    fprintf(f,
            "<text transform=\"translate(%.1f %.1f) rotate(-90)\" text-anchor=\"middle\" "
            "fill=\"#444\">acknowledged writes/s (%.0f ms bins)</text>\n",
            p->px0 - 52, y0 + h / 2, p->bin_s * 1000);
    draw_series(p, tot, vmax, "#b0b0b0", 3, 0, 1);
    for (int k = 0; k < H_TL_NODES; k++) {
        if (p->ok_total[k] == 0)
            continue;
        for (int b = 0; b < p->n_bins; b++)
            v[b] = (double)p->ok[b][k] / p->bin_s;
        draw_series(p, v, vmax, node_color(k), 1.6, 1, 0);
    }
    free(v);
    free(tot);
}

#define ERR_LANE_H 15
static void draw_errors(plot *p)
{
    FILE *f = p->f;
    double vmax = 0;
    for (int b = 0; b < p->n_bins; b++)
        for (int k = 0; k < H_ERR_KINDS; k++)
            if ((double)p->err[b][k] / p->bin_s > vmax)
                vmax = (double)p->err[b][k] / p->bin_s;
    char scale[64] = "no errors in the run";
    if (vmax > 0)
        snprintf(scale, sizeof(scale), "log scale, a full lane = %.0f/s", vmax);
    fprintf(f,
            "<text class=\"lbl\" x=\"%.1f\" y=\"%.1f\" fill=\"#444\">errors/s by kind (%s; "
            "hover a lane for its total)</text>\n",
            p->px0, p->err_y - 4, scale);
    double lmax = ln_approx(1 + (vmax > 0 ? vmax : 1));
    for (int k = 0; k < H_ERR_KINDS; k++) {
        double y = p->err_y + k * ERR_LANE_H, base = y + ERR_LANE_H - 1;
        fprintf(f,
                "<g><title>%s: %llu errors in the run</title><rect x=\"%.1f\" y=\"%.1f\" "
                "width=\"%.1f\" height=\"%d\" fill=\"#000\" fill-opacity=\"%s\"/>",
                h_err_name((h_errkind)k), (unsigned long long)p->err_total[k], p->px0, y,
                p->px1 - p->px0, ERR_LANE_H, k % 2 ? "0.035" : "0.015");
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"10\" "
                "fill=\"%s\">%s</text>",
                p->px0 - 6, y + 11, p->err_total[k] ? "#333" : "#aaa", h_err_name((h_errkind)k));
        if (p->err_total[k] > 0) {
            fputs("<path d=\"", f);
            double bw = (p->px1 - p->px0) / p->n_bins;
            for (int b = 0; b < p->n_bins; b++) {
                if (p->err[b][k] == 0)
                    continue;
                double rate = (double)p->err[b][k] / p->bin_s;
                double bh = (ERR_LANE_H - 2) * ln_approx(1 + rate) / lmax;
                if (bh < 2)
                    bh = 2;
                double w = bw > 3 ? bw : 3; /* a single error stays visible */
                fprintf(f, "M%.1f %.1fh%.1fv-%.1fh-%.1fz", bin_x(p, b) - w / 2, base, w, bh, w);
            }
            fprintf(f, "\" fill=\"%s\"/>", err_color[k]);
        }
        fputs("</g>\n", f);
    }
}

static double legend_title(FILE *f, double x, double y, const char *s)
{
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-weight=\"bold\" fill=\"#222\">%s</text>\n", x, y,
            s);
    return y + 16;
}

static void draw_legend(plot *p, double x, double y)
{
    FILE *f = p->f;
    h_run *r = p->r;
    y = legend_title(f, x, y, "Acknowledged writes, by node");
    for (int k = 0; k < H_TL_NODES; k++) {
        if (k == H_TL_NODES - 1 && p->ok_total[k] == 0)
            continue;
        char name[300], addr[280];
        if (k < H_TL_NODES - 1 && k >= r->n_nodes)
            continue;
        if (k < H_TL_NODES - 1)
            snprintf(name, sizeof(name), "%s%s",
                     short_addr(r, h_node_name(r, k, addr, sizeof(addr))),
                     k == 0 ? " (first master)" : "");
        else
            snprintf(name, sizeof(name), "another node");
        fprintf(f,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"18\" height=\"10\" fill=\"%s\" "
                "fill-opacity=\"0.75\"/><text x=\"%.1f\" y=\"%.1f\">%s: %llu</text>\n",
                x, y - 9, node_color(k), x + 24, y, name, (unsigned long long)p->ok_total[k]);
        y += 15;
    }
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#b0b0b0\" "
            "stroke-width=\"3\"/><text x=\"%.1f\" y=\"%.1f\">all nodes</text>\n",
            x, y - 4, x + 18, y - 4, x + 24, y);
    y += 15;
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"18\" height=\"10\" fill=\"url(#fenced)\" "
            "stroke=\"#ef6c00\" stroke-width=\"0.8\"/><text x=\"%.1f\" y=\"%.1f\">pool writer "
            "fenced (no master)</text>\n",
            x, y - 9, x + 24, y);
    y += 22;
    y = legend_title(f, x, y, "Markers");
    for (int c = 0; c < M_CATS; c++) {
        int two = *mcat[c].name2 != '\0';
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-width=\"%.1f\"%s%s%s/><text x=\"%.1f\" y=\"%.1f\">",
                x + 9, y - 11, x + 9, y + (two ? 15 : 3), mcat[c].color, mcat[c].width,
                *mcat[c].dash ? " stroke-dasharray=\"" : "", mcat[c].dash,
                *mcat[c].dash ? "\"" : "", x + 24, y);
        fputs(mcat[c].name, f);
        if (two) {
            fprintf(f, "</text><text x=\"%.1f\" y=\"%.1f\">%s", x + 24, y + 13, mcat[c].name2);
            y += 13;
        }
        fputs("</text>\n", f);
        y += 17;
    }
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"18\" height=\"10\" fill=\"#c62828\" "
            "fill-opacity=\"0.12\"/><text x=\"%.1f\" y=\"%.1f\">event: fault to settled</text>\n",
            x, y - 9, x + 24, y);
    y += 22;
    y = legend_title(f, x, y, "Errors in the run");
    for (int k = 0; k < H_ERR_KINDS; k++) {
        fprintf(f,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"18\" height=\"10\" fill=\"%s\"/><text "
                "x=\"%.1f\" y=\"%.1f\">%s: %llu</text>\n",
                x, y - 9, err_color[k], x + 24, y, h_err_name((h_errkind)k),
                (unsigned long long)p->err_total[k]);
        y += 15;
    }
    if (p->truncated)
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" fill=\"#c62828\">timeline incomplete (out of "
                "memory)</text>\n",
                x, y + 6);
}

static void scenario_text(const h_run *r, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < r->o.n_plan_kinds && used + 1 < len; i++) {
        int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
                         h_kind_name(r->o.plan_kinds[i]));
        if (n < 0)
            break;
        used += (size_t)n;
    }
    if (r->o.failovers > 1 && used + 1 < len)
        snprintf(buf + used, len - used, " " TIMES " %d", r->o.failovers);
}

int h_plot_write(h_run *r, int failed)
{
    plot P, *p = &P;
    memset(p, 0, sizeof(*p));
    p->r = r;
    int rc = -1;

    pthread_mutex_lock(&r->plog_mu);
    p->npe = r->plog_n;
    p->pe = malloc((size_t)(p->npe > 0 ? p->npe : 1) * sizeof(*p->pe));
    if (p->pe != NULL && p->npe > 0)
        memcpy(p->pe, r->plog, (size_t)p->npe * sizeof(*p->pe));
    pthread_mutex_unlock(&r->plog_mu);
    if (p->pe == NULL)
        goto out;
    qsort(p->pe, (size_t)p->npe, sizeof(*p->pe), cmp_pe);
    collect_markers(p);
    if (make_bins(p) != 0)
        goto out;

    const double W = 1420, legend_w = 280;
    p->px0 = 92;
    p->px1 = W - legend_w - 24;
    place_labels(p, W - legend_w);
    double label_top = 66;
    p->lane_y0 = label_top + p->n_lanes * LANE_H; /* baseline of lane 0 */
    p->strip_y = p->lane_y0 + 6;
    p->chart_y = p->strip_y + 18 + 8;
    p->chart_h = 330;
    p->err_y = p->chart_y + p->chart_h + 22;
    p->err_h = H_ERR_KINDS * ERR_LANE_H;
    p->axis_y = p->err_y + p->err_h + 2;
    double H = p->axis_y + 44;
    if (H < 620)
        H = 620;

    p->f = fopen(r->o.plot, "w");
    if (p->f == NULL) {
        perror(r->o.plot);
        goto out;
    }
    FILE *f = p->f;
    char scen[256], date[64] = "";
    scenario_text(r, scen, sizeof(scen));
    time_t start = time(NULL) - (time_t)((h_now_ns() - r->t0) / 1000000000);
    struct tm tm;
    if (localtime_r(&start, &tm) != NULL)
        strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S %Z", &tm);
    int n_events = r->n_buckets - 2;

    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" "
            "font-size=\"11\">\n",
            W, H, W, H);
    fputs("<title>sentinel-pool-check timeline</title>\n"
          "<style>.grid line{stroke:#e6e6e6;stroke-width:1}.ax{stroke:#666}"
          ".tick text{text-anchor:middle;fill:#444}.ytick text{text-anchor:end;fill:#444}"
          ".lbl{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}</style>\n"
          "<defs><pattern id=\"fenced\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
          "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#eee\"/>"
          "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#bbb\" stroke-width=\"3\"/>"
          "</pattern></defs>\n",
          f);
    fprintf(f, "<rect width=\"%.0f\" height=\"%.0f\" fill=\"#fff\"/>\n", W, H);
    fprintf(f,
            "<text x=\"%.1f\" y=\"26\" font-size=\"18\" font-weight=\"bold\" fill=\"#222\">"
            "Failover timeline: ",
            p->px0);
    xml_text(f, scen);
    fprintf(f, " " DOT " %s " DOT " <tspan fill=\"%s\">%s</tspan></text>\n", date,
            failed ? "#c62828" : "#2e7d32", failed ? "FAIL" : "PASS");
    char pace[48];
    if (r->o.rate)
        snprintf(pace, sizeof(pace), "%d writes/s", r->o.rate);
    else
        snprintf(pace, sizeof(pace), "unthrottled");
    char fm[300];
    fprintf(f,
            "<text x=\"%.1f\" y=\"46\" fill=\"#555\">%d writers " TIMES " %s " DOT
            " %d event%s " DOT " final master %s " DOT " hover a label for details</text>\n",
            p->px0, r->o.writers, pace, n_events, n_events == 1 ? "" : "s",
            h_node_name(r, r->final_master, fm, sizeof(fm)));
    draw_windows(p);
    draw_time_axis(p);
    draw_writer_strip(p);
    draw_chart(p);
    draw_errors(p);
    draw_markers(p);
    draw_legend(p, W - legend_w + 6, p->strip_y + 10);
    fputs("</svg>\n", f);
    if (ferror(f) | (fclose(f) != 0)) {
        perror(r->o.plot);
        goto out;
    }
    char abs[PATH_MAX];
    printf("Timeline written to %s: open it in a browser\n",
           realpath(r->o.plot, abs) != NULL ? abs : r->o.plot);
    fflush(stdout);
    rc = 0;
out:
    if (rc != 0)
        fprintf(stderr, "sentinel-pool-check: could not write the timeline %s\n", r->o.plot);
    free(p->pe);
    free(p->m);
    free(p->ok);
    free(p->err);
    return rc;
}
