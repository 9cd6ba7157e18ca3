#!/bin/bash
# Where `flowlb check` and `compile` read a spec from. Usage: input.sh
# FLOWLB SRCDIR
#  - a regular file with an error: FILE:LINE:COL, the line quoted, a caret;
#  - a FIFO, a pipe (bash's <(...)) and stdin: the same error, unquoted
#    (the text was consumed by the read), and the command exits. Quoting
#    used to open a FIFO again and wait for a writer for ever;
#  - a FIFO holding a good spec compiles to the same bytes as the file.
. "$(dirname "$0")/lib.sh"
good=$src/examples/demo.lb

printf 'service a {\n    vip 10.0.0.1 tcp 80;\n    bogus;\n}\n' >"$tmp/bad.lb"
printf 'services:\n  - name: a\n    vip: 10.0.0.1\n    protocol: tcp\n    port: 80\n    bogus: 1\n' >"$tmp/bad.yaml"

# Runs flowlb ARGS... with a time limit; leaves its stderr in $tmp/err
# and its status in $rc (124: it hung).
run() {
    timeout 10 "$flowlb" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
}

# expect_error WHAT LOCATION QUOTED: the last run failed with status 1,
# named LOCATION, and quoted the line (QUOTED=yes) or not (no).
expect_error() {
    local what=$1 loc=$2 quoted=$3
    if [ $rc = 124 ]; then
        fail "$what: still running after 10 s"
        return
    fi
    [ $rc = 1 ] || fail "$what: exit status $rc, want 1"
    grep -q "^$loc: error: " "$tmp/err" || fail "$what: no '$loc: error:' in: $(cat "$tmp/err")"
    [ -s "$tmp/out" ] && fail "$what: something on stdout"
    if [ "$quoted" = yes ]; then
        grep -q '^ *\^$' "$tmp/err" || fail "$what: the line is not quoted: $(cat "$tmp/err")"
    else
        grep -q '^ *\^$' "$tmp/err" && fail "$what: a line was quoted from a consumed stream: $(cat "$tmp/err")"
    fi
}

run check "$tmp/bad.lb"
expect_error "regular file" "$tmp/bad.lb:3:5" yes

mkfifo "$tmp/fifo.lb"
cat "$tmp/bad.lb" >"$tmp/fifo.lb" &
run check "$tmp/fifo.lb"
expect_error "FIFO" "$tmp/fifo.lb:3:5" no
wait

mkfifo "$tmp/fifo.yaml"
cat "$tmp/bad.yaml" >"$tmp/fifo.yaml" &
run compile "$tmp/fifo.yaml"
expect_error "YAML FIFO" "$tmp/fifo.yaml:6:5" no
wait

run check <(cat "$tmp/bad.lb")
expect_error "pipe (<(...))" "/dev/fd/[0-9]*:3:5" no

timeout 10 "$flowlb" check - <"$tmp/bad.lb" >"$tmp/out" 2>"$tmp/err"
rc=$?
expect_error "stdin" "-:3:5" no

# A directory: the reason, not just "read error".
run check "$tmp"
[ $rc = 1 ] && grep -q "^$tmp: error: read error: Is a directory$" "$tmp/err" ||
    fail "a directory as the spec: status $rc, $(cat "$tmp/err")"

# A good spec through a FIFO: the same output as from the file.
"$flowlb" compile "$good" >"$tmp/want" || fail "compile $good"
mkfifo "$tmp/good.lb"
cat "$good" >"$tmp/good.lb" &
run compile "$tmp/good.lb"
wait
[ $rc = 0 ] || fail "good spec through a FIFO: exit status $rc: $(cat "$tmp/err")"
cmp -s "$tmp/want" "$tmp/out" || fail "good spec through a FIFO: output differs from the file's"

cli_done input
