#!/bin/bash
# Interop: swaks into examples/smtp-server over TCP (server_swaks.sh covers
# --stdio): pipelining, STARTTLS verified against the server's certificate
# (openssl-made, given with --tls-cert/--tls-key), AUTH PLAIN and LOGIN
# only under TLS, --require-tls, implicit TLS, LMTP over TCP, IPv6, ten
# clients at once; and STARTTLS over --stdio. Every delivery is checked
# byte for byte in the Maildir.
# Usage: server_swaks_tcp.sh PATH/TO/smtp-server. Exit 77 (skip) without
# swaks or openssl.
SERVER=${1:?usage: server_swaks_tcp.sh smtp-server}
command -v swaks >/dev/null 2>&1 || { echo "swaks not installed: skip"; exit 77; }
command -v openssl >/dev/null 2>&1 || { echo "openssl not installed: skip"; exit 77; }
. "$(dirname "$0")/lib.sh"

make_cert "$TMP/pki" mx.test || { echo "openssl could not make a certificate"; exit 1; }
make_cert "$TMP/other" mx.test
printf 'user:secret\nother:pw\n' >"$TMP/users"
# A CRLF message with a dot-leading line and 8-bit text. swaks ends the
# data with CRLF.CRLF itself, so the file has no final CRLF and the stored
# message (msg.want) has it.
printf 'From: a@example.com\r\nTo: bob@example.org\r\nSubject: swaks tcp\r\n\r\n.leading dot\r\nna\xc3\xafve\r\nlast' >"$TMP/msg.eml"
printf '\r\n' | cat "$TMP/msg.eml" - >"$TMP/msg.want"

sw() { # sw NAME SWAKS_ARGS...: runs swaks, output in $TMP/NAME.out, sets RC
  local name=$1
  shift
  timeout 30 swaks --server 127.0.0.1 --helo client.example --from a@example.com "$@" >"$TMP/$name.out" 2>&1
  RC=$?
}

# 1. Plain TCP with PIPELINING: one transaction, delivered byte for byte.
start_server plain --maildir "$TMP/md1"
sw plain --port "$PORT" --to bob@example.org --pipeline --data "$TMP/msg.eml"
check "plain: swaks exit 0" $(eq "$RC" 0)
check "plain: pipelined (swaks saw PIPELINING)" $(t grep -q 'PIPELINING' "$TMP/plain.out")
f=$(md_last "$TMP/md1")
check "plain: message stored byte for byte" $(t same_body "$f" "$TMP/msg.want")
check "plain: Received says ESMTP from [127.0.0.1]" \
  $(t grep -q 'from client.example (\[127.0.0.1\])' "$f")
check "plain: STARTTLS not offered without a certificate" $(not grep -q 'STARTTLS' "$TMP/plain.out")

# 2. Ten swaks at once against the same process.
for i in 0 1 2 3 4 5 6 7 8 9; do
  timeout 30 swaks --server 127.0.0.1 --port "$PORT" --helo c$i.example --from a@example.com \
    --to "r$i@example.org" --pipeline --data "$TMP/msg.eml" >"$TMP/par$i.out" 2>&1 &
done
wait_ok=0
for j in $(jobs -p); do [ "$j" = "$SPID" ] && continue; wait "$j" || wait_ok=1; done
check "ten concurrent swaks: all exit 0" $(eq "$wait_ok" 0)
check "ten concurrent swaks: eleven files stored" $(eq "$(md_count "$TMP/md1")" 11)
check "ten concurrent swaks: nothing left in tmp/" $(eq "$(md_tmp_count "$TMP/md1")" 0)
stop_server "$SPID"

# 3. STARTTLS with verification, AUTH PLAIN and LOGIN under TLS only.
start_server tls --tls-cert "$TMP/pki/cert.pem" --tls-key "$TMP/pki/key.pem" \
  --auth-file "$TMP/users" --require-auth --maildir "$TMP/md2"
