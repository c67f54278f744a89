#!/usr/bin/env bash
# The protobuf exposition over mutual TLS: the Accept header Prometheus 2.42
# sends with --enable-feature=native-histograms gets delimited MetricFamily
# messages with the right Content-Type (gzip'd when allowed), which protoc
# decodes against the repository's tests/proto/metrics.proto; they say what
# the text scrape of the same segment says (families, types, help, labels,
# values, classic buckets), with native buckets where the segment has them
# and the exporter's own families included.
source "$(dirname "$0")/lib.sh"
proto=$(cd "$(dirname "$0")/../proto" && pwd)
PB_CT='application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited'
NATIVE_ACCEPT='application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'

make_certs
"$BIN/psm-fixture" --name "$SEG" --hold 600 >"$T/fixture.log" 2>&1 &
track_pid $!
for i in $(seq 1 100); do [ -e "/dev/shm/$SEG" ] && break; sleep 0.05; done
start_exporter "$T/exp.log"
"$BIN/portsyncd-shmdump" --name "$SEG" --format json >"$T/segment.json"

pcurl client -H "Accept: $NATIVE_ACCEPT" -D "$T/pb.h" -o "$T/body.pb" "$(url /metrics)"
pcurl client -H "Accept: text/plain" -o "$T/body.txt" "$(url /metrics)"
pcurl client -H "Accept: $NATIVE_ACCEPT" -H 'Accept-Encoding: gzip' -D "$T/gz.h" -o "$T/body.pb.gz" \
    "$(url /metrics)"
ct=$(sed -n 's/^content-type: //Ip' "$T/pb.h" | tr -d '\r')
expect_eq "Prometheus 2.42's native-histogram Accept header gets protobuf" "$PB_CT" "$ct"
check "Vary names Accept" grep -qi '^vary:.*accept' "$T/pb.h"
check "the body is not empty" test -s "$T/body.pb"
check "Accept-Encoding: gzip -> Content-Encoding: gzip on protobuf" grep -qi '^content-encoding: gzip' "$T/gz.h"
check "... and it gunzips" bash -c "gzip -dc '$T/body.pb.gz' >'$T/gunzipped.pb'"
ct=$(pcurl client -H 'Accept: application/vnd.google.protobuf' -o /dev/null -w '%{content_type}' "$(url /metrics)")
check "protobuf without proto= and encoding=delimited gets text ($ct)" bash -c "[[ '$ct' == text/plain* ]]"

# protoc reads one message: 0x0A before each length makes the stream one Families.
wrap() {
    $PY - "$1" "$2" <<'PY'
import sys
data, out, i = open(sys.argv[1], "rb").read(), bytearray(), 0
while i < len(data):
    n = shift = 0
    j = i
    while True:
        b = data[j]
        n |= (b & 0x7F) << shift
        j += 1
        shift += 7
        if b < 0x80:
            break
    out += b"\x0a" + data[i:j + n]
    i = j + n
open(sys.argv[2], "wb").write(bytes(out))
PY
}
for body in body gunzipped; do
    wrap "$T/$body.pb" "$T/$body.wrapped"
    rc=0
    protoc -I"$proto" --decode=Families stream.proto <"$T/$body.wrapped" >"$T/$body.decoded" \
        2>"$T/protoc.log" || rc=$?
    check "protoc --decode accepts the whole body ($body.pb, rc=$rc)" test "$rc" -eq 0
done
for t in COUNTER GAUGE HISTOGRAM; do
    check "protoc sees a $t family" grep -q "type: $t" "$T/body.decoded"
done
check "protoc sees native buckets (schema, zero_threshold, positive_span)" \
    bash -c "grep -q 'schema: 3' '$T/body.decoded' && grep -q zero_threshold '$T/body.decoded' && grep -q positive_span '$T/body.decoded'"
check "the exporter's own families are in the protobuf body" \
    grep -q 'name: "portsyncd_exporter_scrape_duration_seconds"' "$T/body.decoded"
check "the gzip'd body has the same families" \
    bash -c "diff <(grep '^  name:' '$T/body.decoded') <(grep '^  name:' '$T/gunzipped.decoded')"

protoc -I"$proto" --python_out="$T" metrics.proto
check "the protobuf scrape says what the text scrape says" \
    $PY "$(dirname "$0")/pbcheck.py" "$T" "$T/body.pb" "$T/body.txt" "$T/segment.json"
check "... and so does the gzip'd one" \
    $PY "$(dirname "$0")/pbcheck.py" "$T" "$T/gunzipped.pb" "$T/body.txt" "$T/segment.json"

# Scrapes of different formats arriving together each get their own render.
par=()
for i in 1 2 3; do
    pcurl client -H "Accept: $NATIVE_ACCEPT" -o "$T/par-pb-$i" "$(url /metrics)" &
    par+=($!)
    pcurl client -H "Accept: text/plain" -o "$T/par-txt-$i" "$(url /metrics)" &
    par+=($!)
done
for p in "${par[@]}"; do wait "$p" || true; done
ok_fmt=1
for i in 1 2 3; do
    grep -q '^# TYPE' "$T/par-txt-$i" || ok_fmt=0
    grep -q '^# TYPE' "$T/par-pb-$i" && ok_fmt=0
    $PY "$(dirname "$0")/pbcheck.py" "$T" "$T/par-pb-$i" "$T/body.txt" "$T/segment.json" >/dev/null ||
        ok_fmt=0
done
check "concurrent text and protobuf scrapes each get their own format" test "$ok_fmt" = 1
finish
