#!/bin/bash
# The schedulers of examples/multi.lb, through ofproto/trace on a real switch:
#  - sh (service https, 192.0.2.10:443): the real depends on the source
#    address only: one client on many source ports always gets the same real;
#    over many clients the shares follow the weights 1:2;
#  - mh (service any-tcp, 192.0.2.20, every TCP port): the real depends on
#    source address + port, not on the destination port; shares follow 1:1:4;
#  - wrr (service web, 192.0.2.10:80): the drained real (weight 0) is never
#    chosen, the others follow 3:1.
# Tolerance on every share: 4 binomial standard deviations.
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
sb_init
# The reals' ports must exist, or the datapath actions hold no output (and
# no MAC rewrite). 'uplink' is the drained real's named port.
for p in 1 2 4 7 8 9; do
    ovs-vsctl add-port br0 "p$p" -- set interface "p$p" type=internal ofport_request="$p"
done
ovs-vsctl add-port br0 uplink -- set interface uplink type=internal ofport_request=20
ovs-vsctl add-port br0 client -- set interface client type=internal ofport_request=30
t_compile "$EXAMPLES/multi.lb" "$SB_DIR/multi.ofctl"
sb_load "$SB_DIR/multi.ofctl"

CMAC=02:00:00:00:00:99
# real_for PROTO SRC SPORT DST DPORT VMAC: prints the last octet of the MAC
# the packet leaves with (02:00:00:01:00:0N -> N), or fails.
real_for() {
    local out acts mac
    out=$(ovs-appctl ofproto/trace br0 "in_port=30,$1,dl_src=$CMAC,dl_dst=$6,nw_src=$2,nw_dst=$4,nw_ttl=64,tp_src=$3,tp_dst=$5,tcp_flags=0x002") ||
        sb_fail "trace failed: $out"
    acts=$(echo "$out" | grep '^Datapath actions:' | tail -1)
    mac=$(echo "$acts" | grep -o 'eth(dst=02:00:00:01:00:0[0-9])' | grep -o '0[0-9])$' | tr -d ')')
    [ -n "$mac" ] || sb_fail "$2:$3 -> $4:$5: no real chosen: $acts"
    echo "${mac#0}"
}

# check_shares LABEL N "real:weight ..." COUNTS...(associative array name)
check_shares() {
    local label=$1 n=$2 spec=$3 arr=$4 total=0 bad=0 rw r w c line
    for rw in $spec; do total=$((total + ${rw#*:})); done
    for rw in $spec; do
        r=${rw%:*}; w=${rw#*:}
        eval "c=\${$arr[$r]:-0}"
        line=$(awk -v n="$n" -v c="$c" -v w="$w" -v t="$total" -v r="$r" -v l="$label" 'BEGIN {
            p = w / t; sd = sqrt(n * p * (1 - p)); tol = 4 * sd; d = c - n * p; if (d < 0) d = -d
            printf "%s: real .%s weight %d: %d of %d = %.1f%% (expected %.1f%% +-%.1f) %s\n",
                l, r, w, c, n, 100 * c / n, 100 * p, 100 * tol / n, (d <= tol ? "ok" : "OUT") }')
        echo "$line"
        case $line in *OUT) bad=1 ;; esac
    done
    [ $bad = 0 ] || sb_fail "$label: shares do not follow the weights"
}

# --- sh: source address only ------------------------------------------------
first=$(real_for tcp 198.51.100.7 1000 192.0.2.10 443 02:00:00:00:02:00)
for sp in $(seq 1001 37 2800); do
    r=$(real_for tcp 198.51.100.7 "$sp" 192.0.2.10 443 02:00:00:00:02:00)
    [ "$r" = "$first" ] || sb_fail "sh: source port $sp moved 198.51.100.7 from .$first to .$r"
done
echo "sh: one client on 50 source ports always went to real .$first"
N=300
declare -A sh=()
for i in $(seq 0 $((N - 1))); do
    r=$(real_for tcp "198.51.$((i / 200)).$((i % 200 + 1))" 40000 192.0.2.10 443 02:00:00:00:02:00)
    sh[$r]=$((${sh[$r]:-0} + 1))
done
check_shares "sh over $N clients" $N "1:1 4:2" sh

# --- mh: source address + port, any destination port -------------------------
for i in $(seq 1 20); do
    a=$(real_for tcp 198.51.100.9 $((3000 + i)) 192.0.2.20 22 02:00:00:00:02:00)
    b=$(real_for tcp 198.51.100.9 $((3000 + i)) 192.0.2.20 $((1000 + i * 97)) 02:00:00:00:02:00)
    [ "$a" = "$b" ] || sb_fail "mh: the destination port changed the real (.$a vs .$b)"
done
echo "mh: 20 (source, port) pairs kept their real across destination ports"
declare -A mh=()
for i in $(seq 0 $((N - 1))); do
    r=$(real_for tcp 198.51.100.9 $((10000 + i * 13)) 192.0.2.20 8080 02:00:00:00:02:00)
    mh[$r]=$((${mh[$r]:-0} + 1))
done
check_shares "mh over $N source ports" $N "7:1 8:1 9:4" mh

# --- wrr with a drained real --------------------------------------------------
declare -A wrr=()
for i in $(seq 0 $((N - 1))); do
    r=$(real_for tcp "198.51.100.$((i % 250 + 1))" $((20000 + i)) 192.0.2.10 80 02:00:00:00:02:00)
    wrr[$r]=$((${wrr[$r]:-0} + 1))
done
[ "${wrr[3]:-0}" = 0 ] || sb_fail "wrr: the drained real .3 got ${wrr[3]} new connections"
check_shares "wrr over $N flows" $N "1:3 2:1" wrr
echo "PASS: schedulers"
