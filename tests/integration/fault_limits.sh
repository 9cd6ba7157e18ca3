#!/bin/bash
# flowlbd at resource limits, with continuous traffic through service demo
# (tests/lib/traffic.py, 5 s timeout); expected 0 failed requests and 0
# broken connections on demo in every part.
#  1. A real that accepts and never answers: demo's reals are checked with
#     http on port 8081, where r3 runs a server that accepts and stays
#     silent. The check times out (timeout 500 ms): r3 goes down within
#     interval x fall + timeout + 1 s of the start, with reason timeout, and
#     flowlbd does not keep the silent connections open (fd count bounded).
#  2. 10,000 reals all down at once: demo plus 1,250 services of 8 reals on
#     addresses that refuse (a local route in flowlbd's namespace, nothing
#     listening). Every one of them goes down within a bound, every one of
#     their groups is emptied, demo keeps its 3 buckets, and flowlb/show
#     keeps answering (its slowest answer during the whole transition is
#     printed and bounded).
#  3. The health checker out of file descriptors: flowlbd runs with a
#     ulimit -n of $FD_LIMIT (64) next to 128 reals whose connects hang until
#     the check timeout (each probe holds a socket 500 ms: 64 wanted at
#     once, more than the limit leaves). Before the fix, probes failed with
#     EMFILE and demo's reals were marked down for it. Now the checker keeps
#     probes within a budget (half of a small limit), the rest wait their
#     turn oldest first, and a probe that still fails locally (EMFILE,
#     ENOMEM...) gives no verdict. Expected: the shortage is logged, no demo
#     real is ever marked down, demo's reals come up and all 128 hanging
#     reals go down (every target is still checked), the control socket
#     never fails to accept, flowlb/show answers.
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
sb_init
. "$SB_LIB_DIR/agent.sh"
. "$SB_LIB_DIR/traffic.sh"
ag_need
topo_demo servers
FD_LIMIT=${FD_LIMIT:-64}
demo_up() {
    [ "$(ag_json 'all(r["health"] == "up" for v in s["services"] if v["name"] == "demo" for r in v["reals"])')" = true ]
}

# --- 1. a real that accepts and never answers ------------------------------
for h in r1 r2; do
    sb_bg "$h" "$SB_DIR/chk.$h.log" "$SB_PY" "$SB_LIB_DIR/backend.py" --name "$h" --port 8081
    sb_wait_port "$h" 127.0.0.1 8081
done
sb_bg r3 "$SB_DIR/silent.log" "$SB_PY" "$SB_LIB_DIR/silent.py" 8081
sb_wait_port r3 127.0.0.1 8081
SPEC=$SB_DIR/spec.lb
sed 's/check tcp .*;/check http port 8081 path \/ interval 1s timeout 500ms rise 2 fall 3;/' \
    "$EXAMPLES/demo.lb" >"$SPEC"
grep -q 'check http' "$SPEC" || sb_fail "could not make the http spec"
t0=$(now_ms)
ag_start --reconcile-interval 1s "$SPEC"
ag_wait_synced 10
tr_start --keepalive 4 --interval 0.2 --new-workers 2 --new-interval 0.1 --timeout 5
tt=$(tr_now)
r3_down() { [ "$(ag_health_of 10.0.0.13)" = down ]; }
wait_until 10 r3_down >/dev/null || sb_fail "the silent r3 never went down"
t=$(($(now_ms) - t0))
echo "silent real: down ${t} ms after flowlbd started (limit interval x fall + timeout + 1 s = 4500 ms)"
[ "$t" -le $((4500 * TR_SLOW)) ] || sb_fail "the silent real took $t ms to go down"
ag_json "[r['last_check'] for v in s['services'] for r in v['reals'] if r['address'] == '10.0.0.13'][0]" | grep -qi 'timeout\|timed out' ||
    sb_fail "r3's last check is not a timeout: $(ag_ctl flowlb/show | grep 10.0.0.13)"
