#!/bin/bash
# udp health checks through flowlbd, on a UDP service whose reals run a UDP
# echo server (one process: a socket on the real's address for the checks,
# one on the VIP for the traffic; both answer "pong-NAME DATA"):
#   check udp send "ping" reply "pong" interval 1s timeout 500ms rise 2 fall 3
#  1. all reals come up; a query through the VIP is answered;
#  2. r2's echo server stopped: ICMP port unreachable, its bucket leaves the
#     group within interval x fall + BOUND, flowlb/show says why; queries
#     through the VIP never reach r2;
#  3. restarted: its bucket is back within interval x rise + BOUND;
#  4. r2's server restarted answering without "pong": down again, and the
#     reason names the missing text (a reply is not enough).
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
sb_init
. "$SB_LIB_DIR/agent.sh"
ag_need
VIP=10.0.0.100
INTERVAL_MS=1000 FALL=3 RISE=2
BOUND_MS=${UDPCHECK_BOUND_MS:-1000}

sb_add_host client 10.0.0.1/24 02:00:00:00:00:01
cat >"$SB_DIR/echo.py" <<'EOF'
# echo.py NAME REAL VIP PORT [WORD]: answers "WORD-NAME DATA" (WORD: pong)
# from whichever address was asked.
import select, socket, sys
name, real, vip, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
word = sys.argv[5] if len(sys.argv) > 5 else "pong"
socks = []
for a in (real, vip):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a, port))
    socks.append(s)
print("ready", flush=True)
while True:
    for s in select.select(socks, [], [])[0]:
        data, peer = s.recvfrom(2048)
        s.sendto(("%s-%s " % (word, name)).encode() + data, peer)
EOF
start_echo() {
    local h=$1
    shift
    sb_bg "$h" "$SB_DIR/echo.$h.log" "$SB_PY" "$SB_DIR/echo.py" "$h" \
        "10.0.0.1${h#r}" "$VIP" 53 "$@"
    echo "$SB_LAST_PID" >"$SB_DIR/echo.$h.pid"
    wait_until 5 grep -q ready "$SB_DIR/echo.$h.log" >/dev/null ||
        sb_fail "echo server of $h did not start: $(cat "$SB_DIR/echo.$h.log")"
}
stop_echo() {
    local pid
    pid=$(cat "$SB_DIR/echo.$1.pid")
    kill "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
}
for h in r1 r2; do
    sb_add_host "$h" "10.0.0.1${h#r}/24" "02:00:00:00:00:1${h#r}"
    sb_make_real "$h" "$VIP"
    start_echo "$h"
done

SPEC=$SB_DIR/udpcheck.lb
cat >"$SPEC" <<EOF
service dns {
    vip $VIP udp 53;
    vip-mac 02:00:00:00:01:00;
    check udp send "ping" reply "pong" interval 1s timeout 500ms rise $RISE fall $FALL;
    real 10.0.0.11 mac 02:00:00:00:00:11;
    real 10.0.0.12 mac 02:00:00:00:00:12;
}
EOF
"$FLOWLB_BIN/flowlb" check "$SPEC" || sb_fail "the spec does not check"

all_up() { [ "$(ag_health_of 10.0.0.11)" = up ] && [ "$(ag_health_of 10.0.0.12)" = up ]; }
# The conntrack marks of the reals (their addresses as numbers).
MARK1=0xa00000b MARK2=0xa00000c
# query SPORT: each query from a source port of its own, so that none
# repeats an earlier query's 5-tuple (and its conntrack entry's real).
query() {
    sb_exec client "$SB_PY" -c "
import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(2)
s.bind(('0.0.0.0',int(sys.argv[1])))
s.sendto(b'q',('$VIP',53)); print(s.recvfrom(100)[0].decode().split()[0])" "$1"
}

ag_start --reconcile-interval 5s "$SPEC"
ag_wait_synced 10

# --- 1. up ---------------------------------------------------------------
wait_until 10 all_up >/dev/null || sb_fail "reals not all up: $(ag_ctl flowlb/show)"
ag_mark_installed "$MARK1" && ag_mark_installed "$MARK2" ||
    sb_fail "buckets missing with both reals up: $(ag_groups)"
echo "both reals up: $(ag_last_check_of 10.0.0.12)"
a=$(query 25000) || sb_fail "UDP query through the VIP failed"
echo "query through the VIP answered by $a"

# --- 2. r2's server stopped ------------------------------------------------
stop_echo r2
t=$(wait_until 15 bash -c "! ovs-ofctl -O OpenFlow15 dump-groups $SB_BR | grep -q -- '$MARK2->ct_mark'") ||
    sb_fail "r2's bucket still in the group 15 s after its server stopped"
limit=$((INTERVAL_MS * FALL + BOUND_MS))
echo "r2 stopped: bucket removed after ${t} ms (interval x fall = $((INTERVAL_MS * FALL)) ms, limit $limit ms)"
[ "$t" -le "$limit" ] || sb_fail "removal took ${t} ms > $limit ms"
# Decided by the ICMP port unreachable, not by the timeout: well before
# interval x fall + timeout would allow.
[ "$(ag_health_of 10.0.0.12)" = down ] || sb_fail "flowlb/show does not say r2 is down"
last=$(ag_last_check_of 10.0.0.12)
case $last in *unreachable*) ;; *) sb_fail "r2's last check says '$last', not port unreachable" ;; esac
echo "r2 down: $last"
ag_mark_installed "$MARK1" || sb_fail "r1's bucket went too"
for i in $(seq 1 10); do
    a=$(query $((25000 + i))) || sb_fail "query $i through the VIP failed while r2 is down"
    [ "$a" = pong-r1 ] || sb_fail "query $i answered by '$a' while r2 is down"
done
echo "10 queries through the VIP all answered by r1"

# --- 3. restarted ----------------------------------------------------------
start_echo r2
t=$(wait_until 15 ag_mark_installed "$MARK2") ||
    sb_fail "r2's bucket not back 15 s after its server restarted"
limit=$((INTERVAL_MS * RISE + BOUND_MS))
echo "r2 restarted: bucket back after ${t} ms (interval x rise = $((INTERVAL_MS * RISE)) ms, limit $limit ms)"
[ "$t" -le "$limit" ] || sb_fail "restoration took ${t} ms > $limit ms"
[ "$(ag_health_of 10.0.0.12)" = up ] || sb_fail "flowlb/show does not say r2 is up"

# --- 4. a reply without the expected text ----------------------------------
stop_echo r2
start_echo r2 nope
t=$(wait_until 15 bash -c "! ovs-ofctl -O OpenFlow15 dump-groups $SB_BR | grep -q -- '$MARK2->ct_mark'") ||
    sb_fail "r2's bucket still in the group 15 s after it stopped saying pong"
last=$(ag_last_check_of 10.0.0.12)
case $last in *'lacks "pong"'*) ;; *) sb_fail "r2's last check says '$last', not the missing text" ;; esac
echo "r2 answering 'nope': bucket removed after ${t} ms: $last"
ag_mark_installed "$MARK1" || sb_fail "r1's bucket went too"
echo "agent_udpcheck: OK"
