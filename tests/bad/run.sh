#!/bin/bash
# The malformed-spec corpus: every tests/bad/*.lb, *.yaml and *.yml must be
# refused, by both `flowlb check` and `flowlb compile -o OUT` (importer
# inputs: *.rules by `flowlb import ipvsadm`, *.conf by `flowlb import
# keepalived`, to stdout and with -o OUT), with
#   - exit status 1,
#   - nothing on stdout, and OUT not created,
#   - a first error line "FILE:LINE:COL: error: ..." on stderr containing
#     SUBSTRING (warnings may come before it),
# where "LINE:COL: error: SUBSTRING" comes from the case's first line,
#   # expect: LINE:COL: error: SUBSTRING
# or, for files that cannot start with a comment (empty files), from the
# sidecar NAME.expect holding that same line. FILE is the path exactly as
# passed to flowlb; "{FILE}" in SUBSTRING stands for it too (for messages
# that cite an earlier definition).
#
# Every run is bounded: BAD_TIMEOUT seconds (default 10) and BAD_MEM_MB
# megabytes of address space (default 512, through ulimit -v; with an
# AddressSanitizer binary, whose shadow memory defeats ulimit -v, as ASan's
# hard RSS limit instead); a case that exceeds either fails.
#
# Besides the committed cases, gen-large.sh writes the large ones (10 MB
# lines, deep nesting, ...) into a scratch directory at every full run;
# BAD_LARGE=0 leaves them out.
#
# Usage: run.sh FLOWLB_BINARY BADDIR [CASE...]
#   CASE: file names (relative to BADDIR) to run instead of all of them.
set -u

if [ $# -lt 2 ]; then
    echo "usage: $0 FLOWLB_BINARY BADDIR [CASE...]" >&2
    exit 2
fi
flowlb=$1
dir=${2%/}
shift 2
if [ ! -x "$flowlb" ]; then
    echo "run.sh: $flowlb is not an executable" >&2
    exit 2
fi

# The corpus is meant to hold at least this many cases: fewer means files
# went missing, which must not pass silently.
MIN_CASES=50

BAD_TIMEOUT=${BAD_TIMEOUT:-10}
BAD_MEM_MB=${BAD_MEM_MB:-512}
if grep -q -a -m 1 __asan_init "$flowlb"; then
    asan=true
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}hard_rss_limit_mb=$BAD_MEM_MB"
else
    asan=false
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/flowlb-bad.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT

