#!/bin/bash
# End to end: smtp-send --mx against real DNS software on loopback.
# nsd serves a DNSSEC-signed zone "example." (ldns-signzone); unbound validates
# it with the zone's trust anchor; smtp-server instances listen on several
# loopback addresses on one port (127.0.0.11 refuses connections,
# 127.0.0.12 greets with 421, the others deliver into Maildirs); a Python
# HTTPS server with a certificate from a test CA (openssl) serves MTA-STS
# policies. Matrix: MX order, failover, implicit MX, null MX (RFC 7505),
# DANE match and mismatch (RFC 7672), DNSSEC-bogus answers refused (through
# the validating resolver's AD bit and with in-process validation),
# MTA-STS enforce / testing / none and a policy that does not list the MX
# (RFC 8461), the policy cache.
# Usage: delivery_dns.sh PATH/TO/smtp-send (smtp-server next to it).
SEND=${1:?usage: delivery_dns.sh smtp-send}
SERVER=$(dirname "$SEND")/smtp-server
[ -x "$SERVER" ] || { echo "no smtp-server next to $SEND: skip"; exit 77; }
for p in nsd unbound ldns-signzone ldns-keygen ldns-key2ds openssl; do
  command -v "$p" >/dev/null 2>&1 || [ -x "/usr/sbin/$p" ] || { echo "$p not installed: skip"; exit 77; }
done
export PATH="$PATH:/usr/sbin"
. "$(dirname "$0")/lib.sh"
"$SEND" --help | grep -q -- '--mx' || { echo "smtp-send without --mx: skip"; exit 77; }

# usage errors (docs/examples.md: one line on stderr, exit 64, nothing sent)
u() { timeout 10 "$SEND" "$@" </dev/null >/dev/null 2>&1; echo $?; }
check "--mx with --server: 64" $(eq "$(u --mx --server 127.0.0.1 --from a@b.example --to c@d.example)" 64)
check "--mx with two domains: 64" $(eq "$(u --mx --from a@b.example --to c@d.example --to e@f.example)" 64)
check "--dane without --mx: 64" $(eq "$(u --dane --server 127.0.0.1 --from a@b.example --to c@d.example)" 64)
check "--port 0: 64" $(eq "$(u --mx --port 0 --from a@b.example --to c@d.example)" 64)
check "--resolver with a name: 64" $(eq "$(u --mx --resolver dns.example --from a@b.example --to c@d.example)" 64)
check "--mx with an address literal recipient: 64" $(eq "$(u --mx --from a@b.example --to 'c@[127.0.0.1]')" 64)

free_port() { # a port free for UDP and TCP on 127.0.0.1
  "$PY" - <<'EOF'
import socket
while True:
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        t.close(); u.close()
EOF
}

# ---- certificates: a test CA; the MTA-STS web server and the MTA-STS MX
# get certificates from it; the DANE MX has a self-signed one ----
C=$TMP/pki
mkdir -p "$C"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=libsmtp test CA" \
  -keyout "$C/ca.key" -out "$C/ca.pem" >/dev/null 2>&1
issue() { # issue NAME SAN-LIST
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
    -keyout "$C/$1.key" -out "$C/$1.csr" >/dev/null 2>&1
  printf 'subjectAltName=%s\n' "$2" >"$C/$1.ext"
  openssl x509 -req -in "$C/$1.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial -days 2 \
    -extfile "$C/$1.ext" -out "$C/$1.pem" >/dev/null 2>&1
}
issue mta-sts.example "DNS:mta-sts.sts.example,DNS:mta-sts.stsbad.example,DNS:mta-sts.ststest.example,DNS:mta-sts.stsnone.example"
issue mx.sts.example "DNS:mx.sts.example,DNS:mx.stsbad.example,DNS:mx.ststest.example,DNS:mx.stsnone.example,DNS:mx.daneta.example"
make_cert "$C/dane" mx.dane.example
SPKI_HASH=$(openssl x509 -in "$C/dane/cert.pem" -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)
CA_SPKI_HASH=$(openssl x509 -in "$C/ca.pem" -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha512 -r | cut -d' ' -f1)
[ -n "$SPKI_HASH" ] || { echo "openssl could not hash the key"; exit 1; }

