/* A tiny JSON writer for the bench report: objects, arrays, numbers. */
#ifndef SPOOL_BENCH_JSON_H
#define SPOOL_BENCH_JSON_H

#include <stdio.h>

#include "bench.h"

#define JW_MAX_DEPTH 16

typedef struct jw {
    FILE *f;
    int depth;
    int first[JW_MAX_DEPTH];
} jw;

/* key is NULL inside arrays and for the top-level value. */
void jw_obj(jw *w, const char *key);
void jw_obj_end(jw *w);
void jw_arr(jw *w, const char *key);
void jw_arr_end(jw *w);
void jw_num(jw *w, const char *key, double v);
void jw_int(jw *w, const char *key, long long v);
void jw_bool(jw *w, const char *key, int v);
void jw_str(jw *w, const char *key, const char *s);
void jw_quoted(jw *w, const char *s);
/* {"median", "min", "max", "values": [...]} */
void jw_series(jw *w, const char *key, const bench_series *s);

#endif
