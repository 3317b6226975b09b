# shellcheck shell=bash
# Shared helpers for scripts/test, scripts/demo and scripts/fuzz.sh (sourced).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JOBS="$(nproc 2>/dev/null || echo 2)"

# Configuration of the default build dir `build`, shared by test and demo so
# that running one after the other does not rebuild everything.
# shellcheck disable=SC2034  # used by the scripts that source this file
PLAIN_CMAKE_ARGS=(
    -DCMAKE_BUILD_TYPE=Release
    "-DCMAKE_C_FLAGS_RELEASE=-O2 -g"
    -DSENTINEL_POOL_WERROR=ON
    -DSENTINEL_POOL_SANITIZE=
)

# configure_and_build <builddir> [cmake args...]
configure_and_build() {
    local dir="$1"
    shift
    echo "==> configure $dir" >&2
    cmake -S "$ROOT" -B "$dir" "$@"
    echo "==> build $dir (-j$JOBS)" >&2
    cmake --build "$dir" -j "$JOBS"
}
