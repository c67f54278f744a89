#!/usr/bin/env bash
# deploy/sonic/ as shipped. The supervisord entry runs under Debian's real
# supervisord, inside a stand-in for the swss container (the ports' network
# namespace and a mount namespace of its own: /run holding only the host's
# redis/ and portsyncd/ directories, a private /dev with /dev/log the test's
# syslog socket): started as dependent-startup would start it, the real
# portsyncd syncs the ports, writes the segment into the shared directory with
# that directory's group, and its lines reach syslog through supervisord; then
# SONiC's own line (no arguments at all) is swapped in with reread/update and
# works too. The sidecar's docker run line has the flags the design requires
# (checked statically: no docker engine runs here) and its exporter arguments
# pass the exporter's own pre-flight. The tmpfiles.d entry makes the shared
# directory as the test made it. The host-service drop-in passes
# systemd-analyze verify.
source "$(dirname "$0")/../core/lib.sh" "$1"
DEPLOY=$(cd "$(dirname "$0")/../../deploy" && pwd)
ENTRY=$DEPLOY/sonic/supervisord-portsyncd.conf
SIDECAR=$DEPLOY/sonic/run-exporter-sidecar.sh
PY=/usr/bin/python3
# A gid that names no group here, as the host's portsyncd-metrics gid names none
# inside the containers.
MGID=64123
while getent group "$MGID" >/dev/null; do MGID=$((MGID + 1)); done

# --- the entry, read the way supervisord reads it -------------------------------------------
entry() { $PY -c '
import configparser, shlex, sys
c = configparser.RawConfigParser(inline_comment_prefixes=(";", "#"))
c.read(sys.argv[1])
p = c["program:portsyncd"]
want = {"priority": "3", "autostart": "false", "autorestart": "false", "stdout_logfile": "NONE",
        "stdout_syslog": "true", "stderr_logfile": "NONE", "stderr_syslog": "true",
        "dependent_startup": "true", "dependent_startup_wait_for": "rsyslogd:running"}
bad = ["%s=%s (SONiC: %s)" % (k, p.get(k), v) for k, v in want.items() if p.get(k) != v]
argv = shlex.split(p["command"])
if argv[0] != "/usr/bin/portsyncd":
    bad.append("command runs %s, not /usr/bin/portsyncd" % argv[0])
if argv[1:] != ["--shm-name", "/run/portsyncd/metrics"]:
    bad.append("arguments %s: expected only --shm-name /run/portsyncd/metrics" % argv[1:])
if set(p) - set(want) - {"command"}:
    bad.append("keys SONiC does not set: %s" % sorted(set(p) - set(want) - {"command"}))
print("; ".join(bad))
sys.exit(1 if bad else 0)' "$ENTRY"; }
out=$(entry) && rc=0 || rc=$?
check "the entry has SONiC's program name, priority, start order and syslog handling '${out}'" test "$rc" -eq 0

# --- a stand-in for the swss container -------------------------------------------------------
SOCK=$TMP/redis/redis.sock # SONiC's /var/run/redis/redis.sock, seen from inside
mkdir -p "$TMP/redis/sonic-db" "$TMP/seg" "$TMP/hostdev"
chown "0:$MGID" "$TMP/seg"
chmod 2750 "$TMP/seg" # setgid: the segment gets the directory's group
# SONiC's database_config.json beside the socket, for a portsyncd that reads it.
cat >"$TMP/redis/sonic-db/database_config.json" <<'JSON'
{
    "INSTANCES": {"redis": {"hostname": "127.0.0.1", "port": 6379, "unix_socket_path": "/var/run/redis/redis.sock"}},
    "DATABASES": {
        "APPL_DB": {"id": 0, "separator": ":", "instance": "redis"},
        "CONFIG_DB": {"id": 4, "separator": "|", "instance": "redis"},
        "STATE_DB": {"id": 6, "separator": "|", "instance": "redis"}
    },
    "VERSION": "1.0"
}
JSON
start_redis
make_ns
seed_ports 0 4 8
start_consumer

# A syslog socket: every datagram is a line of $TMP/syslog.log.
$PY -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "ab", buffering=0) as f:
    f.write(b"listening\n")
    while True:
        f.write(s.recv(65536).rstrip(b"\n") + b"\n")' "$TMP/log.sock" "$TMP/syslog.log" &
PIDS+=($!)
wait_for 5 grep -q listening "$TMP/syslog.log"

cat >"$TMP/supervisord.conf" <<CONF
[supervisord]
nodaemon=true
logfile=$TMP/supervisord.log
pidfile=$TMP/supervisord.pid
childlogdir=$TMP
[unix_http_server]
file=$TMP/supervisor.sock
chmod=0700
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl=unix://$TMP/supervisor.sock
[include]
files = $TMP/portsyncd.conf
CONF
# The shipped entry; only the binary's path is this build's.
sed "s|/usr/bin/portsyncd|$BIN/portsyncd|" "$ENTRY" >"$TMP/portsyncd.conf"

