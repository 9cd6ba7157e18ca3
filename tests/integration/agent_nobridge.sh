#!/bin/bash
# flowlbd with no switch to talk to (ovs-vswitchd down, wrong socket): it
# keeps trying to connect, with backoff, and stays idle meanwhile. A
# disconnected agent used to spin its poll loop (a connection's expired
# backoff timer woke it at once, ~47,000 times a second, 50-70% of a core).
# Asserted: under 10% of a core over 4 s, reconnection attempts logged,
# still answering its control socket; and once the socket exists, it
# connects and installs the pipeline.
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
sb_init
. "$SB_LIB_DIR/agent.sh"
ag_need

NOBRIDGE=$SB_DIR/nobridge.mgmt
ip netns exec "$SB_NS" "$FLOWLBD" --bridge "unix:$NOBRIDGE" --unixctl "$AG_CTL" \
    --pidfile="$AG_PIDFILE" --detach --no-chdir --log-file="$AG_LOG" \
    -vconsole:off --no-checks "$EXAMPLES/web.lb" ||
    sb_fail "flowlbd did not start: $(tail -5 "$AG_LOG" 2>/dev/null)"
AG_PID=$(cat "$AG_PIDFILE")
echo "$AG_PID" >>"$SB_DIR/pids"

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$AG_PID/stat"; }
sleep 1
t0=$(cpu_ticks)
sleep 4
t1=$(cpu_ticks)
hz=$(getconf CLK_TCK)
pct=$(( (t1 - t0) * 100 / (4 * hz) ))
echo "flowlbd without a switch: $((t1 - t0)) ticks in 4 s ($pct% of a core)"
[ "$pct" -lt 10 ] || sb_fail "flowlbd busy while disconnected: $pct% of a core"
n=$(grep -c "connecting\.\.\." "$AG_LOG" || true)
[ "$n" -ge 2 ] || sb_fail "no reconnection attempts logged ($n)"
ag_ctl flowlb/show >/dev/null || sb_fail "control socket does not answer"

# The switch appears: the agent connects (backoff is at most 8 s) and
# installs the pipeline.
ln -s "$SB_DIR/$SB_BR.mgmt" "$NOBRIDGE"
ms=$(wait_until 20 sh -c "ovs-ofctl -O OpenFlow15 dump-groups $SB_BR | grep -q group_id") ||
    sb_fail "no pipeline 20 s after the switch appeared: $(tail -5 "$AG_LOG")"
echo "pipeline installed ${ms} ms after the switch's socket appeared"
ag_stop
echo "PASS: agent_nobridge"
