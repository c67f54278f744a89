#!/usr/bin/env bash
# CONFIG_DB LOGGER|portsyncd, as every swss daemon keeps it: registered with
# SONiC's defaults (NOTICE, SYSLOG) when absent, lines then reaching syslog(3)
# under the ident portsyncd (a syslog socket the test listens on); a present
# field kept and an absent one written; values already there kept whatever the
# command line says; `HSET LOGGER|portsyncd LOGLEVEL DEBUG` (what swssloglevel
# does) making debug lines appear within a second and INFO making them stop; an
# invalid level falling back to NOTICE with one ERROR line.
source "$(dirname "$0")/lib.sh"
start_redis
make_ns
seed_ports 0
start_consumer
syslog_listen
lg() { config HGET 'LOGGER|portsyncd' "$1"; }

# 1. No entry, no log flags: SONiC's defaults are registered and followed.
start_portsyncd_syslog --redis-socket "$SOCK" --shm-name "$TMP/segment"
check "LOGGER|portsyncd registered" wait_for 10 bash -c "[ \"\$(redis-cli -s $SOCK -n 4 HGET 'LOGGER|portsyncd' LOGOUTPUT)\" = SYSLOG ]"
expect_eq "LOGLEVEL defaults to NOTICE" NOTICE "$(lg LOGLEVEL)"
check "stderr says the lines go to syslog now" wait_for 5 grep -q 'NOTICE: CONFIG_DB LOGGER|portsyncd: LOGOUTPUT SYSLOG: the following lines go to syslog' "$TMP/portsyncd.log"
add_port 0
check "PortInitDone reaches the syslog socket at NOTICE, ident portsyncd" \
    wait_for 10 grep -qE "^<13>.* portsyncd\[$PCD_PID\]: PortInitDone: every CONFIG_DB port has a netdev" "$TMP/syslog.log"
check "the switch is logged there too" grep -q 'portsyncd\['"$PCD_PID"'\]: CONFIG_DB LOGGER|portsyncd: LOGOUTPUT SYSLOG (was STDERR)' "$TMP/syslog.log"
expect_eq "and not on stderr" 0 "$(grep -c 'PortInitDone:' "$TMP/portsyncd.log")"
expect_eq "no INFO line at NOTICE" 0 "$(grep -c '^<14>' "$TMP/syslog.log")"
config HSET 'LOGGER|portsyncd' LOGOUTPUT STDERR >/dev/null
check "LOGOUTPUT STDERR brings the lines back" wait_for 2 grep -q 'LOGOUTPUT STDERR (was SYSLOG)' "$TMP/portsyncd.log"
check "SIGTERM exits 0" stop_portsyncd

# 2. One field there: it is kept, the other written from the command line.
config DEL 'LOGGER|portsyncd' >/dev/null
config HSET 'LOGGER|portsyncd' LOGLEVEL INFO >/dev/null
# (--old-interfaces off: a restart of portsyncd alone; Ethernet0 exists already.)
start_portsyncd_ready --log-level DEBUG --log-output STDERR --old-interfaces off
expect_eq "LOGLEVEL kept, LOGOUTPUT written" "INFO STDERR" "$(lg LOGLEVEL) $(lg LOGOUTPUT)"
check "SIGTERM exits 0" stop_portsyncd

# 3. Both there: kept, whatever the flags say; no DEBUG line at INFO.
: >"$TMP/portsyncd.log"
start_portsyncd_ready --log-level DEBUG --log-output SYSLOG --old-interfaces off
expect_eq "both kept" "INFO STDERR" "$(lg LOGLEVEL) $(lg LOGOUTPUT)"
check "the level in force is INFO" wait_for 2 grep -q 'LOGLEVEL INFO (was DEBUG)' "$TMP/portsyncd.log"
ip -n "$NS" link set p0 down
check "STATE_DB follows" wait_for 5 state_matches_kernel 0
expect_eq "no DEBUG line after the entry was read" 0 "$(sed -n '/LOGLEVEL INFO (was DEBUG)/,$p' "$TMP/portsyncd.log" | grep -c ' DEBUG: ')"

# 4. At run time, as swssloglevel -l DEBUG -c portsyncd does it.
t0=$(date +%s%N)
config HSET 'LOGGER|portsyncd' LOGLEVEL DEBUG >/dev/null
check "LOGLEVEL DEBUG is applied within a second" wait_for 1 grep -q 'LOGLEVEL DEBUG (was INFO)' "$TMP/portsyncd.log"
echo "    (applied after $((($(date +%s%N) - t0) / 1000000)) ms)"
ip -n "$NS" link set p0 up
check "debug lines appear" wait_for 1 grep -q 'DEBUG: STATE_DB PORT_TABLE|Ethernet0: oper up' "$TMP/portsyncd.log"
config HSET 'LOGGER|portsyncd' LOGLEVEL INFO >/dev/null
check "LOGLEVEL INFO is applied within a second" wait_for 1 grep -q 'LOGLEVEL INFO (was DEBUG)' "$TMP/portsyncd.log"
debug_lines=$(grep -c ' DEBUG: ' "$TMP/portsyncd.log")
ip -n "$NS" link set p0 down
check "STATE_DB follows" wait_for 5 state_matches_kernel 0
sleep 0.2
expect_eq "debug lines stop" "$debug_lines" "$(grep -c ' DEBUG: ' "$TMP/portsyncd.log")"

# 5. An invalid level: NOTICE, one ERROR line, the entry left as it is.
config HSET 'LOGGER|portsyncd' LOGLEVEL LOUD >/dev/null
check "an invalid level falls back to NOTICE" wait_for 1 grep -q 'LOGLEVEL NOTICE (was INFO)' "$TMP/portsyncd.log"
config HSET 'LOGGER|portsyncd' something else >/dev/null # another event on the key
sleep 1.5
expect_eq "with one ERROR line, in SONiC's words" 1 "$(grep -c "ERROR: CONFIG_DB LOGGER|portsyncd LOGLEVEL 'LOUD' is not one of EMERG, ALERT, CRIT, ERROR, WARN, NOTICE, INFO, DEBUG: Invalid loglevel. Setting to NOTICE." "$TMP/portsyncd.log")"
expect_eq "and no other" 1 "$(grep -c ' ERROR: ' "$TMP/portsyncd.log")"
expect_eq "the entry is not corrected" LOUD "$(lg LOGLEVEL)"
# Deleting the entry keeps the level (SONiC ignores the delete).
config HSET 'LOGGER|portsyncd' LOGLEVEL DEBUG >/dev/null
check "DEBUG again" wait_for 1 grep -q 'LOGLEVEL DEBUG (was NOTICE)' "$TMP/portsyncd.log"
config DEL 'LOGGER|portsyncd' >/dev/null
sleep 0.5
ip -n "$NS" link set p0 up
check "a deleted entry keeps the level: debug lines go on" wait_for 2 grep -q 'DEBUG: STATE_DB PORT_TABLE|Ethernet0: oper up' "$TMP/portsyncd.log"
expect_eq "and is not written back while running" 0 "$(config EXISTS 'LOGGER|portsyncd')"
check "SIGTERM exits 0" stop_portsyncd
finish
