/* tls.c: --tls. The run's certificates (made by the fixture, removed on
 * every way out, the watchdog's included) and the pool's TLS options. The
 * topology itself and the harness's own connections (ROLE polls, the
 * sentinel watch, verification) follow the nodes' TLS settings through the
 * fixture. */
#define _GNU_SOURCE
#include <stdio.h>

#include "harness.h"

int h_tls_check(void)
{
    /* Both halves: the fixture starts the servers, the library is tested. */
    if (fx_tls_available() && pool_tls_available())
        return 0;
    fprintf(stderr,
            "sentinel-pool-check: --tls: this build has no TLS (hiredis %d.%d without hiredis_ssl "
            "at build time); build against hiredis >= 1.0 with hiredis_ssl\n",
            HIREDIS_MAJOR, HIREDIS_MINOR);
    return -1;
}

int h_tls_setup(h_run *r, fx_tls *out)
{
    if (fx_tls_make_certs(r->tls_dir, sizeof(r->tls_dir)) != 0)
        return -1;
    atomic_store(&r->tls_certs_made, 1);
    if (fx_tls_client_paths(r->tls_dir, &r->tls_files) != 0) {
        h_tls_cleanup(r);
        return -1;
    }
    *out = (fx_tls){.dir = r->tls_dir};
    return 0;
}

void h_tls_pool_options(h_run *r, pool_options_t *po)
{
    po->tls = 1;
    po->sentinel_tls = 1;
    po->tls_ca_file = r->tls_files.ca;
    po->tls_cert_file = r->tls_files.cert;
    po->tls_key_file = r->tls_files.key;
}

void h_tls_cleanup(h_run *r)
{
    /* Main thread or watchdog, whichever ends the run: only one removes. */
    if (atomic_exchange(&r->tls_certs_made, 0))
        fx_tls_remove_certs(r->tls_dir);
}
