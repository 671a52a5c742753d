#!/bin/bash
# Interop: curl into examples/smtp-server over TCP: smtp:// in plaintext,
# smtp:// with --ssl-reqd (STARTTLS) and smtps:// (implicit TLS), each
# verifying the server's throw-away certificate (exported with
# --tls-cert-out, given to curl with --cacert) or skipping verification
# (-k); AUTH under TLS; --ssl-reqd against a server without TLS. Every
# delivery is checked byte for byte in the Maildir.
# Usage: server_curl.sh PATH/TO/smtp-server. Exit 77 (skip) without curl.
SERVER=${1:?usage: server_curl.sh smtp-server}
command -v curl >/dev/null 2>&1 || { echo "curl not installed: skip"; exit 77; }
curl -V | grep -q -w smtps || { echo "curl without smtp/smtps: skip"; exit 77; }
. "$(dirname "$0")/lib.sh"

printf 'user:s3cret\n' >"$TMP/users"
# curl dot-stuffs and ends the data with "." itself; the file ends in CRLF,
# so what is stored is the file, byte for byte.
printf 'From: a@example.com\r\nTo: bob@example.org\r\nSubject: curl\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nlast line\r\n' >"$TMP/msg.eml"

cu() { # cu NAME URL CURL_ARGS...: sets RC, output in $TMP/NAME.out
  local name=$1 url=$2
  shift 2
  timeout 30 curl -sS -v --max-time 20 --resolve "mx.test:$PORT:127.0.0.1" "$url" \
    --mail-from a@example.com -T "$TMP/msg.eml" "$@" >"$TMP/$name.out" 2>&1
  RC=$?
}

# 1. smtp:// plaintext, two recipients.
start_server plain --maildir "$TMP/md1"
cu plain "smtp://mx.test:$PORT" --mail-rcpt bob@example.org --mail-rcpt carol@example.org
check "smtp:// plaintext: curl exit 0" $(eq "$RC" 0)
f=$(md_last "$TMP/md1")
check "smtp:// plaintext: stored byte for byte" $(t same_body "$f" "$TMP/msg.eml")
check "smtp:// plaintext: both recipients" $(eq "$(grep -c '^Delivered-To:' "$f")" 2)
# --ssl-reqd against a server without TLS: curl refuses, nothing stored.
cu noreq "smtp://mx.test:$PORT" --ssl-reqd --mail-rcpt bob@example.org
check "--ssl-reqd without STARTTLS offered: curl fails" $(not [ "$RC" = 0 ])
check "--ssl-reqd without STARTTLS offered: nothing stored" $(eq "$(md_count "$TMP/md1")" 1)
stop_server "$SPID"

# 2. smtp:// --ssl-reqd (STARTTLS), certificate verified, AUTH, --require-tls.
start_server starttls --tls-self-signed --tls-cert-out "$TMP/cert1.pem" --auth-file "$TMP/users" \
  --require-auth --require-tls --maildir "$TMP/md2"
cu starttls "smtp://mx.test:$PORT" --ssl-reqd --cacert "$TMP/cert1.pem" --user user:s3cret \
  --mail-rcpt bob@example.org
check "smtp:// --ssl-reqd --cacert + AUTH: curl exit 0" $(eq "$RC" 0)
check "smtp:// --ssl-reqd: STARTTLS on the wire" $(t grep -q '> STARTTLS' "$TMP/starttls.out")
check "smtp:// --ssl-reqd: certificate verified" $(t grep -q 'SSL certificate verify ok' "$TMP/starttls.out")
f=$(md_last "$TMP/md2")
check "smtp:// --ssl-reqd: stored byte for byte" $(t same_body "$f" "$TMP/msg.eml")
check "smtp:// --ssl-reqd: Received says ESMTPSA" $(t grep -q 'with ESMTPSA id' "$f")
check "smtp:// --ssl-reqd: AUTH PLAIN chosen" $(t grep -q '> AUTH PLAIN' "$TMP/starttls.out")
cu login "smtp://mx.test:$PORT" --ssl-reqd --cacert "$TMP/cert1.pem" --user user:s3cret \
  --login-options AUTH=LOGIN --mail-rcpt carol@example.org
check "smtp:// --ssl-reqd --login-options AUTH=LOGIN: exit 0, AUTH LOGIN" \
  $(t eval '[ $RC = 0 ] && grep -q "> AUTH LOGIN" "$TMP/login.out"')
check "AUTH LOGIN: stored byte for byte" $(t same_body "$(md_last "$TMP/md2")" "$TMP/msg.eml")
cu starttls_k "smtp://mx.test:$PORT" --ssl-reqd -k --user user:s3cret --mail-rcpt dave@example.org
check "smtp:// --ssl-reqd -k: curl exit 0" $(eq "$RC" 0)
check "smtp:// --ssl-reqd -k: stored" $(t grep -q '^Delivered-To: dave@example.org' "$(md_last "$TMP/md2")")
# Verification against the wrong name fails before anything is sent.
timeout 30 curl -sS --max-time 20 --resolve "other.test:$PORT:127.0.0.1" "smtp://other.test:$PORT" \
  --ssl-reqd --cacert "$TMP/cert1.pem" --user user:s3cret --mail-from a@example.com \
  --mail-rcpt bob@example.org -T "$TMP/msg.eml" >"$TMP/badname.out" 2>&1
check "smtp:// --ssl-reqd, wrong host name: curl fails verification (60)" $(eq $? 60)
# AUTH before TLS is not possible: curl without TLS gets no AUTH, MAIL refused.
cu plainauth "smtp://mx.test:$PORT" --user user:s3cret --mail-rcpt bob@example.org
check "plaintext to --require-tls: curl fails" $(not [ "$RC" = 0 ])
check "plaintext to --require-tls: nothing more stored" $(eq "$(md_count "$TMP/md2")" 3)
stop_server "$SPID"

# 3. smtps:// (implicit TLS, RFC 8314) with AUTH, verified and with -k.
start_server smtps --implicit-tls --tls-self-signed --tls-cert-out "$TMP/cert2.pem" \
  --auth-file "$TMP/users" --maildir "$TMP/md3"
cu smtps "smtps://mx.test:$PORT" --cacert "$TMP/cert2.pem" --user user:s3cret --mail-rcpt bob@example.org
check "smtps:// --cacert + AUTH: curl exit 0" $(eq "$RC" 0)
check "smtps://: certificate verified" $(t grep -q 'SSL certificate verify ok' "$TMP/smtps.out")
check "smtps://: no STARTTLS" $(not grep -q '> STARTTLS' "$TMP/smtps.out")
f=$(md_last "$TMP/md3")
check "smtps://: stored byte for byte" $(t same_body "$f" "$TMP/msg.eml")
check "smtps://: Received says ESMTPSA" $(t grep -q 'with ESMTPSA id' "$f")
cu smtps_k "smtps://mx.test:$PORT" -k --ssl-reqd --mail-rcpt erin@example.org
check "smtps:// -k --ssl-reqd: curl exit 0" $(eq "$RC" 0)
check "smtps:// -k: stored byte for byte" $(t same_body "$(md_last "$TMP/md3")" "$TMP/msg.eml")
# The certificate of another server instance does not verify this one.
cu smtps_wrong "smtps://mx.test:$PORT" --cacert "$TMP/cert1.pem" --mail-rcpt bob@example.org
check "smtps:// with another server's certificate: curl fails" $(not [ "$RC" = 0 ])
check "smtps:// failures stored nothing" $(eq "$(md_count "$TMP/md3")" 2)
stop_server "$SPID"

finish
