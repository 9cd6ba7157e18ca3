#!/bin/bash
# flowlbd's control socket while the daemon starts. Loading a spec of
# 10,000 services takes seconds; the socket used to appear only after it.
# The spec is given through a FIFO, so the daemon stays in its start-up
# until the test writes it. Asserted:
#  - while starting: flowlb/show answers "starting" (text and --json:
#    starting true, not synced), drain and reload are refused saying so;
#    once the spec is written, the pipeline is installed and show --json
#    says starting false and synced;
#  - a SIGHUP while starting does not kill the daemon: it reloads once
#    started (the reload reads the FIFO again);
#  - exit while starting: replied at once, the daemon exits 0 once the
#    spec is loaded, its socket removed;
#  - a broken spec: exit status 1, FILE:LINE:COL on stderr, socket
#    removed.
set -eu
. "$(dirname "$0")/../lib/ovs-sandbox.sh"
. "$SB_LIB_DIR/testlib.sh"
t_need_flowlb
sb_init
. "$SB_LIB_DIR/agent.sh"
ag_need
ag_host_addr

# start_fifo NAME: flowlbd (in the foreground, in the background of this
# shell) reading its spec from the FIFO $SB_DIR/NAME.lb; AG_CTL, AG_LOG and
# AG_PID are its own.
start_fifo() {
    local name=$1
    FIFO=$SB_DIR/$name.lb
    AG_CTL=$SB_DIR/$name.ctl
    AG_LOG=$SB_DIR/$name.log
    ERR=$SB_DIR/$name.err
    mkfifo "$FIFO"
    ip netns exec "$SB_NS" "$FLOWLBD" --bridge "unix:$SB_DIR/$SB_BR.mgmt" \
        --unixctl "$AG_CTL" --pidfile="$SB_DIR/$name.pid" --no-chdir \
        --log-file="$AG_LOG" -vconsole:off --no-checks "$FIFO" 2>"$ERR" &
    AG_PID=$!
    echo "$AG_PID" >>"$SB_DIR/pids"
    wait_until 10 test -S "$AG_CTL" >/dev/null ||
        sb_fail "$name: no control socket 10 s after the start: $(cat "$ERR")"
}

# exit_status_within SECONDS: waits for AG_PID (a child of this shell, so
# not in a subshell) and sets RC to its exit status; fails if it is still
# running after SECONDS.
exit_status_within() {
    wait_until "$1" sh -c "! kill -0 $AG_PID 2>/dev/null" >/dev/null ||
        sb_fail "flowlbd $AG_PID still running $1 s later"
    RC=0
    wait "$AG_PID" || RC=$?
}

echo "== show, drain and reload while starting; then started"
start_fifo a
out=$(ag_ctl flowlb/show) || sb_fail "flowlb/show refused while starting"
echo "$out"
echo "$out" | grep -q "^spec $FIFO (starting: loading it for [0-9]* ms)$" ||
    sb_fail "show while starting: $out"
[ "$(ag_json 's["starting"] and not s["synced"] and s["spec"] == "'"$FIFO"'"')" = true ] ||
    sb_fail "show --json while starting: $(ag_ctl flowlb/show --json)"
if err=$(ag_ctl flowlb/drain web 10.0.0.11 2>&1); then
    sb_fail "drain accepted while starting: $err"
fi
echo "$err" | grep -q "flowlbd is starting" || sb_fail "drain refused without saying why: $err"
if err=$(ag_ctl flowlb/reload 2>&1); then
    sb_fail "reload accepted while starting: $err"
fi
echo "$err" | grep -q "flowlbd is starting" || sb_fail "reload refused without saying why: $err"
kill -HUP "$AG_PID"
cat "$EXAMPLES/web.lb" >"$FIFO"
ag_wait_synced 20
[ "$(ag_json 's["starting"]')" = false ] || sb_fail "still starting once synced"
ovs-ofctl -O OpenFlow15 dump-groups "$SB_BR" | grep -q group_id ||
    sb_fail "no group installed"
# The SIGHUP sent while starting: a reload once started, reading the FIFO
# again.
wait_until 10 grep -q "SIGHUP: reloading" "$AG_LOG" >/dev/null ||
    sb_fail "the SIGHUP sent while starting was lost: $(tail -5 "$AG_LOG")"
cat "$EXAMPLES/web.lb" >"$FIFO"
wait_until 10 grep -q "reloaded $FIFO" "$AG_LOG" >/dev/null ||
    sb_fail "no reload after the SIGHUP: $(tail -5 "$AG_LOG")"
kill -0 "$AG_PID" || sb_fail "flowlbd died"
ag_ctl exit >/dev/null
exit_status_within 10
[ "$RC" = 0 ] || sb_fail "exit status $RC after exit"

echo "== exit while starting"
start_fifo b
ag_ctl exit >/dev/null || sb_fail "exit refused while starting"
kill -0 "$AG_PID" || sb_fail "flowlbd exited before its spec was read"
cat "$EXAMPLES/web.lb" >"$FIFO"
exit_status_within 10
[ "$RC" = 0 ] || sb_fail "exit status $RC after exit while starting: $(cat "$ERR")"
[ -e "$AG_CTL" ] && sb_fail "control socket left behind: $AG_CTL"
grep -q "exiting" "$AG_LOG" || sb_fail "no 'exiting' in the log: $(tail -3 "$AG_LOG")"

echo "== broken spec"
start_fifo c
printf 'service a {\n    vip 10.0.0.1 tcp 80;\n    bogus;\n}\n' >"$FIFO"
exit_status_within 10
[ "$RC" = 1 ] || sb_fail "exit status $RC for a broken spec"
grep -q "^$FIFO:3:5: error: unknown keyword 'bogus'" "$ERR" ||
    sb_fail "no located error on stderr: $(cat "$ERR")"
[ -e "$AG_CTL" ] && sb_fail "control socket left behind: $AG_CTL"

echo "PASS: agent_startup"
