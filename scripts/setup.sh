#!/bin/bash
# Install what is missing (Debian 12, as root) and build flowlb into build/.
# Usage: sudo ./scripts/setup.sh
# Env: BUILD_DIR (default SRC/build), CMAKE_ARGS (extra configure arguments,
# e.g. -DFLOWLB_LIBOVS_DIR=/path/to/an/already/built/libovs).
# The first build also builds libopenvswitch from Debian's openvswitch-source
# tarball (several minutes); later builds reuse it.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$src/build}

PACKAGES="cmake flex bison libyaml-dev openvswitch-switch openvswitch-source
libcmocka-dev ethtool iproute2 procps libcurl4-openssl-dev curl python3 gcc
make pkg-config"

if [ "$(id -u)" != 0 ]; then
    echo "setup.sh: run as root (it installs packages; the tests need namespaces)" >&2
    exit 1
fi

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup.sh: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
fi

# shellcheck disable=SC2086
cmake -S "$src" -B "$build" ${CMAKE_ARGS:-}
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)"
echo "setup.sh: built $build/bin/flowlb"
