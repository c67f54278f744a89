#!/usr/bin/env bash
# Warm restart, nothing changed while portsyncd was away: not one write to
# STATE_DB PORT_TABLE (counted by an independent keyspace subscriber), the
# WARM_RESTART_TABLE|portsyncd state goes initialized -> restored -> reconciled
# with SONiC's NOTICE lines, PortInitDone is written as before, and the metrics
# say what was held and saved.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/warmlib.sh"
start_redis
make_ns
check "a live switch: 4 ports in STATE_DB" live_switch 0 4 8 12
before=$(state_dump 0 4 8 12)
state HSET "WARM_RESTART_ENABLE_TABLE|swss" enable true >/dev/null
ks_start
start_portsyncd
check "state reaches reconciled" wait_for 10 warm_state_is reconciled
check "PortInitDone written" wait_for 10 bash -c "[ \"\$(redis-cli -s $SOCK -n 0 HGET PORT_TABLE:PortInitDone lanes)\" = 0 ]"
sleep 1 # anything late would show now
expect_eq "no STATE_DB PORT_TABLE write" 0 "$(ks_count)"
expect_eq "STATE_DB PORT_TABLE as before" "$before" "$(state_dump 0 4 8 12)"
check "SONiC's lines, in order: initialized, restored, reconciled" log_order \
    "portsyncd warm start state changed to initialized" \
    "portsyncd warm start state changed to restored" \
    "portsyncd warm start state changed to reconciled"
check "reconciled because every CONFIG_DB port settled, not at the timer" \
    grep -q 'reconciled (every CONFIG_DB port settled)' "$TMP/portsyncd.log"
expect_eq "restore_count 1" 1 "$(state HGET 'WARM_RESTART_TABLE|portsyncd' restore_count)"
check "portsyncd_warm_restart_state{state=\"reconciled\"} 1" metric_is 'portsyncd_warm_restart_state{state="reconciled"}' 1
check "portsyncd_warm_restart_state{state=\"restored\"} 0" metric_is 'portsyncd_warm_restart_state{state="restored"}' 0
held=$(metric portsyncd_reconcile_writes_held_total)
saved=$(metric portsyncd_reconcile_writes_saved_total)
check "writes held ($held) >= 4: one per port" test "${held:-0}" -ge 4
expect_eq "every held write saved" "$held" "$saved"
expect_eq "no stale entry removed" 0 "$(metric portsyncd_reconcile_stale_removed_total)"
check "reconcile duration recorded" bash -c "awk 'BEGIN { exit !(\"$(metric portsyncd_reconcile_duration_seconds)\" + 0 > 0) }'"
check "the timer gauge says the default 30 s" metric_is portsyncd_warm_restart_timer_seconds 30
check "hold over" metric_is portsyncd_reconcile_active 0
check "the dump tool's table shows them" bash -c "'$BIN/portsyncd-shmdump' --name '$SEG' | grep -q portsyncd_reconcile_writes_saved_total"
# The exporter renders the segment generically: the new metrics over mutual TLS.
DEPLOY=$(cd "$(dirname "$0")/../../deploy" && pwd)
"$DEPLOY/gen-certs.sh" --dir "$TMP/certs" --host localhost --client prometheus --days 2 >/dev/null
PORTSYNCD_METRICS_CERT=$TMP/certs/server.crt PORTSYNCD_METRICS_KEY=$TMP/certs/server.key \
    PORTSYNCD_METRICS_CA=$TMP/certs/ca.crt "$BIN/portsyncd-exporter" --web.listen-address='[::1]:0' \
    --shm-name="$SEG" >"$TMP/exporter.log" 2>&1 &
PIDS+=($!)
wait_for 5 grep -q 'listening on \[::1\]:' "$TMP/exporter.log"
port=$(sed -n 's/.*listening on \[::1\]:\([0-9]*\).*/\1/p' "$TMP/exporter.log" | head -n 1)
curl -sS --max-time 10 --cacert "$TMP/certs/ca.crt" --cert "$TMP/certs/prometheus.crt" \
    --key "$TMP/certs/prometheus.key" "https://[::1]:${port:-0}/metrics" >"$TMP/scrape.txt" 2>"$TMP/curl.err"
check "the exporter serves portsyncd_warm_restart_state{state=\"reconciled\"} 1" \
    grep -qx 'portsyncd_warm_restart_state{state="reconciled"} 1' "$TMP/scrape.txt"
check "... and the saved writes ($saved)" grep -qx "portsyncd_reconcile_writes_saved_total ${saved:-x}" "$TMP/scrape.txt"
# After reconciliation every event is written as on any run.
ip -n "$NS" link set p4 down
check "a flap after reconciliation reaches STATE_DB" \
    wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet4' netdev_oper_status)\" = down ]"
check "warm run exits 0" stop_portsyncd
finish
