#!/bin/bash
# flowlbd and its OpenFlow socket:
#  1. The socket is not there when flowlbd starts (ovs-vswitchd stopped):
#     flowlbd keeps running and retrying with rconn's backoff (1, 2, 4 s,
#     then every 4 s), logs the failure and the backoff, flowlb/show answers
#     and says it is not connected and not in sync. ovs-vswitchd started:
#     the pipeline is installed within the backoff bound (4 s + 2 s), then
#     traffic (tests/lib/traffic.py) sees 0 failed requests, 0 broken
#     connections.
#  2. The socket goes away mid-bundle: flowlbd starts on a large spec
#     (demo + 2,000 services x 8 reals: about 26,000 operations in its first
#     bundle) and ovs-vswitchd is SIGKILLed while that bundle is in flight
#     (sent, not yet committed). flowlbd survives, reconnects to the
#     restarted ovs-vswitchd and installs the whole pipeline: as many flows
#     and groups as it wants, nothing duplicated, in sync; then traffic
#     through demo: 0 failed, 0 broken.
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
sb_init
. "$SB_LIB_DIR/agent.sh"
. "$SB_LIB_DIR/traffic.sh"
ag_need
topo_demo servers

vswitchd_stop() { # SIGTERM (removes br0.mgmt) or SIGKILL (leaves it)
    local pid
    pid=$(cat "$SB_DIR/ovs-vswitchd.pid")
    kill "-$1" "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
}
vswitchd_start() {
    ip netns exec "$SB_NS" ovs-vswitchd "unix:$SB_DIR/db.sock" \
        --pidfile="$SB_DIR/ovs-vswitchd.pid" --detach --no-chdir -vconsole:off \
        --log-file="$SB_DIR/ovs-vswitchd.log" || sb_fail "ovs-vswitchd did not start"
    wait_until 20 ip -n "$SB_NS" link show "$SB_BR" >/dev/null 2>&1 || sb_fail "br0 did not come back"
    ag_host_addr
}

# --- 1. no socket at start --------------------------------------------------
vswitchd_stop TERM
[ ! -e "$SB_DIR/br0.mgmt" ] || sb_fail "br0.mgmt still there"
ip netns exec "$SB_NS" "$FLOWLBD" --bridge "unix:$SB_DIR/$SB_BR.mgmt" --unixctl "$AG_CTL" \
    --pidfile="$AG_PIDFILE" --detach --no-chdir --log-file="$AG_LOG" -vconsole:off \
    --reconcile-interval 1s "$EXAMPLES/demo.lb" || sb_fail "flowlbd did not start without the socket"
AG_PID=$(cat "$AG_PIDFILE"); echo "$AG_PID" >>"$SB_DIR/pids"
sleep 7.5
kill -0 "$AG_PID" || sb_fail "flowlbd exited without its socket"
grep -q 'br0.mgmt: connection failed' "$AG_LOG" || sb_fail "the failed connection is not logged"
grep -q 'waiting 2 seconds before reconnect' "$AG_LOG" || sb_fail "the backoff is not logged"
grep -E 'br0.mgmt: (connection failed|waiting|continuing)' "$AG_LOG" | sed 's/^[^|]*|[^|]*|//' | head -4
[ "$(ag_json 's["connection"]')" != connected ] || sb_fail "show says connected"
[ "$(ag_json 's["synced"]')" = false ] || sb_fail "show says in sync without a switch"
echo "no socket: flowlbd up for 7.5 s, flowlb/show says '$(ag_json 's["connection"]')', not in sync"
ts=$(now_ms)
vswitchd_start
t=$(wait_until 20 ag_synced) || sb_fail "not in sync 20 s after ovs-vswitchd started"
t=$(($(now_ms) - ts))
echo "ovs-vswitchd started: pipeline installed and in sync after $t ms (bound $((6000 * TR_SLOW)) ms)"
[ "$t" -le $((6000 * TR_SLOW)) ] || sb_fail "took $t ms > $((6000 * TR_SLOW)) ms"
tr_start --keepalive 4 --interval 0.2 --new-workers 2 --new-interval 0.1 --timeout 5
sleep 2
tr_expect "1. after the late socket" 0 0
tr_stop
ag_stop

