#!/bin/bash
# Interop: SASL that needs the TLS layer, end to end through the example
# programs, with no application code for it: the driver hands both
# sessions the channel binding after the handshake and the server the
# verified client certificate's identity.
#  - SCRAM-SHA-256-PLUS (RFC 5802 6, RFC 7677) smtp-send -> smtp-server for
#    every pair of TLS backends in the build, TLS 1.2 (tls-server-end-point,
#    RFC 5929 4) and TLS 1.3 (tls-exporter, RFC 9266), STARTTLS and
#    implicit TLS; the client's own choice is the -PLUS form.
#  - Behind a TLS-terminating man in the middle (a Python relay with its own
#    certificate, which the client was told to accept): SCRAM-SHA-256-PLUS
#    fails with 535 (the bindings differ), and so does SCRAM-SHA-256 when
#    the relay also removes the -PLUS names from the EHLO reply (the client
#    sends "y", the server sees the downgrade); PLAIN through the same relay
#    succeeds, which is what channel binding is there to catch.
#  - EXTERNAL (RFC 4422 appendix A): a client certificate verified against
#    --tls-client-ca authenticates as its commonName (the capture's "auth");
#    without a certificate, or with one from another CA, EXTERNAL is not
#    offered and smtp-send exits 2 without sending AUTH.
# Usage: sasl_channel_binding.sh PATH/TO/smtp-server (smtp-send from the
# same folder). Exit 77 without openssl(1) or TLS in the build.
SERVER=${1:?usage: sasl_channel_binding.sh smtp-server}
SEND=$(dirname "$SERVER")/smtp-send
[ -x "$SEND" ] || { echo "no smtp-send next to $SERVER: skip"; exit 77; }
command -v openssl >/dev/null 2>&1 || { echo "openssl not installed: skip"; exit 77; }
. "$(dirname "$0")/lib.sh"

BACKENDS=
for b in openssl mbedtls; do
  timeout 10 "$SERVER" --tls-backend "$b" --tls-self-signed --stdio </dev/null >/dev/null 2>&1 && BACKENDS="$BACKENDS $b"
done
[ -n "$BACKENDS" ] || { echo "no TLS backend in this build: skip"; exit 77; }

printf 'pencil\n' | timeout 20 "$SERVER" --make-scram-record alice --scram-mech SCRAM-SHA-256 >"$TMP/users"
printf 'bob:s3cret\n' >>"$TMP/users"
make_cert "$TMP/c" mx.test
make_cert "$TMP/cli" alice.example
make_cert "$TMP/other" other.example
make_cert "$TMP/mitm" mx.test

send() { # send NAME ARGS... -> $RC, output in $TMP/NAME.out
  local name=$1
  shift
  printf 'Subject: %s\r\n\r\nbody of %s\r\n' "$name" "$name" |
    timeout 30 "$SEND" --from a@example.com --to rcpt@example.org --trace "$@" >"$TMP/$name.out" 2>&1
  RC=$?
}

# ---- SCRAM-SHA-256-PLUS across backends and versions
for sb in $BACKENDS; do
  start_server "s-$sb" --tls-backend "$sb" --tls-cert "$TMP/c/cert.pem" --tls-key "$TMP/c/key.pem" \
    --auth-file "$TMP/users" --require-auth --discard
  P_STARTTLS=$PORT S1=$SPID
  start_server "si-$sb" --tls-backend "$sb" --tls-cert "$TMP/c/cert.pem" --tls-key "$TMP/c/key.pem" \
    --auth-file "$TMP/users" --require-auth --discard --implicit-tls
  P_IMPLICIT=$PORT S2=$SPID
  for cb in $BACKENDS; do
    for v in 1.2 1.3; do
      name="plus-$sb-$cb-$v"
      send "$name" --server "127.0.0.1:$P_STARTTLS" --tls-servername mx.test --ca-file "$TMP/c/cert.pem" \
        --starttls required --tls-backend "$cb" --tls-version "$v" --auth alice:pencil
      if [ "$RC" = 64 ] && grep -q 'cannot speak only that version' "$TMP/$name.out"; then
        echo "# $cb has no TLS $v: skipped"
        continue
      fi
      if [ "$RC" = 2 ] && [ "$v" = 1.3 ] && grep -qi 'handshake' "$TMP/$name.out"; then
        echo "# server backend $sb has no TLS 1.3: skipped"
        continue
      fi
      check "STARTTLS server $sb, client $cb, TLS $v: exit 0" $(eq "$RC" 0)
      check "  the client chose SCRAM-SHA-256-PLUS" $(t grep -q '^C: AUTH SCRAM-SHA-256-PLUS' "$TMP/$name.out")
      check "  235" $(t grep -q '^S: 235' "$TMP/$name.out")
      check "  EHLO offered it" $(t grep -q '^S: 250-AUTH .*SCRAM-SHA-256-PLUS' "$TMP/$name.out")
      send "$name-i" --server "127.0.0.1:$P_IMPLICIT" --tls-servername mx.test --ca-file "$TMP/c/cert.pem" \
        --implicit-tls --tls-backend "$cb" --tls-version "$v" --auth alice:pencil --auth-mech SCRAM-SHA-256-PLUS
      check "implicit TLS server $sb, client $cb, TLS $v: SCRAM-SHA-256-PLUS, exit 0" $(eq "$RC" 0)
    done
  done
  stop_server "$S1"
  stop_server "$S2"
done

# ---- a TLS-terminating man in the middle
start_server mitm-target --tls-cert "$TMP/c/cert.pem" --tls-key "$TMP/c/key.pem" \
  --auth-file "$TMP/users" --require-auth --discard --implicit-tls
