#!/bin/sh
# Self-test of abi/check.sh: every rule on made-up symbol lists and
# version.h files (no library needed).
set -u
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

vh() {  # vh MAJOR MINOR PATCH -> a version.h
  printf '#define SMTP_API_VERSION_MAJOR %s\n#define SMTP_API_VERSION_MINOR %s\n#define SMTP_API_VERSION_PATCH %s\n' "$1" "$2" "$3" > "$tmp/version.h"
}
printf '# abi-version: 1.4.2\n# comment\nsmtp_a\nsmtp_b\nsmtp_c\n' > "$tmp/recorded"

expect() {  # expect STATUS NAME LIST...: check.sh on LIST must exit STATUS
  want=$1 name=$2
  shift 2
  printf '%s\n' "$@" > "$tmp/now"
  sh "$here/check.sh" "$tmp/now" "$tmp/version.h" "$tmp/recorded" > "$tmp/out" 2>&1
  got=$?
  if [ "$got" -eq "$want" ]; then
    echo "ok   $name"
  else
    echo "FAIL $name: exit $got, expected $want"; sed 's/^/     /' "$tmp/out"
    failures=$((failures + 1))
  fi
}

vh 1 4 2; expect 0 "same set, same version" smtp_c smtp_a smtp_b
vh 1 4 3; expect 0 "same set, patch bump" smtp_a smtp_b smtp_c
vh 1 4 2; expect 1 "added without a bump" smtp_a smtp_b smtp_c smtp_d
vh 1 4 9; expect 1 "added with only a patch bump" smtp_a smtp_b smtp_c smtp_d
vh 1 5 0; expect 0 "added with a minor bump" smtp_a smtp_b smtp_c smtp_d
vh 2 0 0; expect 0 "added with a major bump" smtp_a smtp_b smtp_c smtp_d
vh 1 4 2; expect 1 "removed without a bump" smtp_a smtp_b
vh 1 5 0; expect 1 "removed with only a minor bump" smtp_a smtp_b
vh 2 0 0; expect 0 "removed with a major bump" smtp_a smtp_b
vh 1 4 2; expect 1 "renamed (one out, one in) without a bump" smtp_a smtp_b smtp_z
vh 1 5 0; expect 1 "renamed with a minor bump" smtp_a smtp_b smtp_z
vh 2 0 0; expect 0 "renamed with a major bump" smtp_a smtp_b smtp_z
vh 1 3 9; expect 1 "version below the recorded one" smtp_a smtp_b smtp_c
vh 0 9 0; expect 1 "major below the recorded one" smtp_a smtp_b smtp_c
vh 1 5 0; ABI_STRICT=1; export ABI_STRICT
expect 1 "ABI_STRICT: bumped but the list is stale" smtp_a smtp_b smtp_c smtp_d
expect 0 "ABI_STRICT: unchanged set passes" smtp_a smtp_b smtp_c
unset ABI_STRICT
# A release in development (NEWS.md "## X.Y.Z (in development"): additions at
# its own version; removals only when it is a new major version (X.0.0).
printf '## 2.0.0 (in development, not released)\n' > "$tmp/NEWS.md"
ABI_NEWS=$tmp/NEWS.md; export ABI_NEWS
printf '# abi-version: 2.0.0\nsmtp_a\nsmtp_b\nsmtp_c\n' > "$tmp/recorded"
vh 2 0 0; expect 0 "2.0.0 in development: added" smtp_a smtp_b smtp_c smtp_d
vh 2 0 0; expect 0 "2.0.0 in development: removed" smtp_a smtp_b
printf '## 2.1.0 (in development, not released)\n' > "$tmp/NEWS.md"
printf '# abi-version: 2.1.0\nsmtp_a\nsmtp_b\nsmtp_c\n' > "$tmp/recorded"
vh 2 1 0; expect 0 "2.1.0 in development: added" smtp_a smtp_b smtp_c smtp_d
vh 2 1 0; expect 1 "2.1.0 in development: removed" smtp_a smtp_b
printf '## 2.0.0 (2026-01-01)\n' > "$tmp/NEWS.md"
printf '# abi-version: 2.0.0\nsmtp_a\nsmtp_b\nsmtp_c\n' > "$tmp/recorded"
vh 2 0 0; expect 1 "2.0.0 released: removed" smtp_a smtp_b
vh 2 0 0; expect 1 "2.0.0 released: added" smtp_a smtp_b smtp_c smtp_d
unset ABI_NEWS
printf 'smtp_a\n' > "$tmp/recorded"
vh 1 4 2; expect 1 "list without an abi-version line" smtp_a

[ "$failures" -eq 0 ] && echo "all passed"
exit "$failures"
