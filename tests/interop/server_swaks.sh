#!/bin/sh
# Interop: swaks (a real SMTP/LMTP client) against examples/smtp-server
# --stdio through "swaks --pipe". Every run is bounded with timeout(1).
# Usage: server_swaks.sh PATH/TO/smtp-server
# Exit 77 (skipped) when swaks or timeout is missing.
set -u
SERVER=${1:?usage: server_swaks.sh smtp-server}
command -v swaks >/dev/null 2>&1 || { echo "swaks not installed"; exit 77; }
command -v timeout >/dev/null 2>&1 || { echo "timeout not installed"; exit 77; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }

run() { # run NAME EXPECTED_RC SERVER_ARGS -- SWAKS_ARGS...
  name=$1; want=$2; sargs=$3; shift 3
  timeout 30 swaks --pipe "$SERVER --stdio --hostname mx.test $sargs" --from alice@example.com \
    --helo client.example "$@" >"$TMP/$name.out" 2>&1
  rc=$?
  if [ "$rc" -ne "$want" ]; then bad "$name: swaks exit $rc, expected $want"; sed 's/^/    /' "$TMP/$name.out" | tail -20; return 1; fi
  return 0
}

# 1. A plain delivery into a Maildir, with PIPELINING; the file holds the
#    prepended header fields (CRLF) and the message.
MD=$TMP/md1
if run plain 0 "--maildir $MD" --to bob@example.org --pipeline --body "Hello from swaks"; then
  f=$(ls "$MD/new" 2>/dev/null | head -1)
  if [ -n "$f" ] && [ "$(ls "$MD/tmp" | wc -l)" -eq 0 ] &&
     head -1 "$MD/new/$f" | grep -q '^Return-Path: <alice@example.com>.$' &&
     grep -q '^Delivered-To: bob@example.org.$' "$MD/new/$f" &&
     grep -q '^Received: from client.example' "$MD/new/$f" &&
     grep -q 'with ESMTP id' "$MD/new/$f" &&
     grep -q '^Hello from swaks.$' "$MD/new/$f"; then ok plain; else bad "plain: Maildir content"; fi
fi

# 2. Two recipients, one rejected (--reject, case-insensitive) and one
#    temporarily refused: swaks reports the failure, the good one is stored.
MD=$TMP/md2
run reject 24 "--maildir $MD --reject Bad@Example.org --tempfail later@example.org" \
  --to bad@example.org && grep -q '550 5.1.1' "$TMP/reject.out" && ok reject || bad reject
run tempfail 24 "--maildir $MD --tempfail later@example.org" --to later@example.org &&
  grep -q '450 4.2.0' "$TMP/tempfail.out" && ok tempfail || bad tempfail

# 3. AUTH PLAIN and LOGIN against an auth file (plaintext allowed here).
printf 'user:secret\nother:pw\n' >"$TMP/users"
for mech in PLAIN LOGIN; do
  run "auth_$mech" 0 "--auth-file $TMP/users --allow-plaintext-auth --require-auth" \
    --to bob@example.org --auth "$mech" --auth-user user --auth-password secret &&
    grep -q '235 2.7.0' "$TMP/auth_$mech.out" && ok "auth $mech" || bad "auth $mech"
done
run auth_wrong 28 "--auth-file $TMP/users --allow-plaintext-auth" \
  --to bob@example.org --auth PLAIN --auth-user user --auth-password nope &&
  grep -q '535 5.7.8' "$TMP/auth_wrong.out" && ok "auth wrong password" || bad "auth wrong password"
# Without TLS and without --allow-plaintext-auth, AUTH is not offered.
run auth_notls 28 "--auth-file $TMP/users" --to bob@example.org --auth PLAIN \
  --auth-user user --auth-password secret && ok "no AUTH without TLS" || bad "no AUTH without TLS"

# 4. LMTP (RFC 2033): LHLO and one reply per recipient.
MD=$TMP/md3
run lmtp 0 "--lmtp --maildir $MD" --protocol LMTP --to a@example.org,b@example.org &&
  [ "$(grep -c '250 2.0.0 Message accepted' "$TMP/lmtp.out")" -eq 2 ] &&
  [ "$(ls "$MD/new" | wc -l)" -eq 1 ] && ok lmtp || bad lmtp

# 5. Size limit: refused with 552 5.3.4 after the data.
run size 26 "--max-size 100" --to bob@example.org --body "$(printf '%0300d' 0)" &&
  grep -q '552 5.3.4' "$TMP/size.out" && ok "size limit" || bad "size limit"

# 6. A dot-leading body line survives dot-stuffing both ways.
MD=$TMP/md4
printf 'Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\n' >"$TMP/dots.eml"
run dots 0 "--maildir $MD" --to bob@example.org --data "$TMP/dots.eml" &&
  f=$(ls "$MD/new" | head -1) && grep -q '^\.leading dot.$' "$MD/new/$f" &&
  grep -q '^\.\.two dots.$' "$MD/new/$f" && ok dots || bad dots

exit $fail
