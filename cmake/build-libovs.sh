#!/bin/sh
# Build a static libopenvswitch from Debian's openvswitch-source tarball.
# Usage: build-libovs.sh TARBALL DESTDIR
# Leaves DESTDIR/src (configured tree with headers) and
# DESTDIR/src/lib/.libs/libopenvswitch.a. Does nothing when already built,
# so the (slow) build happens once per build tree.
set -eu
tarball=$1
dest=$2
stamp=$dest/.built
[ -f "$stamp" ] && exit 0
[ -r "$tarball" ] || { echo "build-libovs: $tarball not found (apt-get install openvswitch-source)" >&2; exit 1; }
rm -rf "$dest/src"
mkdir -p "$dest/src"
tar xzf "$tarball" -C "$dest/src" --strip-components=1
cd "$dest/src"
./configure --enable-static --disable-shared --disable-ssl --disable-libcapng \
    --without-dpdk >configure.log 2>&1 || { tail -30 configure.log >&2; exit 1; }
jobs=$(nproc 2>/dev/null || echo 2)
# Run as a child of CMake's make: without this, the inner make sees the
# outer jobserver, cannot use it and falls back to -j1.
unset MAKEFLAGS MFLAGS MAKELEVEL
# The generated headers come from BUILT_SOURCES; "make lib/libopenvswitch.la"
# alone would not create them, so ask for them explicitly first.
built=$(make -s -f Makefile -f - print-built-sources <<'MK'
print-built-sources:
	@echo $(BUILT_SOURCES)
MK
)
make -j"$jobs" $built >make.log 2>&1 || { tail -30 make.log >&2; exit 1; }
make -j"$jobs" lib/libopenvswitch.la >>make.log 2>&1 || { tail -30 make.log >&2; exit 1; }
touch "$stamp"
