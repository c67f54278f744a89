#!/usr/bin/env bash
# The resync paths: a queue too small for the ports that change while Redis is
# stopped (events refused, a dump restates them, a DELLINK that found the queue
# full is reconciled by the dump's synthetic DELLINK), and a netlink receive
# buffer overflow (ENOBUFS) while portsyncd is stopped. Both end with STATE_DB
# equal to the kernel.
source "$(dirname "$0")/lib.sh"
start_redis
make_ns
ports=$(seq 0 4 92) # 24 ports, more than the 16 the queue holds
seed_ports $ports
start_consumer
start_portsyncd_ready --queue-size 16 --netlink-rcvbuf 65536
for n in $ports; do add_port "$n"; done
check "STATE_DB has 24 ports" wait_for 10 bash -c "[ \$(redis-cli -s $SOCK -n 6 KEYS 'PORT_TABLE|Ethernet*' | wc -l) = 24 ]"

# 1. Queue full: Redis stopped, every port changes, then the last port is deleted
#    (its DELLINK finds the queue full).
kill -STOP "$REDIS_PID"
for n in $ports; do ip -n "$NS" link set "p$n" down; done
sleep 0.2
del_port 92
sleep 0.3
kill -CONT "$REDIS_PID"
check "STATE_DB converges after a full queue" wait_for 20 state_matches_kernel $ports
expect_eq "the deleted port is gone from STATE_DB" 0 "$(state EXISTS 'PORT_TABLE|Ethernet92')"
check "resyncs{queue_full} counted" bash -c "[ \"\$(\"$BIN/portsyncd-shmdump\" --name $SEG --format prometheus | grep 'reason=\"queue_full\"' | cut -d' ' -f2)\" -ge 1 ]"
check "the refused events are logged" grep -q 'queue full (16 ports pending)' "$TMP/portsyncd.log"

# 2. ENOBUFS: portsyncd stopped while thousands of changes overflow its 64 KiB buffer.
kill -STOP "$PCD_PID"
batch=$TMP/flaps.batch
for i in $(seq 40); do for n in $(seq 0 4 88); do echo "link set p$n up"; echo "link set p$n down"; done; done >"$batch"
for n in 0 8 16; do echo "link set p$n up"; done >>"$batch"
ip -n "$NS" -batch "$batch"
del_port 88
kill -CONT "$PCD_PID"
check "ENOBUFS is detected and logged" wait_for 10 grep -q 'ENOBUFS' "$TMP/portsyncd.log"
check "STATE_DB converges after ENOBUFS" wait_for 20 state_matches_kernel $ports
expect_eq "Ethernet8 up" up "$(state_field Ethernet8 netdev_oper_status)"
expect_eq "Ethernet4 down" down "$(state_field Ethernet4 netdev_oper_status)"
expect_eq "Ethernet88, deleted during the overflow, is gone" 0 "$(state EXISTS 'PORT_TABLE|Ethernet88')"
check "resyncs{enobufs} counted" bash -c "[ \"\$(\"$BIN/portsyncd-shmdump\" --name $SEG --format prometheus | grep 'reason=\"enobufs\"' | cut -d' ' -f2)\" -ge 1 ]"
check "netlink still connected" metric_is portsyncd_netlink_connected 1
ip -n "$NS" link set p0 down
check "events after the resync still flow" wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet0' netdev_oper_status)\" = down ]"
check "SIGTERM exits 0" stop_portsyncd
finish
