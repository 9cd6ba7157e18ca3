#!/bin/bash
# flowlb import, end to end on a real switch with real traffic: the demo
# topology (client + three DR reals holding the VIP on lo) described as
#  1. ipvsadm-save output (tests/import/sandbox.rules), with the reals' MACs
#     taken from the client's real `ip neigh show` output;
#  2. a keepalived.conf with TCP_CHECKs and persistence_timeout
#     (tests/import/sandbox-keepalived.conf), imported as YAML;
# is imported, checked, compiled, loaded into OVS, and carries HTTP through
# the VIP: with ipvsadm's wrr 2:1:1 every real answers; with keepalived's
# persistence one client always lands on one real.
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
echo "PASS"
