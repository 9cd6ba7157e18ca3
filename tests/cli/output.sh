#!/bin/bash
# Where `flowlb compile -o PATH` writes. Usage: output.sh FLOWLB SRCDIR
#  - a regular file: replaced whole (temporary file + rename);
#  - a symbolic link: its target replaced, the link kept (also a dangling
#    link, relative to the link's directory);
#  - /dev/null and a FIFO: written as they are, still a device and a FIFO
#    afterwards (renaming over /dev/null, as root, made it a regular file);
#  - a spec with errors: the existing output left as it was.
. "$(dirname "$0")/lib.sh"
spec=$src/examples/demo.lb

"$flowlb" compile "$spec" >"$tmp/want" || { echo "FAIL: compile to stdout" >&2; exit 1; }
[ -s "$tmp/want" ] || { echo "FAIL: empty output" >&2; exit 1; }

# Regular file, new then existing.
for i in 1 2; do
    "$flowlb" compile "$spec" -o "$tmp/plain.ofctl" || fail "compile -o a regular file (run $i)"
    cmp -s "$tmp/want" "$tmp/plain.ofctl" || fail "regular file: content differs (run $i)"
done
ls "$tmp" | grep -q '\.tmp' && fail "a temporary file was left: $(ls "$tmp")"

# Symbolic links: relative, into another directory, and dangling.
mkdir "$tmp/sub"
echo old >"$tmp/sub/real.ofctl"
ln -s sub/real.ofctl "$tmp/link"
"$flowlb" compile "$spec" -o "$tmp/link" || fail "compile -o a symbolic link"
[ -L "$tmp/link" ] || fail "the symbolic link was replaced by a file"
cmp -s "$tmp/want" "$tmp/sub/real.ofctl" || fail "symbolic link: its target does not hold the output"
ln -s sub/new.ofctl "$tmp/dangling"
"$flowlb" compile "$spec" -o "$tmp/dangling" || fail "compile -o a dangling symbolic link"
[ -L "$tmp/dangling" ] && cmp -s "$tmp/want" "$tmp/sub/new.ofctl" ||
    fail "dangling symbolic link: link not kept or target not created"
ln -s loop1 "$tmp/loop2"; ln -s loop2 "$tmp/loop1"
if "$flowlb" compile "$spec" -o "$tmp/loop1" 2>"$tmp/loop.err"; then
    fail "a loop of symbolic links was accepted"
fi
grep -q 'loop1: Too many levels of symbolic links' "$tmp/loop.err" ||
    fail "loop of links: unexpected message: $(cat "$tmp/loop.err")"

# A FIFO: the reader gets the whole output, the FIFO stays.
mkfifo "$tmp/fifo"
timeout 20 cat "$tmp/fifo" >"$tmp/from-fifo" &
reader=$!
timeout 20 "$flowlb" compile "$spec" -o "$tmp/fifo" || fail "compile -o a FIFO"
wait "$reader"
[ -p "$tmp/fifo" ] || fail "the FIFO was replaced"
cmp -s "$tmp/want" "$tmp/from-fifo" || fail "FIFO: the reader did not get the output"

# /dev/null itself (as root the old code replaced it; put it back if so).
"$flowlb" compile "$spec" -o /dev/null || fail "compile -o /dev/null"
if [ ! -c /dev/null ]; then
    fail "/dev/null is no longer a character device"
    if [ "$(id -u)" = 0 ]; then
        rm -f /dev/null && mknod -m 666 /dev/null c 1 3
    fi
fi
ls /dev | grep -q '^null\.tmp' && fail "a temporary file was left in /dev"

# Errors: the previous output stays as it was.
printf 'service broken {\n  vip 10.0.0.1;\n' >"$tmp/bad.lb"
if "$flowlb" compile "$tmp/bad.lb" -o "$tmp/plain.ofctl" 2>/dev/null; then
    fail "a spec with errors compiled"
fi
cmp -s "$tmp/want" "$tmp/plain.ofctl" || fail "a failed compile changed the existing output"

cli_done "output paths"
