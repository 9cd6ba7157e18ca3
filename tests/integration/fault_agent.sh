#!/bin/bash
# Faults of flowlbd itself under continuous traffic (tests/lib/traffic.py:
# 4 keep-alive connections with a GET every 200 ms, 2 workers opening a new
# connection every 100 ms, 5 s timeout) through service "demo"
# (examples/demo.lb), next to a second service "extra" (VIP 10.0.0.200:8080
# on r1) with 2 keep-alive connections of its own. Expected counts:
#  1. flowlbd SIGKILLed and restarted: 0 failed, 0 broken; no flow added,
#     modified or deleted (ovs-ofctl monitor), 0 bundles from the new daemon.
#  2. reload storm: 100 reloads, alternately flowlb/reload and SIGHUP,
#     alternately between two valid specs that differ in r3's weight (every
#     applied reload rewrites the group): 0 failed, 0 broken; the daemon
#     answers throughout and ends in sync.
#  3. reload with a broken spec (flowlb/reload and SIGHUP): refused, nothing
#     sent, 0 failed, 0 broken.
#  4. reload removing service "extra" while its connections are live: demo's
#     traffic 0 failed, 0 broken; extra's flows and group are deleted, so its
#     VIP is no longer answered or forwarded: each of its established
#     connections stalls and breaks at the client's timeout (2 broken: no
#     reset is sent), and its new connections fail. This is the documented
#     behaviour (docs/operations.md): drain a service before removing it.
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
sb_init
. "$SB_LIB_DIR/agent.sh"
. "$SB_LIB_DIR/traffic.sh"
ag_need
topo_demo servers
EXTRA_VIP=10.0.0.200
ip -n "$(sb_ns r1)" addr add "$EXTRA_VIP/32" dev lo
sb_start_server r1 8080

extra_svc() {
    cat <<EOS
service extra {
    vip $EXTRA_VIP tcp 8080;
    vip-mac 02:00:00:00:02:00;
    real 10.0.0.11 mac 02:00:00:00:00:11 port 11;
    check tcp interval 1s timeout 500ms rise 2 fall 3;
}
EOS
}
SPEC=$SB_DIR/spec.lb
{ cat "$EXAMPLES/demo.lb"; extra_svc; } >"$SB_DIR/specA.lb"
{ sed 's/\(real 10.0.0.13 .*\);/\1 weight 3;/' "$EXAMPLES/demo.lb"; extra_svc; } >"$SB_DIR/specB.lb"
grep -q 'weight 3' "$SB_DIR/specB.lb" || sb_fail "could not make spec B"
cp "$SB_DIR/specA.lb" "$SPEC"

ag_start --reconcile-interval 1s "$SPEC"
ag_wait_synced 10
wait_until 10 ag_all_up >/dev/null || sb_fail "reals not all up"

# The extra service's client first (its own counters), then demo's.
TR_VIP=$EXTRA_VIP tr_start --port 8080 --keepalive 2 --interval 0.2 --new-workers 1 --new-interval 0.2 --timeout 3
X_DIR=$TR_DIR X_PID=$TR_PID
tr_start --keepalive 4 --interval 0.2 --new-workers 2 --new-interval 0.1 --timeout 5
D_DIR=$TR_DIR D_PID=$TR_PID
# both_expect LABEL FROM: demo and extra both 0 failed, 0 broken since FROM.
both_expect() {
    TR_DIR=$D_DIR tr_expect "$1 (demo)" 0 0 "$2"
    TR_DIR=$X_DIR tr_expect "$1 (extra)" 0 0 "$2"
}
sleep 1
both_expect baseline 0

# --- 1. agent SIGKILL + restart --------------------------------------------
sb_bg client "$SB_DIR/monitor.log" ovs-ofctl monitor "unix:$SB_DIR/br0.mgmt" "watch:!initial"
mon_pid=$SB_LAST_PID
sleep 0.5
t0=$(tr_now)
ag_kill9
sleep 1
ag_start --reconcile-interval 1s "$SPEC"
ag_wait_synced 10
sleep 2.5
both_expect "1. agent SIGKILL + restart" "$t0"
[ "$(ag_json 's["bundles"]')" = 0 ] || sb_fail "the restarted agent sent bundles: $(grep 'bundle' "$AG_LOG" | tail -3)"
changes=$(grep -E 'event=(ADDED|DELETED|MODIFIED)' "$SB_DIR/monitor.log" || true)
[ -z "$changes" ] || sb_fail "flows changed across the agent restart: $changes"
kill "$mon_pid"
echo "agent restart: no flow changed (ovs-ofctl monitor), 0 bundles"

