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
*redis_reply*)
    # What a real redis-server answers to portsyncd's own commands, raw RESP: the
    # startup sequence (HGET, HEXISTS, SCAN, HGETALL), SCRIPT LOAD, NOSCRIPT, the
    # producer-state-table EVALSHA and a STATE_DB batch result with a WRONGTYPE.
    rdir=$(mktemp -d)
    redis-server --port 0 --unixsocket "$rdir/redis.sock" --dir "$rdir" --save '' \
        --appendonly no >"$rdir/redis.log" 2>&1 &
    rpid=$!
    /usr/bin/python3 - "$rdir/redis.sock" "$corpus" <<'PY'
import os, socket, sys, time

path, out = sys.argv[1], sys.argv[2]
for _ in range(200):
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        break
    except OSError:
        time.sleep(0.02)
else:
    sys.exit("redis-server did not start")

def raw(*args):
    """Send one command, return the exact bytes of its reply."""
    s.sendall(b"".join([b"*%d\r\n" % len(args)] +
                       [b"$%d\r\n%s\r\n" % (len(a), a) for a in map(str.encode, args)]))
    data = b""
    while True:
        data += s.recv(65536)
        if complete(data, 0) is not None:
            return data

def complete(b, i):
    """Index after the reply starting at i, or None if more bytes are needed."""
    end = b.find(b"\r\n", i)
    if end < 0:
        return None
    t, n = b[i:i + 1], b[i + 1:end]
    if t in b"+-:":
        return end + 2
    if t == b"$":
        n = int(n)
        return end + 2 if n < 0 else (end + 4 + n if len(b) >= end + 4 + n else None)
    j = end + 2
    for _ in range(max(int(n), 0)):
        j = complete(b, j)
        if j is None:
            return None
    return j

