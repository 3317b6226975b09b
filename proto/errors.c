/* Error names and messages, generated from the one list in the header. */
#include "sentinel_pool.h"

#define STR_(x) #x
#define XSTR_(x) STR_(x)

const char *pool_strerror(int err)
{
    switch (err) {
    case POOL_OK:
        return "success";
#define POOL_ERR_MSG_(name, value, msg)                                                            \
    case POOL_##name:                                                                              \
        return msg;
        POOL_ERRNO_MAP(POOL_ERR_MSG_)
#undef POOL_ERR_MSG_
    default:
        return "unknown error";
    }
}

const char *pool_err_name(int err)
{
    switch (err) {
    case POOL_OK:
        return "POOL_OK";
#define POOL_ERR_NAME_(name, value, msg)                                                           \
    case POOL_##name:                                                                              \
        return "POOL_" #name;
        POOL_ERRNO_MAP(POOL_ERR_NAME_)
#undef POOL_ERR_NAME_
    default:
        return "POOL_UNKNOWN";
    }
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
