#!/bin/bash
# Real TCP traffic through examples/demo.lb on a private OVS: a client and
# three DR real servers (VIP on lo, arp_ignore/arp_announce) in namespaces.
#  1. curl through the VIP, many times: every real answers (each says its name).
#  2. one long-lived keep-alive connection stays on its real after that
#     real's buckets are removed from the group underneath it, and after
#     35 s of idle (longer than conntrack's 30 s opening timeout), while new
#     connections no longer reach that real;
#  3. a multi-MB upload through the VIP completes, with the switch's TCP
#     sequence checking left ON: it only works because the reals' replies
#     pass through the same conntrack zone.
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
command -v curl >/dev/null || sb_fail "curl is needed"
sb_init
topo_demo servers
t_compile "$EXAMPLES/demo.lb" "$SB_DIR/demo.ofctl"
sb_load "$SB_DIR/demo.ofctl"

seqchk=$(ovs-appctl dpctl/ct-get-tcp-seq-chk)
case $seqchk in
*enabled*) echo "conntrack: $seqchk" ;;
*) sb_fail "expected TCP sequence checking on (default), got: $seqchk" ;;
esac

get() { # get: one new connection through the VIP, prints the answer
    sb_exec client curl -sS --max-time 5 "http://$DEMO_VIP/"
}

# --- 1. every real answers ----------------------------------------------
N=${TRAFFIC_N:-40}
declare -A seen=()
for i in $(seq 1 "$N"); do
    a=$(get) || sb_fail "curl #$i through the VIP failed"
    case " $DEMO_REALS " in
    *" $a "*) seen[$a]=$((${seen[$a]:-0} + 1)) ;;
    *) sb_fail "curl #$i: unexpected answer '$a'" ;;
    esac
done
summary=""
for h in $DEMO_REALS; do summary="$summary $h=${seen[$h]:-0}"; done
echo "$N connections through the VIP:$summary"
for h in $DEMO_REALS; do
    [ "${seen[$h]:-0}" -gt 0 ] || sb_fail "real $h never answered in $N connections"
done

# --- 2. a long-lived connection survives a group change and idle --------
ctl=$SB_DIR/longconn
mkdir -p "$ctl"
sb_bg client "$ctl/log" "$SB_PY" "$SB_LIB_DIR/longconn.py" "$DEMO_VIP" \
    --ctl "$ctl" --interval 0.2 --max-time 120
lc_pid=$SB_LAST_PID
i=0
while [ ! -e "$ctl/started" ]; do
    kill -0 "$lc_pid" 2>/dev/null || sb_fail "long connection died: $(cat "$ctl/log")"
    i=$((i + 1)); [ $i -lt 100 ] || sb_fail "long connection never answered"
    sleep 0.1
done
sleep 1
real=$(awk 'NR == 1 { print $3 }' "$ctl/log")
mac=$(demo_mac "$real")
echo "long connection is on $real ($mac)"

# The real's conntrack mark, from the forward flow that rewrites to its MAC.
mark=$(ovs-ofctl -O OpenFlow15 --no-names dump-flows br0 |
    grep "set_field:$mac->eth_dst" | grep -o 'ct_mark=0x[0-9a-f]*' | head -1 | cut -d= -f2)
[ -n "$mark" ] || sb_fail "no forward flow rewrites to $mac"
groups=$(ovs-ofctl -O OpenFlow15 --no-names dump-groups br0 | grep group_id=)
[ "$(echo "$groups" | wc -l)" = 1 ] || sb_fail "demo.lb should give exactly one group"
gid=$(echo "$groups" | grep -o 'group_id=[0-9]*' | cut -d= -f2)
# Buckets carrying that mark (the compiler may replicate a real's bucket).
buckets=$(echo "$groups" | sed 's/bucket=/\n/g' | grep -- "$mark->ct_mark" |
    grep -o '^bucket_id:[0-9]*' | cut -d: -f2)
[ -n "$buckets" ] || sb_fail "no bucket of group $gid sets ct_mark $mark"
for b in $buckets; do
    ovs-ofctl -O OpenFlow15 remove-buckets br0 "group_id=$gid,command_bucket_id=$b" ||
        sb_fail "remove-buckets $gid bucket $b failed"
done
echo "removed bucket(s) $(echo $buckets) of $real from group $gid"
if ovs-ofctl -O OpenFlow15 dump-groups br0 | grep -q -- "$mark->ct_mark"; then
    sb_fail "a bucket for $real is still in the group"
fi
sleep 2

# New connections no longer reach the removed real...
for i in $(seq 1 20); do
    a=$(get) || sb_fail "curl after the group change failed"
    [ "$a" != "$real" ] || sb_fail "a NEW connection still reached the removed real $real"
done
echo "20 new connections avoided $real"
# ...but the established one still does, also after a long idle.
IDLE=${TRAFFIC_IDLE:-35}
touch "$ctl/idle"
echo "long connection idle for ${IDLE}s"
sleep "$IDLE"
rm -f "$ctl/idle"
sleep 1
touch "$ctl/stop"
wait "$lc_pid" || sb_fail "the long connection broke: $(tail -5 "$ctl/log")"
n=$(wc -l <"$ctl/log")
others=$(awk -v r="$real" '$3 != r' "$ctl/log" | head -3)
[ -z "$others" ] || sb_fail "the long connection moved off $real: $others"
[ "$n" -ge 15 ] || sb_fail "only $n answers on the long connection"
echo "long connection: $n answers, all from $real, across the group change and ${IDLE}s idle"

# --- 3. a multi-MB upload ---------------------------------------------------
MB=${TRAFFIC_UPLOAD_MB:-8}
head -c $((MB * 1024 * 1024)) /dev/urandom >"$SB_DIR/upload.bin"
a=$(sb_exec client curl -sS --max-time 60 -H 'Expect:' \
    --data-binary "@$SB_DIR/upload.bin" "http://$DEMO_VIP/") ||
    sb_fail "the ${MB} MB upload through the VIP failed"
set -- $a
[ "${2:-}" = $((MB * 1024 * 1024)) ] ||
    sb_fail "upload: the real received '${2:-}' bytes, want $((MB * 1024 * 1024)) (answer '$a')"
echo "${MB} MB upload through the VIP received whole by $1"

# Nothing valid was dropped as +inv on the way.
inv=$(ovs-ofctl -O OpenFlow15 dump-flows br0 | grep 'ct_state=+inv+trk' |
    grep -o 'n_packets=[0-9]*' | cut -d= -f2 | head -1)
[ -n "$inv" ] || sb_fail "no ct_state=+inv drop flow found in the pipeline"
echo "packets dropped as conntrack-invalid: $inv"
[ "$inv" = 0 ] || sb_fail "$inv packets of valid connections were dropped as conntrack-invalid"
echo "PASS: traffic"
