#!/bin/bash
# flowlbd's command line and the switch's ports:
#  1. a spec with an error: flowlbd exits 1 before detaching, the
#     FILE:LINE:COL message on stderr, nothing installed;
#  2. a real reached through a port NAME the bridge does not have yet: its
#     forward flow is left out (logged against the spec line), the rest is
#     installed; once the port is added the flow appears (port status ->
#     re-read of ports) with the port's number; removed again -> flow goes;
#  3. --table-base / --ct-zone move the pipeline as flowlb compile does:
#     same flows as `flowlb compile --table-base ... --ct-zone ...`.
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
sb_init
. "$SB_LIB_DIR/agent.sh"
ag_need
topo_demo servers

"$FLOWLBD" --help | grep -q -- '--reconcile-interval' || sb_fail "--help lacks options"
"$FLOWLBD" --version | grep -q flowlb || sb_fail "--version"

# --- 1. broken spec at startup -------------------------------------------
sed 's/weight 2;/weight 99999;/' "$EXAMPLES/demo.lb" >"$SB_DIR/bad.lb"
line=$(grep -n 'weight 99999' "$SB_DIR/bad.lb" | cut -d: -f1)
rc=0
ip netns exec "$SB_NS" "$FLOWLBD" --bridge "unix:$SB_DIR/br0.mgmt" --detach \
    --pidfile="$SB_DIR/bad.pid" --unixctl "$SB_DIR/bad.ctl" -vconsole:off \
    "$SB_DIR/bad.lb" 2>"$SB_DIR/bad.err" || rc=$?
[ "$rc" = 1 ] || sb_fail "flowlbd with a broken spec exited $rc, want 1"
grep -q "$SB_DIR/bad.lb:$line:[0-9]*: error: " "$SB_DIR/bad.err" ||
    sb_fail "no FILE:LINE:COL error on stderr: $(cat "$SB_DIR/bad.err")"
[ "$(ag_flows | wc -l)" = 0 ] || sb_fail "a broken spec installed flows"
echo "broken spec: exit 1, $(head -1 "$SB_DIR/bad.err")"

# --- 2. a named port that comes later --------------------------------------
SPEC=$SB_DIR/named.lb
sed 's/\(real 10.0.0.13 mac 02:00:00:00:00:13\);/\1 port lbtest0;/' "$EXAMPLES/demo.lb" >"$SPEC"
grep -q 'port lbtest0' "$SPEC" || sb_fail "could not make the spec"
pline=$(grep -n 'port lbtest0' "$SPEC" | cut -d: -f1)
ag_start --reconcile-interval 5s "$SPEC"
ag_wait_synced 10 2>/dev/null || true
sleep 1
fwd() { ovs-ofctl -O OpenFlow15 --no-names dump-flows br0 table=2 | grep 'ct_mark=0xa00000d' || true; }
[ -z "$(fwd)" ] || sb_fail "a flow to the missing port was installed: $(fwd)"
grep -q "$SPEC:$pline:[0-9]*: flow not installable" "$AG_LOG" ||
    sb_fail "the missing port is not reported against the spec line: $(grep -i install "$AG_LOG")"
[ "$(ag_flows | wc -l)" -ge 12 ] || sb_fail "the rest of the pipeline is missing"
t0=$(now_ms)
ovs-vsctl add-port br0 lbtest0 -- set interface lbtest0 type=internal ofport_request=77
t=$(wait_until 10 bash -c "ovs-ofctl -O OpenFlow15 --no-names dump-flows br0 table=2 | grep 'ct_mark=0xa00000d' | grep -q 'output:77'") ||
    sb_fail "the forward flow did not appear after the port was added"
echo "port lbtest0 added: forward flow output:77 installed after $t ms"
# Port status messages (asked for on connect) make this immediate, not a
# reconcile interval (5 s here) later.
[ "$t" -le 2000 ] || sb_fail "the port took $t ms to be used (bound 2000 ms)"
ag_wait_synced 10
ovs-vsctl del-port br0 lbtest0
wait_until 10 bash -c "! ovs-ofctl -O OpenFlow15 dump-flows br0 table=2 | grep -q 'ct_mark=0xa00000d'" >/dev/null ||
    sb_fail "the forward flow stayed after the port was deleted"
echo "port deleted: its forward flow removed"
ag_stop
ovs-ofctl -O OpenFlow15 del-flows br0
ovs-ofctl -O OpenFlow15 del-groups br0

# --- 3. table base and zone --------------------------------------------------
ag_start --reconcile-interval 5s --table-base 20 --ct-zone 7 "$EXAMPLES/demo.lb"
ag_wait_synced 10
ag_flows >"$SB_DIR/by_agent"
ag_groups >"$SB_DIR/groups_by_agent"
ag_stop
ovs-ofctl -O OpenFlow15 del-flows br0
ovs-ofctl -O OpenFlow15 del-groups br0
t_compile "$EXAMPLES/demo.lb" "$SB_DIR/moved.ofctl" --table-base 20 --ct-zone 7
sb_load "$SB_DIR/moved.ofctl"
ag_flows >"$SB_DIR/by_ofctl"
ag_groups >"$SB_DIR/groups_by_ofctl"
diff -u "$SB_DIR/by_ofctl" "$SB_DIR/by_agent" || sb_fail "--table-base/--ct-zone differ from flowlb compile"
diff -u "$SB_DIR/groups_by_ofctl" "$SB_DIR/groups_by_agent" || sb_fail "groups differ"
grep -q 'table=20' "$SB_DIR/by_agent" && grep -q 'zone=7' "$SB_DIR/groups_by_agent" ||
    sb_fail "pipeline not moved to table 20 / zone 7"
echo "--table-base 20 --ct-zone 7: same pipeline as flowlb compile"
echo "agent_ports: OK"
