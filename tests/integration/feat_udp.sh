#!/bin/bash
# UDP services with real traffic on a private OVS, no agent: a tiny UDP echo
# server in each DR real answers with its name (from the VIP, straight to
# the client; the reply crosses the bridge and goes through conntrack).
#  1. queries from many source ports (new flows) reach both reals;
#  2. one socket (one 5-tuple) sending 20 queries stays on one real, also
#     after that real's bucket left the group (its conntrack mark);
#  3. the reals' replies pass through conntrack (the reply flow counts
#     them; the entries hold the real's mark);
#  4. udp-timeout: the IR names the zone timeout policy; applied with
#     ovs-vsctl add-zone-tp (what the agent does), an idle UDP entry is gone
#     after the timeout, where without it the datapath's default (30 s)
#     keeps it.
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
sb_init
VIP=10.0.0.100
cat >"$SB_DIR/udp.lb" <<EOF
service dns {
    vip $VIP udp 53;
    vip-mac 02:00:00:00:01:00;
    udp-timeout 3s;
    real 10.0.0.11 mac 02:00:00:00:00:11;
    real 10.0.0.12 mac 02:00:00:00:00:12;
}
EOF
cat >"$SB_DIR/echo.py" <<'EOF'
# echo.py NAME ADDR PORT: bound to the VIP so that answers leave from it.
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[2] else socket.AF_INET,
                  socket.SOCK_DGRAM)
s.bind((sys.argv[2], int(sys.argv[3])))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(sys.argv[1].encode() + b" " + data, peer)
EOF
cat >"$SB_DIR/query.py" <<'EOF'
# query.py VIP PORT NEW:BASE|SAME N: N queries, each from a new socket bound
# to source port BASE+i (NEW) or all from one socket (SAME); prints one
# answering name per line. NEW flows get source ports of their own: an
# ephemeral port could repeat an earlier query's 5-tuple, whose conntrack
# entry (30 s for UDP) would still name that query's real.
import socket, sys
vip, port, mode, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
s = None
for i in range(n):
    if s is None or mode != "SAME":
        if s:
            s.close()
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2)
        if mode != "SAME":
            s.bind(("0.0.0.0", int(mode.split(":")[1]) + i))
    s.sendto(b"q%d" % i, (vip, port))
    data, _ = s.recvfrom(2048)
    name, echo = data.decode().split(" ", 1)
    assert echo == "q%d" % i, data
    print(name, flush=True)
    if mode == "SAME" and i == 0 and len(sys.argv) > 5:
        open(sys.argv[5], "w").write(name)
        import time, os
        while not os.path.exists(sys.argv[5] + ".go"):
            time.sleep(0.05)
EOF
sb_add_host client 10.0.0.1/24 02:00:00:00:00:01
for h in r1 r2; do
    sb_add_host "$h" "10.0.0.1${h#r}/24" "02:00:00:00:00:1${h#r}"
    sb_make_real "$h" "$VIP"
    sb_bg "$h" "$SB_DIR/echo.$h.log" "$SB_PY" "$SB_DIR/echo.py" "$h" "$VIP" 53
done
t_compile "$SB_DIR/udp.lb" "$SB_DIR/udp.ofctl"
"$FLOWLB" compile --emit ir "$SB_DIR/udp.lb" >"$SB_DIR/udp.ir"
sb_load "$SB_DIR/udp.ofctl"
sleep 0.5
query() { sb_exec client "$SB_PY" "$SB_DIR/query.py" "$VIP" 53 "$@"; }

# --- 1. new flows spread -----------------------------------------------------
out=$(query NEW:21000 40) || sb_fail "UDP queries through the VIP failed"
n1=$(echo "$out" | grep -c '^r1$' || true)
n2=$(echo "$out" | grep -c '^r2$' || true)
echo "40 UDP flows: r1=$n1 r2=$n2"
[ $((n1 + n2)) = 40 ] && [ "$n1" -gt 0 ] && [ "$n2" -gt 0 ] || sb_fail "both reals must answer: $out"

