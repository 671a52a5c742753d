# Shared by abi/check.sh and abi/update.sh (sourced, POSIX sh).

# is_elf FILE: true for an ELF object (a built shared library).
is_elf() {
  [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = "177ELF" ]
}

# exported_symbols LIB: the names a shared library exports (functions and
# data; not the version node), one per line, sorted. A file that is not an
# ELF object is read as such a list already (tests, other platforms).
# Callers check that nm exists first.
exported_symbols() {
  if is_elf "$1"; then
    nm -D --defined-only "$1" |
      awk 'NF >= 3 && $2 ~ /^[TDRBVWGSiu]$/ { print $3 }' | sed 's/@.*//'
  else
    grep -v '^#' "$1" | grep -v '^[[:space:]]*$'
  fi | LC_ALL=C sort -u
}

# header_version VERSION_H: "major minor patch" from include/smtp/version.h.
header_version() {
  for part in MAJOR MINOR PATCH; do
    v=$(sed -n "s/^#define SMTP_API_VERSION_${part}[[:space:]][[:space:]]*\([0-9][0-9]*\).*/\1/p" "$1")
    [ -n "$v" ] || { echo "abi: no SMTP_API_VERSION_$part in $1" >&2; return 1; }
    printf '%s ' "$v"
  done
  echo
}

# recorded_version SYMBOLS: "major minor patch" from the "# abi-version: X.Y.Z" line.
recorded_version() {
  v=$(sed -n 's/^# abi-version: \([0-9][0-9]*\)\.\([0-9][0-9]*\)\.\([0-9][0-9]*\).*/\1 \2 \3/p' "$1" | head -n 1)
  [ -n "$v" ] || { echo "abi: no '# abi-version: X.Y.Z' line in $1" >&2; return 1; }
  echo "$v"
}
