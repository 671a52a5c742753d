#!/bin/sh
# ABI discipline: compare the symbols a built libsmtp exports with the list
# checked in (abi/libsmtp.symbols, recorded for one version of
# include/smtp/version.h).
#
#   abi/check.sh LIBRARY VERSION_H SYMBOLS
#
# LIBRARY is the shared library (or a plain list of names, for tests).
# Passes when the symbol set is the recorded one. Fails when a symbol
# disappeared unless SMTP_API_VERSION_MAJOR is above the recorded major
# version, and when a symbol appeared unless the major or minor version is
# above the recorded one. With the matching bump the check passes but asks
# for abi/update.sh (ABI_STRICT=1 makes a stale list fail too, for release
# builds). The version may never go below the recorded one.
# Exit status: 0 pass, 1 fail, 77 skipped (no nm), 2 usage.
set -eu
if [ $# -ne 3 ]; then
  echo "usage: $0 LIBRARY VERSION_H SYMBOLS" >&2
  exit 2
fi
lib=$1 version_h=$2 symbols=$3
. "$(dirname "$0")/common.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if is_elf "$lib" && ! command -v nm >/dev/null 2>&1; then
  echo "nm not found: skipped"
  exit 77
fi
exported_symbols "$lib" > "$tmp/now"
[ -s "$tmp/now" ] || { echo "FAIL: no symbols read from $lib"; exit 1; }
exported_symbols "$symbols" > "$tmp/recorded"
hv=$(header_version "$version_h") || { echo "FAIL: cannot read $version_h"; exit 1; }
rv=$(recorded_version "$symbols") || { echo "FAIL: cannot read the recorded version"; exit 1; }
set -- $hv
maj=$1 min=$2 pat=$3
set -- $rv
rmaj=$1 rmin=$2 rpat=$3

comm -13 "$tmp/recorded" "$tmp/now" > "$tmp/added"
comm -23 "$tmp/recorded" "$tmp/now" > "$tmp/removed"
nadd=$(wc -l < "$tmp/added" | tr -d ' ')
nrem=$(wc -l < "$tmp/removed" | tr -d ' ')
echo "version.h: $maj.$min.$pat; $symbols records $rmaj.$rmin.$rpat;" \
     "$(wc -l < "$tmp/now" | tr -d ' ') symbols exported, $nadd added, $nrem removed"

fail=0
# A release still in development (NEWS.md: "## X.Y.Z (in development") may
# gain symbols at its own version, and a new major version in development may
# lose them: nobody links against it yet.
news=${ABI_NEWS:-$(dirname "$0")/../NEWS.md}
in_dev=0
if [ -f "$news" ] && grep -q "^## $maj\.$min\.$pat (in development" "$news"; then in_dev=1; fi
# The version never goes backwards.
if [ "$maj" -lt "$rmaj" ] || { [ "$maj" -eq "$rmaj" ] && [ "$min" -lt "$rmin" ]; } ||
   { [ "$maj" -eq "$rmaj" ] && [ "$min" -eq "$rmin" ] && [ "$pat" -lt "$rpat" ]; }; then
  echo "FAIL: version.h ($maj.$min.$pat) is below the recorded version ($rmaj.$rmin.$rpat)"
  fail=1
fi
if [ "$nrem" -gt 0 ]; then
  echo "removed from the ABI:"; sed 's/^/  - /' "$tmp/removed"
  if [ "$in_dev" = 1 ] && [ "$min.$pat" = "0.0" ] && [ "$maj.$min.$pat" = "$rmaj.$rmin.$rpat" ]; then
    echo "note: $maj.0.0 is a new major version in development (NEWS.md): nothing links"
    echo "      against it yet, removals allowed (abi/abidiff.sh still compares with the"
    echo "      last release); run abi/update.sh"
  elif [ "$maj" -le "$rmaj" ]; then
    echo "FAIL: removing a symbol breaks every program linked against it: bump"
    echo "      SMTP_API_VERSION_MAJOR in include/smtp/version.h (the SONAME follows),"
    echo "      then run abi/update.sh"
    fail=1
  fi
fi
if [ "$nadd" -gt 0 ]; then
  echo "added to the ABI:"; sed 's/^/  + /' "$tmp/added"
  if [ "$in_dev" = 1 ] && [ "$maj.$min.$pat" = "$rmaj.$rmin.$rpat" ]; then
    echo "note: $maj.$min.$pat is in development (NEWS.md): additions allowed; run abi/update.sh"
  elif [ "$maj" -le "$rmaj" ] && [ "$min" -le "$rmin" ]; then
    echo "FAIL: new symbols need SMTP_API_VERSION_MINOR bumped in include/smtp/version.h"
    echo "      (bindings check it with smtp_version_check()), then run abi/update.sh"
    fail=1
  fi
fi
if [ "$fail" -eq 0 ] && { [ "$nadd" -gt 0 ] || [ "$nrem" -gt 0 ]; }; then
  echo "note: the version was bumped for this change; record it with abi/update.sh"
  if [ "${ABI_STRICT:-0}" = 1 ]; then
    echo "FAIL: ABI_STRICT=1 and $symbols is stale"
    fail=1
  fi
fi
[ "$fail" -eq 0 ] && echo "ok"
exit "$fail"
