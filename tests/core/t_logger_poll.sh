#!/usr/bin/env bash
# A Redis with keyspace notifications off (notify-keyspace-events ""; SONiC's
# database container has AKE) sends no event for LOGGER|portsyncd: portsyncd
# says so once and reads the entry every second instead, so swssloglevel still
# works, a second or so later. Notifications turned on: events again, at once.
source "$(dirname "$0")/lib.sh"
start_redis --notify-keyspace-events ""
make_ns
seed_ports 0
start_consumer
start_portsyncd_ready --log-level INFO
check "it says notifications are off, and what it does instead" wait_for 5 grep -q \
    "WARN: redis unix:$SOCK: keyspace notifications are off (notify-keyspace-events is '': no K, or neither h nor A): reading CONFIG_DB LOGGER|portsyncd every second instead" \
    "$TMP/portsyncd.log"
t0=$(date +%s%N)
config HSET 'LOGGER|portsyncd' LOGLEVEL DEBUG >/dev/null
check "LOGLEVEL DEBUG is applied by the next poll" wait_for 2 grep -q 'LOGLEVEL DEBUG (was INFO)' "$TMP/portsyncd.log"
echo "    (applied after $((($(date +%s%N) - t0) / 1000000)) ms)"
add_port 0
check "debug lines appear" wait_for 5 grep -q 'DEBUG: STATE_DB PORT_TABLE|Ethernet0: oper up' "$TMP/portsyncd.log"
config HSET 'LOGGER|portsyncd' LOGLEVEL WHISPER >/dev/null
check "an invalid level falls back to NOTICE" wait_for 2 grep -q 'LOGLEVEL NOTICE (was DEBUG)' "$TMP/portsyncd.log"
sleep 2.2 # two more polls of the same invalid value
expect_eq "with one ERROR line, not one per poll" 1 "$(grep -c 'Invalid loglevel. Setting to NOTICE.' "$TMP/portsyncd.log")"
# LOGGER's line only: the APPL_DB view (t_appl_view.sh) says it once too, in its own words.
expect_eq "notifications off is said once" 1 "$(grep -c 'keyspace notifications are off.*CONFIG_DB LOGGER' "$TMP/portsyncd.log")"
check "the APPL_DB view says once it has none" bash -c "[ \$(grep -c 'keyspace notifications are off .*: no APPL_DB PORT_TABLE view' '$TMP/portsyncd.log') = 1 ]"
check "SIGTERM exits 0" stop_portsyncd

# The same server with notifications on (as SONiC's hostcfgd and CLI turn them on).
rcli 0 CONFIG SET notify-keyspace-events KEA >/dev/null
config HSET 'LOGGER|portsyncd' LOGLEVEL INFO >/dev/null
start_portsyncd_ready --old-interfaces off
check "it follows the key's channel" wait_for 5 grep -q 'following changes through __keyspace@4__:LOGGER|portsyncd' "$TMP/portsyncd.log"
config HSET 'LOGGER|portsyncd' LOGLEVEL DEBUG >/dev/null
check "and a change is applied within a second" wait_for 1 bash -c "[ \$(grep -c 'LOGLEVEL DEBUG (was INFO)' '$TMP/portsyncd.log') = 2 ]"
check "SIGTERM exits 0" stop_portsyncd
finish