TARGET=$PORT
cat >"$TMP/mitm.py" <<'PYEOF'
import socket, ssl, sys, threading
cert, key, target, strip = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "strip"
lctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
lctx.load_cert_chain(cert, key)
cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
cctx.check_hostname = False
cctx.verify_mode = ssl.CERT_NONE
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(4)
print(ls.getsockname()[1], flush=True)
def pump(a, b, rewrite):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            if rewrite:
                for m in (b" SCRAM-SHA-1-PLUS", b" SCRAM-SHA-256-PLUS", b" SCRAM-SHA-512-PLUS"):
                    d = d.replace(m, b"")
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.close()
        except OSError:
            pass
while True:
    c, _ = ls.accept()
    try:
        c = lctx.wrap_socket(c, server_side=True)
        u = cctx.wrap_socket(socket.create_connection(("127.0.0.1", target)), server_hostname="mx.test")
    except (OSError, ssl.SSLError):
        c.close()
        continue
    threading.Thread(target=pump, args=(c, u, False), daemon=True).start()
    threading.Thread(target=pump, args=(u, c, strip), daemon=True).start()
PYEOF
start_mitm() { # start_mitm MODE -> $MPORT
  timeout -k 5 120 "$PY" "$TMP/mitm.py" "$TMP/mitm/cert.pem" "$TMP/mitm/key.pem" "$TARGET" "$1" >"$TMP/mitm-$1.port" 2>"$TMP/mitm-$1.log" &
  PIDS="$PIDS $!"
  MPORT=
  for _ in $(seq 100); do
    MPORT=$(head -1 "$TMP/mitm-$1.port" 2>/dev/null)
    [ -n "$MPORT" ] && break
    sleep 0.05
  done
}
start_mitm relay
send mitm-plain --server "127.0.0.1:$MPORT" --implicit-tls --insecure --auth bob:s3cret --auth-mech PLAIN
check "through the relay: PLAIN succeeds (the relay sees the password)" $(eq "$RC" 0)
send mitm-plus --server "127.0.0.1:$MPORT" --implicit-tls --insecure --auth alice:pencil
check "through the relay: the client still picks SCRAM-SHA-256-PLUS" $(t grep -q '^C: AUTH SCRAM-SHA-256-PLUS' "$TMP/mitm-plus.out")
check "through the relay: SCRAM-SHA-256-PLUS fails, 535, exit 2" \
  $(t [ "$RC" = 2 ] && grep -q '^S: 535 5.7.8' "$TMP/mitm-plus.out")
start_mitm strip
send mitm-strip --server "127.0.0.1:$MPORT" --implicit-tls --insecure --auth alice:pencil
# (the trace redacts the message; the unit tests check the "y" itself)
check "relay removing -PLUS: the client uses SCRAM-SHA-256" \
  $(t grep -q '^C: AUTH SCRAM-SHA-256 <redacted>' "$TMP/mitm-strip.out")
check "relay removing -PLUS: the server sees the downgrade, 535, exit 2" \
  $(t [ "$RC" = 2 ] && grep -q '^S: 535 5.7.8' "$TMP/mitm-strip.out")
send direct --server "127.0.0.1:$TARGET" --implicit-tls --tls-servername mx.test --ca-file "$TMP/c/cert.pem" --auth alice:pencil
check "the same server directly: SCRAM-SHA-256-PLUS succeeds" $(eq "$RC" 0)
stop_server "$SPID"

# ---- EXTERNAL with a client certificate
for sb in $BACKENDS; do
  start_server "ext-$sb" --tls-backend "$sb" --tls-cert "$TMP/c/cert.pem" --tls-key "$TMP/c/key.pem" \
    --tls-client-ca "$TMP/cli/cert.pem" --require-auth --discard --capture "$TMP/ext-$sb.json"
  for cb in $BACKENDS; do
    send "ext-$sb-$cb" --server "127.0.0.1:$PORT" --tls-servername mx.test --ca-file "$TMP/c/cert.pem" \
      --starttls required --tls-backend "$cb" --tls-cert "$TMP/cli/cert.pem" --tls-key "$TMP/cli/key.pem" \
      --auth-mech EXTERNAL
    check "EXTERNAL server $sb, client $cb: exit 0" $(eq "$RC" 0)
    check "  AUTH EXTERNAL" $(t grep -q '^C: AUTH EXTERNAL' "$TMP/ext-$sb-$cb.out")
    check "  235" $(t grep -q '^S: 235' "$TMP/ext-$sb-$cb.out")
  done
  check "server $sb: the capture's identity is the commonName" \
    $(t grep -q '"auth":"alice.example"' "$TMP/ext-$sb.json")
  send "ext-none-$sb" --server "127.0.0.1:$PORT" --tls-servername mx.test --ca-file "$TMP/c/cert.pem" \
    --starttls required --auth-mech EXTERNAL
  check "server $sb, no client certificate: exit 2, EXTERNAL not offered, no AUTH sent" \
    $(t [ "$RC" = 2 ] && ! grep -q '^C: AUTH' "$TMP/ext-none-$sb.out" && ! grep -q 'AUTH.*EXTERNAL' "$TMP/ext-none-$sb.out")
  send "ext-other-$sb" --server "127.0.0.1:$PORT" --tls-servername mx.test --ca-file "$TMP/c/cert.pem" \
    --starttls required --tls-cert "$TMP/other/cert.pem" --tls-key "$TMP/other/key.pem" --auth-mech EXTERNAL
  check "server $sb, certificate from another CA: exit 2, no AUTH sent" \
    $(t [ "$RC" = 2 ] && ! grep -q '^C: AUTH' "$TMP/ext-other-$sb.out")
  stop_server "$SPID"
done
finish
