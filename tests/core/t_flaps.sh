#!/usr/bin/env bash
# Flap a port 100 times: STATE_DB ends with the kernel's state,
# portsyncd_port_flaps_total{port} counts exactly the up->down transitions, and
# events_processed_total grows by exactly the link messages the kernel sent
# (counted by an independent netlink listener in the same namespace).
source "$(dirname "$0")/lib.sh"
start_redis
make_ns
seed_ports 0
start_consumer
start_portsyncd_ready
add_port 0
check "Ethernet0 up in STATE_DB" wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet0' netdev_oper_status)\" = up ]"
sleep 0.3
ip netns exec "$NS" /usr/bin/python3 -c '
import socket, struct, sys, signal
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind((0, 1))  # RTMGRP_LINK
n = 0
def done(*_):
    print(n, flush=True); sys.exit(0)
signal.signal(signal.SIGTERM, done)
print("ready", flush=True)
while True:
    data = s.recv(1 << 16)
    off = 0
    while off + 16 <= len(data):
        length, typ = struct.unpack_from("=LH", data, off)
        if typ in (16, 17):  # RTM_NEWLINK, RTM_DELLINK
            n += 1
        off += (length + 3) & ~3
' >"$TMP/counter.log" 2>&1 &
counter=$!
wait_for 5 grep -q ready "$TMP/counter.log"
before=$(metric portsyncd_events_processed_total)
for i in $(seq 100); do
    ip -n "$NS" link set p0 down
    wait_for 2 bash -c "! ip -n $NS -o link show Ethernet0 | grep -q LOWER_UP"
    ip -n "$NS" link set p0 up
    wait_for 2 bash -c "ip -n $NS -o link show Ethernet0 | grep -q LOWER_UP"
done
sleep 1
kill -TERM "$counter"; wait "$counter"
sent=$(tail -n 1 "$TMP/counter.log")
after=$(metric portsyncd_events_processed_total)
expect_eq "port_flaps_total{Ethernet0} counts the 100 up->down transitions" 100 "$(metric 'portsyncd_port_flaps_total{port="Ethernet0"}')"
expect_eq "events_processed_total grew by the link messages the kernel sent" "$sent" "$((after - before))"
expect_eq "no event failed" 0 "$(metric portsyncd_events_failed_total)"
expect_eq "STATE_DB oper status is the kernel's" "$(carrier 0)" "$(state_field Ethernet0 netdev_oper_status)"
ip -n "$NS" link set p0 down
check "a final down reaches STATE_DB" wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet0' netdev_oper_status)\" = down ]"
expect_eq "oper status gauge is 0" 0 "$(metric 'portsyncd_port_oper_status{port="Ethernet0"}')"
check "latency histogram counted the applied events" bash -c "[ \"\$(\"$BIN/portsyncd-shmdump\" --name $SEG --format prometheus | awk '\$1 == \"portsyncd_event_latency_seconds_count\" {print \$2}')\" -ge 200 ]"
check "SIGTERM exits 0" stop_portsyncd
finish
