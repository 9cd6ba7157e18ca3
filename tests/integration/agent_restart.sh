#!/bin/bash
# flowlbd killed with SIGKILL and started again on a bridge that holds its
# pipeline: the flows are reconciled in place, never wiped and re-added.
#  - `ovs-ofctl monitor` watching the bridge during the restart sees no
#    flow added, modified or deleted;
#  - every flow keeps its duration (it is older than the restart) and its
#    packet counters;
#  - the agent reports 0 bundles sent;
#  - a live TCP connection through the VIP keeps working, on its real;
#  - the same holds for an agent restarted with --monitor after a crash
#    of the daemon process (the monitor restarts it).
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
sb_init
. "$SB_LIB_DIR/agent.sh"
ag_need
topo_demo servers

ag_start --reconcile-interval 1s "$EXAMPLES/demo.lb"
ag_wait_synced 10
for i in 1 2 3 4 5 6; do vip_get >/dev/null || sb_fail "curl $i failed"; done
lc_start a 120
echo "long connection on $(lc_real)"
sleep 2

# Watch every flow change on the bridge from now on.
sb_bg client "$SB_DIR/monitor.log" ovs-ofctl monitor \
    "unix:$SB_DIR/br0.mgmt" "watch:!initial"
mon_pid=$SB_LAST_PID
sleep 1
kill -0 "$mon_pid" || sb_fail "ovs-ofctl monitor did not start: $(cat "$SB_DIR/monitor.log")"

stats() { # "table priority,match n_packets duration-seconds", sorted
    ovs-ofctl -O OpenFlow15 --no-names dump-flows br0 \
        "cookie=0xf10b000000000000/0xffff000000000000" |
        sed -n 's/.*duration=\([0-9.]*\)s, table=\([0-9]*\), n_packets=\([0-9]*\),.* priority=\([0-9][^ ]*\) actions=.*/\2 \4 \3 \1/p' | sort
}
before=$(stats)
nflows=$(echo "$before" | wc -l)
[ "$nflows" -ge 10 ] || sb_fail "unexpected flows: $before"
t_kill=$(date +%s.%N)
ag_kill9
sleep 1
ag_start --reconcile-interval 1s "$EXAMPLES/demo.lb"
ag_wait_synced 10
sleep 2.5     # two more reconcile rounds

[ "$(ag_json 's["bundles"]')" = 0 ] ||
    sb_fail "restarted agent sent bundles: $(grep 'bundle' "$AG_LOG" | tail -3)"
[ "$(ag_json 's["dumps"]')" -ge 2 ] || sb_fail "restarted agent did not re-read the switch"
after=$(stats)
[ "$(echo "$after" | wc -l)" = "$nflows" ] || sb_fail "flow count changed: $nflows -> $(echo "$after" | wc -l)"
# Every flow is older than the restart and no counter went backwards.
elapsed=$(echo "$(date +%s.%N) - $t_kill" | bc)
echo "$before" >"$SB_DIR/before"
echo "$after" >"$SB_DIR/after"
"$SB_PY" - "$SB_DIR/before" "$SB_DIR/after" "$elapsed" <<'PY' || sb_fail "flows were re-added"
import sys
def load(p):
    d = {}
    for line in open(p):
        t, key, pkts, dur = line.split()
        d[(t, key)] = (int(pkts), float(dur))
    return d
b, a, elapsed = load(sys.argv[1]), load(sys.argv[2]), float(sys.argv[3])
assert b.keys() == a.keys(), (b.keys() ^ a.keys())
for k in b:
    if a[k][1] < elapsed or a[k][0] < b[k][0]:
        print("flow %s: before %s, after %s (restart %.1fs ago)" % (k, b[k], a[k], elapsed))
        sys.exit(1)
print("all %d flows kept their age (> %.1fs) and counters" % (len(b), elapsed))
PY

changes=$(grep -E 'event=(ADDED|DELETED|MODIFIED)' "$SB_DIR/monitor.log" || true)
[ -z "$changes" ] || sb_fail "flows changed during the agent restart: $changes"
# Control: the monitor does report changes (a foreign flow added now).
ovs-ofctl add-flow br0 'table=0,priority=500,cookie=0x77,udp,tp_dst=7777,actions=drop'
wait_until 5 grep -q 'event=ADDED.*cookie=0x77' "$SB_DIR/monitor.log" >/dev/null ||
    sb_fail "ovs-ofctl monitor reports nothing: $(head -3 "$SB_DIR/monitor.log")"
kill "$mon_pid"
echo "ovs-ofctl monitor saw no flow change during the restart"

# The connection is still served, by the same real.
sleep 1
lc_finish

# --- the same with --monitor: the daemon process crashes, the monitor
# restarts it, nothing is re-added.
ag_stop
ag_start --monitor --reconcile-interval 1s "$EXAMPLES/demo.lb"
ag_wait_synced 10
monitor_pid=$(ps -o ppid= -p "$AG_PID" | tr -d ' ')
echo "$monitor_pid" >>"$SB_DIR/pids"
[ -n "$monitor_pid" ] && [ "$monitor_pid" != 1 ] || sb_fail "no monitor process"
sb_bg client "$SB_DIR/monitor2.log" ovs-ofctl monitor \
    "unix:$SB_DIR/br0.mgmt" "watch:!initial"
mon_pid=$SB_LAST_PID
sleep 1
# SIGABRT (as an assertion failure would): a crash for --monitor, and not
# intercepted by AddressSanitizer in sanitizer builds (SIGSEGV is).
kill -ABRT "$AG_PID"
newpid() { [ -f "$AG_PIDFILE" ] && [ "$(cat "$AG_PIDFILE")" != "$AG_PID" ] && kill -0 "$(cat "$AG_PIDFILE")" 2>/dev/null; }
t=$(wait_until 20 newpid) || sb_fail "--monitor did not restart flowlbd after a crash"
AG_PID=$(cat "$AG_PIDFILE")
echo "$AG_PID" >>"$SB_DIR/pids"
ag_wait_synced 10
sleep 1.5
kill "$mon_pid"
[ "$(ag_json 's["bundles"]')" = 0 ] || sb_fail "daemon restarted by --monitor sent bundles"
changes=$(grep -E 'event=(ADDED|DELETED|MODIFIED)' "$SB_DIR/monitor2.log" || true)
[ -z "$changes" ] || sb_fail "flows changed across the crash: $changes"
echo "crash under --monitor: restarted in ${t} ms, no flow changed"
vip_get >/dev/null || sb_fail "curl after the crash failed"
ag_stop
kill "$monitor_pid" 2>/dev/null || true
echo "agent_restart: OK"