# ---- mail servers: one port, several addresses ----
start_at() { # start_at NAME ADDR PORT [options]  (PORT 0: the kernel's)
  local name=$1 addr=$2 port=$3 i spec pat
  shift 3
  spec="$addr:$port" pat="${addr//./\\.}"
  case $addr in *:*) spec="[$addr]:$port" pat="\\[$addr\\]" ;; esac
  timeout -k 5 170 "$SERVER" --listen "$spec" --hostname "$name" "$@" 2>"$TMP/$name.log" &
  PIDS="$PIDS $!"
  for i in $(seq 200); do
    P=$(sed -n "s/^smtp-server: listening on $pat:\([0-9][0-9]*\) .*/\1/p" "$TMP/$name.log" 2>/dev/null | head -1)
    [ -n "$P" ] && return 0
    sleep 0.05
  done
  echo "smtp-server $name did not start"; cat "$TMP/$name.log"; exit 1
}
start_at mx3.order.example 127.0.0.13 0 --maildir "$TMP/md3"
SP=$P
start_at mxa.example 127.0.0.14 "$SP" --maildir "$TMP/mda"
start_at mxb.example 127.0.0.15 "$SP" --maildir "$TMP/mdb"
start_at mx.dane.example 127.0.0.16 "$SP" --maildir "$TMP/mdd" --tls-cert "$C/dane/cert.pem" --tls-key "$C/dane/key.pem"
cat "$C/mx.sts.example.pem" "$C/ca.pem" >"$C/mx.sts.chain.pem"
start_at mx.sts.example 127.0.0.17 "$SP" --maildir "$TMP/mds" --tls-cert "$C/mx.sts.chain.pem" --tls-key "$C/mx.sts.example.key"
V6=0
if has_ipv6; then
  start_at mx.v6.example ::1 "$SP" --maildir "$TMP/md6"
  V6=1
fi
# 127.0.0.12: a server that greets with 421 (RFC 5321 3.8) and hangs up
timeout -k 5 170 "$PY" - "$SP" >"$TMP/busy.log" 2>&1 <<'EOF' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.12", int(sys.argv[1]))); s.listen(8)
while True:
    c, _ = s.accept(); c.sendall(b"421 4.3.2 busy, try another MX\r\n"); c.close()
EOF
PIDS="$PIDS $!"

# ---- MTA-STS policy server (HTTPS, test CA) ----
HP=$(free_port)
timeout -k 5 170 "$PY" - "$HP" "$C/mta-sts.example.pem" "$C/mta-sts.example.key" >"$TMP/https.log" 2>&1 <<'EOF' &
import http.server, ssl, sys
POL = {
 "mta-sts.sts.example": "version: STSv1\nmode: enforce\nmx: mx.sts.example\nmax_age: 86400\n",
 "mta-sts.stsbad.example": "version: STSv1\nmode: enforce\nmx: mx.elsewhere.example\nmax_age: 86400\n",
 "mta-sts.ststest.example": "version: STSv1\nmode: testing\nmx: mx.elsewhere.example\nmax_age: 86400\n",
 "mta-sts.stsnone.example": "version: STSv1\nmode: none\nmax_age: 86400\n",
}
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        host = (self.headers.get("Host") or "").split(":")[0]
        body = POL.get(host)
        if self.path != "/.well-known/mta-sts.txt" or body is None:
            self.send_response(404); self.end_headers(); return
        b = body.encode(); self.send_response(200)
        self.send_header("Content-Type", "text/plain"); self.send_header("Content-Length", str(len(b)))
        self.end_headers(); self.wfile.write(b)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[2], sys.argv[3])
