#!/bin/bash
# smtp-send against aiosmtpd with TLS (client_aiosmtpd.sh covers plaintext):
# STARTTLS (required by the server) verified with --ca-file and
# --tls-servername, AUTH PLAIN and LOGIN under TLS, SMTPUTF8 under TLS,
# implicit TLS (RFC 8314); the refusals: no STARTTLS, wrong password, wrong
# name, untrusted certificate. Checks the delivered bytes, the envelope, the
# authenticated user and TLS as aiosmtpd recorded them, and the exit codes.
# Exits 77 (skip) without aiosmtpd or openssl.
SEND=${1:?path to smtp-send}
PYA=/usr/bin/python3
[ -x "$PYA" ] && "$PYA" -c 'import aiosmtpd' 2>/dev/null || { echo "aiosmtpd not installed: skip"; exit 77; }
command -v openssl >/dev/null 2>&1 || { echo "openssl not installed: skip"; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

make_cert "$TMP/pki" mx.test || { echo "openssl could not make a certificate"; exit 1; }
make_cert "$TMP/other" mx.test

# start_sink NAME MODE: sets PORT; messages in $TMP/NAME/
start_sink() {
  mkdir -p "$TMP/$1"
  timeout 90 "$PYA" "$here/aiosmtpd_tls_sink.py" "$TMP/$1" "$TMP/$1.port" "$TMP/pki/cert.pem" \
    "$TMP/pki/key.pem" "$2" 2>"$TMP/$1.log" &
  PIDS="$PIDS $!"
  for _ in $(seq 100); do [ -s "$TMP/$1.port" ] && break; sleep 0.1; done
  [ -s "$TMP/$1.port" ] || { echo "aiosmtpd did not start"; cat "$TMP/$1.log"; exit 1; }
  PORT=$(cat "$TMP/$1.port")
}
snd() { # snd NAME ARGS...: stdout/stderr in $TMP/NAME.out/.err, RC
  local name=$1
  shift
  timeout 30 "$SEND" --helo client.example --from a@example.org "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
  RC=$?
}
cnt() { ls "$TMP/$1"/*.eml 2>/dev/null | wc -l; }

printf 'Subject: tls\r\n\r\n.leading dot\r\nna\xc3\xafve\r\nlast\r\n' >"$TMP/m1"
V=(--ca-file "$TMP/pki/cert.pem" --tls-servername mx.test)

# 1. STARTTLS.
start_sink st starttls
srv="127.0.0.1:$PORT"
snd st1 --server "$srv" --to bob@example.net --starttls required "${V[@]}" --auth user:s3cret "$TMP/m1"
check "STARTTLS required + AUTH: exit 0" $(eq "$RC" 0)
check "STARTTLS required + AUTH: RCPT and DATA lines" \
  $(t eval 'grep -q "^RCPT bob@example.net 250 - 2.1.5 OK$" "$TMP/st1.out" && grep -q "^DATA 250 - 2.0.0 queued as 1$" "$TMP/st1.out"')
check "STARTTLS required + AUTH: bytes delivered intact" $(t cmp -s "$TMP/st/1.eml" "$TMP/m1")
check "STARTTLS required + AUTH: aiosmtpd saw user and TLS" \
  $(t eval 'grep -qx "auth=user" "$TMP/st/1.env" && grep -q "^tls=TLSv1\.[23]$" "$TMP/st/1.env"')
snd st2 --server "$srv" --to carol@example.net --starttls required "${V[@]}" --auth user:s3cret --auth-mech LOGIN "$TMP/m1"
check "AUTH LOGIN under STARTTLS: exit 0, authenticated" \
  $(t eval '[ $RC = 0 ] && grep -qx "auth=user" "$TMP/st/2.env" && cmp -s "$TMP/st/2.eml" "$TMP/m1"')
u=$(printf 'j\xc3\xb6rg@example.net')
snd st3 --server "$srv" --to "$u" --starttls required "${V[@]}" --smtputf8 "$TMP/m1"
check "SMTPUTF8 under STARTTLS: exit 0, UTF-8 recipient, SMTPUTF8 declared" \
  $(t eval '[ $RC = 0 ] && grep -qx "rcpt=$u" "$TMP/st/3.env" && grep -q "SMTPUTF8" "$TMP/st/3.env" && cmp -s "$TMP/st/3.eml" "$TMP/m1"')
snd st4 --server "$srv" --to dave@example.net "$TMP/m1"
check "opportunistic (default): STARTTLS taken, delivered" \
  $(t eval '[ $RC = 0 ] && grep -q "^tls=TLSv1" "$TMP/st/4.env"')
# A 600 KB message whose runs between line-start dots are KiB long: the
# client sends those from its memory (zero copy) through TLS records; the
# dots must still be doubled on the wire and removed by aiosmtpd.
python3 -c '
import sys
out = [b"Subject: big\r\n\r\n"]
for i in range(9000):
    lead = b"." if i % 300 == 7 else (b".." if i % 1000 == 11 else b"")
    out.append(lead + (b"line %05d " % i) + b"x" * (i % 60) + b"\r\n")
sys.stdout.buffer.write(b"".join(out))' >"$TMP/m2"
snd st9 --server "$srv" --to bob@example.net --starttls required "${V[@]}" "$TMP/m2"
check "600 KB message with line-start dots under STARTTLS: exit 0, bytes intact" \
  $(t eval '[ $RC = 0 ] && cmp -s "$TMP/st/5.eml" "$TMP/m2"')
n_ok=$(cnt st)
snd st5 --server "$srv" --to bob@example.net --starttls off "$TMP/m1"
check "--starttls off to a STARTTLS-only server: MAIL refused line, exit 2" \
  $(t eval '[ $RC = 2 ] && grep -q "^MAIL 530 " "$TMP/st5.out"')
snd st6 --server "$srv" --to bob@example.net --starttls required "${V[@]}" --auth user:wrong "$TMP/m1"
check "wrong password: exit 2, authentication failure on stderr" \
  $(t eval '[ $RC = 2 ] && grep -qi "authentication failed" "$TMP/st6.err"')
snd st7 --server "$srv" --to bob@example.net --starttls required --ca-file "$TMP/pki/cert.pem" \
  --tls-servername wrong.test "$TMP/m1"
check "wrong --tls-servername: exit 2, verification on stderr" \
  $(t eval '[ $RC = 2 ] && grep -qi "verif" "$TMP/st7.err"')
snd st8 --server "$srv" --to bob@example.net --ca-file "$TMP/other/cert.pem" --tls-servername mx.test "$TMP/m1"
check "opportunistic with a non-matching --ca-file: exit 2" $(eq "$RC" 2)
check "refusals delivered nothing" $(eq "$(cnt st)" "$n_ok")

# 2. Implicit TLS.
start_sink imp implicit
snd imp1 --server "127.0.0.1:$PORT" --implicit-tls "${V[@]}" --to bob@example.net --auth user:s3cret "$TMP/m1"
check "implicit TLS + AUTH: exit 0, bytes, user, TLS" \
  $(t eval '[ $RC = 0 ] && cmp -s "$TMP/imp/1.eml" "$TMP/m1" && grep -qx "auth=user" "$TMP/imp/1.env" && grep -q "^tls=TLSv1" "$TMP/imp/1.env"')
snd imp2 --server "127.0.0.1:$PORT" --implicit-tls --tls-servername mx.test --to bob@example.net "$TMP/m1"
check "implicit TLS with the system trust store: exit 2, nothing delivered" \
  $(t eval '[ $RC = 2 ] && [ "$(cnt imp)" = 1 ]')

finish
