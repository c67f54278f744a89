#!/usr/bin/env bash
# The protobuf exposition (portsyncd-shmdump --format protobuf, the bytes the
# exporter serves) of a segment with every metric type decodes with protoc
# against the repository's own tests/proto/metrics.proto, and says what the
# text exposition of the same closed segment says: every family's type and
# help, every sample's labels and value, the classic buckets; and its native
# buckets, decoded from spans and deltas, are the ones --format json lists.
source "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
proto=$top/tests/proto

"$BIN/psm-fixture" --name "$SEG" --close
"$BIN/portsyncd-shmdump" --name "$SEG" --format protobuf >"$TMP/body.pb"
"$BIN/portsyncd-shmdump" --name "$SEG" --format prometheus >"$TMP/body.txt"
"$BIN/portsyncd-shmdump" --name "$SEG" --format json >"$TMP/body.json"
check "the body is not empty" test -s "$TMP/body.pb"

# protoc reads one message: 0x0A before each length makes the stream one Families.
$PY - "$TMP/body.pb" "$TMP/wrapped.pb" <<'PY'
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
    assert j - i <= 5, "Prometheus reads at most 5 bytes of a length"
    assert j + n <= len(data), "a family runs past the end of the body"
    out += b"\x0a" + data[i:j + n]
    i = j + n
open(sys.argv[2], "wb").write(bytes(out))
PY
rc=0
protoc -I"$proto" --decode=Families stream.proto <"$TMP/wrapped.pb" >"$TMP/decoded.txt" 2>"$TMP/protoc.log" || rc=$?
check "protoc --decode accepts the whole body (rc=$rc)" test "$rc" -eq 0
for t in COUNTER GAUGE HISTOGRAM; do
    check "protoc sees a $t family" grep -q "type: $t" "$TMP/decoded.txt"
done
check "protoc sees native buckets" grep -q "positive_span" "$TMP/decoded.txt"

# The same body through generated Python classes, against the text and JSON.
protoc -I"$proto" --python_out="$TMP" metrics.proto
check "values equal the text exposition of the same snapshot" \
    env PYTHONPATH="$TMP" $PY - "$TMP/body.pb" "$TMP/body.txt" "$TMP/body.json" <<'PY'
import json, math, sys
from google.protobuf.internal.decoder import _DecodeVarint32
from prometheus_client.parser import text_string_to_metric_families
import metrics_pb2

data = open(sys.argv[1], "rb").read()
fams, pos = [], 0
while pos < len(data):
    n, pos = _DecodeVarint32(data, pos)
    fams.append(metrics_pb2.MetricFamily.FromString(data[pos:pos + n]))
    pos += n
types = {metrics_pb2.COUNTER: "counter", metrics_pb2.GAUGE: "gauge",
         metrics_pb2.HISTOGRAM: "histogram"}

def key(name, labels):
    return (name, tuple(sorted(labels.items())))

def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b

pb = {}
for f in fams:
    for m in f.metric:
        labels = {l.name: l.value for l in m.label}
        if f.type == metrics_pb2.COUNTER:
            pb[key(f.name, labels)] = m.counter.value
        elif f.type == metrics_pb2.GAUGE:
            pb[key(f.name, labels)] = m.gauge.value
        else:
            h = m.histogram
            for b in h.bucket:
                pb[key(f.name + "_bucket", dict(labels, le=repr(float(b.upper_bound))))] = b.cumulative_count
            pb[key(f.name + "_bucket", dict(labels, le="inf"))] = h.sample_count
            pb[key(f.name + "_sum", labels)] = h.sample_sum
            pb[key(f.name + "_count", labels)] = h.sample_count

text, meta = {}, {}
for fam in text_string_to_metric_families(open(sys.argv[2]).read()):
    meta[fam.name] = (fam.type, fam.documentation)
    for s in fam.samples:
        labels = dict(s.labels)
        if "le" in labels:
            labels["le"] = repr(float(labels["le"]))
        text[key(s.name, labels)] = s.value

assert set(pb) == set(text), ("only in protobuf", set(pb) - set(text), "only in text", set(text) - set(pb))
for k in text:
    assert same(pb[k], text[k]), (k, pb[k], text[k])
for f in fams:
    # The text parser names counter families without _total.
    name = f.name[:-6] if f.type == metrics_pb2.COUNTER else f.name
    assert meta[name] == (types[f.type], f.help), (f.name, meta[name], f.help)
assert len(fams) == len(meta), (len(fams), len(meta))

# Native buckets: spans and deltas back to absolute counts, as --format json has them.
js = {m["name"]: m for m in json.load(open(sys.argv[3]))["metrics"]}
natives = 0
for f in fams:
    if f.type != metrics_pb2.HISTOGRAM:
        continue
    for i, m in enumerate(f.metric):
        h, want = m.histogram, js[f.name]
        if "native" not in want:
            assert not h.HasField("zero_threshold") and not h.positive_span, f.name
            continue
        natives += 1
        jn = want["series"][i]["native"]
        assert h.schema == want["native"]["schema"] == 3
        assert h.zero_threshold == want["native"]["zero_threshold"] > 0
        assert h.zero_count == jn["zero_count"]
        got, idx, count, deltas = [], None, 0, iter(h.positive_delta)
        for sp in h.positive_span:
            idx = sp.offset if idx is None else idx + sp.offset
            for _ in range(sp.length):
                count += next(deltas)
                assert count >= 0, "a bucket count below 0 fails the scrape"
                if count:
                    got.append((idx, count))
                idx += 1
        assert next(deltas, None) is None, "spans and deltas disagree"
        assert got == [(b["index"], b["count"]) for b in jn["buckets"]], (f.name, got, jn)
        assert h.zero_count + sum(c for _, c in got) == h.sample_count
        if not got:
            assert [(s.offset, s.length) for s in h.positive_span] == [(0, 0)], "no-op span"
assert natives == 5, natives
print("protobuf:", len(fams), "families,", len(pb), "samples as in the text,", natives,
      "native histograms as in the json")
PY
finish
