#!/usr/bin/env bash
# Cold start with 32 CONFIG_DB ports; portsyncd first, netdevs after (as
# orchagent would create them): APPL_DB gets every port through the
# producer-state table, PortConfigDone count=32, STATE_DB matches the kernel,
# PortInitDone appears once, only after the last port exists.
source "$(dirname "$0")/lib.sh"
start_redis
make_ns
ports=$(seq 0 4 124)
seed_ports $ports
start_consumer
start_portsyncd
check "PortConfigDone count=32 in APPL_DB" wait_for 10 bash -c "[ \"\$(redis-cli -s $SOCK -n 0 HGET PORT_TABLE:PortConfigDone count)\" = 32 ]"
expect_eq "Ethernet64 fields copied verbatim" "256,257 100000 etp17 9100 up 16" \
    "$(appl HMGET PORT_TABLE:Ethernet64 lanes speed alias mtu admin_status index | tr '\n' ' ' | sed 's/ $//')"
expect_eq "APPL_DB PORT_TABLE has 32 ports" 32 "$(appl KEYS 'PORT_TABLE:Ethernet*' | wc -l)"
expect_eq "nothing left unconsumed in the producer-state table" 0 "$(appl SCARD PORT_TABLE_KEY_SET)"
check "portsyncd_port_config_done is 1" metric_is portsyncd_port_config_done 1

# All but the last port: PortInitDone must wait.
for n in $(seq 0 4 120); do add_port "$n"; done
check "STATE_DB has 31 ports" wait_for 10 bash -c "[ \$(redis-cli -s $SOCK -n 6 KEYS 'PORT_TABLE|Ethernet*' | wc -l) = 31 ]"
sleep 0.3
expect_eq "no PortInitDone while Ethernet124 has no netdev" 0 "$(appl EXISTS PORT_TABLE:PortInitDone)"
add_port 124
check "PortInitDone appears after the last netdev" wait_for 10 bash -c "[ \"\$(redis-cli -s $SOCK -n 0 HGET PORT_TABLE:PortInitDone lanes)\" = 0 ]"
check "STATE_DB has 32 ports" wait_for 5 bash -c "[ \$(redis-cli -s $SOCK -n 6 KEYS 'PORT_TABLE|Ethernet*' | wc -l) = 32 ]"

# Vary the state a little: an MTU, an admin-down port, an oper-down port.
ip -n "$NS" link set Ethernet8 mtu 9100
ip -n "$NS" link set Ethernet12 down
ip -n "$NS" link set p16 down
check "STATE_DB follows the changes" wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HMGET 'PORT_TABLE|Ethernet16' netdev_oper_status | head -1)\" = down ]"
sleep 0.3
# Every STATE_DB entry matches what `ip link` says.
mismatch=0
while read -r _ name flags rest; do
    name=${name%:}; name=${name%@*}
    case $name in Ethernet*) ;; *) continue ;; esac
    mtu=$(sed -n 's/.*mtu \([0-9]*\).*/\1/p' <<<"$rest")
    admin=down; [[ $flags == *"<"*UP* ]] && [[ $flags =~ [\<,]UP[,\>] ]] && admin=up
    oper=down; [[ $flags == *LOWER_UP* ]] && oper=up
    got="$(state HMGET "PORT_TABLE|$name" state netdev_oper_status admin_status mtu | tr '\n' ' ')"
    want="ok $oper $admin $mtu "
    [ "$got" = "$want" ] || { echo "  $name: STATE_DB '$got' kernel '$want'"; mismatch=$((mismatch + 1)); }
done < <(ip -n "$NS" -o link show)
expect_eq "STATE_DB matches ip link for every port" 0 "$mismatch"
expect_eq "PortInitDone logged once" 1 "$(grep -c 'PortInitDone:' "$TMP/portsyncd.log")"
check "portsyncd_port_init_done is 1" metric_is portsyncd_port_init_done 1
check "SIGTERM exits 0" stop_portsyncd
finish
