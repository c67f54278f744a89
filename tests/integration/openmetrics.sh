#!/usr/bin/env bash
# The OpenMetrics exposition of a segment with every metric type parses with
# python3-prometheus-client's OpenMetrics parser (Debian's package), and the
# parsed values are the ones the fixture wrote.
source "$(dirname "$0")/lib.sh"

"$BIN/psm-fixture" --name "$SEG" --close
out=$TMP/exposition.txt
"$BIN/portsyncd-shmdump" --name "$SEG" --format openmetrics >"$out"
check "ends with # EOF" test "$(tail -n 1 "$out")" = "# EOF"
check "python OpenMetrics parser accepts it and sees the values" /usr/bin/python3 - "$out" <<'PY'
import math, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
def sample(fam, name, **labels):
    for s in fams[fam].samples:
        if s.name == name and s.labels == labels:
            return s.value
    raise SystemExit(f"no sample {name}{labels}")
assert fams["fixture_events_processed"].type == "counter"
assert sample("fixture_events_processed", "fixture_events_processed_total") == 1234
assert sample("fixture_port_flaps", "fixture_port_flaps_total", port="Ethernet8") == 6
assert sample("fixture_errors", "fixture_errors_total", port="Ethernet0",
              reason='redis "timeout"\n\\x') == 1
assert sample("fixture_errors", "fixture_errors_total", port="Ethernet4", reason="ünïcødé ✓") == 1
assert sample("fixture_cpu_seconds", "fixture_cpu_seconds_total") == 12.375
assert fams["fixture_cpu_seconds"].unit == "seconds"
assert math.isnan(sample("fixture_queue_depth", "fixture_queue_depth"))
assert sample("fixture_oper_status", "fixture_oper_status", port="Ethernet12") == math.inf
h = "fixture_event_latency_seconds"
assert fams[h].type == "histogram" and fams[h].unit == "seconds"
assert sample(h, h + "_count", port="Ethernet0") == 50
assert sample(h, h + "_bucket", port="Ethernet0", le="+Inf") == 50
assert "fixture_temperature_delta_sum" not in [s.name for s in fams["fixture_temperature_delta"].samples]
print("parsed", len(fams), "families")
PY
finish
