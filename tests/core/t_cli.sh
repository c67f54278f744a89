#!/usr/bin/env bash
# portsyncd's command line: --help, --version, bad flags (exit 2 with one line
# naming the flag and value), SONiC's log level names and the older ones, no
# Redis (keeps retrying, says where, in the one log line format), SIGTERM while
# waiting for Redis (exit 0), sd_notify READY=1.
source "$(dirname "$0")/lib.sh"
P="$BIN/portsyncd"
check "--help exits 0 and lists --redis-socket" bash -c "'$P' --help | grep -q -- --redis-socket"
for flag in --db-config --namespace --db-global --log-output; do
    check "--help lists $flag" bash -c "'$P' --help | grep -q -- '$flag'"
done
check "--version prints the version" bash -c "'$P' --version | grep -q '^portsyncd [0-9]'"
bad() {
    local needle=$1 rc=0
    shift
    "$P" "$@" >/dev/null 2>"$TMP/err" || rc=$?
    if [ $rc -eq 2 ] && grep -qF -- "$needle" "$TMP/err"; then ok "$* -> 2: $(head -1 "$TMP/err")"; else not_ok "$* -> $rc: $(cat "$TMP/err")"; fi
}
bad "--redis-port '0' is not an integer from 1 to 65535" --redis-port 0
bad "--state-db 'x' is not an integer" --state-db x
bad "--old-interfaces 'maybe' is not one of auto, sonic, ignore, off" --old-interfaces maybe
bad "--log-level 'loud'" --log-level loud
for level in EMERG ALERT CRIT ERROR WARN NOTICE INFO DEBUG notice Debug error warning; do
    check "--log-level $level is accepted" bash -c "'$P' --log-level $level --version >/dev/null"
done
bad "--log-output 'journal' is not one of SYSLOG, STDOUT, STDERR" --log-output journal
for output in SYSLOG STDOUT STDERR syslog; do
    check "--log-output $output is accepted" bash -c "'$P' --log-output $output --version >/dev/null"
done
bad "exclude each other" --redis-socket /x --redis-host h
bad "unexpected argument 'extra'" extra
bad "" --no-such-flag
check "a bad segment name is one clear line, exit 1" bash -c "'$P' --shm-name 'a/b' --redis-socket $TMP/none.sock 2>&1 | grep -q \"segment name 'a/b' is invalid\""

# No Redis: retries and says where it tried; SIGTERM ends it cleanly.
make_ns
ip netns exec "$NS" "$P" --redis-socket "$TMP/none.sock" --shm-name "$SEG" >"$TMP/portsyncd.log" 2>&1 &
pid=$!
check "names the socket it cannot reach" wait_for 5 grep -q "redis unix:$TMP/none.sock: cannot connect" "$TMP/portsyncd.log"
# Every line: UTC time to the millisecond, name[pid], SONiC's level name, the message.
fmt='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z portsyncd\['$pid'\] (EMERG|ALERT|CRIT|ERROR|WARN|NOTICE|INFO|DEBUG): .'
check "the lines follow the one log format" bash -c "grep -q . '$TMP/portsyncd.log' && ! grep -vE '$fmt' '$TMP/portsyncd.log'"
check "the failure is an ERROR line" grep -qE "\] ERROR: redis unix:$TMP/none.sock: cannot connect" "$TMP/portsyncd.log"
check "the segment says Redis is disconnected" metric_is portsyncd_redis_connected 0
kill -TERM $pid
rc=0; wait $pid || rc=$?
expect_eq "SIGTERM while waiting for Redis exits 0" 0 "$rc"

# sd_notify: READY=1 once the initial dump is applied.
start_redis
/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); s.settimeout(10)
print(s.recv(4096).decode().replace("\n", " "), flush=True)
' "$TMP/notify.sock" >"$TMP/notify.log" 2>&1 &
PIDS+=($!)
sleep 0.3
NOTIFY_SOCKET=$TMP/notify.sock ip netns exec "$NS" "$P" --redis-socket "$SOCK" --shm-name "$SEG" >>"$TMP/portsyncd.log" 2>&1 &
PCD_PID=$!
check "READY=1 sent to NOTIFY_SOCKET" wait_for 10 grep -q 'READY=1' "$TMP/notify.log"
check "SIGTERM exits 0" stop_portsyncd
finish