# in_swss CMD...: CMD in the ports' namespace and a mount namespace laid out as
# the swss container sees the host: /run with only redis/ and portsyncd/, a
# private /dev/shm, a /dev of a few nodes whose /dev/log is the test's socket.
# Run it in the background: it execs, so $! is CMD's pid.
in_swss() {
    exec ip netns exec "$NS" unshare --mount --propagation private -- bash -c '
        set -e
        t=$1; shift
        mount -t tmpfs -o mode=755 swss-run /run
        mkdir /run/redis /run/portsyncd
        mount --bind "$t/redis" /run/redis
        mount --bind "$t/seg" /run/portsyncd
        mount --rbind /dev "$t/hostdev"
        mount -t tmpfs -o mode=755 swss-dev /dev
        for n in null zero full random urandom tty; do
            touch /dev/$n; mount --bind "$t/hostdev/$n" /dev/$n
        done
        mkdir /dev/shm; mount -t tmpfs -o mode=1777 swss-shm /dev/shm
        ln -s /proc/self/fd /dev/fd
        touch /dev/log; mount --bind "$t/log.sock" /dev/log
        exec "$@"' in_swss "$TMP" "$@"
}
in_swss supervisord -c "$TMP/supervisord.conf" >"$TMP/supervisord.out.log" 2>&1 &
SUP_PID=$!
PIDS+=("$SUP_PID")
ctl() { supervisorctl -c "$TMP/supervisord.conf" "$@"; }
check "supervisord reads the entry: portsyncd is known and not started (autostart=false)" \
    wait_for 10 bash -c "supervisorctl -c '$TMP/supervisord.conf' status portsyncd | grep -q STOPPED"
# Debian has no supervisord-dependent-startup plugin; it starts portsyncd through
# supervisord's startProcess once rsyslogd runs. supervisorctl does the same here.
out=$(ctl start portsyncd 2>&1) || true
check "supervisorctl start portsyncd: '$out'" bash -c "supervisorctl -c '$TMP/supervisord.conf' status portsyncd | grep -q RUNNING"
pid=$(ctl pid portsyncd)
args=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)
expect_eq "portsyncd runs with the entry's command line" "$BIN/portsyncd --shm-name /run/portsyncd/metrics " "$args"
for n in 0 4 8; do add_port "$n"; done
check "PortInitDone in APPL_DB: found Redis at SONiC's socket path" \
    wait_for 10 bash -c "[ \"\$(redis-cli -s $SOCK -n 0 HGET PORT_TABLE:PortInitDone lanes)\" = 0 ]"
check "STATE_DB PORT_TABLE|Ethernet8 state ok" wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet8' state)\" = ok ]"
check "the segment is in the shared directory, not in swss's /dev/shm" test -f "$TMP/seg/metrics"
expect_eq "the segment: owner root, the directory's group, mode 0640" "0:$MGID:640" \
    "$(stat -c %u:%g:%a "$TMP/seg/metrics" 2>/dev/null)"
v=$("$BIN/portsyncd-shmdump" --name "$TMP/seg/metrics" --format prometheus 2>/dev/null |
    awk '$1 == "portsyncd_port_init_done" { print $2 }')
expect_eq "portsyncd-shmdump on the host reads it: port_init_done" 1 "$v"
# supervisord sends each line as "portsyncd <line>" under its own ident; a
# portsyncd that logs through syslog(3) itself does so under the ident portsyncd.
check "portsyncd's lines reach syslog: PortInitDone" \
    wait_for 10 grep -Eq '(supervisord: portsyncd |portsyncd(\[[0-9]+\])?: ).*PortInitDone' "$TMP/syslog.log"
out=$(ctl stop portsyncd 2>&1) || true
check "supervisorctl stop portsyncd: '$out'" bash -c "supervisorctl -c '$TMP/supervisord.conf' status portsyncd | grep -q STOPPED"
check "portsyncd exits 0 on supervisord's SIGTERM" grep -q 'stopped: portsyncd (exit status 0)' "$TMP/supervisord.log"

