#!/bin/bash
# examples/alert-send (a device's alert: STARTTLS required, verified, then
# AUTH, one message, all under a hard deadline) against examples/smtp-server
# with --require-tls --require-auth: delivered byte for byte; a wrong
# password is an AUTH failure (exit 4) with nothing stored; a server without
# STARTTLS gets no credentials (exit 4); a peer that never answers hits the
# deadline (exit 3) on time.
# Usage: alert_send.sh PATH/TO/alert-send (smtp-server from the same folder).
ALERT=${1:?usage: alert_send.sh alert-send}
SERVER=$(dirname "$ALERT")/smtp-server
[ -x "$SERVER" ] || { echo "no smtp-server next to $ALERT: skip"; exit 77; }
. "$(dirname "$0")/lib.sh"

printf 'device:s3cret\n' >"$TMP/users"
run_alert() { # run_alert NAME ARGS...: stderr in $TMP/NAME.err, RC
  local name=$1
  shift
  timeout 30 "$ALERT" "$@" 2>"$TMP/$name.err"
  RC=$?
}

# 1. STARTTLS + AUTH, certificate exported by the server and verified.
start_server tls --tls-self-signed --tls-cert-out "$TMP/cert.pem" --auth-file "$TMP/users" \
  --require-auth --require-tls --maildir "$TMP/md" --trace
run_alert ok 127.0.0.1 "$PORT" mx.test "$TMP/cert.pem" device s3cret dev@example.org ops@example.org \
  "fan 3 stopped at 12:00"
check "alert accepted: exit 0" $(eq "$RC" 0)
check "alert: says accepted" $(t grep -qx 'alert-send: accepted' "$TMP/ok.err")
check "alert: arena use printed, nothing refused, nothing left" \
  $(t grep -q '^alert-send: arena peak [0-9]* of [0-9]* bytes, 0 allocations refused, 0 in use at exit$' "$TMP/ok.err")
msg=$(md_last "$TMP/md")
check "alert: stored" $(t test -f "$msg")
check "alert: body byte for byte" $(t grep -q $'^fan 3 stopped at 12:00\r$' "$msg")
check "alert: subject" $(t grep -q $'^Subject: ALERT\r$' "$msg")
check "alert: AUTH only after STARTTLS" \
  $(t awk '/^C: STARTTLS/{s=1} /^C: AUTH /{seen=1; ok=s} END{exit !(seen && ok)}' "$TMP/tls.log")

# 2. Wrong password: AUTH fails, nothing sent.
run_alert badpw 127.0.0.1 "$PORT" mx.test "$TMP/cert.pem" device wrong dev@example.org ops@example.org x
check "wrong password: exit 4" $(eq "$RC" 4)
check "wrong password: nothing more stored" $(eq "$(md_count "$TMP/md")" 1)

# 3. Wrong certificate name: the handshake fails before AUTH.
run_alert badname 127.0.0.1 "$PORT" other.test "$TMP/cert.pem" device s3cret dev@example.org ops@example.org x
check "certificate for another name: exit 4" $(eq "$RC" 4)
stop_server "$SPID"

# 4. No STARTTLS offered: no credentials go out in clear text.
start_server plain --auth-file "$TMP/users" --allow-plaintext-auth --maildir "$TMP/md2" --trace
run_alert notls 127.0.0.1 "$PORT" mx.test "$TMP/cert.pem" device s3cret dev@example.org ops@example.org x
check "no STARTTLS: exit 4" $(eq "$RC" 4)
check "no STARTTLS: no AUTH on the wire" $(not grep -q '^C: AUTH' "$TMP/plain.log")
stop_server "$SPID"

# 5. A peer that accepts and never speaks: the deadline (1.5 s) ends it.
if command -v "$PY" >/dev/null; then
  "$PY" -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True)
c, _ = s.accept(); time.sleep(20)' >"$TMP/mute.port" &
  PIDS="$PIDS $!"
  for i in $(seq 100); do [ -s "$TMP/mute.port" ] && break; sleep 0.05; done
  start=$(date +%s%N)
  run_alert mute -d 1500 127.0.0.1 "$(cat "$TMP/mute.port")" mx.test "$TMP/cert.pem" device s3cret \
    dev@example.org ops@example.org x
  ms=$((($(date +%s%N) - start) / 1000000))
  check "silent peer: exit 3 (deadline)" $(eq "$RC" 3)
  check "silent peer: gave up within 1.5-5 s ($ms ms)" $(t test "$ms" -ge 1400 -a "$ms" -lt 5000)
fi
finish
