#!/bin/bash
# Runs the libFuzzer targets built with -DFLOWLB_FUZZ=ON.
#
#   fuzz/run.sh TARGET SECONDS   fuzz TARGET for SECONDS (one job, niced);
#                                new inputs go to $FLOWLB_FUZZ_WORK/TARGET,
#                                crashes to $FLOWLB_FUZZ_WORK/artifacts/
#   fuzz/run.sh --regress        run every built target once over its seeds
#                                and committed corpus; fails on any crash
#   fuzz/run.sh --list           the targets that are built
#
# Seeds: fuzz/corpus/TARGET/ (committed: hand-written seeds and every crash
# ever found, as regression inputs) plus, collected at run time, the specs
# in examples/, tests/bad/ and tests/import/ of the right syntax.
# Environment: FLOWLB_FUZZ_BIN  directory holding the fuzz_* binaries
#                               (default: ./fuzz, the build directory's)
#              FLOWLB_FUZZ_WORK working corpus and artifacts
#                               (default: FLOWLB_FUZZ_BIN/../fuzz-work)
#              FUZZ_ARGS        extra libFuzzer arguments
set -u

src=$(cd "$(dirname "$0")/.." && pwd)
bin=${FLOWLB_FUZZ_BIN:-$PWD/fuzz}
work=${FLOWLB_FUZZ_WORK:-$bin/../fuzz-work}
ALL_TARGETS="fuzz_dsl fuzz_reparse fuzz_yaml fuzz_unixctl fuzz_ipvsadm fuzz_keepalived"

usage() {
    echo "usage: $0 TARGET SECONDS | --regress | --list" >&2
    exit 2
}

built_targets() {
    local t
    for t in $ALL_TARGETS; do
        [ -x "$bin/$t" ] && echo "$t"
    done
}

# seeds TARGET: prints the seed files of TARGET, one per line.
seeds() {
    local t=$1
    shopt -s nullglob
    local files=("$src/fuzz/corpus/$t"/*)
    case $t in
        fuzz_reparse) files+=("$src"/examples/*.lb) ;;
        fuzz_dsl) files+=("$src"/examples/*.lb "$src"/tests/bad/*.lb
                          "$src"/tests/golden/*.lb) ;;
        fuzz_yaml) files+=("$src"/examples/*.yaml "$src"/examples/*.yml
                           "$src"/tests/bad/*.yaml "$src"/tests/bad/*.yml
                           "$src"/tests/golden/*.yaml) ;;
        fuzz_ipvsadm) files+=("$src"/tests/import/*.rules
                              "$src"/tests/import/*.neigh) ;;
        fuzz_keepalived) files+=("$src"/tests/import/*.conf) ;;
    esac
    shopt -u nullglob
    local f
    for f in "${files[@]}"; do
        case $f in
            *.expect|*.sh|*.md) ;;
            *) [ -f "$f" ] && printf '%s\n' "$f" ;;
        esac
    done
}

# Common libFuzzer limits: an input that takes 10 s or 1 GB is a bug.
# keepalived inputs may include themselves up to 1000 times (the
# importer's bound): 2 GB there. A smaller ASan quarantine keeps the RSS
# of a long run near what the inputs need.
LIMITS=(-timeout=10 -rss_limit_mb=1024 -malloc_limit_mb=1024)
limits_of() {
    case $1 in
        fuzz_keepalived) echo -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 ;;
        *) echo "${LIMITS[@]}" ;;
    esac
}
export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=64}

regress() {
    local t failed=0 n=0
    local targets
    targets=$(built_targets)
    if [ -z "$targets" ]; then
        echo "run.sh: no fuzz targets in $bin (build with -DFLOWLB_FUZZ=ON)" >&2
        exit 1
    fi
    for t in $targets; do
        mapfile -t files < <(seeds "$t")
        if [ ${#files[@]} -eq 0 ]; then
            echo "FAIL: $t: no corpus"
            failed=1
            continue
        fi
        local log
        log=$(mktemp "${TMPDIR:-/tmp}/flowlb-fuzz-$t.XXXXXX")
        # Given files (not directories), libFuzzer runs each once and exits.
        # shellcheck disable=SC2046
        if "$bin/$t" $(limits_of "$t") ${FUZZ_ARGS:-} "${files[@]}" \
            > "$log" 2>&1; then
            echo "ok: $t: ${#files[@]} inputs"
        else
            echo "FAIL: $t:"
            grep -a -E -A 30 'ERROR|runtime error|fuzz:|Running:' "$log" \
                | tail -n 60
            failed=1
        fi
        rm -f "$log"
        n=$((n + 1))
    done
    echo "fuzz regression: $n targets"
    exit $failed
}

fuzz() {
    local t=$1 seconds=$2
    [ -x "$bin/$t" ] || { echo "run.sh: $bin/$t not built" >&2; exit 2; }
    [[ $seconds =~ ^[0-9]+$ ]] || usage
    local seeddir="$work/seeds/$t" corpus="$work/corpus/$t"
    mkdir -p "$seeddir" "$corpus" "$work/artifacts"
    rm -f "$seeddir"/*
    local f i=0
    while IFS= read -r f; do
        cp "$f" "$seeddir/$i-${f##*/}"
        i=$((i + 1))
    done < <(seeds "$t")
    local dict=()
    [ -f "$src/fuzz/$t.dict" ] && dict=(-dict="$src/fuzz/$t.dict")
    # The first directory receives the new inputs; the seeds are read only.
    # shellcheck disable=SC2046
    exec nice -n 10 "$bin/$t" $(limits_of "$t") "${dict[@]}" \
        -max_total_time="$seconds" -max_len=16384 -print_final_stats=1 \
        -artifact_prefix="$work/artifacts/$t-" ${FUZZ_ARGS:-} \
        "$corpus" "$seeddir"
}

case ${1:-} in
    --regress) [ $# -eq 1 ] || usage; regress ;;
    --list) built_targets ;;
    ""|-*) usage ;;
    *) [ $# -eq 2 ] || usage; fuzz "$1" "$2" ;;
esac
