/* A tiny JSON writer: enough for the bench report. */
#define _GNU_SOURCE
#include <string.h>

#include "json.h"

static void jw_sep(jw *w, const char *key)
{
    if (w->depth > 0) {
        if (!w->first[w->depth])
            fputc(',', w->f);
        w->first[w->depth] = 0;
        fputc('\n', w->f);
        for (int i = 0; i < w->depth; i++)
            fputs("  ", w->f);
    }
    if (key != NULL) {
        jw_quoted(w, key);
        fputs(": ", w->f);
    }
}

void jw_quoted(jw *w, const char *s)
{
    fputc('"', w->f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(w->f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(w->f, "\\u%04x", ch);
        else
            fputc(ch, w->f);
    }
    fputc('"', w->f);
}

static void jw_open(jw *w, const char *key, char ch)
{
    jw_sep(w, key);
    fputc(ch, w->f);
    if (w->depth < JW_MAX_DEPTH - 1)
        w->depth++;
    w->first[w->depth] = 1;
}

static void jw_close(jw *w, char ch)
{
    int empty = w->first[w->depth];
    if (w->depth > 0)
        w->depth--;
    if (!empty) {
        fputc('\n', w->f);
        for (int i = 0; i < w->depth; i++)
            fputs("  ", w->f);
    }
    fputc(ch, w->f);
    if (w->depth == 0)
        fputc('\n', w->f);
}

void jw_obj(jw *w, const char *key) { jw_open(w, key, '{'); }
void jw_obj_end(jw *w) { jw_close(w, '}'); }
void jw_arr(jw *w, const char *key) { jw_open(w, key, '['); }
void jw_arr_end(jw *w) { jw_close(w, ']'); }

void jw_num(jw *w, const char *key, double v)
{
    jw_sep(w, key);
    fprintf(w->f, "%.6g", v);
}

void jw_int(jw *w, const char *key, long long v)
{
    jw_sep(w, key);
    fprintf(w->f, "%lld", v);
}

void jw_bool(jw *w, const char *key, int v)
{
    jw_sep(w, key);
    fputs(v ? "true" : "false", w->f);
}

void jw_str(jw *w, const char *key, const char *s)
{
    jw_sep(w, key);
    jw_quoted(w, s);
}

void jw_series(jw *w, const char *key, const bench_series *s)
{
    jw_obj(w, key);
    jw_num(w, "median", series_median(s));
    jw_num(w, "min", series_min(s));
    jw_num(w, "max", series_max(s));
    jw_arr(w, "values");
    for (int i = 0; i < s->n; i++)
        jw_num(w, NULL, s->v[i]);
    jw_arr_end(w);
    jw_obj_end(w);
}
