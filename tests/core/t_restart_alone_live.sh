#!/usr/bin/env bash
# portsyncd restarted alone on a live switch, no warm flag, default options:
# no netdev loses IFF_UP (watched by `ip monitor link`, an independent netlink
# listener), zero STATE_DB PORT_TABLE writes when nothing changed, and when
# something changed while it was away, STATE_DB converges within a second with
# one write for that port only. WARM_RESTART_TABLE state says disabled (no warm
# flag), as on any cold start.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/warmlib.sh"
start_redis
make_ns
check "a live switch: 4 ports in STATE_DB" live_switch 0 4 8 12
before=$(state_dump 0 4 8 12)
iplink_start
ks_start
start_portsyncd
check "recognised as a restart alone" \
    wait_for 5 grep -q 'portsyncd restarted alone on a live switch: 4 of 4 CONFIG_DB ports already consumed into APPL_DB, 4 of them with their netdev' "$TMP/portsyncd.log"
check "PortInitDone written" wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 0 HGET PORT_TABLE:PortInitDone lanes)\" = 0 ]"
check "reconciled" wait_for 10 grep -q 'reconciled (every CONFIG_DB port settled)' "$TMP/portsyncd.log"
sleep 1
expect_eq "no netdev lost IFF_UP" "" "$(iplink_lost_up)"
check "every port still admin up" bash -c "for n in 0 4 8 12; do ip -n $NS -o link show Ethernet\$n | grep -q '[<,]UP[,>]' || exit 1; done"
expect_eq "no STATE_DB PORT_TABLE write" 0 "$(ks_count)"
expect_eq "STATE_DB as before" "$before" "$(state_dump 0 4 8 12)"
expect_eq "state disabled (no warm flag)" disabled "$(warm_state)"
check "portsyncd_restart_alone 1" metric_is portsyncd_restart_alone 1
check "nothing brought down or ignored" bash -c "! grep -qE 'brought down|ignored for this run' '$TMP/portsyncd.log'"
# Its events flow at once after the takeover.
ip -n "$NS" link set p8 down
check "a flap after the takeover reaches STATE_DB" \
    wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet8' netdev_oper_status)\" = down ]"
ip -n "$NS" link set p8 up
wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet8' netdev_oper_status)\" = up ]"
check "second run exits 0" stop_portsyncd

# Something changed while portsyncd was away: Ethernet4's carrier lost.
ip -n "$NS" link set p4 down
iplink_start
ks_start
t0=$(date +%s%N)
start_portsyncd
check "Ethernet4 down reaches STATE_DB" \
    wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet4' netdev_oper_status)\" = down ]"
ms=$(ms_since "$t0")
echo "     (converged $ms ms after portsyncd was started)"
check "converged within a second ($ms ms)" test "$ms" -lt 1000
sleep 1
expect_eq "one STATE_DB write, for Ethernet4" "1 1" "$(ks_count) $(ks_count Ethernet4)"
expect_eq "no netdev lost IFF_UP" "" "$(iplink_lost_up | grep -v '^[0-9]*: Ethernet4@' || true)"
check "STATE_DB matches the kernel" state_matches_kernel 0 4 8 12
check "third run exits 0" stop_portsyncd
finish
