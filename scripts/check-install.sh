#!/usr/bin/env bash
# check-install.sh <builddir> <srcdir>
# Installs the build into a scratch prefix, then builds tests/consumer against
# it twice -- with CMake find_package() and with pkg-config -- and runs both.
# Then builds tests/consumer/subproject, which pulls the source tree in with
# add_subdirectory() and fails to configure if sentinel_pool defines more
# than its libraries there (no test, bench, example or tool), and whose
# `cmake --install` must install none of sentinel_pool's files.
# Registered as the ctest `install_consumer`.
set -euo pipefail

if [ "$#" -ne 2 ]; then
    echo "usage: $0 <builddir> <srcdir>" >&2
    exit 2
fi
BUILD="$(cd "$1" && pwd)"
SRC="$(cd "$2" && pwd)"
CONSUMER="$SRC/tests/consumer"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/sp-install.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
PREFIX="$WORK/prefix"

cache_value() {
    sed -n "s/^$1:[A-Z]*=//p" "$BUILD/CMakeCache.txt" | head -n 1
}

# Use the build's compiler, and its sanitizer flags: an instrumented library
# needs an instrumented executable.
CC_USED="$(cache_value CMAKE_C_COMPILER)"
CC_USED="${CC_USED:-cc}"
SAN="$(cache_value SENTINEL_POOL_SANITIZE)"
EXTRA_FLAGS=()
if [ -n "$SAN" ]; then
    EXTRA_FLAGS=("-fsanitize=$SAN" -fno-omit-frame-pointer)
fi

echo "==> cmake --install $BUILD --prefix $PREFIX"
cmake --install "$BUILD" --prefix "$PREFIX" >"$WORK/install.log" 2>&1 || {
    cat "$WORK/install.log" >&2
    exit 1
}

# GNUInstallDirs may choose lib/, lib64/ or lib/<multiarch>/.
so="$(find "$PREFIX" -name 'libsentinel_pool.so' | head -n 1)"
pc="$(find "$PREFIX" -name 'sentinel_pool.pc' -path '*/pkgconfig/*' | head -n 1)"
cfg="$(find "$PREFIX" -name 'sentinel_poolConfig.cmake' | head -n 1)"
hdr="$PREFIX/include/sentinel_pool.h"
lic="$(find "$PREFIX" -name LICENSE -path '*/doc/sentinel_pool/*' | head -n 1)"
for f in "$so" "$pc" "$cfg" "$hdr" "$lic"; do
    if [ -z "$f" ] || [ ! -e "$f" ]; then
        echo "check-install: incomplete install; installed files:" >&2
        (cd "$PREFIX" && find . -type f -o -type l) >&2
        exit 1
    fi
done
find "$PREFIX" -name 'libsentinel_pool.a' | grep -q . || {
    echo "check-install: libsentinel_pool.a not installed" >&2
    exit 1
}
LIBDIR="$(dirname "$so")"
PCDIR="$(dirname "$pc")"

# The SONAME policy (CMakeLists.txt, README "ABI"): 0.<minor> while the
# major is 0, <major> from 1.0 on.
version="$(sed -n 's/^Version: *//p' "$pc")"
major="${version%%.*}"
minor="${version#*.}"
minor="${minor%%.*}"
if [ "$major" = 0 ]; then
    want_soname="libsentinel_pool.so.0.$minor"
else
    want_soname="libsentinel_pool.so.$major"
fi
soname="$(objdump -p "$so" | sed -n 's/^ *SONAME *//p')"
if [ "$soname" != "$want_soname" ] || [ ! -e "$LIBDIR/$soname" ]; then
    echo "check-install: SONAME of $version is '$soname', want $want_soname (installed)" >&2
    exit 1
fi
echo "    SONAME $soname"

fail=0
# run_consumer LABEL BIN [LIBDIR]: LIBDIR (default: the scratch install's)
# goes first in LD_LIBRARY_PATH; "-" leaves the binary to its RUNPATH.
run_consumer() {
    local label="$1" bin="$2" libdir="${3:-$LIBDIR}" out
    if [ "$libdir" = "-" ]; then
        libdir="${LD_LIBRARY_PATH:-}"
    else
        libdir="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi
    if ! out="$(LD_LIBRARY_PATH="$libdir" "$bin" 2>&1)"; then
        echo "check-install: $label consumer failed:" >&2
        echo "$out" >&2
        fail=1
        return
    fi
    echo "$out"
    if ! grep -qx 'OK' <<<"$out"; then
        echo "check-install: $label consumer did not print OK" >&2
        fail=1
    fi
}

echo "==> consumer via find_package (CMAKE_PREFIX_PATH=$PREFIX)"
# Isolate from a user/system package registry and from any other install.
if ! cmake -S "$CONSUMER" -B "$WORK/consumer-cmake" \
    -DCMAKE_PREFIX_PATH="$PREFIX" \
    -DCMAKE_C_COMPILER="$CC_USED" \
    -DCMAKE_C_FLAGS="${EXTRA_FLAGS[*]:-}" \
    -DCMAKE_EXE_LINKER_FLAGS="${EXTRA_FLAGS[*]:-}" \
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
    -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF \
    >"$WORK/consumer-cmake.log" 2>&1 ||
    ! cmake --build "$WORK/consumer-cmake" >>"$WORK/consumer-cmake.log" 2>&1; then
    cat "$WORK/consumer-cmake.log" >&2
    echo "check-install: CMake consumer failed to build" >&2
    exit 1
