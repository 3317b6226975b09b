/* Clocks, process figures and medians. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t bench_cpu_ns(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

long bench_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

long bench_heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (long)(mi.uordblks + mi.hblkhd);
}

void bench_sleep_s(double s)
{
    int64_t ns = (int64_t)(s * 1e9);
    struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int bench_slices(double total, double slice, double *len)
{
    int n = (int)(total / slice + 0.5);
    if (n < 1)
        n = 1;
    if (n > BENCH_MAX_SLICES)
        n = BENCH_MAX_SLICES;
    *len = total / n;
    return n;
}

void series_add(bench_series *s, double x)
{
    if (s->n < BENCH_MAX_REPS)
        s->v[s->n++] = x;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median_of(double *v, int n)
{
    if (n <= 0)
        return 0;
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double series_median(const bench_series *s)
{
    double v[BENCH_MAX_REPS];
    memcpy(v, s->v, sizeof(double) * (size_t)s->n);
    return bench_median_of(v, s->n);
}

double series_min(const bench_series *s)
{
    double m = s->n ? s->v[0] : 0;
    for (int i = 1; i < s->n; i++)
        m = s->v[i] < m ? s->v[i] : m;
    return m;
}

double series_max(const bench_series *s)
{
    double m = s->n ? s->v[0] : 0;
    for (int i = 1; i < s->n; i++)
        m = s->v[i] > m ? s->v[i] : m;
    return m;
}

void bench_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2); /* the atexit handler stops the server */
}

void bench_raise_nofile(long want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || (long)rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || (long)rl.rlim_max >= want ? (rlim_t)want
                                                                              : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || (long)rl.rlim_cur < want)
        fprintf(stderr, "bench: RLIMIT_NOFILE is %ld, wanted %ld\n", (long)rl.rlim_cur, want);
}

/* ---- What else ran on the machine ----------------------------------------- */

static int64_t ticks_to_ns(unsigned long long t)
{
    long hz = sysconf(_SC_CLK_TCK);
    return (int64_t)(t * (1000000000ULL / (unsigned long long)(hz > 0 ? hz : 100)));
}

static int64_t proc_cpu_ns(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long ut = 0, st = 0;
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return ticks_to_ns(ut + st);
}

void bench_load_take(bench_load *l, pid_t redis_pid)
{
    memset(l, 0, sizeof(*l));
    l->wall_ns = bench_now_ns();
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[8] = {0};
    if (f != NULL) {
        if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]) != 8)
            memset(v, 0, sizeof(v));
        fclose(f);
    }
    /* user nice system idle iowait irq softirq steal */
    l->busy_ns = ticks_to_ns(v[0] + v[1] + v[2] + v[5] + v[6]);
    l->steal_ns = ticks_to_ns(v[7]);
    struct rusage kids;
    getrusage(RUSAGE_CHILDREN, &kids);
    l->ours_ns = bench_cpu_ns() + ((int64_t)kids.ru_utime.tv_sec + kids.ru_stime.tv_sec) * 1000000000 +
                 ((int64_t)kids.ru_utime.tv_usec + kids.ru_stime.tv_usec) * 1000;
    if (redis_pid > 0)
        l->ours_ns += proc_cpu_ns(redis_pid);
}

void bench_load_diff(const bench_load *a, const bench_load *b, double *others_cpus,
                     double *steal_cpus)
{
    double wall = (double)(b->wall_ns - a->wall_ns);
    double others = (double)((b->busy_ns - a->busy_ns) - (b->ours_ns - a->ours_ns));
    *others_cpus = wall > 0 && others > 0 ? others / wall : 0;
    *steal_cpus = wall > 0 ? (double)(b->steal_ns - a->steal_ns) / wall : 0;
}