cases=()
if [ $# -gt 0 ]; then
    for c in "$@"; do
        cases+=("$dir/$c")
    done
else
    shopt -s nullglob
    cases=("$dir"/*.lb "$dir"/*.yaml "$dir"/*.yml "$dir"/*.rules
           "$dir"/*.conf)
    shopt -u nullglob
    if [ ${#cases[@]} -lt $MIN_CASES ]; then
        echo "FAIL: only ${#cases[@]} cases in $dir (expected at least $MIN_CASES)"
        exit 1
    fi
    if [ "${BAD_LARGE:-1}" != 0 ]; then
        if ! "$dir/gen-large.sh" "$work/large"; then
            echo "FAIL: $dir/gen-large.sh failed"
            exit 1
        fi
        shopt -s nullglob
        cases+=("$work/large"/*.lb "$work/large"/*.yaml)
        shopt -u nullglob
    fi
fi

# bounded COMMAND...: runs COMMAND under the time and memory bounds.
bounded() {
    if $asan; then
        timeout "$BAD_TIMEOUT" "$@"
    else
        ( ulimit -v $((BAD_MEM_MB * 1024)) && exec timeout "$BAD_TIMEOUT" "$@" )
    fi
}

n_pass=0
n_fail=0
failed=()

# fail CASE WHAT...: one line per problem, the case named first.
fail() {
    local c=$1
    shift
    echo "FAIL: $c: $*"
    case_ok=false
}

# expectation FILE: prints "LINE:COL: error: SUBSTRING" or fails.
expectation() {
    local file=$1 line
    if [ -f "$file.expect" ]; then
        IFS= read -r line < "$file.expect"
    else
        IFS= read -r line < "$file"
    fi
    line=${line%$'\r'}
    case $line in
        "# expect: "*) ;;
        *) return 1 ;;
    esac
    line=${line#"# expect: "}
    [[ $line =~ ^[0-9]+:[0-9]+:\ error:\ .+$ ]] || return 1
    printf '%s\n' "$line"
}

# check_run CASE LABEL STATUS OUTFILE ERRFILE PREFIX SUBSTRING
check_run() {
    local c=$1 label=$2 status=$3 out=$4 err=$5 prefix=$6 sub=$7 first
    if [ "$status" -eq 124 ]; then
        fail "$c" "$label: took more than $BAD_TIMEOUT s"
        return
    fi
    if [ "$status" -ne 1 ] && [ "$status" -ne 0 ] && grep -a -q -i -E \
        'memory|alloc|rss limit' "$err"; then
        fail "$c" "$label: exceeded $BAD_MEM_MB MB (exit status $status):"
        grep -a -m 2 -i -E 'memory|alloc|rss limit' "$err" | sed 's/^/        /'
        return
    fi
    if [ "$status" -ne 1 ]; then
        fail "$c" "$label: exit status $status, expected 1"
    fi
    if [ -s "$out" ]; then
        fail "$c" "$label: wrote to stdout: $(head -c 200 "$out" | head -n 3)"
    fi
    # Error paths are where leaks and undefined behaviour hide: with a
    # sanitizer build, any report fails the case.
    if grep -a -q -E 'runtime error:|AddressSanitizer|LeakSanitizer' "$err"; then
        fail "$c" "$label: sanitizer report:"
        grep -a -m 3 -E 'runtime error:|Sanitizer' "$err" | sed 's/^/        /'
    fi
    # The first error (importers may warn first, e.g. of unknown MACs).
    first=$(tr -d '\000' < "$err" | grep -a -m 1 -E '^[^ ].*: error: ')
    [ -n "$first" ] || first=$(head -n 1 "$err" | tr -d '\000')
    if [ -z "$first" ]; then
        fail "$c" "$label: nothing on stderr"
    elif [[ $first != "$prefix"* ]]; then
        fail "$c" "$label: first error line is"
        echo "        $first"
        echo "    expected it to start with"
        echo "        $prefix"
    elif [[ ${first#"$prefix"} != *"$sub"* ]]; then
        fail "$c" "$label: message does not contain '$sub':"
        echo "        $first"
    fi
}

# run_case INDEX FILE: runs one case in its own scratch directory; prints
# its failures on stdout and exits 1 if there were any.
run_case() {
    local file=$2 c=${2##*/} scratch="$work/$1" exp loc sub prefix
    case_ok=true
    mkdir "$scratch"
    if [ ! -f "$file" ]; then
        fail "$c" "no such file"
    elif ! exp=$(expectation "$file"); then
        fail "$c" "no valid '# expect: LINE:COL: error: SUBSTRING' line"
    else
        loc=${exp%%: error: *}
        sub=${exp#*: error: }
        sub=${sub//\{FILE\}/"$file"}
        prefix="$file:$loc: error: "

        # Specs: check, then compile -o. Importer inputs (*.rules:
        # ipvsadm, *.conf: keepalived): import to stdout, then import -o.
        local first=(check "$file") second=(compile "$file")
        case $file in
            *.rules) first=(import ipvsadm "$file")
                     second=(import ipvsadm "$file") ;;
            *.conf) first=(import keepalived "$file")
                    second=(import keepalived "$file") ;;
        esac
        bounded "$flowlb" "${first[@]}" > "$scratch/out" 2> "$scratch/err"
        check_run "$c" "${first[0]}" $? "$scratch/out" "$scratch/err" \
            "$prefix" "$sub"

        bounded "$flowlb" "${second[@]}" -o "$scratch/compiled" \
            > "$scratch/out" 2> "$scratch/err"
        check_run "$c" "${second[0]} -o" $? "$scratch/out" "$scratch/err" \
            "$prefix" "$sub"
        if [ -e "$scratch/compiled" ]; then
            fail "$c" "${second[0]} -o: created the output file"
        fi
        # Nor a temporary file beside it (the output is written atomically).
        local left
        left=$(ls -A "$scratch" | grep -v -x -e out -e err -e compiled \
               | tr '\n' ' ')
        if [ -n "$left" ]; then
            fail "$c" "${second[0]} -o: left files behind: $left"
        fi
    fi
    $case_ok
}

# Cases run in parallel (a sanitizer build starts slowly); reports are
# printed in case order afterwards.
jobs_max=$(nproc 2>/dev/null || echo 2)
[ "$jobs_max" -ge 2 ] || jobs_max=2
for i in "${!cases[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do
        wait -n
    done
    ( run_case "$i" "${cases[$i]}" > "$work/$i.report" 2>&1
      echo $? > "$work/$i.status" ) &
done
wait

for i in "${!cases[@]}"; do
    c=${cases[$i]##*/}
    cat "$work/$i.report"
    if [ "$(cat "$work/$i.status" 2>/dev/null)" = 0 ]; then
        n_pass=$((n_pass + 1))
    else
        n_fail=$((n_fail + 1))
        failed+=("$c")
    fi
done

echo "bad corpus: $n_pass passed, $n_fail failed, $((n_pass + n_fail)) cases"
if [ $n_fail -ne 0 ]; then
    echo "failed: ${failed[*]}"
    exit 1
fi
exit 0