[ "$(ag_health_of 10.0.0.11)" = up ] && [ "$(ag_health_of 10.0.0.12)" = up ] || sb_fail "r1/r2 not up"
sleep 3
nfd=$(ls /proc/"$AG_PID"/fd | wc -l)
echo "flowlbd holds $nfd fds after 6 timed-out probes"
[ "$nfd" -le 40 ] || sb_fail "flowlbd keeps $nfd fds open (silent connections leaked?)"
tr_expect "1. silent real" 0 0 "$tt"
ag_stop

# --- 2. 10,000 reals refusing -------------------------------------------
ip -n "$SB_NS" route add local 10.200.0.0/16 dev lo
SPEC=$SB_DIR/big.lb
gen_services() { # gen_services PREFIX FIRST-OCTET N: N services x 8 reals in 10.OCTET/16
    "$SB_PY" - "$@" <<'PY'
import sys
prefix, octet, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
k = 0
for i in range(n):
    print("service %s%d {" % (prefix, i))
    print("    vip 172.%d.%d.%d tcp 80;" % (16 + octet - 200, i // 250, i % 250 + 1))
    for j in range(8):
        print("    real 10.%d.%d.%d mac 02:00:0a:%02x:%02x:%02x;"
              % (octet, k // 250, k % 250 + 1, octet, k // 250, k % 250 + 1))
        k += 1
    print("    check tcp interval 1s timeout 500ms rise 2 fall 3;")
    print("}")
PY
}
{ cat "$EXAMPLES/demo.lb"; gen_services d 200 1250; } >"$SPEC"
[ "$(grep -c '^    real 10.200' "$SPEC")" = 10000 ] || sb_fail "spec does not have 10,000 reals"
t0=$(now_ms)
ag_start --reconcile-interval 1s "$SPEC"
ag_wait_synced $((30 * TR_SLOW))
echo "10,000-real spec in sync after $(($(now_ms) - t0)) ms"
tt=$(tr_now)
# Poll flowlb/show --json until every d* real is down; keep the slowest answer.
"$SB_PY" - "$AG_CTL" >"$SB_DIR/alldown" <<'PY' || sb_fail "not all 10,000 reals went down: $(tail -1 "$SB_DIR/alldown")"
import json, subprocess, sys, time
t0 = time.time(); worst = 0.0
while time.time() - t0 < 30:
    a = time.time()
    out = subprocess.run(["ovs-appctl", "-t", sys.argv[1], "flowlb/show", "--json"],
                         capture_output=True, text=True, timeout=10).stdout
    worst = max(worst, time.time() - a)
    s = json.loads(out)
    down = sum(1 for v in s["services"] if v["name"] != "demo" for r in v["reals"] if r["health"] == "down")
    if down == 10000:
        print("all 10000 down after %.1f s; slowest flowlb/show --json %.0f ms" % (time.time() - t0, worst * 1000))
        sys.exit(0)
    time.sleep(0.2)
print("only %d down after 30 s; slowest flowlb/show %.0f ms" % (down, worst * 1000))
sys.exit(1)
PY
cat "$SB_DIR/alldown"
worst=$(sed -n 's/.*slowest flowlb\/show --json \([0-9]*\) ms/\1/p' "$SB_DIR/alldown")
[ "$worst" -le $((2000 * TR_SLOW)) ] || sb_fail "flowlb/show took $worst ms during the transition (bound $((2000 * TR_SLOW)) ms)"
ag_wait_synced 20
buckets=$(ovs-ofctl -O OpenFlow15 dump-groups br0 | grep -c 'bucket=' || true)
groups=$(ovs-ofctl -O OpenFlow15 dump-groups br0 | grep -c 'group_id=')
nb=$(ovs-ofctl -O OpenFlow15 dump-groups br0 | grep -o 'bucket=' | wc -l)
echo "$groups groups, $nb buckets in all (demo's 3)"
[ "$groups" = 1251 ] && [ "$nb" = 3 ] || sb_fail "want 1251 groups and demo's 3 buckets, got $groups / $nb"
demo_up || sb_fail "demo's reals are not all up"
t=$(now_ms); ag_ctl flowlb/show >/dev/null; echo "flowlb/show (text) after: $(($(now_ms) - t)) ms"
[ "$(grep -c 'every real is down' "$AG_LOG")" = 1250 ] || sb_fail "'every real is down' not logged once per service"
tr_expect "2. 10,000 reals down" 0 0 "$tt"
# The first push is large (its record, made while the switch commits it,
# is swconn.c's largest); what the agent then believes installed must be
# what the switch has: the reconcile rounds (every second) find no drift.
n1=$(sed -n 's/.*bundle 1: \([0-9]*\) changes.*/\1/p' "$AG_LOG" | tail -1)
[ "${n1:-0}" -ge 4096 ] || sb_fail "the first bundle had ${n1:-no} changes, want >= 4096"
grep -q 'drift\|differences from the installed view' "$AG_LOG" &&
    sb_fail "the installed view differs from the switch: $(grep -m3 'drift\|differences' "$AG_LOG")"
rounds=$(grep -c ': sliced, ' "$AG_LOG" || true)
[ "$rounds" -ge 1 ] || sb_fail "no sliced reconcile round ran: nothing compared the installed view"
echo "first bundle: $n1 changes; no drift in $rounds sliced rounds"
ag_stop

# --- 3. out of file descriptors ------------------------------------------
ip -n "$SB_NS" route add 10.201.0.0/16 via 10.0.0.250   # nobody: connects hang
SPEC=$SB_DIR/fd.lb
{ cat "$EXAMPLES/demo.lb"; gen_services h 201 16; } >"$SPEC"
lines0=$(wc -l <"$AG_LOG")
AG_WRAPPER="prlimit --nofile=$FD_LIMIT:$FD_LIMIT ${AG_WRAPPER:-}" ag_start --reconcile-interval 1s "$SPEC"
grep -q "Max open files *$FD_LIMIT" /proc/"$AG_PID"/limits || sb_fail "the fd limit is not applied"
ag_wait_synced $((30 * TR_SLOW))
tt=$(tr_now)
t0=$(now_ms)
wait_until 20 demo_up >/dev/null || sb_fail "demo's reals not up 20 s into the fd shortage: $(ag_ctl flowlb/show | head -20)"
echo "demo's reals up after $(($(now_ms) - t0)) ms"
h_down() { [ "$(ag_json 'sum(1 for v in s["services"] if v["name"] != "demo" for r in v["reals"] if r["health"] == "down")')" = 128 ]; }
wait_until 30 h_down >/dev/null || sb_fail "the 128 hanging reals are not all down after 30 s"
echo "all 128 hanging reals down after $(($(now_ms) - t0)) ms"
short='open files limit allows\|short of resources'
emfile=$(tail -n +"$lines0" "$AG_LOG" | grep -c "$short" || true)
echo "log lines about the fd shortage: $emfile (rate-limited)"
tail -n +"$lines0" "$AG_LOG" | grep "$short" | head -2
[ "$emfile" -ge 1 ] || sb_fail "the checker never hit the fd limit (raise the number of hanging reals) or did not log it"
if tail -n +"$lines0" "$AG_LOG" | grep -q 'accept failed: Too many open files'; then
    sb_fail "the checker took the descriptors the control socket needs"
fi
if tail -n +"$lines0" "$AG_LOG" | grep -q 'real 10.0.0.1[123]: .*-> down'; then
    sb_fail "a demo real was marked down because of the checker's own fd shortage: $(tail -n +"$lines0" "$AG_LOG" | grep 'real 10.0.0.1[123]: .*-> down' | head -2)"
fi
demo_up || sb_fail "demo's reals are not all up"
t=$(now_ms); ag_ctl flowlb/show >/dev/null || sb_fail "flowlb/show failed"; echo "flowlb/show under fd shortage: $(($(now_ms) - t)) ms"
tr_expect "3. fd shortage" 0 0 "$tt"
tr_stop
ag_stop
echo "fault_limits: OK"