seeds = {}
raw("SELECT", "4")
for n in (0, 4, 8):
    raw("HSET", "PORT|Ethernet%d" % n, "lanes", "%d,%d" % (n * 4, n * 4 + 1), "speed", "100000",
        "alias", "etp%d" % (n // 4 + 1), "mtu", "9100", "admin_status", "up")
raw("HSET", "PORT|Eth ernet 8", "lanes", "2")
raw("SET", "PORT|Ethernet20", "a string, not a hash")
raw("HSET", "DEVICE_METADATA|localhost", "switch_type", "dpu")
seeds["hget-switch-type"] = raw("HGET", "DEVICE_METADATA|localhost", "switch_type")
seeds["hget-nil"] = raw("HGET", "DEVICE_METADATA|localhost", "nothing")
seeds["scan"] = raw("SCAN", "0", "MATCH", "PORT|*", "COUNT", "1000")
seeds["scan-cursor"] = raw("SCAN", "0", "MATCH", "PORT|*", "COUNT", "1")
seeds["hgetall"] = raw("HGETALL", "PORT|Ethernet0")
seeds["hgetall-empty"] = raw("HGETALL", "PORT|Ethernet99")
seeds["hgetall-wrongtype"] = raw("HGETALL", "PORT|Ethernet20")
raw("SELECT", "6")
raw("HSET", "WARM_RESTART_TABLE|portsyncd", "restore_count", "3")
raw("HSET", "WARM_RESTART_ENABLE_TABLE|swss", "enable", "true")
seeds["hget-restore-count"] = raw("HGET", "WARM_RESTART_TABLE|portsyncd", "restore_count")
seeds["hget-enable"] = raw("HGET", "WARM_RESTART_ENABLE_TABLE|swss", "enable")
raw("SET", "PORT_TABLE|Ethernet4", "not a hash")
raw("SELECT", "0")
raw("HSET", "PORT_TABLE:Ethernet0", "admin_status", "up")
seeds["hexists-1"] = raw("HEXISTS", "PORT_TABLE:Ethernet0", "admin_status")
seeds["hexists-0"] = raw("HEXISTS", "PORT_TABLE:Ethernet4", "admin_status")
seeds["script-load"] = raw("SCRIPT", "LOAD", "return redis.call('SADD', KEYS[1], ARGV[1])")
seeds["noscript"] = raw("EVALSHA", "0" * 40, "0")
seeds["pst-set"] = raw("EVAL", "return redis.call('SADD', KEYS[1], ARGV[1])", "1",
                       "PORT_TABLE_KEY_SET", "Ethernet0")
# The batch script's result shape: 1 written, 0 not in PORT_TABLE, an error's text.
seeds["apply"] = raw("EVAL", "redis.call('SELECT', 6) local res = {1, 0} "
                     "local h = redis.pcall('HSET', 'PORT_TABLE|Ethernet4', 'state', 'ok') "
                     "res[3] = h.err return res", "0")
seeds["apply-error"] = raw("EVAL", "return redis.error_reply('BUSY Redis is busy')", "0")
seeds["ping"] = raw("PING")
for name, data in seeds.items():
    open(os.path.join(out, "seed-" + name), "wb").write(data)
open(os.path.join(out, "seed-startup-sequence"), "wb").write(b"".join(seeds.values()))
PY
    kill "$rpid"
    wait "$rpid" 2>/dev/null || true
    rm -rf "$rdir"
    ;;
*dbconfig*)
    # SONiC-shaped database_config.json and database_global.json, as
    # sonic-buildimage's templates render them (single-ASIC with the chassis and
    # BMP instances, an ASIC namespace's, the global file with a DPU), and the
    # broken shapes of tests/core/t_db_config_bad.sh.
    db() { # db NAME INSTANCE_OF_STATE_DB EXTRA_INSTANCE_JSON
        cat >"$corpus/seed-$1.json" <<JSON
{
    "INSTANCES": {
        "redis": {"hostname": "127.0.0.1", "port": 6379, "unix_socket_path": "/var/run/redis/redis.sock",
                  "persistence_for_warm_boot": "yes"},
        "redis_chassis": {"hostname": "redis_chassis.server", "port": 6380,
                          "unix_socket_path": "/var/run/redis-chassis/redis_chassis.sock",
                          "persistence_for_warm_boot": "yes"}$3
    },
    "DATABASES": {
        "APPL_DB": {"id": 0, "separator": ":", "instance": "redis"},
        "ASIC_DB": {"id": 1, "separator": ":", "instance": "redis"},
        "COUNTERS_DB": {"id": 2, "separator": ":", "instance": "redis"},
        "LOGLEVEL_DB": {"id": 3, "separator": ":", "instance": "redis"},
        "CONFIG_DB": {"id": 4, "separator": "|", "instance": "redis"},
        "PFC_WD_DB": {"id": 5, "separator": ":", "instance": "redis"},
        "FLEX_COUNTER_DB": {"id": 5, "separator": ":", "instance": "redis"},
        "STATE_DB": {"id": 6, "separator": "|", "instance": "$2"},
        "SNMP_OVERLAY_DB": {"id": 7, "separator": "|", "instance": "redis"},
        "RESTAPI_DB": {"id": 8, "separator": "|", "instance": "redis"},
        "CHASSIS_APP_DB": {"id": 12, "separator": "|", "instance": "redis_chassis"},
        "CHASSIS_STATE_DB": {"id": 13, "separator": "|", "instance": "redis_chassis"},
        "APPL_STATE_DB": {"id": 14, "separator": ":", "instance": "redis"},
        "BMP_STATE_DB": {"id": 20, "separator": "|", "instance": "redis_bmp"}
    },
    "VERSION": "1.0"
}
JSON
    }
    db sonic redis ',
        "redis_bmp": {"hostname": "127.0.0.1", "port": 6400, "unix_socket_path": "/var/run/redis/redis_bmp.sock"}'
    db split redis2 ',
        "redis2": {"hostname": "127.0.0.1", "port": 6381, "unix_socket_path": "/var/run/redis/redis2.sock"}'
    db tcp redis3 ',
        "redis3": {"hostname": "10.1.0.32", "port": 6379}'
    db missing redis4 ''
    sed 's|/var/run/redis/redis.sock|/var/run/redis0/redis.sock|; s/127.0.0.1", "port": 6379/10.1.0.1", "port": 6379/' \
        "$corpus/seed-sonic.json" >"$corpus/seed-asic0.json"
    sed '/"APPL_DB"/s/"separator": ":"/"separator": "|"/' "$corpus/seed-sonic.json" >"$corpus/seed-bad-separator.json"
    sed '0,/"port": 6379/s/"port": 6379/"port": "6379"/' "$corpus/seed-tcp.json" >"$corpus/seed-bad-port.json"
    sed 's/"STATE_DB"/"STATE_DBX"/' "$corpus/seed-sonic.json" >"$corpus/seed-no-state-db.json"
    cat >"$corpus/seed-global.json" <<'JSON'
{
    "INCLUDES": [
        {"include": "../../redis/sonic-db/database_config.json"},
        {"namespace": "asic0", "include": "../../redis0/sonic-db/database_config.json"},
        {"namespace": "asic1", "include": "../../redis1/sonic-db/database_config.json"},
        {"container_name": "dpu0", "include": "../../redisdpu0/sonic-db/database_config.json"}
    ],
    "VERSION": "1.0"
}
JSON
    echo '{"INCLUDES": [{"namespace": "asic0"}, {"namespace": 1, "include": "x"}], "VERSION": "1.0"}' \
        >"$corpus/seed-global-bad.json"
    echo '{"INCLUDES": [{"namespace": "asic1", "include": "/abs/database_config.json"}, {"namespace": "asic1", "include": "b"}]}' \
        >"$corpus/seed-global-dup.json"
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
application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\ngzip
application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2\ngzip
application/vnd.google.protobuf; proto="io.prometheus.client.MetricFamily"; encoding=delimited; q=1.000, text/plain;q=0\ngzip;q=0.001
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
