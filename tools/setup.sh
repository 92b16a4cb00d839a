#!/bin/sh
# Set up a Debian 12 machine to build and test routeright, then configure and build it.
# Idempotent: installs only what is missing, reuses an existing build directory.
#   tools/setup.sh [BUILD_DIR]      (default: build)
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}

packages="gcc g++ libc6-dev binutils make meson ninja-build pkg-config libjansson-dev libpcre2-dev \
libxxhash-dev libcmocka-dev libcurl4-openssl-dev python3 python3-venv golang-go"
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing:$missing" >&2
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    # shellcheck disable=SC2086
    $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" >/dev/null
fi
ninja -C "$build" >/dev/null
echo "setup: built in $build/ (library, rrctl, tests)" >&2
