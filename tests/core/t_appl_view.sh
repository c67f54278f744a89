#!/usr/bin/env bash
# The APPL_DB PORT_TABLE view (core/portview.c): with keyspace notifications
# on, a link event of a port in APPL_DB is a plain HSET of STATE_DB from the
# client, no script (MONITOR); a port created in APPL_DB after start, its
# link event following at once (before its notification, often), is still
# written: the script, for ports the view does not hold, checks in Redis;
# a port deleted from APPL_DB, once its notification is in, is not written.
# Notifications switched off: one WARN, every batch the script as before, and
# the view once they are on (t_logger_poll.sh starts with them off). The subscriber's connection killed (and refused for a
# while): one WARN, the script, then the view again.
source "$(dirname "$0")/lib.sh"
start_redis
make_ns
seed_ports 0 4 8 12
start_consumer
start_portsyncd_ready --log-level DEBUG
for n in 0 4 8 12; do add_port "$n"; done
check "STATE_DB has the 4 ports" wait_for 10 state_matches_kernel 0 4 8 12
check "the view is built from the SCAN" wait_for 5 grep -qE "INFO: APPL_DB PORT_TABLE view at unix:$SOCK: [0-9]+ keys, followed through __keyspace@0__:PORT_TABLE:\\*" "$TMP/portsyncd.log"

# flaps N...: each port's peer down and up, one at a time, waiting for STATE_DB
flaps() {
    local n
    for n in "$@"; do
        ip -n "$NS" link set "p$n" down
        wait_for 2 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet$n' netdev_oper_status)\" = down ]"
        ip -n "$NS" link set "p$n" up
        wait_for 2 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet$n' netdev_oper_status)\" = up ]"
    done
}
# client_writes NAME: plain HSETs of STATE_DB PORT_TABLE|EthernetN from a client (not a script)
client_writes() { grep -v ' lua\]' "$TMP/monitor-$1.log" | grep -cE '\] "HSET" "PORT_TABLE\|Ethernet[0-9]+" "state" "ok"' || true; }

# 1. The plain path.
monitor_start "$SOCK" plain
flaps 0 4 8 12
monitor_stop plain
expect_eq "no EVALSHA for ports the view holds" 0 "$(monitor_count plain EVALSHA)"
check "each flap is a plain HSET from the client (>= 8)" [ "$(client_writes plain)" -ge 8 ]
check "and STATE_DB agrees with the kernel" state_matches_kernel 0 4 8 12

# 2. Ports created in APPL_DB after start, each flapped right after: none lost.
race=$(seq 100 139)
for n in $race; do add_port "$n"; done
check "the netdevs not in APPL_DB are not written" wait_for 5 grep -q 'Ethernet139 is not in APPL_DB PORT_TABLE' "$TMP/portsyncd.log"
monitor_start "$SOCK" race
ip netns exec "$NS" "$PY" "$(dirname "$0")/appl-race.py" "$SOCK" 3000 $(printf 'Ethernet%s ' $race) >"$TMP/race.log" 2>&1
check "the driver created and flapped 40 ports" grep -q 'done 40' "$TMP/race.log"
race_written() {
    for n in $race; do [ "$(state HGET "PORT_TABLE|Ethernet$n" admin_status)" = down ] || return 1; done
}
check "each one's event is in STATE_DB (admin down): no write lost" wait_for 5 race_written
monitor_stop race
lost=0
for n in $race; do [ "$(state HGET "PORT_TABLE|Ethernet$n" admin_status)" = down ] || lost=$((lost + 1)); done
expect_eq "ports whose write was lost" 0 "$lost"
appl DEL $(printf 'PORT_TABLE:Lag%s ' $(seq 0 99)) >/dev/null
echo "     (of 40: $(grep -v ' lua\]' "$TMP/monitor-race.log" | grep -cE '"HSET" "PORT_TABLE\|Ethernet1[0-9][0-9]"') plain, $(grep -c '"EVALSHA".*Ethernet1[0-9][0-9]' "$TMP/monitor-race.log") by the script: the event came before the notification)"