# SONiC's own entry: the same with no arguments at all. Swapped in as an upgrade
# would swap it (reread, update), the segment goes to swss's private /dev/shm.
sed -i 's|^command=.*|command='"$BIN"'/portsyncd|' "$TMP/portsyncd.conf"
seed_ports 12
ctl reread >/dev/null 2>&1
ctl update portsyncd >/dev/null 2>&1 || true
ctl start portsyncd >/dev/null 2>&1 || true
check "SONiC's line, no arguments: RUNNING" bash -c "supervisorctl -c '$TMP/supervisord.conf' status portsyncd | grep -q RUNNING"
pid=$(ctl pid portsyncd)
expect_eq "no arguments" "$BIN/portsyncd " "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
# A cold start of portsyncd alone (its ports consumed, their netdevs there):
# taken over without touching them (portsyncd(8), OLD INTERFACES); a new one is synced.
add_port 12
check "no arguments: a new port reaches STATE_DB" \
    wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet12' state)\" = ok ]"
ip -n "$NS" link set p12 down
check "no arguments: its flap reaches STATE_DB" \
    wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet12' netdev_oper_status)\" = down ]"
check "no arguments: the segment is swss's /dev/shm/portsyncd-metrics" test -f "/proc/$pid/root/dev/shm/portsyncd-metrics"
check "... a private /dev/shm, not the host's" \
    test "$(stat -c %d "/proc/$pid/root/dev/shm")" != "$(stat -c %d /dev/shm)"
ctl stop portsyncd >/dev/null 2>&1 || true
kill -TERM "$SUP_PID" 2>/dev/null
wait "$SUP_PID" 2>/dev/null

# --- the sidecar's docker run line ---------------------------------------------------------
rc=0
"$SIDECAR" --print --listen '[2001:db8::5]:9090' --user 65534:65534 --group "$MGID" >"$TMP/run.txt" 2>"$TMP/run.err" || rc=$?
check "run-exporter-sidecar.sh --print (rc=$rc) $(cat "$TMP/run.err")" test "$rc" -eq 0
out=$($PY - "$TMP/run.txt" "$MGID" "$ENTRY" <<'PYEOF'
import configparser, shlex, sys
argv = open(sys.argv[1]).read().split("\n")[:-1]
gid = sys.argv[2]
bad = []
if argv[:2] != ["docker", "run"]:
    bad.append("not a docker run line: %s" % argv[:2])
opts, i = {}, 2
while i < len(argv) and argv[i].startswith("-"):
    # every option the line uses takes a value except these
    if argv[i] in ("--detach", "--read-only"):
        opts.setdefault(argv[i], []).append(True); i += 1
    else:
        opts.setdefault(argv[i], []).append(argv[i + 1]); i += 2
image, args = argv[i], argv[i + 1:]
def want(flag, value, why):
    if value not in opts.get(flag, []):
        bad.append("%s %s missing (%s)" % (flag, value, why))
want("--network", "host", "listens on the management address")
want("--read-only", True, "read-only root")
want("--cap-drop", "ALL", "no capabilities")
want("--security-opt", "no-new-privileges", "cannot gain privileges")
want("--user", "65534:65534", "its own user")
want("--group-add", gid, "the segment's group, by number")
want("--ipc", "private", "its own IPC namespace and /dev/shm")
for f in ("--cap-add", "--privileged", "--pid", "--userns", "--uts", "--volume", "-v", "--volumes-from", "--device", "--env-file"):
    if f in opts:
        bad.append("%s must not be there (%s)" % (f, opts[f]))
mounts = sorted(opts.get("--mount", []))
expect = sorted(["type=bind,source=/run/portsyncd,target=/run/portsyncd,readonly",
                 "type=bind,source=/etc/portsyncd/metrics,target=/etc/portsyncd/metrics,readonly"])
if mounts != expect:
    bad.append("mounts %s, expected exactly the segment directory and the certificates, read-only" % mounts)
c = configparser.RawConfigParser(inline_comment_prefixes=(";", "#"))
c.read(sys.argv[3])
seg = shlex.split(c["program:portsyncd"]["command"])[2]
if "--shm-name=" + seg not in args:
    bad.append("exporter args %s do not name the entry's segment %s" % (args, seg))
if "--web.listen-address=[2001:db8::5]:9090" not in args:
    bad.append("exporter args %s do not listen on --listen" % args)
print("; ".join(bad) or "%d docker options, image %s" % (sum(map(len, opts.values())), image))
sys.exit(1 if bad else 0)
PYEOF
) && rc=0 || rc=$?
check "the docker run line has the required flags and nothing more: $out" test "$rc" -eq 0
# The exporter arguments after the image pass the exporter's own pre-flight.
"$DEPLOY/gen-certs.sh" --dir "$TMP/certs" --host localhost --days 2 >/dev/null
mapfile -t exp_args < <(sed -n '/^portsyncd-exporter:latest$/,$p' "$TMP/run.txt" | tail -n +2)
out=$(PORTSYNCD_METRICS_CERT=$TMP/certs/server.crt PORTSYNCD_METRICS_KEY=$TMP/certs/server.key \
    PORTSYNCD_METRICS_CA=$TMP/certs/ca.crt "$BIN/portsyncd-exporter" "${exp_args[@]}" --check-config 2>&1 | tail -n 1) && rc=0 || rc=$?
