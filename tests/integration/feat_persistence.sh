#!/bin/bash
# Persistence (IPVS -p 6 -M 255.255.255.0) with real TCP traffic on a
# private OVS, no agent: the compiled bundle alone.
#  1. every connection from one client /24 (two addresses of it, many source
#     ports) lands on one real; over 12 client prefixes both reals are used
#     (so persistence is per prefix, not global), one learned entry per
#     prefix in table persist, with the learned-flow cookie
#     0xf10b01000MMMMMMMM (kind 01 = persistence, M = the real's mark);
#  2. the entries expire after the 6 s timeout once the client is idle (not
#     before), but a client with a live connection keeps its entry;
#  3. purge: one del-flows by cookie/mask removes exactly one real's entries
#     (what the agent does when a real fails or is drained); limiting it to
#     another service's id (reg12) removes nothing; a client whose entry was
#     purged gets a fresh one;
#  4. the agent's recipe for a real going down, as ONE bundle right after
#     traffic: its bucket out, its assign flow (reg12=S,reg13=MARK) out, its
#     entries purged; then no new connection from any prefix reaches it,
#     even if a datapath flow's learn re-instates a purged entry (OVS's
#     xlate cache re-adds learned flows when it pushes old stats).
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
command -v curl >/dev/null || sb_fail "curl is needed"
sb_init
VIP=10.0.0.100
VMAC=02:00:00:00:01:00
cat >"$SB_DIR/p.lb" <<EOF
service web {
    vip $VIP tcp 80;
    vip-mac $VMAC;
    persistence 6s netmask 255.255.255.0;
    real 10.0.0.11 mac 02:00:00:00:00:11;
    real 10.0.0.12 mac 02:00:00:00:00:12;
}
EOF
sb_add_host client 10.0.1.1/16 02:00:00:00:00:01
NPFX=12
sb_exec client ip addr add 10.0.1.2/16 dev e0
for k in $(seq 2 $NPFX); do sb_exec client ip addr add "10.0.$k.1/16" dev e0; done
for h in r1 r2; do
    sb_add_host "$h" "10.0.0.1${h#r}/16" "02:00:00:00:00:1${h#r}"
    sb_make_real "$h" "$VIP"
    sb_start_server "$h"
done
t_compile "$SB_DIR/p.lb" "$SB_DIR/p.ofctl"
sb_load "$SB_DIR/p.ofctl"
SID=$("$FLOWLB" compile --emit ir "$SB_DIR/p.lb" | grep -o 'persistence: 6s idle, service id [0-9]*' | awk '{print $NF}')
[ -n "$SID" ] || sb_fail "no service id in the IR"
PT=5   # table persist (table base 0)
M1=0xa00000b
M2=0xa00000c
MASK=0xffffff00ffffffff

get() { # get SRC: one new connection from source address SRC
    sb_exec client curl -sS --max-time 5 --interface "$1" "http://$VIP/"
}
entries() { # entries [MATCH]: learned persistence flows, one per line
    ovs-ofctl -O OpenFlow15 --no-names dump-flows br0 "table=$PT${1:+,$1}" | grep 'cookie=0xf10b01' || true
}

# --- 1. one real per client prefix -----------------------------------------
first=$(get 10.0.1.1) || sb_fail "first connection failed"
for i in $(seq 1 10); do
    for src in 10.0.1.1 10.0.1.2; do
        a=$(get $src) || sb_fail "connection from $src failed"
        [ "$a" = "$first" ] || sb_fail "connection $i from $src went to $a, the /24's first went to $first"
    done
done
echo "21 connections from 10.0.1.1 and 10.0.1.2 (one /24): all on $first"
declare -A seen=()
for k in $(seq 1 $NPFX); do
    a=$(get "10.0.$k.1") || sb_fail "connection from 10.0.$k.1 failed"
    b=$(get "10.0.$k.1") || sb_fail "connection from 10.0.$k.1 failed"
    [ "$a" = "$b" ] || sb_fail "10.0.$k.1: two connections on $a and $b"
    m=$M1; [ "$a" = r2 ] && m=$M2
    [ "$(entries "ip,nw_src=10.0.$k.0/24" | grep -c "cookie=0xf10b0100$(printf %08x $((m))),.*$m->reg13")" = 1 ] ||
        sb_fail "10.0.$k.0/24 on $a: want one entry with its cookie, got: $(entries "ip,nw_src=10.0.$k.0/24")"
    seen[$a]=$((${seen[$a]:-0} + 1))
