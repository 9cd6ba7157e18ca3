# agent.sh: helpers for the flowlbd integration tests (tests/integration/
# agent_*.sh). Source after ovs-sandbox.sh and testlib.sh, after sb_init.
#
#   ag_start [OPTIONS...] SPEC   start flowlbd in the OVS namespace
#                                (detached, pidfile, log and control socket
#                                in $SB_DIR); AG_PID is set
#   ag_launch [OPTIONS...] SPEC  the same, leaving br0's addresses as they are
#   ag_host_addr                 (re)give br0 the health-check source address
#   ag_stop                      ask it to exit, wait for the pid to go
#   ag_kill9                     SIGKILL it (by pid)
#   ag_ctl CMD ARGS...           ovs-appctl -t the agent's socket
#   ag_json EXPR                 evaluate a Python expression on
#                                flowlb/show --json (bound to "s")
#   ag_wait_synced [SECONDS]     until the agent says it is in sync
#   ag_health_of ADDR            a real's health (up, down, unknown)
#   ag_last_check_of ADDR        the text of its last check
#   ag_all_up                    every real of every service up
#   ag_flows                     flowlb's flows, canonical (no stats), sorted
#   ag_groups                    flowlb's groups, canonical, sorted
#   now_ms                       wall clock in ms
#   wait_until SECONDS CMD...    poll CMD every 50 ms; fail after SECONDS;
#                                prints the elapsed ms
#   vip_get                      one new connection through the VIP (curl)

FLOWLBD=$FLOWLB_BIN/flowlbd
AG_CTL=$SB_DIR/flowlbd.ctl
AG_LOG=$SB_DIR/flowlbd.log
AG_PIDFILE=$SB_DIR/flowlbd.pid

ag_need() {
    [ -x "$FLOWLBD" ] || sb_fail "flowlbd not found at $FLOWLBD (set FLOWLB_BIN)"
}

# Health checks must reach the reals: flowlbd runs inside the OVS
# namespace, probing from the bridge's internal port (AG_HOST_ADDR on br0).
# Never from the host's namespace: there, an outbound proxy may accept any
# TCP connection and make every check pass.
AG_HOST_ADDR=${AG_HOST_ADDR:-10.0.0.254/24}
ag_host_addr() {
    ip -n "$SB_NS" addr replace "$AG_HOST_ADDR" dev "$SB_BR"
    ip -n "$SB_NS" link set "$SB_BR" up
}

# AG_WRAPPER: a command to run flowlbd under, e.g.
#   AG_WRAPPER="valgrind -q --log-file=/tmp/vg.%p --error-exitcode=99"
ag_start() {
    ag_host_addr
    ag_launch "$@"
}

# ag_launch: ag_start without (re)giving br0 the health-check address.
ag_launch() {
    ip netns exec "$SB_NS" ${AG_WRAPPER:-} "$FLOWLBD" --bridge "unix:$SB_DIR/$SB_BR.mgmt" --unixctl "$AG_CTL" \
        --pidfile="$AG_PIDFILE" --detach --no-chdir --log-file="$AG_LOG" \
        -vconsole:off -vswconn:file:dbg -vagent:file:dbg "$@" || sb_fail "flowlbd did not start: $(tail -5 "$AG_LOG" 2>/dev/null)"
    AG_PID=$(cat "$AG_PIDFILE")
    echo "$AG_PID" >>"$SB_DIR/pids"
}

ag_stop() {
    ovs-appctl -t "$AG_CTL" exit >/dev/null 2>&1 || true
    local i=0
    while kill -0 "$AG_PID" 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 100 ] || { kill -9 "$AG_PID"; break; }
        sleep 0.05
    done
}

ag_kill9() {
    kill -9 "$AG_PID"
    local i=0
    while kill -0 "$AG_PID" 2>/dev/null; do
        i=$((i + 1)); [ $i -lt 100 ] || sb_fail "flowlbd $AG_PID survived SIGKILL"
        sleep 0.05
    done
    rm -f "$AG_PIDFILE"
}

ag_ctl() {
    ovs-appctl -t "$AG_CTL" "$@"
}

ag_json() {
    ag_ctl flowlb/show --json | "$SB_PY" -c '
import json, sys
s = json.load(sys.stdin)
v = eval(sys.argv[1])
print(v if not isinstance(v, bool) else str(v).lower())' "$1"
}

# Synced: the agent has dumped the switch and holds nothing unsent, and the
# installed view has as many flows as it wants.
ag_synced() {
    [ "$(ag_json 's["synced"] and s["installed_flows"] == s["desired_flows"]' 2>/dev/null)" = true ]
}

ag_wait_synced() {
    wait_until "${1:-10}" ag_synced >/dev/null || sb_fail "flowlbd never got in sync: $(tail -5 "$AG_LOG")"
}

