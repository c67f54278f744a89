#!/usr/bin/env bash
# Multi-ASIC: a database_global.json as SONiC's template renders it (the host's
# entry, one per ASIC namespace, a DPU's), each ASIC's database_config.json on
# its own redis-server. `--namespace asic1` finds asic1's file through the
# global one (its include relative to the global file's directory) and writes
# only to asic1's databases: asic0's server and the host's are left as they were.
source "$(dirname "$0")/lib.sh"
start_redis # the host's
start_redis_named asic0
start_redis_named asic1
make_ns
RUN=$TMP/run
write_db_config "$RUN/redis/sonic-db/database_config.json" redis redis redis "$SOCK"
write_db_config "$RUN/redis0/sonic-db/database_config.json" redis redis redis "$TMP/asic0.sock"
write_db_config "$RUN/redis1/sonic-db/database_config.json" redis redis redis "$TMP/asic1.sock"
GLOBAL=$RUN/redis/sonic-db/database_global.json
cat >"$GLOBAL" <<'JSON'
{
    "INCLUDES": [
        {"include": "../../redis/sonic-db/database_config.json"},
        {"namespace": "asic0", "include": "../../redis0/sonic-db/database_config.json"},
        {"namespace": "asic1", "include": "../../redis1/sonic-db/database_config.json"},
        {"container_name": "dpu0", "include": "../../redisdpu0/sonic-db/database_config.json"}
    ],
    "VERSION": "1.0"
}
JSON
a1() { redis-cli -s "$TMP/asic1.sock" "$@"; }
a1 -n 4 HSET "PORT|Ethernet0" lanes 0,1 speed 100000 admin_status up >/dev/null
a1 -n 4 HSET "PORT|Ethernet4" lanes 4,5 speed 100000 admin_status up >/dev/null
redis-cli -s "$TMP/asic0.sock" -n 4 HSET "PORT|Ethernet8" lanes 8 >/dev/null
config HSET "PORT|Ethernet12" lanes 12 >/dev/null
keys_on "$TMP/asic0.sock" >"$TMP/asic0-before"
keys_on "$SOCK" >"$TMP/host-before"
"$BIN/pcd-consumer" --socket "$TMP/asic1.sock" >>"$TMP/consumer.log" 2>&1 &
PIDS+=($!)
wait_for 5 grep -q ready "$TMP/consumer.log"

start_portsyncd_with --namespace asic1 --db-global "$GLOBAL" --log-level DEBUG --log-output STDERR
check "portsyncd becomes ready" wait_for 10 grep -q 'ready: initial link dump applied' "$TMP/portsyncd.log"
check "the starting line names the namespace and both files" \
    grep -q "from $RUN/redis/sonic-db/../../redis1/sonic-db/database_config.json (namespace asic1 of $GLOBAL)" "$TMP/portsyncd.log"
check "asic1's PortConfigDone counts asic1's 2 ports" wait_for 5 bash -c "[ \"\$(redis-cli -s $TMP/asic1.sock -n 0 HGET PORT_TABLE:PortConfigDone count)\" = 2 ]"
add_port 0
add_port 4
check "asic1's STATE_DB has both ports" wait_for 10 bash -c "[ \"\$(redis-cli -s $TMP/asic1.sock -n 6 HGET 'PORT_TABLE|Ethernet4' state)\" = ok ] && [ \"\$(redis-cli -s $TMP/asic1.sock -n 6 HGET 'PORT_TABLE|Ethernet0' state)\" = ok ]"
check "asic1's PortInitDone" wait_for 5 bash -c "[ \"\$(redis-cli -s $TMP/asic1.sock -n 0 HGET PORT_TABLE:PortInitDone lanes)\" = 0 ]"
check "asic1's LOGGER|portsyncd" bash -c "[ \"\$(redis-cli -s $TMP/asic1.sock -n 4 HGET 'LOGGER|portsyncd' LOGLEVEL)\" = DEBUG ]"
ip -n "$NS" link set p0 down
check "a flap reaches asic1's STATE_DB" wait_for 5 bash -c "[ \"\$(redis-cli -s $TMP/asic1.sock -n 6 HGET 'PORT_TABLE|Ethernet0' netdev_oper_status)\" = down ]"
sleep 0.3
keys_on "$TMP/asic0.sock" >"$TMP/asic0-after"
keys_on "$SOCK" >"$TMP/host-after"
check "asic0's server: nothing written (only its CONFIG_DB port)" cmp -s "$TMP/asic0-before" "$TMP/asic0-after"
check "the host's server: nothing written" cmp -s "$TMP/host-before" "$TMP/host-after"
expect_eq "asic0 has no LOGGER entry" 0 "$(redis-cli -s "$TMP/asic0.sock" -n 4 EXISTS 'LOGGER|portsyncd')"
check "SIGTERM exits 0" stop_portsyncd

# Namespace asic0 through the same file reaches asic0's server.
start_portsyncd_with --namespace asic0 --db-global "$GLOBAL" --log-output STDERR --old-interfaces off
check "--namespace asic0 becomes ready" wait_for 10 bash -c "[ \$(grep -c 'ready: initial link dump applied' '$TMP/portsyncd.log') = 2 ]"
check "asic0's PortConfigDone counts its 1 port" wait_for 5 bash -c "[ \"\$(redis-cli -s $TMP/asic0.sock -n 0 HGET _PORT_TABLE:PortConfigDone count)\" = 1 ]"
check "SIGTERM exits 0" stop_portsyncd
finish
