#!/bin/bash
# The health checks' own path breaks, not the reals: flowlbd's address on
# br0 (its probes' source, and the only route to the reals in its
# namespace) is removed, as when the bridge is re-created without it. The
# data path needs no address of the host and still reaches every real.
# For `check tcp`, `check tcp` with a configured `source` and
# `check tcp-half-open` (interval 1 s, fall 3), asserted:
#  - for 6 s (twice interval x fall) no real goes down and no bundle is
#    sent; the log says "probe not run" with the reason (Network is
#    unreachable; Cannot assign requested address for the source), and so
#    does flowlb/show for each real (probe_not_run, probe_not_run_since);
#  - the address back, checks judge again: a real whose server then stops
#    is out within interval x fall + 1.5 s;
#  - flowlbd started while the address is missing: reals never judged are
#    judged by such probes (all down), and come up once it is back.
# Before, every real went down 3 s after the address went, and every
# group was emptied.
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
sb_init
. "$SB_LIB_DIR/agent.sh"
ag_need
topo_demo servers

# run_case LABEL CHECK REASON: REASON is what "probe not run" must say.
run_case() {
    local label=$1 check=$2 reason=$3 spec=$SB_DIR/spec.$1.lb
    echo "== $label: $check"
    sed "s|check tcp .*;|$check;|" "$EXAMPLES/demo.lb" >"$spec"
    ag_start --reconcile-interval 1s "$spec"
    wait_until 15 ag_all_up >/dev/null || sb_fail "$label: the reals never all came up"
    ag_wait_synced 10
    local b0 n0 said
    b0=$(ag_json 's["bundles"]')
    n0=$(wc -l <"$AG_LOG")
    ip -n "$SB_NS" addr del "$AG_HOST_ADDR" dev "$SB_BR"
    sleep 6
    ag_all_up || sb_fail "$label: a real went down while the checker had no address: $(grep ' -> ' "$AG_LOG" | tail -3)"
    [ "$(ag_json 's["bundles"]')" = "$b0" ] || sb_fail "$label: a bundle was sent while the checker had no address"
    said=$(tail -n +"$((n0 + 1))" "$AG_LOG" | grep -m1 -o 'probe not run ([^)]*)') ||
        sb_fail "$label: no 'probe not run' in the log"
    case $said in
    *"$reason"*) ;;
    *) sb_fail "$label: '$said', want the reason '$reason'" ;;
    esac
    echo "  6 s without the address: every real up, no bundle; $said"
    # flowlb/show says which reals are kept unchecked, and why.
    [ "$(ag_json 'all("'"$reason"'" in r.get("probe_not_run", "") and r["probe_not_run_since"] != "-" for v in s["services"] for r in v["reals"])')" = true ] ||
        sb_fail "$label: flowlb/show does not say the probes are not run: $(ag_ctl flowlb/show --json | head -c 800)"
    ag_ctl flowlb/show | grep -q "probes not run since .*: .*$reason" ||
        sb_fail "$label: flowlb/show (text) does not say the probes are not run"

    ag_host_addr
    not_run_gone() { [ "$(ag_json 'any("probe_not_run" in r for v in s["services"] for r in v["reals"])')" = false ]; }
    wait_until 5 not_run_gone >/dev/null || sb_fail "$label: probes still reported as not run once the address is back"
    kill "$(cat "$SB_DIR/server.r2.pid")"
    local t
    t=$(wait_until 10 sh -c "[ \"\$(ovs-ofctl -O OpenFlow15 dump-groups $SB_BR | grep -o 'bucket_id:' | wc -l)\" = 2 ]") ||
        sb_fail "$label: r2 stopped after the address came back, and is still in the group"
    echo "  address back, then r2 stopped: out of the group ${t} ms later"
    [ "$t" -le 4500 ] || sb_fail "$label: r2 out only ${t} ms after its server stopped"
    ag_stop
    sb_start_server r2
}

run_case tcp "check tcp interval 1s timeout 500ms rise 2 fall 3" \
    "Network is unreachable"
run_case source "check tcp interval 1s timeout 500ms rise 2 fall 3 source ${AG_HOST_ADDR%/*}" \
    "Cannot assign requested address"
run_case halfopen "check tcp-half-open interval 1s timeout 500ms rise 2 fall 3" \
    "Network is unreachable"
# A real never judged is judged by such a probe: started while the address
# is missing, flowlbd takes every real out (a source or a route this host
# never had shows as reals down, not as reals never checked); once the
# address is there, they come up.
echo "== started without the address"
ip -n "$SB_NS" addr del "$AG_HOST_ADDR" dev "$SB_BR"
ip -n "$SB_NS" link set "$SB_BR" up
ag_launch "$SB_DIR/spec.tcp.lb"
all_down() { [ "$(ag_json 'all(r["health"] == "down" for v in s["services"] for r in v["reals"])')" = true ]; }
t=$(wait_until 10 all_down) || sb_fail "reals never checked were not taken out: $(ag_ctl flowlb/show | tail -4)"
echo "  every real down ${t} ms after the start"
ag_host_addr
t=$(wait_until 10 ag_all_up) || sb_fail "the reals did not come up once the address was back"
echo "  every real up ${t} ms after the address came back"
ag_stop
echo "PASS: fault_noaddr"
