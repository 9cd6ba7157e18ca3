#!/bin/bash
# Health checks and failover through flowlbd (examples/demo.lb: tcp check,
# interval 1s, rise 2, fall 3):
#  1. a real's server stopped: its bucket leaves the group within
#     interval x fall + BOUND, only that bucket changes (one remove_buckets),
#     and N new requests through the VIP all succeed;
#  2. restarted: its bucket is back within interval x rise + BOUND;
#  3. a long-lived connection keeps its real while another real fails, while
#     its own real is drained (flowlb/drain), re-enabled, re-weighted, and
#     while a real is added by a reload;
#  4. every real down: the group has no bucket (new connections dropped),
#     logged once; back up: traffic again.
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
sb_init
. "$SB_LIB_DIR/agent.sh"
ag_need
topo_demo servers

INTERVAL_MS=1000 FALL=3 RISE=2
BOUND_MS=${FAILOVER_BOUND_MS:-1000}
ag_start --reconcile-interval 5s "$EXAMPLES/demo.lb"
ag_wait_synced 10
all_up() {
    for h in $DEMO_REALS; do [ "$(ag_health_of "$(demo_ip "$h")")" = up ] || return 1; done
}
wait_until 10 all_up >/dev/null || sb_fail "reals not all up: $(ag_ctl flowlb/show)"

stop_server() {
    local pid
    pid=$(cat "$SB_DIR/server.$1.pid")
    kill "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
}

# The group's bucket ids in the switch's order.
bucket_order() {
    ovs-ofctl -O OpenFlow15 dump-groups br0 | grep -o 'bucket_id:[0-9]*' | tr '\n' ' '
}
order0=$(bucket_order)

# --- 1. down -------------------------------------------------------------
mark2=$(demo_mark r2)
ag_mark_installed "$mark2" || sb_fail "r2's bucket is not installed to begin with"
lines0=$(wc -l <"$AG_LOG")
stop_server r2
t=$(wait_until 15 bash -c "! ovs-ofctl -O OpenFlow15 dump-groups br0 | grep -q -- '$mark2->ct_mark'") ||
    sb_fail "r2's bucket still in the group 15 s after its server stopped"
limit=$((INTERVAL_MS * FALL + BOUND_MS))
echo "r2 stopped: bucket removed after ${t} ms (interval x fall = $((INTERVAL_MS * FALL)) ms, limit $limit ms)"
[ "$t" -le "$limit" ] || sb_fail "removal took ${t} ms > $limit ms"
tail -n +"$lines0" "$AG_LOG" | grep -q 'buckets +0 -1, flows +0 ~0 -0' ||
    sb_fail "the failover was not a single bucket removal: $(tail -n +"$lines0" "$AG_LOG" | grep bundle)"
# The other buckets are untouched (same weights as before).
for h in r1 r3; do ag_mark_installed "$(demo_mark "$h")" || sb_fail "$h's bucket went too"; done
[ "$(ag_health_of 10.0.0.12)" = down ] || sb_fail "flowlb/show does not say r2 is down"
# The agent times the change itself: verdict -> barrier reply.
fo=$(tail -n +"$lines0" "$AG_LOG" | sed -n 's/.*health verdict in the switch \([0-9.]*\) ms after it was reached.*/\1/p' | head -1)
[ -n "$fo" ] || sb_fail "flowlbd did not log how long the failover took"
awk -v v="$fo" 'BEGIN { exit !(v > 0 && v < 1000) }' || sb_fail "failover logged as $fo ms"
[ "$(ag_json 's["failovers"] >= 1 and s["failover_last_ms"] > 0')" = true ] ||
    sb_fail "flowlb/show: failovers $(ag_json 's["failovers"]'), last $(ag_json 's["failover_last_ms"]') ms"
echo "flowlbd: verdict to the switch's acknowledgement ${fo} ms"
ag_ctl flowlb/show | grep '10.0.0.12' | grep -q 'effective 0' || sb_fail "r2's effective weight is not 0"
N=${FAILOVER_N:-30}
for i in $(seq 1 "$N"); do
    a=$(vip_get) || sb_fail "request $i through the VIP failed while r2 is down"
    [ "$a" != r2 ] || sb_fail "request $i reached the stopped r2"
