#!/usr/bin/env bash
# deploy/sonic/run-exporter-sidecar.sh - start portsyncd-exporter as a sidecar
# container beside SONiC's swss container (see deploy/sonic/README.md).
#
#   deploy/sonic/run-exporter-sidecar.sh [--print] [--image IMAGE] [--listen ADDR]
#                                        [--user USER] [--group GROUP] [--asic N]
#
#   --image IMAGE   the exporter's image (default portsyncd-exporter:latest)
#   --listen ADDR   [IPv6]:port to listen on (default: the first global IPv6
#                   address of eth0, SONiC's management port, port 9090)
#   --user USER     the exporter's own user, a name or uid[:gid] (default
#                   portsyncd-exporter); it must own server.key (mode 0600)
#   --group GROUP   the group that may read the metrics segment, a name or gid
#                   (default portsyncd-metrics): the group of /run/portsyncd,
#                   whose setgid bit gives the segment that group
#   --asic N        on a multi-ASIC switch, the exporter of ASIC N: the container
#                   portsyncd-exporterN reads /run/portsyncdN (swss N's directory,
#                   seen at /run/portsyncd inside) and listens on port 9091+N
#   --print         print the docker command, one argument per line, and run nothing
#
# The container gets its own PID, IPC and mount namespaces (docker's defaults),
# the host's network (to listen on the management address), no capabilities, no
# way to gain privileges, a read-only root and two read-only mounts: the segment's
# directory and the certificates. Nothing else of the host is visible to it.
set -euo pipefail
image=portsyncd-exporter:latest
listen=
user=portsyncd-exporter
group=portsyncd-metrics
print=0
asic=
seg_dir=/run/portsyncd
cert_dir=/etc/portsyncd/metrics
die() { echo "run-exporter-sidecar.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
    --image) image=${2:?--image needs an image}; shift 2 ;;
    --listen) listen=${2:?--listen needs [IPv6]:port}; shift 2 ;;
    --user) user=${2:?--user needs a user}; shift 2 ;;
    --group) group=${2:?--group needs a group}; shift 2 ;;
    --asic) asic=${2:?--asic needs a number}; shift 2 ;;
    --print) print=1; shift ;;
    -h | --help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done

[ -z "$asic" ] || [[ $asic =~ ^[0-9]+$ ]] || die "--asic '$asic' is not an ASIC number"
port=$([ -n "$asic" ] && echo $((9091 + asic)) || echo 9090)

# Numbers, not names: the exporter's image has no entry for the host's users.
case $user in
*:*) uid=${user%%:*} gid=${user#*:} ;;
*) uid=$(id -u "$user" 2>/dev/null) && gid=$(id -g "$user") || die "--user '$user' is not a user on this host" ;;
esac
[[ $uid =~ ^[0-9]+$ && $gid =~ ^[0-9]+$ ]] || die "--user '$user': expected a user name or uid:gid"
[ "$uid" -ne 0 ] || die "--user '$user' is root: the exporter runs as its own unprivileged user"
if [[ $group =~ ^[0-9]+$ ]]; then
    sgid=$group
else
    sgid=$(getent group "$group" | cut -d: -f3) && [ -n "$sgid" ] || die "--group '$group' is not a group on this host"
fi
[ "$sgid" -ne 0 ] || die "--group '$group' is root's group: give the segment a group of its own (portsyncd-metrics)"
if [ -z "$listen" ]; then
    a=$(ip -6 -o addr show dev eth0 scope global 2>/dev/null | awk '{ sub("/.*", "", $4); print $4; exit }')
    [ -n "$a" ] || die "eth0 has no global IPv6 address: pass --listen [ADDR]:$port"
    listen="[$a]:$port"
fi

cmd=(
    docker run --detach --name "portsyncd-exporter$asic" --restart unless-stopped
    --network host
    --user "$uid:$gid" --group-add "$sgid"
    --cap-drop ALL --security-opt no-new-privileges
    --read-only
    --ipc private
    --pids-limit 64 --memory 128m
    --mount "type=bind,source=$seg_dir$asic,target=$seg_dir,readonly"
    --mount "type=bind,source=$cert_dir,target=$cert_dir,readonly"
    "$image"
    --shm-name="$seg_dir/metrics"
    --web.listen-address="$listen"
)
if [ "$print" -eq 1 ]; then
    printf '%s\n' "${cmd[@]}"
else
    exec "${cmd[@]}"
fi
