#!/bin/bash
# Interop: SCRAM stored keys in smtp-server's --auth-file. Lines made with
# --make-scram-record for SCRAM-SHA-1, -256 and -512 (RFC 5802, RFC 7677)
# next to a clear-text user:password line. smtp-send authenticates with each
# SCRAM mechanism under STARTTLS (certificate verified) and delivers; a
# wrong password gets 535; swaks and curl, which speak no SCRAM, still
# authenticate the password user with PLAIN and LOGIN from the same file
# and are refused for the SCRAM-only user; curl's OAUTHBEARER against
# --oauth-token, with RFC 7628's error reply for a bad token. Deliveries
# checked in the Maildir. Usage: server_scram.sh PATH/TO/smtp-server (smtp-send is taken
# from the same build folder). Exit 77 without swaks, curl or openssl.
SERVER=${1:?usage: server_scram.sh smtp-server}
SEND=$(dirname "$SERVER")/smtp-send
[ -x "$SEND" ] || { echo "no smtp-send next to $SERVER: skip"; exit 77; }
command -v swaks >/dev/null 2>&1 || { echo "swaks not installed: skip"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "curl not installed: skip"; exit 77; }
command -v openssl >/dev/null 2>&1 || { echo "openssl not installed: skip"; exit 77; }
. "$(dirname "$0")/lib.sh"

for m in SCRAM-SHA-1 SCRAM-SHA-256 SCRAM-SHA-512; do
  printf 'pencil\n' | timeout 20 "$SERVER" --make-scram-record alice --scram-mech "$m" >>"$TMP/users"
done
check "--make-scram-record: three lines" $(eq "$(grep -c '^alice:SCRAM-SHA-' "$TMP/users")" 3)
check "--make-scram-record: no password in them" $(not grep -q pencil "$TMP/users")
printf 'wrong:wrong\n' | timeout 20 "$SERVER" --make-scram-record 'a:b' >/dev/null 2>&1
check "--make-scram-record with ':' in the user: exit 64" $(eq "$?" 64)
printf 'bob:s3cret\n' >>"$TMP/users"
make_cert "$TMP/c" mx.test
start_server scram --tls-cert "$TMP/c/cert.pem" --tls-key "$TMP/c/key.pem" \
  --auth-file "$TMP/users" --require-auth --maildir "$TMP/md"

send() { # send NAME ARGS...
  local name=$1
  shift
  printf 'Subject: %s\r\n\r\nbody of %s\r\n' "$name" "$name" |
    timeout 30 "$SEND" --server "127.0.0.1:$PORT" --tls-servername mx.test --ca-file "$TMP/c/cert.pem" \
      --starttls required --from a@example.com --to rcpt@example.org --trace "$@" >"$TMP/$name.out" 2>&1
  RC=$?
}
for m in SCRAM-SHA-1 SCRAM-SHA-256 SCRAM-SHA-512; do
  send "$m" --auth alice:pencil --auth-mech "$m"
  check "smtp-send $m: exit 0" $(eq "$RC" 0)
  check "smtp-send $m: 235" $(t grep -q '^S: 235' "$TMP/$m.out")
  check "smtp-send $m: delivered" $(t grep -q "body of $m" "$(md_last "$TMP/md")")
done
check "EHLO offers the three SCRAM mechanisms, their -PLUS forms (TLS is up) and PLAIN LOGIN" \
  $(t grep -q 'AUTH SCRAM-SHA-512-PLUS SCRAM-SHA-256-PLUS SCRAM-SHA-1-PLUS SCRAM-SHA-512 SCRAM-SHA-256 SCRAM-SHA-1 PLAIN LOGIN' "$TMP/SCRAM-SHA-1.out")
check "a forced SCRAM-SHA-1 is sent as SCRAM-SHA-1-PLUS (RFC 5802 6)" \
  $(t grep -q '^C: AUTH SCRAM-SHA-1-PLUS' "$TMP/SCRAM-SHA-1.out")
