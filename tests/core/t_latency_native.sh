#!/usr/bin/env bash
# portsyncd's two latency histograms carry native buckets (schema 3, zero
# threshold 2^-20 s) beside the seed's classic buckets, which stay exactly
# .001 .. 1 and .001 .. .1; and at DEBUG every observation is one log line
#   observe <histogram name> <seconds, 9 decimals: exact nanoseconds>
# whose values, recomputed here into buckets independently of libpsmetrics
# (Prometheus's own schema-3 boundaries), give exactly the classic buckets,
# native buckets, count and sum the segment holds after ports flapped.
source "$(dirname "$0")/lib.sh"
start_redis
make_ns
seed_ports 0 4
start_consumer
start_portsyncd_ready
add_port 0
add_port 4
check "both ports in STATE_DB" wait_for 10 state_matches_kernel 0 4
for i in $(seq 20); do
    ip -n "$NS" link set p0 down
    ip -n "$NS" link set p4 down
    sleep 0.02
    ip -n "$NS" link set p0 up
    ip -n "$NS" link set p4 up
    sleep 0.02
done
check "STATE_DB settles on the kernel's state" wait_for 10 state_matches_kernel 0 4
check "SIGTERM exits 0" stop_portsyncd
# The writer is gone: the segment holds its last counts, the log every observation.
"$BIN/portsyncd-shmdump" --name "$SEG" --format json >"$TMP/seg.json"
"$BIN/portsyncd-shmdump" --name "$SEG" --format prometheus >"$TMP/seg.txt"
check "the text exposition keeps exactly the seed's buckets" bash -c "
    [ \"\$(grep -o '^portsyncd_event_latency_seconds_bucket{le=\"[^\"]*\"}' '$TMP/seg.txt' | cut -d'\"' -f2 | paste -sd' ')\" = '0.001 0.005 0.01 0.05 0.1 0.5 1 +Inf' ] &&
    [ \"\$(grep -o '^portsyncd_redis_latency_seconds_bucket{le=\"[^\"]*\"}' '$TMP/seg.txt' | cut -d'\"' -f2 | paste -sd' ')\" = '0.001 0.005 0.01 0.05 0.1 +Inf' ]"
check "observations logged at DEBUG are exactly what the histograms hold" \
    "$PY" - "$TMP/portsyncd.log" "$TMP/seg.json" <<'PY'
import json, math, re, sys
# Prometheus's schema-3 boundaries within [0.5, 1) (its exponentialBounds row).
FRAC = [0.5, 0.5452538663326288, 0.5946035575013605, 0.6484197773255048,
        0.7071067811865475, 0.7711054127039704, 0.8408964152537144, 0.9170040432046711]
def index3(v):
    frac, exp = math.frexp(v)
    k = next(i for i, b in enumerate(FRAC + [1.0]) if b >= frac)
    return k + (exp - 1) * 8

line = re.compile(r" DEBUG: observe (portsyncd_[a-z_]+_seconds) ([0-9]+\.[0-9]{9})$")
seen = {}
for l in open(sys.argv[1]):
    m = line.search(l.rstrip("\n"))
    if m:
        seen.setdefault(m.group(1), []).append(float(m.group(2)))
seg = {m["name"]: m for m in json.load(open(sys.argv[2]))["metrics"]}
for name, nbounds in (("portsyncd_event_latency_seconds", 7), ("portsyncd_redis_latency_seconds", 5)):
    vals = seen.get(name, [])
    m = seg[name]
    assert len(m["series"]) == 1, name
    s = m["series"][0]
    assert "native" in m, name + ": no native buckets in the segment"
    nat = m["native"]
    assert nat["schema"] == 3 and nat["zero_threshold"] == 2.0 ** -20, (name, nat)
    assert len(m["buckets"]) == nbounds, (name, m["buckets"])
    assert len(vals) >= 40, (name, "only %d observations logged" % len(vals))
    assert s["count"] == len(vals), (name, s["count"], len(vals))
    assert math.isclose(s["sum"], math.fsum(vals), rel_tol=1e-9), (name, s["sum"], math.fsum(vals))
    for b in s["buckets"]:
        le = float(b["le"])
        assert b["count"] == sum(v <= le for v in vals), (name, b)
    want = {}
    zero = 0
    lo, hi = nat["first_index"], nat["first_index"] + nat["bucket_count"] - 1
    for v in vals:
        if v <= nat["zero_threshold"]:
            zero += 1
        else:
            i = min(max(index3(v), lo), hi)
            want[i] = want.get(i, 0) + 1
    got = {b["index"]: b["count"] for b in s["native"]["buckets"]}
    assert s["native"]["zero_count"] == zero, (name, s["native"]["zero_count"], zero)
    assert got == want, (name, got, want)
    print("%s: %d observations, %d native buckets, as logged" % (name, len(vals), len(got)))
PY
finish
