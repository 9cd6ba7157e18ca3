#!/bin/bash
# The main job, end to end, on a fresh Debian 12 machine (as root):
#   ./scripts/demo.sh
# 1. install what is missing and build (scripts/setup.sh; skip: --no-build);
# 2. start a private Open vSwitch in its own namespace (tests/lib/ovs-sandbox.sh);
# 3. compile every example and load it into the switch, printing the pipeline
#    as the switch holds it;
# 4. build examples/demo.lb's topology (a client, three DR real servers),
#    load demo.lb and send requests through the VIP: each real answers with
#    its name;
# 5. hand the bridge to the agent flowlbd (it reconciles the pipeline in
#    place), then stop one real server: the agent's health check takes it
#    out of the group and every new request still succeeds; start it again
#    and it comes back.
# Everything is torn down at exit (--keep: leave the sandbox up until Enter).
# Each step is a function; main() lists them, so later steps (the agent
# flowlbd, health checks, failover) slot in as more functions.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$SRC/build}
export FLOWLB_SRC=$SRC FLOWLB_BIN=${FLOWLB_BIN:-$BUILD_DIR/bin}

build=1
keep=0
for a in "$@"; do
    case $a in
    --no-build) build=0 ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "demo.sh: unknown option $a" >&2; exit 2 ;;
    esac
done

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step_build() {
    say "Installing what is missing and building"
    BUILD_DIR=$BUILD_DIR "$SRC/scripts/setup.sh"
}

step_sandbox() {
    say "Starting a private Open vSwitch (userspace datapath)"
    . "$SRC/tests/lib/ovs-sandbox.sh"
    . "$SB_LIB_DIR/testlib.sh"
    t_need_flowlb
    sb_init
    echo "run dir $SB_DIR, OVS namespace $SB_NS; ovs-ofctl works with OVS_RUNDIR=$SB_DIR"
}

show_pipeline() {
    echo "-- groups:"
    ovs-ofctl -O OpenFlow15 --no-stats dump-groups br0 | grep -v '^OFPST' | sed 's/^ */   /'
    echo "-- flows:"
    ovs-ofctl -O OpenFlow15 --no-stats dump-flows br0 | sed 's/^ */   /'
}

