#!/bin/bash
# Runs the agent's integration tests (every tests/integration/*.sh that
# starts flowlbd through ag_start) with flowlbd under valgrind memcheck.
# A test fails if it fails on its own or if valgrind reports anything:
# invalid reads/writes, uses of uninitialized values, definite leaks.
# flowlbd detaches, so its exit status is not what the test sees: each
# flowlbd process writes its own valgrind log, and any non-empty log (-q
# prints only errors) fails the test. Meant for every change to runtime/.
# Needs root (namespaces, OVS) and a build WITHOUT sanitizers, made with
# gcc (Debian 12's valgrind 3.19 cannot read clang 14's DWARF 5: it gives
# up with "Possibly corrupted debuginfo file", which fails the test).
#
# Usage: valgrind-agent.sh [TEST...]   (names like agent_reload; default all)
# Env: BUILD_DIR  the build holding bin/flowlbd (default SRC/build)
#      VG_LOGS    where the valgrind logs go (default: a temporary
#                 directory, kept and printed when something fails)
#      VG_SKIP    tests left out of the default set (default:
#                 fault_limits fault_socket: 10,000 reals, or a 26,000-operation
#                 bundle, do not get in sync within the
#                 test's deadline under valgrind's slowdown); printed

set -u
src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$src/build}
bin=$build/bin

if [ "$(id -u)" != 0 ]; then
    echo "valgrind-agent.sh: run as root (the tests need namespaces)" >&2
    exit 2
fi
if ! command -v valgrind > /dev/null; then
    echo "valgrind-agent.sh: installing valgrind"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q && apt-get install -y -q --no-install-recommends valgrind \
        || exit 2
fi
[ -x "$bin/flowlbd" ] || {
    echo "valgrind-agent.sh: no $bin/flowlbd (set BUILD_DIR)" >&2
    exit 2
}
if grep -q -a -m 1 __asan_init "$bin/flowlbd"; then
    echo "valgrind-agent.sh: $bin/flowlbd is built with ASan; valgrind needs a plain build" >&2
    exit 2
fi

tests=()
if [ $# -gt 0 ]; then
    for t in "$@"; do
        tests+=("$src/tests/integration/${t%.sh}.sh")
    done
else
    for t in "$src"/tests/integration/*.sh; do
        name=$(basename "$t" .sh)
        if [[ " ${VG_SKIP-fault_limits fault_socket} " == *" $name "* ]]; then
            echo "skipped: $name (VG_SKIP)"
            continue
        fi
        grep -q 'ag_start' "$t" && tests+=("$t")
    done
fi

logs=${VG_LOGS:-$(mktemp -d "${TMPDIR:-/tmp}/flowlb-valgrind.XXXXXX")}
mkdir -p "$logs"
failed=()
for t in "${tests[@]}"; do
    name=$(basename "$t" .sh)
    dir=$logs/$name
    rm -rf "$dir"
    mkdir -p "$dir"
    # Leaks: only "definitely lost" counts; OVS keeps reachable memory
    # until exit by design. Health-check children are not traced.
    wrapper="valgrind -q --error-exitcode=99 --leak-check=full"
    wrapper+=" --show-leak-kinds=definite --errors-for-leak-kinds=definite"
    wrapper+=" --track-origins=yes --trace-children=no"
    wrapper+=" --log-file=$dir/vg.%p"
    t0=$(date +%s)
    AG_WRAPPER=$wrapper FLOWLB_BIN=$bin FLOWLB_SRC=$src \
        timeout 1200 "$t" > "$dir/test.log" 2>&1
    status=$?
    secs=$(($(date +%s) - t0))
    reports=()
    for f in "$dir"/vg.*; do
        [ -s "$f" ] && reports+=("$f")
    done
    if [ $status -ne 0 ] || [ ${#reports[@]} -gt 0 ]; then
        echo "FAIL: $name (${secs}s): test status $status, ${#reports[@]} valgrind report(s)"
        for f in "${reports[@]}"; do
            echo "    $f:"
            head -n 30 "$f" | sed 's/^/        /'
        done
        if [ $status -ne 0 ]; then
            # The test's own verdict first: the tail is the sandbox's
            # diagnostics (flow dumps, ovs-vswitchd.log), printed after it.
            grep -a -m 5 '^FAIL: ' "$dir/test.log" | sed 's/^/    | /'
            tail -n 15 "$dir/test.log" | sed 's/^/    | /'
        fi
        failed+=("$name")
    else
        n=$(ls "$dir" | grep -c '^vg\.')
        echo "ok: $name (${secs}s, $n flowlbd process(es) clean)"
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "valgrind-agent: ${#failed[@]} of ${#tests[@]} failed: ${failed[*]} (logs in $logs)"
    exit 1
fi
echo "valgrind-agent: ${#tests[@]} tests clean"
[ -n "${VG_LOGS:-}" ] || rm -rf "$logs"
exit 0
