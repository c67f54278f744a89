#!/usr/bin/env bash
# Bad CONFIG_DB contents are logged and skipped; nothing else is lost: binary
# field values are copied byte for byte, names that cannot be netdevs and
# non-hash keys are skipped, long values are copied, and the daemon keeps running.
source "$(dirname "$0")/lib.sh"
start_redis
make_ns
seed_ports 0 16
printf 'a\000b\377c' | config -x HSET "PORT|Ethernet4" description >/dev/null
config HSET "PORT|Ethernet4" lanes 16 >/dev/null
config HSET "PORT|$(printf 'Ethernet%.0s' $(seq 40))" lanes 1 >/dev/null
config HSET "PORT|Eth ernet 8" lanes 2 >/dev/null
config HSET "PORT|Ethernet/12" lanes 3 >/dev/null
config SET "PORT|Ethernet20" "a string, not a hash" >/dev/null
head -c 100000 /dev/zero | tr '\0' 'x' | config -x HSET "PORT|Ethernet16" description >/dev/null
start_consumer
start_portsyncd_ready
check "PortConfigDone counts the 3 usable ports" wait_for 10 bash -c "[ \"\$(redis-cli -s $SOCK -n 0 HGET PORT_TABLE:PortConfigDone count)\" = 3 ]"
expect_eq "binary value copied byte for byte" "$(printf 'a\000b\377c' | od -An -tx1)" "$(appl --raw HGET PORT_TABLE:Ethernet4 description | head -c 5 | od -An -tx1)"
expect_eq "100 kB value copied" 100000 "$(appl HSTRLEN PORT_TABLE:Ethernet16 description)"
check "long name skipped with a clear line" grep -q 'cannot name a netdev' "$TMP/portsyncd.log"
check "name with spaces skipped" grep -q "PORT|Eth ernet 8" "$TMP/portsyncd.log"
check "non-hash key skipped" grep -q 'CONFIG_DB PORT|Ethernet20 is not a hash' "$TMP/portsyncd.log"
expect_eq "skipped names are not in APPL_DB" 0 "$(appl EXISTS 'PORT_TABLE:Eth ernet 8')"
for n in 0 4 16; do add_port "$n"; done
check "PortInitDone once the 3 usable ports exist" wait_for 10 bash -c "[ \"\$(redis-cli -s $SOCK -n 0 HGET PORT_TABLE:PortInitDone lanes)\" = 0 ]"
# A STATE_DB key of the wrong type: that event fails, the others go on.
state SET "PORT_TABLE|Ethernet0" "not a hash" >/dev/null
ip -n "$NS" link set p0 down
ip -n "$NS" link set p4 down
check "Ethernet4 still updated" wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet4' netdev_oper_status)\" = down ]"
check "the failing write is logged" wait_for 5 grep -q 'STATE_DB PORT_TABLE|Ethernet0: WRONGTYPE' "$TMP/portsyncd.log"
check "events_failed_total counts it" bash -c "[ \"\$(\"$BIN/portsyncd-shmdump\" --name $SEG --format prometheus | awk '\$1 == \"portsyncd_events_failed_total\" {print \$2}')\" -ge 1 ]"
check "portsyncd still runs" kill -0 "$PCD_PID"
check "SIGTERM exits 0" stop_portsyncd
finish
