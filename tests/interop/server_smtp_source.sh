#!/bin/bash
# Interop and load: Postfix's smtp-source into examples/smtp-server over
# TCP: 20 concurrent sessions delivering 1000 messages (one connection per
# message, then 500 more with several transactions per connection), and LMTP
# with three recipients per message. Checks the Maildir: the exact count,
# nothing left in tmp/, every stored message well-formed and identical in
# its body, every Message-Id once.
# Usage: server_smtp_source.sh PATH/TO/smtp-server. Exit 77 (skip) without
# smtp-source (Debian package postfix; the daemon is never started).
SERVER=${1:?usage: server_smtp_source.sh smtp-server}
SOURCE=
for p in /usr/sbin/smtp-source /usr/lib/postfix/sbin/smtp-source "$(command -v smtp-source 2>/dev/null)"; do
  [ -n "$p" ] && [ -x "$p" ] && { SOURCE=$p; break; }
done
[ -n "$SOURCE" ] || { echo "smtp-source (postfix) not installed: skip"; exit 77; }
. "$(dirname "$0")/lib.sh"

# check_maildir DIR COUNT RCPTS: COUNT files in new/, none in tmp/, each
# with RCPTS Delivered-To fields, the smtp-source message (From, To, Date,
# Message-Id, a blank line, then numbered X lines) byte-exact in shape, the
# same body everywhere, and no Message-Id twice.
check_maildir() {
  "$PY" - "$1" "$2" "$3" <<'PYEOF'
import os, re, sys
d, want, rcpts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
new = [os.path.join(d, "new", f) for f in os.listdir(os.path.join(d, "new"))]
tmp = os.listdir(os.path.join(d, "tmp"))
problems = []
if len(new) != want: problems.append("%d files, want %d" % (len(new), want))
if tmp: problems.append("%d files left in tmp/" % len(tmp))
bodies, ids = set(), set()
for p in new:
    data = open(p, "rb").read()
    head, sep, rest = data.partition(b"\r\nFrom: <")
    if not sep:
        problems.append(p + ": no From"); continue
    if head.count(b"Delivered-To: ") != rcpts: problems.append(p + ": Delivered-To count")
    if not head.startswith(b"Return-Path: <a@example.com>\r\n"): problems.append(p + ": Return-Path")
    msg = b"From: <" + rest
    hdr, sep, body = msg.partition(b"\r\n\r\n")
    fields = hdr.split(b"\r\n")
    if [f.split(b":")[0] for f in fields] != [b"From", b"To", b"Date", b"Message-Id"]:
        problems.append(p + ": header fields %r" % fields); continue
    ids.add(fields[3])
    lines = body.split(b"\r\n")
    if lines[-1] != b"" or not all(re.fullmatch(rb"[0-9]?X+", l) for l in lines[:-1]) or b"\n" in body.replace(b"\r\n", b""):
        problems.append(p + ": body shape")
    bodies.add(body)
if len(bodies) > 1: problems.append("%d different bodies" % len(bodies))
if len(ids) != len(new): problems.append("%d Message-Ids for %d files" % (len(ids), len(new)))
print("; ".join(problems[:5]) if problems else "fine")
sys.exit(1 if problems else 0)
PYEOF
}

src() { # src NAME SMTP-SOURCE-ARGS...: sets RC; output in $TMP/NAME.src
  local name=$1
  shift
  timeout 120 "$SOURCE" -f a@example.com -t bob@example.org -M client.example "$@" "127.0.0.1:$PORT" \
    >"$TMP/$name.src" 2>&1
  RC=$?
}

# 1. 20 concurrent sessions, 1000 messages, a new connection per message.
start_server load --maildir "$TMP/md1"
start=$(date +%s)
src load -s 20 -m 1000 -l 2000
check "20 sessions x 1000 messages: smtp-source exit 0" $(eq "$RC" 0)
check "20 sessions x 1000 messages: no error from smtp-source" $(not grep -qi 'fatal\|error\|warning' "$TMP/load.src")
r=$(check_maildir "$TMP/md1" 1000 1); echo "# $r"
check "20 sessions x 1000 messages: 1000 well-formed files, identical bodies, unique ids" $(eq "$r" fine)
echo "# 1000 messages in $(( $(date +%s) - start )) s"
# 2. Through kept connections (-d: several transactions per session).
src keep -d -s 20 -m 500 -l 5000
check "20 kept sessions x 500 messages: smtp-source exit 0" $(eq "$RC" 0)
check "20 kept sessions: 1500 files in all" $(eq "$(md_count "$TMP/md1")" 1500)
check "server still alive" $(t kill -0 "$SPID")
stop_server "$SPID"

# 3. LMTP (-L) with three recipients per message (-r 3 -N: 1bob, 2bob, ...).
start_server lmtp --lmtp --maildir "$TMP/md2"
src lmtp -L -s 10 -m 200 -r 3 -N -l 1000
check "LMTP 10 sessions x 200 messages x 3 recipients: exit 0" $(eq "$RC" 0)
r=$(check_maildir "$TMP/md2" 200 3); echo "# $r"
check "LMTP: 200 well-formed files, three Delivered-To each" $(eq "$r" fine)
stop_server "$SPID"

finish
