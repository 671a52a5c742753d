#!/bin/bash
# Interop: smtp-send against Dovecot's SASL (Dovecot 2.3, dovecot-core and
# dovecot-submissiond) speaking through Dovecot's own submission service,
# which relays accepted mail to Postfix's smtp-sink. A private instance:
# configuration, sockets, state and log in a temporary folder, listening on
# loopback only. Each SCRAM mechanism Dovecot offers (SCRAM-SHA-1,
# SCRAM-SHA-256, RFC 5802 / RFC 7677), the default choice, PLAIN, a wrong
# password (535), and a trace that shows no password or proof.
# Usage: client_dovecot.sh PATH/TO/smtp-send. Exit 77 (skip) when Dovecot,
# its submission service or smtp-sink is not installed.
SEND=${1:?usage: client_dovecot.sh smtp-send}
DOVECOT=$(command -v dovecot 2>/dev/null || echo /usr/sbin/dovecot)
[ -x "$DOVECOT" ] || { echo "dovecot not installed: skip"; exit 77; }
[ -x /usr/lib/dovecot/submission ] || { echo "dovecot-submissiond not installed: skip"; exit 77; }
SINK=
for p in /usr/sbin/smtp-sink /usr/lib/postfix/sbin/smtp-sink; do [ -x "$p" ] && { SINK=$p; break; }; done
[ -n "$SINK" ] || { echo "smtp-sink (postfix) not installed: skip"; exit 77; }
id -u nobody >/dev/null 2>&1 || { echo "no user nobody: skip"; exit 77; }
. "$(dirname "$0")/lib.sh"

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

SP=$(free_port)
mkdir -p "$TMP/sink" && chmod 777 "$TMP/sink"
timeout 170 "$SINK" -u "$(id -un)" -d "$TMP/sink/%H%M%S." "127.0.0.1:$SP" 10 &
PIDS="$PIDS $!"
wait_port "$SP" || { echo "smtp-sink did not start"; exit 1; }

DP=$(free_port)
D=$TMP/dovecot
mkdir -p "$D/run" "$D/state" "$D/home" && chmod 755 "$D" "$D/run" && chmod 777 "$D/home"
printf 'alice:{PLAIN}pencil::::::\n' >"$D/passwd"
cat >"$D/dovecot.conf" <<CONF
base_dir = $D/run
state_dir = $D/state
log_path = $D/dovecot.log
protocols = submission
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login scram-sha-1 scram-sha-256
hostname = mx.test
submission_relay_host = 127.0.0.1
submission_relay_port = $SP
submission_relay_trusted = yes
mail_location = maildir:$D/home/%u/Maildir
passdb {
  driver = passwd-file
  args = $D/passwd
}
userdb {
  driver = static
  args = uid=$(id -u nobody) gid=$(id -g nobody) home=$D/home/%u
}
service submission-login {
  inet_listener submission {
    address = 127.0.0.1
    port = $DP
  }
}
service anvil {
  chroot =
}
CONF
timeout 170 "$DOVECOT" -c "$D/dovecot.conf" -F >"$D/stdout" 2>&1 &
PIDS="$PIDS $!"
wait_port "$DP" || { echo "dovecot did not start:"; cat "$D/stdout" "$D/dovecot.log"; exit 1; }

# send NAME ARGS...: smtp-send into Dovecot; RC, output in $TMP/NAME.out
send() {
  local name=$1
  shift
  printf 'Subject: dovecot %s\r\n\r\nbody\r\n' "$name" |
    timeout 30 "$SEND" --server "127.0.0.1:$DP" --from a@example.com --to bob@example.org \
      --starttls off --allow-plaintext-auth --trace "$@" >"$TMP/$name.out" 2>&1
  RC=$?
}

for m in SCRAM-SHA-1 SCRAM-SHA-256 PLAIN; do
  send "$m" --auth alice:pencil --auth-mech "$m"
  check "$m: delivered (exit 0)" $(eq "$RC" 0)
  check "$m: AUTH $m on the wire" $(t grep -q "^C: AUTH $m" "$TMP/$m.out")
  check "$m: 235 from Dovecot" $(t grep -q '^S: 235' "$TMP/$m.out")
  check "$m: Dovecot logged the login" $(t grep -q "Login: user=<alice>, method=$m" "$D/dovecot.log")
  check "$m: no password in the trace" $(not grep -q pencil "$TMP/$m.out")
done
check "SCRAM: Dovecot offers both" $(t grep -q 'AUTH .*SCRAM-SHA-1 SCRAM-SHA-256' "$TMP/PLAIN.out")
# the SCRAM client-final line (proof) is redacted: only the AUTH verb and
# "<redacted>" lines are traced from the client during the exchange
check "SCRAM: client SASL lines redacted" $(not grep -E -q '^C: [A-Za-z0-9+/]{40,}' "$TMP/SCRAM-SHA-256.out")

# Default choice: the strongest both have.
send default --auth alice:pencil
check "default: SCRAM-SHA-256 chosen" $(t grep -q '^C: AUTH SCRAM-SHA-256' "$TMP/default.out")
check "default: delivered" $(eq "$RC" 0)

# Wrong password: 535, nothing delivered.
send wrong --auth alice:pencyl --auth-mech SCRAM-SHA-256
check "wrong password: smtp-send fails" $(not [ "$RC" = 0 ])
check "wrong password: 535" $(t grep -q '535' "$TMP/wrong.out")
check "Dovecot relayed exactly the four good messages" \
  $(eq "$(grep -c 'Successfully relayed message' "$D/dovecot.log")" 4)
finish
