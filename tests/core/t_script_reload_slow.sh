#!/usr/bin/env bash
# The batch script lost on the server (SCRIPT FLUSH): the writer reloads it
# (SCRIPT LOAD) and retries. While that reload's reply is outstanding, netlink
# is still read, as during any other Redis reply (core.one_loop): a slow reload
# must not leave link events unread. A proxy in front of redis-server holds the
# SCRIPT LOAD back for up to 3 s; the test flaps a port meanwhile and looks for
# the events being read (coalesced per port) before the reload is answered.
# The APPL_DB view is off (notifications Kh), so every batch takes the script.
source "$(dirname "$0")/lib.sh"
start_redis --notify-keyspace-events Kh
PROXY=$TMP/proxy.sock
FLAG=$TMP/hold-script-load
$PY "$(dirname "$0")/slow-proxy.py" "$PROXY" "$SOCK" "$FLAG" >>"$TMP/proxy.log" 2>&1 &
PIDS+=($!)
wait_for 5 grep -q ready "$TMP/proxy.log" || { echo "proxy did not start"; exit 1; }
make_ns
ports="0 4"
seed_ports $ports
start_consumer
start_portsyncd_ready --redis-socket "$PROXY" --redis-timeout 10000
for n in $ports; do add_port "$n"; done
check "STATE_DB has both ports" wait_for 10 state_matches_kernel $ports

touch "$FLAG"
rcli 0 SCRIPT FLUSH >/dev/null
ip -n "$NS" link set p0 down # its batch finds the script gone: SCRIPT LOAD, held
sleep 0.3
coal0=$(metric portsyncd_events_coalesced_total)
for _ in 1 2 3; do ip -n "$NS" link set p4 down; ip -n "$NS" link set p4 up; done
ip -n "$NS" link set p4 down
sleep 0.5
coal1=$(metric portsyncd_events_coalesced_total)
check "SCRIPT LOAD outstanding: the reload is still held" test -e "$FLAG"
check "SCRIPT LOAD outstanding: later events are read and coalesced ($coal0 -> $coal1)" \
    test "${coal1:-0}" -gt "${coal0:-0}"
rm -f "$FLAG"
check "after the reload STATE_DB matches the kernel" wait_for 10 state_matches_kernel $ports
expect_eq "Ethernet0 oper down" down "$(state_field Ethernet0 netdev_oper_status)"
expect_eq "Ethernet4 oper down" down "$(state_field Ethernet4 netdev_oper_status)"
check "SIGTERM exits 0" stop_portsyncd
finish
