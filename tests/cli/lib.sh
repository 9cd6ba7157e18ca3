# lib.sh: what the tests/cli/*.sh scripts share. Source it with the
# script's arguments (FLOWLB SRCDIR): it sets flowlb and src, a temporary
# directory $tmp (removed on exit) and fail MESSAGE, which counts failures;
# cli_done ends the script (status 1 if anything failed).
set -u
[ $# = 2 ] || { echo "usage: $0 FLOWLB SRCDIR" >&2; exit 2; }
flowlb=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}
cli_done() {
    if [ $fails -gt 0 ]; then
        echo "$fails check(s) failed" >&2
        exit 1
    fi
    echo "PASS: $1"
}
