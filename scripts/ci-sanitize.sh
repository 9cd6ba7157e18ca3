#!/bin/bash
# CI's second build: everything compiled with AddressSanitizer and
# UndefinedBehaviorSanitizer (clang), the whole test suite run on it (unit,
# golden, malformed specs, integration against a real ovs-vswitchd), plus
# the libFuzzer targets run once over their corpora (ctest label fuzz).
# Any sanitizer report fails the run: leaks included, first error fatal.
# Needs root, like .ci/run (namespaces, OVS); run after scripts/setup.sh.
#
# Env: ASAN_BUILD_DIR  build directory (default SRC/build-asan)
#      BUILD_DIR       the main build, whose libopenvswitch is reused
#                      (default SRC/build); without it libovs is built again
#      CMAKE_ARGS      extra configure arguments
#      CTEST_ARGS      extra ctest arguments (e.g. -L unit)
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${ASAN_BUILD_DIR:-$src/build-asan}
main_build=${BUILD_DIR:-$src/build}
start=$(date +%s)

if [ "$(id -u)" != 0 ]; then
    echo "ci-sanitize.sh: run as root (the integration tests need namespaces)" >&2
    exit 1
fi
# clang for libFuzzer; its runtime libraries come with the clang package.
if ! command -v clang > /dev/null; then
    echo "ci-sanitize.sh: installing clang"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends clang
fi

libovs_arg=()
if [ -f "$main_build/CMakeCache.txt" ]; then
    dir=$(sed -n 's/^FLOWLB_LIBOVS_DIR:[A-Z]*=//p' "$main_build/CMakeCache.txt")
    if [ -n "$dir" ] && [ -f "$dir/src/lib/.libs/libopenvswitch.a" ]; then
        libovs_arg=(-DFLOWLB_LIBOVS_DIR="$dir")
    fi
fi

# shellcheck disable=SC2086
cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DFLOWLB_SANITIZE=ON \
    -DFLOWLB_FUZZ=ON "${libovs_arg[@]}" ${CMAKE_ARGS:-}
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)"
built=$(date +%s)

export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# shellcheck disable=SC2086
status=0
ctest --test-dir "$build" --output-on-failure ${CTEST_ARGS:-} || status=$?
end=$(date +%s)
echo "ci-sanitize.sh: build $((built - start)) s, tests $((end - built)) s," \
     "status $status"
exit $status
