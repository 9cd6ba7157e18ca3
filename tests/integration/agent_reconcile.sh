#!/bin/bash
# flowlbd keeps its pipeline in the switch, and only its own:
#  1. it installs examples/demo.lb (exactly what `flowlb compile` gives) and
#     traffic through the VIP works;
#  2. a foreign flow and a foreign group are left alone throughout; the
#     flow is reported (flowlb/show, log) while it is there;
#  3. flowlb's flows deleted with ovs-ofctl behind its back are repaired
#     within the reconcile interval (+ a measured bound), without duplicates;
#  4. a flow modified behind its back is put back;
#  5. ovs-vswitchd killed (by pid) and started again on the same database:
#     the pipeline is back (bound measured) with no duplicate or stale flow,
#     and traffic flows again.
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
sb_init
. "$SB_LIB_DIR/agent.sh"
ag_need
topo_demo servers

RECONCILE_MS=1000
ag_start --reconcile-interval ${RECONCILE_MS}ms "$EXAMPLES/demo.lb"
ag_wait_synced 10

# --- 1. what it installed is what the compiler says ------------------------
t_compile "$EXAMPLES/demo.lb" "$SB_DIR/demo.ofctl"
want=$(grep -c '^flow add' "$SB_DIR/demo.ofctl")
have=$(ag_flows | wc -l)
[ "$have" = "$want" ] || sb_fail "flowlbd installed $have flows, flowlb compile gives $want"
[ "$(ag_groups | wc -l)" = "$(grep -c '^group add' "$SB_DIR/demo.ofctl")" ] ||
    sb_fail "group count differs from flowlb compile"
# Same flows as loading the compiled file by hand would give.
ag_flows >"$SB_DIR/by_agent"
ag_groups >"$SB_DIR/groups_by_agent"
ovs-ofctl -O OpenFlow15 del-flows br0
ovs-ofctl -O OpenFlow15 del-groups br0
ag_stop
sb_load "$SB_DIR/demo.ofctl"
ag_flows >"$SB_DIR/by_ofctl"
ag_groups >"$SB_DIR/groups_by_ofctl"
diff -u "$SB_DIR/by_ofctl" "$SB_DIR/by_agent" ||
    sb_fail "flowlbd's flows differ from ovs-ofctl bundle of flowlb compile"
diff -u "$SB_DIR/groups_by_ofctl" "$SB_DIR/groups_by_agent" ||
    sb_fail "flowlbd's groups differ from ovs-ofctl bundle of flowlb compile"
echo "installed pipeline = flowlb compile output ($want flows)"

# Started on the pipeline loaded by hand: nothing to do, no bundle sent.
ag_start --reconcile-interval ${RECONCILE_MS}ms "$EXAMPLES/demo.lb"
ag_wait_synced 10
sleep 1.5
[ "$(ag_json 's["bundles"]')" = 0 ] ||
    sb_fail "flowlbd sent a bundle although the pipeline was already there: $(grep bundle "$AG_LOG")"
echo "started on an identical pipeline: 0 bundles sent"
# Its reconcile rounds read every flow and group back as the bytes it
# expects (reply_bytes.h), without decoding: the switch's encoding of what
# it installed is what flowlbd computes from its view.
for i in $(seq 1 50); do grep -q ': sliced, ' "$AG_LOG" && break; sleep 0.1; done
line=$(grep ': sliced, ' "$AG_LOG" | tail -1)
matched=$(echo "$line" | sed -n 's/.* requests, \([0-9]*\) flows and the groups.*/\1/p')
read -r by_bytes groups_by_bytes < <(echo "$line" |
    sed -n 's/.*as their bytes: \([0-9]*\) flows, \([0-9]*\) group replies.*/\1 \2/p')
ngroups=$(ag_groups | wc -l)
[ -n "$matched" ] && [ "$matched" -gt 0 ] && [ "${by_bytes:-0}" -ge "$matched" ] &&
    [ "${groups_by_bytes:-}" = "$ngroups" ] ||
    sb_fail "a reconcile round decoded what it should have found as bytes: $line"
echo "reconcile round: $matched flows compared, $by_bytes and $groups_by_bytes group(s) as their bytes"
for i in 1 2 3; do
    a=$(vip_get) || sb_fail "curl through the VIP failed"
done

