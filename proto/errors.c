/* Error names and messages, generated from the one list in the header. */
#include <stddef.h>

#include "sentinel_pool.h"

#define STR_(x) #x
#define XSTR_(x) STR_(x)

/* One row per code, generated from the header's list: the lookup is
 * written once for both the message and the name. */
static const struct {
    int code;
    const char *name, *msg;
} errs[] = {
    {POOL_OK, "POOL_OK", "success"},
#define POOL_ERR_ROW_(name, value, msg) {POOL_##name, "POOL_" #name, msg},
    POOL_ERRNO_MAP(POOL_ERR_ROW_)
#undef POOL_ERR_ROW_
};

static int err_row(int err)
{
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++)
        if (errs[i].code == err)
            return (int)i;
    return -1;
}

const char *pool_strerror(int err)
{
    int i = err_row(err);
    return i >= 0 ? errs[i].msg : "unknown error";
}

const char *pool_err_name(int err)
{
    int i = err_row(err);
    return i >= 0 ? errs[i].name : "POOL_UNKNOWN";
}

const char *pool_event_name(pool_event_type_t type)
{
    switch (type) {
    case POOL_EVENT_SWITCH_MASTER: return "SWITCH_MASTER";
    case POOL_EVENT_MASTER_LOST: return "MASTER_LOST";
    case POOL_EVENT_SENTINEL_LOST: return "SENTINEL_LOST";
    case POOL_EVENT_SENTINEL_ADDED: return "SENTINEL_ADDED";
    case POOL_EVENT_VALIDATION_FAILED: return "VALIDATION_FAILED";
    case POOL_EVENT_WRITER_SUSPECT: return "WRITER_SUSPECT";
    case POOL_EVENT_CONNECTION_LEAK: return "CONNECTION_LEAK";
    case POOL_EVENT_SENTINEL_MISCONFIGURED: return "SENTINEL_MISCONFIGURED";
    }
    return "UNKNOWN";
}

const char *pool_version(void)
{
    return XSTR_(SENTINEL_POOL_VERSION_MAJOR) "." XSTR_(SENTINEL_POOL_VERSION_MINOR) "." XSTR_(
        SENTINEL_POOL_VERSION_PATCH);
}