done
echo "$NPFX client prefixes: r1=${seen[r1]:-0} r2=${seen[r2]:-0}"
[ "${seen[r1]:-0}" -gt 0 ] && [ "${seen[r2]:-0}" -gt 0 ] ||
    sb_fail "all $NPFX prefixes on one real: persistence is not per prefix"
n=$(entries | wc -l)
[ "$n" = "$NPFX" ] || sb_fail "want $NPFX persistence entries (one per /24), got $n: $(entries)"
entries | grep -q "nw_src=10.0.1.0/24" || sb_fail "no entry for 10.0.1.0/24: $(entries)"
entries | grep -v "idle_timeout=6," && sb_fail "an entry without idle_timeout=6"
n1=$(entries "cookie=0xf10b01000a00000b/$MASK" | wc -l)
n2=$(entries "cookie=0xf10b01000a00000c/$MASK" | wc -l)
[ "$n1" = "${seen[r1]:-0}" ] && [ "$n2" = "${seen[r2]:-0}" ] ||
    sb_fail "entries by cookie r1=$n1 r2=$n2 do not match the answers"
# (OpenFlow 1.5 prints the learned load as set_field.)
[ "$(entries "reg12=$SID" | grep -c "$M1->reg13\|$M2->reg13")" = "$NPFX" ] ||
    sb_fail "entries do not load a real's mark for service $SID"
echo "entries: $n1 for r1 (cookie 0xf10b01000a00000b), $n2 for r2 (cookie 0xf10b01000a00000c)"

# --- 2. expiry after 6 s idle ----------------------------------------------
get 10.0.1.1 >/dev/null
sleep 1
entries | grep -q "nw_src=10.0.1.0/24" || sb_fail "entry gone 1 s after traffic (timeout is 6 s)"
gone=""
for i in $(seq 1 30); do
    if [ "$(entries | wc -l)" = 0 ]; then gone=$i; break; fi
    sleep 0.5
done
[ -n "$gone" ] || sb_fail "entries still there 16 s after the last connection: $(entries)"
[ "$gone" -ge 7 ] || sb_fail "entries expired about $((1 + gone / 2)) s after the last connection, before the 6 s timeout"
echo "all entries expired between 1 s and $((1 + gone / 2)) s after the last connection"

# A client with a long-lived connection keeps its entry past the timeout:
# every packet of an assigned connection looks the entry up.
ctl=$SB_DIR/longconn
mkdir -p "$ctl"
sb_bg client "$ctl/log" "$SB_PY" "$SB_LIB_DIR/longconn.py" "$VIP" --ctl "$ctl" --interval 0.5 --max-time 60
lc=$SB_LAST_PID
for i in $(seq 1 100); do [ -e "$ctl/started" ] && break; sleep 0.1; done
[ -e "$ctl/started" ] || sb_fail "long connection never answered: $(cat "$ctl/log")"
sleep 10
entries "ip,nw_src=10.0.1.0/24" | grep -q cookie ||
    sb_fail "the entry of a client with a live connection expired (10 s > 6 s timeout)"
touch "$ctl/stop"
wait "$lc" || sb_fail "long connection failed: $(tail -3 "$ctl/log")"
echo "a live connection kept its client's entry for 10 s (timeout 6 s)"

# --- 3. purge by cookie -----------------------------------------------------
for k in $(seq 1 $NPFX); do get "10.0.$k.1" >/dev/null || sb_fail "refill from 10.0.$k.1"; done
# Datapath flows that executed a learn re-add the learned flow when their
# stats are pushed; flush them first so this step sees the purge alone.
ovs-appctl revalidator/purge
n1=$(entries "cookie=0xf10b01000a00000b/$MASK" | wc -l)
n2=$(entries "cookie=0xf10b01000a00000c/$MASK" | wc -l)
[ $((n1 + n2)) = "$NPFX" ] && [ "$n1" -gt 0 ] && [ "$n2" -gt 0 ] ||
    sb_fail "refill: r1=$n1 r2=$n2 entries"
