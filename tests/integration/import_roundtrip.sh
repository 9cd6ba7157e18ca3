#!/bin/bash
# flowlb import, end to end on a real switch with real traffic: the demo
# topology (client + three DR reals holding the VIP on lo) described as
#  1. ipvsadm-save output (tests/import/sandbox.rules), with the reals' MACs
#     taken from the client's real `ip neigh show` output;
#  2. a keepalived.conf with TCP_CHECKs and persistence_timeout
#     (tests/import/sandbox-keepalived.conf), imported as YAML;
# is imported, checked, compiled, loaded into OVS, and carries HTTP through
# the VIP: with ipvsadm's wrr 2:1:1 every real answers; with keepalived's
# persistence one client always lands on one real;
#  3. a keepalived.conf with TCP_CHECKs (sandbox-keepalived-check.conf) is
#     imported and run by flowlbd: a real whose server stops is taken out by
#     the imported check (no request reaches it), and comes back.
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
command -v curl >/dev/null || sb_fail "curl is needed"
sb_init
topo_demo servers
IMPORT=$FLOWLB_SRC/tests/import

# The MACs ipvsadm does not know: what the client's neighbour table says.
for h in $DEMO_REALS; do
    sb_exec client curl -sS --max-time 5 "http://$(demo_ip "$h")/" >/dev/null ||
        sb_fail "client cannot reach $h before the import"
done
sb_exec client ip neigh show >"$SB_DIR/neigh.txt"
echo "client's neighbour table:"; cat "$SB_DIR/neigh.txt"

get() { sb_exec client curl -sS --max-time 5 "http://$DEMO_VIP/"; }

# load SPEC: check, compile and load, replacing what was there.
load() {
    "$FLOWLB" check "$1" 2>"$1.check" ||
        sb_fail "flowlb check $1 failed: $(cat "$1.check")"
    t_compile "$1" "$1.ofctl"
    ovs-ofctl -O OpenFlow15 del-flows br0
    ovs-ofctl -O OpenFlow15 del-groups br0
    sb_exec client ip neigh flush all
    sb_load "$1.ofctl"
}

# --- 1. ipvsadm -----------------------------------------------------------
spec=$SB_DIR/ipvsadm.lb
"$FLOWLB" import ipvsadm "$IMPORT/sandbox.rules" --neigh "$SB_DIR/neigh.txt" \
    --vip-mac "$DEMO_VMAC" -o "$spec" 2>"$spec.err" ||
    sb_fail "import ipvsadm failed: $(cat "$spec.err")"
[ ! -s "$spec.err" ] || sb_fail "import ipvsadm warned: $(cat "$spec.err")"
cat "$spec"
for h in $DEMO_REALS; do
    grep -q "real $(demo_ip "$h") mac $(demo_mac "$h") weight $(demo_weight "$h");" "$spec" ||
        sb_fail "imported spec lacks real $h with its MAC from ip neigh"
done
load "$spec"
N=${IMPORT_N:-40}
declare -A seen=()
for i in $(seq 1 "$N"); do
    a=$(get) || sb_fail "curl #$i through the VIP (ipvsadm import) failed"
    case " $DEMO_REALS " in
    *" $a "*) seen[$a]=$((${seen[$a]:-0} + 1)) ;;
    *) sb_fail "curl #$i: unexpected answer '$a'" ;;
    esac
done
summary=""
for h in $DEMO_REALS; do summary="$summary $h=${seen[$h]:-0}"; done
echo "ipvsadm import: $N connections through the VIP:$summary"
for h in $DEMO_REALS; do
    [ "${seen[$h]:-0}" -gt 0 ] || sb_fail "real $h never answered in $N connections"
done

# --- 2. keepalived, as YAML -------------------------------------------------
spec=$SB_DIR/keepalived.yaml
macs=()
for h in $DEMO_REALS; do macs+=(--mac "$(demo_ip "$h")=$(demo_mac "$h")"); done
"$FLOWLB" import keepalived "$IMPORT/sandbox-keepalived.conf" "${macs[@]}" \
    --vip-mac "$DEMO_VMAC" --yaml -o "$spec" 2>"$spec.err" ||
    sb_fail "import keepalived failed: $(cat "$spec.err")"
cat "$spec"
grep -q 'timeout: 60s' "$spec" || sb_fail "persistence_timeout 60 not imported"
grep -q 'type: tcp' "$spec" || sb_fail "TCP_CHECK not imported"
load "$spec"
declare -A pseen=()
for i in $(seq 1 20); do
    a=$(get) || sb_fail "curl #$i through the VIP (keepalived import) failed"
    case " $DEMO_REALS " in
    *" $a "*) pseen[$a]=1 ;;
    *) sb_fail "curl #$i: unexpected answer '$a'" ;;
    esac
done
[ "${#pseen[@]}" = 1 ] ||
    sb_fail "persistence: one client reached ${#pseen[@]} reals (${!pseen[*]})"
echo "keepalived import: 20 connections from one client, all to ${!pseen[*]} (persistence)"

# --- 3. keepalived's checks, run by flowlbd ---------------------------------
. "$SB_LIB_DIR/agent.sh"
ag_need
spec=$SB_DIR/checked.lb
"$FLOWLB" import keepalived "$IMPORT/sandbox-keepalived-check.conf" \
    --neigh "$SB_DIR/neigh.txt" --vip-mac "$DEMO_VMAC" -o "$spec" 2>"$spec.err" ||
    sb_fail "import keepalived (checks) failed: $(cat "$spec.err")"
grep -q 'check tcp interval 1s timeout 1s rise 1 fall 2;' "$spec" ||
    sb_fail "TCP_CHECK not imported as expected: $(grep check "$spec")"
"$FLOWLB" check "$spec" 2>"$spec.check" || sb_fail "flowlb check: $(cat "$spec.check")"
ovs-ofctl -O OpenFlow15 del-flows br0
ovs-ofctl -O OpenFlow15 del-groups br0
ag_start "$spec"
ag_wait_synced 10
all_up() {
    for h in $DEMO_REALS; do [ "$(ag_health_of "$(demo_ip "$h")")" = up ] || return 1; done
}
wait_until 10 all_up >/dev/null || sb_fail "reals not all up: $(ag_ctl flowlb/show)"
mark2=$(demo_mark r2)
ag_mark_installed "$mark2" || sb_fail "r2's bucket is not installed to begin with"
pid=$(cat "$SB_DIR/server.r2.pid")
kill "$pid"
while kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
t=$(wait_until 15 bash -c "! ovs-ofctl -O OpenFlow15 dump-groups br0 | grep -q -- '$mark2->ct_mark'") ||
    sb_fail "r2's bucket still in the group 15 s after its server stopped"
echo "r2 stopped: the imported TCP_CHECK took it out after ${t} ms"
for i in $(seq 1 20); do
    a=$(vip_get) || sb_fail "request $i through the VIP failed while r2 is down"
    [ "$a" != r2 ] || sb_fail "request $i reached the stopped r2"
done
sb_start_server r2
t=$(wait_until 15 ag_mark_installed "$mark2") ||
    sb_fail "r2's bucket not back 15 s after its server restarted"
echo "r2 restarted: back after ${t} ms"
ag_stop
echo "PASS"
