# ovs-sandbox.sh: a private Open vSwitch (userspace datapath) for tests and
# the demo. Source it, then call sb_init. Everything it starts is recorded
# (pids, namespaces) and torn down by sb_cleanup, which sb_init installs as
# the EXIT trap. Nothing is ever killed by name: other OVS instances and
# other test runs may share the machine.
#
# Layout: ovsdb-server and ovs-vswitchd run inside their own network
# namespace (one netdev datapath per namespace, see
# shared/docs/ovs-field-notes.md); each host (client, real server) is a
# namespace joined to br0 by a veth pair whose bridge side lives in the OVS
# namespace. OVS_RUNDIR & co. are exported so ovs-vsctl, ovs-ofctl and
# ovs-appctl reach the private daemons from anywhere.
#
# Public functions:
#   sb_init                       create run dir + OVS namespace, start OVS, br0
#   sb_add_host NAME ADDR/LEN MAC [OFPORT] [ADDR6/LEN]
#                                 namespace NAME on a veth into br0
#   sb_make_real NAME VIP...      DR real server: VIPs on lo, ARP sysctls
#   sb_start_server NAME [PORT]   HTTP server in NAME answering its name
#   sb_ns NAME                    print the namespace name of host NAME
#   sb_exec NAME CMD...           run CMD inside host NAME's namespace
#   sb_bg NAME LOGFILE CMD...     run CMD in the background in NAME, record pid
#   sb_wait_port NAME ADDR PORT   wait until ADDR:PORT accepts in NAME
#   sb_ofport IFNAME              print the OpenFlow port number of a br0 port
#   sb_port_of NAME               print the bridge-side veth name of host NAME
#   sb_load FILE                  ovs-ofctl -O OpenFlow15 bundle br0 FILE
#   sb_diag                       dump flows, groups, conntrack to stderr
#   sb_cleanup                    stop and delete everything (EXIT trap;
#                                 SB_KEEP=1 keeps the run dir for a look;
#                                 on failure it runs sb_diag unless
#                                 SB_QUIET_FAIL=1)
#   sb_fail MSG                   print "FAIL: MSG" and exit 1
# Variables after sb_init: SB_ID, SB_DIR, SB_NS (OVS namespace), SB_BR (br0).

SB_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)
SB_PY=${SB_PY:-/usr/bin/python3}
[ -x "$SB_PY" ] || SB_PY=$(command -v python3)

sb_fail() {
    echo "FAIL: $*" >&2
    exit 1
}

sb_log() {
    echo "sandbox: $*" >&2
}

# sb_init: everything gets a short random id so parallel runs never collide
# (veth names must stay within 15 characters: "f" + 6 hex + "v" + index).
sb_init() {
    [ "$(id -u)" = 0 ] || sb_fail "must run as root (network namespaces, OVS)"
    for tool in ovsdb-server ovs-vswitchd ovs-vsctl ovs-ofctl ovs-appctl \
                ovsdb-tool ip ethtool; do
        command -v "$tool" >/dev/null 2>&1 || sb_fail "missing tool: $tool"
    done
    SB_ID=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
    SB_DIR=$(mktemp -d "/tmp/flowlb-sb-$SB_ID.XXXX")
    SB_NS=flb$SB_ID-ovs
    SB_BR=br0
    SB_HOSTS=""
    SB_NHOSTS=0
    : >"$SB_DIR/pids"
    : >"$SB_DIR/namespaces"
    # A detached watchdog tears the sandbox down if this shell dies without
    # running its EXIT trap (SIGKILL, e.g. a ctest timeout).
    setsid "$SB_LIB_DIR/sb-teardown.sh" --watch $$ "$SB_DIR" </dev/null >/dev/null 2>&1 &
    echo $! >"$SB_DIR/watchdog.pid"
    export OVS_RUNDIR=$SB_DIR OVS_LOGDIR=$SB_DIR OVS_DBDIR=$SB_DIR \
           OVS_SYSCONFDIR=$SB_DIR OVS_PKGDATADIR=${OVS_PKGDATADIR:-/usr/share/openvswitch}
    trap sb_cleanup EXIT
    trap 'exit 130' INT TERM

    ip netns add "$SB_NS" || sb_fail "cannot create namespace $SB_NS"
    echo "$SB_NS" >>"$SB_DIR/namespaces"
    ip -n "$SB_NS" link set lo up

    local schema=/usr/share/openvswitch/vswitch.ovsschema
    ovsdb-tool create "$SB_DIR/conf.db" "$schema" >/dev/null ||
        sb_fail "ovsdb-tool create failed"
    ip netns exec "$SB_NS" ovsdb-server --remote="punix:$SB_DIR/db.sock" \
        --pidfile="$SB_DIR/ovsdb-server.pid" --detach --no-chdir -vconsole:off \
        --log-file="$SB_DIR/ovsdb-server.log" "$SB_DIR/conf.db" ||
        sb_fail "ovsdb-server did not start (see $SB_DIR/ovsdb-server.log)"
    ovs-vsctl --no-wait init
    ip netns exec "$SB_NS" ovs-vswitchd "unix:$SB_DIR/db.sock" \
        --pidfile="$SB_DIR/ovs-vswitchd.pid" --detach --no-chdir -vconsole:off \
        --log-file="$SB_DIR/ovs-vswitchd.log" ||
        sb_fail "ovs-vswitchd did not start (see $SB_DIR/ovs-vswitchd.log)"
    sb_add_bridge "$SB_BR"
    local i=0
    while [ ! -S "$SB_DIR/$SB_BR.mgmt" ]; do
        i=$((i + 1))
        [ $i -lt 100 ] || sb_fail "bridge socket $SB_DIR/$SB_BR.mgmt never appeared"
        sleep 0.1
    done
    ip -n "$SB_NS" link set "$SB_BR" up 2>/dev/null || true
    sb_log "OVS $SB_ID up in namespace $SB_NS, run dir $SB_DIR"
}

