#!/usr/bin/env bash
# A lost Redis connection in the middle of the CONFIG_DB copy must not make
# PortInitDone early. The "already consumed" check (APPL_DB PORT_TABLE:<name> has
# admin_status: a portsyncd-only restart, its netdev exists) belongs before the
# first copy; redone on the retry it would see the ports that the consumer took
# from the first, partial copy as "already consumed" and drop them from the
# "not yet created" set: SONiC's race (DESIGN.md section 4), back again.
#
# 3000 CONFIG_DB ports were consumed by an earlier run (they make the copy long),
# 32 are new. A watcher on MONITOR waits until the consumer has taken two new
# ports from the copy in progress, then kills portsyncd's CONFIG_DB and STATE_DB
# connections. After the retried copy every new port but one gets its netdev:
# PortInitDone must wait for the last one.
source "$(dirname "$0")/lib.sh"
start_redis
make_ns
fresh=$(seq 0 4 124)
seed_ports $fresh
# Consumed by an earlier run: CONFIG_DB PORT|EthernetN and APPL_DB PORT_TABLE:EthernetN.
config EVAL "for i = 10000, 12999 do redis.call('HSET', 'PORT|Ethernet' .. i, 'lanes', tostring(i), 'speed', '100000', 'admin_status', 'up') end" 0 >/dev/null
appl EVAL "for i = 10000, 12999 do redis.call('HSET', 'PORT_TABLE:Ethernet' .. i, 'lanes', tostring(i), 'speed', '100000', 'admin_status', 'up') end" 0 >/dev/null
start_consumer

/usr/bin/python3 - "$SOCK" $fresh >"$TMP/watcher.log" 2>&1 <<'PY' &
import socket, sys, time

path, fresh = sys.argv[1], {"Ethernet" + n for n in sys.argv[2:]}

def conn():
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    return s, s.makefile("rb")

def cmd(s, f, *args):
    s.sendall(b"".join([b"*%d\r\n" % len(args)] + [b"$%d\r\n%s\r\n" % (len(a), a.encode()) for a in args]))
    return reply(f)

def reply(f):
    line = f.readline().rstrip(b"\r\n")
    t, rest = line[:1], line[1:]
    if t in (b"+", b"-", b":"):
        return rest.decode()
    if t == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2].decode()
    if t == b"*":
        return [reply(f) for _ in range(int(rest))]
    raise SystemExit(f"unexpected reply {line!r}")

mon, monf = conn()
c, cf = conn()
cmd(mon, monf, "MONITOR")
print("ready", flush=True)
copied = []
while len(copied) < 2:
    line = monf.readline().decode(errors="replace")
    if '"EVALSHA"' not in line:
        continue
    for word in line.split('"'):
        if word.startswith("_PORT_TABLE:") and word[12:] in fresh and word[12:] not in copied:
            copied.append(word[12:])
deadline = time.time() + 10
while not all(cmd(c, cf, "HEXISTS", "PORT_TABLE:" + p, "admin_status") == "1" for p in copied):
    if time.time() > deadline:
        raise SystemExit(f"the consumer did not take {copied}")
    time.sleep(0.0005)
killed = 0
for entry in cmd(c, cf, "CLIENT", "LIST").splitlines():
    f = dict(kv.split("=", 1) for kv in entry.split(" ") if "=" in kv)
    if f.get("db") in ("4", "6"):
        killed += int(cmd(c, cf, "CLIENT", "KILL", "ID", f["id"]))
print("consumed", " ".join(copied), "killed", killed, flush=True)
PY
PIDS+=($!)
wait_for 5 grep -q ready "$TMP/watcher.log" || { not_ok "the MONITOR watcher started"; finish; exit; }

start_portsyncd
check "the watcher killed portsyncd's connections mid-copy" wait_for 30 grep -q '^consumed .* killed [1-9]' "$TMP/watcher.log"
read -r _ first second _ _ < <(grep '^consumed' "$TMP/watcher.log")
echo "     (consumed from the partial copy: ${first:-?} ${second:-?})"
check "portsyncd saw the loss during the copy" wait_for 10 grep -q 'connection lost while copying CONFIG_DB ports' "$TMP/portsyncd.log"
check "the retried copy completes: PortConfigDone count=3032" wait_for 60 bash -c "[ \"\$(redis-cli -s $SOCK -n 0 HGET PORT_TABLE:PortConfigDone count)\" = 3032 ]"

# Every new port's netdev but the first consumed one.
for n in $fresh; do [ "Ethernet$n" = "$first" ] || add_port "$n"; done
check "STATE_DB has the 31 created ports" wait_for 20 bash -c "[ \$(redis-cli -s $SOCK -n 6 KEYS 'PORT_TABLE|Ethernet*' | wc -l) = 31 ]"
sleep 1
expect_eq "no PortInitDone while $first has no netdev" 0 "$(appl EXISTS PORT_TABLE:PortInitDone _PORT_TABLE:PortInitDone)"
expect_eq "and none logged" 0 "$(grep -c 'PortInitDone:' "$TMP/portsyncd.log")"
add_port "${first#Ethernet}"
check "PortInitDone once $first exists" wait_for 10 bash -c "[ \"\$(redis-cli -s $SOCK -n 0 HGET PORT_TABLE:PortInitDone lanes)\" = 0 ]"
check "SIGTERM exits 0" stop_portsyncd
finish
