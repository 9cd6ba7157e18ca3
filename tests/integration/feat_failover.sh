#!/bin/bash
# Weighted failover (scheduler fo) and the sorry real, with real TCP traffic
# on a private OVS, no agent: the test does by hand what the agent does,
# with OpenFlow 1.5 insert-buckets / remove-buckets and the standby buckets
# the IR lists (flowlb compile --emit ir).
#  1. the compiled group holds only the top real (weight 3); every new
#     connection goes to it; the standby reals and the sorry real are not in
#     the switch's group but have forward flows;
#  2. its bucket out, the next real's (weight 2) in: every new connection
#     goes there; then the last real (weight 1);
#  3. no real left: the sorry real's bucket in: the sorry server answers.
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
command -v curl >/dev/null || sb_fail "curl is needed"
sb_init
VIP=10.0.0.100
cat >"$SB_DIR/fo.lb" <<EOF
service web {
    vip $VIP tcp 80;
    vip-mac 02:00:00:00:01:00;
    scheduler fo;
    real 10.0.0.13 mac 02:00:00:00:00:13 weight 1;
    real 10.0.0.11 mac 02:00:00:00:00:11 weight 3;
    real 10.0.0.12 mac 02:00:00:00:00:12 weight 2;
    sorry 10.0.0.19 mac 02:00:00:00:00:19;
}
EOF
sb_add_host client 10.0.0.1/24 02:00:00:00:00:01
for h in r1 r2 r3 r9; do
    sb_add_host "$h" "10.0.0.1${h#r}/24" "02:00:00:00:00:1${h#r}"
    sb_make_real "$h" "$VIP"
    sb_start_server "$h"
done
t_compile "$SB_DIR/fo.lb" "$SB_DIR/fo.ofctl"
"$FLOWLB" compile --emit ir "$SB_DIR/fo.lb" >"$SB_DIR/fo.ir"
sb_load "$SB_DIR/fo.ofctl"
grep -q 'failover: only the highest-weight' "$SB_DIR/fo.ir" || sb_fail "IR does not mark the group failover"
GID=$(grep -o 'group_id=[0-9]*' "$SB_DIR/fo.ofctl" | head -1 | cut -d= -f2)

# bucket_of ADDR: "bucket_id:ID,weight:W,actions=ACTIONS" of ADDR's bucket in the IR.
bucket_of() {
    awk -v a="$1" '$1 == "bucket" && $7 == a { id = $2; w = $4; getline; sub(/^ *=> /, ""); print "bucket_id:" id ",weight:" w ",actions=" $0; exit }' "$SB_DIR/fo.ir"
}
id_of() { bucket_of "$1" | sed 's/^bucket_id:\([0-9]*\),.*/\1/'; }
get() { sb_exec client curl -sS --max-time 5 "http://$VIP/"; }
all_on() { # all_on REAL N: N new connections all answered by REAL
    local a i
    for i in $(seq 1 "$2"); do
        a=$(get) || sb_fail "connection $i through the VIP failed"
        [ "$a" = "$1" ] || sb_fail "connection $i answered by $a, want $1"
    done
    echo "$2 new connections: all on $1"
}

# --- 1. only the top real --------------------------------------------------
grep '\(standby\)' "$SB_DIR/fo.ir" | grep -q 10.0.0.12 || sb_fail "10.0.0.12 not standby in the IR"
grep '(sorry, standby)' "$SB_DIR/fo.ir" | grep -q 10.0.0.19 || sb_fail "no sorry bucket in the IR"
groups=$(ovs-ofctl -O OpenFlow15 dump-groups br0 | grep group_id=)
[ "$(echo "$groups" | grep -o 'bucket_id:' | wc -l)" = 1 ] || sb_fail "want one bucket in the switch: $groups"
echo "$groups" | grep -q "bucket_id:$(id_of 10.0.0.11)," || sb_fail "the bucket is not the top real's: $groups"
for m in 0xa00000b 0xa00000c 0xa00000d 0xa000013; do
    ovs-ofctl -O OpenFlow15 dump-flows br0 table=2 | grep -q "ct_mark=$m " || sb_fail "no forward flow for mark $m"
done
all_on r1 20

# --- 2. failover to the next weight, then the next --------------------------
swap() { # swap OUT_ADDR IN_ADDR
    ovs-ofctl -O OpenFlow15 insert-buckets br0 "group_id=$GID,command_bucket_id=last,$(bucket_of "$2" | sed 's/^/bucket=/')" ||
        sb_fail "insert-buckets $2"
    ovs-ofctl -O OpenFlow15 remove-buckets br0 "group_id=$GID,command_bucket_id=$(id_of "$1")" ||
        sb_fail "remove-buckets $1"
}
swap 10.0.0.11 10.0.0.12
all_on r2 20
swap 10.0.0.12 10.0.0.13
all_on r3 20

# --- 3. the sorry real -----------------------------------------------------
swap 10.0.0.13 10.0.0.19
all_on r9 10
echo "PASS: feat_failover"
