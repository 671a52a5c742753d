#!/bin/bash
# Interop of the two example programs over TCP: smtp-send into smtp-server,
# SMTP and LMTP, STARTTLS verified against the server's exported
# certificate (--tls-cert-out / --ca-file), every --starttls policy, implicit
# TLS (IPv4 and IPv6), AUTH PLAIN and LOGIN, SMTPUTF8, a 1 MB message,
# refusals. Checks the output lines, the exit codes of docs/examples.md and the
# delivered bytes in the Maildir.
# Usage: client_smtp_server.sh PATH/TO/smtp-send (smtp-server is taken from
# the same directory).
SEND=${1:?usage: client_smtp_server.sh smtp-send}
SERVER=$(dirname "$SEND")/smtp-server
[ -x "$SERVER" ] || { echo "no smtp-server next to $SEND: skip"; exit 77; }
. "$(dirname "$0")/lib.sh"

printf 'user:s3cret\nother:pw\n' >"$TMP/users"
# CRLF message with dot-leading lines (smtp-send stuffs, smtp-server unstuffs)
printf 'From: a@example.com\r\nTo: bob@example.org\r\nSubject: two examples\r\n\r\n.leading dot\r\n..two\r\n.\r\nlast\r\n' >"$TMP/m1"
# bare LF input: smtp-send sends CRLF (docs/examples.md), so this is stored as m1
tr -d '\r' <"$TMP/m1" >"$TMP/m1.lf"

snd() { # snd NAME SMTP-SEND-ARGS...: stdout $TMP/NAME.out, stderr $TMP/NAME.err, RC
  local name=$1
  shift
  timeout 60 "$SEND" --helo client.example "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
  RC=$?
}

# 1. Plaintext SMTP (no TLS on the server; opportunistic client).
start_server plain --maildir "$TMP/md1" --reject nobody@example.org
snd plain --server "127.0.0.1:$PORT" --from a@example.com --to bob@example.org "$TMP/m1"
check "plain: exit 0" $(eq "$RC" 0)
check "plain: RCPT line" $(t grep -qx 'RCPT bob@example.org 250 2.1.5 Recipient OK' "$TMP/plain.out")
check "plain: DATA line" $(t grep -q '^DATA 250 2.0.0 Message accepted as ' "$TMP/plain.out")
check "plain: stored byte for byte (BDAT)" $(t same_body "$(md_last "$TMP/md1")" "$TMP/m1")
snd plain_data --server "127.0.0.1:$PORT" --from a@example.com --to bob@example.org --no-chunking --trace "$TMP/m1.lf"
check "plain --no-chunking: DATA on the wire" $(t grep -qx 'C: DATA' "$TMP/plain_data.err")
check "plain --no-chunking: bare LF input stored as CRLF, byte for byte" $(t same_body "$(md_last "$TMP/md1")" "$TMP/m1")
snd partial --server "127.0.0.1:$PORT" --from '' --to bob@example.org --to nobody@example.org "$TMP/m1"
check "one of two refused: exit 1" $(eq "$RC" 1)
check "one of two refused: 550 line" $(t grep -qx 'RCPT nobody@example.org 550 5.1.1 Mailbox unknown' "$TMP/partial.out")
check "one of two refused: null reverse-path, one Delivered-To" \
  $(t grep -q '^Return-Path: <>' "$(md_last "$TMP/md1")")
snd required_none --server "127.0.0.1:$PORT" --from a@example.com --to bob@example.org --starttls required --trace "$TMP/m1"
check "--starttls required, not offered: exit 2" $(eq "$RC" 2)
check "--starttls required, not offered: no MAIL sent" $(not grep -q '^C: MAIL' "$TMP/required_none.err")
check "nothing stored by the failures" $(eq "$(md_count "$TMP/md1")" 3)
stop_server "$SPID"

# 2. STARTTLS + AUTH + --require-tls, certificate exported by the server.
start_server tls --tls-self-signed --tls-cert-out "$TMP/cert.pem" --auth-file "$TMP/users" \
  --require-auth --require-tls --maildir "$TMP/md2"
