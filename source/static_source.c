/* The source for a static master_addr: names the writer once, and has
 * nobody to ask when the pool doubts it (so the pool never fences it). */
#include <stdlib.h>
#include <string.h>

#include "source/source.h"

typedef struct static_source {
    spool_source base;
} static_source;

static void static_stop(spool_source *src) { (void)src; }
static void static_free(spool_source *src) { free(src); }

static const spool_source_ops static_ops = {.doubt = NULL, .stop = static_stop, .free = static_free};

int spool_static_source_open(const pool_options_t *o, spool_sink sink, spool_source **out)
{
    *out = NULL;
    spool_addr a;
    if (spool_addr_parse(o->master_addr, strlen(o->master_addr), &a) != 0)
        return POOL_EINVAL;
    static_source *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return POOL_ENOMEM;
    s->base.ops = &static_ops;
    sink.ops->writer_set(sink.ctx, a.host, a.port, "static master_addr");
    *out = &s->base;
    return 0;
}