# --- 2. foreign state ----------------------------------------------------
foreign_flow='table=0,priority=500,cookie=0x1234,udp,tp_dst=9999,actions=drop'
ovs-ofctl -O OpenFlow15 add-flow br0 "$foreign_flow"
ovs-ofctl -O OpenFlow15 add-group br0 'group_id=7,type=select,bucket=actions=drop'
foreign_present() {
    ovs-ofctl -O OpenFlow15 dump-flows br0 | grep -q 'cookie=0x1234,.*priority=500,udp,tp_dst=9999' &&
        ovs-ofctl -O OpenFlow15 dump-groups br0 | grep -q 'group_id=7,'
}
foreign_present || sb_fail "could not add the foreign flow/group"
# ... and reported: flowlb/show counts it in table 0 (from the switch's
# table statistics, read with each round) and the log names the table.
foreign_in_table0() { [ "$(ag_json 's["foreign_flows"].get("0", 0)')" = "$1" ]; }
t=$(wait_until 5 foreign_in_table0 1) ||
    sb_fail "the foreign flow is not reported: $(ag_ctl flowlb/show --json | head -c 600)"
echo "foreign flow reported after ${t} ms"
grep -q "table 0 holds 1 flow that is not flowlb's" "$AG_LOG" ||
    sb_fail "no warning about the foreign flow in the log"
ag_ctl flowlb/show | grep -q "^flows not flowlb's in its tables: table 0: 1 " ||
    sb_fail "flowlb/show does not list the foreign flow: $(ag_ctl flowlb/show | head -3)"

# --- 3. deleted behind its back ------------------------------------------
bundles0=$(ag_json 's["bundles"]')
ovs-ofctl -O OpenFlow15 del-flows br0 "cookie=0xf10b000000000000/0xffff000000000000"
[ "$(ag_flows | wc -l)" = 0 ] || sb_fail "del-flows left flowlb flows"
t=$(wait_until 10 bash -c "[ \$(ovs-ofctl -O OpenFlow15 dump-flows br0 'cookie=0xf10b000000000000/0xffff000000000000' | grep -c cookie=) -ge $want ]") ||
    sb_fail "deleted flows not repaired within 10 s"
echo "deleted flows repaired after ${t} ms (reconcile interval ${RECONCILE_MS} ms)"
[ "$t" -le $((RECONCILE_MS + 1500)) ] || sb_fail "repair took ${t} ms > interval + 1500 ms"
ag_wait_synced 10
ag_flows >"$SB_DIR/after_repair"
diff -u "$SB_DIR/by_ofctl" "$SB_DIR/after_repair" || sb_fail "repaired pipeline differs"
foreign_present || sb_fail "the foreign flow or group was touched"
[ "$(ag_json 's["bundles"]')" = $((bundles0 + 1)) ] || sb_fail "repair took more than one bundle"
grep -q 'bundle .*flows +'"$want"' ~0 -0' "$AG_LOG" || sb_fail "repair bundle was not $want adds"

# All flows of the bridge deleted (the foreign one too): ours come back.
ovs-ofctl -O OpenFlow15 del-flows br0
t=$(wait_until 10 bash -c "[ \$(ovs-ofctl -O OpenFlow15 dump-flows br0 'cookie=0xf10b000000000000/0xffff000000000000' | grep -c cookie=) -ge $want ]") ||
    sb_fail "flows not repaired after del-flows of everything"
echo "after del-flows of the whole bridge: repaired in ${t} ms"
ovs-ofctl -O OpenFlow15 add-flow br0 "$foreign_flow"

# A deleted group (which also deletes the flow pointing at it).
ovs-ofctl -O OpenFlow15 del-groups br0 "group_id=$(ag_groups | head -1 | grep -o 'group_id=[0-9]*' | cut -d= -f2)"
groups_back() {
    [ "$(ag_groups | wc -l)" -ge 2 ] && [ "$(ag_flows | wc -l)" -ge "$want" ]
}
t=$(wait_until 10 groups_back) ||
    sb_fail "deleted group not repaired"
echo "deleted group repaired in ${t} ms"

# --- 4. modified behind its back -----------------------------------------
ovs-ofctl -O OpenFlow15 mod-flows br0 --strict 'table=2,priority=100,ct_mark=0xa00000b,actions=drop'
wait_until 10 bash -c "ovs-ofctl -O OpenFlow15 dump-flows br0 table=2 | grep 'ct_mark=0xa00000b' | grep -q output" >/dev/null ||
    sb_fail "modified flow not put back"