TLS=(--ca-file "$TMP/cert.pem" --tls-servername mx.test)
for mech in PLAIN LOGIN; do
  snd "auth_$mech" --server "127.0.0.1:$PORT" --from a@example.com --to bob@example.org \
    --starttls required "${TLS[@]}" --auth user:s3cret --auth-mech $mech --trace "$TMP/m1"
  check "STARTTLS required + AUTH $mech: exit 0" $(eq "$RC" 0)
  check "STARTTLS required + AUTH $mech: certificate verified" \
    $(t grep -q '^TLS: .*server certificate verified' "$TMP/auth_$mech.err")
  check "STARTTLS required + AUTH $mech: AUTH $mech only after TLS" \
    $(t awk -v m="C: AUTH $mech" '/^C: STARTTLS/{s=1} index($0, m) == 1 {seen=1; ok=s} END{exit !(seen && ok)}' "$TMP/auth_$mech.err")
  f=$(md_last "$TMP/md2")
  check "STARTTLS required + AUTH $mech: stored byte for byte, ESMTPSA" \
    $(t eval 'same_body "$f" "$TMP/m1" && grep -q "with ESMTPSA id" "$f"')
done
snd opp --server "127.0.0.1:$PORT" --from a@example.com --to bob@example.org --auth user:s3cret --trace "$TMP/m1"
check "opportunistic without --ca-file: STARTTLS used, not verified, delivered" \
  $(t eval '[ $RC = 0 ] && grep -q "^TLS: .*not verified" "$TMP/opp.err"')
snd insecure --server "127.0.0.1:$PORT" --from a@example.com --to bob@example.org --starttls required \
  --insecure --auth user:s3cret "$TMP/m1"
check "--insecure: delivered, and says so on stderr" \
  $(t eval '[ $RC = 0 ] && grep -q "insecure" "$TMP/insecure.err"')
n_ok=$(md_count "$TMP/md2")
snd sysca --server "127.0.0.1:$PORT" --from a@example.com --to bob@example.org --starttls required \
  --tls-servername mx.test --auth user:s3cret --trace "$TMP/m1"
check "required, system trust store: exit 2 (certificate not trusted)" $(eq "$RC" 2)
check "required, system trust store: one stderr line naming verification" \
  $(t eval '[ "$(grep -vc "^[CS]: " "$TMP/sysca.err")" = 1 ] && grep -qi "verif" "$TMP/sysca.err"')
check "required, system trust store: no AUTH, no MAIL sent" $(not grep -q '^C: \(AUTH\|MAIL\)' "$TMP/sysca.err")
snd wrongname --server "127.0.0.1:$PORT" --from a@example.com --to bob@example.org --starttls required \
  --ca-file "$TMP/cert.pem" --tls-servername other.test --auth user:s3cret "$TMP/m1"
check "wrong --tls-servername: exit 2" $(eq "$RC" 2)
TPORT=$PORT TSPID=$SPID
start_server other --tls-self-signed --tls-cert-out "$TMP/other.pem"
OTHER=$SPID PORT=$TPORT SPID=$TSPID
snd wrongca --server "127.0.0.1:$PORT" --from a@example.com --to bob@example.org \
  --ca-file "$TMP/other.pem" --tls-servername mx.test "$TMP/m1"
check "opportunistic with a --ca-file that does not match: exit 2 (no plaintext retry)" $(eq "$RC" 2)
stop_server "$OTHER"
snd off --server "127.0.0.1:$PORT" --from a@example.com --to bob@example.org --starttls off "$TMP/m1"
check "--starttls off to --require-tls: MAIL 530 line, exit 2" \
  $(t eval '[ $RC = 2 ] && grep -q "^MAIL 530 5.7.0 " "$TMP/off.out"')
snd plainauth --server "127.0.0.1:$PORT" --from a@example.com --to bob@example.org --starttls off \
  --auth user:s3cret --trace "$TMP/m1"
check "--auth without TLS: exit 2, no AUTH sent" \
  $(t eval '[ $RC = 2 ] && ! grep -q "^C: AUTH" "$TMP/plainauth.err"')
check "failures stored nothing" $(eq "$(md_count "$TMP/md2")" "$n_ok")
# SMTPUTF8 (RFC 6531) under TLS.
u=$(printf 'j\xc3\xb6rg@example.org')
snd utf8 --server "127.0.0.1:$PORT" --from a@example.com --to "$u" --starttls required "${TLS[@]}" \
  --auth user:s3cret --smtputf8 "$TMP/m1"
f=$(md_last "$TMP/md2")
check "SMTPUTF8: exit 0, Delivered-To in UTF-8, UTF8SMTPSA, bytes" \
  $(t eval '[ $RC = 0 ] && grep -q "^Delivered-To: $u" "$f" && grep -q "with UTF8SMTPSA id" "$f" && same_body "$f" "$TMP/m1"')
