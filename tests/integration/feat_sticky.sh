#!/bin/bash
# Learn-mode stickiness (stickiness learn idle 8s) with real TCP traffic on a
# private OVS, no agent. No conntrack for the service: every connection gets
# a learned 5-tuple flow in table sticky (cookie 0xf10b02000MMMMMMMM).
#  1. new connections are spread over both reals, one learned entry each
#     (idle_timeout 8), and conntrack holds nothing for the service;
#  2. a long-lived connection stays on its real after that real's bucket
#     left the group (the learned flow pins it) while new connections avoid
#     that real;
#  3. a multi-MB upload completes (no conntrack window tracking involved);
#  4. entries expire after 8 s idle; a purge by cookie removes one real's.
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
command -v curl >/dev/null || sb_fail "curl is needed"
sb_init
VIP=10.0.0.100
cat >"$SB_DIR/s.lb" <<EOF
service web {
    vip $VIP tcp 80;
    vip-mac 02:00:00:00:01:00;
    stickiness learn idle 8s;
    real 10.0.0.11 mac 02:00:00:00:00:11;
    real 10.0.0.12 mac 02:00:00:00:00:12;
}
EOF
sb_add_host client 10.0.0.1/24 02:00:00:00:00:01
for h in r1 r2; do
    sb_add_host "$h" "10.0.0.1${h#r}/24" "02:00:00:00:00:1${h#r}"
    sb_make_real "$h" "$VIP"
    sb_start_server "$h"
done
t_compile "$SB_DIR/s.lb" "$SB_DIR/s.ofctl"
sb_load "$SB_DIR/s.ofctl"
grep -q 'ct(' "$SB_DIR/s.ofctl" && sb_fail "a learn-mode service must not use conntrack"
ST=6
MASK=0xffffff00ffffffff
entries() { ovs-ofctl -O OpenFlow15 --no-names dump-flows br0 "table=$ST${1:+,$1}" | grep 'cookie=0xf10b02' || true; }
get() { sb_exec client curl -sS --max-time 5 "http://$VIP/"; }

# --- 1. spread, one entry per connection -------------------------------------
r1=0; r2=0
for i in $(seq 1 20); do
    a=$(get) || sb_fail "curl #$i failed"
    case $a in r1) r1=$((r1 + 1)) ;; r2) r2=$((r2 + 1)) ;; *) sb_fail "answer '$a'" ;; esac
done
echo "20 connections: r1=$r1 r2=$r2"
[ $r1 -gt 0 ] && [ $r2 -gt 0 ] || sb_fail "both reals must answer"
n=$(entries | wc -l)
[ "$n" = 20 ] || sb_fail "want 20 learned 5-tuple entries, got $n"
[ "$(entries "cookie=0xf10b02000a00000b/$MASK" | wc -l)" = $r1 ] || sb_fail "r1's entries != its connections"
entries | grep -v 'idle_timeout=8,' && sb_fail "an entry without idle_timeout=8"
entries | head -1 | grep -q 'tcp,reg12=.*nw_src=10.0.0.1,nw_dst=10.0.0.100,tp_src=[0-9]*,tp_dst=80' ||
    sb_fail "entry is not a 5-tuple: $(entries | head -1)"
ct=$(ovs-appctl dpctl/dump-conntrack zone=64000 | wc -l)
[ "$ct" = 0 ] || sb_fail "conntrack has $ct entries in the zone"
echo "20 learned entries (r1: cookie 0xf10b02000a00000b), conntrack empty"

# --- 2. a long connection pinned by its learned flow ---------------------------
ctl=$SB_DIR/longconn
mkdir -p "$ctl"
sb_bg client "$ctl/log" "$SB_PY" "$SB_LIB_DIR/longconn.py" "$VIP" --ctl "$ctl" --interval 0.2 --max-time 60
lc=$SB_LAST_PID
for i in $(seq 1 100); do [ -e "$ctl/started" ] && break; sleep 0.1; done
[ -e "$ctl/started" ] || sb_fail "long connection never answered: $(cat "$ctl/log")"
real=$(awk 'NR == 1 { print $3 }' "$ctl/log")
mark=0xa00000b; [ "$real" = r2 ] && mark=0xa00000c
GID=$(grep -o 'group_id=[0-9]*' "$SB_DIR/s.ofctl" | head -1 | cut -d= -f2)
ovs-ofctl -O OpenFlow15 remove-buckets br0 "group_id=$GID,command_bucket_id=$((mark))" || sb_fail "remove-buckets"
echo "long connection on $real; its bucket removed"
for i in $(seq 1 10); do
    a=$(get) || sb_fail "curl after the bucket removal failed"
    [ "$a" != "$real" ] || sb_fail "a new connection reached the removed real $real"
done
sleep 2
touch "$ctl/stop"
wait "$lc" || sb_fail "the long connection broke: $(tail -3 "$ctl/log")"
[ -z "$(awk -v r="$real" '$3 != r' "$ctl/log")" ] || sb_fail "the long connection moved off $real"
echo "long connection: $(wc -l <"$ctl/log") answers, all from $real; 10 new connections avoided it"

# --- 3. upload ---------------------------------------------------------------
head -c $((4 * 1024 * 1024)) /dev/urandom >"$SB_DIR/up.bin"
a=$(sb_exec client curl -sS --max-time 60 -H 'Expect:' --data-binary "@$SB_DIR/up.bin" "http://$VIP/") ||
    sb_fail "4 MB upload failed"
set -- $a
[ "${2:-}" = $((4 * 1024 * 1024)) ] || sb_fail "upload: real got '${2:-}' bytes"
echo "4 MB upload received whole by $1"

# --- 4. expiry and purge ---------------------------------------------------------
gone=""
for i in $(seq 1 40); do
    [ "$(entries | wc -l)" = 0 ] && { gone=$i; break; }
    sleep 0.5
done
[ -n "$gone" ] || sb_fail "entries still there 20 s after the last traffic (idle 8 s): $(entries | head -3)"
[ "$gone" -ge 10 ] || sb_fail "entries expired after only about $((gone / 2)) s (idle 8 s)"
echo "all entries expired within $((gone / 2)) s of idle"
for i in 1 2 3 4 5 6; do get >/dev/null; done
other=0xa00000b; [ "$mark" = 0xa00000b ] && other=0xa00000c
n=$(entries | wc -l)
[ "$n" = 6 ] || sb_fail "want 6 entries, got $n"
# A datapath flow that executed a learn re-adds the learned flow when its
# stats are pushed (OVS's xlate cache), also after a delete: flush the
# datapath flows of the finished connections first.
ovs-appctl revalidator/purge
ovs-ofctl -O OpenFlow15 del-flows br0 "table=$ST,cookie=0xf10b0200$(printf %08x $((other)))/$MASK"
[ "$(entries | wc -l)" = 0 ] || sb_fail "purge by cookie left entries: $(entries)"
sleep 1.5
[ "$(entries | wc -l)" = 0 ] || sb_fail "purged entries came back: $(entries)"
echo "purge by cookie removed the remaining real's 6 entries"
echo "PASS: feat_sticky"
