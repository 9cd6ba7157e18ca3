# testlib.sh: what every integration test (and the demo) needs besides the
# sandbox: where flowlb is, how to compile a spec, the demo topology.
# Source after ovs-sandbox.sh. Env: FLOWLB_BIN (directory holding flowlb,
# default SRC/build/bin), FLOWLB_SRC (source root, default from this file).

FLOWLB_SRC=${FLOWLB_SRC:-$(cd "$SB_LIB_DIR/../.." && pwd)}
FLOWLB_BIN=${FLOWLB_BIN:-$FLOWLB_SRC/build/bin}
FLOWLB=$FLOWLB_BIN/flowlb
EXAMPLES=$FLOWLB_SRC/examples

t_need_flowlb() {
    [ -x "$FLOWLB" ] || sb_fail "flowlb not found at $FLOWLB (set FLOWLB_BIN)"
}

# t_compile SPEC OUT [flowlb options...]: compile or fail with its stderr.
t_compile() {
    local spec=$1 out=$2
    shift 2
    "$FLOWLB" compile "$@" "$spec" -o "$out" 2>"$out.err" ||
        sb_fail "flowlb compile $spec failed: $(cat "$out.err")"
    [ -s "$out" ] || sb_fail "flowlb compile $spec wrote an empty file"
}

# The demo topology of examples/demo.lb. Keep the two in step.
DEMO_VIP=10.0.0.100
DEMO_VMAC=02:00:00:00:01:00
DEMO_CLIENT_MAC=02:00:00:00:00:01
DEMO_REALS="r1 r2 r3"
demo_ip() { case $1 in client) echo 10.0.0.1 ;; r*) echo "10.0.0.1${1#r}" ;; esac; }
demo_mac() { case $1 in client) echo 02:00:00:00:00:01 ;; r*) echo "02:00:00:00:00:1${1#r}" ;; esac; }
# demo.lb pins r1 and r2 to OpenFlow ports 11 and 12; r3 goes via NORMAL.
demo_ofport() { case $1 in client) echo 1 ;; r1) echo 11 ;; r2) echo 12 ;; *) echo "" ;; esac; }
demo_weight() { case $1 in r1) echo 2 ;; *) echo 1 ;; esac; }

# topo_demo [servers]: client + three DR reals on br0; with "servers",
# each real also runs the HTTP backend answering its name.
topo_demo() {
    local h
    sb_add_host client "$(demo_ip client)/24" "$(demo_mac client)" "$(demo_ofport client)"
    for h in $DEMO_REALS; do
        sb_add_host "$h" "$(demo_ip "$h")/24" "$(demo_mac "$h")" "$(demo_ofport "$h")"
        sb_make_real "$h" "$DEMO_VIP"
        if [ "${1:-}" = servers ]; then
            sb_start_server "$h"
        fi
    done
}

# dp_port IFNAME: the datapath port number of a bridge port (what
# ofproto/trace's "Datapath actions" print), from dpif/show.
dp_port() {
    ovs-appctl dpif/show | awk -v n="$1" '$1 == n { split($2, a, "[/:]"); print a[2] }'
}
