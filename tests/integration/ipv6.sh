#!/bin/bash
# IPv6 through examples/ipv6.lb on a private OVS: reals 2001:db8::11 (port 1,
# weight 2) and ::12 (port 2) hold the VIP 2001:db8::100 on lo; a client on
# port 3.
#  - ofproto/trace: a neighbour solicitation for the VIP is answered with a
#    neighbour advertisement from the vip-mac (target link-layer address =
#    vip-mac, solicited+override flags) back out the in_port; a duplicate
#    address detection for the VIP gets an unsolicited one to all nodes;
#  - the client's kernel resolves the VIP to the vip-mac, curl over IPv6 is
#    answered by both reals, and a multi-MB upload completes.
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
sb_init
VIP6=2001:db8::100
VMAC6=02:00:00:00:06:00
CMAC=02:00:00:00:06:01
sb_add_host r1 10.9.0.11/24 02:00:00:00:06:11 1 2001:db8::11/64
sb_add_host r2 10.9.0.12/24 02:00:00:00:06:12 2 2001:db8::12/64
sb_add_host client 10.9.0.1/24 $CMAC 3 2001:db8::1/64
for h in r1 r2; do
    sb_make_real "$h" "$VIP6"
    sb_start_server "$h"
done
t_compile "$EXAMPLES/ipv6.lb" "$SB_DIR/ipv6.ofctl"
sb_load "$SB_DIR/ipv6.ofctl"

# --- ND responder -----------------------------------------------------------
# expect_answer WHAT FLOW WANT...: ofproto/trace of FLOW (from the client,
# port 3) must give datapath actions containing every WANT and ending with
# the client's own port.
client_dp=$(dp_port "$(sb_port_of client)")
expect_answer() {
    local what=$1 flow=$2 out=$SB_DIR/trace.out acts want
    shift 2
    ovs-appctl ofproto/trace br0 "$flow" >"$out" 2>&1 ||
        sb_fail "trace failed: $(cat "$out")"
    acts=$(grep '^Datapath actions:' "$out" | tail -1)
    echo "$what: $acts"
    for want in "$@"; do
        case $acts in *"$want"*) ;; *) sb_fail "$what: answer lacks $want: $acts" ;; esac
    done
    [ "${acts##*,}" = "$client_dp" ] ||
        sb_fail "$what: answer not sent back out the in_port ($client_dp): $acts"
}
NS="in_port=3,icmp6,dl_src=$CMAC,dl_dst=33:33:ff:00:01:00,ipv6_dst=ff02::1:ff00:100,nw_ttl=255,icmpv6_type=135,icmpv6_code=0,nd_target=$VIP6"
expect_answer "NS for the VIP" "$NS,ipv6_src=2001:db8::1,nd_sll=$CMAC" \
    "eth(src=$VMAC6,dst=$CMAC)" "ipv6(src=$VIP6,dst=2001:db8::1)" \
    "nd(tll=$VMAC6)" "icmpv6(type=136" "nd_reserved=0x60000000"
# Another host's duplicate address detection for the VIP (source "::", no
# link-layer option): defended with an unsolicited NA to all nodes.
expect_answer "DAD for the VIP" "$NS,ipv6_src=::" \
    "eth(src=$VMAC6,dst=33:33:00:00:00:01)" "ipv6(src=$VIP6,dst=ff02::1)" \
    "nd(tll=$VMAC6)" "icmpv6(type=136" "nd_reserved=0x20000000"

# --- Real IPv6 traffic ------------------------------------------------------
declare -A seen=()
for i in $(seq 1 30); do
    a=$(sb_exec client curl -sS --max-time 5 -g "http://[$VIP6]/") ||
        sb_fail "curl #$i to [$VIP6] failed"
    case $a in r1|r2) seen[$a]=$((${seen[$a]:-0} + 1)) ;; *) sb_fail "unexpected answer '$a'" ;; esac
done
echo "30 IPv6 connections: r1=${seen[r1]:-0} r2=${seen[r2]:-0}"
[ "${seen[r1]:-0}" -gt 0 ] && [ "${seen[r2]:-0}" -gt 0 ] ||
    sb_fail "both reals must answer over IPv6"
neigh=$(sb_exec client ip -6 neigh show "$VIP6")
case $neigh in *"lladdr $VMAC6"*) echo "client neighbour entry: $neigh" ;;
*) sb_fail "the client did not resolve $VIP6 to $VMAC6: '$neigh'" ;; esac

head -c $((4 * 1024 * 1024)) /dev/urandom >"$SB_DIR/upload.bin"
a=$(sb_exec client curl -sS --max-time 60 -g -H 'Expect:' \
    --data-binary "@$SB_DIR/upload.bin" "http://[$VIP6]/") || sb_fail "IPv6 upload failed"
set -- $a
[ "${2:-}" = $((4 * 1024 * 1024)) ] || sb_fail "IPv6 upload: real got '${2:-}' bytes"
echo "4 MB IPv6 upload received whole by $1"
echo "PASS: ipv6"
