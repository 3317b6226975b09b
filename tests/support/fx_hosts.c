/* fx_hosts.c: names for test nodes in a hosts file, only where the
 * environment says the file belongs to a disposable root. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "fx_internal.h"

#define FXH_ENV "SENTINEL_POOL_TEST_HOSTS_FILE"
#define FXH_BEGIN "# >>> sentinel_pool test fixture (fx_hosts): removed when the test ends\n"
#define FXH_END "# <<< sentinel_pool test fixture (fx_hosts)\n"
#define FXH_MAX_FILE (1 << 20)

/* Read the whole file into a malloc'd buffer. 0; 1 if it does not exist;
 * -1 (message) on error or when it is larger than FXH_MAX_FILE. */
static int read_file(const char *path, char **out, size_t *len, unsigned *mode)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 1;
        fprintf(stderr, "fx_hosts: open %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > FXH_MAX_FILE) {
        fprintf(stderr, "fx_hosts: %s is not a regular file under 1 MiB\n", path);
        close(fd);
        return -1;
    }
    *mode = (unsigned)(st.st_mode & 07777);
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        fprintf(stderr, "fx_hosts: out of memory\n");
        close(fd);
        return -1;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* shrank meanwhile: take what there is */
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return 0;
}

/* Cut a marked block (from a run that was killed) out of buf, in place. */
static void drop_block(char *buf, size_t *len)
{
    char *b = strstr(buf, FXH_BEGIN);
    if (!b)
        return;
    char *e = strstr(b, FXH_END);
    char *after = e ? e + strlen(FXH_END) : buf + *len;
    memmove(b, after, (size_t)(buf + *len - after) + 1);
    *len -= (size_t)(after - b);
    fprintf(stderr, "fx_hosts: dropped the entries a previous run left behind\n");
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Replace the file's content at once: a new file renamed over it; when the
 * file cannot be renamed over (a bind mount, as Docker's /etc/hosts) or is a
 * symlink, an in-place rewrite. */
static int replace_file(const fx_hosts *h, const char *content, size_t len)
{
    char tmp[300];
    const char *slash = strrchr(h->path, '/');
    int dl = slash ? (int)(slash - h->path) : 0;
    if (snprintf(tmp, sizeof(tmp), "%.*s/.fx-hosts-XXXXXX", dl, h->path) >= (int)sizeof(tmp))
        return -1;
    struct stat st;
    int symlink = lstat(h->path, &st) == 0 && S_ISLNK(st.st_mode);
    int fd = symlink ? -1 : mkostemp(tmp, O_CLOEXEC); /* keep a symlink a symlink */
    if (fd >= 0) {
        int ok = fchmod(fd, h->mode) == 0 && write_all(fd, content, len) == 0;
        if (close(fd) != 0)
            ok = 0;
        if (ok && rename(tmp, h->path) == 0)
            return 0;
        unlink(tmp);
    }
    fd = open(h->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)h->mode);
    if (fd < 0) {
        fprintf(stderr, "fx_hosts: cannot write %s: %s\n", h->path, strerror(errno));
        return -1;
    }
    int ok = write_all(fd, content, len) == 0;
    if (close(fd) != 0 || !ok) {
        fprintf(stderr, "fx_hosts: writing %s failed\n", h->path);
        return -1;
    }
    return 0;
}

int fx_hosts_open(fx_hosts *h, char *why, size_t why_len)
{
    memset(h, 0, sizeof(*h));
    const char *path = getenv(FXH_ENV);
    if (path == NULL || *path == '\0') {
        snprintf(why, why_len,
                 FXH_ENV " is not set: names for test nodes need the hosts file of a disposable "
                         "root (scripts/debian13.sh sets it there); this machine's is left alone");
        return 1;
    }
    if (path[0] != '/' || strlen(path) >= sizeof(h->path)) {
        fprintf(stderr, "fx_hosts: " FXH_ENV "=%s: want an absolute path under %zu bytes\n", path,
                sizeof(h->path));
        return -1;
    }
    snprintf(h->path, sizeof(h->path), "%s", path);
    h->mode = 0644;
    int rc = read_file(h->path, &h->orig, &h->orig_len, &h->mode);
    if (rc < 0)
        return -1;
    h->existed = rc == 0;
    if (h->existed) {
        size_t before = h->orig_len;
        drop_block(h->orig, &h->orig_len);
        /* Put it back clean at once, so a later kill leaves at most the
         * entries of this run. */
        if (h->orig_len != before && replace_file(h, h->orig, h->orig_len) != 0) {
            free(h->orig);
            h->orig = NULL;
            return -1;
        }
    }
    h->active = 1;
    fprintf(stderr, "fx_hosts: editing %s (" FXH_ENV "); the original comes back at the end\n",
            h->path);
    return 0;
}

int fx_hosts_set(fx_hosts *h, const char *name, const char *ip)
{
    struct in_addr a;
    if (!h || !h->active) {
        fprintf(stderr, "fx_hosts_set: not opened\n");
        return -1;
    }
    if (!ip || inet_pton(AF_INET, ip, &a) != 1 || strlen(ip) >= sizeof(h->ips[0]) || !name ||
        !*name || strlen(name) >= sizeof(h->names[0]) ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") !=
            strlen(name)) {
        fprintf(stderr, "fx_hosts_set: bad entry %s -> %s\n", name ? name : "(null)",
                ip ? ip : "(null)");
        return -1;
    }
    int i = 0;
    while (i < h->n && strcmp(h->names[i], name) != 0)
        i++;
    int added = i == h->n;
    if (added) {
        if (h->n == FX_HOSTS_MAX) {
            fprintf(stderr, "fx_hosts_set: more than %d names\n", FX_HOSTS_MAX);
            return -1;
        }
        snprintf(h->names[h->n++], sizeof(h->names[0]), "%s", name);
    }
    char old_ip[sizeof(h->ips[0])];
    memcpy(old_ip, h->ips[i], sizeof(old_ip));
    snprintf(h->ips[i], sizeof(h->ips[0]), "%s", ip);

    size_t cap = h->orig_len + 2 + strlen(FXH_BEGIN) + strlen(FXH_END) +
                 (size_t)h->n * (sizeof(h->names[0]) + sizeof(h->ips[0]) + 2);
    char *buf = malloc(cap);
    if (!buf) {
        fprintf(stderr, "fx_hosts_set: out of memory\n");
        memcpy(h->ips[i], old_ip, sizeof(old_ip));
        h->n -= added;
        return -1;
    }
    size_t used = h->orig_len;
    if (used > 0)
        memcpy(buf, h->orig, used);
    if (used > 0 && buf[used - 1] != '\n')
        buf[used++] = '\n';
    used += (size_t)snprintf(buf + used, cap - used, "%s", FXH_BEGIN);
    for (int k = 0; k < h->n; k++)
        used += (size_t)snprintf(buf + used, cap - used, "%s %s\n", h->ips[k], h->names[k]);
    used += (size_t)snprintf(buf + used, cap - used, "%s", FXH_END);
    int rc = replace_file(h, buf, used);
    free(buf);
    if (rc != 0) {
        memcpy(h->ips[i], old_ip, sizeof(old_ip));
        h->n -= added;
    }
    return rc;
}

int fx_hosts_restore(fx_hosts *h)
{
    if (!h || !h->active)
        return 0;
    int rc = 0;
    if (h->existed) {
        rc = replace_file(h, h->orig, h->orig_len);
    } else if (unlink(h->path) != 0 && errno != ENOENT) {
        fprintf(stderr, "fx_hosts: remove %s: %s\n", h->path, strerror(errno));
        rc = -1;
    }
    if (rc == 0) {
        free(h->orig);
        h->orig = NULL;
        h->active = 0;
        h->n = 0;
    }
    return rc;
}

int fx_hosts_restore_now(const fx_hosts *h)
{
    if (!h || !h->active)
        return 0;
    if (!h->existed)
        return unlink(h->path) == 0 || errno == ENOENT ? 0 : -1;
    int fd = open(h->path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = write_all(fd, h->orig, h->orig_len);
    if (close(fd) != 0)
        rc = -1;
    return rc;
}
