#!/usr/bin/env bash
# Packaging: CPack builds a .deb that holds the binaries, units, example configs,
# docs and man pages; its binaries run and its man pages render; and, as root on
# a machine without the package, `dpkg -i` installs it (creating the exporter's
# user and the metrics group), `man` finds the installed pages, and
# `dpkg --purge` removes it again.
source "$(dirname "$0")/lib.sh"
PAGES=(man8/portsyncd.8.gz man8/portsyncd-exporter.8.gz man1/portsyncd-shmdump.1.gz)
BUILD=$(cd "$BIN/.." && pwd)
T=$TMP
(cd "$BUILD" && cpack -G DEB -B "$T/out" >"$T/cpack.log" 2>&1)
deb=$(ls "$T"/out/portsyncd_*.deb 2>/dev/null | head -1)
check "cpack produced a .deb ($(basename "${deb:-none}"))" test -n "$deb"
dpkg-deb -c "$deb" | awk '{print $6}' >"$T/files"
for f in ./usr/bin/portsyncd ./usr/bin/portsyncd-shmdump ./usr/bin/portsyncd-exporter \
    ./usr/lib/systemd/system/portsyncd.service ./usr/lib/systemd/system/portsyncd-exporter.service \
    ./etc/default/portsyncd ./etc/default/portsyncd-exporter ./usr/share/portsyncd/gen-certs.sh \
    ./usr/share/portsyncd/prometheus/portsyncd-alerts.yml ./usr/share/doc/portsyncd/README.md \
    ./usr/share/portsyncd/sonic/supervisord-portsyncd.conf ./usr/share/portsyncd/sonic/run-exporter-sidecar.sh \
    ./usr/share/portsyncd/fleet/portsyncd-fleet-rules.yml "${PAGES[@]/#/./usr/share/man/}"; do
    check "the package holds $f" grep -qx "$f" "$T/files"
done
check "the sidecar's run script stays executable" bash -c "dpkg-deb -c '$deb' | grep 'sonic/run-exporter-sidecar.sh' | grep -q '^-rwxr-xr-x'"
check "dependencies come from the binaries (dpkg-shlibdeps)" bash -c "dpkg-deb -f '$deb' Depends | grep -q libhiredis"
check "portsyncd's JSON parser is among them" bash -c "dpkg-deb -f '$deb' Depends | grep -q libjansson4"
dpkg-deb -x "$deb" "$T/root"
for b in portsyncd portsyncd-shmdump portsyncd-exporter; do
    check "$b from the package runs" bash -c "'$T/root/usr/bin/$b' --version | grep -q '0\\.'"
done
for p in "${PAGES[@]}"; do
    out=$(man --warnings -l "$T/root/usr/share/man/$p" 2>&1 >/dev/null) && rc=0 || rc=$?
    check "man -l of the package's $p renders clean (rc=$rc) '$out'" test "$rc" -eq 0 -a -z "$out"
done
if [ "$(id -u)" -eq 0 ] && ! dpkg-query -W portsyncd >/dev/null 2>&1; then
    check "dpkg -i installs it" bash -c "dpkg -i '$deb' >'$T/dpkg.log' 2>&1"
    check "installed portsyncd runs" bash -c "/usr/bin/portsyncd --version | grep -q '^portsyncd '"
    for p in "${PAGES[@]}"; do
        n=$(basename "$p" .gz)
        check "man finds the installed ${n%.*}(${n##*.})" \
            test "$(man -w "${n##*.}" "${n%.*}" 2>/dev/null)" = "/usr/share/man/$p"
        check "man -l /usr/share/man/$p renders it" \
            bash -c "man -l /usr/share/man/$p 2>/dev/null | grep -q '^NAME'"
    done
    check "the exporter's user exists and may read the segment" bash -c "id -nG portsyncd-exporter | grep -qw portsyncd-metrics"
    check "dpkg --purge removes it" bash -c "dpkg --purge portsyncd >>'$T/dpkg.log' 2>&1 && [ ! -e /usr/bin/portsyncd ] && [ ! -e /usr/share/man/man8/portsyncd.8.gz ]"
else
    echo "skip - dpkg -i: not root, or a portsyncd package is already installed here"
fi
finish
