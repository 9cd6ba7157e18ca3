#!/bin/bash
# IPv6 end to end with the issue-4 features, real traffic on a private OVS,
# no agent. Every host is on 2001:db8::/48; the client has addresses in
# several /64s.
#  1. web6 (vip-mac auto, persistence 30s prefix 64): the client's kernel
#     resolves the VIP to the derived vip-mac through the ND responder;
#     curl -6 from two addresses of one /64 always lands on one real; over
#     several /64s both reals are used; one learned entry per /64;
#  2. dns6 (UDP): a UDP echo per real answers queries through the VIP from
#     many source ports, both reals answer;
#  3. range6 (vip 2001:db8:0:ff::/64 tcp 8000-8010), the prefix routed to
#     the balancer (next hop: web6's VIP): connections to two addresses and
#     two ports of the range are balanced; port 8011 is not.
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
command -v curl >/dev/null || sb_fail "curl is needed"
sb_init
VIP6=2001:db8::100
DNS6=2001:db8::53
cat >"$SB_DIR/v6.lb" <<EOF
service web6 {
    vip $VIP6 tcp 80;
    vip-mac auto;
    persistence 30s prefix 64;
    real 2001:db8::11 mac 02:00:00:00:00:11;
    real 2001:db8::12 mac 02:00:00:00:00:12;
}
service dns6 {
    vip $DNS6 udp 53;
    vip-mac 02:00:00:00:05:53;
    real 2001:db8::11 mac 02:00:00:00:00:11;
    real 2001:db8::12 mac 02:00:00:00:00:12;
}
service range6 {
    vip 2001:db8:0:ff::/64 tcp 8000-8010;
    real 2001:db8::11 mac 02:00:00:00:00:11;
    real 2001:db8::12 mac 02:00:00:00:00:12;
}
EOF
cat >"$SB_DIR/echo.py" <<'EOF'
# echo.py NAME ADDR PORT: UDP echo bound to the VIP, answers "NAME DATA".
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind((sys.argv[2], int(sys.argv[3])))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(sys.argv[1].encode() + b" " + data, peer)
EOF
NPFX=10
sb_add_host client 10.0.0.1/24 02:00:00:00:00:01 "" 2001:db8:0:1::1/48
sb_exec client ip -6 addr add 2001:db8:0:1::2/48 dev e0 nodad
for k in $(seq 2 $NPFX); do sb_exec client ip -6 addr add "2001:db8:0:$k::1/48" dev e0 nodad; done
for h in r1 r2; do
    sb_add_host "$h" "10.0.0.1${h#r}/24" "02:00:00:00:00:1${h#r}" "" "2001:db8::1${h#r}/48"
    sb_make_real "$h" "$VIP6" "$DNS6"
    sb_exec "$h" ip -6 route add local 2001:db8:0:ff::/64 dev lo
    sb_start_server "$h" 80
    sb_start_server "$h" 8000
    sb_start_server "$h" 8010
    sb_start_server "$h" 8011
    sb_bg "$h" "$SB_DIR/echo.$h.log" "$SB_PY" "$SB_DIR/echo.py" "$h" "$DNS6" 53
done
t_compile "$SB_DIR/v6.lb" "$SB_DIR/v6.ofctl"
"$FLOWLB" compile --emit ir "$SB_DIR/v6.lb" >"$SB_DIR/v6.ir"
sb_load "$SB_DIR/v6.ofctl"
AUTOMAC=$(grep -A1 "nd_target=$VIP6 " "$SB_DIR/v6.ir" | grep -o 'set_field:[0-9a-f:]*->eth_src' | head -1 | sed 's/set_field:\(.*\)->eth_src/\1/')
[ -n "$AUTOMAC" ] || sb_fail "no ND responder for $VIP6 in the IR"
sb_exec client ip -6 route add 2001:db8:0:ff::/64 via $VIP6
get() { sb_exec client curl -sS --max-time 5 -g --interface "$1" "$2"; }

