/* See phase.h. Worker counters are written only by their thread (plain
 * load + store of a relaxed atomic, no locked instruction) and read by the
 * main thread when it books a slice. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "phase.h"

#define MODE_PAUSE (-1)
#define MODE_QUIT (-2)

typedef struct phase_thread {
    _Atomic uint64_t ops[PHASE_MAX_MODES];
    _Atomic uint64_t errors[PHASE_MAX_MODES];
    phase_runner *r;
    void *targ;
    pthread_t th;
} __attribute__((aligned(64))) phase_thread;

struct phase_runner {
    _Atomic int mode;
    char pad_[60]; /* the workers read mode on every step; keep it alone */
    pthread_mutex_t mu;
    pthread_cond_t resume;
    phase_step_fn step;
    void *garg;
    int nthreads;
    phase_thread *t;
    int cur;                 /* mode being booked, or MODE_PAUSE */
    int64_t mark_ns, mark_cpu;
    double wall_s[PHASE_MAX_MODES], cpu_s[PHASE_MAX_MODES];
    uint64_t base_ops[PHASE_MAX_MODES], base_err[PHASE_MAX_MODES];
    uint64_t mark_ops; /* the current mode's counter sum when its slice began */
    int nslices;
    phase_slice slices[PHASE_MAX_SLICES];
};

static void bump(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static void *phase_main(void *arg)
{
    phase_thread *t = arg;
    phase_runner *r = t->r;
    for (;;) {
        int m = atomic_load_explicit(&r->mode, memory_order_relaxed);
        if (m >= 0) {
            uint64_t err = 0;
            bump(&t->ops[m], r->step(r->garg, t->targ, m, &err));
            if (err)
                bump(&t->errors[m], err);
            continue;
        }
        if (m == MODE_QUIT)
            break;
        pthread_mutex_lock(&r->mu);
        while (atomic_load(&r->mode) == MODE_PAUSE)
            pthread_cond_wait(&r->resume, &r->mu);
        pthread_mutex_unlock(&r->mu);
    }
    return NULL;
}

phase_runner *phase_new(int nthreads, phase_step_fn step, void *garg, void **targs)
{
    if (nthreads < 1 || nthreads > PHASE_MAX_THREADS)
        bench_die("phase runner: bad thread count %d", nthreads);
    /* aligned_alloc wants a size that is a multiple of the alignment. */
    size_t rsize = (sizeof(phase_runner) + 63) / 64 * 64;
    phase_runner *r = aligned_alloc(64, rsize);
    phase_thread *t = aligned_alloc(64, sizeof(*t) * (size_t)nthreads);
    if (r == NULL || t == NULL)
        bench_die("out of memory");
    memset(r, 0, rsize);
    memset(t, 0, sizeof(*t) * (size_t)nthreads);
    atomic_init(&r->mode, MODE_PAUSE);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->resume, NULL);
    r->step = step;
    r->garg = garg;
    r->nthreads = nthreads;
    r->t = t;
    r->cur = MODE_PAUSE;
    for (int i = 0; i < nthreads; i++) {
        t[i].r = r;
        t[i].targ = targs != NULL ? targs[i] : NULL;
        if (pthread_create(&t[i].th, NULL, phase_main, &t[i]) != 0)
            bench_die("pthread_create failed");
    }
    return r;
}

static uint64_t sum_ops(phase_runner *r, int mode)
{
    uint64_t n = 0;
    for (int i = 0; i < r->nthreads; i++)
        n += atomic_load_explicit(&r->t[i].ops[mode], memory_order_relaxed);
    return n;
}

/* Book the slice that ends now to the mode that ran, then switch. An
 * operation in flight at the switch is counted in its mode's next slice. */
static void switch_to(phase_runner *r, int mode)
{
    int64_t now = bench_now_ns(), cpu = bench_cpu_ns();
    if (r->cur >= 0) {
        double wall = (double)(now - r->mark_ns) / 1e9, used = (double)(cpu - r->mark_cpu) / 1e9;
        uint64_t ops = sum_ops(r, r->cur);
        r->wall_s[r->cur] += wall;
        r->cpu_s[r->cur] += used;
        if (r->nslices < PHASE_MAX_SLICES)
            r->slices[r->nslices++] =
                (phase_slice){.mode = r->cur, .ops = ops - r->mark_ops, .wall_s = wall, .cpu_s = used};
    }
    r->cur = mode;
    r->mark_ns = now;
    r->mark_cpu = cpu;
    if (mode >= 0)
        r->mark_ops = sum_ops(r, mode);
    pthread_mutex_lock(&r->mu);
    int was = atomic_exchange(&r->mode, mode);
    if (was == MODE_PAUSE && mode != MODE_PAUSE)
        pthread_cond_broadcast(&r->resume);
    pthread_mutex_unlock(&r->mu);
}

