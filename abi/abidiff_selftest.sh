#!/bin/sh
# Self-test of abi/abidiff.sh on two tiny made-up libraries: a struct whose
# layout changes, an enum whose value changes, a function that is added.
# Needs cc and abidiff (else skipped, 77).
set -u
here=$(cd "$(dirname "$0")" && pwd)
command -v abidiff >/dev/null 2>&1 && command -v abidw >/dev/null 2>&1 || { echo "abidiff not found: skipped"; exit 77; }
CC=${CC:-cc}
command -v "$CC" >/dev/null 2>&1 || { echo "no C compiler: skipped"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
mkdir -p "$tmp/inc"

mk() {  # mk NAME HEADER_BODY SOURCE_BODY -> $tmp/NAME.so
  printf '%s\n' "$2" > "$tmp/inc/t.h"
  printf '#include "t.h"\n%s\n' "$3" > "$tmp/$1.c"
  "$CC" -g -shared -fPIC -I"$tmp/inc" -o "$tmp/$1.so" "$tmp/$1.c" || exit 1
}
vh() { printf '#define SMTP_API_VERSION_MAJOR %s\n#define SMTP_API_VERSION_MINOR %s\n#define SMTP_API_VERSION_PATCH %s\n' "$1" "$2" "$3" > "$tmp/version.h"; }
expect() {  # expect STATUS NAME LIB
  sh "$here/abidiff.sh" "$tmp/$3.so" "$tmp/inc" "$tmp/version.h" "$tmp/libsmtp-1.2.0.abi" "$tmp/NEWS" > "$tmp/out" 2>&1
  got=$?
  if [ "$got" -eq "$1" ]; then echo "ok   $2"; else
    echo "FAIL $2: exit $got, expected $1"; sed 's/^/     /' "$tmp/out"; failures=$((failures + 1)); fi
}

base_h='typedef struct t_s { int a; int b; } t_s; typedef enum t_e { T_A = 1, T_B = 2 } t_e;
int t_get(const t_s *s); int t_kind(t_e e);'
base_c='int t_get(const t_s *s) { return s->a + s->b; } int t_kind(t_e e) { return (int)e; }'
mk base "$base_h" "$base_c"
abidw --headers-dir "$tmp/inc" --no-corpus-path "$tmp/base.so" > "$tmp/libsmtp-1.2.0.abi" || exit 1
printf '# NEWS\n\n## 2.0.0\n\n- t_s reordered.\n' > "$tmp/NEWS"

vh 1 2 0; expect 0 "unchanged library, same version" base
mk layout 'typedef struct t_s { int b; long a; } t_s; typedef enum t_e { T_A = 1, T_B = 2 } t_e;
int t_get(const t_s *s); int t_kind(t_e e);' 'int t_get(const t_s *s) { return (int)s->a + s->b; } int t_kind(t_e e) { return (int)e; }'
vh 1 3 0; expect 1 "struct layout changed, minor bump only" layout
vh 2 0 0; expect 0 "struct layout changed, major bump, NEWS section" layout
vh 3 0 0; expect 1 "struct layout changed, major bump, no NEWS section" layout
mk enumv 'typedef struct t_s { int a; int b; } t_s; typedef enum t_e { T_A = 1, T_B = 3 } t_e;
int t_get(const t_s *s); int t_kind(t_e e);' "$base_c"
vh 1 3 0; expect 1 "enum value changed, minor bump only" enumv
mk added "$base_h
int t_new(void);" "$base_c int t_new(void) { return 0; }"
vh 1 2 0; expect 1 "function added, no version bump" added
vh 1 3 0; expect 0 "function added, minor bump" added
vh 1 1 9; expect 1 "version below the baseline" base
[ "$failures" -eq 0 ] && echo "all passed"
exit "$failures"
