#!/usr/bin/env bash
# TLS policy of portsyncd-exporter against real clients (curl, openssl s_client):
# TLS 1.3 only, TLS_AES_256_GCM_SHA384, P-384, ECDSA P-384 + SHA-384, mandatory
# verified client certificates, the SAN allow-list, IPv6 only. Every refused
# case is checked twice: the client fails, and the exporter counted the reason.
source "$(dirname "$0")/lib.sh"

make_certs
# Leaves a careless or compromised CA might issue; the exporter must judge the
# leaf itself (OpenSSL's sslclient purpose lets a CA:TRUE leaf and a keyAgreement-
# only leaf through).
SAN1=subjectAltName=DNS:scraper-1.example.net
make_leaf_ext "$PKI" caleaf ca "basicConstraints=critical,CA:TRUE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
$SAN1"
make_leaf_ext "$PKI" kaleaf ca "basicConstraints=CA:FALSE
keyUsage=critical,keyAgreement
extendedKeyUsage=clientAuth
$SAN1"
make_leaf_ext "$PKI" serverleaf ca "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
$SAN1"
# keyUsage and extendedKeyUsage are optional: absent, nothing is restricted.
make_leaf_ext "$PKI" bareleaf ca "$SAN1"
"$BIN/psm-fixture" --name "$SEG" --close
cat >"$T/web.yml" <<YML
tls_server_config:
  client_auth_type: RequireAndVerifyClientCert
  min_version: TLS13
  client_allowed_sans: [scraper-1.example.net, "spiffe://example.net/prom"]
YML
start_exporter "$T/exp.log" --web.config.file="$T/web.yml"

# failures REASON: the exporter's handshake failure count for REASON
failures() {
    pcurl client "$(url /metrics)" | sed -n "s/^portsyncd_exporter_tls_handshake_failures_total{reason=\"$1\"} //p"
}
# refused DESCRIPTION REASON CURL-ARGS...: curl fails and REASON's count goes up
refused() {
    local what=$1 reason=$2 before after rc=0
    shift 2
    before=$(failures "$reason")
    curl -sS --max-time 10 --cacert "$PKI/ca.crt" "$@" -o /dev/null 2>"$T/curl.err" || rc=$?
    sleep 0.1
    after=$(failures "$reason")
    if [ "$rc" -ne 0 ] && [ "$after" -gt "$before" ]; then
        ok "$what refused (curl exit $rc, reason $reason counted)"
    else
        not_ok "$what: expected refusal with reason $reason; curl exit $rc, count $before -> $after: $(head -c 200 "$T/curl.err")"
    fi
}

# --- accepted -------------------------------------------------------------------
out=$(pcurl client --tlsv1.3 --http1.1 -w '%{http_code} %{http_version}' -o "$T/h1.txt" "$(url /metrics)")
check "HTTP/1.1 with a valid client certificate: 200 ($out)" test "$out" = "200 1.1"
check "HTTP/1.1 body holds the segment's metrics" grep -q '^fixture_events_processed_total 1234$' "$T/h1.txt"
out=$(pcurl client --tlsv1.3 --http2 -w '%{http_code} %{http_version}' -o "$T/h2.txt" "$(url /metrics)")
check "HTTP/2 (ALPN h2) with a valid client certificate: 200 ($out)" test "$out" = "200 2"
check "HTTP/2 body holds the segment's metrics" grep -q '^fixture_events_processed_total 1234$' "$T/h2.txt"
out=$(pcurl client2 -o /dev/null -w '%{http_code}' "$(url /metrics)")
check "client matching the allow-list by URI SAN: 200" test "$out" = 200

# --- openssl s_client shows the negotiated parameters --------------------------------
openssl s_client -connect "[::1]:$EXP_PORT" -servername localhost -CAfile "$PKI/ca.crt" \
    -cert "$PKI/client.crt" -key "$PKI/client.key" -verify_return_error </dev/null >"$T/sc.txt" 2>&1 || true