# ag_health_of ADDR / ag_last_check_of ADDR: a real's health state and its
# last check's text, as flowlb/show reports them (first service that has
# it); ag_all_up: every real of every service is up.
ag_health_of() { ag_json "[r['health'] for v in s['services'] for r in v['reals'] if r['address'] == '$1'][0]"; }
ag_last_check_of() { ag_json "[r.get('last_check', '') for v in s['services'] for r in v['reals'] if r['address'] == '$1'][0]"; }
ag_all_up() { [ "$(ag_json 'all(r["health"] == "up" for v in s["services"] for r in v["reals"])')" = true ]; }

ag_flows() {
    ovs-ofctl -O OpenFlow15 --no-stats --no-names dump-flows "$SB_BR" \
        "cookie=0xf10b000000000000/0xffff000000000000" | sed 's/^ *//' | sort
}

# Buckets sorted by bucket_id within each group: a select group's buckets
# carry no order (OVS scores each by its id), and a group loaded by hand
# may list them otherwise than flowlbd (which puts a bucket that left and
# came back where its group has it).
ag_groups() {
    ovs-ofctl -O OpenFlow15 --no-names dump-groups "$SB_BR" |
        grep -o 'group_id=.*' | awk '{
            n = split($0, part, ",bucket=")
            for (i = 2; i <= n; i++) {
                id[i] = part[i]; sub(/^bucket_id:/, "", id[i]); sub(/,.*/, "", id[i])
            }
            for (i = 3; i <= n; i++)        # insertion sort, by id
                for (j = i; j > 2 && id[j - 1] + 0 > id[j] + 0; j--) {
                    t = id[j]; id[j] = id[j - 1]; id[j - 1] = t
                    t = part[j]; part[j] = part[j - 1]; part[j - 1] = t
                }
            line = part[1]
            for (i = 2; i <= n; i++) line = line ",bucket=" part[i]
            print line
        }' | sort
}

now_ms() {
    echo $(($(date +%s%N) / 1000000))
}

wait_until() {
    local secs=$1 t0 deadline
    shift
    t0=$(now_ms)
    deadline=$((t0 + secs * 1000))
    until "$@"; do
        [ "$(now_ms)" -lt "$deadline" ] || return 1
        sleep 0.05
    done
    echo $(($(now_ms) - t0))
}

vip_get() {
    sb_exec client curl -sS --max-time 3 "http://$DEMO_VIP/"
}

# ag_bucket_of ADDR: bucket id of real ADDR in the demo group, "" if none.
ag_bucket_of() {
    ag_json "[r.get('bucket_id', '') for v in s['services'] for r in v['reals'] if r['address'] == '$1'][0]"
}

# ag_in_switch_group MARKHEX: is a bucket setting ct_mark MARK installed?
ag_mark_installed() {
    ovs-ofctl -O OpenFlow15 --no-names dump-groups "$SB_BR" | grep -q -- "$1->ct_mark"
}

# Conntrack mark of a demo real (its IPv4 address as a number).
demo_mark() {
    local ip
    ip=$(demo_ip "$1")
    printf '0x%x' "$(echo "$ip" | awk -F. '{ print ($1 * 16777216) + ($2 * 65536) + ($3 * 256) + $4 }')"
}

# A long-lived keep-alive connection from the client through the VIP
# (tests/lib/longconn.py); LC_PID, LC_CTL set. lc_real prints its real.
lc_start() {
    LC_CTL=$SB_DIR/longconn.$1
    mkdir -p "$LC_CTL"
    sb_bg client "$LC_CTL/log" "$SB_PY" "$SB_LIB_DIR/longconn.py" "$DEMO_VIP" \
        --ctl "$LC_CTL" --interval 0.2 --max-time "${2:-120}"
    LC_PID=$SB_LAST_PID
    local i=0
    while [ ! -e "$LC_CTL/started" ]; do
        kill -0 "$LC_PID" 2>/dev/null || sb_fail "long connection died: $(cat "$LC_CTL/log")"
        i=$((i + 1)); [ $i -lt 100 ] || sb_fail "long connection never answered"
        sleep 0.1
    done
}

lc_real() {
    awk 'NR == 1 { print $3 }' "$LC_CTL/log"
}

# lc_finish: stop it; fail if it broke or ever answered from another real.
lc_finish() {
    touch "$LC_CTL/stop"
    wait "$LC_PID" || sb_fail "the long connection broke: $(tail -3 "$LC_CTL/log")"
    local real n others
    real=$(lc_real)
    n=$(wc -l <"$LC_CTL/log")
    others=$(awk -v r="$real" '$3 != r' "$LC_CTL/log" | head -3)
    [ -z "$others" ] || sb_fail "the long connection moved off $real: $others"
    echo "long connection: $n answers, all from $real"
}
