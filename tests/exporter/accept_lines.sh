#!/usr/bin/env bash
# Accept and Accept-Encoding sent as several field lines: RFC 9110 section 5.3
# makes them the same as one line listing every element, so the answer must
# not depend on how a client (or a proxy in front of the exporter) split them.
source "$(dirname "$0")/lib.sh"
PB_CT='application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited'
PB='application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited'
make_certs
"$BIN/psm-fixture" --name "$SEG" --hold 600 >"$T/fixture.log" 2>&1 &
track_pid $!
for i in $(seq 1 100); do [ -e "/dev/shm/$SEG" ] && break; sleep 0.05; done
start_exporter "$T/exp.log"
ct() { pcurl client "$@" -o /dev/null -w '%{content_type}' "$(url /metrics)"; }
expect_eq "one line: protobuf" "$PB_CT" "$(ct -H "Accept: text/plain;q=0.1, $PB")"
expect_eq "two lines, protobuf in the second: protobuf" "$PB_CT" \
    "$(ct -H 'Accept: text/plain;q=0.1' -H "Accept: $PB")"
expect_eq "two lines, text weighed higher in the second: text" "text/plain; version=0.0.4; charset=utf-8" \
    "$(ct -H 'Accept: application/openmetrics-text;version=1.0.0;q=0.5' -H 'Accept: text/plain;version=0.0.4;q=0.9')"
enc=$(pcurl client -H 'Accept-Encoding: identity' -H 'Accept-Encoding: gzip' -D - -o /dev/null "$(url /metrics)" |
    tr -d '\r' | sed -n 's/^content-encoding: *//Ip')
expect_eq "Accept-Encoding in two lines, gzip in the second: gzip" gzip "$enc"
stop_exporter
expect_eq "exporter exits 0" 0 "$EXP_RC"
finish
