/* Section 1: the cost of pool_get_writer() + pool_put() with no command in
 * between, next to a plain mutex + condition variable free list (what a
 * straightforward pool does), the same threads alternating between the two
 * in short slices (phase.h). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "phase.h"

#define CYCLE_BATCH 256
#define MPOOL_MAX 64

/* The baseline: a LIFO of free items under one mutex; waiters sleep on a
 * condition variable when it is empty. */
typedef struct mpool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int nfree, waiters;
    void *items[MPOOL_MAX];
} mpool;

static void mpool_init(mpool *m, int n)
{
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    m->waiters = 0;
    m->nfree = n;
    for (int i = 0; i < n; i++)
        m->items[i] = &m->items[i];
}

static void *mpool_get(mpool *m)
{
    pthread_mutex_lock(&m->mu);
    while (m->nfree == 0) {
        m->waiters++;
        pthread_cond_wait(&m->cv, &m->mu);
        m->waiters--;
    }
    void *x = m->items[--m->nfree];
    pthread_mutex_unlock(&m->mu);
    return x;
}

static void mpool_put(mpool *m, void *x)
{
    pthread_mutex_lock(&m->mu);
    m->items[m->nfree++] = x;
    if (m->waiters > 0)
        pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

enum { MODE_POOL = 0, MODE_MUTEX = 1 };

typedef struct cyc_ctx {
    pool_t *pool;
    mpool *mp;
} cyc_ctx;

/* One step: CYCLE_BATCH get+put pairs on the pool or on the baseline. */
static uint64_t cycle_step(void *garg, void *targ, int mode, uint64_t *errors)
{
    (void)targ;
    cyc_ctx *x = garg;
    uint64_t n = 0;
    if (mode == MODE_MUTEX) {
        for (int i = 0; i < CYCLE_BATCH; i++)
            mpool_put(x->mp, mpool_get(x->mp));
        return CYCLE_BATCH;
    }
    for (int i = 0; i < CYCLE_BATCH; i++) {
        redisContext *c;
        if (pool_get_writer(x->pool, &c) != 0) {
            (*errors)++;
            continue;
        }
        pool_put(x->pool, c);
        n++;
    }
    return n;
}

static pool_t *warm_pool(const bench_server *srv, int size)
{
    pool_options_t o;
    bench_pool_options(srv, &o);
    o.max_connections = size;
    o.validate = POOL_VALIDATE_NEVER;
    pool_t *p = NULL;
    int rc = pool_create(&o, &p);
    if (rc != 0)
        bench_die("pool_create: %s", pool_err_name(rc));
    /* Open every connection now, so the loop only ever finds idle ones. */
    redisContext *held[MPOOL_MAX];
    for (int i = 0; i < size; i++)
        if ((rc = pool_get_writer(p, &held[i])) != 0)
            bench_die("warm-up pool_get_writer: %s", pool_err_name(rc));
    for (int i = 0; i < size; i++)
        pool_put(p, held[i]);
    return p;
}

int bench_cycles(const bench_opts *o, const bench_server *srv, cycle_row *rows, int maxrows)
{
    static const int sizes[] = {8, 64};
    static const int threads[] = {1, 2, 8, 32};
    const int nsizes = 2, nthreads = 4;
    if (maxrows < nsizes * nthreads)
        return 0;
    pool_t *pools[2];
    mpool *mps[2];
    for (int s = 0; s < nsizes; s++) {
        pools[s] = warm_pool(srv, sizes[s]);
        mps[s] = malloc(sizeof(mpool));
        if (mps[s] == NULL)
            bench_die("out of memory");
        mpool_init(mps[s], sizes[s]);
    }
    int nrows = 0;
    for (int s = 0; s < nsizes; s++)
        for (int t = 0; t < nthreads; t++) {
            memset(&rows[nrows], 0, sizeof(rows[nrows]));
            rows[nrows].pool_size = sizes[s];
            rows[nrows].threads = threads[t];
            nrows++;
        }
    double slice;
    int slices = bench_slices(o->cycle_seconds, BENCH_CYCLE_SLICE_S, &slice);
    for (int rep = 0; rep < o->reps; rep++) {
        for (int r = 0; r < nrows; r++) {
            cycle_row *row = &rows[r];
            int s = row->pool_size == sizes[0] ? 0 : 1;
            pool_stats_t before, after;
            cyc_ctx x = {.pool = pools[s], .mp = mps[s]};
            phase_runner *pr = phase_new(row->threads, cycle_step, &x, NULL);
            phase_run(pr, MODE_POOL, 0.01); /* warm-up, not counted */
            phase_run(pr, MODE_MUTEX, 0.01);
            phase_reset(pr);
            pool_stats(pools[s], &before);
            for (int i = 0; i < slices; i++) {
                phase_run(pr, MODE_POOL, slice);
                phase_run(pr, MODE_MUTEX, slice);
            }
            phase_pause(pr);
            phase_totals_t a, b;
            phase_totals(pr, MODE_POOL, &a);
            phase_totals(pr, MODE_MUTEX, &b);
            const phase_slice *sl;
            int ns = phase_slices(pr, &sl);
            series_add(&row->pool_ns, phase_median_wall_per_op(sl, ns, MODE_POOL) * 1e9);
            series_add(&row->pool_cpu_ns, phase_median_cpu_per_op(sl, ns, MODE_POOL) * 1e9);
            series_add(&row->base_ns, phase_median_wall_per_op(sl, ns, MODE_MUTEX) * 1e9);
            series_add(&row->base_cpu_ns, phase_median_cpu_per_op(sl, ns, MODE_MUTEX) * 1e9);
            phase_free(pr);
            pool_stats(pools[s], &after);
            row->errors += a.errors + b.errors;
            row->waits += after.waits - before.waits;
            row->checkouts += after.checkouts - before.checkouts;
        }
        fprintf(stderr, "  checkout cycle: rep %d/%d done\n", rep + 1, o->reps);
    }
    for (int s = 0; s < nsizes; s++) {
        pool_destroy(pools[s]);
        pthread_mutex_destroy(&mps[s]->mu);
        pthread_cond_destroy(&mps[s]->cv);
        free(mps[s]);
    }
    return nrows;
}