sb_ns() {
    echo "flb$SB_ID-$1"
}

sb_exec() {
    local ns
    ns=$(sb_ns "$1")
    shift
    ip netns exec "$ns" "$@"
}

# sb_add_host NAME ADDR/LEN MAC [OFPORT] [ADDR6/LEN]
# The host's interface is e0 inside its namespace; the bridge side is
# recorded and printed by sb_port_of NAME. OFPORT ("" = any) pins the
# OpenFlow port number through ofport_request.
sb_add_host() {
    local name=$1 addr=$2 mac=$3 ofport=${4:-} addr6=${5:-}
    local ns veth
    ns=$(sb_ns "$name")
    SB_NHOSTS=$((SB_NHOSTS + 1))
    veth=f${SB_ID}v$SB_NHOSTS
    ip netns add "$ns" || sb_fail "cannot create namespace $ns"
    echo "$ns" >>"$SB_DIR/namespaces"
    ip link add "$veth" netns "$SB_NS" type veth peer name e0 netns "$ns" ||
        sb_fail "cannot create veth $veth for $name"
    echo "$veth" >"$SB_DIR/port.$name"
    ip -n "$ns" link set lo up
    ip -n "$ns" link set e0 address "$mac"
    ip -n "$ns" link set e0 up
    # Without this the userspace conntrack sees partial checksums and marks
    # every TCP packet +inv (field notes).
    ip netns exec "$ns" ethtool -K e0 tx off >/dev/null ||
        sb_fail "ethtool -K e0 tx off failed in $ns"
    ip -n "$SB_NS" link set "$veth" up
    # IPv6 DAD would delay the addresses; tests want them at once.
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.e0.accept_dad=0 2>/dev/null || true
    ip -n "$ns" addr add "$addr" dev e0
    if [ -n "$addr6" ]; then
        ip -n "$ns" addr add "$addr6" dev e0 nodad
    fi
    if [ -n "$ofport" ]; then
        ovs-vsctl add-port "$SB_BR" "$veth" -- \
            set interface "$veth" ofport_request="$ofport" ||
            sb_fail "cannot add port $veth"
    else
        ovs-vsctl add-port "$SB_BR" "$veth" || sb_fail "cannot add port $veth"
    fi
    SB_HOSTS="$SB_HOSTS $name"
}

sb_port_of() {
    cat "$SB_DIR/port.$1"
}

sb_ofport() {
    ovs-vsctl get interface "$1" ofport
}

