#!/bin/sh
# Fails when the shared library exports a symbol outside the smtp_ prefix.
set -eu
lib=$1
syms=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDRBVWi]$/ {print $3}' | sed 's/@.*//')
bad=$(printf '%s\n' "$syms" | grep -v '^smtp_' | grep -v '^LIBSMTP_' | grep -v '^$' || true)
count=$(printf '%s\n' "$syms" | grep -c '^smtp_' || true)
if [ -n "$bad" ]; then
  echo "unexpected exports:"; printf '%s\n' "$bad"; exit 1
fi
if [ "$count" -lt 5 ]; then
  echo "too few smtp_ exports ($count): visibility broken?"; exit 1
fi
echo "$count smtp_* symbols exported, nothing else"
