#!/usr/bin/env bash
# No ports in CONFIG_DB: PortConfigDone count=0 and PortInitDone still appear.
source "$(dirname "$0")/lib.sh"
start_redis
make_ns
start_consumer
start_portsyncd
check "PortConfigDone count=0" wait_for 10 bash -c "[ \"\$(redis-cli -s $SOCK -n 0 HGET PORT_TABLE:PortConfigDone count)\" = 0 ]"
check "PortInitDone appears" wait_for 10 bash -c "[ \"\$(redis-cli -s $SOCK -n 0 HGET PORT_TABLE:PortInitDone lanes)\" = 0 ]"
expect_eq "restore_count 0 on a cold start" 0 "$(state HGET 'WARM_RESTART_TABLE|portsyncd' restore_count)"
check "SIGTERM exits 0" stop_portsyncd
finish
