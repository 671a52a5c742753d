#!/bin/sh
# Runs one interop script with the example programs switched to another TLS
# backend: wrappers named smtp-send and smtp-server (the scripts find one
# next to the other) that add --tls-backend BACKEND, in a private folder.
# Usage: with_backend.sh BACKEND SCRIPT PATH/TO/example-program
set -u
backend=$1 script=$2 prog=$3
dir=$(cd "$(dirname "$prog")" && pwd)
tmp=$(mktemp -d /tmp/libsmtp-backend.XXXXXX) || exit 1
for p in smtp-send smtp-server; do
  printf '#!/bin/sh\nexec "%s/%s" --tls-backend %s "$@"\n' "$dir" "$p" "$backend" >"$tmp/$p"
  chmod 755 "$tmp/$p"
done
"$script" "$tmp/$(basename "$prog")"
rc=$?
rm -rf "$tmp"
exit $rc
