#!/bin/bash
# Interop of the two example programs over TCP for the service extensions
# with parameters and the application hooks: smtp-server --enable-ext /
# --disable-ext / --ehlo-keyword against smtp-send --mt-priority (RFC 6710),
# --deliver-by (RFC 2852), --hold-for / --hold-until (RFC 4865), --rrvs
# (RFC 7293), --mail-param / --rcpt-param, --dsn-notify with ORCPT
# (RFC 3461 4.2), --timeout and --json. Checks both transcripts (--trace),
# the exit codes of the example programs and the 555 for parameters nobody claims.
# Also: --auth-mech SCRAM-SHA-256 gets a random source (RFC 5802 5.1) and
# sends its client-first message to a stub server offering only SCRAM.
# Usage: client_server_ext.sh PATH/TO/smtp-send (smtp-server is taken from
# the same directory).
SEND=${1:?usage: client_server_ext.sh smtp-send}
SERVER=$(dirname "$SEND")/smtp-server
[ -x "$SERVER" ] || { echo "no smtp-server next to $SEND: skip"; exit 77; }
. "$(dirname "$0")/lib.sh"

printf 'From: a@example.com\r\nTo: bob@example.org\r\nSubject: ext\r\n\r\nhello\r\n' >"$TMP/m1"

snd() { # snd NAME SMTP-SEND-ARGS...: stdout $TMP/NAME.out, stderr $TMP/NAME.err, RC
  local name=$1
  shift
  timeout 60 "$SEND" --helo client.example "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
  RC=$?
}

# 1. Every extension option, and application parameters of a keyword the
#    server advertises with --ehlo-keyword.
start_server ext --trace --discard --enable-ext MT-PRIORITY --enable-ext DELIVERBY \
  --enable-ext FUTURERELEASE --enable-ext RRVS --enable-ext DSN --ehlo-keyword 'XFOO 1'
snd all --server "127.0.0.1:$PORT" --from a@example.com --to bob@example.org --trace \
  --mt-priority -3 --deliver-by '120;RT' --hold-for 3600 --rrvs '2030-01-01T00:00:00Z;C' \
  --mail-param XFOO=1 --rcpt-param XFOO --dsn-notify SUCCESS,FAILURE --timeout 30 "$TMP/m1"
check "all options: exit 0" $(eq "$RC" 0)
check "all options: MAIL line sent" $(t grep -qx 'C: MAIL FROM:<a@example.com> SIZE=[0-9]* MT-PRIORITY=-3 BY=120;RT HOLDFOR=3600 XFOO=1' "$TMP/all.err")
check "all options: RCPT line with ORCPT, RRVS, XFOO" $(t grep -qx 'C: RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.org RRVS=2030-01-01T00:00:00Z;C XFOO' "$TMP/all.err")
check "all options: server received them unchanged" $(t grep -q 'MT-PRIORITY=-3 BY=120;RT HOLDFOR=3600 XFOO=1' "$TMP/ext.log")
check "all options: RCPT accepted" $(t grep -qx 'RCPT bob@example.org 250 2.1.5 Recipient OK' "$TMP/all.out")
snd until --server "127.0.0.1:$PORT" --from a@example.com --to bob@example.org --trace \
  --hold-until 2030-01-01T00:00:00Z "$TMP/m1"
