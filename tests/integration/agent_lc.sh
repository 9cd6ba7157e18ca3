#!/bin/bash
# Scheduler lc / wlc: flowlbd re-weights the service's group from the
# connections each real holds in conntrack (a hash group approximating
# IPVS's least-connection choice):
#  1. r2 drained, 10 long-lived connections land on r1, r2 enabled again;
#  2. within a few recount intervals r2's weight is far above r1's
#     (shares 1/(conns+1)), and new connections go mostly to r2 (> 75 %,
#     where the static weights would give 50 %);
#  3. the long-lived connections close: the weights return to equal.
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
sb_init
. "$SB_LIB_DIR/agent.sh"
ag_need
VIP=$DEMO_VIP
sb_add_host client 10.0.0.1/24 02:00:00:00:00:01
for h in r1 r2; do
    sb_add_host "$h" "10.0.0.1${h#r}/24" "02:00:00:00:00:1${h#r}"
    sb_make_real "$h" "$VIP"
    sb_start_server "$h"
done
cat >"$SB_DIR/lc.lb" <<EOF
service web {
    vip $VIP tcp 80;
    vip-mac 02:00:00:00:01:00;
    scheduler lc;
    real 10.0.0.11 mac 02:00:00:00:00:11;
    real 10.0.0.12 mac 02:00:00:00:00:12;
}
EOF
ag_start --lc-interval 1s --reconcile-interval 5s "$SB_DIR/lc.lb"
ag_wait_synced 10

# --- 1. ten connections held on r1 -----------------------------------------
ag_ctl flowlb/drain web 10.0.0.12 >/dev/null
ag_wait_synced 10
cat >"$SB_DIR/hold.py" <<'EOF'
import http.client, os, sys, time
conns = []
for i in range(int(sys.argv[2])):
    c = http.client.HTTPConnection(sys.argv[1], 80, timeout=5)
    c.request("GET", "/")
    print(c.getresponse().read().decode().strip(), flush=True)
    conns.append(c)
open(sys.argv[3], "w").close()
while not os.path.exists(sys.argv[4]):
    time.sleep(0.1)
for c in conns:
    c.close()
EOF
sb_bg client "$SB_DIR/hold.log" "$SB_PY" "$SB_DIR/hold.py" "$VIP" 10 \
    "$SB_DIR/held" "$SB_DIR/release"
hold_pid=$SB_LAST_PID
wait_until 10 test -e "$SB_DIR/held" >/dev/null || sb_fail "connections not opened: $(cat "$SB_DIR/hold.log")"
[ "$(grep -c '^r1$' "$SB_DIR/hold.log")" = 10 ] || sb_fail "held connections not all on r1: $(cat "$SB_DIR/hold.log")"
ag_ctl flowlb/enable web 10.0.0.12 >/dev/null
echo "10 connections held on r1; r2 enabled"

# --- 2. weights follow the counts -----------------------------------------
lcw() { ag_json "[r.get('lc_weight', 0) for v in s['services'] for r in v['reals'] if r['address'] == '$1'][0]"; }
skewed() { [ "$(lcw 10.0.0.12)" -ge $(($(lcw 10.0.0.11) * 5)) ] && [ "$(lcw 10.0.0.11)" -gt 0 ]; }
t=$(wait_until 10 skewed) || sb_fail "weights did not follow the counts: $(ag_ctl flowlb/show)"
echo "weights after ${t} ms: r1 $(lcw 10.0.0.11), r2 $(lcw 10.0.0.12) ($(grep -o 'weights from connection counts.*' "$AG_LOG" | tail -1))"
ag_wait_synced 10
n2=0
N=100
for i in $(seq 1 $N); do
    a=$(sb_exec client curl -sS --max-time 3 "http://$VIP/") || sb_fail "request $i failed"
    [ "$a" = r2 ] && n2=$((n2 + 1))
done
echo "$N new connections: $n2 on r2 (static weights would give about $((N / 2)))"
[ "$n2" -gt $((N * 3 / 4)) ] || sb_fail "only $n2 of $N new connections on the idle r2"

# --- 3. released: back to equal ---------------------------------------------
touch "$SB_DIR/release"
wait "$hold_pid" || true
equal() { [ "$(lcw 10.0.0.11)" = "$(lcw 10.0.0.12)" ]; }
t=$(wait_until 15 equal) || sb_fail "weights did not return to equal: $(ag_ctl flowlb/show)"
echo "connections closed: weights equal again after ${t} ms"
echo "agent_lc: OK"
