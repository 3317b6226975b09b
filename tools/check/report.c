/* report.c: the figures per event and per kind, the invariants, the summary
 * table (and, through json.c, the JSON file). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "report_internal.h"

/* ---- Figures ------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double h_max(const double *v, int n)
{
    double mx = 0; /* figures here are durations and counts: never below 0 */
    for (int i = 0; i < n; i++)
        if (v[i] > mx)
            mx = v[i];
    return mx;
}

double h_median(double *v, int n)
{
    if (n == 0)
        return 0;
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void sum_event(const h_run *r, int b, ev_sum *s, double *outages)
{
    memset(s, 0, sizeof(*s));
    s->first_new_s = -1;
    const h_event *e = &r->ev[b];
    int64_t trig = atomic_load(&e->t_trigger);
    for (int i = 0; i < r->o.writers; i++) {
        const h_writer *w = &r->w[i];
        const h_wbucket *hb = &w->b[b];
        s->ok += hb->ok;
        for (int k = 0; k < H_ERR_KINDS; k++)
            s->err[k] += hb->err[k];
        s->ro_after += hb->readonly_after;
        s->ambiguous += hb->ambiguous;
        s->rewinds += hb->rewinds;
        s->old_after_switch += hb->old_after_switch;
        if (hb->old_after_switch > s->old_after_switch_max)
            s->old_after_switch_max = hb->old_after_switch;
        s->lost += w->lost_by_bucket[b];
        s->dup += w->dup_by_bucket[b];
        if (w->lost_by_bucket[b] > s->lost_max_writer)
            s->lost_max_writer = w->lost_by_bucket[b];
        if (trig == 0)
            continue;
        if (hb->first_ok_after == 0) {
            s->not_recovered++;
        } else {
            outages[s->n_out++] = (double)hb->out_gap / 1e6;
            if ((double)hb->max_gap / 1e6 > s->stall_max_ms)
                s->stall_max_ms = (double)hb->max_gap / 1e6;
        }
        if (hb->first_new != 0) {
            double fn = (double)(hb->first_new - trig) / 1e9;
            if (s->first_new_s < 0 || fn < s->first_new_s)
                s->first_new_s = fn;
        }
    }
    s->ro_before = s->err[H_ERR_READONLY] - s->ro_after;
    if (s->n_out > 0) {
        s->out_max_ms = 0;
        for (int i = 0; i < s->n_out; i++)
            if (outages[i] > s->out_max_ms)
                s->out_max_ms = outages[i];
        s->out_med_ms = h_median(outages, s->n_out);
    }
}

double h_rel_trigger(const h_event *e, int64_t t)
{
    int64_t trig = atomic_load(&e->t_trigger);
    return t != 0 && trig != 0 ? (double)(t - trig) / 1e9 : -1.0;
}

static void fmt_s(char *buf, size_t len, double v)
{
    if (v < 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.2f", v);
}

/* ---- Invariants --------------------------------------------------------- */


static int lost_must_be_zero(h_kind k)
{
    return k == H_START || k == H_KILL_SENTINEL || k == H_WAIT || k == H_TAIL;
}

static int check_invariants(h_run *r, inv *v)
{
    int n = 0;
    uint64_t ro_after = 0, ro_before = 0;
    for (int b = 0; b < r->n_buckets; b++)
        for (int i = 0; i < r->o.writers; i++) {
            ro_after += r->w[i].b[b].readonly_after;
            ro_before += r->w[i].b[b].err[H_ERR_READONLY] - r->w[i].b[b].readonly_after;
        }
    v[n] = (inv){"1 no READONLY after the pool switched", ro_after == 0, ""};
    snprintf(v[n].detail, sizeof(v[n].detail),
             "%llu READONLY replies on connections handed out after the pool's SWITCH_MASTER "
             "(target 0); %llu before it (the pool could not know yet)",
             (unsigned long long)ro_after, (unsigned long long)ro_before);
    n++;

    int g_bad = 0, z_bad = 0;
    uint64_t g_max = 0;
    char zwhere[160] = "";
    for (int b = 0; b < r->n_buckets; b++) {
        const h_event *e = &r->ev[b];
        for (int i = 0; i < r->o.writers; i++) {
            uint64_t l = r->w[i].lost_by_bucket[b];
            if (e->kind == H_GRACEFUL) {
                if (l > g_max)
                    g_max = l;
                if (l > 1)
                    g_bad++;
            } else if (lost_must_be_zero(e->kind) && l > 0) {
                if (!z_bad)
                    snprintf(zwhere, sizeof(zwhere), " (first: %s #%d, writer %d, %llu lost)",
                             h_kind_name(e->kind), e->round, i, (unsigned long long)l);
                z_bad++;
            }
        }
    }
    v[n] = (inv){"2a graceful failover loses <= 1 write per writer", g_bad == 0, ""};
    snprintf(v[n].detail, sizeof(v[n].detail),
             "worst writer lost %llu acknowledged writes in one graceful failover; %d "
             "writer/failover pairs above 1",
             (unsigned long long)g_max, g_bad);
    n++;
    v[n] = (inv){"2b no loss without a failover", z_bad == 0, ""};
    snprintf(v[n].detail, sizeof(v[n].detail),
             "%d writer/bucket pairs lost writes during warm-up, kill-sentinel, wait or tail%s",
             z_bad, zwhere);
    n++;

    int incons = 0, phantom = 0;
    for (int i = 0; i < r->o.writers; i++) {
        if (r->w[i].counter != r->w[i].llen)
            incons++;
        phantom += r->w[i].phantom > 0;
    }
    v[n] = (inv){"2c data consistent on the final master",
                 !r->verify_failed && incons == 0 && phantom == 0, ""};
    if (r->verify_failed)
        snprintf(v[n].detail, sizeof(v[n].detail), "could not read back: %s", r->verify_note);
    else
        snprintf(v[n].detail, sizeof(v[n].detail),
                 "%d writers with counter != list length (MULTI/EXEC is atomic), %d with "
                 "sequence numbers never attempted",
                 incons, phantom);
    n++;

    int not_rec = 0, failed = 0;
    char fwhere[300] = "";
    for (int b = 1; b < r->n_buckets - 1; b++) {
        const h_event *e = &r->ev[b];
        if (e->failed && !failed)
            snprintf(fwhere, sizeof(fwhere), ": %s #%d: %s", h_kind_name(e->kind), e->round,
                     e->note);
        failed += e->failed;
        if (atomic_load(&e->t_trigger) == 0)
            continue;
        for (int i = 0; i < r->o.writers; i++)
            not_rec += r->w[i].b[b].first_ok_after == 0;
    }
    v[n] = (inv){"2d every event completed and the pool followed the master", failed == 0, ""};
    snprintf(v[n].detail, sizeof(v[n].detail), "%d events failed%s", failed, fwhere);
    n++;
    v[n] = (inv){"2e every writer recovered after every event", not_rec == 0, ""};
    snprintf(v[n].detail, sizeof(v[n].detail),
             "%d writer/event pairs without a successful write after the trigger", not_rec);
    n++;

    const pool_stats_t *st = &r->final_stats;
    int leak_ok = r->stats_ok && st->in_use == 0 && st->created - st->closed == st->idle;
    v[n] = (inv){"3a no connection leak", leak_ok, ""};
    snprintf(v[n].detail, sizeof(v[n].detail),
             "in_use %llu (want 0), created %llu - closed %llu = %lld, idle %llu",
             (unsigned long long)st->in_use, (unsigned long long)st->created,
             (unsigned long long)st->closed, (long long)(st->created - st->closed),
             (unsigned long long)st->idle);
    n++;
    v[n] = (inv){"3b no thread stuck", r->writers_stuck == 0, ""};
    snprintf(v[n].detail, sizeof(v[n].detail), "%d writers did not stop in time",
             r->writers_stuck);
    n++;
    if (r->deploy != NULL) {
        v[n] = (inv){"3c the run's keys deleted", r->keys_left == 0, ""};
        snprintf(v[n].detail, sizeof(v[n].detail), "%d of the writers' %d keys under \"%s\" left%s",
                 r->keys_left < 0 ? 2 * r->o.writers : r->keys_left, 2 * r->o.writers,
                 r->key_prefix, r->keys_left < 0 ? " (could not delete them)" : "");
    } else {
        v[n] = (inv){"3c all server processes stopped", r->procs_left == 0, ""};
        snprintf(v[n].detail, sizeof(v[n].detail), "%d fixture processes still alive",
                 r->procs_left);
    }
    n++;
    return n;
}

/* ---- Printing ------------------------------------------------------------ */


int h_report(h_run *r)
{
    int nw = r->o.writers;
    double *outages = calloc((size_t)nw, sizeof(double));
    ev_sum *sums = calloc((size_t)r->n_buckets, sizeof(ev_sum));
    kind_sum ks[H_KINDS];
    memset(ks, 0, sizeof(ks));
    for (int k = 0; k < H_KINDS; k++)
        ks[k].outages = calloc((size_t)nw * (size_t)r->n_buckets + 1, sizeof(double));
    if (outages == NULL || sums == NULL) {
        fprintf(stderr, "sentinel-pool-check: out of memory for the report\n");
        return 1;
    }
    for (int b = 0; b < r->n_buckets; b++) {
        const h_event *e = &r->ev[b];
        ev_sum *s = &sums[b];
        sum_event(r, b, s, outages);
        kind_sum *k = &ks[e->kind];
        k->events++;
        k->lost += s->lost;
        k->dup += s->dup;
        k->ambiguous += s->ambiguous;
        k->ro_after += s->ro_after;
        k->ok += s->ok;
        k->rewinds += s->rewinds;
        if (s->stall_max_ms > k->stall_max_ms)
            k->stall_max_ms = s->stall_max_ms;
        k->old_after_switch += s->old_after_switch;
        if (s->old_after_switch_max > k->old_after_switch_max)
            k->old_after_switch_max = s->old_after_switch_max;
        for (int j = 0; j < H_ERR_KINDS; j++)
            k->err[j] += s->err[j];
        if (k->outages != NULL)
            for (int i = 0; i < s->n_out; i++)
                k->outages[k->n_out++] = outages[i];
        double sw = h_rel_trigger(e, atomic_load(&e->t_switch));
        if (sw >= 0) {
            k->switch_sum += sw;
            k->switch_n++;
        }
        if (s->first_new_s >= 0) {
            k->first_new_sum += s->first_new_s;
            k->first_new_n++;
        }
    }

    inv v[MAX_INV];
    int nv = check_invariants(r, v);
    int failed = 0;
    for (int i = 0; i < nv; i++)
        failed += !v[i].pass;

    /* Summary table: one line per bucket. Times are seconds after the trigger. */
    char fm[300];
    printf("\n== sentinel-pool-check summary (%s, hiredis %d.%d%s): %d writers, %d events, final "
           "master %s ==\n",
           r->server, HIREDIS_MAJOR, HIREDIS_MINOR, r->o.tls ? ", TLS" : "", nw,
           r->n_buckets - 2, h_node_name(r, r->final_master, fm, sizeof(fm)));
    char swh[64];
    h_sw_header(swh, sizeof(swh));
    printf("%-3s %-16s %7s %7s %7s %7s %7s %s %9s %9s %9s %8s %6s %5s %5s %5s %5s %5s %5s %4s\n",
           "#", "event", "at(s)", "switch", "1st-new", "masterOK", "oldDem", swh, "out-med",
           "out-max", "gap-max",
           "acked", "RO b/a", "conn", "tmo", "nomst", "other", "ambig", "lost", "dup");
    for (int b = 0; b < r->n_buckets; b++) {
        const h_event *e = &r->ev[b];
        const ev_sum *s = &sums[b];
        char name[32], at[16], sw[16], fn[16], mc[16], od[16], om[16], ox[16], gx[16], ro[24];
        snprintf(name, sizeof(name), "%s%s%.0d", h_kind_name(e->kind), e->round ? "#" : "",
                 e->round);
        int64_t trig = atomic_load(&e->t_trigger);
        fmt_s(at, sizeof(at), trig ? h_rel_s(r, trig) : -1);
        fmt_s(sw, sizeof(sw), h_rel_trigger(e, atomic_load(&e->t_switch)));
        fmt_s(fn, sizeof(fn), s->first_new_s);
        fmt_s(mc, sizeof(mc), h_rel_trigger(e, e->t_master_changed));
        fmt_s(od, sizeof(od), h_rel_trigger(e, e->t_old_demoted));
        if (trig && s->n_out) {
            snprintf(om, sizeof(om), "%.0fms", s->out_med_ms);
            snprintf(ox, sizeof(ox), "%.0fms", s->out_max_ms);
            snprintf(gx, sizeof(gx), "%.0fms", s->stall_max_ms);
        } else {
            snprintf(om, sizeof(om), "-");
            snprintf(ox, sizeof(ox), "-");
            snprintf(gx, sizeof(gx), "-");
        }
        snprintf(ro, sizeof(ro), "%llu/%llu", (unsigned long long)s->ro_before,
                 (unsigned long long)s->ro_after);
        char swc[80];
        h_sw_cells(r, b, swc, sizeof(swc));
        printf("%-3d %-16s %7s %7s %7s %7s %7s %s %9s %9s %9s %8llu %6s %5llu %5llu %5llu %5llu "
               "%5llu %5llu %4llu%s\n",
               b, name, at, sw, fn, mc, od, swc, om, ox, gx, (unsigned long long)s->ok, ro,
               (unsigned long long)s->err[H_ERR_CONN], (unsigned long long)s->err[H_ERR_TIMEOUT],
               (unsigned long long)s->err[H_ERR_NOMASTER],
               (unsigned long long)s->err[H_ERR_OTHER], (unsigned long long)s->ambiguous,
               (unsigned long long)s->lost, (unsigned long long)s->dup,
               e->failed ? "  FAILED" : (s->not_recovered ? "  NOT RECOVERED" : ""));
    }
    printf("columns: switch = the pool's SWITCH_MASTER event; 1st-new = first acknowledged "
           "write on another node; masterOK = all sentinels name the new master and its ROLE "
           "agrees; oldDem = the old master's ROLE says replica; out-med/out-max = outage: per writer, "
           "the longest gap between two acknowledged writes overlapping [trigger, pool switch + "
           "1 s] (the whole event if no switch), median and max over writers; gap-max = the "
           "longest gap of any writer over the whole event until settled (includes stalls "
           "unrelated to the switch); RO b/a = READONLY before/after the pool switched; ambig = "
           "connection lost or timed out after sending (maybe applied); lost = acknowledged "
           "writes missing on the final master; dup = writes applied twice.\n");
    h_sw_print_legend();

    printf("\nper kind:\n");
    for (int k = H_GRACEFUL; k <= H_WAIT; k++) {
        kind_sum *s = &ks[k];
        if (s->events == 0)
            continue;
        double mx = h_max(s->outages, s->n_out);
        double med = h_median(s->outages, s->n_out);
        printf("  %-13s x%-3d outage median %.0f ms, max %.0f ms (longest gap in any event %.0f "
               "ms); lost %llu (%.2f per writer per event); dup %llu; ambiguous %llu\n",
               h_kind_name(k), s->events, med, mx, s->stall_max_ms, (unsigned long long)s->lost,
               (double)s->lost / ((double)nw * s->events), (unsigned long long)s->dup,
               (unsigned long long)s->ambiguous);
        printf("  %-13s      errors: readonly %llu (after switch %llu), connection %llu, timeout "
               "%llu, no master %llu, other %llu\n",
               "", (unsigned long long)s->err[H_ERR_READONLY], (unsigned long long)s->ro_after,
               (unsigned long long)s->err[H_ERR_CONN], (unsigned long long)s->err[H_ERR_TIMEOUT],
               (unsigned long long)s->err[H_ERR_NOMASTER], (unsigned long long)s->err[H_ERR_OTHER]);
        if (k == H_GRACEFUL || k == H_CRASH || k == H_FREEZE)
            printf("  %-13s      pool switched in %d/%d events, mean %.3f s after the trigger; "
                   "first write on the new master mean %.3f s; writes acknowledged by the old "
                   "master after the switch: %llu (max %llu per writer per event); counter "
                   "went back %llu times\n",
                   "", s->switch_n, s->events, s->switch_n ? s->switch_sum / s->switch_n : -1.0,
                   s->first_new_n ? s->first_new_sum / s->first_new_n : -1.0,
                   (unsigned long long)s->old_after_switch,
                   (unsigned long long)s->old_after_switch_max, (unsigned long long)s->rewinds);
        h_sw_print_kind(r, (h_kind)k);
    }
    h_sw_print_totals(r);
    if (ks[H_CRASH].lost + ks[H_FREEZE].lost > 0)
        printf("note: writes lost in crash/freeze failovers were acknowledged by the old master "
               "before it died or froze but not yet replicated: Redis replicates "
               "asynchronously, so no client can keep them. Reported, not failed.\n");

    if (r->o.demo) {
        printf("\nin plain words:\n");
        for (int k = H_GRACEFUL; k <= H_WAIT; k++) {
            kind_sum *s = &ks[k];
            if (s->events == 0)
                continue;
            double mx = 0;
            for (int i = 0; i < s->n_out; i++)
                if (s->outages[i] > mx)
                    mx = s->outages[i];
            printf("  %s: the writers could not write for at most %.2f s; %llu acknowledged "
                   "writes lost, %llu READONLY errors after the pool switched.",
                   h_kind_name(k), mx / 1000.0, (unsigned long long)s->lost,
                   (unsigned long long)s->ro_after);
            if (k == H_GRACEFUL)
                printf(" A client that only re-resolves on errors keeps writing to the old "
                       "master until it is demoted (~10 s here) and loses all of it.");
            if (k == H_CRASH || k == H_FREEZE)
                printf(" Losses here (if any) are writes the master acknowledged but had not "
                       "yet replicated when it stopped: no client can prevent that.");
            putchar('\n');
        }
    }

    printf("\nwriters:\n");
    for (int i = 0; i < nw; i++) {
        const h_writer *w = &r->w[i];
        printf("  w%-2d acked %8llu  counter %8lld  list %8lld  lost %5llu  dup %3llu  "
               "unacked-applied %llu\n",
               i, (unsigned long long)atomic_load(&w->acked), w->counter, w->llen,
               (unsigned long long)w->lost, (unsigned long long)w->dup,
               (unsigned long long)w->unacked_applied);
    }
    const pool_stats_t *st = &r->final_stats;
    printf("\npool: generation %llu, created %llu, closed %llu, checkouts %llu, waits %llu, "
           "checkout timeouts %llu, validations %llu (failed %llu), evicted stale %llu broken "
           "%llu readonly %llu, readonly replies %llu\n",
           (unsigned long long)st->generation, (unsigned long long)st->created,
           (unsigned long long)st->closed, (unsigned long long)st->checkouts,
           (unsigned long long)st->waits, (unsigned long long)st->checkout_timeouts,
           (unsigned long long)st->validations, (unsigned long long)st->validation_failures,
           (unsigned long long)st->evicted_stale, (unsigned long long)st->evicted_broken,
           (unsigned long long)st->evicted_readonly, (unsigned long long)st->readonly_replies);

    printf("\ninvariants:\n");
    for (int i = 0; i < nv; i++)
        printf("  [%s] %s: %s\n", v[i].pass ? "PASS" : "FAIL", v[i].name, v[i].detail);
    printf("\nresult: %s\n", failed ? "FAIL" : "PASS");
    fflush(stdout);

    if (r->o.json != NULL && h_write_json(r, sums, ks, v, nv, failed) != 0)
        failed++;
    for (int k = 0; k < H_KINDS; k++)
        free(ks[k].outages);
    free(outages);
    free(sums);
    return failed;
}