srv = http.server.HTTPServer(("127.0.0.18", int(sys.argv[1])), H)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
EOF
PIDS="$PIDS $!"

# ---- the zone, signed ----
Z=$TMP/dns
mkdir -p "$Z"
cat >"$Z/test.zone" <<EOF
\$ORIGIN example.
\$TTL 300
@ IN SOA ns.example. hostmaster.example. 1 3600 600 86400 300
@ IN NS ns.example.
ns IN A 127.0.0.1
order IN MX 10 mx1.order
order IN MX 20 mx2.order
order IN MX 30 mx3.order
mx1.order IN A 127.0.0.11
mx2.order IN A 127.0.0.12
mx3.order IN A 127.0.0.13
pref IN MX 20 mxb
pref IN MX 10 mxa
mxa IN A 127.0.0.14
mxb IN A 127.0.0.15
plain IN A 127.0.0.14
alias IN CNAME pref
nullmx IN MX 0 .
nullmx IN A 127.0.0.14
dane IN MX 10 mx.dane
mx.dane IN A 127.0.0.16
_$SP._tcp.mx.dane IN TLSA 3 1 1 $SPKI_HASH
danebad IN MX 10 mx.danebad
mx.danebad IN A 127.0.0.16
_$SP._tcp.mx.danebad IN TLSA 3 1 1 ${SPKI_HASH%??}00
daneta IN MX 10 mx.daneta
cname IN MX 10 mx.cname
mx.cname IN CNAME host.provider
host.provider IN A 127.0.0.16
_$SP._tcp.host.provider IN TLSA 3 1 1 $SPKI_HASH
cname2 IN MX 10 mx.cname2
mx.cname2 IN CNAME host2.provider
host2.provider IN A 127.0.0.16
_$SP._tcp.mx.cname2 IN TLSA 3 1 1 $SPKI_HASH
cname3 IN MX 10 mx.cname3
mx.cname3 IN CNAME host3.provider
host3.provider IN A 127.0.0.16
_$SP._tcp.host3.provider IN TLSA 3 1 1 ${SPKI_HASH%??}00
_$SP._tcp.mx.cname3 IN TLSA 3 1 1 $SPKI_HASH
mx.daneta IN A 127.0.0.17
_$SP._tcp.mx.daneta IN TLSA 2 1 2 $CA_SPKI_HASH
v6 IN MX 10 mx.v6
mx.v6 IN AAAA ::1
mx.v6 IN A 127.0.0.19
bogus IN MX 10 mx.bogus
mx.bogus IN A 127.0.0.14
sts IN MX 10 mx.sts
stsbad IN MX 10 mx.stsbad
ststest IN MX 10 mx.ststest
stsnone IN MX 10 mx.stsnone
mx.sts IN A 127.0.0.17
mx.stsbad IN A 127.0.0.17
mx.ststest IN A 127.0.0.17
mx.stsnone IN A 127.0.0.17
_mta-sts.sts IN TXT "v=STSv1; id=1"
_mta-sts.stsbad IN TXT "v=STSv1; id=1"
_mta-sts.ststest IN TXT "v=STSv1; id=1"
_mta-sts.stsnone IN TXT "v=STSv1; id=1"
mta-sts.sts IN A 127.0.0.18
mta-sts.stsbad IN A 127.0.0.18
mta-sts.ststest IN A 127.0.0.18
mta-sts.stsnone IN A 127.0.0.18
EOF
(
  cd "$Z" || exit 1
  KSK=$(ldns-keygen -a ECDSAP256SHA256 -k example.) && ZSK=$(ldns-keygen -a ECDSAP256SHA256 example.) &&
    ldns-signzone -o example. test.zone "$KSK" "$ZSK" && ldns-key2ds -n -2 "$KSK.key" >anchor.ds
) >"$TMP/sign.log" 2>&1 || { echo "zone signing failed"; cat "$TMP/sign.log"; exit 1; }
# bogus.example: its MX signature broken (one base64 character changed)
"$PY" - "$Z/test.zone.signed" <<'EOF'
import re, sys
p = sys.argv[1]; lines = open(p).read().split("\n"); out = []
for l in lines:
    f = l.split()
    if len(f) > 5 and f[0] == "bogus.example." and f[3] == "RRSIG" and f[4] == "MX":
        sig = f[-1]; i = len(sig) // 2
        f[-1] = sig[:i] + ("A" if sig[i] != "A" else "B") + sig[i + 1:]
        l = "\t".join(f)
    out.append(l)