TLSV=(-tls --tls-verify --tls-ca-path "$TMP/pki/cert.pem" --tls-sni mx.test)
sw starttls --port "$PORT" "${TLSV[@]}" --to bob@example.org --auth PLAIN --auth-user user \
  --auth-password secret --pipeline --data "$TMP/msg.eml"
check "STARTTLS + AUTH PLAIN: swaks exit 0" $(eq "$RC" 0)
check "STARTTLS + AUTH PLAIN: swaks (--tls-verify) saw the certificate of mx.test" $(t grep -q "TLS peer DN=\"/CN=mx.test\"" "$TMP/starttls.out")
check "STARTTLS + AUTH PLAIN: 235" $(t grep -q '235 2.7.0' "$TMP/starttls.out")
f=$(md_last "$TMP/md2")
check "STARTTLS + AUTH PLAIN: stored byte for byte" $(t same_body "$f" "$TMP/msg.want")
check "STARTTLS + AUTH PLAIN: Received says ESMTPSA" $(t grep -q 'with ESMTPSA id' "$f")
sw login --port "$PORT" "${TLSV[@]}" --to carol@example.org --auth LOGIN --auth-user other \
  --auth-password pw --data "$TMP/msg.eml"
check "STARTTLS + AUTH LOGIN: swaks exit 0" $(eq "$RC" 0)
check "STARTTLS + AUTH LOGIN: stored" $(eq "$(md_count "$TMP/md2")" 2)
check "STARTTLS + AUTH LOGIN: Delivered-To" $(t grep -q '^Delivered-To: carol@example.org' "$(md_last "$TMP/md2")")
# AUTH is not offered before TLS (RFC 4954 4): swaks fails, nothing stored.
sw noauth --port "$PORT" --to bob@example.org --auth PLAIN --auth-user user --auth-password secret
check "no TLS: AUTH refused by swaks (not advertised)" $(not [ "$RC" = 0 ])
check "no TLS: EHLO without AUTH" $(not grep -q '250.AUTH' "$TMP/noauth.out")
# --require-auth: MAIL without AUTH gets 530 5.7.0.
sw noauth2 --port "$PORT" "${TLSV[@]}" --to bob@example.org
check "require-auth: MAIL refused 530 5.7.0" $(t grep -q '530 5.7.0' "$TMP/noauth2.out")
check "require-auth: nothing more stored" $(eq "$(md_count "$TMP/md2")" 2)
# Wrong password under TLS.
sw badpw --port "$PORT" "${TLSV[@]}" --to bob@example.org --auth PLAIN --auth-user user --auth-password nope
check "wrong password: 535 5.7.8" $(t grep -q '535 5.7.8' "$TMP/badpw.out")
# A client trusting another CA refuses the certificate.
sw wrongca --port "$PORT" -tls --tls-verify --tls-ca-path "$TMP/other/cert.pem" --tls-sni mx.test --to bob@example.org
check "wrong CA: swaks refuses the handshake" $(not [ "$RC" = 0 ])
check "wrong CA: nothing stored" $(eq "$(md_count "$TMP/md2")" 2)
stop_server "$SPID"

# 4. --require-tls: MAIL refused until STARTTLS; fine after it.
start_server reqtls --tls-cert "$TMP/pki/cert.pem" --tls-key "$TMP/pki/key.pem" --require-tls --maildir "$TMP/md3"
sw reqtls_plain --port "$PORT" --to bob@example.org --data "$TMP/msg.eml"
check "require-tls: plaintext MAIL refused 530 5.7.0" $(t grep -q '530 5.7.0' "$TMP/reqtls_plain.out")
check "require-tls: nothing stored" $(eq "$(md_count "$TMP/md3")" 0)
sw reqtls_tls --port "$PORT" "${TLSV[@]}" --to bob@example.org --data "$TMP/msg.eml"
check "require-tls: after STARTTLS delivered" $(eq "$RC" 0)
check "require-tls: stored byte for byte" $(t same_body "$(md_last "$TMP/md3")" "$TMP/msg.want")
check "require-tls: Received says ESMTPS" $(t grep -q 'with ESMTPS id' "$(md_last "$TMP/md3")")
stop_server "$SPID"

