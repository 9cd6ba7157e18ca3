#!/bin/bash
# Reloads in a row, of every kind, each checked on the real switch: after
# every accepted reload, what flowlbd holds in br0 is what ovs-ofctl loads
# from `flowlb compile` of the same file into a second bridge, br1; after
# every refused one, br0 is as it was. The edits are random (a fixed
# seed): weights changed, services appended, removed or inserted above
# others, a VIP's port changed, comments added, the last edit undone (the
# file as it was: what a stale copy of the running text would get wrong),
# and broken specs. Each
# reload path (weights only, services added in place, the whole reload)
# must have been taken, so the comparison covers the text cut by
# comparison with the running one, the in-place paths and the patching of
# the running state alike.
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
sb_init
. "$SB_LIB_DIR/agent.sh"
ag_need

sb_add_bridge br1

RANDOM=4242
SPEC=$SB_DIR/soak.lb
NEXT=0          # index of the next new service

# service_text: a new service, its VIP and name from NEXT; four reals of a
# shared pool of 40 (one MAC per address, as the checks require).
service_text() {
    local i=$NEXT r k w
    NEXT=$((NEXT + 1))
    printf 'service s%d {\n    vip 172.20.%d.%d tcp 80;\n' "$i" $((i / 200)) $((i % 200 + 1))
    [ $((i % 3)) = 0 ] || printf '    vip-mac 02:00:00:14:%02x:%02x;\n' $((i / 200)) $((i % 200 + 1))
    case $((i % 3)) in
    0) echo "    scheduler wrr;" ;;
    1) echo "    scheduler sh;" ;;
    2) echo "    scheduler mh;" ;;
    esac
    r=$((RANDOM % 40))
    for k in 0 1 2 3; do
        w=$((RANDOM % 12))
        printf '    real 10.30.0.%d mac 02:00:00:1e:00:%02x weight %d;\n' \
            $(((r + 7 * k) % 40 + 1)) $(((r + 7 * k) % 40 + 1)) "$w"
    done
    echo "}"
}

{
    echo "# soak test spec"
    for _ in $(seq 60); do service_text; echo; done
} >"$SPEC"

# The switch's state, normalised (flows sorted, buckets by id).
state_of() { SB_BR=$1 ag_flows; SB_BR=$1 ag_groups; }

# expect_compiled: br0 (flowlbd's) becomes what ovs-ofctl loads from the
# compile of the spec into br1.
expect_compiled() {
    t_compile "$SPEC" "$SB_DIR/soak.ofctl"
    ovs-ofctl -O OpenFlow15 del-flows br1
    ovs-ofctl -O OpenFlow15 del-groups br1
    ovs-ofctl -O OpenFlow15 bundle br1 "$SB_DIR/soak.ofctl" ||
        sb_fail "ovs-ofctl refused the compiled spec"
    state_of br1 >"$SB_DIR/want"
    local i
    for i in $(seq 100); do
        state_of br0 >"$SB_DIR/have"
        cmp -s "$SB_DIR/want" "$SB_DIR/have" && return 0
        sleep 0.1
    done
    diff -u "$SB_DIR/want" "$SB_DIR/have" | head -40 >&2
    sb_fail "after edit $EDIT ($WHAT), flowlbd's pipeline is not the compiled one"
}

ag_start --no-checks --reconcile-interval 2s "$SPEC"
ag_wait_synced 20
EDIT=0 WHAT=start
expect_compiled

services() { awk '$1 == "service" { print $2 }' "$SPEC"; }
random_service() {
    local all
    mapfile -t all < <(services)
    echo "${all[$((RANDOM % ${#all[@]}))]}"
}

# edit_* change $SPEC in place.
edit_weight() {
    local n lines
    n=$((RANDOM % 3 + 1))
    for _ in $(seq "$n"); do
        mapfile -t lines < <(grep -n '^    real ' "$SPEC" | cut -d: -f1)
        sed -i "${lines[$((RANDOM % ${#lines[@]}))]}s/weight [0-9]*;/weight $((RANDOM % 12));/" "$SPEC"
    done
}
edit_append() { { echo; service_text; } >>"$SPEC"; }
edit_remove() {
    awk -v s="$(random_service)" '$1 == "service" && $2 == s { skip = 1 }
        !skip { print } skip && $1 == "}" { skip = 0 }' "$SPEC" >"$SPEC.new"
    mv "$SPEC.new" "$SPEC"
}
edit_insert() {
    service_text >"$SB_DIR/one.lb"
    awk -v s="$(random_service)" -v f="$SB_DIR/one.lb" '
        $1 == "service" && $2 == s { while ((getline l < f) > 0) print l; print "" }
        { print }' "$SPEC" >"$SPEC.new"
    mv "$SPEC.new" "$SPEC"
}
edit_port() {
    awk -v s="$(random_service)" -v p=$((RANDOM % 1000 + 1000)) '
        $1 == "service" { in_s = ($2 == s) }
        in_s && $1 == "vip" { sub(/tcp [0-9]+;/, "tcp " p ";") }
        { print }' "$SPEC" >"$SPEC.new"
    mv "$SPEC.new" "$SPEC"
}
edit_comment() {
    awk -v s="$(random_service)" '$1 == "service" && $2 == s { print "# before " s } { print }' \
        "$SPEC" >"$SPEC.new"
    mv "$SPEC.new" "$SPEC"
}

