#!/usr/bin/env bash
# Packaging: CPack builds a .deb that holds the binaries, units, example configs
# and docs; its binaries run; and, as root on a machine without the package,
# `dpkg -i` installs it (creating the exporter's user and the metrics group) and
# `dpkg --purge` removes it again.
source "$(dirname "$0")/lib.sh"
BUILD=$(cd "$BIN/.." && pwd)
T=$(mktemp -d)
on_exit "rm -rf $T"
(cd "$BUILD" && cpack -G DEB -B "$T/out" >"$T/cpack.log" 2>&1)
deb=$(ls "$T"/out/portsyncd_*.deb 2>/dev/null | head -1)
check "cpack produced a .deb ($(basename "${deb:-none}"))" test -n "$deb"
dpkg-deb -c "$deb" | awk '{print $6}' >"$T/files"
for f in ./usr/bin/portsyncd ./usr/bin/portsyncd-shmdump ./usr/bin/portsyncd-exporter \
    ./usr/lib/systemd/system/portsyncd.service ./usr/lib/systemd/system/portsyncd-exporter.service \
    ./etc/default/portsyncd ./etc/default/portsyncd-exporter ./usr/share/portsyncd/gen-certs.sh \
    ./usr/share/portsyncd/prometheus/portsyncd-alerts.yml ./usr/share/doc/portsyncd/README.md; do
    check "the package holds $f" grep -qx "$f" "$T/files"
done
check "dependencies come from the binaries (dpkg-shlibdeps)" bash -c "dpkg-deb -f '$deb' Depends | grep -q libhiredis"
check "portsyncd's JSON parser is among them" bash -c "dpkg-deb -f '$deb' Depends | grep -q libjansson4"
dpkg-deb -x "$deb" "$T/root"
for b in portsyncd portsyncd-shmdump portsyncd-exporter; do
    check "$b from the package runs" bash -c "'$T/root/usr/bin/$b' --version | grep -q '0\\.'"
done
if [ "$(id -u)" -eq 0 ] && ! dpkg-query -W portsyncd >/dev/null 2>&1; then
    check "dpkg -i installs it" bash -c "dpkg -i '$deb' >'$T/dpkg.log' 2>&1"
    check "installed portsyncd runs" bash -c "/usr/bin/portsyncd --version | grep -q '^portsyncd '"
    check "the exporter's user exists and may read the segment" bash -c "id -nG portsyncd-exporter | grep -qw portsyncd-metrics"
    check "dpkg --purge removes it" bash -c "dpkg --purge portsyncd >>'$T/dpkg.log' 2>&1 && [ ! -e /usr/bin/portsyncd ]"
else
    echo "skip - dpkg -i: not root, or a portsyncd package is already installed here"
fi
finish