open(p, "w").write("\n".join(out))
EOF

NP=$(free_port)
cat >"$Z/nsd.conf" <<EOF
server:
  ip-address: 127.0.0.1@$NP
  port: $NP
  username: ""
  chroot: ""
  zonesdir: "$Z"
  database: ""
  pidfile: "$Z/nsd.pid"
  xfrdfile: "$Z/xfrd.state"
  xfrdir: "$Z"
  zonelistfile: "$Z/zone.list"
  logfile: "$Z/nsd.log"
  server-count: 1
  verbosity: 1
remote-control:
  control-enable: no
zone:
  name: example.
  zonefile: test.zone.signed
EOF
timeout -k 5 170 nsd -d -c "$Z/nsd.conf" >"$TMP/nsd.log" 2>&1 &
PIDS="$PIDS $!"
UP=$(free_port)
cat >"$Z/unbound.conf" <<EOF
server:
  interface: 127.0.0.1
  port: $UP
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "$Z"
  pidfile: ""
  use-syslog: no
  logfile: ""
  verbosity: 1
  val-log-level: 2
  do-ip6: no
  num-threads: 1
  so-reuseport: no
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  module-config: "validator iterator"
  trust-anchor-file: "$Z/anchor.ds"
  cache-max-negative-ttl: 1
remote-control:
  control-enable: no
stub-zone:
  name: "example."
  stub-addr: 127.0.0.1@$NP
EOF
timeout -k 5 170 unbound -d -c "$Z/unbound.conf" >"$TMP/unbound.log" 2>&1 &
PIDS="$PIDS $!"

# wait until unbound answers a validated query through nsd
ready=0
for i in $(seq 100); do
  if "$PY" - "$UP" <<'EOF' 2>/dev/null; then ready=1; break; fi
import socket, struct, sys
q = struct.pack(">HHHHHH", 7, 0x0120, 1, 0, 0, 0) + b"\x04pref\x07example\x00" + struct.pack(">HH", 15, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.5)
s.sendto(q, ("127.0.0.1", int(sys.argv[1]))); r = s.recv(4096)
sys.exit(0 if (r[3] & 0x0f) == 0 and struct.unpack(">H", r[6:8])[0] > 0 and (r[3] & 0x20) else 1)
EOF
  sleep 0.1
done
check "unbound validates the signed zone served by nsd (AD bit)" $(eq "$ready" 1)

printf 'From: a@example.com\r\nSubject: mx\r\n\r\nhello over MX\r\n' >"$TMP/msg"
R="--resolver 127.0.0.1:$UP"
mx() { # mx NAME ARGS...: stdout NAME.out, stderr NAME.err, RC
  local name=$1
  shift
  XDG_CACHE_HOME="$TMP/cache" timeout 60 "$SEND" --mx --port "$SP" $R --helo client.example --from a@example.com "$@" "$TMP/msg" \
    >"$TMP/$name.out" 2>"$TMP/$name.err"
  RC=$?
}

