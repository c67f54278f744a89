#!/usr/bin/env bash
# What --old-interfaces ignore does, and why README recommends `off` for a
# restart of portsyncd alone: with `ignore`, every Ethernet netdev that exists at
# the cold start is left up but its events are ignored for the whole run, so its
# STATE_DB entry stays stale (a flap, an MTU change, a deletion: none reaches
# STATE_DB) until the netdev is recreated with a new ifindex. With `off` the
# restarted portsyncd publishes the kernel's state of the same netdevs.
source "$(dirname "$0")/lib.sh"
start_redis
make_ns
seed_ports 0 4 8 12
start_consumer
start_portsyncd_ready
for n in 0 4 8 12; do add_port "$n"; done
check "first run: STATE_DB has the 4 ports" wait_for 10 state_matches_kernel 0 4 8 12
check "first run exits 0" stop_portsyncd

start_portsyncd_ready --old-interfaces ignore
check "ignore: the old netdevs are logged as ignored for the run" \
    grep -q 'old interface Ethernet4 (ifindex [0-9]*) existed at cold start: ignored for this run' "$TMP/portsyncd.log"
ip -n "$NS" link set p4 down
ip -n "$NS" link set Ethernet8 mtu 9000
del_port 12
for i in $(seq 20); do ip -n "$NS" link set p0 down; ip -n "$NS" link set p0 up; done
sleep 2
expect_eq "ignore: Ethernet4 is down in the kernel" down "$(carrier 4)"
expect_eq "ignore: STATE_DB still says Ethernet4 is up (stale)" up "$(state_field Ethernet4 netdev_oper_status)"
expect_eq "ignore: STATE_DB keeps Ethernet8's old MTU (stale)" 1500 "$(state_field Ethernet8 mtu)"
expect_eq "ignore: STATE_DB keeps deleted Ethernet12 (stale)" 1 "$(state EXISTS 'PORT_TABLE|Ethernet12')"
ignored=$("$BIN/portsyncd-shmdump" --name "$SEG" --format prometheus |
    awk '$1 == "portsyncd_events_ignored_total{reason=\"old_interface\"}" { print $2 }')
check "ignore: their events are counted as ignored (${ignored:-0})" test "${ignored:-0}" -ge 40
# A netdev recreated with a new ifindex is a new netdev: handled again.
del_port 4
add_port 4
check "ignore: recreated Ethernet4 (new ifindex) reaches STATE_DB" \
    wait_for 10 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet4' netdev_oper_status)\" = up ]"
ip -n "$NS" link set p4 down
check "ignore: and so do its later events" \
    wait_for 10 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet4' netdev_oper_status)\" = down ]"
check "ignore run exits 0" stop_portsyncd

start_portsyncd_ready --old-interfaces off
check "off: STATE_DB follows the kernel for the existing netdevs" wait_for 10 state_matches_kernel 0 4 8
expect_eq "off: Ethernet8's MTU is the kernel's" 9000 "$(state_field Ethernet8 mtu)"
expect_eq "off: no netdev was brought down" 0 "$(grep -c 'brought down' "$TMP/portsyncd.log")"
ip -n "$NS" link set p0 down
check "off: their events flow" \
    wait_for 10 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet0' netdev_oper_status)\" = down ]"
# A netdev deleted while no portsyncd ran is not in the dump; this run (a restart
# alone: its other ports are consumed and live) deletes its STATE_DB entry at
# reconciliation, at the 30 s timer since its CONFIG_DB port never settles
# (t_warm_deleted.sh shows that with a short timer).
echo "     (off: STATE_DB PORT_TABLE|Ethernet12 of the netdev deleted before this run: exists=$(state EXISTS 'PORT_TABLE|Ethernet12'))"
check "off run exits 0" stop_portsyncd
finish
