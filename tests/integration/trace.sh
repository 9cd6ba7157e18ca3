#!/bin/bash
# ofproto/trace against examples/demo.lb loaded into a private OVS:
#  - an ARP request for the VIP is answered from the vip-mac, out the in_port;
#  - a TCP SYN to VIP:80 leaves with a real's MAC (out its port when pinned);
#  - non-VIP traffic (other address, other port, ARP for a real) is untouched;
#  - over N source ports the choice of real follows the weights 2:1:1 within
#    4 binomial standard deviations per real.
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
sb_init
topo_demo
t_compile "$EXAMPLES/demo.lb" "$SB_DIR/demo.ofctl"
sb_load "$SB_DIR/demo.ofctl"

client_dp=$(dp_port "$(sb_port_of client)")
[ -n "$client_dp" ] || sb_fail "no datapath port for the client"

trace() {
    ovs-appctl ofproto/trace br0 "$1" >"$SB_DIR/trace.out" 2>&1 ||
        sb_fail "ofproto/trace '$1' failed: $(cat "$SB_DIR/trace.out")"
}
# The last "Datapath actions" line: what finally happens to the packet
# after every recirculation (ct with table= recirculates). On OVS 3.1,
# ofproto/trace resumes each recirculation with ct_state=trk|new (no
# --ct-next needed for a first packet) and carries the ct_mark that the
# bucket's ct(commit,exec(...)) set, so the forward table is traced too.
final_actions() {
    grep '^Datapath actions:' "$SB_DIR/trace.out" | tail -1 | sed 's/^Datapath actions: //'
}

# --- ARP responder --------------------------------------------------------
trace "in_port=1,arp,arp_op=1,dl_src=$DEMO_CLIENT_MAC,dl_dst=ff:ff:ff:ff:ff:ff,arp_spa=10.0.0.1,arp_tpa=$DEMO_VIP,arp_sha=$DEMO_CLIENT_MAC,arp_tha=00:00:00:00:00:00"
acts=$(final_actions)
echo "ARP for VIP: $acts"
case $acts in
*"eth(src=$DEMO_VMAC,dst=$DEMO_CLIENT_MAC)"*) ;;
*) sb_fail "ARP reply does not go from $DEMO_VMAC to the client: $acts" ;;
esac
case $acts in
*"arp(sip=$DEMO_VIP,tip=10.0.0.1,op=2,sha=$DEMO_VMAC,tha=$DEMO_CLIENT_MAC)"*) ;;
*) sb_fail "ARP reply payload wrong (want op=2 sip=VIP sha=vip-mac): $acts" ;;
esac
[ "${acts##*,}" = "$client_dp" ] ||
    sb_fail "ARP reply not sent back out the in_port (dp port $client_dp): $acts"

# --- A SYN to the VIP goes to a real ----------------------------------------
syn() { # syn SRC_IP SRC_PORT [DST_PORT]
    echo "in_port=1,tcp,dl_src=$DEMO_CLIENT_MAC,dl_dst=$DEMO_VMAC,nw_src=$1,nw_dst=$DEMO_VIP,nw_ttl=64,tp_src=$2,tp_dst=${3:-80},tcp_flags=0x002"
}
real_of_actions() { # prints r1/r2/r3 from set(eth(dst=MAC)), or nothing
    local acts=$1 h
    for h in $DEMO_REALS; do
        case $acts in *"eth(dst=$(demo_mac "$h"))"*) echo "$h"; return ;; esac
    done
}
trace "$(syn 10.0.0.1 40000)"
acts=$(final_actions)
echo "SYN to VIP: $acts"
grep -q 'ct(commit,zone=' "$SB_DIR/trace.out" ||
    sb_fail "the SYN was never committed to conntrack"
r=$(real_of_actions "$acts")
[ -n "$r" ] || sb_fail "SYN to the VIP does not leave with a real's MAC: $acts"
p=$(demo_ofport "$r")
if [ -n "$p" ]; then
    want=$(dp_port "$(sb_port_of "$r")")
    [ "${acts##*,}" = "$want" ] ||
        sb_fail "SYN rewritten for $r but not output to its port (dp $want): $acts"
fi
echo "SYN to VIP went to $r"

# --- Non-VIP traffic is untouched -----------------------------------------
untouched() { # untouched DESCRIPTION FLOW
    trace "$2"
    if grep -q 'ct(' "$SB_DIR/trace.out"; then
        sb_fail "$1 went through conntrack: $(final_actions)"
    fi
    grep -q 'NORMAL' "$SB_DIR/trace.out" || sb_fail "$1 did not reach NORMAL"
    grep -q '^Final flow: unchanged' "$SB_DIR/trace.out" ||
        sb_fail "$1 was modified: $(grep '^Final flow' "$SB_DIR/trace.out")"
    echo "$1: untouched ($(final_actions))"
}
untouched "TCP to a real's own address" \
    "in_port=1,tcp,dl_src=$DEMO_CLIENT_MAC,dl_dst=$(demo_mac r1),nw_src=10.0.0.1,nw_dst=10.0.0.11,nw_ttl=64,tp_src=40000,tp_dst=80,tcp_flags=0x002"
untouched "TCP to the VIP on another port" "$(syn 10.0.0.1 40000 81)"
untouched "UDP to the VIP port 80" \
    "in_port=1,udp,dl_src=$DEMO_CLIENT_MAC,dl_dst=$DEMO_VMAC,nw_src=10.0.0.1,nw_dst=$DEMO_VIP,nw_ttl=64,udp_src=40000,udp_dst=80"
untouched "ARP for a real" \
    "in_port=1,arp,arp_op=1,dl_src=$DEMO_CLIENT_MAC,dl_dst=ff:ff:ff:ff:ff:ff,arp_spa=10.0.0.1,arp_tpa=10.0.0.11,arp_sha=$DEMO_CLIENT_MAC"

# --- Distribution over source ports ---------------------------------------
# Each real's count is Binomial(N, p) with p = weight / total (if the
# compiler solved OVS's max-of-scaled-hashes rule right). Tolerance: 4
# standard deviations, sqrt(N p (1-p)), per real. Naive weights 2:1:1 give
# r1 about 2/3 instead of 1/2: 16.7 points off, well outside 4 sigma (7.1).
N=${TRACE_N:-800}
total=0
for h in $DEMO_REALS; do total=$((total + $(demo_weight "$h"))); done
declare -A count=([r1]=0 [r2]=0 [r3]=0)
for i in $(seq 0 $((N - 1))); do
    trace "$(syn 10.0.0.1 $((20000 + i * 7)))"
    r=$(real_of_actions "$(final_actions)")
    [ -n "$r" ] || sb_fail "source port $((20000 + i * 7)): no real chosen: $(final_actions)"
    count[$r]=$((count[$r] + 1))
done
bad=0
for h in $DEMO_REALS; do
    w=$(demo_weight "$h")
    line=$(awk -v n="$N" -v c="${count[$h]}" -v w="$w" -v t="$total" -v h="$h" 'BEGIN {
        p = w / t; mu = n * p; sd = sqrt(n * p * (1 - p)); tol = 4 * sd
        d = c - mu; if (d < 0) d = -d
        printf "%s weight %d: %d of %d = %.1f%% (expected %.1f%%, tolerance +-%.1f points = 4 sigma) %s\n",
            h, w, c, n, 100 * c / n, 100 * p, 100 * tol / n, (d <= tol ? "ok" : "OUT")
    }')
    echo "$line"
    case $line in *OUT) bad=1 ;; esac
done
[ $bad = 0 ] || sb_fail "the choice of real does not follow the weights 2:1:1"
echo "PASS: trace"