# --- 2. reload storm ------------------------------------------------------
t0=$(tr_now)
reloads0=$(grep -c 'reloaded' "$AG_LOG" || true)
bundles0=$(ag_json 's["bundles"]')
ts=$(now_ms)
for i in $(seq 1 100); do
    if [ $((i % 2)) = 0 ]; then cp "$SB_DIR/specA.lb" "$SPEC"; else cp "$SB_DIR/specB.lb" "$SPEC"; fi
    if [ $((i % 4)) -lt 2 ]; then
        ag_ctl flowlb/reload >/dev/null || sb_fail "reload $i refused"
    else
        kill -HUP "$AG_PID"
        sleep 0.02
    fi
done
storm_ms=$(($(now_ms) - ts))
kill -0 "$AG_PID" || sb_fail "flowlbd died in the reload storm"
# Answers within a second after the storm, and settles on spec A.
t=$(now_ms); ag_ctl flowlb/show >/dev/null || sb_fail "flowlb/show failed after the storm"
show_ms=$(($(now_ms) - t))
sleep 1
ag_wait_synced 10
ag_ctl flowlb/show | grep '10.0.0.13 ' | grep -q 'configured 1' || sb_fail "not on spec A after the storm"
reloads=$(($(grep -c 'reloaded' "$AG_LOG") - reloads0))
bundles=$(($(ag_json 's["bundles"]') - bundles0))
echo "reload storm: 100 reloads in $storm_ms ms, $reloads applied (SIGHUPs may coalesce), $bundles bundles, flowlb/show after it in $show_ms ms"
[ "$reloads" -ge 50 ] || sb_fail "only $reloads reloads applied"
[ "$(ag_json 's["bundle_errors"]')" = 0 ] || sb_fail "the switch refused bundles during the storm"
sleep 1
both_expect "2. reload storm" "$t0"

# --- 3. broken spec -----------------------------------------------------
t0=$(tr_now)
bundles0=$(ag_json 's["bundles"]')
sed 's/vip 10.0.0.100 tcp 80;/vip 10.0.0.300 tcp 80;/' "$SB_DIR/specA.lb" >"$SPEC"
if out=$(ag_ctl flowlb/reload 2>&1); then sb_fail "a broken spec was accepted: $out"; fi
echo "$out" | grep -q "$SPEC:[0-9]*:[0-9]*: error" || sb_fail "no located error: $out"
refused0=$(grep -c 'refused' "$AG_LOG")
kill -HUP "$AG_PID"
wait_until 5 bash -c "[ \$(grep -c refused '$AG_LOG') -gt $refused0 ]" >/dev/null || sb_fail "SIGHUP: broken spec not refused"
sleep 2
[ "$(ag_json 's["bundles"]')" = "$bundles0" ] || sb_fail "a refused reload sent a bundle"
both_expect "3. broken spec refused" "$t0"

# --- 4. a service removed under live connections ------------------------
t0=$(tr_now)
cp "$EXAMPLES/demo.lb" "$SPEC"
ag_ctl flowlb/reload >/dev/null || sb_fail "reload without extra refused"
wait_until 5 bash -c "[ \$(ovs-ofctl -O OpenFlow15 dump-groups br0 | grep -c group_id=) = 1 ]" >/dev/null ||
    sb_fail "extra's group not deleted"
sleep 7   # two of extra's client timeouts (3 s)
TR_DIR=$D_DIR tr_expect "4. service extra removed (demo)" 0 0 "$t0"
c=$(TR_DIR=$X_DIR tr_count "$(echo "$t0 + 0.5" | bc)")
echo "4. service extra removed (extra, from 0.5 s after the reload): $c"
[ "$(tr_field "$c" ok)" = 0 ] || sb_fail "extra's VIP still answered after its removal"
[ "$(tr_field "$c" fail)" -ge 1 ] || sb_fail "no new connection to extra was even tried"
b=$(awk -v a="$t0" '$1 >= a && $2 == "ka" && $4 == "broken"' "$X_DIR/events" | awk '$3 < 1000' | wc -l)
[ "$b" = 2 ] || sb_fail "want both of extra's original connections broken, got $b"
grep -q 'broken.*RemoteDisconnected\|broken.*ConnectionReset' <(awk -v a="$t0" '$1 >= a' "$X_DIR/events") &&
    sb_fail "a connection of the removed service was reset (expected a stall)"
echo "extra's 2 established connections stalled and broke at the client's timeout; its new connections fail"

TR_DIR=$X_DIR TR_PID=$X_PID tr_stop
TR_DIR=$D_DIR TR_PID=$D_PID tr_stop
TR_DIR=$D_DIR tr_count
ag_stop
echo "fault_agent: OK"
