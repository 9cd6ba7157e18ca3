#!/bin/bash
# Every example spec through flowlbd (no traffic, no checks):
#  - what flowlbd installs is exactly what `ovs-ofctl bundle` of
#    `flowlb compile` installs (flows and groups, as the switch dumps them);
#  - the comparison of desired and installed state is stable: after the
#    first bundle, several reconcile rounds send nothing (no churn from the
#    switch printing matches and actions its own way: ARP and ND
#    responders, UDP, all-ports services, IPv6, named ports, drained reals);
#  - switching from one example to the next by reload pushes a difference
#    after which the switch holds exactly the new example.
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
sb_init
. "$SB_LIB_DIR/agent.sh"
ag_need

ofctl_state() { # SPEC OUTPREFIX: load the compiled spec by hand, dump it
    ovs-ofctl -O OpenFlow15 del-flows br0
    ovs-ofctl -O OpenFlow15 del-groups br0
    t_compile "$1" "$2.ofctl"
    # Named ports must exist for ovs-ofctl (and flowlbd) to resolve them.
    for p in $(grep -o 'output:[a-zA-Z][^,) ]*' "$2.ofctl" | sed 's/^output://' | sort -u); do
        case $p in IN_PORT|NORMAL|LOCAL|CONTROLLER|FLOOD|ALL|in_port) continue ;; esac
        ovs-vsctl --may-exist add-port br0 "$p" -- set interface "$p" type=internal
    done
    sb_load "$2.ofctl"
    ag_flows >"$2.flows"
    ag_groups >"$2.groups"
    ovs-ofctl -O OpenFlow15 del-flows br0
    ovs-ofctl -O OpenFlow15 del-groups br0
}

# References first: nobody else may touch the bridge while flowlbd runs.
for spec in "$EXAMPLES"/*.lb "$EXAMPLES"/*.yaml; do
    [ -e "$spec" ] || continue
    ofctl_state "$spec" "$SB_DIR/$(basename "$spec")"
done

SPEC=$SB_DIR/spec
n=0
prev=""
for spec in "$EXAMPLES"/*.lb "$EXAMPLES"/*.yaml; do
    [ -e "$spec" ] || continue
    name=$(basename "$spec")
    # Same file name for every example (reload reads it again); keep the
    # extension, which selects the syntax.
    case $name in *.yaml) cur=$SPEC.yaml ;; *) cur=$SPEC.lb ;; esac
    if [ -z "$prev" ] || [ "$prev" != "$cur" ]; then
        # First example, or the syntax changed: (re)start on the new file.
        [ -z "$prev" ] || ag_stop
        cp "$spec" "$cur"
        ag_start --no-checks --reconcile-interval 300ms "$cur"
    else
        cp "$spec" "$cur"
        ag_ctl flowlb/reload >/dev/null || sb_fail "reload of $name refused"
    fi
    prev=$cur
    ag_wait_synced 10
    b0=$(ag_json 's["bundles"]')
    d0=$(ag_json 's["dumps"]')
    wait_until 10 bash -c "[ \$(ovs-appctl -t '$AG_CTL' flowlb/show --json | '$SB_PY' -c 'import json,sys; print(json.load(sys.stdin)[\"dumps\"])') -ge $((d0 + 4)) ]" >/dev/null ||
        sb_fail "$name: no reconcile rounds"
    [ "$(ag_json 's["bundles"]')" = "$b0" ] ||
        sb_fail "$name: flowlbd keeps sending bundles (churn): $(grep 'bundle' "$AG_LOG" | tail -4)"
    ag_flows >"$SB_DIR/$name.agent.flows"
    ag_groups >"$SB_DIR/$name.agent.groups"
    diff -u "$SB_DIR/$name.flows" "$SB_DIR/$name.agent.flows" ||
        sb_fail "$name: flowlbd's flows differ from flowlb compile's"
    diff -u "$SB_DIR/$name.groups" "$SB_DIR/$name.agent.groups" ||
        sb_fail "$name: flowlbd's groups differ from flowlb compile's"
    echo "$name: $(wc -l <"$SB_DIR/$name.agent.flows") flows, $(wc -l <"$SB_DIR/$name.agent.groups") groups = flowlb compile; 4 reconcile rounds sent nothing"
    n=$((n + 1))
done
[ "$n" -ge 2 ] || sb_fail "fewer than 2 examples found in $EXAMPLES"
echo "agent_examples: OK ($n examples)"