# --- 2. socket gone mid-bundle ------------------------------------------
SPEC=$SB_DIR/big.lb
{
    cat "$EXAMPLES/demo.lb"
    "$SB_PY" - <<'PY'
k = 0
for i in range(2000):
    print("service b%d {\n    vip 172.20.%d.%d tcp 80;\n    vip-mac 02:00:ac:14:%02x:%02x;"
          % (i, i // 250, i % 250 + 1, i // 250, i % 250 + 1))
    for j in range(8):
        print("    real 10.210.%d.%d mac 02:00:0a:d2:%02x:%02x;" % (k // 250, k % 250 + 1, k // 250, k % 250 + 1))
        k += 1
    print("}")
PY
} >"$SPEC"
ovs-ofctl -O OpenFlow15 del-flows br0
ovs-ofctl -O OpenFlow15 del-groups br0
lines0=$(wc -l <"$AG_LOG")
ag_start --reconcile-interval 1s "$SPEC"
# ovs-vswitchd is frozen (SIGSTOP) as soon as flowlbd has compared and
# starts sending, so that it is still taking the bundle in when killed:
# waiting for the bundle to be sent was not enough once flowlbd kept the
# socket fed (the switch had committed 26,000 operations by then).
compared() { tail -n +"$lines0" "$AG_LOG" | grep -q 'full comparison'; }
inflight() { tail -n +"$lines0" "$AG_LOG" | grep -q 'bundle 1: [0-9]* changes'; }
wait_until 30 compared >/dev/null || sb_fail "flowlbd never compared with the switch"
kill -STOP "$(cat "$SB_DIR/ovs-vswitchd.pid")"
wait_until 30 inflight >/dev/null || sb_fail "the first bundle was never sent"
vswitchd_stop KILL
sent=$(tail -n +"$lines0" "$AG_LOG" | grep 'bundle 1: [0-9]* changes' | sed 's/.*bundle 1: //')
if tail -n +"$lines0" "$AG_LOG" | grep -q 'bundle 1 committed'; then
    sb_fail "bundle 1 was committed before ovs-vswitchd was killed (not in flight): make the spec larger"
fi
echo "ovs-vswitchd killed with bundle 1 in flight ($sent)"
sleep 1
kill -0 "$AG_PID" || sb_fail "flowlbd died when its switch went away mid-bundle"
ts=$(now_ms)
vswitchd_start
wait_until 60 ag_synced >/dev/null || sb_fail "not in sync 60 s after ovs-vswitchd restarted: $(tail -5 "$AG_LOG")"
t=$(($(now_ms) - ts))
want=$(ag_json 's["desired_flows"]')
have=$(ovs-ofctl -O OpenFlow15 dump-flows br0 "cookie=0xf10b000000000000/0xffff000000000000" | grep -c cookie= || true)
uniq=$(ag_flows | uniq | wc -l)
groups=$(ovs-ofctl -O OpenFlow15 dump-groups br0 | grep -c group_id= || true)
echo "restarted ovs-vswitchd: in sync after $t ms: $have flows (wants $want, $uniq distinct), $groups groups"
[ "$have" = "$want" ] && [ "$uniq" = "$want" ] || sb_fail "flows: have $have ($uniq distinct), want $want"
[ "$groups" = 2001 ] || sb_fail "want 2001 groups, have $groups"
tail -n +"$lines0" "$AG_LOG" | grep -E 'disconnected|connection closed' | head -2 | sed 's/^[^|]*|[^|]*|//'
tr_start --keepalive 4 --interval 0.2 --new-workers 2 --new-interval 0.1 --timeout 5
sleep 2
tr_expect "2. after the bundle lost mid-flight" 0 0
tr_stop
ag_stop
echo "fault_socket: OK"
