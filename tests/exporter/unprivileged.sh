#!/usr/bin/env bash
# The exporter runs as an unprivileged user (nobody:nogroup here) that can
# read only the segment (mode 0640, group nogroup) and its certificate files:
# it maps the segment read-only, cannot gain privileges, and without group
# access to the segment it still serves its own metrics.
source "$(dirname "$0")/lib.sh"

make_certs
chmod 711 "$T"
U=$T/u
mkdir -m 755 "$U"
install -m 644 "$PKI/server.crt" "$U/server.crt"
install -m 644 "$PKI/ca.crt" "$U/ca.crt"
install -m 600 -o nobody -g nogroup "$PKI/server.key" "$U/server.key"
start_writer --series 100 --threads 1 --seconds 600
check "segment created with mode 0640" test "$(stat -c %a "/dev/shm/$SEG")" = 640
chgrp nogroup "/dev/shm/$SEG"
PEX_WRAP="setpriv --reuid=nobody --regid=nogroup --clear-groups" \
    PEX_CERT=$U/server.crt PEX_KEY=$U/server.key PEX_CA=$U/ca.crt start_exporter "$T/exp.log"
pid=$EXP_PID
check "runs as uid 65534" test "$(awk '/^Uid:/{print $2}' "/proc/$pid/status")" = 65534
check "no supplementary groups" test -z "$(awk '/^Groups:/{print $2}' "/proc/$pid/status")"
check "no_new_privs is set" test "$(awk '/^NoNewPrivs:/{print $2}' "/proc/$pid/status")" = 1
check "no capabilities" test "$(awk '/^CapEff:/{print $2}' "/proc/$pid/status")" = 0000000000000000
check "serves 200" test "$(http_code client /metrics)" = 200
check "serves the segment's series" bash -c "curl -sS --cacert '$PKI/ca.crt' --cert '$PKI/client.crt' --key '$PKI/client.key' '$(url /metrics)' | grep -q '^psm_loadgen_'"
check "the segment is mapped read-only and shared (r--s)" grep -q "r--s .*/dev/shm/$SEG" "/proc/$pid/maps"
check "no root warning when unprivileged" bash -c "! grep -q 'running as root' '$T/exp.log'"
stop_exporter
check "exits 0 (rc=$EXP_RC)" test "$EXP_RC" -eq 0

# Without group access to the segment: the exporter's own metrics only.
chgrp root "/dev/shm/$SEG"
PEX_WRAP="setpriv --reuid=nobody --regid=nogroup --clear-groups" \
    PEX_CERT=$U/server.crt PEX_KEY=$U/server.key PEX_CA=$U/ca.crt start_exporter "$T/exp2.log"
check "segment not readable: still 200" test "$(http_code client /metrics)" = 200
check "segment not readable: the reason is logged" grep -q "segment '$SEG' not available: .*ermission denied" "$T/exp2.log"
check "segment not readable: /-/ready 503" test "$(http_code client /-/ready)" = 503
stop_exporter

# A key the unprivileged user cannot read: refused before listening.
chown root "$U/server.key"
rc=0
PORTSYNCD_METRICS_CERT=$U/server.crt PORTSYNCD_METRICS_KEY=$U/server.key PORTSYNCD_METRICS_CA=$U/ca.crt \
    setpriv --reuid=nobody --regid=nogroup --clear-groups "$BIN/portsyncd-exporter" \
    --web.listen-address='[::1]:0' --shm-name="$SEG" >"$T/exp3.log" 2>&1 || rc=$?
check "key owned by root (0600): the unprivileged exporter exits 1 naming it (rc=$rc)" \
    bash -c "[ $rc -eq 1 ] && grep -q \"server key '$U/server.key' .*cannot be read by uid 65534\" '$T/exp3.log'"
finish
