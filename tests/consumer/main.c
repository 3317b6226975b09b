/* Smoke test for an installed sentinel_pool (see scripts/check-install.sh). */
#include <sentinel_pool.h>

#include <stdio.h>
#include <string.h>

#define STR_(x) #x
#define STR(x) STR_(x)
#define HEADER_VERSION                                                                             \
    STR(SENTINEL_POOL_VERSION_MAJOR)                                                               \
    "." STR(SENTINEL_POOL_VERSION_MINOR) "." STR(SENTINEL_POOL_VERSION_PATCH)

int main(void) {
    const char *version = pool_version();
    if (version == NULL || strcmp(version, HEADER_VERSION) != 0) {
        fprintf(stderr, "pool_version() = %s, header says %s\n", version ? version : "(null)",
                HEADER_VERSION);
        return 1;
    }

    const char *msg = pool_strerror(POOL_ETIMEDOUT);
    if (msg == NULL || msg[0] == '\0') {
        fprintf(stderr, "pool_strerror(POOL_ETIMEDOUT) returned an empty message\n");
        return 1;
    }

    pool_options_t opts;
    pool_options_init(&opts);
    opts.master_addr = NULL;
    opts.master_name = NULL;
    opts.sentinels = NULL;

    pool_t *pool = NULL;
    int rc = pool_create(&opts, &pool);
    if (rc != POOL_EINVAL || pool != NULL) {
        fprintf(stderr, "pool_create(no master, no sentinels) = %d (%s), want POOL_EINVAL\n", rc,
                pool_strerror(rc));
        if (rc == 0) {
            pool_destroy(pool);
        }
        return 1;
    }

    /* TLS: a pool asking for it opens (connections are lazy) exactly when
     * the build has it; this also makes a static link pull in OpenSSL. */
    opts.master_addr = "127.0.0.1:1";
    opts.tls = 1;
    rc = pool_create(&opts, &pool);
    int want = pool_tls_available() ? POOL_OK : POOL_ENOTLS;
    if (rc != want) {
        fprintf(stderr, "pool_create(tls = 1) = %s, want %s\n", pool_err_name(rc),
                pool_err_name(want));
        pool_destroy(pool);
        return 1;
    }
    pool_destroy(pool);

    printf("sentinel_pool %s: pool_strerror(POOL_ETIMEDOUT) = \"%s\", TLS %s\n", version, msg,
           pool_tls_available() ? "available" : "unavailable");
    printf("OK\n");
    return 0;
}
