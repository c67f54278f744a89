#!/usr/bin/env bash
# tests/run.sh - the project's test command: every test, on a fresh Debian 12 root
# shell. Installs the Debian packages the build and the tests use, then builds and
# runs ctest in five variants:
#   build/        release build with hardening flags: unit, integration tests
#   build-asan/   ASan + UBSan: the same tests
#   build-ubsan/  UBSan alone: the unit tests (ASan's allocator hides misalignment)
#   build-tsan/   TSan: the concurrency tests, portsyncd's own threads included
#   build-fuzz/   clang + libFuzzer + ASan/UBSan: each fuzzer for PSM_FUZZ_SECONDS
# and ends with one summary line. Exit status 0 only if every variant passed.
# Each variant's logs (configure.log, build.log, ctest.log) stay in its build dir.
#
# Environment: PSM_FUZZ_SECONDS (default 60), PSM_VARIANTS (default
# "release asan ubsan tsan fuzz"), JOBS (default: number of CPUs).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
JOBS=${JOBS:-$(nproc)}
PSM_FUZZ_SECONDS=${PSM_FUZZ_SECONDS:-60}
PSM_VARIANTS=${PSM_VARIANTS:-release asan ubsan tsan fuzz}

packages=(
    build-essential cmake clang libclang-rt-14-dev pkg-config
    libcriterion-dev libmnl-dev libhiredis-dev libjansson-dev libh2o-evloop-dev libssl-dev libyaml-dev
    zlib1g-dev
    redis-server prometheus python3 python3-prometheus-client python3-h2 curl openssl iproute2 procps
    protobuf-compiler libprotobuf-dev python3-protobuf
    nginx-light util-linux dpkg-dev pandoc man-db supervisor
)

install_packages() {
    local missing=()
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "run.sh: installing ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "run.sh: packages missing and not root: ${missing[*]}" >&2
        return 1
    fi
    apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null
}

install_packages || { echo "run.sh: package installation failed"; echo "total: 0 passed, 1 failed"; exit 1; }

passed=0
failed=0
failed_variants=()

# run_variant NAME BUILDDIR CTEST_ARGS CMAKE_ARGS...
run_variant() {
    local name=$1 dir=$2 ctest_args=$3
    shift 3
    echo
    echo "=== $name: configure and build in $dir"
    mkdir -p "$dir"
    if ! cmake -S "$top" -B "$dir" "$@" >"$dir/configure.log" 2>&1; then
        cat "$dir/configure.log"
        failed=$((failed + 1)); failed_variants+=("$name(configure)")
        return
    fi
    if ! cmake --build "$dir" -j "$JOBS" >"$dir/build.log" 2>&1; then
        grep -E 'error|Error' "$dir/build.log" | head -n 40
        failed=$((failed + 1)); failed_variants+=("$name(build)")
        return
    fi
    echo "=== $name: ctest $ctest_args"
    local log="$dir/ctest.log"
    # shellcheck disable=SC2086
    (cd "$dir" && ctest --output-on-failure $ctest_args) 2>&1 | tee "$log"
    local total fail
    total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -n 1)
    fail=$(sed -n 's/.*, \([0-9]*\) tests failed out of.*/\1/p' "$log" | tail -n 1)
    if [ -z "$total" ]; then
        failed=$((failed + 1)); failed_variants+=("$name(no tests ran)")
        return
    fi
    passed=$((passed + total - fail))
    failed=$((failed + fail))
    [ "$fail" -eq 0 ] || failed_variants+=("$name")
}

for v in $PSM_VARIANTS; do
    case $v in
    release) run_variant release build "-j $JOBS" -DCMAKE_BUILD_TYPE=RelWithDebInfo ;;
    asan)
        # Leak checking stays on; UBSan findings abort (-fno-sanitize-recover).
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
            run_variant asan build-asan "-j $JOBS -LE fuzz" -DCMAKE_BUILD_TYPE=Debug \
            -DPSM_SANITIZE=address,undefined ;;
    ubsan)
        # Alone, UBSan sees misaligned accesses that ASan's allocator would align away.
        UBSAN_OPTIONS=print_stacktrace=1 \
            run_variant ubsan build-ubsan "-j $JOBS -L unit" -DCMAKE_BUILD_TYPE=Debug \
            -DPSM_SANITIZE=undefined ;;
    tsan)
        run_variant tsan build-tsan "-L concurrency" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            -DPSM_SANITIZE=thread ;;
    fuzz)
        CC=clang run_variant fuzz build-fuzz "-L fuzz" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            -DCMAKE_C_COMPILER=clang -DPSM_FUZZ=ON -DPSM_SANITIZE=address,undefined \
            -DPSM_FUZZ_SECONDS="$PSM_FUZZ_SECONDS" ;;
    *) echo "run.sh: unknown variant '$v' (expected release, asan, ubsan, tsan, fuzz)"; failed=$((failed + 1)) ;;
    esac
done

rm -f /dev/shm/psm-test-* /dev/shm/psm-it-* /dev/shm/psm-fuzz-* 2>/dev/null
echo
[ ${#failed_variants[@]} -eq 0 ] || echo "run.sh: failures in: ${failed_variants[*]}"
echo "total: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
