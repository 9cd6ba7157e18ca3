# bench/agent.sh: the benchmarks that need flowlbd (items 3, 4, 5, 7, 6 of
# issue 6). Sourced by bench/run after sb_init, with its helpers (res, log,
# calc, now, cpu_of, fresh_bridge, ofctl_load, want) and variables (MODE,
# WORK, OUT, FLOWLB, FLOWLBD, BENCH_SRC, SIZES).
#
# Where flowlbd exposes no hook, the figures come from two places:
#  - its log (ms timestamps): the health verdict ("service S real R: up ->
#    down"), "bundle N: K changes (...)" and, at -vswconn:file:dbg,
#    "bundle N committed" (logged on the barrier reply);
#  - bench/ofproxy.py between flowlbd and the bridge: every OpenFlow message
#    with its type, length and a us timestamp (messages, bytes, time of the
#    barrier reply on the wire).

AGENT_SIZE=2000x16
[ "$MODE" = full ] && AGENT_SIZE=10000x32
# Item 5's smaller spec: the same reload there shows what grows with the
# spec.
RELOAD_SMALL_SIZE=200x8
[ "$MODE" = full ] && RELOAD_SMALL_SIZE=1000x8

# log_epoch LINE: the epoch seconds of an OVS log line's timestamp.
log_epoch() {
    local ts
    ts=$(echo "$1" | sed -n 's/^\([0-9-]*\)T\([0-9:.]*\)Z.*/\1 \2/p')
    [ -n "$ts" ] && date -u -d "$ts" +%s.%3N
}

# ag_run NAME NS SPEC BRIDGE_TARGET [flowlbd options]: flowlbd in the
# foreground of a background job inside namespace NS ("" = the OVS one),
# log in $WORK/NAME.log, control socket $WORK/NAME.ctl; sets AG_PID.
ag_run() {
    local name=$1 ns=$2 spec=$3 target=$4
    shift 4
    [ -n "$ns" ] || ns=$SB_NS
    AG_LOG=$WORK/$name.log
    AG_CTL=$WORK/$name.ctl
    : >"$AG_LOG"
    ip netns exec "$ns" ${AG_PIN:-} "$FLOWLBD" --bridge="$target" --unixctl="$AG_CTL" \
        --no-chdir --log-file="$AG_LOG" -vconsole:off -vswconn:file:dbg \
        "$@" "$spec" >>"$WORK/$name.out" 2>&1 &
    AG_PID=$!
    echo "$AG_PID" >>"$SB_DIR/pids"
}

ag_exit() {
    ovs-appctl -t "$AG_CTL" exit >/dev/null 2>&1 || kill "$AG_PID" 2>/dev/null
    local i=0
    while kill -0 "$AG_PID" 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 100 ] || { kill -9 "$AG_PID" 2>/dev/null; break; }
        sleep 0.05
    done
}

# wait_log PATTERN TIMEOUT_S [AFTER_LINE]: wait until the agent log has a
# line matching PATTERN (after line number AFTER_LINE); prints that line.
wait_log() {
    local pat=$1 secs=$2 after=${3:-0} i=0 line
    while :; do
        line=$(tail -n +$((after + 1)) "$AG_LOG" | grep -m1 -e "$pat")
        [ -n "$line" ] && { echo "$line"; return 0; }
        kill -0 "$AG_PID" 2>/dev/null || { echo "flowlbd died: $(tail -3 "$AG_LOG")" >&2; return 1; }
        i=$((i + 1))
        [ $i -lt $((secs * 50)) ] || return 1
        sleep 0.02
    done
}

loglines() { wc -l <"$AG_LOG"; }

# ---- 3: full push ---------------------------------------------------------
# PUSH_ROUNDS rounds (3 at full size, 1 at CI size), each ovs-ofctl then
# flowlbd on a fresh, idle bridge; the figures are the medians, the ratio
# the median of the rounds' ratios: one round on this shared machine
# varies by a third either way.
push_round() {
    local spec=$1 out=$2 c0 t0 line t1 have want
    fresh_bridge
    ofctl_load "$out"
    ROUND_REF=$LOAD_WALL ROUND_REF_CPU=$LOAD_CPU
    fresh_bridge
    c0=$(cpu_of "$VSWITCHD_PID")
    t0=$(now)
    ag_run push "" "$spec" "unix:$SB_DIR/br0.mgmt" --no-checks --reconcile-interval=0
    line=$(wait_log 'bundle 1 committed' 600) || sb_fail "flowlbd never committed its first bundle"
    t1=$(log_epoch "$line")
    ROUND_CPU=$(calc "$(cpu_of "$AG_PID") + $(cpu_of "$VSWITCHD_PID") - $c0")
    ROUND_PUSH=$(calc "$t1 - $t0")
    ROUND_CHANGES=$(grep -o 'bundle 1: [0-9]* changes' "$AG_LOG" | awk '{print $3}')
    ag_exit
    # The push counts only if it installed the same pipeline.
    have=$(ovs-ofctl -O OpenFlow15 dump-aggregate br0 | sed -n 's/.*flow_count=\([0-9]*\).*/\1/p')
    want=$(grep -c '^flow add' "$out")
    [ "$have" = "$want" ] || sb_fail "flowlbd installed $have flows, flowlb compile gives $want"
    restart_round "$spec" "$out"
}

