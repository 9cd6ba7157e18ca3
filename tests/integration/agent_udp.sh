#!/bin/bash
# A UDP service's udp-timeout, applied by flowlbd as the conntrack zone's
# timeout policy in the Open vSwitch database (OpenFlow's ct cannot carry
# it), with real UDP traffic:
#  1. flowlbd started on a spec with udp-timeout 3s: the zone has the
#     policy (ovs-vsctl list-zone-tp), created with the Datapath record it
#     needs, and an idle UDP conntrack entry is gone within a few seconds;
#  2. a reload to udp-timeout 5s updates the policy;
#  3. a reload without udp-timeout removes flowlb's policy.
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
sb_init
. "$SB_LIB_DIR/agent.sh"
ag_need
VIP=$DEMO_VIP
sb_add_host client 10.0.0.1/24 02:00:00:00:00:01
cat >"$SB_DIR/echo.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[2], int(sys.argv[3])))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(sys.argv[1].encode(), peer)
EOF
for h in r1 r2; do
    sb_add_host "$h" "10.0.0.1${h#r}/24" "02:00:00:00:00:1${h#r}"
    sb_make_real "$h" "$VIP"
    sb_bg "$h" "$SB_DIR/echo.$h.log" "$SB_PY" "$SB_DIR/echo.py" "$h" "$VIP" 53
done
SPEC=$SB_DIR/udp.lb
write_spec() {
    cat >"$SPEC" <<EOF
service dns {
    vip $VIP udp 53;
    vip-mac 02:00:00:00:01:00;
    $1
    real 10.0.0.11 mac 02:00:00:00:00:11;
    real 10.0.0.12 mac 02:00:00:00:00:12;
}
EOF
}
policy() { ovs-vsctl list-zone-tp netdev 2>/dev/null | grep 'Zone:64000' || true; }

write_spec "udp-timeout 3s;"
! ovs-vsctl get Open_vSwitch . datapaths:netdev >/dev/null 2>&1 ||
    sb_fail "the sandbox already has a netdev Datapath record"
ag_start --no-checks --reconcile-interval 5s "$SPEC"
ag_wait_synced 10
t=$(wait_until 10 bash -c "ovs-vsctl list-zone-tp netdev 2>/dev/null | grep 'Zone:64000' | grep -q 'udp_single=3'") ||
    sb_fail "no zone timeout policy after 10 s: $(grep cttimeout "$AG_LOG")"
echo "policy set ${t} ms after sync: $(policy)"
# (the agent logs once it has reaped ovs-vsctl, a moment after the write)
wait_until 5 grep -q 'UDP timeout 3 s set' "$AG_LOG" >/dev/null || sb_fail "not logged"

probe() {
    sb_exec client "$SB_PY" -c "
import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(2)
s.bind(('0.0.0.0',int(sys.argv[1]))); s.sendto(b'x',('$VIP',53)); print(s.recvfrom(100)[0].decode())" "$1"
}
ct_entries() { ovs-appctl dpctl/dump-conntrack zone=64000 | grep -c "^udp.*sport=$1," || true; }
a=$(probe 40002) || sb_fail "UDP query through the VIP failed"
echo "UDP query answered by $a"
[ "$(ct_entries 40002)" = 1 ] || sb_fail "no conntrack entry for the query"
gone=""
for i in $(seq 1 20); do
    [ "$(ct_entries 40002)" = 0 ] && { gone=$i; break; }
    sleep 0.5
done
[ -n "$gone" ] || sb_fail "the idle UDP entry outlived 10 s with a 3 s policy"
echo "idle UDP entry gone after about $((gone / 2)) s (policy 3 s, datapath default 30 s)"

write_spec "udp-timeout 5s;"
ag_ctl flowlb/reload >/dev/null || sb_fail "reload refused"
wait_until 10 bash -c "ovs-vsctl list-zone-tp netdev | grep 'Zone:64000' | grep -q 'udp_single=5'" >/dev/null ||
    sb_fail "policy not updated to 5 s: $(policy)"
echo "reload to 5 s: $(policy)"

write_spec ""
ag_ctl flowlb/reload >/dev/null || sb_fail "reload refused"
wait_until 10 bash -c "! ovs-vsctl list-zone-tp netdev | grep -q 'Zone:64000'" >/dev/null ||
    sb_fail "policy not removed: $(policy)"
echo "reload without udp-timeout: policy removed"
a=$(probe 40003) || sb_fail "UDP query failed after the reloads"
echo "agent_udp: OK"
