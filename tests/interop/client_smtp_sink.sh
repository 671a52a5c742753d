#!/bin/bash
# smtp-send against Postfix's smtp-sink on loopback: pipelined SMTP with
# DSN parameters, LMTP (-L), lock-step with refused recipients (-r RCPT),
# a large message; the dumped message must be the one sent (smtp-sink
# writes lines with LF ends). Exits 77 (skip) when smtp-sink is missing.
set -u
SEND=${1:?path to smtp-send}
SINK=
for p in /usr/sbin/smtp-sink /usr/lib/postfix/sbin/smtp-sink "$(command -v smtp-sink 2>/dev/null)"; do
  [ -n "$p" ] && [ -x "$p" ] && { SINK=$p; break; }
done
[ -n "$SINK" ] || { echo "smtp-sink (postfix) not installed: skip"; exit 77; }
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
[ -x "$SEND" ] || { echo "no smtp-send at $SEND"; exit 1; }
tmp=$(mktemp -d)
chmod 755 "$tmp"
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail=0; n=0
check() {
  n=$((n + 1))
  if [ "$2" = 0 ]; then echo "ok $n - $1"; else echo "not ok $n - $1"; fail=1; fi
}
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# start_sink NAME [smtp-sink options]: sets $port; dumps go to $tmp/NAME/
start_sink() {
  local name=$1; shift
  mkdir -p "$tmp/$name"; chmod 777 "$tmp/$name"
  port=$(free_port)
  timeout 120 "$SINK" -u "$(id -un)" -d "$tmp/$name/%H%M%S." "$@" "127.0.0.1:$port" 10 &
  pids="$pids $!"
  for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "smtp-sink did not start"; exit 1
}
# body_of DUMP: the message part of a dump file (after the smtp-sink header block)
body_of() {
  "$PY" - "$1" <<'PY'
import sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
i = 0
while i < len(lines) and lines[i].startswith(b"X-"):
    i += 1
if i < len(lines) and lines[i].startswith(b"Received:"):
    i += 1
    while i < len(lines) and lines[i].startswith(b"\t"):
        i += 1
rest = lines[i:]
# the dump ends with the message's last LF, an empty line and the final LF
while rest and rest[-1] == b"":
    rest.pop()
sys.stdout.buffer.write(b"\n".join(rest) + b"\n")
PY
}
send() { timeout 30 "$SEND" --starttls off "$@"; }
# the expected dump text: CRLF -> LF
lf() { "$PY" -c 'import sys; d=open(sys.argv[1],"rb").read().replace(b"\r\n",b"\n"); sys.stdout.buffer.write(d)' "$1"; }
dumps() { ls "$tmp/$1"/* 2>/dev/null | wc -l; }

printf 'Subject: sink\r\n\r\n.dot first\r\nplain\nbare lf\r\n' > "$tmp/m1"
printf 'Subject: sink\r\n\r\n.dot first\r\nplain\r\nbare lf\r\n' > "$tmp/m1.crlf"

# 1. pipelined SMTP with DSN parameters
start_sink smtp
out=$(send --server "127.0.0.1:$port" --from a@example.org --to bob@example.net --to carol@example.net \
  --dsn-notify SUCCESS,FAILURE --dsn-ret HDRS --envid 'id+1 x' --trace "$tmp/m1" 2>"$tmp/trace"); rc=$?
check "smtp-sink send exits 0" $([ $rc = 0 ] && echo 0 || echo 1)
check "pipelined (MAIL, RCPT, RCPT, DATA before a reply)" $(
  awk '/^C: MAIL/{m=NR} /^C: DATA/{d=NR} /^S: 250 2.1.0/{s=NR} END{exit !(m && d && s && d < s)}' "$tmp/trace" && echo 0 || echo 1)
check "RCPT lines" $([ "$(echo "$out" | grep -c '^RCPT .* 250 2.1.5 Ok$')" = 2 ] && echo 0 || echo 1)
check "DATA line" $(echo "$out" | grep -q '^DATA 250 2.0.0 Ok' && echo 0 || echo 1)
sleep 0.3
d=$(ls "$tmp/smtp"/* | head -1)
check "one dump" $([ "$(dumps smtp)" = 1 ] && echo 0 || echo 1)
check "dumped message" $(cmp -s <(body_of "$d") <(lf "$tmp/m1.crlf") && echo 0 || echo 1)
check "MAIL parameters" $(grep -q '^X-Mail-Args: <a@example.org> .*RET=HDRS ENVID=id+2B1+20x' "$d" && echo 0 || echo 1)
check "RCPT parameters" $(grep -q '^X-Rcpt-Args: <bob@example.net> NOTIFY=SUCCESS,FAILURE' "$d" && echo 0 || echo 1)

# 2. a large message
"$PY" -c '
import sys
out = [("." if i % 5 == 0 else "") + ("x%d" % i) * 20 for i in range(20000)]
sys.stdout.write("Subject: big\r\n\r\n" + "\r\n".join(out) + "\r\n")
' > "$tmp/big"
out=$(send --server "127.0.0.1:$port" --from a@example.org --to bob@example.net "$tmp/big"); rc=$?
check "large message exits 0" $([ $rc = 0 ] && echo 0 || echo 1)
sleep 0.3
d=$(ls -t "$tmp/smtp"/* | head -1)
check "large message dumped intact" $(cmp -s <(body_of "$d") <(lf "$tmp/big") && echo 0 || echo 1)

# 3. LMTP: one reply per recipient after the data (RFC 2033 4.2)
start_sink lmtp -L
out=$(send --server "127.0.0.1:$port" --lmtp --from a@example.org --to bob@example.net --to carol@example.net "$tmp/m1"); rc=$?
check "LMTP exits 0" $([ $rc = 0 ] && echo 0 || echo 1)
check "LMTP DATA line per recipient" $(
  echo "$out" | grep -q '^DATA bob@example.net 250 ' && echo "$out" | grep -q '^DATA carol@example.net 250 ' && echo 0 || echo 1)

# 4. refused recipients without pipelining (-r RCPT: 4xx to every RCPT)
start_sink refuse -r RCPT
before=$(dumps refuse)
out=$(send --server "127.0.0.1:$port" --from a@example.org --to bob@example.net "$tmp/m1"); rc=$?
check "all refused exits 2" $([ $rc = 2 ] && echo 0 || echo 1)
check "450 reported" $(echo "$out" | grep -q '^RCPT bob@example.net 450 4.3.0 ' && echo 0 || echo 1)
check "nothing dumped" $([ "$(dumps refuse)" = "$before" ] && echo 0 || echo 1)

# 5. --no-pipelining and 8-bit content to a server without 8BITMIME (-8)
start_sink no8 -8
printf 'Subject: x\r\n\r\ncaf\xc3\xa9\r\n' > "$tmp/m8"
send --server "127.0.0.1:$port" --from a@example.org --to bob@example.net "$tmp/m8" >/dev/null 2>"$tmp/err"; rc=$?
check "8-bit to a 7-bit server exits 2" $([ $rc = 2 ] && echo 0 || echo 1)
check "nothing dumped (8-bit)" $([ "$(dumps no8)" = 0 ] && echo 0 || echo 1)
out=$(send --server "127.0.0.1:$port" --no-pipelining --from a@example.org --to bob@example.net "$tmp/m1"); rc=$?
check "--no-pipelining exits 0" $([ $rc = 0 ] && echo 0 || echo 1)

echo "1..$n"
[ $fail = 0 ]