# restart_round SPEC OUT: flowlbd started again on the bridge it has just
# programmed (an agent restart or upgrade): from its start to the end of
# its comparison with what the switch holds (flows and groups), which must
# find nothing to send; against `ovs-ofctl replace-flows` of the same flows
# (reads them, dumps the switch's, sends nothing; groups not compared).
restart_round() {
    local spec=$1 out=$2 t0 line t1 flows=$WORK/restart.flows
    sed -n 's/^flow add //p' "$out" >"$flows"
    switch_idle
    t0=$(now)
    ag_run restart "" "$spec" "unix:$SB_DIR/br0.mgmt" --no-checks --reconcile-interval=0
    line=$(wait_log 'full comparison' 600) || sb_fail "restarted flowlbd never compared"
    t1=$(log_epoch "$line")
    ROUND_RESTART=$(calc "$t1 - $t0")
    sleep 0.5
    grep -q 'bundle 1:' "$AG_LOG" &&
        sb_fail "restarted flowlbd changed a bridge that held its pipeline: $(grep -m1 'bundle 1:' "$AG_LOG")"
    ROUND_RESTART_DUMP=$(sed -n 's/.*dump 1: .*(full, \([0-9]*\) ms).*/\1/p' "$AG_LOG" | head -1)
    ag_exit
    switch_idle
    t0=$(now)
    ovs-ofctl -O OpenFlow15 replace-flows br0 "$flows" 2>>"$WORK/ofctl.log" ||
        sb_fail "ovs-ofctl replace-flows refused $flows"
    ROUND_REPLACE=$(calc "$(now) - $t0")
}

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

bench_push() {
    local size=$AGENT_SIZE spec=$WORK/s$AGENT_SIZE.lb out=$WORK/s$AGENT_SIZE.ofctl
    local rounds=1 r pushes="" refs="" ratios="" cpus="" ref_cpus=""
    local restarts="" replaces="" rratios=""
    [ "$MODE" = full ] && rounds=${PUSH_ROUNDS:-3}
    if [ ! -f "$out" ]; then
        "$BENCH_SRC/gen-spec" "${size%x*}" "${size#*x}" --stats "$WORK/s$size.stats" -o "$spec"
        "$FLOWLB" compile "$spec" -o "$out" || sb_fail "compile $size"
    fi
    for r in $(seq "$rounds"); do
        log "push round $r/$rounds: ovs-ofctl bundle of $size, then flowlbd (--no-checks), each into an empty bridge"
        push_round "$spec" "$out"
        log "   ovs-ofctl $ROUND_REF s ($ROUND_REF_CPU s CPU with ovs-vswitchd), flowlbd $ROUND_PUSH s ($ROUND_CPU s)"
        log "   restart onto it: flowlbd $ROUND_RESTART s (its dump $ROUND_RESTART_DUMP ms), ovs-ofctl replace-flows $ROUND_REPLACE s"
        restarts="$restarts $ROUND_RESTART" replaces="$replaces $ROUND_REPLACE"
        rratios="$rratios $(calc "$ROUND_RESTART / $ROUND_REPLACE")"
        pushes="$pushes $ROUND_PUSH" refs="$refs $ROUND_REF" cpus="$cpus $ROUND_CPU"
        ref_cpus="$ref_cpus $ROUND_REF_CPU" ratios="$ratios $(calc "$ROUND_PUSH / $ROUND_REF")"
    done
    local push ref ratio cpu ref_cpu
    push=$(echo $pushes | tr ' ' '\n' | median)
    ref=$(echo $refs | tr ' ' '\n' | median)
    ratio=$(echo $ratios | tr ' ' '\n' | median)
    cpu=$(echo $cpus | tr ' ' '\n' | median)
    ref_cpu=$(echo $ref_cpus | tr ' ' '\n' | median)
    res push "$size flowlbd push s (vs ofctl bundle; median of $rounds)" "$push" "$ref" \
        "$ratio" "<= 1.0" \
        "$(awk -v a="$ratio" 'BEGIN{print (a <= 1.0) ? "met" : "MISSED"}') (rounds:$ratios)"
    res push "$size push CPU s, agent+vswitchd (vs ofctl)" "$cpu" "$ref_cpu" \
        "$(calc "$cpu / $ref_cpu")" "report" "- ($ROUND_CHANGES ops, 1 bundle)"
    res push "$size restart onto it s, to compared (vs ofctl replace-flows)" \
        "$(echo $restarts | tr ' ' '\n' | median)" "$(echo $replaces | tr ' ' '\n' | median)" \
        "$(echo $rratios | tr ' ' '\n' | median)" "report" "- (nothing sent; rounds:$rratios)"
}

# ---- 4 + 5: one real down, reload ----------------------------------------
# The spec: AGENT_SIZE services; only s0 is health-checked (fast check), its
# reals live as addresses on lo of namespace "hc" where flowlbd runs, with a
# listener on port 80. Removing an address fails that real's check.
hc_ns() { echo "flb$SB_ID-hc"; }

hc_setup() {
    local ns
    ns=$(hc_ns)
    ip netns add "$ns" || sb_fail "cannot create $ns"
    echo "$ns" >>"$SB_DIR/namespaces"
    ip -n "$ns" link set lo up
    # Raise the namespace's limits for many loopback connections.
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="1024 65000"
    ip netns exec "$ns" sysctl -qw net.core.somaxconn=8192 2>/dev/null || true
}

# slash16s FILE: the /16s of the IPv4 addresses listed in FILE, once each.
slash16s() { awk -F. '{ print $1 "." $2 ".0.0/16" }' "$1" | sort -u; }

# hc_addrs FILE: put every address listed in FILE on lo in the hc namespace.
hc_addrs() {
    sed 's|.*|address replace &/32 dev lo|' "$1" | ip -n "$(hc_ns)" -batch - ||
        sb_fail "cannot add the reals' addresses"
}

hc_listen() {
    [ -z "${HC_LISTEN:-}" ] || return 0
    HC_LISTEN=1
    ip netns exec "$(hc_ns)" "$OUT/tcpbench" serve "$1" 4 >>"$WORK/hc-listen.log" 2>&1 &
    echo $! >>"$SB_DIR/pids"
}

