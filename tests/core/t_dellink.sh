#!/usr/bin/env bash
# DELLINK removes the STATE_DB key; re-creating the veth brings it back.
source "$(dirname "$0")/lib.sh"
start_redis
make_ns
seed_ports 0 4
start_consumer
start_portsyncd_ready
add_port 0
add_port 4
check "Ethernet4 in STATE_DB" wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet4' state)\" = ok ]"
del_port 4
check "DELLINK removes STATE_DB PORT_TABLE|Ethernet4" wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 EXISTS 'PORT_TABLE|Ethernet4')\" = 0 ]"
expect_eq "Ethernet0 untouched" ok "$(state_field Ethernet0 state)"
add_port 4
check "re-created Ethernet4 is back" wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet4' netdev_oper_status)\" = up ]"
check "SIGTERM exits 0" stop_portsyncd
finish
