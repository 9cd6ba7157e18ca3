# traffic.sh: continuous traffic through the VIP for the fault tests
# (tests/integration/fault_*.sh), on top of tests/lib/traffic.py. Source
# after ovs-sandbox.sh, testlib.sh and agent.sh.
#
#   tr_start [traffic.py run options]  start the client in the client (to
#                                      TR_VIP, default DEMO_VIP)
#                                      namespace (N keep-alive connections +
#                                      a stream of new ones); TR_DIR, TR_PID
#   tr_now                             epoch seconds (for --from/--to)
#   tr_count [FROM [TO]]               "ok=.. fail=.. broken=.. ..." for the
#                                      requests started in [FROM, TO)
#   tr_field LINE NAME                 one field of a tr_count line
#   tr_expect LABEL FAIL BROKEN [FROM [TO]]
#                                      print the counts; fail the test unless
#                                      exactly FAIL failed requests and
#                                      BROKEN broken connections were seen and
#                                      requests went through (ok > 0)
#   tr_stop                            stop it (waits for its exit)
# Failed requests = new connections that failed + keep-alive requests that
# broke their connection; every failure has a reason in $TR_DIR/events.

TR_PY=$SB_LIB_DIR/traffic.py

tr_start() {
    TR_DIR=$SB_DIR/traffic.$(date +%s%N)
    mkdir -p "$TR_DIR"
    sb_bg client "$TR_DIR/log" "$SB_PY" "$TR_PY" run "${TR_VIP:-$DEMO_VIP}" --ctl "$TR_DIR" "$@"
    TR_PID=$SB_LAST_PID
    local i=0
    while [ ! -e "$TR_DIR/started" ]; do
        kill -0 "$TR_PID" 2>/dev/null || sb_fail "traffic client died: $(cat "$TR_DIR/log")"
        i=$((i + 1)); [ $i -lt 200 ] || sb_fail "traffic never started: $(tail -5 "$TR_DIR/events" 2>/dev/null)"
        sleep 0.05
    done
}

tr_now() {
    date +%s.%N
}

tr_count() {
    "$SB_PY" "$TR_PY" count "$TR_DIR" --from "${1:-0}" --to "${2:-1e12}"
}

tr_field() {
    echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

tr_expect() {
    local label=$1 want_fail=$2 want_broken=$3 c f b ok
    c=$(tr_count "${4:-0}" "${5:-1e12}")
    echo "$label: $c"
    f=$(tr_field "$c" fail); b=$(tr_field "$c" broken); ok=$(tr_field "$c" ok)
    [ "$ok" -gt 0 ] || sb_fail "$label: no request went through at all"
    if [ "$f" != "$want_fail" ] || [ "$b" != "$want_broken" ]; then
        echo "$label: failures:" >&2
        awk -v a="${4:-0}" -v z="${5:-1e12}" '$1 >= a && $1 < z && $4 != "ok"' \
            "$TR_DIR/events" | head -20 >&2
        sb_fail "$label: want fail=$want_fail broken=$want_broken, got fail=$f broken=$b"
    fi
}

tr_stop() {
    touch "$TR_DIR/stop"
    local i=0
    while kill -0 "$TR_PID" 2>/dev/null; do
        i=$((i + 1)); [ $i -lt 300 ] || sb_fail "traffic client does not stop"
        sleep 0.05
    done
}

# TR_SLOW: factor for the time bounds of the fault tests: 3 when flowlbd is
# built with a sanitizer or runs under a wrapper (valgrind), else 1.
if grep -q -a -m1 '__asan_init\|__ubsan_handle' "$FLOWLBD" 2>/dev/null || [ -n "${AG_WRAPPER:-}" ]; then
    TR_SLOW=3
else
    TR_SLOW=1
fi