# MX order (RFC 5321 5.1): preference 10 before 20
mx pref --to bob@pref.example
check "MX order: exit 0" $(eq "$RC" 0)
check "MX order: delivered by the preference-10 host" $(eq "$(md_count "$TMP/mda")" 1)
check "MX order: nothing at the preference-20 host" $(eq "$(md_count "$TMP/mdb")" 0)
# failover: refused connection, then a 421 greeting, then delivery
mx order --to bob@order.example --trace
check "failover: exit 0" $(eq "$RC" 0)
check "failover: delivered by the third MX" $(eq "$(md_count "$TMP/md3")" 1)
check "failover: the refusing host was tried first" $(t grep -q 'cannot connect to mx1.order.example \[127.0.0.11\]' "$TMP/order.err")
check "failover: the 421 host was tried second" $(t grep -q 'mx2.order.example \[127.0.0.12\]: .*trying the next host' "$TMP/order.err")
check "failover: tried in preference order" $(eq "$(grep -o '^MX: mx[0-9]' "$TMP/order.err" | tr -d '\n')" "MX: mx1MX: mx2MX: mx3")
# implicit MX and CNAME
mx plain --to bob@plain.example
check "no MX: the domain's own address" $(eq "$RC" 0)
check "no MX: delivered" $(eq "$(md_count "$TMP/mda")" 2)
mx alias --to bob@alias.example
check "MX through a CNAME: delivered" $(eq "$RC:$(md_count "$TMP/mda")" "0:3")
# null MX (RFC 7505)
mx nullmx --to bob@nullmx.example --to carol@nullmx.example
check "null MX: exit 2" $(eq "$RC" 2)
check "null MX: 556 5.1.10 line per recipient" $(eq "$(grep -c '^RCPT [a-z]*@nullmx.example 556 5.1.10 ' "$TMP/nullmx.out")" 2)
check "null MX: no connection (no delivery)" $(eq "$(md_count "$TMP/mda")" 3)
# DNSSEC bogus (RFC 4035 5.5): the validating resolver refuses, nothing sent
mx bogus --to bob@bogus.example
check "bogus MX answer (via unbound): exit 2" $(eq "$RC" 2)
check "bogus MX answer (via unbound): 451 4.4.3, not delivered" $(t grep -q '^RCPT bob@bogus.example 451 4.4.3 ' "$TMP/bogus.out")
check "bogus: no delivery" $(eq "$(md_count "$TMP/mda")" 3)
if "$SEND" --mx --to x@y.example --from a@b --dnssec-anchor /dev/null --resolver 127.0.0.1:1 /dev/null 2>&1 | grep -q libunbound.*UNSUPPORTED; then
  echo "# libunbound not built: in-process validation skipped"
else
  R="--resolver 127.0.0.1:$NP --dnssec-anchor $Z/anchor.ds"
  mx bogus2 --to bob@bogus.example
  check "bogus MX answer (libunbound validating in process): refused" $(t grep -q '^RCPT bob@bogus.example 451 4.4.3 .*DNSSEC' "$TMP/bogus2.out")
  mx dane_ub --to bob@dane.example --dane --trace
  check "DANE with in-process validation: DANE-EE matched, exit 0" $(eq "$RC:$(grep -c '^DANE: DANE-EE matched' "$TMP/dane_ub.err")" "0:1")
  R="--resolver 127.0.0.1:$UP"
