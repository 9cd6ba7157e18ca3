#!/bin/bash
# The failover features of the spec run by flowlbd, with real TCP traffic
# (tcp checks, interval 1s, rise 1, fall 2; reals r1-r3, sorry r9):
#  1. scheduler fo: the group holds the live top-weight real only; it dies
#     -> the next weight's real takes every new connection; back -> back;
#  2. sorry: every real down -> the sorry real answers; a real back -> the
#     sorry bucket leaves;
#  3. inhibit-on-failure: a failed real keeps its bucket with weight 0 and
#     gets no new connection;
#  4. quorum 2: below it the VIP stops answering ARP (responder and
#     classify flows withdrawn); regained -> answers again;
#  5. persistence: one client sticks to one real; that real dies -> its
#     persistence entries are deleted at once (the others' kept), and the
#     client is served by another real.
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
sb_init
. "$SB_LIB_DIR/agent.sh"
ag_need
VIP=$DEMO_VIP
sb_add_host client 10.0.0.1/24 02:00:00:00:00:01
for h in r1 r2 r3 r9; do
    sb_add_host "$h" "10.0.0.1${h#r}/24" "02:00:00:00:00:1${h#r}"
    sb_make_real "$h" "$VIP"
    sb_start_server "$h"
done
SPEC=$SB_DIR/spec.lb
CHECK='check tcp interval 1s timeout 500ms rise 1 fall 2;'
write_spec() { # write_spec EXTRA-STATEMENTS REALS...
    local extra=$1 r
    shift
    {
        echo "service web {"
        echo "    vip $VIP tcp 80;"
        echo "    vip-mac 02:00:00:00:01:00;"
        echo "    $CHECK"
        echo "$extra"
        for r in "$@"; do echo "    $r"; done
        echo "}"
    } >"$SPEC"
}
real() { echo "real 10.0.0.1$1 mac 02:00:00:00:00:1$1${2:+ weight $2};"; }
get() { sb_exec client curl -sS --max-time 3 "http://$VIP/"; }
all_on() { # all_on REAL N
    local a i
    for i in $(seq 1 "$2"); do
        a=$(get) || sb_fail "connection $i through the VIP failed (want $1)"
        [ "$a" = "$1" ] || sb_fail "connection $i answered by $a, want $1"
    done
    echo "  $2 new connections: all on $1"
}
stop_server() {
    local pid
    pid=$(cat "$SB_DIR/server.$1.pid")
    kill "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
}
nbuckets() { ovs-ofctl -O OpenFlow15 dump-groups br0 | grep -o 'bucket_id:' | wc -l; }
has_mark() { ovs-ofctl -O OpenFlow15 dump-groups br0 | grep -q -- "$1->ct_mark"; }
reload() {
    ag_ctl flowlb/reload >/dev/null || sb_fail "reload refused: $(ag_ctl flowlb/reload 2>&1)"
    ag_wait_synced 10
}
LIMIT=$((1000 * 2 + 1500))     # interval x fall + bound, ms

# --- 1. fo --------------------------------------------------------------
echo "1. scheduler fo"
write_spec "    scheduler fo;" "$(real 3 1)" "$(real 1 3)" "$(real 2 2)"
ag_start --reconcile-interval 5s "$SPEC"
ag_wait_synced 10
[ "$(nbuckets)" = 1 ] && has_mark 0xa00000b || sb_fail "fo group is not r1 alone: $(ag_groups)"
all_on r1 10
stop_server r1
t=$(wait_until 10 has_mark 0xa00000c) || sb_fail "r2 not swapped in after r1 died"
echo "  r1 down: r2's bucket in after $t ms"
[ "$t" -le $LIMIT ] || sb_fail "failover took $t ms > $LIMIT ms"
[ "$(nbuckets)" = 1 ] || sb_fail "fo group should hold r2 alone: $(ag_groups)"
all_on r2 10
sb_start_server r1
wait_until 10 has_mark 0xa00000b >/dev/null || sb_fail "r1 not back"
[ "$(nbuckets)" = 1 ] || sb_fail "fo group should hold r1 alone again"
all_on r1 5

