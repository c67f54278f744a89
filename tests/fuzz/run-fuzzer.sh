#!/usr/bin/env bash
# tests/fuzz/run-fuzzer.sh FUZZER SECONDS CORPUS_DIR [MIN_EDGES]
# Seeds the corpus with real inputs (segments written by psm-fixture, the kernel's
# own link dumps, ...), so the fuzzer starts past magic numbers and checksums,
# then fuzzes for SECONDS and prints one summary line:
#   fuzz_NAME: S s, E execs (R/s), edges: I from the seeds -> D, corpus C, findings F
# Exit 0 only with no finding and at least MIN_EDGES edges reached: a fuzzer whose
# code under test is not coverage-instrumented sees a handful of edges and fails.
set -euo pipefail
fuzzer=$1 seconds=$2 corpus=$3 floor=${4:-0}
bindir=$(dirname "$fuzzer")/../bin
mkdir -p "$corpus"
seed=psm-fuzz-seed-$$
trap 'rm -f /dev/shm/$seed' EXIT
case $(basename "$fuzzer") in
*netlink*)
    # Real link dumps of this machine, raw from the kernel, as seeds.
    /usr/bin/python3 - "$corpus" <<'PY'
import os, socket, struct, sys
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
s.bind((0, 0))
req = struct.pack("=LHHLL", 32, 18, 0x301, 1, 0) + struct.pack("=BxHiII", 0, 0, 0, 0, 0)
s.send(req)
for i in range(8):
    data = s.recv(65536)
    open(os.path.join(sys.argv[1], f"seed-dump-{i}"), "wb").write(data)
    if struct.unpack_from("=H", data, 4)[0] == 3:  # NLMSG_DONE
        break
PY
    ;;
*webconfig*)
    # The YAML of the exporter's config tests (each `wc '...'` of config.sh) and
    # the README's example.
    top=$(cd "$(dirname "$0")/../.." && pwd)
    i=0
    sed -n "s/^wc '\(.*\)'$/\1/p" "$top/tests/exporter/config.sh" | while IFS= read -r y; do
        printf '%b' "$y" >"$corpus/seed-config-$i.yml"
        i=$((i + 1))
    done
    sed -n '/^```yaml$/,/^```$/p' "$top/exporter/README.md" | sed '1d;$d' >"$corpus/seed-readme.yml"
    ;;
*clientcert*)
    # Client leaves made with openssl now, as DER: what the verify callback sees.
    d=$(mktemp -d)
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -sha384 \
        -keyout "$d/ca.key" -out "$d/ca.crt" -days 2 -subj /CN=ca \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
    leaf() { # leaf NAME KEYSPEC EXTENSIONS
        openssl genpkey -algorithm "$2" $([ "$2" = EC ] && echo -pkeyopt ec_paramgen_curve:P-384) \
            -out "$d/$1.key" 2>/dev/null
        openssl req -new -key "$d/$1.key" -subj "/CN=$1" -out "$d/$1.csr" 2>/dev/null
        printf '%b\n' "$3" >"$d/$1.ext"
        openssl x509 -req -in "$d/$1.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -set_serial 7 -days 2 \
            -sha384 -extfile "$d/$1.ext" -outform DER -out "$corpus/seed-$1.der" 2>/dev/null
    }
    ku='basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth'
    leaf good EC "$ku\nsubjectAltName=DNS:scraper-1.example.net"
    leaf sans EC "$ku\nsubjectAltName=IP:2001:db8::10,IP:192.0.2.7,URI:spiffe://example.net/prom,email:a@example.net,DNS:other.example.net"
    leaf caleaf EC 'basicConstraints=critical,CA:TRUE\nkeyUsage=digitalSignature\nsubjectAltName=DNS:scraper-1.example.net'
    leaf kaleaf EC 'keyUsage=keyAgreement\nextendedKeyUsage=clientAuth\nsubjectAltName=DNS:scraper-1.example.net'
    leaf serverleaf EC 'keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:scraper-1.example.net'
    leaf bare EC 'subjectAltName=DNS:scraper-1.example.net'
    leaf rsa RSA "$ku\nsubjectAltName=DNS:scraper-1.example.net"
    openssl x509 -in "$d/ca.crt" -outform DER -out "$corpus/seed-ca.der"
    rm -rf "$d"
    ;;
*accept*)
    # "Accept\nAccept-Encoding" as Prometheus (2.42, with and without native
    # histograms), curl and browsers send them.
    s=0
    while IFS= read -r line; do
        printf '%b' "$line" >"$corpus/seed-accept-$s"
        s=$((s + 1))
    done <<'SEEDS'
application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\ngzip
application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2\ngzip
*/*\ndeflate, gzip, br, zstd
*/*\n
text/plain;version=0.0.4\nidentity
text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\ngzip, deflate, br
application/openmetrics-text; version="1.0.0"; charset=utf-8\ngzip;q=0, *;q=1
text/*;q=0.5, application/openmetrics-text;q=0.4\nx-gzip;q=0.5
SEEDS
    ;;
esac
if [ -x "$bindir/psm-fixture" ] && [[ $(basename "$fuzzer") == *reader* ]]; then
    "$bindir/psm-fixture" --name "$seed" --small --close
    cp "/dev/shm/$seed" "$corpus/seed-fixture"
    "$bindir/psm-fixture" --name "$seed" --small
    cp "/dev/shm/$seed" "$corpus/seed-fixture-dead-writer"
fi
artifacts=$(mktemp -d)
out=$(mktemp)
name=$(basename "$fuzzer")
echo "fuzzing $name for ${seconds}s, corpus $corpus ($(ls "$corpus" | wc -l) files)"
set +e
"$fuzzer" -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 "$corpus" >"$out" 2>&1
rc=$?
set -e
tail -n 25 "$out"
inited=$(sed -n 's/.*INITED cov: \([0-9]*\).*/\1/p' "$out" | tail -n 1)
last=$(grep -oE '(DONE|NEW|REDUCE|pulse|INITED) +cov: [0-9]+' "$out" | tail -n 1 | grep -oE '[0-9]+$')
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out")
findings=$(find "$artifacts" -type f | wc -l)
[ "$rc" -ne 0 ] && [ "$findings" -eq 0 ] && findings=1
echo "$name: ${seconds} s, ${execs:-?} execs (${rate:-?}/s), edges: ${inited:-?} from the seeds -> ${last:-?}, corpus $(ls "$corpus" | wc -l), findings $findings"
rm -f "$out"
if [ "$rc" -ne 0 ]; then
    echo "$name found a problem; reproducer(s) in $artifacts:"
    ls -l "$artifacts"
    exit 1
fi
rm -rf "$artifacts"
if [ "${last:-0}" -lt "$floor" ]; then
    echo "$name: reached ${last:-0} edges, below the floor of $floor: is the code under test built with -fsanitize=fuzzer-no-link?"
    exit 1
fi
echo "fuzz: no finding in ${seconds}s, ${last} edges (floor $floor)"
