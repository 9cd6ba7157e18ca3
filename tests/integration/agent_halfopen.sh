#!/bin/bash
# tcp-half-open checks through a real switch (flowlbd in the OVS namespace,
# the reals in theirs, probes across br0 and the veths):
#  1. with `check tcp` the reals' kernels count a passive open per probe
#     (the counter this test relies on does see checks);
#  2. reloaded with `check tcp-half-open`: every real stays up, its last
#     verdict is a SYN-ACK, and no real's kernel completes a single
#     connection over several intervals (TcpPassiveOpens unchanged);
#  3. a real's server stopped: down within interval x fall + bound, from
#     resets ("connect refused (reset)"), its bucket alone removed;
#     restarted: up again within interval x rise + bound;
#  4. flowlbd never fell back to connect() (it runs as root).
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
sb_init
. "$SB_LIB_DIR/agent.sh"
ag_need
topo_demo servers

INTERVAL_MS=1000 FALL=3 RISE=2 BOUND_MS=1000
spec=$SB_DIR/spec.lb
cp "$EXAMPLES/demo.lb" "$spec"
ag_start --reconcile-interval 5s "$spec"
ag_wait_synced 10
wait_until 10 ag_all_up >/dev/null || sb_fail "reals not all up: $(ag_ctl flowlb/show)"

# Connections the real's kernel completed (a listener's child socket made).
passive_opens() {
    sb_exec "$1" awk '$1 == "Tcp:" && !h { for (i = 2; i <= NF; i++) if ($i == "PassiveOpens") c = i; h = 1; next }
                      $1 == "Tcp:" { print $c }' /proc/net/snmp
}

# --- 1. tcp checks complete connections ---------------------------------
p0=$(passive_opens r1)
sleep 3.5
p1=$(passive_opens r1)
[ $((p1 - p0)) -ge 2 ] || sb_fail "tcp checks: r1 counted $((p1 - p0)) passive opens in 3.5 s (expected >= 2)"
echo "tcp checks: r1 completed $((p1 - p0)) connections in 3.5 s"

# --- 2. half-open: up, no connection ------------------------------------
sed -i 's/check tcp /check tcp-half-open /' "$spec"
grep -q 'check tcp-half-open ' "$spec" || sb_fail "could not edit the spec"
ag_ctl flowlb/reload >/dev/null || sb_fail "reload refused the tcp-half-open spec"
synack_all() {
    for h in $DEMO_REALS; do [ "$(ag_last_check_of "$(demo_ip "$h")")" = SYN-ACK ] || return 1; done
}
t=$(wait_until 5 synack_all) || sb_fail "no SYN-ACK verdicts after the reload: $(ag_ctl flowlb/show)"
echo "reloaded: every real's last verdict is SYN-ACK after ${t} ms"
declare -A before=()
for h in $DEMO_REALS; do before[$h]=$(passive_opens "$h"); done
sleep 3.5
for h in $DEMO_REALS; do
    [ "$(ag_health_of "$(demo_ip "$h")")" = up ] || sb_fail "$h went down under half-open checks"
    [ "$(ag_last_check_of "$(demo_ip "$h")")" = SYN-ACK ] || sb_fail "$h: last verdict $(ag_last_check_of "$(demo_ip "$h")")"
    n=$(($(passive_opens "$h") - ${before[$h]}))
    [ "$n" = 0 ] || sb_fail "$h completed $n connections under half-open checks"
done
echo "half-open checks: 3.5 s, every real up, no connection completed on any"

# --- 3. down from resets, back up ---------------------------------------
mark2=$(demo_mark r2)
pid=$(cat "$SB_DIR/server.r2.pid")
kill "$pid"
while kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
lines0=$(wc -l <"$AG_LOG")
t=$(wait_until 15 bash -c "! ovs-ofctl -O OpenFlow15 dump-groups br0 | grep -q -- '$mark2->ct_mark'") ||
    sb_fail "r2's bucket still in the group 15 s after its server stopped"
limit=$((INTERVAL_MS * FALL + BOUND_MS))
echo "r2 stopped: bucket removed after ${t} ms (limit $limit ms)"
[ "$t" -le "$limit" ] || sb_fail "removal took ${t} ms > $limit ms"
[ "$(ag_last_check_of 10.0.0.12)" = "connect refused (reset)" ] ||
    sb_fail "r2's last verdict: $(ag_last_check_of 10.0.0.12)"
tail -n +"$lines0" "$AG_LOG" | grep -q 'buckets +0 -1, flows +0 ~0 -0' ||
    sb_fail "the failover was not a single bucket removal"
for h in r1 r3; do ag_mark_installed "$(demo_mark "$h")" || sb_fail "$h's bucket went too"; done
sb_start_server r2
t=$(wait_until 15 ag_mark_installed "$mark2") || sb_fail "r2's bucket not back"
limit=$((INTERVAL_MS * RISE + BOUND_MS))
echo "r2 restarted: bucket back after ${t} ms (limit $limit ms)"
[ "$t" -le "$limit" ] || sb_fail "restore took ${t} ms > $limit ms"
for i in 1 2 3 4 5; do
    vip_get >/dev/null || sb_fail "request $i through the VIP failed"
done

# --- 4. no fallback -------------------------------------------------------
! grep -q 'run as connect() checks' "$AG_LOG" || sb_fail "flowlbd fell back to connect() checks"
echo "agent_halfopen: OK"