# --- 1. web6: ND resolution, persistence per /64 ------------------------------------
first=$(get 2001:db8:0:1::1 "http://[$VIP6]/") || sb_fail "curl -6 to [$VIP6] failed"
n=$(sb_exec client ip -6 neigh show "$VIP6")
case $n in *"lladdr $AUTOMAC"*) echo "client resolved $VIP6 to the auto vip-mac: $n" ;;
*) sb_fail "client neighbour entry for $VIP6: '$n', want $AUTOMAC" ;; esac
for i in $(seq 1 8); do
    for src in 2001:db8:0:1::1 2001:db8:0:1::2; do
        a=$(get $src "http://[$VIP6]/") || sb_fail "curl from $src failed"
        [ "$a" = "$first" ] || sb_fail "connection from $src went to $a, its /64's first to $first"
    done
done
echo "17 IPv6 connections from two addresses of 2001:db8:0:1::/64: all on $first"
declare -A seen=()
for k in $(seq 1 $NPFX); do
    a=$(get "2001:db8:0:$k::1" "http://[$VIP6]/") || sb_fail "curl from 2001:db8:0:$k::1 failed"
    seen[$a]=$((${seen[$a]:-0} + 1))
done
echo "$NPFX client /64s: r1=${seen[r1]:-0} r2=${seen[r2]:-0}"
[ "${seen[r1]:-0}" -gt 0 ] && [ "${seen[r2]:-0}" -gt 0 ] || sb_fail "all /64s on one real"
n=$(ovs-ofctl -O OpenFlow15 dump-flows br0 table=5 | grep -c 'cookie=0xf10b01' || true)
[ "$n" = $NPFX ] || sb_fail "want $NPFX persistence entries (one per /64), got $n"
ovs-ofctl -O OpenFlow15 dump-flows br0 table=5 | grep -q 'ipv6_src=2001:db8:0:1::/64' ||
    sb_fail "no entry for 2001:db8:0:1::/64"

# --- 2. dns6 over UDP ------------------------------------------------------------------
out=$(sb_exec client "$SB_PY" -c "
import socket
for i in range(30):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.settimeout(2)
    s.sendto(b'q%d' % i, ('$DNS6', 53))
    d, _ = s.recvfrom(100); s.close()
    assert d.split(b' ')[1] == b'q%d' % i, d
    print(d.split(b' ')[0].decode())") || sb_fail "UDP over IPv6 through the VIP failed"
u1=$(echo "$out" | grep -c '^r1$' || true); u2=$(echo "$out" | grep -c '^r2$' || true)
echo "30 IPv6 UDP flows: r1=$u1 r2=$u2"
[ "$u1" -gt 0 ] && [ "$u2" -gt 0 ] && [ $((u1 + u2)) = 30 ] || sb_fail "both reals must answer UDP"

# --- 3. range6: prefix ND responder and port range ---------------------------------------
declare -A rs=()
for url in "http://[2001:db8:0:ff::7]:8000/" "http://[2001:db8:0:ff::abcd]:8010/"; do
    for i in $(seq 1 8); do
        a=$(get 2001:db8:0:1::1 "$url") || sb_fail "curl $url failed"
        rs[$a]=$((${rs[$a]:-0} + 1))
    done
done
echo "range6: 16 connections to two addresses / ports: r1=${rs[r1]:-0} r2=${rs[r2]:-0}"
[ "${rs[r1]:-0}" -gt 0 ] && [ "${rs[r2]:-0}" -gt 0 ] || sb_fail "range6: both reals must answer"
if a=$(get 2001:db8:0:1::1 "http://[2001:db8:0:ff::7]:8011/" 2>/dev/null); then
    sb_fail "port 8011 is outside the range but was answered by $a"
fi
echo "port 8011: not balanced"
echo "PASS: feat_ipv6"