ag_wait_synced 10
ag_flows >"$SB_DIR/after_mod"
diff -u "$SB_DIR/by_ofctl" "$SB_DIR/after_mod" || sb_fail "pipeline differs after repairing a modified flow"
grep -q 'flows +0 ~1 -0' "$AG_LOG" || sb_fail "a changed action should be repaired by one modify"
echo "modified flow repaired with one modify_strict"
foreign_present || sb_fail "the foreign flow or group was touched"
# The foreign flow goes: reported gone, and nothing else counted (the
# repairs above left no flow of flowlb's uncounted).
ovs-ofctl -O OpenFlow15 del-flows br0 "cookie=0x1234/-1"
wait_until 5 foreign_in_table0 0 >/dev/null || sb_fail "the deleted foreign flow is still reported"
[ "$(ag_json 's["foreign_flows"]')" = "{}" ] || sb_fail "foreign flows reported: $(ag_json 's["foreign_flows"]')"
grep -q "table 0 holds only flowlb's flows again" "$AG_LOG" || sb_fail "no log line for the foreign flow's removal"
ovs-ofctl -O OpenFlow15 add-flow br0 "$foreign_flow"

# --- 5. ovs-vswitchd restarted on the same database ---------------------
pid=$(cat "$SB_DIR/ovs-vswitchd.pid")
kill -9 "$pid"
while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
t0=$(now_ms)
ip netns exec "$SB_NS" ovs-vswitchd "unix:$SB_DIR/db.sock" \
    --pidfile="$SB_DIR/ovs-vswitchd.pid" --detach --no-chdir \
    --log-file="$SB_DIR/ovs-vswitchd.log" -vconsole:off || sb_fail "ovs-vswitchd did not restart"
t1=$(now_ms)
wait_until 30 test -S "$SB_DIR/br0.mgmt" >/dev/null || sb_fail "bridge socket did not come back"
# The bridge's internal port was recreated without the health checks'
# source address (an operator's network configuration would re-add it).
wait_until 10 ip -n "$SB_NS" link show "$SB_BR" >/dev/null 2>&1 || sb_fail "br0 did not come back"
ag_host_addr
t=$(wait_until 30 bash -c "[ \$(ovs-ofctl -O OpenFlow15 dump-flows br0 'cookie=0xf10b000000000000/0xffff000000000000' 2>/dev/null | grep -c cookie=) -ge $want ]") ||
    sb_fail "pipeline not back within 30 s of ovs-vswitchd's restart"
back=$(($(now_ms) - t1))
echo "ovs-vswitchd restarted (start took $((t1 - t0)) ms): pipeline back ${back} ms after it was up"
# While the switch was away the health checks (which cross it) failed:
# if the outage outlasted fall x interval (a slow machine, valgrind, the
# agent's reconnect backoff) the reals went down, rightly, and their
# buckets left the group. Compare once the checks have brought them back.
t=$(wait_until 20 ag_all_up) || sb_fail "the reals did not come back up after the restart"
echo "every real up ${t} ms later ($(grep -c 'up -> down' "$AG_LOG") down verdicts so far)"
ag_wait_synced 10
ag_flows >"$SB_DIR/after_restart"
diff -u "$SB_DIR/by_ofctl" "$SB_DIR/after_restart" ||
    sb_fail "pipeline after the restart differs (duplicate or stale flows)"
ag_groups >"$SB_DIR/groups_after_restart"
diff -u "$SB_DIR/groups_by_ofctl" "$SB_DIR/groups_after_restart" || sb_fail "groups differ after restart"
# Traffic flows again (ARP caches in the client may need the responder).
vip_ok() { vip_get >/dev/null 2>&1; }
t=$(wait_until 20 vip_ok) || sb_fail "no traffic through the VIP after the restart"
echo "traffic through the VIP ${t} ms after the pipeline was back"
for i in $(seq 1 10); do
    vip_get >/dev/null || sb_fail "curl $i after the restart failed"
done
[ "$(ag_json 's["connects"]')" -ge 2 ] || sb_fail "flowlbd did not count the reconnect"
[ "$back" -le 8000 ] || sb_fail "pipeline took ${back} ms to come back (bound 8000 ms)"
echo "agent_reconcile: OK"
