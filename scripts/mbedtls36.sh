#!/bin/sh
# Fetches mbedTLS 3.6 LTS from Debian 13 (trixie) into a private prefix,
# without touching the system's apt configuration or packages, and prints
# the prefix. Used by .ci/run to build and test libsmtp against 3.6 as well
# as Debian 12's 2.28.
#   usage: scripts/mbedtls36.sh [DIR]   (default: build-deps/mbedtls36)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$top/build-deps/mbedtls36}
root=$dir/root
if [ -f "$root/.done" ]; then echo "$root"; exit 0; fi
mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$root"
echo "deb http://deb.debian.org/debian trixie main" > "$dir/sources.list"
opts="-o Dir::Etc::SourceList=$dir/sources.list -o Dir::Etc::SourceParts=/dev/null
      -o Dir::State::Lists=$dir/lists -o Dir::Cache=$dir/cache -o Debug::NoLocking=1
      -o APT::Sandbox::User=root"
# shellcheck disable=SC2086
apt-get $opts update -q >"$dir/apt.log" 2>&1
cd "$dir"
# shellcheck disable=SC2086
apt-get $opts download libmbedtls-dev libmbedtls21 libmbedx509-7 libmbedcrypto16 >>"$dir/apt.log" 2>&1
for f in "$dir"/*.deb; do dpkg -x "$f" "$root"; done
pc=$root/usr/lib/x86_64-linux-gnu/pkgconfig
for f in "$pc"/*.pc; do
  sed -i "s|^prefix=.*|prefix=$root/usr|" "$f"
done
grep -q 'MBEDTLS_VERSION_STRING *"3\.6' "$root/usr/include/mbedtls/build_info.h" || {
  echo "mbedtls36: unexpected version" >&2; exit 1; }
touch "$root/.done"
echo "$root"
