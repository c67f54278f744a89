#!/usr/bin/env bash
# portsyncd restarted alone while its ports exist and are consumed: PortInitDone
# is written again at once (the consumed ports already have netdevs) and STATE_DB
# sees no writes. With --old-interfaces sonic the existing Ethernet netdevs are
# brought down and ignored (SONiC's behaviour, documented; no longer the default:
# the default takes a restart alone over, t_restart_alone_live.sh); with
# --old-interfaces ignore they are left up.
source "$(dirname "$0")/lib.sh"
start_redis
make_ns
seed_ports 0 4 8 12
start_consumer
start_portsyncd_ready
for n in 0 4 8 12; do add_port "$n"; done
check "first run reaches PortInitDone" wait_for 10 bash -c "[ \"\$(redis-cli -s $SOCK -n 0 HGET PORT_TABLE:PortInitDone lanes)\" = 0 ]"
sleep 0.3
check "first run exits 0 on SIGTERM" stop_portsyncd
before=$(for n in 0 4 8 12; do state HGETALL "PORT_TABLE|Ethernet$n"; done | md5sum)
appl DEL PORT_TABLE:PortInitDone >/dev/null

# Watch STATE_DB PORT_TABLE for any write during the restart.
redis-cli -s "$SOCK" PSUBSCRIBE '__keyspace@6__:PORT_TABLE|*' >"$TMP/keyspace.log" 2>&1 &
PIDS+=($!)
sleep 0.2
start_portsyncd --old-interfaces ignore
t0=$(date +%s%N)
check "PortInitDone written again at once (its ports were already consumed)" wait_for 2 bash -c "[ \"\$(redis-cli -s $SOCK -n 0 HGET PORT_TABLE:PortInitDone lanes)\" = 0 ]"
echo "     (PortInitDone $(( ($(date +%s%N) - t0) / 1000000 )) ms after start)"
sleep 0.5
after=$(for n in 0 4 8 12; do state HGETALL "PORT_TABLE|Ethernet$n"; done | md5sum)
expect_eq "STATE_DB unchanged" "$before" "$after"
expect_eq "no STATE_DB PORT_TABLE write during the restart" 0 "$(grep -c '^pmessage' "$TMP/keyspace.log")"
expect_eq "ignore mode leaves Ethernet4 admin up" up "$(ip -n "$NS" -o link show Ethernet4 | grep -q '[<,]UP[,>]' && echo up || echo down)"
check "events of the old netdevs are counted as ignored" bash -c "[ \"\$(\"$BIN/portsyncd-shmdump\" --name $SEG --format prometheus | awk '\$1 == \"portsyncd_events_ignored_total{reason=\\\"old_interface\\\"}\" {print \$2}')\" -ge 4 ]"
check "second run exits 0" stop_portsyncd

# SONiC's mode, asked for: the old netdevs are brought down through netlink.
start_portsyncd --old-interfaces sonic
check "sonic mode brings Ethernet4 down" wait_for 5 bash -c "! ip -n $NS -o link show Ethernet4 | grep -q '[<,]UP[,>]'"
sleep 0.3
expect_eq "still no STATE_DB PORT_TABLE write" 0 "$(grep -c '^pmessage' "$TMP/keyspace.log")"
check "the bring-down is logged" grep -q 'old interface Ethernet4 .* brought down' "$TMP/portsyncd.log"
check "and the outage is said as a warning" grep -q 'WARN: portsyncd restarted alone on a live switch: 4 of 4 .*--old-interfaces sonic: bringing every Ethernet netdev down' "$TMP/portsyncd.log"
check "third run exits 0" stop_portsyncd
finish
