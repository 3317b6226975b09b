/* test_ipv6_zone.c: connecting to an IPv6 link-local address, which needs
 * its zone index ("[fe80::1%eth0]:port") to be reached at all: the zone must
 * survive option parsing and name resolution (net/net.c) into the socket
 * address. No server: a listening socket on the link-local address, whose
 * backlog accepts. Skipped where no interface has a link-local address. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fixture.h"
#include "fx_assert.h"
#include "sentinel_pool.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND() RUNNING_ON_VALGRIND
#endif
#endif
#ifndef UNDER_VALGRIND
#define UNDER_VALGRIND() 0
#endif
/* ThreadSanitizer does not see the threads glibc's getaddrinfo_a() starts
 * internally, and crashes in its malloc interceptor on one of them. */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

/* The option parser accepts "[fe80::1%eth0]:port"; a link-local address
 * needs its zone to connect at all, so the zone must survive name
 * resolution (net.c). Skipped where no interface has a link-local address. */
static void test_ipv6_link_local_zone(void **state)
{
    (void)state;
    /* A host that is not a plain IP literal goes through getaddrinfo_a(),
     * and glibc 2.36's __libc_freeres at exit then trips valgrind
     * ("Conditional jump ... depends on uninitialised value(s)" in free_res,
     * reproduced by a 20-line program using getaddrinfo_a alone), and TSan
     * crashes on glibc's resolver thread. Not ours: skipped under both;
     * ASan runs it. */
    if (UNDER_VALGRIND() || UNDER_TSAN)
        skip();
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0)
        skip();
    char ip[INET6_ADDRSTRLEN] = "", ifname[IF_NAMESIZE + 1] = "";
    struct sockaddr_in6 sa;
    memset(&sa, 0, sizeof(sa));
    for (struct ifaddrs *i = ifs; i != NULL; i = i->ifa_next) {
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET6)
            continue;
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)i->ifa_addr;
        if (!IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr))
            continue;
        sa = *a;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        snprintf(ifname, sizeof(ifname), "%s", i->ifa_name);
        break;
    }
    freeifaddrs(ifs);
    if (ip[0] == '\0')
        skip();
    int lfd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(lfd >= 0);
    sa.sin6_port = 0;
    socklen_t sl = sizeof(sa);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 8) != 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0) {
        close(lfd);
        skip(); /* e.g. the address is still tentative (DAD) */
    }
    char addr[128];
    snprintf(addr, sizeof(addr), "[%s%%%s]:%d", ip, ifname, ntohs(sa.sin6_port));
    print_message("connecting to %s\n", addr);
    pool_options_t o;
    pool_options_init(&o);
    o.master_addr = addr;
    o.client_name = ""; /* no handshake: nobody accepts, the backlog does */
    o.validate = POOL_VALIDATE_NEVER;
    o.checkout_timeout_ms = 1000;
    pool_t *p = NULL;
    assert_rc(0, pool_create(&o, &p));
    redisContext *c = NULL;
    assert_rc(0, pool_get_writer(p, &c));
    struct sockaddr_in6 peer;
    socklen_t pl = sizeof(peer);
    assert_int_equal(getpeername(c->fd, (struct sockaddr *)&peer, &pl), 0);
    assert_int_equal(peer.sin6_family, AF_INET6);
    assert_int_equal(ntohs(peer.sin6_port), ntohs(sa.sin6_port));
    assert_memory_equal(&peer.sin6_addr, &sa.sin6_addr, sizeof(sa.sin6_addr));
    pool_put(p, c);
    pool_stats_t st = stats(p);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.created, 1);
    pool_destroy(p);
    close(lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv6_link_local_zone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