done
echo "$N requests through the VIP all succeeded with r2 down"

# --- 2. up again ---------------------------------------------------------
lines0=$(wc -l <"$AG_LOG")
sb_start_server r2
t=$(wait_until 15 ag_mark_installed "$mark2") || sb_fail "r2's bucket not back 15 s after its server restarted"
limit=$((INTERVAL_MS * RISE + BOUND_MS))
echo "r2 restarted: bucket back after ${t} ms (interval x rise = $((INTERVAL_MS * RISE)) ms, limit $limit ms)"
[ "$t" -le "$limit" ] || sb_fail "restore took ${t} ms > $limit ms"
tail -n +"$lines0" "$AG_LOG" | grep -q 'buckets +1 -0, flows +0 ~0 -0' ||
    sb_fail "the restore was not a single bucket insert"
declare -A seen=()
for i in $(seq 1 30); do
    a=$(vip_get) || sb_fail "request $i failed after r2 came back"
    seen[$a]=1
done
[ -n "${seen[r2]:-}" ] || sb_fail "r2 got no new connection after coming back (30 tries)"
# Back where it was in the group, so the next reconcile round finds every
# group as the bytes it expects, without decoding (reply_bytes.h).
[ "$(bucket_order)" = "$order0" ] ||
    sb_fail "bucket order after r2 came back: $(bucket_order), before: $order0"
lines1=$(wc -l <"$AG_LOG")
ngroups=$(ovs-ofctl -O OpenFlow15 dump-groups br0 | grep -c group_id)
# A round in flight when the bucket came back may decode; the next must not.
groups_read_as_bytes() {
    tail -n +"$lines1" "$AG_LOG" | grep ': sliced, ' |
        sed -n 's/.*as their bytes: [0-9]* flows, \([0-9]*\) group replies.*/\1/p' |
        grep -qx "$ngroups"
}
wait_until 12 groups_read_as_bytes >/dev/null ||
    sb_fail "no reconcile round after r2 came back read its group as bytes: $(tail -n +"$lines1" "$AG_LOG" | grep ': sliced, ')"
echo "r2's bucket back in its place ($order0); the next reconcile round read every group as its bytes"

# --- 3. a long-lived connection keeps its real ---------------------------
lc_start a 180
R=$(lc_real)
echo "long connection on $R"
other=r1; [ "$R" != r1 ] || other=r3
stop_server "$other"
wait_until 15 bash -c "! ovs-ofctl -O OpenFlow15 dump-groups br0 | grep -q -- '$(demo_mark "$other")->ct_mark'" >/dev/null ||
    sb_fail "$other's bucket not removed"
echo "$other failed"
sleep 1
ag_ctl flowlb/drain demo "$(demo_ip "$R")" >/dev/null
wait_until 10 bash -c "! ovs-ofctl -O OpenFlow15 dump-groups br0 | grep -q -- '$(demo_mark "$R")->ct_mark'" >/dev/null ||
    sb_fail "draining $R did not remove its bucket"
ag_ctl flowlb/show | grep "$(demo_ip "$R") " | grep -q '(drained)' || sb_fail "show does not say drained"
echo "$R drained: no bucket, long connection still served"
for i in 1 2 3 4 5; do
    a=$(vip_get) || sb_fail "request with $R drained failed"
    [ "$a" != "$R" ] || sb_fail "a NEW connection reached the drained $R"
done
sleep 1
ag_ctl flowlb/enable demo "$(demo_ip "$R")" >/dev/null
wait_until 10 ag_mark_installed "$(demo_mark "$R")" >/dev/null || sb_fail "enable did not bring $R back"
ag_ctl flowlb/set-weight demo "$(demo_ip "$R")" 5 >/dev/null
ag_ctl flowlb/show | grep "$(demo_ip "$R") " | grep -q 'admin 5' || sb_fail "set-weight not shown"
# Each of the three lowered the one service again, never the whole spec.
[ "$(grep -c 'service demo lowered again in' "$AG_LOG")" -ge 3 ] ||
    sb_fail "drain/enable/set-weight did not lower the service alone: $(grep 'lowered again' "$AG_LOG")"
