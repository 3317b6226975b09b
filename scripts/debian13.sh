#!/usr/bin/env bash
# Run a command in a fresh Debian 13 (trixie) root, made here with debootstrap
# from Debian's own archive: hiredis 1.2.0, gcc 14, Redis 8.0, Valkey 8.1. The
# project's tracked and untracked (not ignored) files are copied in; build
# trees are not. Everything started inside is stopped and every mount undone
# on the way out, also when the command fails or the script is interrupted.
# The root is thrown away afterwards, so its /etc/hosts is the tests' to edit:
# SENTINEL_POOL_TEST_HOSTS_FILE=/etc/hosts (set inside only) lets
# tests/test_hostnames.c map node names to 127.0.0.x there; it skips elsewhere.
#   scripts/debian13.sh                 the CI stage: scripts/test plain valkey tls asan fuzz
#   scripts/debian13.sh 'CMD'           any command, run from the project's copy
# Environment:
#   FUZZ_SECONDS              seconds per fuzz target in the stage [30]
#   SPOOL_DEBIAN13_MIRROR     archive URL [the host's Debian mirror]
#   SPOOL_DEBIAN13_KEEP=DIR   keep a copy of the bare root in DIR and reuse it
#                             next time (saves ~1 min when iterating; CI leaves it unset)
# Needs root (debootstrap, chroot, mounts).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cmd="${1:-FUZZ_SECONDS=${FUZZ_SECONDS:-30} ./scripts/test plain valkey tls asan fuzz}"

if [ "$(id -u)" -ne 0 ]; then
    echo "debian13.sh: must run as root (debootstrap, chroot, mounts)" >&2
    exit 1
fi

if ! command -v debootstrap >/dev/null 2>&1; then
    echo "debian13.sh: installing debootstrap" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends debootstrap >/dev/null 2>&1 ||
        { apt-get update >/dev/null && apt-get install -y --no-install-recommends debootstrap >/dev/null; } ||
        { echo "debian13.sh: cannot install debootstrap" >&2; exit 1; }
fi

host_mirror() {
    local m=""
    m="$(grep -hm1 -E '^URIs:' /etc/apt/sources.list.d/debian.sources 2>/dev/null | awk '{print $2}')"
    [ -n "$m" ] || m="$(grep -hm1 -E '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}')"
    echo "${m:-http://deb.debian.org/debian}"
}
MIRROR="${SPOOL_DEBIAN13_MIRROR:-$(host_mirror)}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/sp-debian13.XXXXXX")"
R="$WORK/root"

# Processes whose root is R were started by this script (chroot): stop them
# by pid, politely first.
pids_in_root() {
    local p link
    for p in /proc/[0-9]*; do
        link="$(readlink "$p/root" 2>/dev/null)" || continue
        [ "$link" = "$R" ] && echo "${p#/proc/}"
    done
}

cleanup() {
    local pids
    trap - EXIT INT TERM
    pids="$(pids_in_root)"
    if [ -n "$pids" ]; then
        echo "debian13.sh: stopping leftover processes: $(echo "$pids" | tr '\n' ' ')" >&2
        # shellcheck disable=SC2086
        kill -TERM $pids 2>/dev/null
        sleep 2
        pids="$(pids_in_root)"
        # shellcheck disable=SC2086
        [ -z "$pids" ] || kill -KILL $pids 2>/dev/null
    fi
    # Deepest mounts first; lazily if something still holds one.
    local m
    for m in $(awk -v r="$R" '$2 == r || index($2, r "/") == 1 {print $2}' /proc/self/mounts | sort -r); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
    done
    if awk -v r="$R" '$2 == r || index($2, r "/") == 1 {found=1} END {exit !found}' /proc/self/mounts; then
        echo "debian13.sh: mounts left under $R; not removing it" >&2
        return
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start=$SECONDS
keep="${SPOOL_DEBIAN13_KEEP:-}"
if [ -n "$keep" ] && [ -f "$keep/.ok" ]; then
    echo "debian13.sh: copying the Debian 13 root kept in $keep" >&2
    cp -a "$keep" "$R" || exit 2
else
    echo "debian13.sh: debootstrap --variant=minbase trixie from $MIRROR" >&2
    if ! debootstrap --variant=minbase trixie "$R" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
        tail -n 20 "$WORK/debootstrap.log" >&2
        echo "debian13.sh: debootstrap failed" >&2
        exit 2
    fi
    touch "$R/.ok"
    if [ -n "$keep" ]; then
        rm -rf "$keep" && cp -a "$R" "$keep"
    fi
fi
echo "debian13.sh: root ready in $((SECONDS - start)) s" >&2

cp /etc/resolv.conf "$R/etc/resolv.conf"
mount -t proc proc "$R/proc" &&
    mount -t sysfs sys "$R/sys" &&
    mount --rbind /dev "$R/dev" &&
    mount --make-rslave "$R/dev" || { echo "debian13.sh: mounts failed" >&2; exit 2; }

# The project: tracked and untracked files, not what .gitignore names.
mkdir -p "$R/work/project"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard |
    xargs -0 -r tar -cf - --no-recursion --ignore-failed-read 2>/dev/null) | tar -xf - -C "$R/work/project" ||
    { echo "debian13.sh: copying the project failed" >&2; exit 2; }

echo "debian13.sh: running '$cmd' in Debian 13" >&2
# In the background and waited for, so that INT/TERM reach the trap at once
# (bash runs traps only between foreground commands).
chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb \
    CI="${CI:-}" LANG=C.UTF-8 SENTINEL_POOL_TEST_HOSTS_FILE=/etc/hosts \
    bash -c "cd /work/project && $cmd" </dev/null &
wait $!
rc=$?
echo "debian13.sh: '$cmd' exited $rc on Debian 13 after $((SECONDS - start)) s" >&2
exit "$rc"
