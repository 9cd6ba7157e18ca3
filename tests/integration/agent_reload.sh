#!/bin/bash
# Reloads of flowlbd (flowlb/reload and SIGHUP):
#  1. a spec with an error is refused: ovs-appctl gets the FILE:LINE:COL
#     message and fails, the log has it, nothing is sent to the switch, the
#     flows keep their age, traffic is unaffected (also for SIGHUP);
#  2. a valid change (a weight) pushes only the difference: the group, no
#     flow added or removed, every flow keeps its age;
#  3. a new service: only its flows and group are added;
#  4. a long-lived connection keeps its real across all of it.
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
sb_init
. "$SB_LIB_DIR/agent.sh"
ag_need
topo_demo servers

SPEC=$SB_DIR/spec.lb
cp "$EXAMPLES/demo.lb" "$SPEC"
ag_start --reconcile-interval 1s "$SPEC"
ag_wait_synced 10
lc_start a 120
echo "long connection on $(lc_real)"
sleep 1

ages() { # "table priority,match duration" sorted
    ovs-ofctl -O OpenFlow15 --no-names dump-flows br0 \
        "cookie=0xf10b000000000000/0xffff000000000000" |
        sed -n 's/.*duration=\([0-9]*\)[.0-9]*s, table=\([0-9]*\),.* priority=\([0-9][^ ]*\) actions=.*/\2 \3 \1/p' | sort
}
# Every flow of "before" is still there and at least $3 s older.
same_flows_older() {
    "$SB_PY" - "$1" "$2" "$3" <<'PY'
import sys
def load(p):
    return {tuple(l.split()[:2]): int(l.split()[2]) for l in open(p) if l.strip()}
b, a, dt = load(sys.argv[1]), load(sys.argv[2]), int(sys.argv[3])
missing = b.keys() - a.keys()
if missing:
    print("flows gone:", sorted(missing)); sys.exit(1)
young = [k for k in b if a[k] < b[k] + dt]
if young:
    print("flows re-added (younger than expected):", young); sys.exit(1)
PY
}

# --- 1. broken spec refused ---------------------------------------------
ages >"$SB_DIR/ages0"
bundles0=$(ag_json 's["bundles"]')
ag_flows >"$SB_DIR/flows0"
ag_groups >"$SB_DIR/groups0"
sed 's/vip 10.0.0.100 tcp 80;/vip 10.0.0.300 tcp 80;/' "$EXAMPLES/demo.lb" >"$SPEC"
grep -q 10.0.0.300 "$SPEC" || sb_fail "could not break the spec"
line=$(grep -n '10.0.0.300' "$SPEC" | cut -d: -f1)
sleep 2
if out=$(ag_ctl flowlb/reload 2>&1); then
    sb_fail "flowlb/reload accepted a broken spec: $out"
fi
echo "flowlb/reload refused: $(echo "$out" | head -1)"
echo "$out" | grep -q "$SPEC:$line:[0-9]*: error: " ||
    sb_fail "reload error lacks $SPEC:$line:COL: error: ... : $out"
grep -q "reload of $SPEC refused" "$AG_LOG" || sb_fail "refusal not logged"
grep -q "$SPEC:$line:[0-9]*: error" "$AG_LOG" || sb_fail "the log lacks the FILE:LINE:COL message"
kill -HUP "$AG_PID"
sleep 1.5
[ "$(grep -c "reload of $SPEC refused" "$AG_LOG")" = 2 ] || sb_fail "SIGHUP with a broken spec not refused"
kill -0 "$AG_PID" || sb_fail "flowlbd died on SIGHUP"
ag_synced || sb_fail "agent out of sync after the refused reloads"
[ "$(ag_json 's["bundles"]')" = "$bundles0" ] || sb_fail "a refused reload sent a bundle"
ag_flows >"$SB_DIR/flows1"
ag_groups >"$SB_DIR/groups1"
diff -u "$SB_DIR/flows0" "$SB_DIR/flows1" || sb_fail "flows changed after a refused reload"
diff -u "$SB_DIR/groups0" "$SB_DIR/groups1" || sb_fail "groups changed after a refused reload"
ages >"$SB_DIR/ages1"
same_flows_older "$SB_DIR/ages0" "$SB_DIR/ages1" 3 || sb_fail "flows re-added by a refused reload"
ag_ctl flowlb/show | grep -q 'service demo' || sb_fail "show lost the running spec"
for i in 1 2 3 4 5; do vip_get >/dev/null || sb_fail "traffic broken after a refused reload"; done
echo "broken spec refused (flowlb/reload and SIGHUP): no change on the switch, traffic fine"

# --- 2. weight change: only the group -------------------------------------
sed 's/\(real 10.0.0.13 .*\);/\1 weight 3;/' "$EXAMPLES/demo.lb" >"$SPEC"
grep -q 'weight 3' "$SPEC" || sb_fail "could not change r3's weight"
ages >"$SB_DIR/ages2"
lines0=$(wc -l <"$AG_LOG")
nb=$(grep -c 'bundle [0-9]*:.*changes' "$AG_LOG" || true)
sleep 1
out=$(ag_ctl flowlb/reload) || sb_fail "valid reload refused: $out"
wait_until 5 bash -c "[ \$(grep -c 'bundle [0-9]*:.*changes' '$AG_LOG') -gt $nb ]" >/dev/null ||
    sb_fail "the reload sent nothing"
