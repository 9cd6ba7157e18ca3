#!/bin/bash
# Tear down one OVS sandbox (see ovs-sandbox.sh) from the records in its run
# directory: background programs and the OVS daemons by their pids, then the
# namespaces it created (their veths go with them), then the directory.
#   sb-teardown.sh DIR                 tear down now
#   sb-teardown.sh --watch PID DIR     wait until process PID is gone, then
#                                      tear down (the sandbox's watchdog: a
#                                      test killed with SIGKILL, e.g. by a
#                                      ctest timeout, never runs its trap)
set +e
if [ "${1:-}" = --watch ]; then
    owner=$2
    dir=$3
    while kill -0 "$owner" 2>/dev/null && [ -d "$dir" ]; do
        sleep 1
    done
    [ -d "$dir" ] || exit 0
    [ -e "$dir/keep" ] && exit 0
else
    dir=$1
fi
[ -d "$dir" ] || exit 0

kill_pid() { # kill_pid PID: TERM, wait up to 5 s, then KILL
    local pid=$1 i=0
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -9 "$pid" 2>/dev/null
    return 0
}

if [ -f "$dir/pids" ]; then
    while read -r pid; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null
    done <"$dir/pids"
    sleep 0.2
    while read -r pid; do
        [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    done <"$dir/pids"
fi
for d in ovs-vswitchd ovsdb-server; do
    [ -f "$dir/$d.pid" ] && kill_pid "$(cat "$dir/$d.pid" 2>/dev/null)"
done
if [ -f "$dir/namespaces" ]; then
    while read -r ns; do
        [ -n "$ns" ] && ip netns delete "$ns" 2>/dev/null
    done <"$dir/namespaces"
fi
if [ -e "$dir/keep" ]; then
    echo "sandbox: kept run dir $dir" >&2
else
    rm -rf "$dir"
fi
exit 0