# 5. Implicit TLS (RFC 8314) with AUTH; on IPv6 too when loopback has it.
extra=()
has_ipv6 && extra=(--listen '[::1]:0')
start_server implicit --implicit-tls --tls-cert "$TMP/pki/cert.pem" --tls-key "$TMP/pki/key.pem" \
  --auth-file "$TMP/users" --maildir "$TMP/md4" "${extra[@]}"
sw implicit --port "$PORT" -tlsc --tls-verify --tls-ca-path "$TMP/pki/cert.pem" --tls-sni mx.test \
  --to bob@example.org --auth LOGIN --auth-user user --auth-password secret --pipeline --data "$TMP/msg.eml"
check "implicit TLS + AUTH LOGIN: swaks exit 0" $(eq "$RC" 0)
check "implicit TLS: STARTTLS not offered" $(not grep -q '250.STARTTLS' "$TMP/implicit.out")
check "implicit TLS: stored byte for byte" $(t same_body "$(md_last "$TMP/md4")" "$TMP/msg.want")
if [ -n "$PORT6" ]; then
  timeout 30 swaks --server ::1 --port "$PORT6" -tlsc --tls-verify --tls-ca-path "$TMP/pki/cert.pem" \
    --tls-sni mx.test --helo client.example --from a@example.com --to v6@example.org \
    --data "$TMP/msg.eml" >"$TMP/v6.out" 2>&1
  check "IPv6 + implicit TLS: swaks exit 0" $(eq $? 0)
  check "IPv6: Received names [IPv6:::1]" $(t grep -q '(\[IPv6:::1\])' "$(md_last "$TMP/md4")")
else
  echo "# no IPv6 on loopback: IPv6 checks skipped"
fi
# Plaintext SMTP to the implicit TLS port: no 220 arrives in clear.
timeout 10 swaks --server 127.0.0.1 --port "$PORT" --to bob@example.org --timeout 3 >"$TMP/clear.out" 2>&1
check "implicit TLS port: no plaintext greeting" $(not grep -q '^<-  220' "$TMP/clear.out")
stop_server "$SPID"

# 6. LMTP over TCP (RFC 2033): one reply per recipient, one file.
start_server lmtp --lmtp --maildir "$TMP/md5" --reject nobody@example.org
sw lmtp --port "$PORT" --protocol LMTP --to a@example.org,nobody@example.org,b@example.org --data "$TMP/msg.eml"
check "LMTP: two per-recipient 250 replies after the data" \
  $(eq "$(grep -c '250 2.0.0 Message accepted' "$TMP/lmtp.out")" 2)
check "LMTP: refused recipient 550 5.1.1" $(t grep -q '550 5.1.1' "$TMP/lmtp.out")
check "LMTP: one file with both recipients" $(eq "$(grep -c '^Delivered-To:' "$(md_last "$TMP/md5")")" 2)
check "LMTP: stored byte for byte" $(t same_body "$(md_last "$TMP/md5")" "$TMP/msg.want")
check "LMTP: Received says LMTP" $(t grep -q 'with LMTP id' "$(md_last "$TMP/md5")")
stop_server "$SPID"

# 7. STARTTLS over --stdio (inetd style, through the driver's blocking loop).
timeout 30 swaks --pipe "$SERVER --stdio --hostname mx.test --tls-cert $TMP/pki/cert.pem --tls-key $TMP/pki/key.pem --maildir $TMP/md6" \
  "${TLSV[@]}" --helo client.example --from a@example.com --to bob@example.org --data "$TMP/msg.eml" >"$TMP/stdio.out" 2>&1
check "--stdio STARTTLS: swaks exit 0" $(eq $? 0)
check "--stdio STARTTLS: stored byte for byte, ESMTPS" \
  $(t eval 'same_body "$(md_last "$TMP/md6")" "$TMP/msg.want" && grep -q "with ESMTPS id" "$(md_last "$TMP/md6")"')

finish
