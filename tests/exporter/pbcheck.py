#!/usr/bin/python3
"""tests/exporter/pbcheck.py - compare a protobuf scrape of the exporter with a
text scrape of the same segment.

  pbcheck.py PROTO_PY_DIR BODY.pb BODY.txt SHMDUMP.json

PROTO_PY_DIR holds metrics_pb2.py (protoc --python_out of tests/proto/metrics.proto).
Every family of the text scrape is in the protobuf one with the same type and
help, and the other way round; every sample has the same labels; the segment's
samples (those of families not the exporter's own) have the same values, and
so do the exporter's that cannot change between two scrapes. The histograms
that carry native buckets are the ones the segment has them for (shmdump's
json), their buckets add up to the count, and the exporter's own histogram is
classic. Exits 1 with the first difference.
"""
import json
import math
import sys

sys.path.insert(0, sys.argv[1])
import metrics_pb2  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

# Self-metrics that two scrapes a moment apart give the same value.
STABLE = ("portsyncd_exporter_build_info", "portsyncd_exporter_segment_mapped",
          "portsyncd_exporter_writer_up", "process_start_time_seconds",
          "portsyncd_exporter_tls_server_cert_expiry_timestamp_seconds")
SELF = ("portsyncd_exporter_", "process_")


def varint(data, pos):
    n = shift = 0
    start = pos
    while True:
        b = data[pos]
        n |= (b & 0x7F) << shift
        pos += 1
        shift += 7
        if b < 0x80:
            break
    if pos - start > 5:
        sys.exit("a length of more than 5 bytes: Prometheus 2.42 refuses it")
    return n, pos


def decode(data):
    fams, pos = [], 0
    while pos < len(data):
        n, pos = varint(data, pos)
        if pos + n > len(data):
            sys.exit("a family runs past the end of the body")
        fams.append(metrics_pb2.MetricFamily.FromString(data[pos:pos + n]))
        pos += n
    return fams


def key(name, labels):
    return (name, tuple(sorted(labels.items())))


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


def fail(msg):
    print("pbcheck:", msg)
    sys.exit(1)


def main():
    fams = decode(open(sys.argv[2], "rb").read())
    types = {metrics_pb2.COUNTER: "counter", metrics_pb2.GAUGE: "gauge",
             metrics_pb2.HISTOGRAM: "histogram"}
    pb, natives, classic_only = {}, set(), set()
    for f in fams:
        if f.type not in types:
            fail(f"{f.name}: type {f.type}")
        for m in f.metric:
            labels = {lp.name: lp.value for lp in m.label}
            if f.type == metrics_pb2.COUNTER:
                pb[key(f.name, labels)] = m.counter.value
            elif f.type == metrics_pb2.GAUGE:
                pb[key(f.name, labels)] = m.gauge.value
            else:
                h = m.histogram
                for b in h.bucket:
                    le = repr(float(b.upper_bound))
                    pb[key(f.name + "_bucket", dict(labels, le=le))] = b.cumulative_count
                pb[key(f.name + "_bucket", dict(labels, le="inf"))] = h.sample_count
                pb[key(f.name + "_sum", labels)] = h.sample_sum
                pb[key(f.name + "_count", labels)] = h.sample_count
                if h.zero_threshold > 0:
                    natives.add(f.name)
                    total = h.zero_count + sum(_counts(h))
                    if total != h.sample_count:
                        fail(f"{f.name}{labels}: native buckets hold {total}, count {h.sample_count}")
                else:
                    classic_only.add(f.name)
    text, meta = {}, {}
    for fam in text_string_to_metric_families(open(sys.argv[3]).read()):
        meta[fam.name] = (fam.type, fam.documentation)
        for s in fam.samples:
            labels = dict(s.labels)
            if "le" in labels:
                labels["le"] = repr(float(labels["le"]))
            text[key(s.name, labels)] = s.value
    if set(pb) != set(text):
        fail(f"only in protobuf: {sorted(set(pb) - set(text))[:5]}, "
             f"only in text: {sorted(set(text) - set(pb))[:5]}")
    for k, v in text.items():
        name = k[0]
        if name.startswith(SELF) and not name.startswith(STABLE):
            continue
        if not same(pb[k], v):
            fail(f"{k}: protobuf {pb[k]}, text {v}")
    for f in fams:
        # The text parser names counter families without _total.
        name = f.name[:-6] if f.type == metrics_pb2.COUNTER else f.name
        if meta.get(name) != (types[f.type], f.help):
            fail(f"{f.name}: protobuf {(types[f.type], f.help)}, text {meta.get(name)}")
    if len(fams) != len(meta):
        fail(f"{len(fams)} families in protobuf, {len(meta)} in text")
    want = {m["name"] for m in json.load(open(sys.argv[4]))["metrics"] if "native" in m}
    if natives != want:
        fail(f"native buckets on {sorted(natives)}, the segment has them on {sorted(want)}")
    if "portsyncd_exporter_scrape_duration_seconds" not in classic_only:
        fail("the exporter's own histogram is missing or not classic")
    print(f"pbcheck: {len(fams)} families, {len(pb)} samples as in the text, "
          f"{len(natives)} native histograms as in the segment")


def _counts(h):
    count = 0
    for d in h.positive_delta:
        count += d
        if count < 0:
            fail("a native bucket count below 0")
        yield count


if __name__ == "__main__":
    main()
