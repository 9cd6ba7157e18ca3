#!/bin/bash
# flowlb's flows and groups changed behind flowlbd's back with ovs-ofctl,
# under continuous traffic (tests/lib/traffic.py: 4 keep-alive connections,
# a GET every 200 ms each; 2 workers opening a new connection every 100 ms;
# 5 s request timeout), flowlbd on examples/demo.lb, --reconcile-interval 1s.
# agent_reconcile.sh checks the repairs themselves; this test counts what
# the traffic sees. Expected in every case: 0 failed requests and 0 broken
# connections (the repair comes within the reconcile interval; TCP
# retransmits the few packets that fell into the gap; established
# connections keep their real through their conntrack mark, which no flow
# change touches). The largest request latency is printed.
#  1. every flowlb flow deleted;            2. flowlb's group deleted;
#  3. a forward flow modified to drop;       4. the group modified (one bucket);
#  5. a FOREIGN flow at a higher priority in flowlb's table 0 matching part of
#     the VIP's traffic (client source port 9999) -> drop: it is never
#     touched (still there, its counter rising, after several reconcile
#     rounds, no bundle sent) and it shadows flowlb's flows for what it
#     matches (a request from port 9999 fails, the rest of the traffic is
#     unaffected). flowlbd does not detect or report shadowing (it reads only
#     its own cookie's flows): docs/operations.md.
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
sb_init
. "$SB_LIB_DIR/agent.sh"
. "$SB_LIB_DIR/traffic.sh"
ag_need
topo_demo servers

ag_start --reconcile-interval 1s "$EXAMPLES/demo.lb"
ag_wait_synced 10
wait_until 10 ag_all_up >/dev/null || sb_fail "reals not all up"
ag_flows >"$SB_DIR/flows0"
ag_groups >"$SB_DIR/groups0"
tr_start --keepalive 4 --interval 0.2 --new-workers 2 --new-interval 0.1 --timeout 5
sleep 1
tr_expect "baseline" 0 0
same_pipeline() {
    ag_flows >"$SB_DIR/flows1" && ag_groups >"$SB_DIR/groups1" &&
        diff -q "$SB_DIR/flows0" "$SB_DIR/flows1" >/dev/null &&
        diff -q "$SB_DIR/groups0" "$SB_DIR/groups1" >/dev/null
}
# case LABEL CMD...: tamper, wait for the repair, let traffic run 1.5 s
# more, count.
case_() {
    local label=$1 t0 ms
    shift
    t0=$(tr_now)
    "$@" || sb_fail "$label: ovs-ofctl failed"
    ms=$(wait_until 10 same_pipeline) || sb_fail "$label: not repaired within 10 s"
    echo "$label: repaired after $ms ms"
    sleep 1.5
    tr_expect "$label" 0 0 "$t0"
}
OF="ovs-ofctl -O OpenFlow15"
group=$(ag_groups | head -1 | grep -o 'group_id=[0-9]*' | cut -d= -f2)

case_ "1. all flowlb flows deleted" $OF del-flows br0 "cookie=0xf10b000000000000/0xffff000000000000"
case_ "2. group deleted" $OF del-groups br0 "group_id=$group"
case_ "3. forward flow of r1 modified to drop" $OF mod-flows br0 --strict \
    "table=2,priority=100,ct_mark=$(demo_mark r1),actions=drop"
case_ "4. group reduced to one bucket" $OF mod-group br0 \
    "group_id=$group,type=select,selection_method=hash,fields(ip_src,ip_dst,tcp_src,tcp_dst),bucket=bucket_id:1,weight:1,actions=ct(commit,zone=64000,exec(set_field:$(demo_mark r3)->ct_mark),table=2)"

# --- 5. a foreign flow shadowing part of the VIP ---------------------------
t0=$(tr_now)
bundles0=$(ag_json 's["bundles"]')
$OF add-flow br0 "table=0,priority=500,cookie=0x5eed,tcp,nw_dst=$DEMO_VIP,tp_dst=80,tp_src=9999,actions=drop"
shadowed() { ! sb_exec client curl -sS --max-time 2 --local-port 9999 "http://$DEMO_VIP/" >/dev/null 2>&1; }
shadowed || sb_fail "a request from port 9999 went through the foreign drop flow"
sleep 3.5   # three reconcile rounds
foreign=$($OF dump-flows br0 cookie=0x5eed/-1)
echo "$foreign" | grep -q 'priority=500' || sb_fail "flowlbd removed the foreign flow"
pk=$(echo "$foreign" | grep -o 'n_packets=[0-9]*' | cut -d= -f2)
[ "$pk" -ge 1 ] || sb_fail "the foreign flow never matched: $foreign"
[ "$(ag_json 's["bundles"]')" = "$bundles0" ] || sb_fail "flowlbd sent a bundle because of a foreign flow"
same_pipeline || sb_fail "flowlb's own flows changed"
tr_expect "5. foreign higher-priority flow (other traffic)" 0 0 "$t0"
echo "foreign flow left alone after 3 reconcile rounds, $pk packets shadowed"
$OF del-flows br0 cookie=0x5eed/-1
sb_exec client curl -sS --max-time 3 --local-port 9999 "http://$DEMO_VIP/" >/dev/null ||
    sb_fail "port 9999 still fails after the foreign flow is gone"

tr_stop
tr_count
ag_stop
echo "fault_tamper: OK"
