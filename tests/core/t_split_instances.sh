#!/usr/bin/env bash
# APPL_DB and CONFIG_DB on one redis-server, STATE_DB on a second, as a
# database_config.json may have them: cold start with ports, flaps, a delete.
# Every key lands on its database's server and nothing on the other (SCAN of
# every database of both); a batch of ports the APPL_DB view holds is one
# pipeline of plain writes on the STATE_DB server, a netdev not in APPL_DB is
# checked on the APPL_DB server (MONITOR on both); a
# port's STATE_DB entry is written only while its APPL_DB entry exists; losing
# the STATE_DB server alone is a reconnection and a resync like any other.
source "$(dirname "$0")/lib.sh"
start_redis
start_redis_named redis2
S2=$TMP/redis2.sock
make_ns
ports="0 4 8 12"
seed_ports $ports
write_db_config "$TMP/sonic-db/database_config.json" redis redis redis2
start_consumer
start_portsyncd_with --db-config "$TMP/sonic-db/database_config.json" --log-level DEBUG \
    --log-output STDERR
check "portsyncd becomes ready" wait_for 10 grep -q 'ready: initial link dump applied' "$TMP/portsyncd.log"
check "it says STATE_DB has a server of its own" \
    grep -q "STATE_DB 6 at unix:$S2: connected (STATE_DB on a server of its own" "$TMP/portsyncd.log"

st2() { redis-cli -s "$S2" -n 6 "$@"; }
# state2_matches_kernel N...: STATE_DB on the second server equals the kernel
state2_matches_kernel() {
    for n in "$@"; do
        if ip -n "$NS" link show "Ethernet$n" >/dev/null 2>&1; then
            [ "$(st2 HGET "PORT_TABLE|Ethernet$n" netdev_oper_status)" = "$(carrier "$n")" ] || return 1
        else
            [ "$(st2 EXISTS "PORT_TABLE|Ethernet$n")" = 0 ] || return 1
        fi
    done
}

for n in $ports; do add_port "$n"; done
check "STATE_DB (second server) has the 4 ports" wait_for 10 state2_matches_kernel $ports
check "PortInitDone in APPL_DB (first server)" wait_for 10 bash -c "[ \"\$(redis-cli -s $SOCK -n 0 HGET PORT_TABLE:PortInitDone lanes)\" = 0 ]"

# A netdev whose port is not in APPL_DB: checked on the APPL_DB server, not written.
ip -n "$NS" link add Ethernet96 type veth peer name p96
ip -n "$NS" link set Ethernet96 up
check "a netdev without APPL_DB entry is logged" wait_for 5 grep -q 'Ethernet96 is not in APPL_DB PORT_TABLE' "$TMP/portsyncd.log"
expect_eq "and has no STATE_DB entry" 0 "$(st2 EXISTS 'PORT_TABLE|Ethernet96')"

# Flaps, one port at a time and four at once, while both servers are watched.
sleep 0.3
monitor_start "$SOCK" appl
monitor_start "$S2" state
before=$(grep -c 'batch of' "$TMP/portsyncd.log")
for i in 1 2 3 4 5; do
    ip -n "$NS" link set p0 down
    sleep 0.05
    ip -n "$NS" link set p0 up
    sleep 0.05