fi
# DANE (RFC 7672)
mx dane --to bob@dane.example --dane --trace
check "DANE-EE 3 1 1: exit 0" $(eq "$RC" 0)
check "DANE-EE 3 1 1: matched" $(t grep -q '^DANE: DANE-EE matched' "$TMP/dane.err")
check "DANE: TLS was used" $(t grep -q '^TLS: ' "$TMP/dane.err")
mx danebad --to bob@danebad.example --dane
check "DANE mismatch: exit 2" $(eq "$RC" 2)
check "DANE mismatch: said so" $(t grep -q 'DANE: the certificate matches none of the TLSA records' "$TMP/danebad.err")
check "DANE mismatch: not delivered" $(t not grep -q '^DATA' "$TMP/danebad.out")
mx daneta --to bob@daneta.example --dane --trace
check "DANE-TA 2 1 2 (the test CA's key, SHA-512): exit 0" $(eq "$RC" 0)
check "DANE-TA 2 1 2: matched as DANE-TA" $(t grep -q '^DANE: DANE-TA matched' "$TMP/daneta.err")
# the mismatch is refused inside the handshake, with each TLS backend:
# no EHLO is sent after STARTTLS
for b in openssl mbedtls; do
  mx "danebad_$b" --to bob@danebad.example --dane --trace --tls-backend "$b"
  [ "$RC" = 64 ] && continue # backend not in this build
  check "DANE mismatch ($b): refused in the TLS handshake (one EHLO, none under TLS)" \
    $(eq "$RC:$(grep -c '^C: EHLO' "$TMP/danebad_$b.err"):$(grep -c '^TLS: ' "$TMP/danebad_$b.err")" "2:1:0")
  mx "dane_$b" --to bob@dane.example --dane --trace --tls-backend "$b"
  check "DANE match ($b): DANE-EE, delivered" $(eq "$RC:$(grep -c '^DANE: DANE-EE matched' "$TMP/dane_$b.err")" "0:1")
done
# MX host names behind CNAME chains (RFC 7672 2.2.2, RFC 7671 7): TLSA
# at the expanded name first, then at the MX host name
mx cname --to bob@cname.example --dane --trace
check "CNAME MX: TLSA at the expanded name (the TLSA base domain), DANE-EE matched" \
  $(eq "$RC:$(grep -c 'TLSA base host.provider.example' "$TMP/cname.err"):$(grep -c '^DANE: DANE-EE matched' "$TMP/cname.err")" "0:1:1")
mx cname2 --to bob@cname2.example --dane --trace
check "CNAME MX, no TLSA at the expanded name: the MX host name's records match" \
  $(eq "$RC:$(grep -c 'TLSA base' "$TMP/cname2.err"):$(grep -c '^DANE: DANE-EE matched' "$TMP/cname2.err")" "0:0:1")
mx cname3 --to bob@cname3.example --dane
check "CNAME MX: the expanded name's records win (mismatch there: refused)" \
  $(eq "$RC:$(grep -c 'matches none of the TLSA records' "$TMP/cname3.err")" "2:1")
# --json with --mx: per-recipient and per-host results in one object
jpy() { "$PY" -c "import json,sys; o=json.load(open(sys.argv[1])); $2" "$1" 2>&1 | head -1; }
mx order_json --to bob@order.example --to carol@order.example --json
check "--json --mx: one object, exit 0" $(eq "$RC:$(jpy "$TMP/order_json.out" 'print(o["exit"])')" "0:0")
check "--json --mx: attempts in order with their outcomes" \
  $(eq "$(jpy "$TMP/order_json.out" 'print(",".join(a["host"]+"="+a["outcome"] for a in o["attempts"]))')" \
    "mx1.order.example=connect-failed,mx2.order.example=tempfail,mx3.order.example=done")
check "--json --mx: every recipient delivered by mx3 with its reply" \
  $(eq "$(jpy "$TMP/order_json.out" 'print(",".join(":".join([r["addr"],r["state"],str(r["code"]),r["host"],r["ip"]]) for r in o["recipients"]))')" \
    "bob@order.example:delivered:250:mx3.order.example:127.0.0.13,carol@order.example:delivered:250:mx3.order.example:127.0.0.13")
check "--json --mx: the data reply and the domain" \
  $(eq "$(jpy "$TMP/order_json.out" 'print(o["data"]["code"], o["domain"], sep=":")')" "250:order.example")
mx nullmx_json --to bob@nullmx.example --json
check "--json --mx null MX: permanent 556 5.1.10, no attempt, exit 2" \
  $(eq "$(jpy "$TMP/nullmx_json.out" 'r=o["recipients"][0]; print(r["state"],r["code"],r["enhanced"],len(o["attempts"]),o["exit"],sep=":")')" "permanent:556:5.1.10:0:2")