check "s_client: TLSv1.3 with TLS_AES_256_GCM_SHA384" grep -q 'New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384' "$T/sc.txt"
check "s_client: key exchange on P-384" grep -q 'Server Temp Key: ECDH, secp384r1, 384 bits' "$T/sc.txt"
check "s_client: server signs with ECDSA" grep -q 'Peer signature type: ECDSA' "$T/sc.txt"
check "s_client: server signature digest SHA384" grep -q 'Peer signing digest: SHA384' "$T/sc.txt"
check "s_client: server certificate verified" grep -q 'Verification: OK' "$T/sc.txt"
check "s_client: server asks for ECDSA+SHA384 client signatures only" \
    grep -qx 'Requested Signature Algorithms: ECDSA+SHA384' "$T/sc.txt"
check "s_client: no session ticket (resumption off)" bash -c "! grep -q 'TLS session ticket:' '$T/sc.txt'"

# --- refused ----------------------------------------------------------------------
refused "no client certificate" no_client_cert "$(url /metrics)"
refused "client certificate from another CA" unknown_ca \
    --cert "$PKI/foreign.crt" --key "$PKI/foreign.key" "$(url /metrics)"
refused "expired client certificate" cert_expired \
    --cert "$PKI/expired.crt" --key "$PKI/expired.key" "$(url /metrics)"
refused "client SAN not in the allow-list" san_not_allowed \
    --cert "$PKI/badsan.crt" --key "$PKI/badsan.key" "$(url /metrics)"
refused "client offering at most TLS 1.2" protocol_version \
    --cert "$PKI/client.crt" --key "$PKI/client.key" --tls-max 1.2 "$(url /metrics)"
refused "client offering only TLS_AES_128_GCM_SHA256" no_shared_params \
    --cert "$PKI/client.crt" --key "$PKI/client.key" --tls13-ciphers TLS_AES_128_GCM_SHA256 "$(url /metrics)"
refused "client offering only X25519" no_shared_params \
    --cert "$PKI/client.crt" --key "$PKI/client.key" --curves X25519 "$(url /metrics)"
refused "client leaf with CA:TRUE" cert_is_ca \
    --cert "$PKI/caleaf.crt" --key "$PKI/caleaf.key" "$(url /metrics)"
refused "client leaf whose keyUsage lacks digitalSignature (keyAgreement only)" cert_key_usage \
    --cert "$PKI/kaleaf.crt" --key "$PKI/kaleaf.key" "$(url /metrics)"
refused "client leaf whose extendedKeyUsage lacks clientAuth (serverAuth only)" cert_ext_key_usage \
    --cert "$PKI/serverleaf.crt" --key "$PKI/serverleaf.key" "$(url /metrics)"
out=$(pcurl bareleaf -o /dev/null -w '%{http_code}' "$(url /metrics)" 2>&1 || true)
check "client leaf without basicConstraints, keyUsage or extendedKeyUsage: 200 ($out)" test "$out" = 200
# An RSA client key cannot make the ECDSA P-384 signature the server asks for:
# OpenSSL's client then sends no certificate.
refused "RSA client certificate" no_client_cert \
    --cert "$PKI/rsaclient.crt" --key "$PKI/rsaclient.key" "$(url /metrics)"
rc=0
curl -sS --max-time 5 -k --cert "$PKI/client.crt" --key "$PKI/client.key" \
    "https://127.0.0.1:$EXP_PORT/metrics" -o /dev/null 2>"$T/v4.err" || rc=$?
check "IPv4 connection to 127.0.0.1 refused by the kernel: nothing listens there (curl exit $rc)" test "$rc" -eq 7
check "the listener is IPv6 only (ss shows [::1]:$EXP_PORT, no 0.0.0.0)" \
    bash -c "ss -ltnH 'sport = :$EXP_PORT' | grep -q '\[::1\]:$EXP_PORT' && ! ss -4ltnH 'sport = :$EXP_PORT' | grep -q ."
check "refusals are logged with their reason" grep -q 'TLS handshake from \[::1\] refused' "$T/exp.log"
stop_exporter

# --- HTTP/2 can be turned off ----------------------------------------------------------
start_exporter "$T/exp2.log" --no-web.http2
out=$(pcurl client --http2 -w '%{http_version}' -o /dev/null "$(url /metrics)")
check "--no-web.http2: a client asking for h2 gets HTTP/1.1 ($out)" test "$out" = 1.1
stop_exporter
check "exporter exits 0 on SIGTERM (rc=$EXP_RC)" test "$EXP_RC" -eq 0
finish
