#!/bin/sh
# `pip install` of the binding into a fresh virtual environment, offline
# (--no-index: the in-tree build backend needs nothing from an index), then
# an import and a round trip through the installed package.
#   pip_install_check.sh PYTHON PACKAGE_DIR LIBSMTP_SO
set -eu
py=$1 pkg=$2 lib=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$py" -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --no-index --no-cache-dir -q "$pkg"
cd "$tmp"
LIBSMTP_PATH=$lib "$tmp/venv/bin/python" - <<'PY'
import os, libsmtp, libsmtp.aio
assert libsmtp.__file__.startswith(os.path.realpath(os.getcwd())), libsmtp.__file__
assert os.path.exists(os.path.join(os.path.dirname(libsmtp.__file__), "py.typed"))
s = libsmtp.ServerSession(None, hostname="mx.example.org")
s.receive(b"EHLO c.example\r\nQUIT\r\n")
out = s.take_output()
assert b"250" in out and b"221" in out, out
print("installed", libsmtp.__file__, "library", libsmtp.version_string())
PY