# --- 2. one flow stays on its real, also after its bucket left -----------------
rm -f "$SB_DIR/first" "$SB_DIR/first.go"
sb_bg client "$SB_DIR/same.out" "$SB_PY" "$SB_DIR/query.py" "$VIP" 53 SAME 20 "$SB_DIR/first"
qpid=$SB_LAST_PID
for i in $(seq 1 50); do [ -s "$SB_DIR/first" ] && break; sleep 0.1; done
real=$(cat "$SB_DIR/first") || sb_fail "the one-socket client got no first answer"
mark=0xa00000b; [ "$real" = r2 ] && mark=0xa00000c
GID=$(grep -o 'group_id=[0-9]*' "$SB_DIR/udp.ofctl" | head -1 | cut -d= -f2)
ovs-ofctl -O OpenFlow15 remove-buckets br0 "group_id=$GID,command_bucket_id=$((mark))" ||
    sb_fail "remove-buckets $real"
touch "$SB_DIR/first.go"
wait "$qpid" || sb_fail "the one-socket client failed: $(cat "$SB_DIR/same.out")"
[ "$(sort -u "$SB_DIR/same.out")" = "$real" ] || sb_fail "one 5-tuple moved: $(sort "$SB_DIR/same.out" | uniq -c)"
echo "one UDP 5-tuple: 20 answers, all from $real, 19 of them after its bucket was removed"
out=$(query NEW:22000 10) || sb_fail "queries after the bucket removal failed"
echo "$out" | grep -q "^$real$" && sb_fail "a new UDP flow reached the removed real $real"
echo "10 new UDP flows avoided $real"

# --- 3. replies through conntrack -----------------------------------------------
sleep 2   # rule counters follow the datapath flows with a delay
rp=$(ovs-ofctl -O OpenFlow15 dump-flows br0 "table=0,udp,nw_src=$VIP,tp_src=53" | grep -o 'n_packets=[0-9]*' | cut -d= -f2)
[ "${rp:-0}" -ge 70 ] || sb_fail "the reply flow saw ${rp:-0} packets, want >= 70 (one per answer)"
ovs-appctl dpctl/dump-conntrack zone=64000 | grep "^udp" | grep -q "mark=$((mark))" ||
    sb_fail "no UDP conntrack entry with $real's mark: $(ovs-appctl dpctl/dump-conntrack)"
echo "replies through conntrack: $rp packets on the reply flow"

# --- 4. udp-timeout as the zone's timeout policy ---------------------------------
cmd=$(grep -o 'ovs-vsctl add-zone-tp netdev zone=64000 [^)]*' "$SB_DIR/udp.ir") ||
    sb_fail "the IR does not name the zone timeout policy: $(head -3 "$SB_DIR/udp.ir")"
echo "IR: $cmd"
ct_entries() { ovs-appctl dpctl/dump-conntrack zone=64000 | grep -c "^udp.*sport=$1," || true; }
probe() { # probe SPORT: one query from source port SPORT
    sb_exec client "$SB_PY" -c "
import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(2)
s.bind(('0.0.0.0',int(sys.argv[1]))); s.sendto(b'x',('$VIP',53)); s.recvfrom(100)" "$1" ||
        sb_fail "probe from port $1 failed"
}
probe 24001
sleep 6
[ "$(ct_entries 24001)" = 1 ] || sb_fail "without the policy the entry should live 30 s, gone after 6 s"
ovs-vsctl -- --id=@d create Datapath datapath_version=0 -- set Open_vSwitch . datapaths:netdev=@d >/dev/null ||
    sb_fail "cannot create the netdev Datapath record"
$cmd || sb_fail "$cmd failed"
sleep 1
probe 24002
sleep 1
[ "$(ct_entries 24002)" = 1 ] || sb_fail "no entry for the probe after 1 s"
gone=""
for i in $(seq 1 16); do
    [ "$(ct_entries 24002)" = 0 ] && { gone=$i; break; }
    sleep 0.5
done
[ -n "$gone" ] || sb_fail "with udp timeout 3 s the entry still lives 9 s later"
echo "with the zone policy the idle UDP entry went within $((1 + gone / 2)) s (3 s policy); without it, it outlived 6 s"
echo "PASS: feat_udp"
