# Helpers sourced by the bash interop scripts that run examples/smtp-server
# over TCP (not a test itself). Everything stays on loopback; every program
# runs under timeout(1); ports come from the kernel (--listen 127.0.0.1:0,
# the server names its port on stderr), so parallel runs never collide.
#
#   . "$(dirname "$0")/lib.sh"
#   start_server NAME [smtp-server options]   -> $PORT, $SPID, log $TMP/NAME.log
#   check "description" $(t COMMAND...)       -> "ok N - ..." / "not ok N - ..."
#   finish                                    -> exit status (0, or 1 on any failure)
set -u
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
command -v timeout >/dev/null 2>&1 || { echo "timeout(1) not installed: skip"; exit 77; }
TMP=$(mktemp -d /tmp/libsmtp-interop.XXXXXX)
chmod 755 "$TMP"
PIDS=
fail=0
n=0
_cleanup() {
  for p in $PIDS; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$TMP"
}
trap _cleanup EXIT

# check NAME RESULT: RESULT is 0 for success (use $(t cmd ...)).
check() {
  n=$((n + 1))
  if [ "$2" = 0 ]; then
    echo "ok $n - $1"
  else
    echo "not ok $n - $1"
    fail=1
  fi
}
# t COMMAND...: prints 0 when COMMAND succeeds, else 1 (its output is dropped).
t() { "$@" >/dev/null 2>&1 && echo 0 || echo 1; }
# not COMMAND...: inverts t.
not() { "$@" >/dev/null 2>&1 && echo 1 || echo 0; }
# eq A B: prints 0 when the two strings are equal.
eq() { [ "$1" = "$2" ] && echo 0 || echo 1; }

finish() {
  echo "1..$n"
  if [ "$fail" != 0 ]; then
    for f in "$TMP"/*.log; do
      [ -f "$f" ] || continue
      echo "---- tail of $(basename "$f")"
      tail -25 "$f" | sed 's/^/    /'
    done
  fi
  exit "$fail"
}

# start_server NAME [options]: smtp-server on 127.0.0.1:0 (plus whatever
# --listen the options add); sets PORT (the 127.0.0.1 one), PORT6 (the
# [::1] one, if any) and SPID.
start_server() {
  local name=$1 i
  shift
  timeout -k 5 170 "$SERVER" --listen 127.0.0.1:0 --hostname mx.test "$@" 2>"$TMP/$name.log" &
  SPID=$!
  PIDS="$PIDS $SPID"
  PORT=
  for i in $(seq 200); do
    PORT=$(sed -n 's/^smtp-server: listening on 127\.0\.0\.1:\([0-9][0-9]*\) .*/\1/p' "$TMP/$name.log" 2>/dev/null | head -1)
    [ -n "$PORT" ] && break
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.05
  done
  PORT6=$(sed -n 's/^smtp-server: listening on \[::1\]:\([0-9][0-9]*\) .*/\1/p' "$TMP/$name.log" | head -1)
  if [ -z "$PORT" ]; then
    echo "smtp-server ($name) did not start:"
    cat "$TMP/$name.log"
    exit 1
  fi
}

# stop_server PID: SIGTERM, and wait for it (the server exits 0).
stop_server() {
  kill "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}

# has_ipv6: loopback ::1 is usable here.
has_ipv6() { "$PY" -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null; }

# make_cert DIR NAME: a self-signed certificate for NAME (CN and
# subjectAltName) made by openssl, DIR/cert.pem and DIR/key.pem.
make_cert() {
  mkdir -p "$1"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=$2" -addext "subjectAltName=DNS:$2" \
    -keyout "$1/key.pem" -out "$1/cert.pem" >/dev/null 2>&1
}

# Maildir helpers.
md_count() { ls "$1/new" 2>/dev/null | wc -l; }
md_tmp_count() { ls "$1/tmp" 2>/dev/null | wc -l; }
# The newest delivery in a Maildir of smtp-server: by the process-wide
# counter in its name ("<sec>.M<usec>P<pid>Q<n>.<host>"); mtimes can tie.
md_last() {
  local f
  f=$(ls "$1/new" 2>/dev/null | awk -F'Q' '{ split($2, a, "."); print a[1] "\t" $0 }' | sort -n | tail -1 | cut -f2-)
  [ -n "$f" ] && echo "$1/new/$f"
}
# md_body FILE: the message as received, without the header fields the
# server prepends (Return-Path, Delivered-To..., Received with its
# continuation lines); byte for byte.
md_body() {
  "$PY" - "$1" <<'PYEOF'
import sys
data = open(sys.argv[1], "rb").read()
lines = data.split(b"\r\n")
i = 0
while i < len(lines) and (lines[i].startswith(b"Return-Path:") or lines[i].startswith(b"Delivered-To:")):
    i += 1
if i < len(lines) and lines[i].startswith(b"Received:"):
    i += 1
    while i < len(lines) and lines[i].startswith(b"\t"):
        i += 1
sys.stdout.buffer.write(b"\r\n".join(lines[i:]))
PYEOF
}
# same_body FILE EXPECTED: the stored message equals EXPECTED byte for byte.
same_body() { md_body "$1" | cmp -s - "$2"; }
