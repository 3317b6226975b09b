/* A/B interleaving with the same threads: every worker thread can do the
 * work of each mode (say A = through the pool, B = on its own dedicated
 * connection); the main thread switches all of them from one mode to the
 * next every slice, A B A B ..., and books wall and process CPU time to the
 * mode that ran. The same threads on the same CPUs do both sides, so the
 * scheduler's placement and a burst of someone else's load land on both
 * sides alike. */
#ifndef SPOOL_BENCH_PHASE_H
#define SPOOL_BENCH_PHASE_H

#include <stdint.h>

#include "bench.h"

#define PHASE_MAX_MODES 8
#define PHASE_MAX_THREADS 256

/* One unit of work by one thread in one mode: returns the operations it
 * completed and adds failures to *errors. */
typedef uint64_t (*phase_step_fn)(void *garg, void *targ, int mode, uint64_t *errors);

typedef struct phase_runner phase_runner;

typedef struct phase_totals_t {
    uint64_t ops, errors;
    double wall_s, cpu_s; /* summed over the slices the mode ran */
} phase_totals_t;

/* One slice as booked: the mode that ran, what it did, how long it took. */
typedef struct phase_slice {
    int mode;
    uint64_t ops;
    double wall_s, cpu_s;
} phase_slice;

#define PHASE_MAX_SLICES 4096

/* Start nthreads threads, paused; targs[i] (or NULL) is thread i's argument. */
phase_runner *phase_new(int nthreads, phase_step_fn step, void *garg, void **targs);
/* Switch every thread to mode and let it run for seconds. The switch itself
 * ends the previous slice's accounting. */
void phase_run(phase_runner *r, int mode, double seconds);
/* Pause the threads (ends the current slice). */
void phase_pause(phase_runner *r);
/* Forget everything counted so far (after a warm-up). Threads are paused. */
void phase_reset(phase_runner *r);
void phase_totals(phase_runner *r, int mode, phase_totals_t *out);
/* The slices booked since the last reset, in order. */
int phase_slices(phase_runner *r, const phase_slice **out);

/* Robust figures from the slices of one repetition: modes ran in rounds of
 * nmodes slices, each mode once per round. Medians over the rounds, so a
 * round disturbed by the scheduler or by another process counts once. */
double phase_median_rate(const phase_slice *s, int n, int mode);       /* ops/s */
double phase_median_wall_per_op(const phase_slice *s, int n, int mode); /* s */
double phase_median_cpu_per_op(const phase_slice *s, int n, int mode);  /* s */
/* Per round: rate(a) / rate(b), and cpu_per_op(a) - cpu_per_op(b). */
double phase_median_ratio(const phase_slice *s, int n, int nmodes, int a, int b);
double phase_median_cpu_diff(const phase_slice *s, int n, int nmodes, int a, int b);
/* Stop and join every thread. */
void phase_free(phase_runner *r);

#endif
