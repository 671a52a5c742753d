#!/bin/bash
# smtp-send against Python's aiosmtpd on loopback: the delivered bytes, the
# envelope, the per-recipient output lines and the exit codes (docs/examples.md).
# Exits 77 (skip) when aiosmtpd is not installed.
set -u
SEND=${1:?path to smtp-send}
PY=/usr/bin/python3
[ -x "$PY" ] && "$PY" -c 'import aiosmtpd' 2>/dev/null || { echo "aiosmtpd not installed: skip"; exit 77; }
[ -x "$SEND" ] || { echo "no smtp-send at $SEND"; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
mkdir "$tmp/out"
timeout 90 "$PY" "$here/aiosmtpd_sink.py" "$tmp/out" "$tmp/port" &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
[ -s "$tmp/port" ] || { echo "aiosmtpd did not start"; exit 1; }
port=$(cat "$tmp/port")
srv="127.0.0.1:$port"
fail=0; n=0
check() { # name, condition result
  n=$((n + 1))
  if [ "$2" = 0 ]; then echo "ok $n - $1"; else echo "not ok $n - $1"; fail=1; fi
}
send() { timeout 30 "$SEND" --server "$srv" --starttls off "$@"; }
last_eml() { ls "$tmp/out"/*.eml 2>/dev/null | sort -n -t/ -k1 | tail -1; }
count() { ls "$tmp/out"/*.eml 2>/dev/null | wc -l; }

# 1. dot-stuffing, bare LF and a missing final CRLF: delivered CRLF-clean.
printf 'Subject: one\n\n.leading dot\r\n..two dots\nbare\rcr\nlast line' > "$tmp/m1"
printf 'Subject: one\r\n\r\n.leading dot\r\n..two dots\r\nbare\r\ncr\r\nlast line\r\n' > "$tmp/m1.want"
out=$(send --from a@example.org --to bob@example.net "$tmp/m1"); rc=$?
check "basic send exits 0" $([ $rc = 0 ] && echo 0 || echo 1)
check "RCPT line" $(echo "$out" | grep -q '^RCPT bob@example.net 250 - 2.1.5 OK$' && echo 0 || echo 1)
check "DATA line" $(echo "$out" | grep -q '^DATA 250 - 2.0.0 queued as 1$' && echo 0 || echo 1)
check "delivered bytes" $(cmp -s "$tmp/out/1.eml" "$tmp/m1.want" && echo 0 || echo 1)
check "envelope" $(grep -q '^from=a@example.org$' "$tmp/out/1.env" && grep -q '^rcpt=bob@example.net$' "$tmp/out/1.env" && echo 0 || echo 1)

# 2. some recipients refused: exit 1, one line per recipient.
out=$(send --from '' --to ok1@example.net --to reject1@example.net --to tempfail@example.net --to ok2@example.net "$tmp/m1"); rc=$?
check "partial delivery exits 1" $([ $rc = 1 ] && echo 0 || echo 1)
check "four RCPT lines" $([ "$(echo "$out" | grep -c '^RCPT ')" = 4 ] && echo 0 || echo 1)
check "550 reported" $(echo "$out" | grep -q '^RCPT reject1@example.net 550 - 5.1.1 no such user$' && echo 0 || echo 1)
check "450 reported" $(echo "$out" | grep -q '^RCPT tempfail@example.net 450 - 4.2.0 try later$' && echo 0 || echo 1)
check "null reverse-path" $(grep -q '^from=<>$' "$tmp/out/2.env" && echo 0 || echo 1)
check "two recipients delivered" $([ "$(grep -c '^rcpt=' "$tmp/out/2.env")" = 2 ] && echo 0 || echo 1)

# 3. every recipient refused: exit 2, nothing delivered.
before=$(count)
out=$(send --from a@example.org --to reject@example.net "$tmp/m1"); rc=$?
check "all refused exits 2" $([ $rc = 2 ] && echo 0 || echo 1)
check "nothing delivered" $([ "$(count)" = "$before" ] && echo 0 || echo 1)

# 4. 8-bit content: BODY=8BITMIME, bytes intact.
printf 'Subject: caf\xc3\xa9\r\n\r\nna\xc3\xafve\r\n' > "$tmp/m8"
out=$(send --from a@example.org --to bob@example.net "$tmp/m8"); rc=$?
check "8-bit send exits 0" $([ $rc = 0 ] && echo 0 || echo 1)
check "8-bit bytes intact" $(cmp -s "$(last_eml)" "$tmp/m8" && echo 0 || echo 1)
check "BODY=8BITMIME declared" $(grep -q 'BODY=8BITMIME' "${tmp}/out/$(count).env" && echo 0 || echo 1)

# 5. --no-8bitmime with 8-bit content: exit 2, none of it sent.
before=$(count)
send --from a@example.org --to bob@example.net --no-8bitmime "$tmp/m8" >/dev/null 2>"$tmp/err"; rc=$?
check "8-bit without 8BITMIME exits 2" $([ $rc = 2 ] && echo 0 || echo 1)
check "8-bit refusal on stderr" $(grep -q '8BITMIME' "$tmp/err" && echo 0 || echo 1)
check "nothing delivered (8-bit)" $([ "$(count)" = "$before" ] && echo 0 || echo 1)

# 6. SMTPUTF8 (RFC 6531): a UTF-8 recipient, and --smtputf8 with ASCII.
out=$(send --from a@example.org --to "j$(printf '\xc3\xb6')rg@example.net" "$tmp/m1"); rc=$?
check "UTF-8 recipient exits 0" $([ $rc = 0 ] && echo 0 || echo 1)
check "SMTPUTF8 declared" $(grep -q 'SMTPUTF8' "${tmp}/out/$(count).env" && echo 0 || echo 1)
out=$(send --from a@example.org --to bob@example.net --smtputf8 "$tmp/m1"); rc=$?
check "--smtputf8 exits 0" $([ $rc = 0 ] && echo 0 || echo 1)

# 7. usage errors: injection in an address, a bad option; nothing sent.
before=$(count)
send --from a@example.org --to "$(printf 'bob@example.net\r\nRSET')" "$tmp/m1" >/dev/null 2>&1; rc=$?
check "CRLF in --to is a usage error" $([ $rc = 64 ] && echo 0 || echo 1)
send --from 'a@example.org> SIZE=1' --to bob@example.net "$tmp/m1" >/dev/null 2>&1; rc=$?
check "parameter in --from is a usage error" $([ $rc = 64 ] && echo 0 || echo 1)
send --from a@example.org --to bob@example.net --bogus "$tmp/m1" >/dev/null 2>&1; rc=$?
check "unknown option is a usage error" $([ $rc = 64 ] && echo 0 || echo 1)
check "nothing delivered (usage)" $([ "$(count)" = "$before" ] && echo 0 || echo 1)

# 8. --auth without TLS: exit 2, no credentials sent.
send --from a@example.org --to bob@example.net --auth user:secret --trace "$tmp/m1" >/dev/null 2>"$tmp/err"; rc=$?
check "--auth without TLS exits 2" $([ $rc = 2 ] && echo 0 || echo 1)
check "no AUTH on the wire" $(grep -q '^C: AUTH' "$tmp/err" && echo 1 || echo 0)

# 9. a big message (about 1 MB, lines starting with dots) from stdin.
"$PY" -c '
import sys
out = []
for i in range(12000):
    out.append(("." if i % 7 == 0 else "") + ("line %d " % i) * 10)
sys.stdout.write("Subject: big\r\n\r\n" + "\r\n".join(out) + "\r\n")
' > "$tmp/big"
out=$(send --from a@example.org --to bob@example.net - < "$tmp/big"); rc=$?
check "big message exits 0" $([ $rc = 0 ] && echo 0 || echo 1)
check "big message bytes" $(cmp -s "$(last_eml)" "$tmp/big" && echo 0 || echo 1)

# 10. without pipelining.
out=$(send --from a@example.org --to bob@example.net --to carol@example.net --no-pipelining "$tmp/m1"); rc=$?
check "--no-pipelining exits 0" $([ $rc = 0 ] && echo 0 || echo 1)

echo "1..$n"
[ $fail = 0 ]