# proxy_msgs FROM_EPOCH: summary of agent->switch messages logged by the
# proxy from FROM_EPOCH to the first barrier reply after it:
# "msgs bytes bundle_adds flow_mods_inside first_ts barrier_ts".
proxy_window() {
    awk -v from="$1" '
        $1 < from { next }
        $2 == "c2s" && ($3 == 14 || $3 == 15 || $3 == 20 || $3 == 33 || $3 == 34) {
                      if (!first) first = $1; n++; b += $4
                      if ($3 == 34) { adds++; if ($6 == 14) flows++ } }
        $2 == "s2c" && $3 == 21 && first { bar = $1; exit }
        END { printf "%d %d %d %d %s %s\n", n, b, adds, flows, first, bar }' "$WORK/proxy.log"
}

# switch_settle: until ovs-vswitchd has used under 10% of a CPU for half a
# second (30 s at most). Right after a large bundle it is still busy with
# the new flows (its revalidators), and a change timed then measures that
# start-up transient (up to 9 ms at 10k x 32), not the steady state item 4
# is about. The changes still fall at random moments of the agent's
# periodic reconcile rounds.
switch_settle() {
    local t0 c0 c1 i
    t0=$(now)
    for i in $(seq 60); do
        c0=$(cpu_of "$VSWITCHD_PID")
        sleep 0.5
        c1=$(cpu_of "$VSWITCHD_PID")
        awk -v a="$c0" -v b="$c1" 'BEGIN { exit !(b - a < 0.05) }' && break
    done
    log "ovs-vswitchd settled $(calc "$(now) - $t0") s after the install"
}

# realdown_wait_up: until every checked real of s0 is up (logged at INFO).
realdown_wait_up() {
    local i=0
    while [ "$(grep -c 'service s0 real .* -> up' "$AG_LOG")" -lt "$(wc -l <"$WORK/s0.all")" ]; do
        i=$((i + 1)); [ $i -lt 300 ] || sb_fail "s0's reals never all came up: $(grep 's0 real' "$AG_LOG" | tail -3)"
        sleep 0.1
    done
}

# realdown_changes REPS direct|proxied: REPS times, one of s0's reals goes
# down (unreachable: the next probe fails) and comes back, at
# random moments, so that some changes fall inside the agent's periodic
# reconcile rounds. Appends per change to realdown.txt (direct) or
# realdown-proxied.txt: "real flowlbd_ms agent_ms switch_ms msgs bytes
# bundled_ops flow_mods logproxy_ms" (the proxy columns only if proxied).
realdown_changes() {
    local reps=$1 how=$2 k victim after line tv ds n_reals out=$WORK/realdown.txt
    [ "$how" = proxied ] && out=$WORK/realdown-proxied.txt
    n_reals=$(wc -l <"$WORK/s0.reals")
    for k in $(seq "$reps"); do
        victim=$(sed -n "$(( (k - 1) % n_reals + 1 ))p" "$WORK/s0.reals")
        after=$(loglines)
        # The real's host gone, as a failed ARP resolution shows it
        # (EHOSTUNREACH): an unreachable route under its address, then the
        # address removed. Without any route a probe fails with
        # ENETUNREACH, which flowlbd takes for this host's own lack of a
        # route and judges nothing by.
        ip -n "$(hc_ns)" route add unreachable "$victim/32"
        ip -n "$(hc_ns)" addr del "$victim/32" dev lo
        line=$(wait_log "service s0 real $victim: .* -> down" 10 "$after") ||
            sb_fail "no down verdict for $victim"
        tv=$(log_epoch "$line")
        line=$(wait_log 'health verdict in the switch' 10 "$after") ||
            sb_fail "flowlbd logged no verdict-to-switch time for $victim"
        ds=$(echo "$line" | sed -n 's/.*in the switch \([0-9.]*\) ms.*/\1/p')
        if [ "$how" = proxied ]; then
            local msgs bytes adds flows w0 w1 dt da dw
            sleep 0.2
            read -r msgs bytes adds flows w0 w1 < <(proxy_window "$(calc "$tv - 0.002")")
            dt=$(calc "($w1 - $tv) * 1000")
            da=$(calc "($w0 - $tv) * 1000")
            dw=$(calc "($w1 - $w0) * 1000")
            log "real $victim down (proxied): ${ds} ms by flowlbd; log+proxy ${dt} ms (agent ${da}, switch ${dw}); $msgs msgs, $bytes B, $adds bundled ops, $flows flow_mods"
            echo "$victim $ds $da $dw $msgs $bytes $adds $flows $dt" >>"$out"
        else
            log "real $victim down: verdict->barrier ${ds} ms (flowlbd's own timing)"
            echo "$victim $ds" >>"$out"
        fi
        after=$(loglines)
        ip -n "$(hc_ns)" addr add "$victim/32" dev lo
        ip -n "$(hc_ns)" route del unreachable "$victim/32"
        wait_log "service s0 real $victim: .* -> up" 10 "$after" >/dev/null
        wait_log 'health verdict in the switch' 10 "$after" >/dev/null
        sleep "$(awk -v r="$RANDOM" 'BEGIN { print 0.05 + (r % 700) / 1000 }')"
    done
}

