#!/bin/sh
# Record the ABI of a release for abi/abidiff.sh: builds the library at a
# commit (default HEAD) with debug information and writes
# abi/libsmtp-X.Y.Z.abi (abidw, public headers only). Run it when tagging a
# release, then point abi/meson.build's abi_baseline at the new file.
#
#   abi/record-release.sh [COMMIT]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
commit=${1:-HEAD}
command -v abidw >/dev/null || { echo "abidw not found (Debian: abigail-tools)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'git -C "$top" worktree remove --force "$tmp/src" 2>/dev/null; rm -rf "$tmp"' EXIT
git -C "$top" worktree add -q --detach "$tmp/src" "$commit"
cd "$tmp/src"
meson setup b -Dbuildtype=debug -Dtests=false -Dexamples=false -Dbench=false -Ddocs=disabled >/dev/null
ninja -C b >/dev/null
. "$top/abi/common.sh"
set -- $(header_version include/smtp/version.h)
out="$top/abi/libsmtp-$1.$2.$3.abi"
abidw --headers-dir include/smtp --no-corpus-path --drop-private-types b/lib/libsmtp.so > "$out"
echo "wrote $out"
