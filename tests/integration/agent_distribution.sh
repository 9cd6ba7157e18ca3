#!/bin/bash
# New connections through the VIP spread over the reals in proportion to
# their weights, with the pipeline installed by flowlbd:
#  1. examples/demo.lb, weights 2:1:1 -> shares 1/2, 1/4, 1/4;
#  2. after `flowlb/set-weight demo 10.0.0.12 4` -> 2:4:1;
#  3. after `flowlb/drain demo 10.0.0.11` -> r2:r3 = 4:1, r1 gets nothing.
# Tolerance: every share within DIST_TOL (default 0.08) of its target, over
# DIST_N (default 400) connections: more than 3 standard deviations of a
# binomial share at that N (at most 0.025).
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
sb_init
. "$SB_LIB_DIR/agent.sh"
ag_need
topo_demo servers

N=${DIST_N:-400}
TOL=${DIST_TOL:-0.08}
ag_start --reconcile-interval 5s "$EXAMPLES/demo.lb"
ag_wait_synced 10
vip_get >/dev/null || sb_fail "no answer through the VIP"

# spread "r1:W r2:W r3:W": N new connections, check the shares.
spread() {
    sb_exec client "$SB_PY" - "$DEMO_VIP" "$N" "$TOL" "$@" <<'PY'
import socket, sys
vip, n, tol = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
want = {k: float(v) for k, v in (a.split(":") for a in sys.argv[4:])}
count = {k: 0 for k in want}
for i in range(n):
    s = socket.create_connection((vip, 80), timeout=3)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
    s.close()
    name = data.split(b"\r\n\r\n", 1)[1].decode().strip()
    if name not in count:
        print("unexpected answer %r" % name)
        sys.exit(1)
    count[name] += 1
total = sum(want.values())
bad = []
for k in want:
    share, target = count[k] / n, want[k] / total
    print("  %s: %4d of %d = %.3f (target %.3f)" % (k, count[k], n, share, target))
    if abs(share - target) > tol:
        bad.append(k)
if bad:
    print("share out of tolerance %.2f for %s" % (tol, bad))
    sys.exit(1)
PY
}

echo "weights 2:1:1 (spec):"
spread r1:2 r2:1 r3:1 || sb_fail "distribution 2:1:1 off"

ag_ctl flowlb/set-weight demo 10.0.0.12 4 >/dev/null
ag_wait_synced 10
sleep 0.5
echo "weights 2:4:1 (flowlb/set-weight demo 10.0.0.12 4):"
spread r1:2 r2:4 r3:1 || sb_fail "distribution 2:4:1 off"

ag_ctl flowlb/drain demo 10.0.0.11 >/dev/null
ag_wait_synced 10
sleep 0.5
echo "r1 drained, weights 0:4:1:"
spread r1:0 r2:4 r3:1 || sb_fail "distribution with r1 drained off"

# The per-real counters of flowlb/show come from the group's bucket stats.
# (show asks for fresh statistics, at most once a second).
r2_packets() { ag_json "[r.get('packets', -1) for v in s['services'] for r in v['reals'] if r['address'] == '10.0.0.12'][0]"; }
wait_until 5 bash -c "[ \$(ovs-appctl -t '$AG_CTL' flowlb/show --json | '$SB_PY' -c 'import json,sys; s=json.load(sys.stdin); print([r.get(\"packets\", -1) for v in s[\"services\"] for r in v[\"reals\"] if r[\"address\"] == \"10.0.0.12\"][0])') -gt 0 ]" >/dev/null ||
    sb_fail "flowlb/show has no packet count for r2 ($(r2_packets))"
pk=$(r2_packets)
echo "flowlb/show: r2's bucket counted $pk packets"
echo "agent_distribution: OK"