# 3. A port deleted from APPL_DB, its notification in: its next event is not written.
appl DEL PORT_TABLE:Ethernet12 >/dev/null
state DEL 'PORT_TABLE|Ethernet12' >/dev/null
sleep 0.2
ip -n "$NS" link set p12 down
check "the event after the delete is logged as not in PORT_TABLE" wait_for 5 bash -c "[ \$(grep -c 'Ethernet12 is not in APPL_DB PORT_TABLE' '$TMP/portsyncd.log') -ge 1 ]"
expect_eq "and writes nothing to STATE_DB" 0 "$(state EXISTS 'PORT_TABLE|Ethernet12')"

# 4. The subscriber's connection killed, and new subscriptions refused for a while.
rcli 0 ACL SETUSER default -psubscribe >/dev/null
rcli 0 CLIENT KILL TYPE pubsub >/dev/null
check "the loss is said in a WARN line" wait_for 5 grep -q "WARN: APPL_DB PORT_TABLE view at unix:$SOCK: .*unknown until it is back" "$TMP/portsyncd.log"
monitor_start "$SOCK" lost
before=$(grep -c 'batch of' "$TMP/portsyncd.log")
flaps 0 4
monitor_stop lost
batches=$(($(grep -c 'batch of' "$TMP/portsyncd.log") - before))
expect_eq "meanwhile one EVALSHA per batch (the script path)" "$batches" "$(monitor_count lost EVALSHA)"
expect_eq "and no plain write" 0 "$(client_writes lost)"
check "STATE_DB still follows" state_matches_kernel 0 4
expect_eq "said once, however many retries" 1 "$(grep -c 'APPL_DB PORT_TABLE view at .*unknown until it is back' "$TMP/portsyncd.log")"
rcli 0 ACL SETUSER default +psubscribe >/dev/null
check "the view is back" wait_for 10 grep -q "NOTICE: APPL_DB PORT_TABLE view at unix:$SOCK: back, " "$TMP/portsyncd.log"
monitor_start "$SOCK" back
flaps 0 4
monitor_stop back
expect_eq "plain writes again, no EVALSHA" 0 "$(monitor_count back EVALSHA)"
check "plain HSETs from the client" [ "$(client_writes back)" -ge 4 ]

# 5. Notifications switched off at run time: one WARN, the script path; on again: the view.
rcli 0 CONFIG SET notify-keyspace-events "" >/dev/null
check "it says notifications are off, and what it does instead" wait_for 10 grep -q \
    "WARN: redis unix:$SOCK: keyspace notifications are off (notify-keyspace-events is '': no K, or neither A nor all of ghxe): no APPL_DB PORT_TABLE view, every STATE_DB write checks APPL_DB in the script" \
    "$TMP/portsyncd.log"
monitor_start "$SOCK" off
before=$(grep -c 'batch of' "$TMP/portsyncd.log")
flaps 0 4 8
monitor_stop off
batches=$(($(grep -c 'batch of' "$TMP/portsyncd.log") - before))
check "the flaps came in batches" [ "$batches" -ge 6 ]
expect_eq "one EVALSHA per batch" "$batches" "$(monitor_count off EVALSHA)"
expect_eq "no plain write" 0 "$(client_writes off)"
check "the script checks APPL_DB" grep -q 'lua\] "EXISTS" "PORT_TABLE:Ethernet' "$TMP/monitor-off.log"
sleep 5.5 # one more look at the settings, still off
expect_eq "said once" 1 "$(grep -c 'no APPL_DB PORT_TABLE view, every STATE_DB write' "$TMP/portsyncd.log")"
rcli 0 CONFIG SET notify-keyspace-events KA >/dev/null
check "notifications on: the view is built again" wait_for 10 bash -c "[ \$(grep -c 'NOTICE: APPL_DB PORT_TABLE view at unix:$SOCK: back, ' '$TMP/portsyncd.log') = 2 ]"
monitor_start "$SOCK" on
flaps 0
monitor_stop on
expect_eq "and used: no EVALSHA" 0 "$(monitor_count on EVALSHA)"
check "SIGTERM exits 0" stop_portsyncd
finish