mx danebad_json --to bob@danebad.example --dane --json
check "--json --mx DANE mismatch: attempt tls-failed, dane mismatch, TLS-RPT record, retry later" \
  $(eq "$(jpy "$TMP/danebad_json.out" 'a=o["attempts"][0]; f=o["tls_failures"][0]; print(a["outcome"],a["dane"],a["tls_policy"],f["result_type"],f["policy_type"],f["receiving_ip"],o["recipients"][0]["state"],sep=":")')" \
    "tls-failed:mismatch:dane:validation-failure:tlsa:127.0.0.16:retry")
# the run's TLS report (RFC 8460 4.4): the schema's fields and types
cat >"$TMP/tlsrpt_check.py" <<'EOF2'
import json, re, sys
o = json.load(open(sys.argv[1]))["tls_report"]
want_ok, want_fail = int(sys.argv[2]), int(sys.argv[3])
date = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
assert set(o) == {"organization-name", "date-range", "contact-info", "report-id", "policies"}, o.keys()
assert all(isinstance(o[k], str) and o[k] for k in ("organization-name", "contact-info", "report-id"))
assert set(o["date-range"]) == {"start-datetime", "end-datetime"}
assert all(date.match(v) for v in o["date-range"].values())
types = {"starttls-not-supported", "certificate-host-mismatch", "certificate-expired", "certificate-not-trusted",
         "validation-failure", "tlsa-invalid", "dnssec-invalid", "dane-required", "sts-policy-fetch-error",
         "sts-policy-invalid", "sts-webpki-invalid"}
fkeys = {"result-type", "sending-mta-ip", "receiving-mx-hostname", "receiving-mx-helo", "receiving-ip",
         "failed-session-count", "additional-information", "failure-reason-code"}
ok = fail = 0
for p in o["policies"]:
    pol = p["policy"]
    assert pol["policy-type"] in ("tlsa", "sts", "no-policy-found")
    assert pol["policy-domain"] == sys.argv[4]
    assert all(isinstance(x, str) for x in pol.get("policy-string", []) + pol.get("mx-host", []))
    if pol["policy-type"] == "tlsa":
        assert all(re.match(r"^[23] [01] [012] [0-9A-F]+$", x) for x in pol["policy-string"]), pol
    s = p["summary"]
    assert set(s) == {"total-successful-session-count", "total-failure-session-count"}
    ok += s["total-successful-session-count"]; fail += s["total-failure-session-count"]
    n = 0
    for f in p.get("failure-details", []):
        assert set(f) <= fkeys and f["result-type"] in types and isinstance(f["failed-session-count"], int), f
        n += f["failed-session-count"]
    assert n == s["total-failure-session-count"]
assert (ok, fail) == (want_ok, want_fail), (ok, fail)
print("ok")
EOF2
check "TLS report (RFC 8460 4.4) of a DANE mismatch: schema fields, one failed session" \
  $(eq "$("$PY" "$TMP/tlsrpt_check.py" "$TMP/danebad_json.out" 0 1 danebad.example 2>&1 | tail -1)" ok)
mx dane_json --to bob@dane.example --dane --json
check "TLS report of a DANE match: one successful tlsa session" \
  $(eq "$("$PY" "$TMP/tlsrpt_check.py" "$TMP/dane_json.out" 1 0 dane.example 2>&1 | tail -1):$(jpy "$TMP/dane_json.out" 'print(o["tls_report"]["policies"][0]["policy"]["policy-type"], o["attempts"][0]["dane"])')" "ok:tlsa EE")
mx danebad_off --to bob@danebad.example
check "without --dane the TLSA records are not used" $(eq "$RC" 0)
# IPv6 first (RFC 8305 4): ::1 is tried before 127.0.0.19 (nothing there)
if [ "$V6" = 1 ]; then
  mx v6 --to bob@v6.example --trace
  check "IPv6 and IPv4 addresses: exit 0" $(eq "$RC" 0)
  check "IPv6 address tried first, delivered over ::1" $(eq "$(grep -o '^MX: mx.v6.example (preference 10) [^ ]*' "$TMP/v6.err" | head -1)" "MX: mx.v6.example (preference 10) ::1")
  check "IPv6 delivery arrived" $(eq "$(md_count "$TMP/md6")" 1)
