#!/bin/bash
# A real whose health check flaps at every check (success, failure,
# success, ...), under continuous traffic (tests/lib/traffic.py, 5 s
# timeout). The service checks with an exec check (interval 500 ms, rise 2,
# fall 3) whose result the test steers per real (mode file: up, down, flap).
# Expected: hysteresis holds the real where it is: an UP real that flaps
# never gets 3 failures in a row and stays up; a DOWN real that flaps never
# gets 2 successes in a row and stays out. No bucket churn: no bundle at all
# is sent while it flaps (agent counter), the group is unchanged, and the
# traffic sees 0 failed requests and 0 broken connections throughout.
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
sb_init
. "$SB_LIB_DIR/agent.sh"
. "$SB_LIB_DIR/traffic.sh"
ag_need
topo_demo servers

FL=$SB_DIR/flap
mkdir -p "$FL"
cat >"$FL/check.sh" <<EOS
#!/bin/sh
# One check of real \$FLOWLB_REAL: its mode file says up, down or flap.
d=$FL
m=\$(cat "\$d/mode.\$FLOWLB_REAL" 2>/dev/null || echo up)
case \$m in
up) r=0 ;;
down) r=1 ;;
flap) n=\$(cat "\$d/n.\$FLOWLB_REAL" 2>/dev/null || echo 0)
      echo \$((n + 1)) >"\$d/n.\$FLOWLB_REAL"
      r=\$((n % 2)) ;;
esac
echo "\$m \$r" >>"\$d/log.\$FLOWLB_REAL"
exit \$r
EOS
chmod +x "$FL/check.sh"
SPEC=$SB_DIR/spec.lb
sed "s|check tcp .*;|check exec command \"$FL/check.sh\" interval 500ms timeout 400ms rise 2 fall 3;|" \
    "$EXAMPLES/demo.lb" >"$SPEC"
grep -q 'check exec' "$SPEC" || sb_fail "could not make the spec"

ag_start --reconcile-interval 1s "$SPEC"
ag_wait_synced 10
wait_until 10 ag_all_up >/dev/null || sb_fail "reals not all up"
tr_start --keepalive 4 --interval 0.2 --new-workers 2 --new-interval 0.1 --timeout 5
R2=10.0.0.12
r2_is() { [ "$(ag_health_of $R2)" = "$1" ]; }

# flap_for LABEL STATE: r2 flaps for 5 s (10 checks); it must stay STATE,
# with no bundle sent and the group unchanged.
flap_for() {
    local label=$1 state=$2 b0 g0 t0 n0 n
    b0=$(ag_json 's["bundles"]')
    g0=$(ag_groups)
    t0=$(tr_now)
    n0=$(wc -l <"$FL/log.$R2")
    echo flap >"$FL/mode.$R2"
    sleep 5
    echo "$state" >"$FL/mode.$R2"
    n=$(tail -n +$((n0 + 1)) "$FL/log.$R2" | grep -c '^flap')
    [ "$n" -ge 6 ] || sb_fail "$label: only $n flapping checks ran in 5 s"
    tail -n +$((n0 + 1)) "$FL/log.$R2" | grep '^flap' | awk '{ printf "%s", $2 }' >"$FL/seq"
    grep -q '00\|11' "$FL/seq" && sb_fail "$label: the check did not alternate: $(cat "$FL/seq")"
    [ "$(ag_health_of $R2)" = "$state" ] || sb_fail "$label: r2 is $(ag_health_of $R2), want $state"
    [ "$(ag_json 's["bundles"]')" = "$b0" ] || sb_fail "$label: bundles sent while flapping: $(grep bundle "$AG_LOG" | tail -3)"
    [ "$(ag_groups)" = "$g0" ] || sb_fail "$label: the group changed"
    echo "$label: $n checks alternating ($(cat "$FL/seq")), r2 stayed $state, 0 bundles"
    tr_expect "$label" 0 0 "$t0"
}

echo up >"$FL/mode.$R2"
: >>"$FL/log.$R2"
flap_for "flapping while up" up
# Down for real: out after fall checks, with one bucket removal.
b0=$(ag_json 's["bundles"]')
echo down >"$FL/mode.$R2"
t=$(wait_until 10 r2_is down) ||
    sb_fail "r2 did not go down"
ag_wait_synced 5
[ "$(ag_json 's["bundles"]')" = $((b0 + 1)) ] || sb_fail "going down took more than one bundle"
echo "r2 down after $t ms (one bundle)"
flap_for "flapping while down" down
b0=$(ag_json 's["bundles"]')
echo up >"$FL/mode.$R2"
wait_until 10 r2_is up >/dev/null ||
    sb_fail "r2 did not come back"
ag_wait_synced 5
[ "$(ag_json 's["bundles"]')" = $((b0 + 1)) ] || sb_fail "coming back took more than one bundle"
tr_stop
tr_expect "whole run" 0 0
ag_stop
echo "fault_flap: OK"
