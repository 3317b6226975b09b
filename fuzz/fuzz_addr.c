/* Option strings: a sentinel list and a single address. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/addr.h"
#include "sentinel_pool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    spool_addr a;
    char out[SPOOL_HOST_MAX + 16];
    if (spool_addr_parse((const char *)data, size, &a) == 0) {
        if (a.port < 1 || a.port > 65535 || strlen(a.host) == 0)
            __builtin_trap();
        /* What parses formats back to something that parses the same. */
        spool_addr_format(a.host, a.port, out, sizeof out);
        spool_addr b;
        if (spool_addr_parse(out, strlen(out), &b) != 0 || strcmp(a.host, b.host) != 0 ||
            a.port != b.port)
            __builtin_trap();
    }
    char host[SPOOL_HOST_MAX];
    if (spool_host_copy((const char *)data, size, host) == 0 && strlen(host) != size)
        __builtin_trap();
    (void)spool_port_parse((const char *)data, size);

    /* The list parser takes a C string. */
    char *s = malloc(size + 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    spool_addr *list = NULL;
    size_t n = 0;
    int rc = spool_addr_list_parse(s, &list, &n);
    if (rc == 0 && (list == NULL || n == 0))
        __builtin_trap();
    if (rc != 0 && (list != NULL || n != 0 || (rc != POOL_EINVAL && rc != POOL_ENOMEM)))
        __builtin_trap();
    free(list);
    free(s);
    return 0;
}
