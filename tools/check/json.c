/* json.c: the --json file: the same figures as the summary, per event, per
 * kind and per writer, plus the pool's events and the invariants. */
#define _GNU_SOURCE
#include <stdio.h>

#include "report_internal.h"

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", (unsigned)(unsigned char)*s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, double v)
{
    if (v < 0)
        fputs("null", f);
    else
        fprintf(f, "%.3f", v);
}

int h_write_json(h_run *r, const ev_sum *sums, kind_sum *ks, const inv *v, int nv, int failed)
{
    int nw = r->o.writers;
    const pool_stats_t *st = &r->final_stats;
    FILE *f = fopen(r->o.json, "w");
    if (f == NULL) {
        perror(r->o.json);
        return -1;
    }
    fprintf(f, "{\n  \"result\": \"%s\",\n  \"writers\": %d,\n  \"rate_per_writer\": %d,\n",
            failed ? "FAIL" : "PASS", nw, r->o.rate);
    fprintf(f, "  \"server\": ");
    json_str(f, r->server);
    fprintf(f, ",\n  \"hiredis\": \"%d.%d\",\n  \"tls\": %s,\n", HIREDIS_MAJOR, HIREDIS_MINOR,
            r->o.tls ? "true" : "false");
    char addr[300];
    fprintf(f, "  \"final_master\": ");
    json_str(f, h_node_name(r, r->final_master, addr, sizeof(addr)));
    fprintf(f, ",\n  \"final_master_port\": %d,\n  \"events\": [\n",
            r->final_master >= 0 ? r->node[r->final_master].port : 0);
    for (int b = 0; b < r->n_buckets; b++) {
        const h_event *e = &r->ev[b];
        const ev_sum *s = &sums[b];
        int64_t trig = atomic_load(&e->t_trigger);
        fprintf(f, "    {\"index\": %d, \"kind\": \"%s\", \"round\": %d, ", b,
                h_kind_name(e->kind), e->round);
        fprintf(f, "\"trigger_s\": ");
        json_num(f, trig ? h_rel_s(r, trig) : -1);
        int old = atomic_load(&e->old_node);
        fprintf(f, ", \"old_master\": ");
        json_str(f, b == 0 || b == r->n_buckets - 1 ? "" : h_node_name(r, old, addr, sizeof(addr)));
        fprintf(f, ", \"new_master\": ");
        json_str(f, e->new_node >= 0 ? h_node_name(r, e->new_node, addr, sizeof(addr)) : "");
        fprintf(f, ", \"old_master_port\": %d, \"new_master_port\": %d, ",
                old >= 0 && old < r->n_nodes && b > 0 && b < r->n_buckets - 1 ? r->node[old].port : 0,
                e->new_node >= 0 && e->new_node < r->n_nodes ? r->node[e->new_node].port : 0);
        fprintf(f, "\"sentinel_port\": %d, \"slow_sentinel_periods\": %s, ",
                e->sentinel_port, e->slow_periods ? "true" : "false");
        fprintf(f, "\"switch_seen_s\": ");
        json_num(f, h_rel_trigger(e, atomic_load(&e->t_switch)));
        fprintf(f, ", \"master_lost_seen_s\": ");
        json_num(f, h_rel_trigger(e, atomic_load(&e->t_lost)));
        fprintf(f, ", \"first_write_new_master_s\": ");
        json_num(f, s->first_new_s);
        fprintf(f, ", \"sentinels_agree_s\": ");
        json_num(f, h_rel_trigger(e, e->t_master_changed));
        fprintf(f, ", \"old_master_demoted_s\": ");
        json_num(f, h_rel_trigger(e, e->t_old_demoted));
        fprintf(f, ", \"second_action_s\": ");
        json_num(f, h_rel_trigger(e, e->t_action2));
        fprintf(f, ", \"settled_s\": ");
        json_num(f, h_rel_trigger(e, atomic_load(&e->t_end)));
        h_sw_json_event(f, r, b);
        fprintf(f, ",\n     \"outage_ms\": {\"median\": ");
        json_num(f, trig && s->n_out ? s->out_med_ms : -1);
        fprintf(f, ", \"max\": ");
        json_num(f, trig && s->n_out ? s->out_max_ms : -1);
        fprintf(f, ", \"per_writer\": [");
        for (int i = 0; i < nw; i++) {
            const h_wbucket *hb = &r->w[i].b[b];
            if (i)
                fputs(", ", f);
            if (trig && hb->first_ok_after)
                fprintf(f, "%.3f", (double)hb->out_gap / 1e6);
            else
                fputs("null", f);
        }
        fprintf(f, "], \"start_ms\": [");
        for (int i = 0; i < nw; i++) {
            const h_wbucket *hb = &r->w[i].b[b];
            if (i)
                fputs(", ", f);
            if (trig && hb->first_ok_after)
                fprintf(f, "%.3f", (double)(hb->out_gap_from - trig) / 1e6);
            else
                fputs("null", f);
        }
        fprintf(f, "], \"event_max_gap_ms\": [");
        for (int i = 0; i < nw; i++) {
            const h_wbucket *hb = &r->w[i].b[b];
            if (i)
                fputs(", ", f);
            if (trig && hb->first_ok_after)
                fprintf(f, "%.3f", (double)hb->max_gap / 1e6);
            else
                fputs("null", f);
        }
        fprintf(f, "], \"event_max_gap_start_ms\": [");
        for (int i = 0; i < nw; i++) {
            const h_wbucket *hb = &r->w[i].b[b];
            if (i)
                fputs(", ", f);
            if (trig && hb->first_ok_after)
                fprintf(f, "%.3f", (double)(hb->max_gap_from - trig) / 1e6);
            else
                fputs("null", f);
        }
        /* The literal window: last success before the trigger and first
         * success after it, in ms relative to the trigger. */
        fprintf(f, "], \"last_ok_before_ms\": [");
        for (int i = 0; i < nw; i++) {
            const h_wbucket *hb = &r->w[i].b[b];
            if (i)
                fputs(", ", f);
            if (trig && hb->last_ok_before)
                fprintf(f, "%.3f", (double)(hb->last_ok_before - trig) / 1e6);
            else
                fputs("null", f);
        }
        fprintf(f, "], \"first_ok_after_ms\": [");
        for (int i = 0; i < nw; i++) {
            const h_wbucket *hb = &r->w[i].b[b];
            if (i)
                fputs(", ", f);
            json_num(f, trig && hb->first_ok_after
                            ? (double)(hb->first_ok_after - trig) / 1e6
                            : -1);
        }
        fprintf(f, "]},\n     \"acked\": %llu, \"errors\": {",
                (unsigned long long)s->ok);
        for (int k = 0; k < H_ERR_KINDS; k++)
            fprintf(f, "%s\"%s\": %llu", k ? ", " : "", h_err_name(k),
                    (unsigned long long)s->err[k]);
        fprintf(f, "}, \"readonly_before_switch\": %llu, \"readonly_after_switch\": %llu, ",
                (unsigned long long)s->ro_before, (unsigned long long)s->ro_after);
        fprintf(f, "\"ambiguous\": %llu, \"lost\": %llu, \"lost_max_per_writer\": %llu, ",
                (unsigned long long)s->ambiguous, (unsigned long long)s->lost,
                (unsigned long long)s->lost_max_writer);
        fprintf(f, "\"duplicates\": %llu, \"counter_rewinds\": %llu, ",
                (unsigned long long)s->dup, (unsigned long long)s->rewinds);
        fprintf(f, "\"acked_by_old_master_after_switch\": %llu, "
                   "\"acked_by_old_master_after_switch_max_per_writer\": %llu, ",
                (unsigned long long)s->old_after_switch,
                (unsigned long long)s->old_after_switch_max);
        fprintf(f, "\"writers_not_recovered\": %d, \"pool_events\": %d, "
                   "\"sentinel_lost_events\": %d, \"failed\": %s, \"note\": ",
                s->not_recovered, atomic_load(&e->pool_events),
                atomic_load(&e->sentinel_lost_events), e->failed ? "true" : "false");
        json_str(f, e->note);
        fprintf(f, "}%s\n", b + 1 < r->n_buckets ? "," : "");
    }
    fprintf(f, "  ],\n  \"per_kind\": {");
    int first = 1;
    for (int k = H_GRACEFUL; k <= H_WAIT; k++) {
        kind_sum *s = &ks[k];
        if (s->events == 0)
            continue;
        double mx = h_max(s->outages, s->n_out);
        fprintf(f, "%s\n    \"%s\": {\"events\": %d, \"outage_median_ms\": %.3f, "
                   "\"outage_max_ms\": %.3f, \"event_max_gap_ms\": %.3f, "
                   "\"lost\": %llu, \"duplicates\": %llu, "
                   "\"ambiguous\": %llu, \"switch_seen_events\": %d, "
                   "\"mean_switch_s\": ",
                first ? "" : ",", h_kind_name(k), s->events, h_median(s->outages, s->n_out),
                mx, s->stall_max_ms, (unsigned long long)s->lost,
                (unsigned long long)s->dup, (unsigned long long)s->ambiguous,
                s->switch_n);
        json_num(f, s->switch_n ? s->switch_sum / s->switch_n : -1);
        fprintf(f, ", \"mean_first_write_new_master_s\": ");
        json_num(f, s->first_new_n ? s->first_new_sum / s->first_new_n : -1);
        h_sw_json_kind(f, r, (h_kind)k);
        fprintf(f, ", \"acked_by_old_master_after_switch\": %llu, "
                   "\"counter_rewinds\": %llu, \"errors\": {",
                (unsigned long long)s->old_after_switch, (unsigned long long)s->rewinds);
        for (int j = 0; j < H_ERR_KINDS; j++)
            fprintf(f, "%s\"%s\": %llu", j ? ", " : "", h_err_name(j),
                    (unsigned long long)s->err[j]);
        fprintf(f, "}}");
        first = 0;
    }
    fprintf(f, "\n  },\n  \"writer_totals\": [");
    for (int i = 0; i < nw; i++) {
        const h_writer *w = &r->w[i];
        fprintf(f, "%s\n    {\"writer\": %d, \"acked\": %llu, \"counter\": %lld, "
                   "\"list_length\": %lld, \"lost\": %llu, \"duplicates\": %llu, "
                   "\"unacked_applied\": %llu, \"phantom\": %llu}",
                i ? "," : "", i, (unsigned long long)atomic_load(&w->acked), w->counter,
                w->llen, (unsigned long long)w->lost, (unsigned long long)w->dup,
                (unsigned long long)w->unacked_applied, (unsigned long long)w->phantom);
    }
    fprintf(f, "\n  ],\n");
    h_sw_json_totals(f, r);
    fprintf(f, "  \"pool_stats\": {\"generation\": %llu, \"created\": %llu, "
               "\"closed\": %llu, \"in_use\": %llu, \"idle\": %llu, \"checkouts\": %llu, "
               "\"checkout_timeouts\": %llu, \"validation_failures\": %llu, "
               "\"readonly_replies\": %llu},\n",
            (unsigned long long)st->generation, (unsigned long long)st->created,
            (unsigned long long)st->closed, (unsigned long long)st->in_use,
            (unsigned long long)st->idle, (unsigned long long)st->checkouts,
            (unsigned long long)st->checkout_timeouts,
            (unsigned long long)st->validation_failures,
            (unsigned long long)st->readonly_replies);
    fprintf(f, "  \"pool_events\": [");
    pthread_mutex_lock(&r->plog_mu);
    for (int i = 0; i < r->plog_n; i++) {
        const h_pool_event *pe = &r->plog[i];
        fprintf(f, "%s\n    {\"t_s\": %.3f, \"bucket\": %d, \"type\": %d, "
                   "\"generation\": %llu, \"old\": ",
                i ? "," : "", h_rel_s(r, pe->t), pe->bucket, (int)pe->type,
                (unsigned long long)pe->generation);
        json_str(f, pe->old_addr);
        fprintf(f, ", \"new\": ");
        json_str(f, pe->new_addr);
        fprintf(f, ", \"detail\": ");
        json_str(f, pe->detail);
        fputc('}', f);
    }
    pthread_mutex_unlock(&r->plog_mu);
    fprintf(f, "\n  ],\n  \"invariants\": [");
    for (int i = 0; i < nv; i++) {
        fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
        json_str(f, v[i].name);
        fprintf(f, ", \"pass\": %s, \"detail\": ", v[i].pass ? "true" : "false");
        json_str(f, v[i].detail);
        fputc('}', f);
    }
    fprintf(f, "\n  ]\n}\n");
    if (fclose(f) != 0) {
        perror(r->o.json);
        return -1;
    }
    return 0;
}