bench_change() {
    local size=$AGENT_SIZE n m spec=$WORK/agent.lb
    n=${size%x*} m=${size#*x}
    "$BENCH_SRC/gen-spec" "$n" "$m" --port 80 --check-first 1 \
        --check "tcp interval 100ms timeout 50ms rise 1 fall 1" -o "$spec"
    hc_setup
    # s0's reals with a bucket (weight > 0).
    awk '/^service s0 /,/^}/' "$spec" | awk '$1 == "real" && $NF != "0;" { print $2 }' >"$WORK/s0.reals"
    awk '/^service s0 /,/^}/' "$spec" | awk '$1 == "real" { print $2 }' >"$WORK/s0.all"
    hc_addrs "$WORK/s0.all"
    hc_listen 80
    fresh_bridge
    # Timing: flowlbd connected to the bridge directly, each change timed
    # by flowlbd itself (verdict taken -> barrier reply processed, in
    # microseconds). The proxy, single-threaded Python, delays whatever it
    # forwards by up to milliseconds when a reconcile reply passes through
    # it, so it only counts messages, in the second phase.
    log "realdown: flowlbd on $size, s0 checked every 100 ms (fall 1)"
    ag_run realdown "$(hc_ns)" "$spec" "unix:$SB_DIR/br0.mgmt"
    wait_log 'bundle 1 committed' 600 >/dev/null || sb_fail "flowlbd never installed $size"
    realdown_wait_up
    switch_settle
    local reps=5 proxied=3
    [ "$MODE" = full ] && reps=${RD_REPS:-40} && proxied=10
    : >"$WORK/realdown.txt"
    realdown_changes "$reps" direct
    local stats med p90 max slow mean
    stats=$(awk '{ print $2 }' "$WORK/realdown.txt" | sort -g | awk '
        { v[NR] = $1; sum += $1 } END {
            p = int(NR * 0.9 + 0.999); if (p < 1) p = 1
            slow = 0; for (i = 1; i <= NR; i++) if (v[i] >= 5) slow++
            printf "%.2f %.2f %.2f %d %.2f", v[int((NR + 1) / 2)], v[p], v[NR], slow, sum / NR }')
    read -r med p90 max slow mean <<<"$stats"
    res realdown "$size verdict->barrier ms, median/p90/max" "$med / $p90 / $max" "" "" "< 5 ms" \
        "$(awk -v a="$max" 'BEGIN{print (a < 5) ? "met" : "MISSED"}') ($slow of $reps >= 5 ms; mean $mean)"
    ag_exit

    # Counting: the same agent through the proxy (the pipeline is already
    # there: a dump, no bundle), a few changes, then the reloads.
    : >"$WORK/proxy.log"
    "$SB_PY" "$BENCH_SRC/ofproxy.py" "$WORK/proxy.sock" "$SB_DIR/br0.mgmt" "$WORK/proxy.log" &
    echo $! >>"$SB_DIR/pids"
    local i=0
    while [ ! -S "$WORK/proxy.sock" ]; do
        i=$((i + 1)); [ $i -lt 100 ] || sb_fail "ofproxy never listened"; sleep 0.05
    done
    ag_run realdown-proxied "$(hc_ns)" "$spec" "unix:$WORK/proxy.sock"
    wait_log 'full comparison' 600 >/dev/null || sb_fail "flowlbd never compared $size through the proxy"
    realdown_wait_up
    : >"$WORK/realdown-proxied.txt"
    realdown_changes "$proxied" proxied
    # Every change, not only the last, must have been one group change.
    local odd msgs bytes adds flows
    odd=$(awk '$7 != 1 || $8 != 0' "$WORK/realdown-proxied.txt" | wc -l)
    read -r _ _ _ _ msgs bytes adds flows _ < <(tail -1 "$WORK/realdown-proxied.txt")
    res realdown "$size ops sent per change (vs services)" "$adds" "$n" "" "1 group mod" \
        "$([ "$odd" = 0 ] && echo met || echo "MISSED ($odd of $proxied changes)") ($msgs msgs, $bytes B, $flows flow_mods)"
    res realdown "$size   through the proxy: flowlbd's / log+proxy median" \
        "$(awk '{ print $2 }' "$WORK/realdown-proxied.txt" | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] }') / $(awk '{ print $9 }' "$WORK/realdown-proxied.txt" | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] }')" \
        "" "" "report" "-"
    res realdown "$size   of which agent / switch (proxy, means)" \
        "$(awk '{ a += $3; w += $4 } END { printf "%.2f / %.2f", a / NR, w / NR }' "$WORK/realdown-proxied.txt")" \
        "" "" "report" "-"

    # ---- 5: reload, one service added / one weight changed ----
    local before
    before=$(grep -c 'committed' "$AG_LOG")
    {
        cat "$spec"
        echo "service added {"
        echo "    vip 192.168.250.1 tcp 80;"
        echo "    vip-mac 02:f1:c0:a8:fa:01;"
        echo "    real 10.64.0.1 mac 02:0a:0a:40:00:01 port 1;"
        echo "    real 10.64.0.2 mac 02:0a:0a:40:00:02 port 2;"
        echo "}"
    } >"$WORK/agent.new"
    reload_one "one service added" "$WORK/agent.new"
    local inplace_ms=$RELOAD_MS inplace_loop=$RELOAD_LOOP_MS
    # The reference: one service added before the others, the same change
    # at the other end of the file. Every service's line moves, so the
    # whole spec is read, checked and lowered again (with the unchanged
    # services' groups and flows copied).
    {
        echo "service added0 {"
        echo "    vip 192.168.250.2 tcp 80;"
        echo "    vip-mac 02:f1:c0:a8:fa:02;"
        echo "    real 10.64.0.1 mac 02:0a:0a:40:00:01 port 1;"
        echo "    real 10.64.0.2 mac 02:0a:0a:40:00:02 port 2;"
        echo "}"
        cat "$spec"
    } >"$WORK/agent.new"
    reload_one "one service added first (whole reload)" "$WORK/agent.new"
    res reload "one service added: at the end / first" "$inplace_ms" "$RELOAD_MS" \
        "$(calc "$inplace_ms / $RELOAD_MS")" "follows the change" \
        "$(awk -v a="$inplace_ms" -v b="$RELOAD_MS" 'BEGIN{print (a < b / 2) ? "in place" : "no faster"}') (loop $inplace_loop ms / $RELOAD_LOOP_MS ms)"
    # One weight changed: the first real of service s1 gets another weight.
    awk '/^service s1 /{ins=1} ins && $1 == "real" { sub(/weight [0-9]+;/, "weight 12345;"); ins=0 } { print }' \
        "$spec" >"$WORK/agent.new"
    cmp -s "$spec" "$WORK/agent.new" && sb_fail "weight edit did nothing"
    reload_one "one weight changed" "$WORK/agent.new"
    # Administrative changes of one real (no spec change): drained, a
    # reload while it is drained (its weight then differs from the
    # file's), enabled again.
    local s1real
    s1real=$(awk '/^service s1 /{ins=1} ins && $1 == "real" { print $2; exit }' "$spec")
    admin_one "drain one real" flowlb/drain s1 "$s1real"
    awk '/^service s2 /{ins=1} ins && $1 == "real" { sub(/weight [0-9]+;/, "weight 12345;"); ins=0 } { print }' \
        "$spec" >"$WORK/agent.new"
    reload_one "one weight changed, a real drained" "$WORK/agent.new"
    admin_one "enable it again" flowlb/enable s1 "$s1real"
    # The in-place append three more times, for a median, then the same on
    # a smaller spec: the time should follow the change, not the spec.
    appended_median "$spec" 3
    local big_ms=$APPENDED_MS big_bytes
    big_bytes=$(stat -c %s "$spec")
    # Not an edit the item names, for the record: one service removed
    # (s1, near the top) takes the whole reload.
    awk '$1 == "service" { skip = ($2 == "s1") } !skip { print } skip && $1 == "}" { skip = 0 }' \
        "$spec" >"$WORK/agent.new"
    reload_time "$spec" "$WORK/agent.new"
    log "reload (one service removed): ${RELOAD_MS} ms; ${RELOADED#*|agent|INFO|}"
    res reload "one service removed (whole reload): ms" "$RELOAD_MS" "" "" "report" "-"
    ag_exit
    local small=$RELOAD_SMALL_SIZE small_spec=$WORK/reload-small.lb small_bytes
    "$BENCH_SRC/gen-spec" "${small%x*}" "${small#*x}" --port 80 --no-check \
        -o "$small_spec"
    small_bytes=$(stat -c %s "$small_spec")
    fresh_bridge
    # Through the proxy too: the same path to the switch as the large one.
    ag_run reload-small "" "$small_spec" "unix:$WORK/proxy.sock"
    wait_log 'bundle 1 committed' 600 >/dev/null || sb_fail "flowlbd never installed $small"
    switch_settle
    appended_median "$small_spec" 3
    ag_exit
    local bytes_ratio time_ratio
    bytes_ratio=$(calc "$big_bytes / $small_bytes")
    time_ratio=$(calc "$big_ms / $APPENDED_MS")
    log "reload: a service appended, median of 3: $size ${big_ms} ms, $small ${APPENDED_MS} ms; spec ${bytes_ratio}x the bytes"
    res reload "one service added at the end, median of 3: $size / $small" \
        "$big_ms" "$APPENDED_MS" "$time_ratio" "follows the change" \
        "$(awk -v t="$time_ratio" -v b="$bytes_ratio" 'BEGIN{print (t < b / 4) ? "met" : "MISSED"}') (spec $(printf %.1f "$bytes_ratio")x the bytes)"
}

# reload_time SPECPATH NEWSPEC: NEWSPEC copied over the running agent's
# spec SPECPATH, then flowlb/reload; sets RELOAD_T0 (the command's epoch),
# RELOAD_MS (command -> the bundle's barrier reply) and RELOADED (the
# agent's log line).
reload_time() {
    local target=$1 new=$2 after line
    after=$(loglines)
    cp "$new" "$target"
    RELOAD_T0=$(now)
    ovs-appctl -t "$AG_CTL" flowlb/reload >/dev/null || sb_fail "flowlb/reload failed"
    line=$(wait_log 'committed' 120 "$after") || sb_fail "no bundle after reloading $new"
    RELOAD_MS=$(calc "($(log_epoch "$line") - $RELOAD_T0) * 1000")
    RELOADED=$(tail -n +$((after + 1)) "$AG_LOG" | grep -m1 'reloaded')
}

# appended_median SPECPATH N: N services appended one after another to the
# running agent's spec, each reloaded (and required to go in place); sets
# APPENDED_MS to the median time.
appended_median() {
    local target=$1 n=$2 k times=""
    for k in $(seq "$n"); do
        {
            cat "$target"
            printf 'service appended%d {\n    vip 192.168.251.%d tcp 80;\n' "$k" "$k"
            printf '    real 10.64.0.1 mac 02:0a:0a:40:00:01 port 1;\n}\n'
        } >"$WORK/appended.new"
        reload_time "$target" "$WORK/appended.new"
        case $RELOADED in
        *"added in place"*) ;;
        *) sb_fail "service not added in place: $RELOADED" ;;
        esac
        log "  appended $k of $n to $(basename "$target"): ${RELOAD_MS} ms; ${RELOADED#*|agent|INFO|}"
        times="$times $RELOAD_MS"
    done
    APPENDED_MS=$(echo $times | tr ' ' '\n' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
}

# admin_one LABEL COMMAND ARGS...: an administrative command through
# flowlbd's control socket: what it sends and the time from the command to
# the switch's barrier reply.
admin_one() {
    local label=$1 after t0 line dt msgs bytes adds flows w0 w1 ops
    shift
    after=$(loglines)
    t0=$(now)
    ovs-appctl -t "$AG_CTL" "$@" >/dev/null || sb_fail "$* failed"
    line=$(wait_log 'committed' 120 "$after") || sb_fail "no bundle after $* ($label)"
    dt=$(calc "($(log_epoch "$line") - $t0) * 1000")
    sleep 0.2
    read -r msgs bytes adds flows w0 w1 < <(proxy_window "$t0")
    ops=$(tail -n +$((after + 1)) "$AG_LOG" | grep -o 'bundle [0-9]*: [0-9]* changes ([^)]*)' | head -1)
    log "admin ($label): $ops; command->committed ${dt} ms"
    res reload "$label: ops (msgs, bytes)" "$adds" "" "" "~ the change" \
        "$([ "$adds" -le 8 ] && echo met || echo MISSED) ($msgs msgs, $bytes B)"
    res reload "$label: ms" "$dt" "" "" "report" "-"
}

# reload_one LABEL NEWSPEC: copy NEWSPEC over the agent's spec, reload, and
# report the change's messages and time against the full push.
reload_one() {
    local label=$1 new=$2 after t0 msgs bytes adds flows w0 w1 ops
    after=$(loglines)
    reload_time "$WORK/agent.lb" "$new"
    t0=$RELOAD_T0
    sleep 0.2
    read -r msgs bytes adds flows w0 w1 < <(proxy_window "$t0")
    ops=$(tail -n +$((after + 1)) "$AG_LOG" | grep -o 'bundle [0-9]*: [0-9]* changes ([^)]*)' | head -1)
    local reloaded=$RELOADED
    local dt=$RELOAD_MS dr
    dr=$(calc "($(log_epoch "$reloaded") - $t0) * 1000")
    RELOAD_LOOP_MS=$(echo "$reloaded" | sed -n 's/.*then \([0-9]*\) ms in the loop.*/\1/p')
    log "reload ($label): $ops; command->committed ${dt} ms (spec re-read and compiled by ${dr} ms)"
    log "  agent: ${reloaded#*|agent|INFO|}"
    res reload "$label: ops (msgs, bytes)" "$adds" "" "" "~ the change" \
        "$([ "$adds" -le 8 ] && echo met || echo MISSED) ($msgs msgs, $bytes B)"
    res reload "$label: ms (of which reading spec)" "$dt ($dr)" "" "" "report" "-"
}

# ---- 7: health checking at scale -----------------------------------------
# flowlbd's CPU with `check tcp` (connect, reset) and `check tcp-half-open`
# (SYN from a raw socket, the kernel resets the SYN-ACK), each against the
# bare system calls of the same probes at the same rate (tcpbench checks /
# synchecks), in two setups:
#  loopback  the listeners on lo in flowlbd's own namespace (the issue's
#            setup). The kernel runs the listener's side of each handshake
#            (its route lookup walks 10,000 local addresses) in the
#            prober's system calls: it counts as the prober's CPU, and the
#            bare SYN loop alone takes about a quarter of a core. Reported,
#            not judged: it is not flowlbd's CPU.
#  loopback-steered  the same namespace, listeners and addresses, with lo's
#            receive side steered (RPS) to the second CPU and flowlbd
#            pinned to the first: a packet sent on lo is queued for the
#            other CPU, which runs the listener's side, as other hosts
#            would. tcp-half-open only (see remote).
#  remote    the listeners in another namespace behind a veth whose receive
#            side is steered (RPS) to the second CPU, flowlbd pinned to the
#            first: the reals' kernel work runs elsewhere, as when they are
#            other hosts; flowlbd pays for its own sends and receives.
#            tcp-half-open only (see below).
bench_health() {
    local nreals=2000 secs=5 m=8 type setup
    [ "$MODE" = full ] && nreals=10000 && secs=20
    for type in tcp tcp-half-open; do
        "$BENCH_SRC/gen-spec" $((nreals / m)) "$m" --disjoint --port 80 \
            -o "$WORK/health-$type.lb" \
            --check "$type interval 1s timeout 500ms rise 2 fall 3" 2>/dev/null
    done
    awk '$1 == "real" { print $2 }' "$WORK/health-tcp.lb" >"$WORK/health.reals"
    [ -n "$(ip netns list | grep -w "$(hc_ns)")" ] || hc_setup
    if [ -n "${HEALTH_ANYIP:-}" ]; then
        # By hand: the reals' /16s as local routes on lo ("AnyIP") instead
        # of 10,000 addresses, so that the listener's route lookup for its
        # SYN-ACK does not walk them (see docs/performance.md, item 7).
        slash16s "$WORK/health.reals" |
            sed 's|.*|route replace local & dev lo|' | ip -n "$(hc_ns)" -batch - ||
            sb_fail "cannot route the reals' addresses to lo"
    else
        hc_addrs "$WORK/health.reals" 2>/dev/null
    fi
    hc_listen 80
    for setup in ${HEALTH_SETUPS:-loopback loopback-steered remote}; do
        local ns pin="" pct ref types="tcp tcp-half-open"
        if [ $setup = loopback ]; then
            ns=$(hc_ns)
        elif [ "$(nproc)" -lt 2 ]; then
            log "health: one CPU, no $setup setup"
            continue
        elif [ $setup = loopback-steered ]; then
            ns=$(hc_ns)
            pin="taskset -c 0"
            types=tcp-half-open
            hc_steer 2
        else
            hr_setup "$WORK/health.reals"
            ns=$(hr_ns c)
            pin="taskset -c 0"
            # Half-open only: connect checks make the listener accept
            # 10,000 connections a second on the CPU that also takes the
            # steered packets; it falls behind, resets dropped from the
            # steering backlog leave its threads reading dead connections,
            # its accept queue fills and every check times out.
            types=tcp-half-open
        fi
        for type in $types; do
            pct=$(health_cpu "$ns" "$pin" "$WORK/health-$type.lb" "$nreals" "$secs") || return 1
            if [ $type = tcp ]; then
                ref=$(ip netns exec "$ns" $pin "$OUT/tcpbench" checks "$WORK/health.reals" 80 "$secs" |
                    sed -n 's/.*cpu=\([0-9.]*\).*/\1/p')
            else
                ref=$(ip netns exec "$ns" $pin "$OUT/tcpbench" synchecks "$WORK/health.reals" 80 "$secs" |
                    sed -n 's/.*cpu=\([0-9.]*\).*/\1/p')
            fi
            if [ $setup = loopback ]; then
                # Not flowlbd's CPU alone: see the comment above.
                res health "$setup, $type: CPU % (vs bare)" "$pct" "$ref" \
                    "$([ -n "$ref" ] && calc "$pct / $ref")" "report" \
                    "- (listeners' handshakes counted; $nreals checks/s)"
                continue
            fi
            res health "$setup, $type: CPU % (vs bare)" "$pct" "$ref" \
                "$([ -n "$ref" ] && calc "$pct / $ref")" "< 20%" \
                "$(awk -v a="$pct" 'BEGIN{print (a < 20) ? "met" : "MISSED"}') ($nreals checks/s)"
        done
        [ $setup != loopback-steered ] || hc_steer 0
    done
}

# hc_steer MASK: steer the receive side of lo in the hc namespace to the
# CPUs of MASK (RPS; 0 = none). Packets sent on lo are then taken off the
# sender's CPU at netif_rx(): the listeners' side of each handshake runs
# on the other CPU, as it would on other hosts.
hc_steer() {
    ip netns exec "$(hc_ns)" sh -c "echo $1 > /sys/class/net/lo/queues/rx-0/rps_cpus" ||
        sb_fail "cannot steer lo's receive side"
}

# health_cpu NS PIN SPEC NREALS SECS: flowlbd checking SPEC's reals from NS
# (under PIN, e.g. taskset), once every real is up; prints its CPU % of a
# core over SECS.
health_cpu() {
    local ns=$1 pin=$2 spec=$3 nreals=$4 secs=$5 i=0 c0 c1 t0 t1 downs
    fresh_bridge                # The specs differ only in their checks.
    AG_PIN=$pin ag_run health "$ns" "$spec" "unix:$SB_DIR/br0.mgmt"
    wait_log 'bundle 1 committed' 300 >/dev/null || sb_fail "flowlbd never installed the health spec"
    while [ "$(grep -c ' -> up' "$AG_LOG")" -lt "$nreals" ]; do
        i=$((i + 1)); [ $i -lt 600 ] || sb_fail "not all $nreals reals came up: $(grep -c ' -> up' "$AG_LOG")"
        sleep 0.1
    done
    grep -q 'run as connect() checks' "$AG_LOG" && sb_fail "tcp-half-open fell back to connect()"
    sleep 1
    downs=$(grep -c ' -> down' "$AG_LOG")
    c0=$(cpu_of "$AG_PID"); t0=$(now)
    sleep "$secs"
    c1=$(cpu_of "$AG_PID"); t1=$(now)
    [ "$(grep -c ' -> down' "$AG_LOG")" = "$downs" ] ||
        log "health: some reals went down during the measurement (check timeouts under load)"
    ag_exit
    calc "($c1 - $c0) * 100 / ($t1 - $t0)"
}

# hr_ns c|l: the remote setup's checker / listener namespace.
hr_ns() { echo "flb$SB_ID-hr$1"; }

# hr_setup FILE: the listener namespace holds FILE's addresses on lo and a
# listener on port 80, behind a veth from the checker namespace; its
# receive processing goes to CPU 1 (RPS), off the checker's CPU 0.
hr_setup() {
    local c l
    c=$(hr_ns c); l=$(hr_ns l)
    [ -z "$(ip netns list | grep -w "$c")" ] || return 0
    ip netns add "$c" && ip netns add "$l" || sb_fail "cannot create $c / $l"
    echo "$c" >>"$SB_DIR/namespaces"; echo "$l" >>"$SB_DIR/namespaces"
    ip -n "$c" link set lo up; ip -n "$l" link set lo up
    ip link add "f${SB_ID}hc" type veth peer name "f${SB_ID}hl" || sb_fail "cannot add the veth"
    ip link set "f${SB_ID}hc" netns "$c"; ip link set "f${SB_ID}hl" netns "$l"
    ip -n "$c" addr add 192.168.250.1/30 dev "f${SB_ID}hc"
    ip -n "$l" addr add 192.168.250.2/30 dev "f${SB_ID}hl"
    ip -n "$c" link set "f${SB_ID}hc" up; ip -n "$l" link set "f${SB_ID}hl" up
    ip netns exec "$c" sysctl -qw net.ipv4.ip_local_port_range="1024 65000"
    ip netns exec "$l" sysctl -qw net.core.somaxconn=8192 2>/dev/null || true
    # Checksum offload off (veths in namespaces: see the OVS field notes).
    ip netns exec "$c" ethtool -K "f${SB_ID}hc" tx off >/dev/null 2>&1 || true
    ip netns exec "$l" ethtool -K "f${SB_ID}hl" tx off >/dev/null 2>&1 || true
    ip netns exec "$l" sh -c "echo 2 > /sys/class/net/f${SB_ID}hl/queues/rx-0/rps_cpus" ||
        sb_fail "cannot steer the listener side to CPU 1"
    sed 's|.*|address replace &/32 dev lo|' "$1" | ip -n "$l" -batch - ||
        sb_fail "cannot add the reals' addresses"
    slash16s "$1" |
        sed 's|.*|route replace & via 192.168.250.2|' | ip -n "$c" -batch - ||
        sb_fail "cannot route to the reals"
    ip netns exec "$l" "$OUT/tcpbench" serve 80 4 >>"$WORK/hr-listen.log" 2>&1 &
    echo $! >>"$SB_DIR/pids"
    local i=0
    until ip netns exec "$c" "$OUT/tcpbench" probe "$(head -1 "$1")" 80 0.05 100 2>/dev/null | grep -q ok; do
        i=$((i + 1)); [ $i -lt 50 ] || sb_fail "the remote listener does not answer"
        sleep 0.1
    done
}

# ---- 6: failover end to end ----------------------------------------------
bench_failover() {
    local interval_ms=500 fall=3 reps=2
    [ "$MODE" = full ] && reps=4
    fresh_bridge
    # Items run in subshells: keep clear of the veth names the data path
    # item used (sb_add_host numbers them per shell).
    SB_NHOSTS=$((SB_NHOSTS + 20))
    sb_add_host fclient 10.0.0.1/24 02:00:00:00:00:01 1
    sb_add_host f1 10.0.0.11/24 02:00:00:00:00:11 11
    sb_add_host f2 10.0.0.12/24 02:00:00:00:00:12 12
    sb_add_host flb 10.0.0.250/24 02:00:00:00:00:fa 250
    local h
    for h in f1 f2; do
        sb_make_real $h 10.0.0.100
    done
    cat >"$WORK/fo.lb" <<EOF
service fo {
    vip 10.0.0.100 tcp 80;
    vip-mac 02:00:00:00:01:00;
    scheduler sh;
    real 10.0.0.11 mac 02:00:00:00:00:11 port 11;
    real 10.0.0.12 mac 02:00:00:00:00:12 port 12;
    check tcp interval ${interval_ms}ms timeout 200ms rise 1 fall $fall;
}
EOF
    ag_run failover "$(sb_ns flb)" "$WORK/fo.lb" "unix:$SB_DIR/br0.mgmt"
    local k
    for k in $(seq "$reps"); do
        for h in f1 f2; do
            if [ ! -f "$WORK/fo.$h.up" ]; then
                sb_bg $h "$WORK/fo-server.$h.log" "$SB_PY" "$SB_LIB_DIR/backend.py" --name $h --port 80
                echo "$SB_LAST_PID" >"$WORK/fo.$h.pid"
                touch "$WORK/fo.$h.up"
                sb_wait_port $h 127.0.0.1 80
            fi
        done
        # Both reals in the group again.
        local i=0
        until [ "$(ovs-ofctl -O OpenFlow15 dump-groups br0 | grep -o 'bucket=' | wc -l)" = 2 ]; do
            i=$((i + 1)); [ $i -lt 200 ] || sb_fail "failover: both reals never in the group"
            sleep 0.05
        done
        sleep 0.3
        # Which real does the client hash to (sh: by source address)?
        local first victim tk tf
        first=$(sb_exec fclient "$OUT/tcpbench" probe 10.0.0.100 80 0.01 1 | awk '$2 == "ok" { print $3; exit }')
        [ -n "$first" ] || sb_fail "failover: no answer through the VIP"
        victim=$first
        sb_bg fclient "$WORK/probe.$k" "$OUT/tcpbench" probe 10.0.0.100 80 \
            "$(calc "($interval_ms * ($fall + 3)) / 1000 + 1")" 2
        local probe_pid=$SB_LAST_PID
        sleep 0.5
        tk=$(date +%s.%N)
        kill "$(cat "$WORK/fo.$victim.pid")"
        rm -f "$WORK/fo.$victim.up"
        wait "$probe_pid" 2>/dev/null
        # Lines come as requests end: the earliest start that another real
        # answered.
        tf=$(awk -v t="$tk" -v v="$victim" '$1 > t && $2 == "ok" && $3 != v && (m == "" || $1 < m) { m = $1 } END { print m }' "$WORK/probe.$k")
        [ -n "$tf" ] || sb_fail "failover: no answer from another real after killing $victim: $(tail -3 "$WORK/probe.$k")"
        local ms tv dv dr
        ms=$(calc "($tf - $tk) * 1000")
        # Split: kill -> verdict (the check: at most interval x fall after
        # the last good probe) and verdict -> first answer (the reaction).
        tv=$(log_epoch "$(grep 'service fo real .*: up -> down' "$AG_LOG" | sed -n "${k}p")")
        dv=$(calc "($tv - $tk) * 1000")
        dr=$(calc "($tf - $tv) * 1000")
        log "failover $k: killed $victim's server, first answer from another real after $ms ms (verdict after $dv ms, then $dr ms)"
        echo "$ms $dv $dr" >>"$WORK/failover.txt"
    done
    ag_exit
    local mean max budget
    mean=$(awk '{ s += $1 } END { printf "%.1f", s / NR }' "$WORK/failover.txt")
    max=$(awk 'BEGIN { m = 0 } { if ($1 > m) m = $1 } END { printf "%.1f", m }' "$WORK/failover.txt")
    budget=$((interval_ms * fall))
    res failover "kill -> other real ms, mean (max)" "$mean ($max)" "$budget" \
        "$(calc "$max / $budget")" "<= $((budget + 20)) ms" \
        "$(awk -v a="$max" -v b="$((budget + 20))" 'BEGIN{print (a <= b) ? "met" : "MISSED"}')"
    # The reaction's share of the budget: the check's verdict to the first
    # request another real answered (requests overlap, one every 2 ms).
    local rmax
    rmax=$(awk 'BEGIN { m = -1e9 } { if ($3 > m) m = $3 } END { printf "%.1f", m }' "$WORK/failover.txt")
    res failover "  verdict -> first answer ms, mean (max)" \
        "$(awk '{ s += $3 } END { printf "%.1f", s / NR }' "$WORK/failover.txt") ($rmax)" \
        "" "" "<= 20 ms" \
        "$(awk -v a="$rmax" 'BEGIN{print (a <= 20) ? "met" : "MISSED"}') (log ms resolution; 2 ms probe gap)"
}

item push bench_push
if want realdown || want reload; then
    run_item realdown bench_change
fi
item health bench_health
item failover bench_failover