! grep -q 'spec lowered again' "$AG_LOG" || sb_fail "an administrative change lowered the whole spec"
ag_ctl flowlb/set-weight demo 10.9.9.9 5 >/dev/null 2>&1 && sb_fail "set-weight of an unknown real accepted"
ag_ctl flowlb/set-weight nosuch "$(demo_ip "$R")" 5 >/dev/null 2>&1 && sb_fail "set-weight of an unknown service accepted"
ag_ctl flowlb/set-weight demo "$(demo_ip "$R")" 70000 >/dev/null 2>&1 && sb_fail "weight 70000 accepted"
sleep 1
# A reload that adds a real (r4, no server: the check takes it down).
sed 's/^\(    real 10.0.0.13 .*\)$/\1\n    real 10.0.0.14 mac 02:00:00:00:00:14;/' "$EXAMPLES/demo.lb" >"$SB_DIR/demo4.lb"
grep -q 10.0.0.14 "$SB_DIR/demo4.lb" || sb_fail "could not make the 4-real spec"
cp "$EXAMPLES/demo.lb" "$SB_DIR/spec.lb"
ag_stop
sb_start_server "$other"
# Restart on the copy so the reload can change the file.
ag_start --reconcile-interval 5s "$SB_DIR/spec.lb"
ag_wait_synced 10
cp "$SB_DIR/demo4.lb" "$SB_DIR/spec.lb"
kill -HUP "$AG_PID"
wait_until 10 bash -c "ovs-ofctl -O OpenFlow15 dump-groups br0 | grep -q -- '0xa00000e->ct_mark'" >/dev/null ||
    sb_fail "SIGHUP reload did not add r4's bucket"
grep -q 'reloaded' "$AG_LOG" || sb_fail "no reload in the log"
echo "reload added r4"
sleep 2
lc_finish

# --- 4. every real down ----------------------------------------------------
ag_stop
cp "$EXAMPLES/demo.lb" "$SB_DIR/spec.lb"
ag_start --reconcile-interval 5s "$SB_DIR/spec.lb"
ag_wait_synced 10
wait_until 10 all_up >/dev/null || sb_fail "reals not all up again"
for h in $DEMO_REALS; do stop_server "$h"; done
nobuckets() { ! ovs-ofctl -O OpenFlow15 dump-groups br0 | grep -q 'bucket='; }
t=$(wait_until 15 nobuckets) || sb_fail "group still has buckets with every real down"
ovs-ofctl -O OpenFlow15 dump-groups br0 | grep -q 'group_id=' || sb_fail "the group itself disappeared"
sleep 1.5
n=$(grep -c 'every real is down' "$AG_LOG" || true)
[ "$n" = 1 ] || sb_fail "'every real is down' logged $n times, want 1"
ag_ctl flowlb/show | grep -q 'ALL REALS DOWN' || sb_fail "show does not say all reals are down"
sb_exec client curl -sS --max-time 2 "http://$DEMO_VIP/" >/dev/null 2>&1 && sb_fail "a request succeeded with every real down"
echo "every real down: empty group after ${t} ms, logged once, requests dropped"
for h in $DEMO_REALS; do sb_start_server "$h"; done
t=$(wait_until 15 bash -c "[ \$(ovs-ofctl -O OpenFlow15 dump-groups br0 | grep -o 'bucket=' | wc -l) = 3 ]") ||
    sb_fail "buckets not back after the servers restarted"
vip_get >/dev/null || sb_fail "no traffic after every real came back"
grep -q 'real(s) up again' "$AG_LOG" || sb_fail "recovery not logged"
echo "every real back: 3 buckets after ${t} ms"
echo "agent_failover: OK"
