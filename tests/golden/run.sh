#!/bin/bash
# Golden tests of the examples.
# Usage: run.sh FLOWLB SRCDIR [--update]
# For each SRCDIR/examples/NAME.{lb,yaml,yml}:
#   flowlb compile NAME.x           must equal tests/golden/NAME.ofctl
#   flowlb compile --emit ir NAME.x must equal tests/golden/NAME.ir
# A .yaml example sharing its NAME with a .lb one is the same spec in the
# other syntax, so it is held to the same golden files (byte-identical
# output of both syntaxes). Compiling twice must give the same bytes.
# --update rewrites the golden files from the current compiler instead.
set -u
update=0
args=()
for a in "$@"; do
    case $a in
    --update) update=1 ;;
    *) args+=("$a") ;;
    esac
done
[ ${#args[@]} = 2 ] || { echo "usage: $0 FLOWLB SRCDIR [--update]" >&2; exit 2; }
flowlb=${args[0]}
src=${args[1]}
golden=$src/tests/golden
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
checked=0

fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}

# run_one KIND SPEC OUT: KIND is ofctl or ir.
run_one() {
    local kind=$1 spec=$2 out=$3
    if [ "$kind" = ir ]; then
        "$flowlb" compile --emit ir "$spec" >"$out" 2>"$out.err"
    else
        "$flowlb" compile "$spec" >"$out" 2>"$out.err"
    fi
}

for spec in "$src"/examples/*.lb "$src"/examples/*.yaml "$src"/examples/*.yml; do
    [ -e "$spec" ] || continue
    file=$(basename "$spec")
    name=${file%.*}
    for kind in ofctl ir; do
        out=$tmp/$file.$kind
        if ! run_one "$kind" "$spec" "$out"; then
            fail "$file: flowlb compile ($kind) exited non-zero: $(cat "$out.err")"
            continue
        fi
        if [ -s "$out.err" ]; then
            fail "$file: flowlb compile ($kind) printed diagnostics: $(cat "$out.err")"
        fi
        [ -s "$out" ] || fail "$file: empty $kind output"
        run_one "$kind" "$spec" "$out.again" ||
            fail "$file: second compile ($kind) failed"
        cmp -s "$out" "$out.again" ||
            fail "$file: compiling twice gave different $kind output"
        want=$golden/$name.$kind
        if [ $update = 1 ] && [ "${spec##*.}" = lb -o ! -e "$src/examples/$name.lb" ]; then
            cp "$out" "$want"
            echo "updated $want"
        fi
        if [ ! -e "$want" ]; then
            fail "$file: no golden file $want (run: $0 $flowlb $src --update)"
        elif ! cmp -s "$want" "$out"; then
            fail "$file: $kind output differs from $want:"
            diff -u "$want" "$out" | head -40 >&2
        fi
        checked=$((checked + 1))
    done
done

# The issue's example in both syntaxes, compared directly as well.
if [ -e "$src/examples/web.lb" ] && [ -e "$src/examples/web.yaml" ]; then
    cmp -s "$tmp/web.lb.ofctl" "$tmp/web.yaml.ofctl" ||
        fail "examples/web.lb and examples/web.yaml compile to different bytes"
else
    fail "examples/web.lb and examples/web.yaml must both exist"
fi

# Stale golden files (an example was renamed or removed).
for g in "$golden"/*.ofctl "$golden"/*.ir; do
    [ -e "$g" ] || continue
    base=$(basename "$g")
    name=${base%.*}
    ls "$src/examples/$name".* >/dev/null 2>&1 || fail "stale golden file $g (no examples/$name.*)"
done

[ $checked -gt 0 ] || fail "no examples found under $src/examples"
if [ $fails -gt 0 ]; then
    echo "golden: $fails failure(s) in $checked comparisons" >&2
    exit 1
fi
echo "golden: $checked comparisons OK"
