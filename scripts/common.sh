# Sourced by scripts/demo and scripts/test: installs missing Debian packages
# (as root) or prints the apt-get line, then configures and builds build/.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

# Build and test dependencies. Interop peers come from Debian too (loopback only).
SMTP_BUILD_PKGS="gcc g++ meson ninja-build pkg-config libcmocka-dev libssl-dev libmbedtls-dev scdoc"
SMTP_TEST_PKGS="chromium python3-pytest python3-mypy python3-venv abigail-tools cmake git debhelper lintian dpkg-dev fakeroot libjs-jquery swaks libnet-ssleay-perl libio-socket-inet6-perl curl socat openssl ca-certificates python3 python3-aiosmtpd postfix dovecot-core dovecot-submissiond doxygen clang libclang-rt-14-dev haproxy nginx-light libnginx-mod-mail libc-ares-dev libunbound-dev libcurl4-openssl-dev nsd unbound ldnsutils libidn12 libgnutls-dane0 golang-go golang-github-emersion-go-smtp-dev"

missing_pkgs() {
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || printf '%s ' "$p"
  done
}

ensure_pkgs() {
  miss=$(missing_pkgs "$@")
  [ -z "$miss" ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing: $miss"
    export DEBIAN_FRONTEND=noninteractive
    # Postfix is needed only for smtp-source/smtp-sink: no configuration, no daemon.
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections 2>/dev/null || true
    rcd_created=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; rcd_created=1
    fi
    (apt-get install -y -q --no-install-recommends $miss >/tmp/libsmtp-apt.log 2>&1 ||
      { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends $miss >/tmp/libsmtp-apt.log 2>&1; }) ||
      { echo "apt-get failed, see /tmp/libsmtp-apt.log" >&2; tail -5 /tmp/libsmtp-apt.log >&2; if [ $rcd_created = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi; return 1; }
    if [ $rcd_created = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  else
    echo "missing packages; run as root:" >&2
    echo "  apt-get install -y $miss" >&2
    return 1
  fi
}

build_dir=${BUILD_DIR:-build}

configure_build() {
  if [ ! -f "$build_dir/build.ninja" ]; then
    meson setup "$build_dir" "$@" >/dev/null
  fi
  ninja -C "$build_dir" >/dev/null || ninja -C "$build_dir"
}
