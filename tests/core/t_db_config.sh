#!/usr/bin/env bash
# portsyncd finds its databases through a SONiC database_config.json
# (--db-config, no Redis flags): the instance's unix_socket_path, the ids of
# APPL_DB, CONFIG_DB and STATE_DB. All three on one server: a batch of link
# events is one round trip; the ports are in APPL_DB and the server sends
# keyspace notifications, so the APPL_DB view knows them and each batch is a
# pipeline of plain HSET/DEL (the script path, for ports the view does not
# hold, is t_appl_view.sh's). The old flags override the file.
source "$(dirname "$0")/lib.sh"
start_redis
make_ns
seed_ports 0 4 8 12
CFG=$TMP/sonic-db/database_config.json
write_db_config "$CFG" redis redis redis
start_consumer
start_portsyncd_with --db-config "$CFG" --log-level DEBUG --log-output STDERR
check "portsyncd becomes ready" wait_for 10 grep -q 'ready: initial link dump applied' "$TMP/portsyncd.log"
check "the starting line names the file" grep -q "starting: redis unix:$SOCK (APPL_DB 0, CONFIG_DB 4, STATE_DB 6) from $CFG," "$TMP/portsyncd.log"
check "PortConfigDone count=4" wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 0 HGET PORT_TABLE:PortConfigDone count)\" = 4 ]"
for n in 0 4 8 12; do add_port "$n"; done
check "STATE_DB has the 4 ports" wait_for 10 state_matches_kernel 0 4 8 12
check "PortInitDone" wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 0 HGET PORT_TABLE:PortInitDone lanes)\" = 0 ]"

sleep 0.3
monitor_start "$SOCK" all
before=$(grep -c 'batch of' "$TMP/portsyncd.log")
for i in 1 2 3 4 5; do
    ip -n "$NS" link set p0 down
    sleep 0.05
    ip -n "$NS" link set p0 up
    sleep 0.05
done
# Redis held for a moment: the four downs queue up into one batch behind the first.
kill -STOP "$REDIS_PID"
printf 'link set p%s down\n' 0 4 8 12 | ip -n "$NS" -batch -
sleep 0.3
kill -CONT "$REDIS_PID"
check "STATE_DB follows the flaps" wait_for 5 state_matches_kernel 0 4 8 12
sleep 0.5
monitor_stop all
batches=$(($(grep -c 'batch of' "$TMP/portsyncd.log") - before))
check "the flaps came in more than one batch" [ "$batches" -gt 1 ]
# Was "one EVALSHA per batch": the view holds these ports now, so no script runs.
expect_eq "no EVALSHA: the APPL_DB view holds the 4 ports" 0 "$(monitor_count all EVALSHA)"
check "every batch took one round trip" bash -c "! sed -n '/batch of/p' '$TMP/portsyncd.log' | tail -n $batches | grep -v 'in 1 round trip\$'"
check "a batch of several events took one" grep -qE 'batch of [2-4] events applied in 1 round trip$' "$TMP/portsyncd.log"
# One key per EXISTS would be a check per event; the view's periodic check names them all at once.
expect_eq "no per-event APPL_DB check from a client" 0 "$(grep -v ' lua\]' "$TMP/monitor-all.log" | grep -cE '\] "EXISTS" "[^"]*"$')"
check "each flap is a plain HSET of STATE_DB PORT_TABLE from the client" [ "$(grep -v ' lua\]' "$TMP/monitor-all.log" | grep -cE '\] "HSET" "PORT_TABLE\|Ethernet[0-9]+" "state" "ok"')" -ge "$batches" ]
check "SIGTERM exits 0" stop_portsyncd

# The flags override the file: another server for all three, another STATE_DB number.
keys_on "$SOCK" >"$TMP/keys-before"
start_redis_named other
start_portsyncd_with --db-config "$CFG" --redis-socket "$TMP/other.sock" --state-db 9 \
    --log-output STDERR
check "portsyncd becomes ready again" wait_for 10 bash -c "[ \$(grep -c 'ready: initial link dump applied' '$TMP/portsyncd.log') = 2 ]"
check "the starting line says where" grep -q "starting: redis unix:$TMP/other.sock (APPL_DB 0, CONFIG_DB 4, STATE_DB 9) from $CFG," "$TMP/portsyncd.log"
expect_eq "it wrote to the flags' server, STATE_DB 9" \
    "db0 PORT_TABLE_KEY_SET db0 _PORT_TABLE:PortConfigDone db0 _PORT_TABLE:PortInitDone db4 LOGGER|portsyncd db9 WARM_RESTART_TABLE|portsyncd" \
    "$(keys_on "$TMP/other.sock" | tr '\n' ' ' | sed 's/ $//')"
keys_on "$SOCK" >"$TMP/keys-after"
check "and nothing to the file's server" cmp -s "$TMP/keys-before" "$TMP/keys-after"
check "SIGTERM exits 0" stop_portsyncd
finish