# 1 MB message over TLS, byte for byte.
"$PY" -c '
import sys
out = ["Subject: big"] + [""] + [("." if i % 5 == 0 else "") + ("line %06d " % i) * 8 for i in range(12000)]
sys.stdout.buffer.write(("\r\n".join(out) + "\r\n").encode())' >"$TMP/big"
snd big --server "127.0.0.1:$PORT" --from a@example.com --to bob@example.org --starttls required "${TLS[@]}" \
  --auth user:s3cret --no-chunking "$TMP/big"
check "1 MB over STARTTLS (DATA): exit 0, byte for byte" \
  $(t eval '[ $RC = 0 ] && same_body "$(md_last "$TMP/md2")" "$TMP/big"')
stop_server "$SPID"

# 3. Implicit TLS (RFC 8314), IPv4 and IPv6.
extra=()
has_ipv6 && extra=(--listen '[::1]:0')
start_server implicit --implicit-tls --tls-self-signed --tls-cert-out "$TMP/icert.pem" \
  --auth-file "$TMP/users" --maildir "$TMP/md3" --max-size 100000 "${extra[@]}"
snd implicit --server "127.0.0.1:$PORT" --implicit-tls --ca-file "$TMP/icert.pem" --tls-servername mx.test \
  --from a@example.com --to bob@example.org --auth other:pw --trace "$TMP/m1"
check "implicit TLS: exit 0, verified, stored byte for byte" \
  $(t eval '[ $RC = 0 ] && grep -q "^TLS: .*verified" "$TMP/implicit.err" && same_body "$(md_last "$TMP/md3")" "$TMP/m1"')
check "implicit TLS: no STARTTLS" $(not grep -q '^C: STARTTLS' "$TMP/implicit.err")
if [ -n "$PORT6" ]; then
  snd implicit6 --server "[::1]:$PORT6" --implicit-tls --ca-file "$TMP/icert.pem" --tls-servername mx.test \
    --from a@example.com --to v6@example.org "$TMP/m1"
  check "implicit TLS over IPv6: exit 0, Received from [IPv6:::1]" \
    $(t eval '[ $RC = 0 ] && grep -q "(\[IPv6:::1\])" "$(md_last "$TMP/md3")"')
else
  echo "# no IPv6 on loopback: IPv6 check skipped"
fi
snd implicit_sys --server "127.0.0.1:$PORT" --implicit-tls --tls-servername mx.test \
  --from a@example.com --to bob@example.org "$TMP/m1"
check "implicit TLS, system trust store: exit 2" $(eq "$RC" 2)
snd toobig --server "127.0.0.1:$PORT" --implicit-tls --insecure --from a@example.com --to bob@example.org \
  --no-chunking "$TMP/big"
check "over the advertised SIZE: refused before sending (RFC 1870), exit 2" \
  $(t eval '[ $RC = 2 ] && grep -qi "552 5.3.4\|size limit" "$TMP/toobig.out" "$TMP/toobig.err"')
stop_server "$SPID"

# 4. LMTP over TCP (RFC 2033): one DATA line per accepted recipient.
start_server lmtp --lmtp --maildir "$TMP/md4" --reject nobody@example.org
snd lmtp --server "127.0.0.1:$PORT" --lmtp --from a@example.com --to r1@example.org \
  --to nobody@example.org --to r2@example.org "$TMP/m1"
check "LMTP: exit 1 (one refused)" $(eq "$RC" 1)
check "LMTP: a DATA line per accepted recipient" \
  $(t eval 'grep -q "^DATA r1@example.org 250 2.0.0 " "$TMP/lmtp.out" && grep -q "^DATA r2@example.org 250 2.0.0 " "$TMP/lmtp.out"')
check "LMTP: RCPT 550 line" $(t grep -q '^RCPT nobody@example.org 550 5.1.1' "$TMP/lmtp.out")
f=$(md_last "$TMP/md4")
check "LMTP: one file, two Delivered-To, byte for byte, with LMTP" \
  $(t eval '[ "$(md_count "$TMP/md4")" = 1 ] && [ "$(grep -c "^Delivered-To:" "$f")" = 2 ] && same_body "$f" "$TMP/m1" && grep -q "with LMTP id" "$f"')
stop_server "$SPID"

finish
