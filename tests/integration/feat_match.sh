#!/bin/bash
# Match-based services with real TCP traffic on a private OVS, no agent:
#  1. an all-port service (vip ADDR tcp 0): connections to two different
#     ports of the VIP are balanced over both reals;
#  2. a prefix + port-range service (vip 10.0.3.0/24 tcp 8000-8100, IPVS
#     firewall-mark style): as with IPVS, the prefix is routed to the
#     balancer (the client's route has the first service's VIP, answered by
#     its ARP responder, as next hop); connections to several addresses and
#     to ports at the range's edges and chunk boundaries reach the reals;
#     ports just outside the range (7999, 8101: servers listen there too)
#     and an address outside the prefix are not balanced.
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
command -v curl >/dev/null || sb_fail "curl is needed"
sb_init
VIP=10.0.0.100
VMAC=02:00:00:00:01:00
cat >"$SB_DIR/m.lb" <<EOF
service everything {
    vip $VIP tcp 0;
    vip-mac $VMAC;
    real 10.0.0.11 mac 02:00:00:00:00:11;
    real 10.0.0.12 mac 02:00:00:00:00:12;
}
service fwmark {
    vip 10.0.3.0/24 tcp 8000-8100;
    real 10.0.0.11 mac 02:00:00:00:00:11;
    real 10.0.0.12 mac 02:00:00:00:00:12;
}
EOF
sb_add_host client 10.0.0.1/16 02:00:00:00:00:01
for h in r1 r2; do
    sb_add_host "$h" "10.0.0.1${h#r}/16" "02:00:00:00:00:1${h#r}"
    sb_make_real "$h" "$VIP"
    # The whole prefix is local on lo (a prefix on lo is a local route).
    sb_exec "$h" ip addr add 10.0.3.1/24 dev lo
    for port in 80 8080 7999 8000 8063 8064 8100 8101; do
        sb_start_server "$h" "$port"
    done
done
sb_exec client ip route add 10.0.3.0/24 via $VIP
t_compile "$SB_DIR/m.lb" "$SB_DIR/m.ofctl"
sb_load "$SB_DIR/m.ofctl"
echo "classify flows of the range: $(grep -c 'table=0,priority=151,.*nw_dst=10.0.3.0/24,tp_dst=' "$SB_DIR/m.ofctl")"

# spread URL N: N connections, both reals must answer
spread() {
    local url=$1 n=$2 a i r1=0 r2=0
    for i in $(seq 1 "$n"); do
        a=$(sb_exec client curl -sS --max-time 5 "$url") || sb_fail "curl $url (#$i) failed"
        case $a in r1) r1=$((r1 + 1)) ;; r2) r2=$((r2 + 1)) ;; *) sb_fail "$url: answer '$a'" ;; esac
    done
    echo "$url: r1=$r1 r2=$r2"
    [ $r1 -gt 0 ] && [ $r2 -gt 0 ] || sb_fail "$url: both reals must answer"
}
# --- 1. all ports ----------------------------------------------------------
spread "http://$VIP:80/" 16
spread "http://$VIP:8080/" 16

# --- 2. prefix and port range ------------------------------------------------
spread "http://10.0.3.7:8000/" 16
spread "http://10.0.3.200:8100/" 16
for url in http://10.0.3.9:8063/ http://10.0.3.254:8064/ http://10.0.3.0:8000/; do
    a=$(sb_exec client curl -sS --max-time 5 "$url") || sb_fail "curl $url failed"
    case $a in r1|r2) echo "$url: $a" ;; *) sb_fail "$url: answer '$a'" ;; esac
done
for url in http://10.0.3.7:7999/ http://10.0.3.7:8101/ http://10.0.4.7:8000/; do
    if a=$(sb_exec client curl -sS --max-time 3 "$url" 2>/dev/null); then
        sb_fail "$url is outside the service but was answered by '$a'"
    fi
    echo "$url: not balanced (as it must be)"
done
echo "PASS: feat_match"