step_examples() {
    local spec name out p
    for spec in "$EXAMPLES"/*.lb "$EXAMPLES"/*.yaml; do
        [ -e "$spec" ] || continue
        name=$(basename "$spec")
        out=$SB_DIR/$name.ofctl
        say "examples/$name: compile and load"
        t_compile "$spec" "$out"
        # Named ports must exist before ovs-ofctl can resolve them.
        for p in $(grep -o 'output:[a-zA-Z][^,) ]*' "$out" | sed 's/^output://' | sort -u); do
            case $p in IN_PORT|NORMAL|LOCAL|CONTROLLER|FLOOD|ALL) continue ;; esac
            ovs-vsctl --may-exist add-port br0 "$p" -- set interface "$p" type=internal \
                ofport_request=$((200 + $(ovs-vsctl list-ports br0 | wc -l)))
        done
        ovs-ofctl -O OpenFlow15 del-flows br0
        ovs-ofctl -O OpenFlow15 del-groups br0
        sb_load "$out"
        echo "$(grep -c '^group add' "$out" || true) groups, $(grep -c '^flow add' "$out") flows loaded:"
        show_pipeline
    done
}

step_topology() {
    say "demo.lb topology: client 10.0.0.1, reals r1-r3 10.0.0.11-13, VIP $DEMO_VIP"
    topo_demo servers
    ovs-ofctl -O OpenFlow15 del-flows br0
    ovs-ofctl -O OpenFlow15 del-groups br0
    t_compile "$EXAMPLES/demo.lb" "$SB_DIR/demo.ofctl"
    sb_load "$SB_DIR/demo.ofctl"
    ovs-vsctl show | sed 's/^/   /'
}

step_traffic() {
    local i a failed=0
    declare -A by=()
    say "12 new connections from the client to http://$DEMO_VIP/ (weights r1:r2:r3 = 2:1:1)"
    for i in $(seq 1 12); do
        if a=$(sb_exec client curl -sS --max-time 5 "http://$DEMO_VIP/"); then
            by[$a]=$((${by[$a]:-0} + 1))
        else
            a="(failed)"
            failed=$((failed + 1))
        fi
        printf '   request %2d answered by %s\n' "$i" "$a"
    done
    echo "   tally: r1=${by[r1]:-0} r2=${by[r2]:-0} r3=${by[r3]:-0}"
    [ $failed = 0 ] || sb_fail "$failed requests through the VIP failed"
    say "Switch state after the traffic"
    show_pipeline
    echo "-- conntrack (zone 64000):"
    ovs-appctl dpctl/dump-conntrack zone=64000 | head -6 | sed 's/^/   /'
}

# Requests through the VIP; prints who answered and a tally.
# Fails the demo if any request fails.
send_requests() {
    local n=$1 i a failed=0
    declare -A by=()
    for i in $(seq 1 "$n"); do
        if a=$(sb_exec client curl -sS --max-time 5 "http://$DEMO_VIP/"); then
            by[$a]=$((${by[$a]:-0} + 1))
        else
            failed=$((failed + 1))
        fi
    done
    echo "   $n requests: r1=${by[r1]:-0} r2=${by[r2]:-0} r3=${by[r3]:-0} failed=$failed"
    [ $failed = 0 ] || sb_fail "$failed requests through the VIP failed"
}

show_agent() {
    ag_ctl flowlb/show | sed 's/^/   /'
}

step_agent() {
    . "$SB_LIB_DIR/agent.sh"
    ag_need
    say "Starting the agent: flowlbd --bridge unix:$SB_DIR/br0.mgmt examples/demo.lb"
    ag_start "$EXAMPLES/demo.lb"
    ag_wait_synced 10 >/dev/null
    echo "   the pipeline was already there (loaded above): the agent adopted it in place"
    show_agent
    say "40 new connections through the VIP with the agent in charge"
    send_requests 40
}

step_failover() {
    local pid t0 ms
    say "Stopping r2's HTTP server (check: tcp, interval 1s, fall 3)"
    pid=$(cat "$SB_DIR/server.r2.pid")
    kill "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    ms=$(wait_until 15 sh -c "ovs-appctl -t '$AG_CTL' flowlb/show --json | grep -q '\"down\"'") ||
        sb_fail "the agent did not take r2 out"
    echo "   r2 taken out of the group after ${ms} ms; the agent logged:"
    grep -i 'down' "$AG_LOG" | tail -2 | sed 's/^/   /'
    show_agent
    echo "-- group now:"
    ovs-ofctl -O OpenFlow15 --no-stats dump-groups br0 | grep -v '^OFPST' | sed 's/^ */   /'
    say "40 new connections with r2 down: all must succeed, none on r2"
    send_requests 40

    say "Starting r2 again (rise 2)"
    sb_start_server r2
    ms=$(wait_until 15 sh -c "! ovs-appctl -t '$AG_CTL' flowlb/show --json | grep -q '\"down\"'") ||
        sb_fail "the agent did not bring r2 back"
    echo "   r2 back in the group after ${ms} ms"
    show_agent
    send_requests 40
}

step_keep() {
    say "Sandbox kept up: export OVS_RUNDIR=$SB_DIR; ip netns exec $(sb_ns client) curl http://$DEMO_VIP/"
    read -r -p "Press Enter to tear it down. " _
}

main() {
    [ $build = 1 ] && step_build
    step_sandbox
    step_examples
    step_topology
    step_traffic
    step_agent
    step_failover
    [ $keep = 1 ] && step_keep
    say "Done: examples compiled and loaded; traffic balanced through the VIP; a failed real taken out and brought back by flowlbd."
}

main