# --- 2. sorry ---------------------------------------------------------
echo "2. sorry real"
write_spec "    sorry 10.0.0.19 mac 02:00:00:00:00:19;" "$(real 1)" "$(real 2)"
reload
has_mark 0xa000013 && sb_fail "sorry bucket installed while reals are up"
stop_server r1
stop_server r2
t=$(wait_until 10 has_mark 0xa000013) || sb_fail "sorry bucket not in with every real down"
echo "  every real down: sorry bucket in after $t ms"
[ "$(nbuckets)" = 1 ] || sb_fail "only the sorry bucket should be left: $(ag_groups)"
all_on r9 5
grep -q 'every real is down; new connections go to the sorry real' "$AG_LOG" || sb_fail "not logged"
sb_start_server r2
wait_until 10 bash -c "! ovs-ofctl -O OpenFlow15 dump-groups br0 | grep -q -- '0xa000013->ct_mark'" >/dev/null ||
    sb_fail "sorry bucket still in with r2 back"
all_on r2 5
sb_start_server r1
wait_until 10 has_mark 0xa00000b >/dev/null || sb_fail "r1 not back"

# --- 3. inhibit-on-failure ------------------------------------------------
echo "3. inhibit-on-failure"
write_spec "    inhibit-on-failure;" "$(real 1)" "$(real 2)" "$(real 3)"
reload
lines0=$(wc -l <"$AG_LOG")
stop_server r3
weight0() { ovs-ofctl -O OpenFlow15 dump-groups br0 | sed 's/bucket=/\n/g' | grep -- '0xa00000d->ct_mark' | grep -q 'weight:0,'; }
t=$(wait_until 10 weight0) || sb_fail "r3's bucket not at weight 0: $(ag_groups)"
echo "  r3 down: its bucket at weight 0 after $t ms ($(nbuckets) buckets)"
[ "$(nbuckets)" = 3 ] || sb_fail "inhibit removed a bucket"
tail -n +"$lines0" "$AG_LOG" | grep -q 'buckets +1 -1, flows +0 ~0 -0' ||
    sb_fail "inhibit was not one bucket replaced"
for i in $(seq 1 15); do
    a=$(get) || sb_fail "request failed with r3 inhibited"
    [ "$a" != r3 ] || sb_fail "a new connection reached the inhibited r3"
done
sb_start_server r3
wait_until 10 bash -c "! ovs-ofctl -O OpenFlow15 dump-groups br0 | grep -q 'weight:0,'" >/dev/null ||
    sb_fail "r3's weight not restored"

# --- 4. quorum ------------------------------------------------------------
echo "4. quorum 2"
write_spec "    quorum 2;" "$(real 1)" "$(real 2)" "$(real 3)"
reload
responder() { ovs-ofctl -O OpenFlow15 dump-flows br0 | grep -q "arp_tpa=$VIP"; }
responder || sb_fail "no ARP responder with quorum met"
stop_server r1
sleep 3
responder || sb_fail "responder withdrawn with 2 of 3 reals up (quorum 2)"
stop_server r2
t=$(wait_until 10 bash -c "! ovs-ofctl -O OpenFlow15 dump-flows br0 | grep -q 'arp_tpa=$VIP'") ||
    sb_fail "ARP responder still there with 1 of 3 reals up"
echo "  1 real up: VIP withdrawn after $t ms"
ovs-ofctl -O OpenFlow15 dump-flows br0 | grep -q "nw_dst=$VIP,tp_dst=80 actions=ct" &&
    sb_fail "classify flow not withdrawn"
# The client's ARP request for the VIP gets no answer any more.
sb_exec client ip neigh flush dev e0
sb_exec client curl -sS --max-time 2 "http://$VIP/" >/dev/null 2>&1 &&
    sb_fail "a request through the VIP succeeded below quorum"
sb_exec client ip neigh show "$VIP" | grep -q lladdr &&
    sb_fail "the VIP still answers ARP below quorum: $(sb_exec client ip neigh show "$VIP")"
