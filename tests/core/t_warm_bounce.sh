#!/usr/bin/env bash
# During the hold of a warm restart (kept open by a CONFIG_DB port whose netdev
# has not come back yet, as in a warm reboot): a port that goes down and back up
# within the settle window gets no STATE_DB write and no reader of STATE_DB
# ever sees it down; a port that goes down for real is written once the window
# has passed (the delay this adds is measured); the netdev that comes back is
# written at once and settles the last port, so reconciliation follows.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/warmlib.sh"
start_redis
make_ns
check "a live switch: 3 ports in STATE_DB" live_switch 0 4 8
# Ethernet12 is configured, consumed and known to STATE_DB, but its netdev is not there yet.
seed_ports 12
state HSET "PORT_TABLE|Ethernet12" state ok netdev_oper_status up admin_status up mtu 1500 >/dev/null
wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 0 HEXISTS PORT_TABLE:Ethernet12 admin_status)\" = 1 ]" ||
    appl HSET PORT_TABLE:Ethernet12 admin_status up >/dev/null
state HSET "WARM_RESTART_ENABLE_TABLE|swss" enable true >/dev/null
config HSET "WARM_RESTART|swss" portsyncd_timer 60 >/dev/null
ks_start
start_portsyncd
check "state reaches restored" wait_for 10 warm_state_is restored
check "the initial dump is applied" wait_for 10 grep -q 'ready: initial link dump applied' "$TMP/portsyncd.log"

# A reader polling STATE_DB as fast as it can while Ethernet4 bounces.
"$PY" - "$SOCK" "$TMP/stop-reader" >"$TMP/reader.out" 2>&1 <<'PYEOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rb")
def cmd(*a):
    s.sendall(b"".join([b"*%d\r\n" % len(a)] + [b"$%d\r\n%s\r\n" % (len(x), x) for x in a]))
    line = f.readline()
    if line.startswith(b"$-1"): return None
    if line.startswith(b"$"):
        v = f.read(int(line[1:]) + 2)[:-2]; return v
    return line.strip()
cmd(b"SELECT", b"6"); n = 0; seen = set()
while not os.path.exists(sys.argv[2]):
    seen.add(cmd(b"HGET", b"PORT_TABLE|Ethernet4", b"netdev_oper_status")); n += 1
print("reads", n, "values", b",".join(sorted(v or b"(nil)" for v in seen)).decode())
PYEOF
READER=$!
PIDS+=($READER)
sleep 0.3
ip -n "$NS" link set p4 down
sleep 0.1
ip -n "$NS" link set p4 up
sleep 1.5 # past the settle window
touch "$TMP/stop-reader"
wait "$READER"
echo "     (reader: $(cat "$TMP/reader.out"))"
expect_eq "the reader never saw Ethernet4 down" up "$(sed -n 's/.*values //p' "$TMP/reader.out")"
expect_eq "no STATE_DB write for Ethernet4" 0 "$(ks_count Ethernet4)"
check "the bounce is logged as a transient" grep -q 'Ethernet4 came back to its STATE_DB state within 500 ms: a transient, not written' "$TMP/portsyncd.log"
expect_eq "still restored (Ethernet12 has not come back)" restored "$(warm_state)"

# A real change during the hold: written once the window has passed.
t0=$(date +%s%N)
ip -n "$NS" link set p0 down
check "Ethernet0 down reaches STATE_DB" \
    wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet0' netdev_oper_status)\" = down ]"
delay=$(ms_since "$t0")
echo "     (a real change during the hold: in STATE_DB $delay ms after the ip command; the settle window is 500 ms)"
check "not before the settle window ($delay ms >= 500)" test "$delay" -ge 500
check "nor long after it ($delay ms < 2500)" test "$delay" -lt 2500
expect_eq "one write for Ethernet0" 1 "$(ks_count Ethernet0)"
check "logged as a real change" grep -q 'Ethernet0 still differs from its STATE_DB state after 500 ms: a real change, written' "$TMP/portsyncd.log"

# The last netdev comes back: every CONFIG_DB port settled, reconciliation.
add_port 12
check "state reaches reconciled once Ethernet12 is back" wait_for 10 warm_state_is reconciled
check "... because every port settled" grep -q 'reconciled (every CONFIG_DB port settled)' "$TMP/portsyncd.log"
sleep 0.5
expect_eq "Ethernet12 back as it was: no write" 0 "$(ks_count Ethernet12)"
expect_eq "writes in all: Ethernet0's only" 1 "$(ks_count)"
check "STATE_DB matches the kernel" state_matches_kernel 0 4 8 12
check "warm run exits 0" stop_portsyncd
finish
