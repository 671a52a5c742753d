#!/bin/sh
# ABI check that sees layouts and enum values: libabigail's abidiff compares
# a built libsmtp with the ABI of the last release, recorded in
# abi/libsmtp-X.Y.Z.abi (abidw output, public types only).
#
#   abi/abidiff.sh LIBRARY HEADERS_DIR VERSION_H BASELINE NEWS
#
# Rules, with version.h's version V and the baseline's release B:
#  - an incompatible change (a removed function or variable, a changed
#    struct layout, enum value or signature: abidiff's ABI_INCOMPATIBLE_CHANGE
#    bit) passes only when V's major is above B's and NEWS has a section for
#    V (every incompatible change is listed there, per release);
#  - any other change (additions) passes only when V is above B;
#  - V is never below B.
# Exit status: 0 pass, 1 fail, 77 skipped (abidiff not installed), 2 usage.
set -u
if [ $# -ne 5 ]; then
  echo "usage: $0 LIBRARY HEADERS_DIR VERSION_H BASELINE NEWS" >&2
  exit 2
fi
lib=$1 hdrs=$2 version_h=$3 base=$4 news=$5
command -v abidiff >/dev/null 2>&1 || { echo "abidiff not found (Debian: abigail-tools): skipped"; exit 77; }
. "$(dirname "$0")/common.sh"

bv=$(basename "$base" | sed -n 's/^libsmtp-\([0-9][0-9]*\)\.\([0-9][0-9]*\)\.\([0-9][0-9]*\)\.abi$/\1 \2 \3/p')
[ -n "$bv" ] || { echo "FAIL: baseline name is not libsmtp-X.Y.Z.abi: $base"; exit 1; }
hv=$(header_version "$version_h") || { echo "FAIL: cannot read $version_h"; exit 1; }
set -- $hv; maj=$1 min=$2 pat=$3
set -- $bv; bmaj=$1 bmin=$2 bpat=$3
echo "version.h: $maj.$min.$pat; baseline: release $bmaj.$bmin.$bpat"

cmp_v=$(( (maj - bmaj) * 1000000 + (min - bmin) * 1000 + (pat - bpat) ))
if [ "$maj" -lt "$bmaj" ] || { [ "$maj" -eq "$bmaj" ] && [ "$cmp_v" -lt 0 ]; }; then
  echo "FAIL: version.h is below the baseline release"
  exit 1
fi

# abi/suppressions.txt (libabigail format), when present, names changes
# reviewed as harmless (e.g. a reserved member given a meaning).
supp="$(dirname "$0")/suppressions.txt"
set --
[ -f "$supp" ] && set -- --suppressions "$supp"
out=$(abidiff "$@" --no-added-syms --headers-dir2 "$hdrs" "$base" "$lib" 2>&1)
rc=$?
full=$(abidiff "$@" --headers-dir2 "$hdrs" "$base" "$lib" 2>&1)
frc=$?
[ $((rc & 3)) -eq 0 ] && [ $((frc & 3)) -eq 0 ] || { echo "FAIL: abidiff could not run:"; echo "$full"; exit 1; }

# abidiff marks only some breaks as incompatible (bit 8, e.g. a removed
# function); a changed struct layout or enum value is a "sub-type change" of
# the functions that use it (bit 4). Here every removed or changed function
# or variable counts as incompatible; only additions are compatible.
sums=$(printf '%s\n' "$full" | sed -n 's/^\(Functions\|Variables\) changes summary: \([0-9]*\) Removed[^,]*, \([0-9]*\) Changed.*/\2 \3/p')
breaks=0
for n in $sums; do breaks=$((breaks + n)); done
if [ $((frc & 8)) -ne 0 ] || [ "$breaks" -gt 0 ]; then
  echo "$full"
  if [ "$maj" -le "$bmaj" ]; then
    echo "FAIL: incompatible ABI change against release $bmaj.$bmin.$bpat: bump"
    echo "      SMTP_API_VERSION_MAJOR in include/smtp/version.h and list the change in NEWS"
    exit 1
  fi
  if ! grep -q "^## $maj\.$min\.$pat\b" "$news"; then
    echo "FAIL: incompatible changes need a '## $maj.$min.$pat' section in NEWS listing them"
    exit 1
  fi
  echo "ok: incompatible changes with a major bump, listed in NEWS"
  exit 0
fi
if [ $((frc & 4)) -ne 0 ]; then
  echo "$full"
  if [ "$cmp_v" -le 0 ]; then
    echo "FAIL: the ABI changed (compatibly) but the version is still the baseline's: bump"
    echo "      SMTP_API_VERSION_MINOR in include/smtp/version.h"
    exit 1
  fi
  echo "ok: compatible changes with a version bump"
  exit 0
fi
echo "$out"
echo "ok: same ABI as release $bmaj.$bmin.$bpat"
exit 0