accepted=0 refused=0
# First, for certain: one weight changed to another of the same length,
# then undone. The undone text is byte for byte the one before the
# change, so only a text kept in step with the running spec tells the
# two apart.
cp "$SPEC" "$SB_DIR/previous.lb"
EDIT=0 WHAT="one weight"
sed -i '0,/^    real .* weight [1-8];$/s/weight \([1-8]\);$/weight 9;/' "$SPEC"
! cmp -s "$SPEC" "$SB_DIR/previous.lb" || sb_fail "no weight to change"
ag_ctl flowlb/reload >/dev/null || sb_fail "the weight change was refused"
expect_compiled
WHAT="one weight undone"
cp "$SB_DIR/previous.lb" "$SPEC"
ag_ctl flowlb/reload >/dev/null || sb_fail "the undo was refused"
expect_compiled
for EDIT in $(seq 1 60); do
    cp "$SPEC" "$SB_DIR/good.lb"
    case $((RANDOM % 10)) in
    0 | 1) WHAT=weights; edit_weight ;;
    2) WHAT=append; edit_append ;;
    3) WHAT=remove; edit_remove ;;
    4) WHAT=insert; edit_insert ;;
    5) WHAT=port; edit_port ;;
    6) WHAT=comment; edit_comment; edit_weight ;;
    8 | 9) WHAT=undo; cp "$SB_DIR/previous.lb" "$SPEC" ;;
    7)
        # Broken: a syntax error at the end, or a name used twice. The
        # reload is refused with the location; br0 stays as it was.
        if [ $((RANDOM % 2)) = 0 ]; then
            WHAT=broken; printf 'service bad {\n    vip 1.2.3;\n}\n' >>"$SPEC"
        else
            WHAT=clash; { echo; service_text; } | sed "s/^service s[0-9]* /service $(random_service) /" >>"$SPEC"
        fi
        state_of br0 >"$SB_DIR/before"
        ! out=$(ag_ctl flowlb/reload 2>&1) || sb_fail "edit $EDIT ($WHAT) was accepted"
        echo "$out" | grep -q "soak.lb:[0-9]*:[0-9]*:" || sb_fail "edit $EDIT ($WHAT): no location in: $out"
        sleep 0.3
        state_of br0 >"$SB_DIR/after"
        cmp -s "$SB_DIR/before" "$SB_DIR/after" || sb_fail "edit $EDIT ($WHAT) refused but br0 changed"
        cp "$SB_DIR/good.lb" "$SPEC"
        refused=$((refused + 1))
        continue
        ;;
    esac
    ag_ctl flowlb/reload >/dev/null || sb_fail "edit $EDIT ($WHAT) refused: $(tail -3 "$AG_LOG")"
    expect_compiled
    cp "$SB_DIR/good.lb" "$SB_DIR/previous.lb"
    accepted=$((accepted + 1))
done

weights=$(grep -c 'only weights changed' "$AG_LOG" || true)
appended=$(grep -c 'added in place' "$AG_LOG" || true)
whole=$(grep -c 'in the background: read and checked' "$AG_LOG" || true)
echo "$accepted reloads accepted and matched the compiled pipeline on the switch, $refused refused with br0 unchanged"
echo "paths taken: weights only $weights, services added in place $appended, whole reload $whole"
[ "$weights" -gt 0 ] && [ "$appended" -gt 0 ] && [ "$whole" -gt 0 ] ||
    sb_fail "a reload path was never taken"
! grep -q 'differences from the installed view' "$AG_LOG" ||
    sb_fail "a reconcile round found drift: $(grep 'differences from the installed view' "$AG_LOG" | head -3)"
ag_stop
