# tests/lib/common.sh - what every shell test of the project shares: a private
# temp dir and segment name, cleanup of everything the test started, assertions
# that say what they expected, polling, a private redis-server, a free port.
#
# Sourced by a component library, never by a test directly:
#   source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh" PREFIX BINDIR
# PREFIX names the temp dir (/tmp/PREFIX-TEST.XXXXXX) and the default segment
# (PREFIX-TEST-PID); BINDIR is the build's bin/ directory. The component library
# chooses the shell options: this file sets -u and pipefail, not -e (portsyncd's
# scenarios run commands that are meant to fail; the exporter's and the
# integration tests add -e).
#
# On exit, in this order: the test's on_exit hooks (in the order given), the
# component's lib_stop (its own daemons, which may need what follows), every pid
# in PIDS, the redis-server, the component's lib_cleanup (namespaces: nothing
# runs any more), the segment (/dev/shm/$SEG and $SEG.*), the temp dir. PIDS
# holds children of the test's shell ($!); each still running is sent SIGTERM
# and SIGCONT (a test may have stopped it), waited for up to 5 s, then killed. When the test failed, or KEEP_LOGS is set, the last 40
# lines of each $TMP/*.log are printed; KEEP_LOGS also keeps $TMP.
set -uo pipefail
BIN=$(cd "${2:?usage: $0 BINDIR}" && pwd)
NAME=$(basename "$0" .sh)
TMP=$(mktemp -d "/tmp/$1-$NAME.XXXXXX")
SEG=$1-$NAME-$$
PY=/usr/bin/python3
PASS=0
FAIL=0
PIDS=()
REDIS_PID=
SOCK=$TMP/redis.sock
_hooks=()

# on_exit COMMAND: run COMMAND (eval'd) first thing on exit
on_exit() { _hooks+=("$1"); }
# track_pid PID: stop PID on exit (same as PIDS+=(PID))
track_pid() { PIDS+=("$1"); }

