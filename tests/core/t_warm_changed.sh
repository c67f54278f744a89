#!/usr/bin/env bash
# Warm restart, one port changed while portsyncd was away (Ethernet8's carrier
# lost and its MTU changed): exactly one STATE_DB PORT_TABLE write, for that
# port, with the kernel's values, written at once (the dump found it), and no
# write for the ports that did not change.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/warmlib.sh"
start_redis
make_ns
check "a live switch: 4 ports in STATE_DB" live_switch 0 4 8 12
ip -n "$NS" link set p8 down
ip -n "$NS" link set Ethernet8 mtu 9000
state HSET "WARM_RESTART_ENABLE_TABLE|system" enable true >/dev/null
ks_start
t0=$(date +%s%N)
start_portsyncd
check "Ethernet8's change reaches STATE_DB" \
    wait_for 10 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet8' mtu)\" = 9000 ]"
echo "     (Ethernet8 in STATE_DB $(ms_since "$t0") ms after portsyncd was started)"
check "state reaches reconciled" wait_for 10 warm_state_is reconciled
sleep 1
expect_eq "exactly one STATE_DB PORT_TABLE write" 1 "$(ks_count)"
expect_eq "... for Ethernet8" 1 "$(ks_count Ethernet8)"
expect_eq "Ethernet8 oper status is the kernel's" "$(carrier 8)" "$(state_field Ethernet8 netdev_oper_status)"
expect_eq "Ethernet8 mtu is the kernel's" 9000 "$(state_field Ethernet8 mtu)"
expect_eq "Ethernet8 admin status is the kernel's" up "$(state_field Ethernet8 admin_status)"
check "STATE_DB matches the kernel" state_matches_kernel 0 4 8 12
check "logged as changed while away" grep -q 'Ethernet8 changed while portsyncd was away (oper down admin up mtu 9000): written' "$TMP/portsyncd.log"
check "PortInitDone written" wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 0 HGET PORT_TABLE:PortInitDone lanes)\" = 0 ]"
check "warm run exits 0" stop_portsyncd
finish