# sb_make_real NAME VIP...: the VIP answers on lo, the host never answers
# ARP for it and never uses it as ARP source (classic IPVS-DR setup).
sb_make_real() {
    local name=$1 ns vip
    shift
    ns=$(sb_ns "$name")
    for k in all e0; do
        ip netns exec "$ns" sysctl -qw "net.ipv4.conf.$k.arp_ignore=1"
        ip netns exec "$ns" sysctl -qw "net.ipv4.conf.$k.arp_announce=2"
    done
    for vip in "$@"; do
        case $vip in
        *:*) ip -n "$ns" addr add "$vip/128" dev lo ;;
        *) ip -n "$ns" addr add "$vip/32" dev lo ;;
        esac
    done
}

# sb_bg NAME LOGFILE CMD...: background CMD inside host NAME, pid recorded
# for sb_cleanup; the pid is also left in SB_LAST_PID.
sb_bg() {
    local name=$1 log=$2 ns
    shift 2
    ns=$(sb_ns "$name")
    ip netns exec "$ns" "$@" >"$log" 2>&1 &
    SB_LAST_PID=$!
    echo "$SB_LAST_PID" >>"$SB_DIR/pids"
}

# sb_start_server NAME [PORT]: HTTP/1.1 keep-alive server answering GET with
# "NAME\n" and POST with "NAME BYTES\n" (see backend.py).
sb_start_server() {
    local name=$1 port=${2:-80}
    sb_bg "$name" "$SB_DIR/server.$name.log" "$SB_PY" "$SB_LIB_DIR/backend.py" \
        --name "$name" --port "$port"
    echo "$SB_LAST_PID" >"$SB_DIR/server.$name.pid"
    sb_wait_port "$name" 127.0.0.1 "$port"
}

sb_wait_port() {
    local name=$1 addr=$2 port=$3 i=0
    while ! sb_exec "$name" "$SB_PY" -c "
import socket,sys
s=socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET)
s.settimeout(0.5); s.connect((sys.argv[1], int(sys.argv[2])))" "$addr" "$port" 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 50 ] || sb_fail "nothing listens on $addr:$port in $name"
        sleep 0.1
    done
}

# sb_load FILE: apply a flowlb bundle file atomically (OpenFlow 1.5).
sb_load() {
    ovs-ofctl -O OpenFlow15 bundle "$SB_BR" "$1" ||
        sb_fail "ovs-ofctl bundle $SB_BR $1 refused the file"
}

# sb_add_bridge NAME [TIMEOUT_S]: a userspace bridge speaking every
# OpenFlow version (flowlbd and the tests use 1.5).
sb_add_bridge() {
    ovs-vsctl --timeout="${2:-20}" add-br "$1" -- set bridge "$1" \
        datapath_type=netdev \
        protocols=OpenFlow10,OpenFlow11,OpenFlow12,OpenFlow13,OpenFlow14,OpenFlow15 ||
        sb_fail "cannot create bridge $1"
}

# sb_diag: what the switch holds, for a failing test's log.
sb_diag() {
    echo "---- flows ----" >&2
    ovs-ofctl -O OpenFlow15 dump-flows "$SB_BR" >&2 || true
    echo "---- groups ----" >&2
    ovs-ofctl -O OpenFlow15 dump-groups "$SB_BR" >&2 || true
    echo "---- conntrack ----" >&2
    ovs-appctl dpctl/dump-conntrack >&2 || true
}

sb_cleanup() {
    local rc=$?
    trap - EXIT
    set +e
    [ -n "${SB_DIR:-}" ] && [ -d "$SB_DIR" ] || return $rc
    if [ $rc -ne 0 ] && [ -z "${SB_QUIET_FAIL:-}" ] && [ -S "$SB_DIR/$SB_BR.mgmt" ]; then
        sb_diag 2>&1 | tail -60 >&2
        echo "---- ovs-vswitchd.log (tail) ----" >&2
        tail -20 "$SB_DIR/ovs-vswitchd.log" >&2 2>/dev/null
    fi
    # The watchdog first (by pid), so it does not race the teardown.
    [ -f "$SB_DIR/watchdog.pid" ] && kill "$(cat "$SB_DIR/watchdog.pid")" 2>/dev/null
    [ -n "${SB_KEEP:-}" ] && touch "$SB_DIR/keep"
    "$SB_LIB_DIR/sb-teardown.sh" "$SB_DIR"
    return $rc
}