# _running_child PID: PID is a child of this shell and has not ended. Only
# children are stopped: a pid the test has already waited for may belong to
# another process by now, and a child that ended stays a zombie (which kill -0
# still finds) until it is waited for.
_running_child() {
    local st
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
    set -- $st # state ppid ...
    [ "${2-}" = "$$" ] && [ "$1" != Z ] && [ "$1" != X ]
}
# stop_pids PID...: SIGTERM and SIGCONT to each that is a running child, up to
# 5 s for them to end, then SIGKILL to the rest; waits for them
stop_pids() {
    local p deadline mine=() left
    for p in "$@"; do [ -n "$p" ] && _running_child "$p" && mine+=("$p"); done
    [ ${#mine[@]} -eq 0 ] && return 0
    kill -TERM "${mine[@]}" 2>/dev/null
    kill -CONT "${mine[@]}" 2>/dev/null
    deadline=$(($(date +%s%N) + 5000000000))
    while :; do
        left=()
        for p in "${mine[@]}"; do _running_child "$p" && left+=("$p"); done
        [ ${#left[@]} -eq 0 ] && break
        if [ "$(date +%s%N)" -gt "$deadline" ]; then
            echo "cleanup: ${left[*]} did not end within 5 s of SIGTERM: SIGKILL"
            kill -KILL "${left[@]}" 2>/dev/null
            break
        fi
        sleep 0.02
    done
    wait "${mine[@]}" 2>/dev/null
    return 0
}

cleanup() {
    local rc=$? h f
    set +e
    for h in "${_hooks[@]+"${_hooks[@]}"}"; do eval "$h"; done
    declare -F lib_stop >/dev/null && lib_stop
    stop_pids "${PIDS[@]+"${PIDS[@]}"}"
    stop_pids "$REDIS_PID"
    declare -F lib_cleanup >/dev/null && lib_cleanup
    rm -f "/dev/shm/$SEG" "/dev/shm/$SEG".* 2>/dev/null
    if [ "$rc" -ne 0 ] || [ "$FAIL" -ne 0 ] || [ -n "${KEEP_LOGS:-}" ]; then
        for f in "$TMP"/*.log; do [ -f "$f" ] && { echo "--- $f (last 40 lines)"; tail -n 40 "$f"; }; done
    fi
    if [ -n "${KEEP_LOGS:-}" ]; then
        echo "KEEP_LOGS: kept $TMP"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT

# ---- assertions ------------------------------------------------------------------
ok() { PASS=$((PASS + 1)); echo "ok   - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }
# check DESCRIPTION COMMAND...: passes when the command exits 0
check() {
    local what=$1
    shift
    if "$@"; then ok "$what"; else not_ok "$what"; fi
}
# refute DESCRIPTION COMMAND...: passes when the command exits non-zero
refute() {
    local what=$1
    shift
    if "$@"; then not_ok "$what"; else ok "$what"; fi
}
# expect_eq DESCRIPTION EXPECTED ACTUAL
expect_eq() { if [ "$2" = "$3" ]; then ok "$1 ($3)"; else not_ok "$1: expected '$2', got '$3'"; fi; }
# finish: the summary line; exit status 0 only if nothing failed. A sanitizer
# report in any $TMP/*.log fails the test, whatever it checked.
finish() {
    local pat='WARNING: ThreadSanitizer|ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' reports
    reports=$(grep -lE "$pat" "$TMP"/*.log 2>/dev/null || true)
    if [ -n "$reports" ]; then
        not_ok "sanitizer reports in $(echo $reports | xargs -n1 basename | tr '\n' ' ')"
        grep -hE -A30 "$pat" $reports | head -n 120
    fi
    echo "$NAME: $PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
}

# ---- polling -----------------------------------------------------------------------
# wait_for SECONDS COMMAND...: run COMMAND (output discarded) every 20 ms until it
# succeeds (0) or SECONDS (may be fractional) have passed (1)
wait_for() {
    local s=$1 i f deadline
    [[ $s =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "wait_for: '$s' is not a number of seconds"; return 2; }
    i=${s%%.*} f=${s#"$i"}
    f=${f#.}000000000
    deadline=$(($(date +%s%N) + 10#$i * 1000000000 + 10#${f:0:9}))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s%N)" -gt "$deadline" ] && return 1
        sleep 0.02
    done
    return 0
}
# check_eventually DESCRIPTION SHELL-CONDITION [TENTHS]: passes as soon as the
# condition (eval'd in this shell, so it may call the test's functions) holds,
# tried every 0.1 s, TENTHS times (default 50, about 5 s). Made for conditions
# that scrape the exporter: 0.1 s apart, the polling is not the load.
check_eventually() {
    local what=$1 cond=$2 n=${3:-50} i
    for i in $(seq 1 "$n"); do
        eval "$cond" && { ok "$what"; return 0; }
        sleep 0.1
    done
    not_ok "$what"
}

# ---- processes -----------------------------------------------------------------------
# start_redis ARGS...: a redis-server on the unix socket $SOCK only, data in $TMP,
# keyspace notifications on; SAVE on shutdown, so a restart keeps the data.
# Sets REDIS_PID; exits the test if the server does not answer within 5 s.
start_redis() {
    redis-server --port 0 --unixsocket "$SOCK" --unixsocketperm 700 --dir "$TMP" \
        --save 3600 1 --appendonly no --notify-keyspace-events KA "$@" >>"$TMP/redis.log" 2>&1 &
    REDIS_PID=$!
    wait_for 5 redis-cli -s "$SOCK" ping || { echo "redis-server did not start"; exit 1; }
}
# stop_redis: SIGTERM and wait (it saves first)
stop_redis() { kill -TERM "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null; REDIS_PID=; }

# free_port: a TCP port free now on both [::1] and 127.0.0.1, for programs that
# cannot take port 0 (Prometheus, an exporter whose port a config names)
free_port() {
    "$PY" -c '
import socket
while True:
    s6 = socket.socket(socket.AF_INET6)
    s6.bind(("::1", 0))
    port = s6.getsockname()[1]
    s4 = socket.socket()
    try:
        s4.bind(("127.0.0.1", port))
    except OSError:
        continue
    print(port)
    break'
}
