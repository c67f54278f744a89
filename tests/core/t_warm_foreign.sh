#!/usr/bin/env bash
# Warm restart with STATE_DB PORT_TABLE entries that portsyncd never writes:
# a name its filters ignore (not Ethernet*/PortChannel*), whether or not a
# netdev of that name exists ("lo" does, "CPU" does not). No event of theirs
# ever reaches the hold, so they are never "seen"; reconciliation must leave
# them alone rather than delete them as ports gone from the kernel (a DELLINK
# of theirs would have been ignored too).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/warmlib.sh"
start_redis
make_ns
check "a live switch: 2 ports in STATE_DB" live_switch 0 4
state HSET "PORT_TABLE|lo" owner someone-else >/dev/null
state HSET "PORT_TABLE|CPU" owner someone-else >/dev/null
state HSET "WARM_RESTART_ENABLE_TABLE|swss" enable true >/dev/null
start_portsyncd
check "state reaches reconciled" wait_for 10 warm_state_is reconciled
sleep 0.5
expect_eq "PORT_TABLE|lo kept" 1 "$(state EXISTS 'PORT_TABLE|lo')"
expect_eq "PORT_TABLE|CPU kept" 1 "$(state EXISTS 'PORT_TABLE|CPU')"
expect_eq "no stale entry removed" 0 "$(metric portsyncd_reconcile_stale_removed_total)"
check "STATE_DB matches the kernel" state_matches_kernel 0 4
check "warm run exits 0" stop_portsyncd
finish
