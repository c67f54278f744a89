#!/usr/bin/env bash
# Started with no arguments at all, as supervisord starts it in SONiC's swss
# container, portsyncd finds SONiC's /var/run/redis/sonic-db/database_config.json
# and uses it (here it puts STATE_DB on a second server, so the keys show the
# file was read). portsyncd runs in a mount namespace of its own where
# /var/run/redis is a directory of the test (tmpfs over /run, a bind mount).
# A broken file there is an error (exit 2); no file: the old defaults
# (/var/run/redis/redis.sock, databases 0, 4, 6).
source "$(dirname "$0")/lib.sh"
VR=$TMP/var-run-redis # what portsyncd sees as /var/run/redis
mkdir -p "$VR"
SOCK=$VR/redis.sock
start_redis
redis-server --port 0 --unixsocket "$VR/redis2.sock" --unixsocketperm 700 --dir "$TMP" \
    --dbfilename redis2.rdb --save "" --appendonly no >>"$TMP/redis2.log" 2>&1 &
PIDS+=($!)
wait_for 5 redis-cli -s "$VR/redis2.sock" ping || { echo "second redis-server did not start"; exit 1; }
write_db_config "$VR/sonic-db/database_config.json" redis redis redis2 \
    /var/run/redis/redis.sock /var/run/redis/redis2.sock
make_ns
seed_ports 0 4
start_consumer

# in_sonic_layout ARGS...: portsyncd with /var/run/redis = $VR and a /dev/shm of
# its own; it execs, so run it in the background or in a subshell
in_sonic_layout() {
    exec ip netns exec "$NS" unshare --mount --propagation private sh -c '
        mount -t tmpfs -o mode=755 tmpfs /run && mkdir /run/redis &&
        mount --bind "$0" /run/redis && mount -t tmpfs tmpfs /dev/shm && exec "$@"' \
        "$VR" "$BIN/portsyncd" "$@"
}

in_sonic_layout >>"$TMP/portsyncd.log" 2>&1 &
PCD_PID=$!
check "no arguments: SONiC's file is used" wait_for 10 grep -q \
    'starting: redis APPL_DB 0 at unix:/var/run/redis/redis.sock, CONFIG_DB 4 at unix:/var/run/redis/redis.sock, STATE_DB 6 at unix:/var/run/redis/redis2.sock from /var/run/redis/sonic-db/database_config.json' \
    "$TMP/portsyncd.log"
check "LOGGER|portsyncd registered with SONiC's defaults" wait_for 10 bash -c "[ \"\$(redis-cli -s $SOCK -n 4 HMGET 'LOGGER|portsyncd' LOGLEVEL LOGOUTPUT | tr '\n' ' ')\" = 'NOTICE SYSLOG ' ]"
check "and its lines go to syslog from then on" wait_for 5 grep -q 'LOGOUTPUT SYSLOG: the following lines go to syslog' "$TMP/portsyncd.log"
check "PortConfigDone count=2" wait_for 10 bash -c "[ \"\$(redis-cli -s $SOCK -n 0 HGET PORT_TABLE:PortConfigDone count)\" = 2 ]"
sleep 0.5 # the initial dump applied: netdevs created from now on are new
add_port 0
add_port 4
check "STATE_DB on the file's second server" wait_for 10 bash -c "[ \"\$(redis-cli -s $VR/redis2.sock -n 6 HGET 'PORT_TABLE|Ethernet4' state)\" = ok ] && [ \"\$(redis-cli -s $VR/redis2.sock -n 6 HGET 'PORT_TABLE|Ethernet0' state)\" = ok ]"
check "PortInitDone" wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 0 HGET PORT_TABLE:PortInitDone lanes)\" = 0 ]"
expect_eq "no STATE_DB on the first server" 0 "$(state DBSIZE)"
check "SIGTERM exits 0" stop_portsyncd

# A broken file where SONiC keeps it: refused, not replaced by the defaults.
mv "$VR/sonic-db/database_config.json" "$TMP/good.json"
printf '{"INSTANCES": {}, "DATABASES": {\n' >"$VR/sonic-db/database_config.json"
rc=0
(in_sonic_layout) >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_eq "a broken default file: exit 2" 2 "$rc"
check "one line naming it, with line and column" bash -c "[ \$(wc -l <'$TMP/err') = 1 ] && grep -q '^portsyncd: /var/run/redis/sonic-db/database_config.json: line 2, column 0: string or .}. expected near end of file: expected valid JSON' '$TMP/err'"

# No file: the defaults, /var/run/redis/redis.sock with databases 0, 4 and 6.
rm -r "$VR/sonic-db"
state FLUSHDB >/dev/null
in_sonic_layout --old-interfaces off >>"$TMP/portsyncd.log" 2>&1 &
PCD_PID=$!
check "no file: the defaults" wait_for 10 grep -q \
    'starting: redis unix:/var/run/redis/redis.sock (APPL_DB 0, CONFIG_DB 4, STATE_DB 6) from the defaults (no /var/run/redis/sonic-db/database_config.json)' \
    "$TMP/portsyncd.log"
check "STATE_DB 6 on /var/run/redis/redis.sock" wait_for 10 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet0' state)\" = ok ]"
check "SIGTERM exits 0" stop_portsyncd
finish
