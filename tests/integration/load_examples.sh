#!/bin/bash
# Every example compiles and loads into a real ovs-vswitchd with
# "ovs-ofctl -O OpenFlow15 bundle", and the switch then holds exactly as many
# flows and groups as the file has lines, every one with flowlb's cookie.
# Also: --table-base/--next-table move the pipeline and still load.
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
sb_init

n_examples=0
next_named=200
# ports named (not numbered) in a bundle file must exist before ovs-ofctl can
# resolve them: create each as an internal port.
make_named_ports() {
    local p
    for p in $(grep -o 'output:[^,) ]*' "$1" | sed 's/^output://' | sort -u); do
        case $p in
        [0-9]*|0x*|IN_PORT|NORMAL|LOCAL|CONTROLLER|FLOOD|ALL|in_port) continue ;;
        esac
        p=${p#\"}; p=${p%\"}
        # A high ofport_request keeps it off the numbers the examples use.
        next_named=$((next_named + 1))
        ovs-vsctl --may-exist add-port br0 "$p" -- set interface "$p" type=internal \
            ofport_request=$next_named ||
            sb_fail "cannot create port $p named by $1"
        echo "created port $p for $(basename "$1")"
    done
}

check_loaded() { # check_loaded FILE LABEL
    local f=$1 label=$2 want_f want_g got_f got_g bad
    want_f=$(grep -c '^flow add ' "$f" || true)
    want_g=$(grep -c '^group add ' "$f" || true)
    # Comment lines (ovs-ofctl skips them) are fine; anything else is not.
    other=$(grep -v -e '^flow add ' -e '^group add ' -e '^#' "$f" | grep -vc '^ *$' || true)
    [ "$other" = 0 ] || sb_fail "$label: $other lines are neither 'group add' nor 'flow add'"
    # Groups first, then flows (a flow may only name an existing group).
    if grep -n '' "$f" | awk -F: '/:flow add /{ f = 1 } /:group add / && f { exit 1 }'; then :; else
        sb_fail "$label: a 'group add' line follows a 'flow add' line"
    fi
    [ "$want_f" -gt 0 ] || sb_fail "$label: no flows in the file"
    ovs-ofctl -O OpenFlow15 del-flows br0
    ovs-ofctl -O OpenFlow15 del-groups br0
    sb_load "$f"
    ovs-ofctl -O OpenFlow15 --no-names dump-flows br0 | grep -v '^OFPST_FLOW' >"$SB_DIR/flows"
    ovs-ofctl -O OpenFlow15 --no-names dump-groups br0 | grep -v '^OFPST_GROUP' >"$SB_DIR/groups"
    got_f=$(wc -l <"$SB_DIR/flows")
    got_g=$(wc -l <"$SB_DIR/groups")
    [ "$got_f" = "$want_f" ] ||
        sb_fail "$label: file has $want_f flows, switch holds $got_f (duplicate matches?)"
    [ "$got_g" = "$want_g" ] ||
        sb_fail "$label: file has $want_g groups, switch holds $got_g"
    bad=$(grep -vc 'cookie=0xf10b' "$SB_DIR/flows" || true)
    [ "$bad" = 0 ] || sb_fail "$label: $bad installed flows lack flowlb's cookie 0xf10b..."
    echo "$label: $got_f flows, $got_g groups loaded"
}

for spec in "$EXAMPLES"/*.lb "$EXAMPLES"/*.yaml "$EXAMPLES"/*.yml; do
    [ -e "$spec" ] || continue
    name=$(basename "$spec")
    out=$SB_DIR/$name.ofctl
    t_compile "$spec" "$out"
    make_named_ports "$out"
    check_loaded "$out" "$name"
    n_examples=$((n_examples + 1))
done
[ $n_examples -ge 5 ] || sb_fail "only $n_examples examples found in $EXAMPLES"

# Moved tables: flowlb's tables start at 10, other traffic goes to 50.
out=$SB_DIR/demo-moved.ofctl
t_compile "$EXAMPLES/demo.lb" "$out" --table-base 10 --next-table 50
check_loaded "$out" "demo.lb --table-base 10 --next-table 50"
tables=$(grep -o 'table=[0-9]*' "$SB_DIR/flows" | cut -d= -f2 | sort -un | tr '\n' ' ')
case $tables in
"10 11 12 13 "*) ;;
*) sb_fail "with --table-base 10 the flows sit in tables '$tables', want 10 11 12 13 (...)" ;;
esac
for t in $tables; do
    [ "$t" -ge 10 ] && [ "$t" -lt 20 ] ||
        sb_fail "with --table-base 10 a flow sits in table $t (tables: $tables)"
done
grep -q 'ct(table=11,zone=' "$SB_DIR/flows" ||
    sb_fail "with --table-base 10 the VIP flow does not send to conntrack with table=11"
echo "--table-base 10: tables $tables"
grep -q 'resubmit(,50)' "$SB_DIR/flows" ||
    sb_fail "--next-table 50: no flow hands traffic to table 50"
if grep -q 'actions=NORMAL' "$SB_DIR/flows"; then
    sb_fail "--next-table 50 still sends some traffic to NORMAL: $(grep 'actions=NORMAL' "$SB_DIR/flows")"
fi
echo "PASS: load_examples ($n_examples examples)"
