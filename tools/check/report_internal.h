/* report_internal.h: figures shared by report.c and json.c. */
#ifndef SENTINEL_POOL_HARNESS_REPORT_INTERNAL_H
#define SENTINEL_POOL_HARNESS_REPORT_INTERNAL_H

#include "harness.h"

typedef struct ev_sum {
    uint64_t ok, err[H_ERR_KINDS], ro_after, ro_before, ambiguous, lost, dup, rewinds;
    uint64_t lost_max_writer, old_after_switch, old_after_switch_max;
    int n_out, not_recovered;
    double out_med_ms, out_max_ms, stall_max_ms;
    double first_new_s; /* after the trigger, -1 = none */
} ev_sum;

typedef struct kind_sum {
    int events;
    uint64_t lost, dup, ambiguous, err[H_ERR_KINDS], ro_after, ok;
    double *outages;
    int n_out;
    double switch_sum, first_new_sum;
    int switch_n, first_new_n;
    uint64_t old_after_switch, old_after_switch_max, rewinds;
    double stall_max_ms;
} kind_sum;

#define MAX_INV 16
typedef struct inv {
    const char *name;
    int pass;
    char detail[400];
} inv;

/* Median of v[0..n) (sorts v); 0 when n == 0. */
double h_median(double *v, int n);
/* The largest of v[0..n), 0 when n is 0. */
double h_max(const double *v, int n);
/* Seconds from the event's trigger to t; -1 when either is unset. */
double h_rel_trigger(const h_event *e, int64_t t);
/* report_sentinel.c: figures against Sentinel's +switch-master (signed). */
void h_sw_header(char *buf, size_t len);                  /* summary table columns */
void h_sw_cells(const h_run *r, int b, char *buf, size_t len);
void h_sw_print_legend(void);
void h_sw_print_kind(const h_run *r, h_kind k);           /* per-kind lines */
void h_sw_print_totals(const h_run *r);
void h_sw_json_event(FILE *f, const h_run *r, int b);     /* , "sentinel": {...} */
void h_sw_json_kind(FILE *f, const h_run *r, h_kind k);   /* , "sentinel": {...} */
void h_sw_json_totals(FILE *f, const h_run *r);           /* "sentinel_watch": {...}, */
/* Write the figures to r->o.json; 0 or -1 (after perror). */
int h_write_json(h_run *r, const ev_sum *sums, kind_sum *ks, const inv *v, int nv, int failed);

#endif
