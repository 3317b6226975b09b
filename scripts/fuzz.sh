#!/usr/bin/env bash
# Build the libFuzzer targets (fuzz/fuzz_<name>.c) with clang into build-fuzz/
# and run each for N seconds (default 60) on a scratch copy of
# fuzz/corpus/<name>/. Fails if any target crashes, leaks, or times out.
#   scripts/fuzz.sh            60 s per target
#   scripts/fuzz.sh 3600       long run
# Extra libFuzzer flags can be passed through FUZZ_ARGS (e.g. FUZZ_ARGS="-jobs=4").
# Crash inputs are kept under build-fuzz/artifacts/<name>/.
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"

SECONDS_PER_TARGET="${1:-60}"
if ! [[ "$SECONDS_PER_TARGET" =~ ^[0-9]+$ ]] || [ "$SECONDS_PER_TARGET" -lt 1 ]; then
    echo "usage: scripts/fuzz.sh [seconds-per-target]" >&2
    exit 2
fi

CC_FUZZ="${CC_FUZZ:-$(command -v clang || true)}"
if [ -z "$CC_FUZZ" ]; then
    echo "fuzz.sh: clang not found (run scripts/deps.sh)" >&2
    exit 1
fi

shopt -s nullglob
sources=("$ROOT"/fuzz/fuzz_*.c)
if [ "${#sources[@]}" -eq 0 ]; then
    echo "fuzz.sh: no fuzz/fuzz_*.c targets; nothing to do"
    exit 0
fi

BUILD="$ROOT/build-fuzz"
configure_and_build "$BUILD" \
    -DCMAKE_C_COMPILER="$CC_FUZZ" \
    -DCMAKE_BUILD_TYPE=Release "-DCMAKE_C_FLAGS_RELEASE=-O1 -g" \
    -DSENTINEL_POOL_BUILD_FUZZERS=ON \
    -DSENTINEL_POOL_BUILD_TESTS=OFF \
    -DSENTINEL_POOL_BUILD_EXAMPLES=OFF \
    -DSENTINEL_POOL_BUILD_BENCH=OFF \
    -DSENTINEL_POOL_WERROR=OFF \
    -DSENTINEL_POOL_SANITIZE=

WORK="$(mktemp -d "${TMPDIR:-/tmp}/sp-fuzz.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

failed=()
for src in "${sources[@]}"; do
    target="$(basename "$src" .c)"  # fuzz_<name>
    name="${target#fuzz_}"
    bin="$BUILD/$target"
    if [ ! -x "$bin" ]; then
        echo "fuzz.sh: $bin was not built" >&2
        failed+=("$target")
        continue
    fi

    corpus="$WORK/corpus-$name"
    mkdir -p "$corpus"
    for seed_dir in "$ROOT/fuzz/corpus/$name" "$ROOT/fuzz/corpus/$target"; do
        if [ -d "$seed_dir" ]; then
            cp -R "$seed_dir"/. "$corpus"/
        fi
    done
    artifacts="$BUILD/artifacts/$name"
    mkdir -p "$artifacts"

    args=(-max_total_time="$SECONDS_PER_TARGET" -timeout=25 -print_final_stats=1
        -artifact_prefix="$artifacts/")
    for dict in "$ROOT/fuzz/$name.dict" "$ROOT/fuzz/$target.dict"; do
        if [ -f "$dict" ]; then args+=(-dict="$dict"); fi
    done
    # shellcheck disable=SC2206
    extra=(${FUZZ_ARGS:-})

    log="$WORK/$name.log"
    echo "==> $target: ${SECONDS_PER_TARGET}s, seeds: $(find "$corpus" -type f | wc -l)" >&2
    rc=0
    "$bin" "${args[@]}" "${extra[@]}" "$corpus" >"$log" 2>&1 || rc=$?

    # Summary: the final "#N DONE cov: ..." line (or the last status line) and stats.
    final="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)"
    [ -n "$final" ] || final="$(grep -E '^#[0-9]+[[:space:]].*cov:' "$log" | tail -n 1 || true)"
    execs="$(sed -n 's/^stat::number_of_executed_units:[[:space:]]*//p' "$log" | tail -n 1)"
    echo "    executions: ${execs:-unknown}"
    echo "    ${final:-no coverage line}"
    if [ "$rc" -ne 0 ]; then
        echo "fuzz.sh: $target FAILED (exit $rc); last output:" >&2
        tail -n 60 "$log" >&2
        echo "fuzz.sh: artifacts in $artifacts" >&2
        failed+=("$target")
    fi
done

if [ "${#failed[@]}" -ne 0 ]; then
    echo "fuzz.sh: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz.sh: all ${#sources[@]} targets ran ${SECONDS_PER_TARGET}s without crashes"