echo "  the client's ARP for the VIP goes unanswered ($(sb_exec client ip neigh show "$VIP"))"
grep -q 'quorum lost' "$AG_LOG" || sb_fail "quorum loss not logged"
sb_start_server r2
wait_until 10 responder >/dev/null || sb_fail "responder not back at quorum"
wait_until 10 bash -c "ip netns exec $(sb_ns client) curl -sS --max-time 2 http://$VIP/ >/dev/null 2>&1" >/dev/null ||
    sb_fail "no traffic after quorum regained"
sb_exec client ip neigh flush dev e0
get >/dev/null || sb_fail "no traffic after quorum regained"
sb_exec client ip neigh show "$VIP" | grep -q lladdr || sb_fail "the VIP does not answer ARP after quorum regained"
echo "  quorum regained: VIP answers again ($(sb_exec client ip neigh show "$VIP"))"
sb_start_server r1

# --- 5. persistence ---------------------------------------------------------
echo "5. persistence"
write_spec "    persistence 60s;" "$(real 1)" "$(real 2)" "$(real 3)"
reload
wait_until 10 bash -c "[ \$(ovs-ofctl -O OpenFlow15 dump-groups br0 | grep -o 'bucket_id:' | wc -l) = 3 ]" >/dev/null ||
    sb_fail "not 3 buckets"
first=$(get) || sb_fail "first request failed"
all_on "$first" 8
mark=$(printf '0xa00000%x' $((10 + ${first#r})))
entries() { ovs-ofctl -O OpenFlow15 --no-names dump-flows br0 "cookie=$(printf '0xf10b0100%08x' "$1")/0xffffff00ffffffff" | grep -c 'cookie=' || true; }
n=$(entries "$mark")
[ "$n" -ge 1 ] || sb_fail "no persistence entry for $first ($mark): $(ovs-ofctl -O OpenFlow15 dump-flows br0 | grep 0xf10b01)"
# Learned entries are the switch's: reconcile rounds leave them alone.
d0=$(ag_json 's["dumps"]')
b0=$(ag_json 's["bundles"]')
wait_until 10 bash -c "[ \$(ovs-appctl -t '$AG_CTL' flowlb/show --json | '$SB_PY' -c 'import json,sys; print(json.load(sys.stdin)[\"dumps\"])') -ge $((d0 + 3)) ]" >/dev/null ||
    sb_fail "no reconcile rounds"
[ "$(entries "$mark")" = "$n" ] || sb_fail "reconciliation touched the learned persistence entries"
[ "$(ag_json 's["bundles"]')" = "$b0" ] || sb_fail "reconciliation sent a bundle over learned entries"
echo "  3 reconcile rounds left the $n learned entries alone"
# ... nor count them as flows of others in flowlb's tables.
[ "$(ag_json 's["foreign_flows"]')" = "{}" ] ||
    sb_fail "learned entries reported as foreign flows: $(ag_json 's["foreign_flows"]')"
others() { local m n=0; for m in 0xa00000b 0xa00000c 0xa00000d; do [ "$m" = "$mark" ] || n=$((n + $(entries $m))); done; echo $n; }
# Another real's entry, to see that only the dead real's entries go: a
# client from another address.
sb_exec client ip addr add 10.0.0.2/24 dev e0
sb_exec client curl -sS --max-time 3 --interface 10.0.0.2 "http://$VIP/" >/dev/null || sb_fail "second client failed"
others_before=$(others)
stop_server "$first"
t=$(wait_until 10 bash -c "[ \$(ovs-ofctl -O OpenFlow15 dump-flows br0 'cookie=$(printf '0xf10b0100%08x' "$mark")/0xffffff00ffffffff' | grep -c cookie=) = 0 ]") ||
    sb_fail "persistence entries of the dead $first not purged"
others_after=$(others)
echo "  $first down: its $n persistence entries purged after $t ms; other reals' entries $others_before -> $others_after"
[ "$others_after" -ge "$others_before" ] || sb_fail "the purge deleted other reals' entries"
grep -q 'deleting the persistence entries' "$AG_LOG" || sb_fail "purge not logged"
second=$(get) || sb_fail "request after the purge failed"
[ "$second" != "$first" ] || sb_fail "still sent to the dead $first"
all_on "$second" 5
echo "  the client now sticks to $second"
echo "agent_features: OK"