check "the exporter accepts the sidecar's arguments (${exp_args[*]}): rc=$rc $out" test "$rc" -eq 0
if command -v docker >/dev/null; then
    # The CLI's own option list (no engine is contacted for --help).
    help=$(env -u DOCKER_HOST docker run --help 2>/dev/null || true)
    missing=$(sed -n '3,/^portsyncd-exporter:latest$/p' "$TMP/run.txt" | grep '^--' | grep -v '^--shm' |
        while read -r f; do grep -q -- "$f\b" <<<"$help" || echo "$f"; done)
    check "every option is one docker run knows ('${missing}')" test -z "$missing"
else
    echo "skip - no docker CLI to list docker run's options"
fi
rc=0; "$SIDECAR" --print --listen '[::1]:9090' --user 65534:65534 --group 0 >/dev/null 2>"$TMP/err" || rc=$?
check "refuses root's group for the segment (rc=$rc): $(cat "$TMP/err")" bash -c "[ $rc -eq 2 ] && grep -q \"root's group\" '$TMP/err'"
out=$("$SIDECAR" --print --asic 1 --listen '[2001:db8::5]:9092' --user 65534:65534 --group "$MGID" | tr '\n' ' ')
check "--asic 1: its own container name and ASIC 1's directory, seen at /run/portsyncd inside" \
    bash -c "grep -q -- '--name portsyncd-exporter1 ' <<<'$out' && grep -q 'source=/run/portsyncd1,target=/run/portsyncd,readonly' <<<'$out'"
rc=0; "$SIDECAR" --print --listen '[::1]:9090' --user 0:0 --group "$MGID" >/dev/null 2>"$TMP/err" || rc=$?
check "refuses to run the sidecar as root (rc=$rc): $(cat "$TMP/err")" bash -c "[ $rc -eq 2 ] && grep -q 'is root' '$TMP/err'"

# --- the shared directory, as the host's tmpfiles.d makes it at boot ---------------------------
if command -v systemd-tmpfiles >/dev/null; then
    R=$TMP/hostroot
    mkdir -p "$R/etc/tmpfiles.d" "$R/run"
    printf 'root:x:0:0::/root:/bin/sh\n' >"$R/etc/passwd"
    printf 'root:x:0:\nportsyncd-metrics:x:%s:\n' "$MGID" >"$R/etc/group"
    cp "$DEPLOY/sonic/portsyncd.tmpfiles" "$R/etc/tmpfiles.d/portsyncd.conf"
    out=$(systemd-tmpfiles --create --root="$R" portsyncd.conf 2>&1) && rc=0 || rc=$?
    check "systemd-tmpfiles creates /run/portsyncd (rc=$rc) $out" test "$rc" -eq 0
    expect_eq "/run/portsyncd: setgid, root, group portsyncd-metrics, like the test's shared directory" \
        "$(stat -c %a:%u:%g "$TMP/seg")" "$(stat -c %a:%u:%g "$R/run/portsyncd" 2>/dev/null)"
else
    echo "skip - systemd-tmpfiles is not available"
fi

# --- the host-service alternative ----------------------------------------------------------
if command -v systemd-analyze >/dev/null; then
    mkdir -p "$TMP/units/portsyncd-exporter.service.d"
    sed "s|/usr/bin/|$BIN/|" "$DEPLOY/systemd/portsyncd-exporter.service" >"$TMP/units/portsyncd-exporter.service"
    cp "$DEPLOY/sonic/portsyncd-exporter.service.d/sonic.conf" "$TMP/units/portsyncd-exporter.service.d/"
    # verify reads the drop-in directory beside the unit (an unknown key there is reported).
    out=$(cd "$TMP/units" && systemd-analyze verify portsyncd-exporter.service 2>&1) || true
    check "systemd-analyze verify: the unit with the SONiC drop-in '${out}'" test -z "$out"
else
    echo "skip - systemd-analyze is not available"
fi
set -a; source "$DEPLOY/sonic/portsyncd-exporter.default"; set +a
# shellcheck disable=SC2086
out=$(PORTSYNCD_METRICS_CERT=$TMP/certs/server.crt PORTSYNCD_METRICS_KEY=$TMP/certs/server.key \
    PORTSYNCD_METRICS_CA=$TMP/certs/ca.crt "$BIN/portsyncd-exporter" $PORTSYNCD_EXPORTER_OPTS --check-config 2>&1 | tail -n 1) && rc=0 || rc=$?
check "the SONiC options file's PORTSYNCD_EXPORTER_OPTS pass the pre-flight: rc=$rc $out" test "$rc" -eq 0
finish
