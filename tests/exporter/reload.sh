#!/usr/bin/env bash
# SIGHUP reloads the certificate, key, CA and allow-list atomically for new
# connections; open connections keep working; a broken reload keeps serving
# the old material and says why.
source "$(dirname "$0")/lib.sh"

make_certs
"$BIN/psm-fixture" --name "$SEG" --close
D=$T/tls
mkdir -p "$D"
install -m 600 "$PKI/server.crt" "$D/server.crt"
install -m 600 "$PKI/server.key" "$D/server.key"
install -m 600 "$PKI/ca.crt" "$D/ca.crt"
webcfg() {
    cat >"$T/web.yml" <<YML
tls_server_config:
  cert_file: $D/server.crt
  key_file: $D/server.key
  client_ca_file: $D/ca.crt
  client_allowed_sans: [$1]
YML
}
webcfg "scraper-1.example.net, scraper-2.example.net"
# A stand-in for systemd's notify socket (Type=notify), recording each datagram.
$PY -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "w") as f:
    while True:
        f.write(s.recv(4096).decode() + "\n")
        f.flush()' "$T/notify.sock" "$T/notify.out" &
track_pid $!
for i in $(seq 1 100); do [ -S "$T/notify.sock" ] && break; sleep 0.05; done
NOTIFY_SOCKET=$T/notify.sock start_exporter "$T/exp.log" --web.config.file="$T/web.yml"
PYC="$PY $(dirname "$0")/pyclient.py"
serial() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
S1=$(serial "$PKI/server.crt")
S2=$(serial "$PKI/server2.crt")
# hup: send SIGHUP and wait for the Nth reload line
nreload=0
hup() {
    nreload=$((nreload + 1))
    kill -HUP "$EXP_PID"
    for i in $(seq 1 100); do
        [ "$(grep -cE 'reloaded TLS material|reload failed' "$T/exp.log")" -ge "$nreload" ] && return 0
        sleep 0.05
    done
    echo "no reload result in the log"
}

# An open keep-alive connection, made before the reload.
$PYC keepalive "$EXP_PORT" "$PKI" "$T/ka.ready" "$T/ka.go" "$T/ka.out" >"$T/ka.log" 2>&1 &
ka=$!
for i in $(seq 1 100); do [ -s "$T/ka.ready" ] && break; sleep 0.05; done
check "old connection sees the first certificate" test "$(cat "$T/ka.ready")" = "$S1"

# 1. A new server certificate.
install -m 600 "$PKI/server2.crt" "$D/server.crt"
install -m 600 "$PKI/server2.key" "$D/server.key"
hup
check "reload logged with the new serial" grep -q "reloaded TLS material for new connections: .*serial $S2" "$T/exp.log"
check "new connections see the new certificate" test "$($PYC serial "$EXP_PORT" "$PKI")" = "$S2"
check "systemd is told READY=1, then RELOADING=1 and READY=1 around the reload" \
    test "$(head -n 3 "$T/notify.out" | tr '\n' ' ')" = "READY=1 RELOADING=1 READY=1 "
touch "$T/ka.go"
rc=0
wait "$ka" || rc=$?
check "the connection opened before the reload still works ($(cat "$T/ka.out" 2>/dev/null))" test "$rc" -eq 0

# 2. A broken certificate: the old material stays.
echo "garbage" >"$D/server.crt"
hup
check "broken reload: logged why" grep -q "server certificate '$D/server.crt': not a PEM certificate" "$T/exp.log"
check "broken reload: says it keeps the old material" grep -q "reload failed .* still serving the previous TLS material (serial $S2)" "$T/exp.log"
check "broken reload: still serving the previous certificate" test "$($PYC serial "$EXP_PORT" "$PKI")" = "$S2"
check "broken reload: scrapes still 200" test "$(http_code client /metrics)" = 200

# 3. A key made world-readable: refused at reload as at startup.
install -m 600 "$PKI/server2.crt" "$D/server.crt"
chmod 644 "$D/server.key"
hup
check "reload with key mode 0644 refused" grep -q "server key '$D/server.key' has mode 0644" "$T/exp.log"
check "... still serving" test "$(http_code client /metrics)" = 200
chmod 600 "$D/server.key"

# 4. The allow-list narrows: scraper-1 is out, also on the connection it holds open.
$PYC keepalive "$EXP_PORT" "$PKI" "$T/ka2.ready" "$T/ka2.go" "$T/ka2.out" >"$T/ka2.log" 2>&1 &
ka2=$!
for i in $(seq 1 100); do [ -s "$T/ka2.ready" ] && break; sleep 0.05; done
check "scraper-1 holds an open connection" test -s "$T/ka2.ready"
webcfg "scraper-2.example.net"
hup
check "allow-list reload: scraper-1 now refused" test "$(http_code client /metrics)" = 000
check "allow-list reload: scraper-2 still admitted" test "$(http_code client2 /metrics)" = 200
touch "$T/ka2.go"
rc=0
wait "$ka2" || rc=$?
check "allow-list reload: scraper-1's open connection is closed too (rc=$rc)" test "$rc" -ne 0
check "... and the log says so" grep -q "the reloaded TLS material refuses its client certificate" "$T/exp.log"

# 5. A new client CA: clients of the old CA are refused, the new CA's admitted.
install -m 600 "$PKI/otherca.crt" "$D/ca.crt"
webcfg "scraper-1.example.net"
hup
check "CA reload: a client of the old CA is refused" test "$(http_code client /metrics)" = 000
check "CA reload: a client of the new CA is admitted" test "$(http_code foreign /metrics)" = 200
# (curl verifies the server with ca.crt, which still signed the server certificate)

# 6. A broken web config: kept too.
echo "tls_server_config: {bogus: 1}" >"$T/web.yml"
hup
check "broken web config on reload: logged" grep -q "reload failed, still serving the previous TLS material: .*unknown key 'bogus'" "$T/exp.log"
check "broken web config on reload: still serving" test "$(http_code foreign /metrics)" = 200

pcurl foreign "$(url /metrics)" >"$T/m.txt"
check "reloads counted: 3 successes" grep -qx 'portsyncd_exporter_tls_reloads_total{result="success"} 3' "$T/m.txt"
check "reloads counted: 3 failures" grep -qx 'portsyncd_exporter_tls_reloads_total{result="failure"} 3' "$T/m.txt"
check "the revoked connection is counted" grep -qx 'portsyncd_exporter_connections_closed_total{reason="revoked_by_reload"} 1' "$T/m.txt"
check "the process is the one started at the beginning" kill -0 "$EXP_PID"
stop_exporter
check "exporter exits 0 (rc=$EXP_RC)" test "$EXP_RC" -eq 0
finish
