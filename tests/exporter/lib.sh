# tests/exporter/lib.sh - what the exporter's integration tests share beyond
# tests/lib/common.sh (temp dir, cleanup, assertions, polling, free_port):
# certificates made with openssl, starting and stopping the exporter and a
# writer, curl with a client certificate.
#
# Usage in a test: source "$(dirname "$0")/lib.sh" [BINDIR]. Runs with -e.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh" pex "${1-}"
T=$TMP # the exporter tests' name for the temp dir
SEG=psm-it-exp-$NAME-$$

# ---- certificates ------------------------------------------------------------
# make_ca DIR NAME: a P-384 CA, ECDSA-SHA384
make_ca() {
    local d=$1 n=$2
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -sha384 \
        -keyout "$d/$n.key" -out "$d/$n.crt" -days 30 -subj "/CN=$n" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    chmod 600 "$d/$n.key"
}
# make_leaf DIR NAME CA KEYSPEC SAN EKU: a leaf signed by CA (KEYSPEC: ec|rsa)
make_leaf() {
    local d=$1 n=$2 ca=$3 spec=$4 san=$5 eku=$6
    if [ "$spec" = rsa ]; then
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$d/$n.key" 2>/dev/null
    else
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$d/$n.key" 2>/dev/null
    fi
    chmod 600 "$d/$n.key"
    openssl req -new -key "$d/$n.key" -subj "/CN=$n" -out "$d/$n.csr" 2>/dev/null
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=%s\n' \
        "$eku" "$san" >"$d/$n.ext"
    openssl x509 -req -in "$d/$n.csr" -CA "$d/$ca.crt" -CAkey "$d/$ca.key" -set_serial "0x$(openssl rand -hex 8)" \
        -days 30 -sha384 -extfile "$d/$n.ext" -out "$d/$n.crt" 2>/dev/null
}
# make_leaf_ext DIR NAME CA EXTENSIONS: an EC P-384 leaf signed by CA with exactly
# the extension lines given (one per line, openssl x509 -extfile syntax), for
# certificates a correct CA would not issue (CA:TRUE leaves, odd key usages)
make_leaf_ext() {
    local d=$1 n=$2 ca=$3 ext=$4
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$d/$n.key" 2>/dev/null
    chmod 600 "$d/$n.key"
    openssl req -new -key "$d/$n.key" -subj "/CN=$n" -out "$d/$n.csr" 2>/dev/null
    printf '%s\n' "$ext" >"$d/$n.ext"
    openssl x509 -req -in "$d/$n.csr" -CA "$d/$ca.crt" -CAkey "$d/$ca.key" -set_serial "0x$(openssl rand -hex 8)" \
        -days 30 -sha384 -extfile "$d/$n.ext" -out "$d/$n.crt" 2>/dev/null
}
# make_expired DIR NAME CA SAN [EKU]: a certificate valid only in 2020 (openssl ca sets the dates)
make_expired() {
    local d=$1 n=$2 ca=$3 san=$4 eku=${5:-clientAuth}
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$d/$n.key" 2>/dev/null
    openssl req -new -key "$d/$n.key" -subj "/CN=$n" -out "$d/$n.csr" 2>/dev/null
    mkdir -p "$d/ca-db"
    : >"$d/ca-db/index.txt"
    openssl rand -hex 8 >"$d/ca-db/serial"
    cat >"$d/ca-db/ca.cnf" <<CNF
[ca]
default_ca = test
[test]
database = $d/ca-db/index.txt
serial = $d/ca-db/serial
new_certs_dir = $d/ca-db
default_md = sha384
policy = any
unique_subject = no
[any]
commonName = supplied
[ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = $eku
subjectAltName = $san
CNF
    openssl ca -batch -config "$d/ca-db/ca.cnf" -cert "$d/$ca.crt" -keyfile "$d/$ca.key" \
        -startdate 20200101000000Z -enddate 20200201000000Z -extensions ext \
        -in "$d/$n.csr" -out "$d/$n.crt" -notext 2>/dev/null
}
# make_certs: everything the tests use, in $T/pki
make_certs() {
    local d=$T/pki
    mkdir -p "$d"
    make_ca "$d" ca
    make_ca "$d" otherca
    make_leaf "$d" server ca ec "DNS:localhost,IP:::1" serverAuth
    make_leaf "$d" server2 ca ec "DNS:localhost,IP:::1" serverAuth
    make_leaf "$d" client ca ec "DNS:scraper-1.example.net" clientAuth
    make_leaf "$d" client2 ca ec "DNS:scraper-2.example.net,URI:spiffe://example.net/prom" clientAuth
    make_leaf "$d" badsan ca ec "DNS:intruder.example.net" clientAuth
    make_leaf "$d" rsaclient ca rsa "DNS:scraper-1.example.net" clientAuth
    make_leaf "$d" foreign otherca ec "DNS:scraper-1.example.net" clientAuth
    make_expired "$d" expired ca "DNS:scraper-1.example.net"
    make_expired "$d" expiredserver ca "DNS:localhost,IP:::1" serverAuth
    make_leaf "$d" rsaserver ca rsa "DNS:localhost,IP:::1" serverAuth
    PKI=$d
}

# ---- processes -----------------------------------------------------------------
# start_exporter LOGFILE ARGS...: start with the test certs, wait for "listening",
# set EXP_PID and EXP_PORT. Env PEX_CERT/PEX_KEY/PEX_CA override the files.
start_exporter() {
    local log=$1
    shift
    PORTSYNCD_METRICS_CERT=${PEX_CERT:-$PKI/server.crt} PORTSYNCD_METRICS_KEY=${PEX_KEY:-$PKI/server.key} \
        PORTSYNCD_METRICS_CA=${PEX_CA:-$PKI/ca.crt} \
        ${PEX_WRAP:-} "$BIN/portsyncd-exporter" --web.listen-address='[::1]:0' --shm-name="$SEG" "$@" \
        >"$log" 2>&1 &
    EXP_PID=$!
    track_pid "$EXP_PID"
    local i
    for i in $(seq 1 100); do
        # The log may not exist yet (the shell opens it after the fork).
        EXP_PORT=$(sed -n 's/.*listening on \[::1\]:\([0-9]*\).*/\1/p' "$log" 2>/dev/null | head -n 1) ||
            true
        [ -n "$EXP_PORT" ] && return 0
        kill -0 "$EXP_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "exporter did not start:"
    cat "$log"
    return 1
}
# stop_exporter: SIGTERM, wait, and report its exit status in EXP_RC
stop_exporter() {
    kill -TERM "$EXP_PID" 2>/dev/null || true
    EXP_RC=0
    wait "$EXP_PID" || EXP_RC=$?
}
# start_writer ARGS...: psm-loadgen on $SEG, waits until the segment exists; sets W_PID
start_writer() {
    "$BIN/psm-loadgen" --name "$SEG" "$@" >"$T/loadgen.log" 2>&1 &
    W_PID=$!
    track_pid "$W_PID"
    local i
    for i in $(seq 1 100); do
        [ -e "/dev/shm/$SEG" ] && return 0
        sleep 0.05
    done
    echo "psm-loadgen did not create the segment:"
    cat "$T/loadgen.log"
    return 1
}

# ---- clients -------------------------------------------------------------------
# pcurl CLIENT ARGS... URLPATH: curl with the named client certificate against the exporter
pcurl() {
    local who=$1
    shift
    curl -sS --max-time 10 --cacert "$PKI/ca.crt" --cert "$PKI/$who.crt" --key "$PKI/$who.key" "$@"
}
url() { echo "https://[::1]:$EXP_PORT$1"; }
# http_code CLIENT PATH [ARGS...]: the status code, or 000 when refused
http_code() {
    local who=$1 path=$2
    shift 2
    pcurl "$who" -o /dev/null -w '%{http_code}' "$@" "$(url "$path")" 2>/dev/null || true
}
