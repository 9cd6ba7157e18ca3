#!/bin/bash
# What happens to established connections of a real that goes down
# (IPVS's expire_nodest_conn). The reals are checked on a separate port
# (81), so a real can fail its check while its service on port 80 (and the
# connections to it) stay alive:
#  1. default (keep): a long-lived connection on the failed real keeps being
#     forwarded to it and keeps working; new connections avoid it;
#  2. --expire-nodest-conn: a dispatch flow for the dead real's mark sends
#     its connections back through the group; the long-lived connection is
#     rescheduled to a live real, which resets it; new connections work; when
#     the real comes back the flow goes away.
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
sb_init
. "$SB_LIB_DIR/agent.sh"
ag_need
topo_demo servers
for h in $DEMO_REALS; do
    sb_start_server "$h" 81
    cp "$SB_DIR/server.$h.pid" "$SB_DIR/health.$h.pid"
done
SPEC=$SB_DIR/spec.lb
sed 's/check tcp /check tcp port 81 /' "$EXAMPLES/demo.lb" >"$SPEC"
grep -q 'port 81' "$SPEC" || sb_fail "could not make the spec"

stop_health() {
    local pid
    pid=$(cat "$SB_DIR/health.$1.pid")
    kill "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
}
start_health() {
    sb_start_server "$1" 81
    cp "$SB_DIR/server.$1.pid" "$SB_DIR/health.$1.pid"
}
wait_health() { # real-ip state
    wait_until 15 bash -c "[ \"\$(ovs-appctl -t '$AG_CTL' flowlb/show --json | '$SB_PY' -c 'import json,sys; s=json.load(sys.stdin); print([r[\"health\"] for v in s[\"services\"] for r in v[\"reals\"] if r[\"address\"] == \"$1\"][0])')\" = $2 ]" >/dev/null ||
        sb_fail "$1 not $2: $(ag_ctl flowlb/show)"
}

# --- 1. keep (default) -----------------------------------------------------
ag_start --reconcile-interval 5s "$SPEC"
ag_wait_synced 10
for h in $DEMO_REALS; do wait_health "$(demo_ip "$h")" up; done
lc_start keep 120
R=$(lc_real)
echo "long connection on $R"
stop_health "$R"
wait_health "$(demo_ip "$R")" down
ag_mark_installed "$(demo_mark "$R")" && sb_fail "$R's bucket still installed while down"
ovs-ofctl -O OpenFlow15 dump-flows br0 table=1 | grep -q "ct_mark=$(demo_mark "$R")" &&
    sb_fail "an expire flow exists without --expire-nodest-conn"
n0=$(wc -l <"$LC_CTL/log")
sleep 2
n1=$(wc -l <"$LC_CTL/log")
[ "$n1" -gt "$n0" ] || sb_fail "the long connection stalled after $R went down"
for i in 1 2 3 4 5 6; do
    a=$(vip_get) || sb_fail "new request failed"
    [ "$a" != "$R" ] || sb_fail "a new connection reached the dead $R"
done
lc_finish
echo "keep: the connection on the dead $R kept working ($((n1 - n0)) answers after it went down)"
start_health "$R"
wait_health "$(demo_ip "$R")" up
ag_stop

# --- 2. --expire-nodest-conn ------------------------------------------------
ag_start --reconcile-interval 5s --expire-nodest-conn "$SPEC"
ag_wait_synced 10
ag_json 's["expire_nodest_conn"]' | grep -q true || sb_fail "show does not report expire_nodest_conn"
lc_start expire 60
R=$(lc_real)
echo "long connection on $R"
stop_health "$R"
wait_health "$(demo_ip "$R")" down
mark=$(demo_mark "$R")
flow=$(ovs-ofctl -O OpenFlow15 --no-names dump-flows br0 table=1 | grep "ct_mark=$mark" || true)
echo "$flow" | grep -q 'actions=group:' || sb_fail "no expire flow for $R's mark: $(ovs-ofctl -O OpenFlow15 dump-flows br0 table=1)"
echo "expire flow: $(echo "$flow" | sed 's/.*priority=/priority=/')"
# The connection is rescheduled: the new real does not know it and resets.
if wait "$LC_PID"; then
    sb_fail "the long connection survived although its real was expired"
fi
tail -1 "$LC_CTL/log" | grep -q 'error' || sb_fail "long connection ended without an error: $(tail -2 "$LC_CTL/log")"
echo "expire: the connection on the dead $R was rescheduled ($(tail -1 "$LC_CTL/log"))"
# Conntrack moved the connection's mark off the dead real.
for i in 1 2 3 4 5 6; do
    a=$(vip_get) || sb_fail "new request failed"
    [ "$a" != "$R" ] || sb_fail "a new connection reached the dead $R"
done
start_health "$R"
wait_health "$(demo_ip "$R")" up
wait_until 10 bash -c "! ovs-ofctl -O OpenFlow15 dump-flows br0 table=1 | grep -q 'ct_mark=$mark'" >/dev/null ||
    sb_fail "expire flow not removed when $R came back"
ag_mark_installed "$mark" || sb_fail "$R's bucket not back"
echo "agent_expire: OK"
