/* pool/events.c: the pool's log and events, through the user's callbacks
 * (never under a lock of the pool's). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>

#include "pool/pool_internal.h"

void spool_vlog(pool_t *p, pool_log_level_t level, const char *fmt, va_list ap)
{
    if (p->cfg.log_fn == NULL || level > p->cfg.log_level)
        return;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    p->cfg.log_fn(p->cfg.log_userdata, level, msg);
}

void spool_log(pool_t *p, pool_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    spool_vlog(p, level, fmt, ap);
    va_end(ap);
}

void spool_vemit(pool_t *p, uint64_t gen, pool_event_type_t type, const char *old_host,
                  int old_port, const char *new_host, int new_port, const char *fmt, va_list ap)
{
    if (p->cfg.event_fn == NULL && p->cfg.log_fn == NULL)
        return;
    char detail[512];
    vsnprintf(detail, sizeof(detail), fmt, ap);
    pool_event_t ev = {
        .type = type,
        .old_host = old_host,
        .old_port = old_port,
        .new_host = new_host,
        .new_port = new_port,
        .generation = gen,
        .detail = detail,
    };
    if (p->cfg.event_fn != NULL)
        p->cfg.event_fn(p->cfg.event_userdata, &ev);
    pool_log_level_t level = (type == POOL_EVENT_SWITCH_MASTER || type == POOL_EVENT_SENTINEL_ADDED)
                                 ? POOL_LOG_INFO
                                 : POOL_LOG_WARN;
    spool_log(p, level, "%s (generation %llu)", detail, (unsigned long long)ev.generation);
}

void spool_emit(pool_t *p, pool_event_type_t type, const char *old_host, int old_port,
                const char *new_host, int new_port, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    spool_vemit(p, atomic_load(&p->generation), type, old_host, old_port, new_host, new_port, fmt, ap);
    va_end(ap);
}

/* For a change that made generation gen: report that one, not whatever a
 * racing change made since. */
void __attribute__((format(printf, 8, 9)))
spool_emit_gen(pool_t *p, uint64_t gen, pool_event_type_t type, const char *old_host, int old_port,
         const char *new_host, int new_port, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    spool_vemit(p, gen, type, old_host, old_port, new_host, new_port, fmt, ap);
    va_end(ap);
}