void phase_run(phase_runner *r, int mode, double seconds)
{
    if (mode < 0 || mode >= PHASE_MAX_MODES)
        bench_die("phase runner: bad mode %d", mode);
    switch_to(r, mode);
    bench_sleep_s(seconds);
}

void phase_pause(phase_runner *r) { switch_to(r, MODE_PAUSE); }

static void sum_counters(phase_runner *r, int mode, uint64_t *ops, uint64_t *errors)
{
    *ops = *errors = 0;
    for (int i = 0; i < r->nthreads; i++) {
        *ops += atomic_load_explicit(&r->t[i].ops[mode], memory_order_relaxed);
        *errors += atomic_load_explicit(&r->t[i].errors[mode], memory_order_relaxed);
    }
}

void phase_reset(phase_runner *r)
{
    phase_pause(r);
    for (int m = 0; m < PHASE_MAX_MODES; m++) {
        sum_counters(r, m, &r->base_ops[m], &r->base_err[m]);
        r->wall_s[m] = r->cpu_s[m] = 0;
    }
    r->nslices = 0;
}

int phase_slices(phase_runner *r, const phase_slice **out)
{
    *out = r->slices;
    return r->nslices;
}

/* f(slice) for the slices of one mode; empty slices have no per-op figure. */
static double median_over(const phase_slice *s, int n, int mode, int what)
{
    double *v = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    if (v == NULL)
        bench_die("out of memory");
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (s[i].mode != mode || s[i].wall_s <= 0 || (what != 0 && s[i].ops == 0))
            continue;
        v[k++] = what == 0   ? (double)s[i].ops / s[i].wall_s
                 : what == 1 ? s[i].wall_s / (double)s[i].ops
                             : s[i].cpu_s / (double)s[i].ops;
    }
    double m = bench_median_of(v, k);
    free(v);
    return m;
}

double phase_median_rate(const phase_slice *s, int n, int mode) { return median_over(s, n, mode, 0); }
double phase_median_wall_per_op(const phase_slice *s, int n, int mode)
{
    return median_over(s, n, mode, 1);
}
double phase_median_cpu_per_op(const phase_slice *s, int n, int mode)
{
    return median_over(s, n, mode, 2);
}

/* Per round of nmodes slices: the figure of a against that of b. */
static double median_per_round(const phase_slice *s, int n, int nmodes, int a, int b, int what)
{
    int rounds = n / nmodes;
    double *v = malloc(sizeof(double) * (size_t)(rounds > 0 ? rounds : 1));
    if (v == NULL)
        bench_die("out of memory");
    int k = 0;
    for (int r = 0; r < rounds; r++) {
        const phase_slice *sa = NULL, *sb = NULL;
        for (int i = r * nmodes; i < (r + 1) * nmodes; i++) {
            if (s[i].mode == a)
                sa = &s[i];
            if (s[i].mode == b)
                sb = &s[i];
        }
        if (sa == NULL || sb == NULL || sa->wall_s <= 0 || sb->wall_s <= 0 || sb->ops == 0)
            continue;
        if (what == 0) {
            v[k++] = ((double)sa->ops / sa->wall_s) / ((double)sb->ops / sb->wall_s);
        } else if (sa->ops > 0) {
            v[k++] = sa->cpu_s / (double)sa->ops - sb->cpu_s / (double)sb->ops;
        }
    }
    double m = bench_median_of(v, k);
    free(v);
    return m;
}

double phase_median_ratio(const phase_slice *s, int n, int nmodes, int a, int b)
{
    return median_per_round(s, n, nmodes, a, b, 0);
}

double phase_median_cpu_diff(const phase_slice *s, int n, int nmodes, int a, int b)
{
    return median_per_round(s, n, nmodes, a, b, 1);
}

void phase_totals(phase_runner *r, int mode, phase_totals_t *out)
{
    sum_counters(r, mode, &out->ops, &out->errors);
    out->ops -= r->base_ops[mode];
    out->errors -= r->base_err[mode];
    out->wall_s = r->wall_s[mode];
    out->cpu_s = r->cpu_s[mode];
}

void phase_free(phase_runner *r)
{
    switch_to(r, MODE_QUIT);
    pthread_mutex_lock(&r->mu);
    pthread_cond_broadcast(&r->resume);
    pthread_mutex_unlock(&r->mu);
    for (int i = 0; i < r->nthreads; i++)
        pthread_join(r->t[i].th, NULL);
    pthread_cond_destroy(&r->resume);
    pthread_mutex_destroy(&r->mu);
    free(r->t);
    free(r);
}
