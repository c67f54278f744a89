#!/usr/bin/env bash
# The netlink reader survives a failing poll(): with RLIMIT_NOFILE lowered below
# the two descriptors it polls, poll() fails with EINVAL (poll(2): "nfds exceeds
# RLIMIT_NOFILE"), and reopening the socket fails with EMFILE. portsyncd must say
# so in an ERROR line, drop portsyncd_netlink_connected and its health to 0, keep
# retrying with backoff, and once the limit is back reopen the socket and resync:
# changes made while it was blind reach STATE_DB, and later events flow again.
source "$(dirname "$0")/lib.sh"
start_redis
make_ns
seed_ports 0 4
start_consumer
start_portsyncd_ready
add_port 0
add_port 4
check "both ports up in STATE_DB" wait_for 10 state_matches_kernel 0 4
check "netlink_connected is 1" metric_is portsyncd_netlink_connected 1
check "health is 1" wait_for 10 metric_is portsyncd_health_status 1

nofile=$(prlimit --pid "$PCD_PID" --nofile --noheadings --output SOFT | tr -d ' ')
prlimit --pid "$PCD_PID" --nofile=1: || { not_ok "prlimit on portsyncd"; finish; exit; }
check "an ERROR line names the failing poll" \
    wait_for 10 grep -q 'ERROR: netlink: poll failed: Invalid argument' "$TMP/portsyncd.log"
check "netlink_connected drops to 0" wait_for 10 metric_is portsyncd_netlink_connected 0
check "health drops to 0" wait_for 10 metric_is portsyncd_health_status 0
check "reopening is retried while it fails" \
    wait_for 10 grep -q 'ERROR: netlink: cannot open a NETLINK_ROUTE socket: Too many open files' \
    "$TMP/portsyncd.log"

# While blind: one port goes down, the other is deleted.
ip -n "$NS" link set p4 down
del_port 0
sleep 1
expect_eq "portsyncd is still running" 0 "$(kill -0 "$PCD_PID" 2>/dev/null; echo $?)"
prlimit --pid "$PCD_PID" --nofile="$nofile":
check "netlink_connected back to 1" wait_for 15 metric_is portsyncd_netlink_connected 1
check "the recovery is logged" wait_for 5 grep -q 'netlink: socket reopened' "$TMP/portsyncd.log"
check "the resync publishes what changed while blind" wait_for 10 state_matches_kernel 0 4
expect_eq "Ethernet4 down" down "$(state_field Ethernet4 netdev_oper_status)"
expect_eq "Ethernet0, deleted while blind, is gone" 0 "$(state EXISTS 'PORT_TABLE|Ethernet0')"
check "resyncs{netlink_error} counted" bash -c "[ \"\$(\"$BIN/portsyncd-shmdump\" --name $SEG --format prometheus | grep 'reason=\"netlink_error\"' | cut -d' ' -f2)\" -ge 1 ]"
check "health back to 1" wait_for 15 metric_is portsyncd_health_status 1
ip -n "$NS" link set Ethernet4 mtu 1400
check "later events flow (a new MTU)" wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet4' mtu)\" = 1400 ]"
check "SIGTERM exits 0" stop_portsyncd
finish