check "--hold-until: exit 0" $(eq "$RC" 0)
check "--hold-until: HOLDUNTIL sent" $(t grep -q '^C: MAIL FROM:<a@example.com> .*HOLDUNTIL=2030-01-01T00:00:00Z' "$TMP/until.err")
snd json --server "127.0.0.1:$PORT" --from a@example.com --to bob@example.org --json "$TMP/m1"
check "--json: exit 0" $(eq "$RC" 0)
check "--json: one object with the replies" $("$PY" -c '
import json, sys
o = json.loads(open(sys.argv[1]).read())
ok = (o["rcpts"][0]["addr"] == "bob@example.org" and o["rcpts"][0]["code"] == 250
      and o["rcpts"][0]["enhanced"] == "2.1.5" and o["data"]["code"] == 250
      and o["mail"] is None and o["tls"] is None and o["error"] is None and o["exit"] == 0)
sys.exit(0 if ok else 1)' "$TMP/json.out" >/dev/null 2>&1 && echo 0 || echo 1)
# A parameter no keyword claims: 555 5.5.4 from the server.
snd unknown --server "127.0.0.1:$PORT" --from a@example.com --to bob@example.org --mail-param XBAR=1 "$TMP/m1"
check "unclaimed parameter: exit 2" $(eq "$RC" 2)
check "unclaimed parameter: 555 5.5.4" $(t grep -q '^MAIL 555 5.5.4' "$TMP/unknown.out")
snd unknown_json --server "127.0.0.1:$PORT" --from a@example.com --to bob@example.org --mail-param XBAR=1 --json "$TMP/m1"
check "--json refused MAIL: mail.code 555, exit 2" $("$PY" -c '
import json, sys
o = json.loads(open(sys.argv[1]).read())
sys.exit(0 if o["mail"]["code"] == 555 and o["rcpts"] == [] and o["exit"] == 2 else 1)' "$TMP/unknown_json.out" >/dev/null 2>&1 && echo 0 || echo 1)
stop_server "$SPID"

# 2. The extensions off: nothing is sent after EHLO but QUIT, exit 2.
start_server off --trace --discard --disable-ext PIPELINING
for opt in "--mt-priority 1" "--deliver-by 60;N" "--hold-for 10" "--rrvs 2030-01-01T00:00:00Z"; do
  # shellcheck disable=SC2086
  snd off --server "127.0.0.1:$PORT" --from a@example.com --to bob@example.org --trace $opt "$TMP/m1"
  check "not offered ($opt): exit 2" $(eq "$RC" 2)
  check "not offered ($opt): no MAIL sent" $(not grep -q '^C: MAIL' "$TMP/off.err")
  check "not offered ($opt): QUIT sent" $(t grep -qx 'C: QUIT' "$TMP/off.err")
done
check "--disable-ext PIPELINING: not offered" $(not grep -q '250-PIPELINING' "$TMP/off.log")
stop_server "$SPID"

# 3. Usage errors: exit 64, nothing connects.
for bad in "--mt-priority 10" "--mt-priority +1" "--deliver-by 0;R" "--deliver-by 120" \
  "--hold-for 0" "--hold-for 1000000000" "--hold-until 2030-01-01T00:00:00+01:00" \
  "--rrvs 2030-02-30T00:00:00Z" "--rrvs 2030-01-01T00:00:00Z;X" "--mail-param a_b" \
  "--mail-param X=a=b" "--rcpt-param -X" "--mail-param SIZE=10" "--timeout 0" "--mail-param MT-PRIORITY=11"; do
  # shellcheck disable=SC2086
  snd usage --server 127.0.0.1:9 --from a@example.com --to bob@example.org $bad "$TMP/m1"
  check "usage error ($bad): exit 64" $(eq "$RC" 64)
done
timeout 10 "$SERVER" --stdio --enable-ext ATRN </dev/null >/dev/null 2>&1
check "smtp-server --enable-ext ATRN (not implemented): exit 64" $(eq "$?" 64)
timeout 10 "$SERVER" --stdio --ehlo-keyword 'SIZE 10' </dev/null >/dev/null 2>&1
check "smtp-server --ehlo-keyword SIZE (the library's own): exit 64" $(eq "$?" 64)

# 4. SCRAM-SHA-256 needs random bytes for its nonce: a stub server that
#    offers only SCRAM-SHA-256 must see the client-first message.
"$PY" - "$TMP/scram.port" "$TMP/scram.seen" <<'PYEOF' &
import base64, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
s.settimeout(30)
c, _ = s.accept()
f = c.makefile("rb")
def send(x): c.sendall(x.encode() + b"\r\n")
send("220 stub ESMTP")
f.readline()
send("250-stub\r\n250 AUTH SCRAM-SHA-256")
line = f.readline().decode().strip()
seen = "no"
if line.startswith("AUTH SCRAM-SHA-256 "):
    first = base64.b64decode(line.split(" ", 2)[2]).decode()
    if first.startswith("n,,n=user,r=") and len(first) > 20:
        seen = "yes"
open(sys.argv[2], "w").write(seen)
send("535 5.7.8 no")
f.readline()
send("221 bye")
c.close()
PYEOF
STUB=$!
PIDS="$PIDS $STUB"
for i in $(seq 100); do [ -s "$TMP/scram.port" ] && break; sleep 0.05; done
snd scram --server "127.0.0.1:$(cat "$TMP/scram.port")" --from a@example.com --to bob@example.org \
  --auth user:pw --auth-mech SCRAM-SHA-256 --allow-plaintext-auth "$TMP/m1"
wait "$STUB" 2>/dev/null
check "SCRAM-SHA-256: client-first message sent (random nonce)" $(eq "$(cat "$TMP/scram.seen" 2>/dev/null)" yes)
check "SCRAM-SHA-256: the 535 reported, exit 2" $(eq "$RC" 2)

finish