done
# The STATE_DB server held for a moment: the four downs queue up behind the first.
kill -STOP "${REDIS_PIDS[redis2]}"
printf 'link set p%s down\n' $ports | ip -n "$NS" -batch -
sleep 0.3
kill -CONT "${REDIS_PIDS[redis2]}"
check "STATE_DB follows the flaps" wait_for 5 state2_matches_kernel $ports
sleep 0.5
monitor_stop appl
monitor_stop state
batches=$(($(grep -c 'batch of' "$TMP/portsyncd.log") - before))
check "the flaps came in more than one batch" [ "$batches" -gt 1 ]
# These were "one script on the STATE_DB server per batch, two round trips": the
# APPL_DB view (kept from the first server's notifications) holds these ports,
# so each batch is one pipeline of plain writes on the STATE_DB server.
expect_eq "no script on the STATE_DB server: the view holds the ports" 0 "$(monitor_count state EVALSHA)"
expect_eq "no script on the APPL_DB server" 0 "$(monitor_count appl EVALSHA)"
check "every batch took one round trip" bash -c "! sed -n '/batch of/p' '$TMP/portsyncd.log' | tail -n $batches | grep -v 'in 1 round trip\$'"
check "a batch of four events came in one pipeline" grep -qE 'batch of [2-4] events applied in 1 round trip$' "$TMP/portsyncd.log"
check "the writes are plain HSETs on the STATE_DB server" [ "$(monitor_count state HSET)" -ge "$batches" ]
expect_eq "no per-event APPL_DB check on the APPL_DB server" 0 "$(grep -cE '\] "EXISTS" "[^"]*"$' "$TMP/monitor-appl.log")"
expect_eq "no STATE_DB write reaches the APPL_DB server" 0 "$(grep -cE '"(HSET|DEL)" "PORT_TABLE\|' "$TMP/monitor-appl.log")"
expect_eq "no APPL_DB check reaches the STATE_DB server" 0 "$(grep -c '"EXISTS" "PORT_TABLE:' "$TMP/monitor-state.log")"

# A port removed from APPL_DB: its next event must not write STATE_DB.
appl DEL PORT_TABLE:Ethernet8 >/dev/null
st2 DEL 'PORT_TABLE|Ethernet8' >/dev/null
ip -n "$NS" link set p8 up
check "the event after the APPL_DB delete is logged as not in PORT_TABLE" wait_for 5 grep -q 'Ethernet8 is not in APPL_DB PORT_TABLE' "$TMP/portsyncd.log"
expect_eq "and writes nothing to STATE_DB" 0 "$(st2 EXISTS 'PORT_TABLE|Ethernet8')"

del_port 12
check "a deleted netdev leaves STATE_DB (second server)" wait_for 5 bash -c "[ \$(redis-cli -s $S2 -n 6 EXISTS 'PORT_TABLE|Ethernet12') = 0 ]"
ip -n "$NS" link set p4 up
check "STATE_DB settles" wait_for 5 state2_matches_kernel 0 4 12
sleep 0.3

# Every key where it belongs: APPL_DB and CONFIG_DB on the first, STATE_DB on the second.
keys_on "$SOCK" >"$TMP/keys-1"
keys_on "$S2" >"$TMP/keys-2"
expect_eq "first server: only APPL_DB (0) and CONFIG_DB (4)" "db0 db4" "$(cut -d' ' -f1 "$TMP/keys-1" | sort -u | tr '\n' ' ' | sed 's/ $//')"
expect_eq "second server: only STATE_DB (6)" "db6" "$(cut -d' ' -f1 "$TMP/keys-2" | sort -u | tr '\n' ' ' | sed 's/ $//')"
expect_eq "first server's APPL_DB: the ports left, PortConfigDone, PortInitDone" \
    "PORT_TABLE:Ethernet0 PORT_TABLE:Ethernet12 PORT_TABLE:Ethernet4 PORT_TABLE:PortConfigDone PORT_TABLE:PortInitDone" \
    "$(sed -n 's/^db0 //p' "$TMP/keys-1" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "first server's CONFIG_DB: the ports and LOGGER|portsyncd" \
    "LOGGER|portsyncd PORT|Ethernet0 PORT|Ethernet12 PORT|Ethernet4 PORT|Ethernet8" \
    "$(sed -n 's/^db4 //p' "$TMP/keys-1" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "second server's STATE_DB: the ports with netdevs and restore_count" \
    "PORT_TABLE|Ethernet0 PORT_TABLE|Ethernet4 WARM_RESTART_TABLE|portsyncd" \
    "$(sed -n 's/^db6 //p' "$TMP/keys-2" | tr '\n' ' ' | sed 's/ $//')"

# The STATE_DB server alone goes away (its data with it) and comes back.
kill -TERM "${REDIS_PIDS[redis2]}"
wait "${REDIS_PIDS[redis2]}" 2>/dev/null
check "redis_connected drops to 0" wait_for 5 metric_is portsyncd_redis_connected 0
check "the lost server is named" wait_for 5 grep -q "redis unix:$S2: connection lost" "$TMP/portsyncd.log"
ip -n "$NS" link set p0 down
start_redis_named redis2
check "redis_connected back to 1" wait_for 15 metric_is portsyncd_redis_connected 1
check "the resync rewrites STATE_DB on the new server" wait_for 10 state2_matches_kernel 0 4
expect_eq "APPL_DB on the first server was not touched" "$(sed -n 's/^db0 //p' "$TMP/keys-1" | tr '\n' ' ')" \
    "$(keys_on "$SOCK" | sed -n 's/^db0 //p' | tr '\n' ' ')"
check "portsyncd still runs" kill -0 "$PCD_PID"
check "SIGTERM exits 0" stop_portsyncd
finish
