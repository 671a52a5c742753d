#!/bin/bash
# TLS policy between the two example programs over TCP: client
# certificates (smtp-send --tls-cert/--tls-key, smtp-server --tls-client-ca
# reports the subject), a certificate replaced on SIGHUP (a broken pair
# keeps the old one), REQUIRETLS refused over an unverified session before
# MAIL (RFC 8689 4.1), and TLS 1.3 where the backend has it.
# Usage: client_tls_policy.sh PATH/TO/smtp-send (smtp-server is taken from
# the same directory).
SEND=${1:?usage: client_tls_policy.sh smtp-send}
SERVER=$(dirname "$SEND")/smtp-server
[ -x "$SERVER" ] || { echo "no smtp-server next to $SEND: skip"; exit 77; }
command -v openssl >/dev/null 2>&1 || { echo "openssl(1) not installed: skip"; exit 77; }
. "$(dirname "$0")/lib.sh"
"$SEND" --help 2>&1 | grep -q -- --tls-cert || { echo "smtp-send without TLS: skip"; exit 77; }

pki=$TMP/pki
make_cert "$pki/a" mx.test
make_cert "$pki/b" mx.test
make_cert "$pki/client" client.test
printf 'Subject: policy\r\n\r\nhello\r\n' >"$TMP/msg"
send() { # port, then smtp-send options
  local port=$1
  shift
  timeout 30 "$SEND" --server "127.0.0.1:$port" --tls-servername mx.test --from a@example.com \
    --to b@example.org --helo client.test "$@" <"$TMP/msg"
}

# 1. client certificates
cp "$pki/a/cert.pem" "$TMP/cur.pem"
cp "$pki/a/key.pem" "$TMP/cur.key"
start_server ccert --tls-cert "$TMP/cur.pem" --tls-key "$TMP/cur.key" \
  --tls-client-ca "$pki/client/cert.pem" --discard
check "a client certificate is presented and accepted" \
  "$(t send "$PORT" --starttls required --ca-file "$pki/a/cert.pem" \
     --tls-cert "$pki/client/cert.pem" --tls-key "$pki/client/key.pem")"
sleep 0.2
check "the server reports the verified subject" \
  "$(t grep -q 'client certificate: .*CN=client.test.*(verified)' "$TMP/ccert.log")"
check "a session without a client certificate still goes on (requested, not required)" \
  "$(t send "$PORT" --starttls required --ca-file "$pki/a/cert.pem")"
check "--tls-cert without --tls-key is a usage error (64)" \
  "$(eq "$(send "$PORT" --tls-cert "$pki/client/cert.pem" >/dev/null 2>&1; echo $?)" 64)"

# 2. SIGHUP: a broken pair keeps the old one, a good one serves new sessions.
# The signal goes to smtp-server itself, not to timeout(1) around it (which
# would relay it and then arm its kill timer).
hup() { pkill -HUP -P "$SPID" -x smtp-server || kill -HUP "$SPID"; }
echo broken >"$TMP/cur.pem"
hup
sleep 0.3
check "SIGHUP with a broken pair says so" "$(t grep -q 'not loaded.*keeping the previous' "$TMP/ccert.log")"
check "... and the old certificate still serves" \
  "$(t send "$PORT" --starttls required --ca-file "$pki/a/cert.pem")"
cp "$pki/b/cert.pem" "$TMP/cur.pem"
cp "$pki/b/key.pem" "$TMP/cur.key"
hup
sleep 0.3
check "SIGHUP with a good pair loads it" "$(t grep -q 'SIGHUP: loaded' "$TMP/ccert.log")"
check "new sessions get the new certificate" \
  "$(t send "$PORT" --starttls required --ca-file "$pki/b/cert.pem")"
check "... and no longer the old one" \
  "$(not send "$PORT" --starttls required --ca-file "$pki/a/cert.pem")"
out=$(send "$PORT" --starttls required --ca-file "$pki/b/cert.pem" --trace 2>&1)
# TLS 1.3 unless the backend is Mbed TLS 2.28 (LIBSMTP_EXPECT_TLS12=1)
want=TLSv1.3
[ "${LIBSMTP_EXPECT_TLS12:-0}" = 1 ] && want=TLSv1.2
check "the examples negotiate $want" "$(echo "$out" | grep -q "TLS: $want " && echo 0 || echo 1)"
stop_server "$SPID"

# 3. REQUIRETLS only over a verified session (checked before whether the
# server offers it: smtp-server does not)
start_server rtls --tls-cert "$pki/a/cert.pem" --tls-key "$pki/a/key.pem" --discard
out=$(send "$PORT" --starttls required --insecure --requiretls --trace 2>&1)
rc=$?
check "REQUIRETLS over an unverified session fails (exit 2)" "$(eq "$rc" 2)"
check "... with the reason" "$(echo "$out" | grep -q 'not verified (RFC 8689 4.1)' && echo 0 || echo 1)"
check "... before MAIL" "$(echo "$out" | grep -q '^C: MAIL' && echo 1 || echo 0)"
out=$(send "$PORT" --starttls required --ca-file "$pki/a/cert.pem" --requiretls --trace 2>&1)
check "over a verified session the refusal is another one (the server lacks REQUIRETLS)" \
  "$(echo "$out" | grep -q 'not verified' && echo 1 || echo 0)"
stop_server "$SPID"
finish