send default --auth alice:pencil
check "smtp-send default choice: SCRAM-SHA-512-PLUS" $(t grep -q '^C: AUTH SCRAM-SHA-512-PLUS' "$TMP/default.out")
send wrong --auth alice:pencyl --auth-mech SCRAM-SHA-256
check "wrong SCRAM password: exit 2, 535" $(t [ "$RC" = 2 ] && grep -q '535 5.7.8' "$TMP/wrong.out")
send plainbob --auth bob:s3cret --auth-mech PLAIN
check "smtp-send PLAIN for the password user" $(eq "$RC" 0)

sw() { # sw NAME ARGS...
  local name=$1
  shift
  timeout 30 swaks --server 127.0.0.1 --port "$PORT" --tls --tls-verify --tls-ca-path "$TMP/c/cert.pem" \
    --tls-sni mx.test --from a@example.com --to rcpt@example.org --body "swaks $name" "$@" >"$TMP/sw-$name.out" 2>&1
  RC=$?
}
sw login --auth LOGIN --auth-user bob --auth-password s3cret
check "swaks AUTH LOGIN (password line)" $(eq "$RC" 0)
sw plain --auth PLAIN --auth-user bob --auth-password s3cret
check "swaks AUTH PLAIN (password line)" $(eq "$RC" 0)
sw scramuser --auth PLAIN --auth-user alice --auth-password pencil
check "swaks AUTH PLAIN for a SCRAM-only user: refused" $(not [ "$RC" = 0 ])
check "swaks: 535 for it" $(t grep -q '535 5.7.8' "$TMP/sw-scramuser.out")

printf 'Subject: curl\r\n\r\ncurl body\r\n' >"$TMP/msg.eml"
timeout 30 curl -sS --max-time 20 --resolve "mx.test:$PORT:127.0.0.1" "smtp://mx.test:$PORT" \
  --ssl-reqd --cacert "$TMP/c/cert.pem" --user bob:s3cret --mail-from a@example.com \
  --mail-rcpt rcpt@example.org -T "$TMP/msg.eml" >"$TMP/curl.out" 2>&1
check "curl (PLAIN) for the password user" $(eq "$?" 0)
check "curl delivered" $(t grep -q 'curl body' "$(md_last "$TMP/md")")
check "eight deliveries in all" $(eq "$(md_count "$TMP/md")" 8)
stop_server "$SPID"

# Bearer tokens (RFC 7628): curl's OAUTHBEARER against --oauth-token; a
# refused token gets the JSON error challenge, curl's ^A, then 535.
start_server tok --tls-cert "$TMP/c/cert.pem" --tls-key "$TMP/c/key.pem" \
  --oauth-token alice:tok-123 --require-auth --maildir "$TMP/md2"
cb() { # cb NAME TOKEN
  timeout 30 curl -sS -v --max-time 20 --resolve "mx.test:$PORT:127.0.0.1" "smtp://mx.test:$PORT" \
    --ssl-reqd --cacert "$TMP/c/cert.pem" --user alice: --oauth2-bearer "$2" --mail-from a@example.com \
    --mail-rcpt rcpt@example.org -T "$TMP/msg.eml" >"$TMP/$1.out" 2>&1
  RC=$?
}
cb tokgood tok-123
check "curl OAUTHBEARER: exit 0" $(eq "$RC" 0)
check "curl OAUTHBEARER: AUTH OAUTHBEARER, 235" \
  $(t grep -q '^> AUTH OAUTHBEARER' "$TMP/tokgood.out" && grep -q '^< 235' "$TMP/tokgood.out")
check "curl OAUTHBEARER: delivered" $(eq "$(md_count "$TMP/md2")" 1)
cb tokbad tok-124
check "curl bad token: refused" $(not [ "$RC" = 0 ])
check "curl bad token: RFC 7628 error challenge, then 535" \
  $(t grep -q '^< 334 eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NoZW1lcyI6ImJlYXJlciJ9' "$TMP/tokbad.out" &&
    grep -q '^> AQ==' "$TMP/tokbad.out" && grep -q '^< 535 5.7.8' "$TMP/tokbad.out")
check "curl bad token: nothing delivered" $(eq "$(md_count "$TMP/md2")" 1)
stop_server "$SPID"
finish