ag_wait_synced 10
b=$(tail -n +"$lines0" "$AG_LOG" | grep 'bundle [0-9]*:.*changes')
echo "weight reload: $b" | sed 's/.*bundle/bundle/'
echo "$b" | grep -q 'flows +0 ~0 -0' || sb_fail "a weight change touched flows: $b"
echo "$b" | grep -q 'groups +0' || sb_fail "a weight change re-added a group: $b"
ages >"$SB_DIR/ages3"
same_flows_older "$SB_DIR/ages2" "$SB_DIR/ages3" 1 || sb_fail "flows re-added by a weight reload"
ag_ctl flowlb/show | grep '10.0.0.13 ' | grep -q 'configured 3' || sb_fail "show does not have the new weight"
# Only a weight changed: the reload compared the text with the running
# one, and the loop lowered that one service again, alone.
r=$(tail -n +"$lines0" "$AG_LOG" | grep 'reloaded ')
echo "$r" | sed 's/.*reloaded/reloaded/'
n_flows=$(echo "$r" | sed -n 's/.* services, \([0-9]*\) flows,.*/\1/p')
[ -n "$n_flows" ] || sb_fail "no flow count in the reload's log line: $r"
echo "$r" | grep -q "only weights changed, in 1 service(s) .*each lowered again alone" ||
    sb_fail "the weight reload was not taken as a weight change of one service: $r"
# The same file again: nothing changed, nothing sent.
nb=$(grep -c 'bundle [0-9]*:.*changes' "$AG_LOG" || true)
ag_ctl flowlb/reload >/dev/null || sb_fail "reload of the same file refused"
tail -n 1 <(grep 'reloaded ' "$AG_LOG") | grep -q "only weights changed, in 0 service(s)" ||
    sb_fail "reloading the same file was not found unchanged: $(grep 'reloaded ' "$AG_LOG" | tail -1)"
sleep 0.5
[ "$(grep -c 'bundle [0-9]*:.*changes' "$AG_LOG" || true)" = "$nb" ] ||
    sb_fail "reloading the same file sent something"

# --- 3. a new service -----------------------------------------------------
cp "$SPEC" "$SB_DIR/spec2.lb"
cat >>"$SB_DIR/spec2.lb" <<'EOF'
service extra {
    vip 10.0.0.200 tcp 8080;
    vip-mac 02:00:00:00:02:00;
    real 10.0.0.11 mac 02:00:00:00:00:11 port 11;
}
EOF
cp "$SB_DIR/spec2.lb" "$SPEC"
flows_before=$(ag_flows | wc -l)
ages >"$SB_DIR/ages4"
lines0=$(wc -l <"$AG_LOG")
sleep 1
kill -HUP "$AG_PID"
wait_until 10 bash -c "[ \$(ovs-ofctl -O OpenFlow15 dump-groups br0 | grep -c group_id=) = 2 ]" >/dev/null ||
    sb_fail "SIGHUP did not add the new service's group"
ag_wait_synced 10
b=$(tail -n +"$lines0" "$AG_LOG" | grep 'bundle [0-9]*:.*changes')
echo "new service reload: $b" | sed 's/.*bundle/bundle/'
echo "$b" | grep -q 'groups +1 ~0 -0, buckets +0 -0, flows +[0-9]* ~0 -0' ||
    sb_fail "adding a service changed existing state: $b"
ages >"$SB_DIR/ages5"
same_flows_older "$SB_DIR/ages4" "$SB_DIR/ages5" 1 || sb_fail "existing flows re-added when a service was added"
[ "$(ag_flows | wc -l)" -gt "$flows_before" ] || sb_fail "no flow added for the new service"
r=$(tail -n +"$lines0" "$AG_LOG" | grep 'reloaded ' | tail -1)
echo "$r" | sed 's/.*reloaded/reloaded/'
# Added at the end: put in place (the running service neither parsed,
# lowered nor decoded again), with its flows counted.
n_new=$(echo "$b" | sed -n 's/.*flows +\([0-9]*\) .*/\1/p')
echo "$r" | grep -q "1 service(s) added in place ($n_new flows), weights changed in 0 service(s)" ||
    sb_fail "the new service was not added in place: $r"
ag_ctl flowlb/show --json | "$SB_PY" -c 'import json,sys; s=json.load(sys.stdin); assert [v["name"] for v in s["services"]] == ["demo", "extra"], s' ||
    sb_fail "flowlb/show --json does not list both services"

# ...and removed again: back to exactly the flows before.
sed 's/\(real 10.0.0.13 .*\);/\1 weight 3;/' "$EXAMPLES/demo.lb" >"$SPEC"
ag_ctl flowlb/reload >/dev/null || sb_fail "reload refused"
wait_until 10 bash -c "[ \$(ovs-ofctl -O OpenFlow15 dump-groups br0 | grep -c group_id=) = 1 ]" >/dev/null ||
    sb_fail "removing the service did not delete its group"
ag_wait_synced 10
[ "$(ag_flows | wc -l)" = "$flows_before" ] || sb_fail "flows of the removed service left behind"
tail -n 1 <(grep 'reloaded ' "$AG_LOG") | grep -q "running state patched, 0 group(s) made again" ||
    sb_fail "the service's removal was not patched into the running state"
tail -n 1 <(grep 'reloaded ' "$AG_LOG") | grep -q "1 services' text unchanged and not parsed, lowered in [0-9]* ms, 1 services copied" ||
    sb_fail "the remaining service was parsed or lowered again"
# The reconcile rounds (every second) read the switch as the reloads left
# it: no drift, so no full re-read.
sleep 2.5
if grep -q 'reading everything' "$AG_LOG"; then
    sb_fail "a reconcile round found drift after the reloads: $(grep -m1 drift "$AG_LOG")"
fi

# --- 4. the long connection ----------------------------------------------
sleep 1
lc_finish
echo "agent_reload: OK"
