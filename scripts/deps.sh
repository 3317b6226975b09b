#!/usr/bin/env bash
# Install the Debian packages needed to build, test and fuzz sentinel_pool, on
# Debian 12 (bookworm: hiredis 0.14.1, gcc 12, Redis 7.0) or Debian 13 (trixie:
# hiredis 1.2.0, gcc 14, Redis 8.0, Valkey 8.1). Only missing packages are
# installed; nothing happens when all are present.
# Services (redis-server, redis-sentinel) are prevented from starting during
# installation: the tests start their own servers and never use the system ones.
set -euo pipefail

PACKAGES=(
    build-essential
    cmake
    pkg-config
    libhiredis-dev
    libcmocka-dev
    redis-server
    redis-sentinel
    valgrind
    clang
    libclang-rt-dev
    procps
    iproute2
)

# What differs per release. libclang-rt-dev (the fuzzer and sanitizer runtimes
# of the default clang) has that name on both; Valkey is packaged from 13 on,
# and so is TLS: hiredis 1.2's hiredis_ssl needs libssl-dev to be found by
# pkg-config (libhiredis-dev does not pull it in), and the TLS tests make
# their certificates with the openssl CLI.
release_codename() {
    local id=""
    if [ -r /etc/os-release ]; then
        id="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
    fi
    echo "${id:-unknown}"
}
case "$(release_codename)" in
    bookworm) ;;
    trixie) PACKAGES+=(valkey-server valkey-sentinel libssl-dev openssl) ;;
    *) echo "deps.sh: not Debian 12 or 13 ($(release_codename)); trying the Debian 13 names" >&2
       PACKAGES+=(valkey-server valkey-sentinel libssl-dev openssl) ;;
esac

is_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

echo "deps.sh: installing missing packages: ${missing[*]}" >&2

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        echo "deps.sh: must run as root (or have sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive

# Keep package maintainer scripts from starting services (invoke-rc.d and
# deb-systemd-invoke both honour policy-rc.d). Only touch it if it is absent.
POLICY=/usr/sbin/policy-rc.d
created_policy=0
cleanup() {
    if [ "$created_policy" -eq 1 ]; then
        "${SUDO[@]}" rm -f "$POLICY"
    fi
}
trap cleanup EXIT
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\n# temporary, created by sentinel_pool scripts/deps.sh\nexit 101\n' |
        "${SUDO[@]}" tee "$POLICY" >/dev/null
    "${SUDO[@]}" chmod 755 "$POLICY"
    created_policy=1
fi

apt_lists_empty() {
    ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null
}

apt_install() {
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "${missing[@]}"
}

if apt_lists_empty; then
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
fi
if ! apt_install; then
    echo "deps.sh: install failed; refreshing package lists and retrying" >&2
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
    apt_install
fi

still=()
for pkg in "${missing[@]}"; do
    is_installed "$pkg" || still+=("$pkg")
done
if [ "${#still[@]}" -ne 0 ]; then
    echo "deps.sh: still missing after install: ${still[*]}" >&2
    exit 1
fi
echo "deps.sh: done" >&2