ovs-ofctl -O OpenFlow15 del-flows br0 "table=$PT,cookie=0xf10b01000a00000b/$MASK,reg12=$((SID + 1))"
[ "$(entries "cookie=0xf10b01000a00000b/$MASK" | wc -l)" = "$n1" ] ||
    sb_fail "a purge limited to another service's id removed entries"
ovs-ofctl -O OpenFlow15 del-flows br0 "table=$PT,cookie=0xf10b01000a00000b/$MASK,reg12=$SID"
[ "$(entries "cookie=0xf10b01000a00000b/$MASK" | wc -l)" = 0 ] || sb_fail "r1's entries survived the purge"
[ "$(entries "cookie=0xf10b01000a00000c/$MASK" | wc -l)" = "$n2" ] || sb_fail "the purge touched r2's entries"
echo "purge of r1 (cookie 0xf10b01000a00000b/$MASK, reg12=$SID): $n1 entries removed, r2's $n2 kept"
# The flows flowlb compiled are all still there.
[ "$(ovs-ofctl -O OpenFlow15 dump-flows br0 | grep -c 'cookie=0xf10b0000')" -gt 5 ] ||
    sb_fail "the purge removed compiled flows"
# A client whose entry went gets a new one on its next connection.
for k in $(seq 1 $NPFX); do
    if ! entries "ip,nw_src=10.0.$k.0/24" | grep -q .; then
        get "10.0.$k.1" >/dev/null || sb_fail "connection from purged prefix 10.0.$k.0/24"
        entries "ip,nw_src=10.0.$k.0/24" | grep -q cookie || sb_fail "no fresh entry for 10.0.$k.0/24"
        echo "purged prefix 10.0.$k.0/24 got a fresh entry: $(entries "ip,nw_src=10.0.$k.0/24" | grep -o 'cookie=[0-9a-fx]*')"
        break
    fi
done

# --- 4. a real goes down: one bundle -------------------------------------------
# Which real a new client prefix gets is the group's hash of the first
# connection, client port included: chance. After step 3 only r1's purged
# prefixes choose again, so all of them landing on r2 (1 in 32) left r1
# without entries here. Start from no entries and refill until r1 has some.
n1=0
for try in 1 2 3 4 5 6; do
    ovs-ofctl -O OpenFlow15 del-flows br0 "table=$PT,cookie=0xf10b010000000000/0xffffff0000000000"
    ovs-appctl revalidator/purge
    for k in $(seq 1 $NPFX); do get "10.0.$k.1" >/dev/null || sb_fail "refill from 10.0.$k.1"; done
    n1=$(entries "cookie=0xf10b01000a00000b/$MASK" | wc -l)
    [ "$n1" -gt 0 ] && break
done
[ "$n1" -gt 0 ] || sb_fail "no entries for r1 before it goes down (6 refills)"
GID=$(grep -o 'group_id=[0-9]*' "$SB_DIR/p.ofctl" | head -1 | cut -d= -f2)
cat >"$SB_DIR/down.ofctl" <<EOF
group remove_bucket group_id=$GID,command_bucket_id=$((M1))
flow delete_strict table=7,priority=100,tcp,reg12=$SID,reg13=$M1
flow delete table=$PT,cookie=0xf10b01000a00000b/$MASK,reg12=$SID
EOF
ovs-ofctl -O OpenFlow15 bundle br0 "$SB_DIR/down.ofctl" || sb_fail "the real-down bundle was refused"
echo "r1 down in one bundle (bucket, assign flow, $n1 entries)"
for i in 1 2; do
    for k in $(seq 1 $NPFX); do
        a=$(get "10.0.$k.1") || sb_fail "connection from 10.0.$k.1 after r1 went down failed"
        [ "$a" = r2 ] || sb_fail "10.0.$k.1 reached $a after r1 went down"
    done
    sleep 1
done
echo "$((2 * NPFX)) new connections from all $NPFX prefixes after r1 went down: all on r2"
echo "PASS: feat_persistence"