fi
# DNS time-outs are bounded: a resolver that never answers
timeout -k 5 170 "$PY" - >"$TMP/blackhole.port" 2>/dev/null <<'EOF2' &
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
while True:
    s.recv(4096)
EOF2
PIDS="$PIDS $!"
for i in $(seq 50); do [ -s "$TMP/blackhole.port" ] && break; sleep 0.05; done
BH=$(cat "$TMP/blackhole.port")
start=$(date +%s)
R="--resolver 127.0.0.1:$BH"
mx blackhole --to bob@pref.example
R="--resolver 127.0.0.1:$UP"
check "unanswered DNS: exit 2 within 15 s" $(eq "$RC:$(( $(date +%s) - start < 15 ))" "2:1")
check "unanswered DNS: 451 4.4.3 (retry later)" $(t grep -q '^RCPT bob@pref.example 451 4.4.3 ' "$TMP/blackhole.out")
# MTA-STS (RFC 8461)
S="--mta-sts --mta-sts-port $HP --ca-file $C/ca.pem --trace"
mx sts --to bob@sts.example $S
check "MTA-STS enforce, MX listed: exit 0" $(eq "$RC" 0)
check "MTA-STS enforce: TLS verified for the MX name" $(t grep -q '^TLS: .*server certificate verified' "$TMP/sts.err")
check "MTA-STS enforce: policy fetched" $(t grep -q '^MTA-STS: sts.example: fetched policy (id 1)' "$TMP/sts.err")
check "MTA-STS: policy cached" $(t grep -q '^mode: enforce' "$TMP/cache/libsmtp/mta-sts-sts.example")
mx sts2 --to bob@sts.example $S
check "MTA-STS: the cached policy is used (same id)" $(t grep -q '^MTA-STS: sts.example: cached policy (id 1)' "$TMP/sts2.err")
mx stsbad --to bob@stsbad.example $S
check "MTA-STS enforce, MX not listed: exit 2" $(eq "$RC" 2)
check "MTA-STS enforce, MX not listed: 451 4.7.5" $(t grep -q '^RCPT bob@stsbad.example 451 4.7.5 ' "$TMP/stsbad.out")
check "MTA-STS enforce, MX not listed: TLS-RPT validation-failure" $(t grep -q '^TLS-RPT: validation-failure mx=mx.stsbad.example' "$TMP/stsbad.err")
mx stsbad_json --to bob@stsbad.example --mta-sts --mta-sts-port "$HP" --ca-file "$C/ca.pem" --json
check "TLS report of an MTA-STS policy listing no MX: an sts policy with its lines, one failure" \
  $(eq "$("$PY" "$TMP/tlsrpt_check.py" "$TMP/stsbad_json.out" 0 1 stsbad.example 2>&1 | tail -1):$(jpy "$TMP/stsbad_json.out" 'p=o["tls_report"]["policies"][0]["policy"]; print(p["policy-type"], "|".join(p["policy-string"]), sep="/")')" \
    "ok:sts/version: STSv1|mode: enforce|mx: mx.elsewhere.example|max_age: 86400")
mx ststest --to bob@ststest.example $S
check "MTA-STS testing, MX not listed: delivered anyway" $(eq "$RC" 0)
mx stsnone --to bob@stsnone.example $S
check "MTA-STS none: delivered" $(eq "$RC" 0)
check "MTA-STS and DANE-TA deliveries arrived" $(eq "$(md_count "$TMP/mds")" 5)
mx stsca --to bob@sts.example --mta-sts --mta-sts-port "$HP" --ca-file "$C/dane/cert.pem"
check "MTA-STS enforce with a cached policy and an untrusted MX certificate: refused" $(eq "$RC" 2)
finish