fi
run_consumer "CMake (shared)" "$WORK/consumer-cmake/consumer"
run_consumer "CMake (static)" "$WORK/consumer-cmake/consumer_static"

echo "==> consumer via pkg-config (PKG_CONFIG_PATH=$PCDIR)"
export PKG_CONFIG_PATH="$PCDIR${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
pkg-config --exists --print-errors sentinel_pool
read -r -a flags <<<"$(pkg-config --cflags --libs sentinel_pool)"
echo "    pkg-config --cflags --libs: ${flags[*]}"
"$CC_USED" -std=c11 -Wall -Wextra ${EXTRA_FLAGS[@]+"${EXTRA_FLAGS[@]}"} \
    "$CONSUMER/main.c" -o "$WORK/consumer-pc" "${flags[@]}"
run_consumer "pkg-config" "$WORK/consumer-pc"

# Static: the archive alone, with what pkg-config --static adds (the thread
# flag and libanl where this libc needs them and, in a TLS build,
# hiredis_ssl and OpenSSL).
read -r -a sflags <<<"$(pkg-config --cflags --static --libs-only-other --libs-only-L sentinel_pool)"
read -r -a slibs <<<"$(pkg-config --static --libs-only-l sentinel_pool | sed 's/-lsentinel_pool//')"
archive="$(find "$PREFIX" -name 'libsentinel_pool.a' | head -n 1)"
echo "    pkg-config --static: ${slibs[*]}"
"$CC_USED" -std=c11 -Wall -Wextra -DSENTINEL_POOL_STATIC ${EXTRA_FLAGS[@]+"${EXTRA_FLAGS[@]}"} \
    "$CONSUMER/main.c" -o "$WORK/consumer-pc-static" ${sflags[@]+"${sflags[@]}"} "$archive" \
    "${slibs[@]}"
run_consumer "pkg-config (static)" "$WORK/consumer-pc-static"

echo "==> consumer with add_subdirectory($SRC)"
# No build type given: the subproject must not choose one for its parent.
if ! cmake -S "$CONSUMER/subproject" -B "$WORK/consumer-subdir" \
    -DSENTINEL_POOL_SOURCE_DIR="$SRC" \
    -DCMAKE_C_COMPILER="$CC_USED" \
    -DCMAKE_C_FLAGS="${EXTRA_FLAGS[*]:-}" \
    -DCMAKE_EXE_LINKER_FLAGS="${EXTRA_FLAGS[*]:-}" \
    -DCMAKE_SHARED_LINKER_FLAGS="${EXTRA_FLAGS[*]:-}" \
    >"$WORK/consumer-subdir.log" 2>&1 ||
    ! cmake --build "$WORK/consumer-subdir" >>"$WORK/consumer-subdir.log" 2>&1; then
    cat "$WORK/consumer-subdir.log" >&2
    echo "check-install: add_subdirectory() consumer failed to configure or build" >&2
    exit 1
fi
grep -F 'sentinel_pool targets:' "$WORK/consumer-subdir.log" | sed 's/^-- /    /'
# Belt and braces: nothing of sentinel_pool's test or bench side was built.
stray="$(cd "$WORK/consumer-subdir/sentinel_pool" &&
    find . -maxdepth 1 -type f -perm -u+x \( -name 'test_*' -o -name 'bench' \
        -o -name 'sentinel_load' -o -name 'sentinel-pool-check' -o -name 'fuzz_*' \))"
if [ -n "$stray" ]; then
    echo "check-install: add_subdirectory() consumer built sentinel_pool's $stray" >&2
    fail=1
fi
run_consumer "add_subdirectory (shared)" "$WORK/consumer-subdir/consumer" -
run_consumer "add_subdirectory (static)" "$WORK/consumer-subdir/consumer_static" -
# The parent's install is the parent's: none of our files unless it sets
# SENTINEL_POOL_INSTALL (the parent installs nothing of its own here).
if ! cmake --install "$WORK/consumer-subdir" --prefix "$WORK/parent-prefix" \
    >"$WORK/consumer-subdir-install.log" 2>&1; then
    cat "$WORK/consumer-subdir-install.log" >&2
    echo "check-install: the add_subdirectory() consumer's cmake --install failed" >&2
    fail=1
elif [ -n "$(find "$WORK/parent-prefix" -type f 2>/dev/null)" ]; then
    echo "check-install: the parent's cmake --install installed sentinel_pool's files:" >&2
    find "$WORK/parent-prefix" -type f | sed 's/^/    /' >&2
    fail=1
else
    echo "ok: add_subdirectory: the parent's cmake --install installs none of sentinel_pool's files"
fi

if [ "$fail" -ne 0 ]; then
    exit 1
fi
echo "check-install: OK"
