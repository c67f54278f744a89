#!/usr/bin/env bash
# The deploy kit is valid: gen-certs.sh makes a P-384/SHA-384 chain with the right
# SANs and 0600 keys and refuses to overwrite; the alert rules pass promtool check
# and their unit tests; the scrape config passes promtool check config; the nginx
# example passes nginx -t; the systemd units pass systemd-analyze verify; the
# Grafana dashboard is valid JSON whose queries name real metrics.
source "$(dirname "$0")/lib.sh"
DEPLOY=$(cd "$(dirname "$0")/../../deploy" && pwd)
T=$TMP

check "gen-certs.sh writes the chain" "$DEPLOY/gen-certs.sh" --dir "$T/certs" --host sw1.example --client prometheus --client nginx
check "server certificate is P-384" bash -c "openssl x509 -in $T/certs/server.crt -noout -text | grep -q 'NIST CURVE: P-384'"
check "signed with ecdsa-with-SHA384" bash -c "openssl x509 -in $T/certs/server.crt -noout -text | grep -q 'Signature Algorithm: ecdsa-with-SHA384'"
check "server SANs: host, localhost, ::1" bash -c "openssl x509 -in $T/certs/server.crt -noout -ext subjectAltName | grep -q 'DNS:sw1.example, DNS:localhost, IP Address:0:0:0:0:0:0:0:1'"
check "client certificate verifies against the CA" openssl verify -CAfile "$T/certs/ca.crt" "$T/certs/prometheus.crt"
check "client certificate is for client auth" bash -c "openssl x509 -in $T/certs/prometheus.crt -noout -ext extendedKeyUsage | grep -q 'TLS Web Client Authentication'"
check "key files are 0600" bash -c "[ \"\$(stat -c %a $T/certs/*.key | sort -u)\" = 600 ]"
rc=0; "$DEPLOY/gen-certs.sh" --dir "$T/certs" >/dev/null 2>"$T/err" || rc=$?
check "refuses to overwrite without --force (rc=$rc): $(cat "$T/err")" bash -c "[ $rc -eq 2 ] && grep -q 'pass --force' $T/err"
check "overwrites with --force" "$DEPLOY/gen-certs.sh" --dir "$T/certs" --force
rc=0; "$DEPLOY/gen-certs.sh" --dir "$T/x" --days abc >/dev/null 2>"$T/err" || rc=$?
check "bad --days is one clear line (rc=$rc)" bash -c "[ $rc -eq 2 ] && grep -q \"days 'abc'\" $T/err"

# A fleet: one CA, a server certificate per switch naming its management address.
check "gen-certs.sh server: a switch's certificate from the existing CA" \
    "$DEPLOY/gen-certs.sh" --dir "$T/certs" --days 30 server leaf-01.example.net 2001:db8::11 leaf-01-mgmt
check "server: chains to the CA" openssl verify -CAfile "$T/certs/ca.crt" "$T/certs/leaf-01.example.net/server.crt"
check "server: SANs are the name and the addresses" bash -c "openssl x509 -in $T/certs/leaf-01.example.net/server.crt -noout -ext subjectAltName | grep -q 'DNS:leaf-01.example.net, IP Address:2001:DB8:0:0:0:0:0:11, DNS:leaf-01-mgmt'"
check "server: for server auth, P-384, SHA-384" bash -c "openssl x509 -in $T/certs/leaf-01.example.net/server.crt -noout -text | grep -q 'TLS Web Server Authentication' && openssl x509 -in $T/certs/leaf-01.example.net/server.crt -noout -text | grep -q 'NIST CURVE: P-384' && openssl x509 -in $T/certs/leaf-01.example.net/server.crt -noout -text | grep -q 'ecdsa-with-SHA384'"
check "server: key 0600, the CA certificate beside it" bash -c "[ \"\$(stat -c %a $T/certs/leaf-01.example.net/server.key)\" = 600 ] && cmp -s $T/certs/ca.crt $T/certs/leaf-01.example.net/ca.crt"
check "server: the CA key is not copied" test ! -e "$T/certs/leaf-01.example.net/ca.key"
check "two switches get two serial numbers" bash -c "'$DEPLOY/gen-certs.sh' --dir '$T/certs' server leaf-02.example.net 2001:db8::12 >/dev/null && [ \"\$(openssl x509 -in $T/certs/leaf-01.example.net/server.crt -noout -serial)\" != \"\$(openssl x509 -in $T/certs/leaf-02.example.net/server.crt -noout -serial)\" ]"
check "gen-certs.sh client: an agent's client certificate" bash -c "'$DEPLOY/gen-certs.sh' --dir '$T/certs' client agent-1 >/dev/null && openssl verify -CAfile $T/certs/ca.crt $T/certs/agent-1.crt >/dev/null && openssl x509 -in $T/certs/agent-1.crt -noout -ext extendedKeyUsage | grep -q 'Client Authentication'"
for bad in "server leaf-01.example.net:refuses to overwrite:pass --force" "server sw9 a/b:a bad address:neither an IP address nor a DNS name" \
    "server:no NAME:needs a NAME"; do
    IFS=: read -r args what msg <<<"$bad"
    # shellcheck disable=SC2086
    rc=0; "$DEPLOY/gen-certs.sh" --dir "$T/certs" $args >/dev/null 2>"$T/err" || rc=$?
    check "gen-certs.sh $args: $what (rc=$rc): $(cat "$T/err")" bash -c "[ $rc -eq 2 ] && grep -q '$msg' $T/err"
done
rc=0; "$DEPLOY/gen-certs.sh" --dir "$T/no-ca" server sw9 >/dev/null 2>"$T/err" || rc=$?
check "gen-certs.sh server without a CA: one line (rc=$rc): $(cat "$T/err")" bash -c "[ $rc -eq 2 ] && grep -q 'no CA in' $T/err && [ ! -e $T/no-ca/sw9 ]"

check "promtool check rules: fleet rules" promtool check rules "$DEPLOY/fleet/portsyncd-fleet-rules.yml"
check "promtool test rules: fleet rules" bash -c "cd $DEPLOY/fleet && promtool test rules portsyncd-fleet-rules.test.yml"
mkdir -p "$T/agent/switches"
cp "$T/certs/ca.crt" "$T/agent/"
cp "$T/certs/agent-1.crt" "$T/agent/agent.crt"
cp "$T/certs/agent-1.key" "$T/agent/agent.key"
cp "$DEPLOY/fleet/switches/example.yml" "$T/agent/switches/"
sed -e "s|/etc/prometheus/portsyncd/|$T/agent/|; s|/etc/prometheus/remote-write/|$T/agent/|" \
    "$DEPLOY/fleet/prometheus-agent.yml" >"$T/agent/prometheus-agent.yml"
check "promtool check config: the agent's configuration and its file_sd example" \
    bash -c "promtool check config '$T/agent/prometheus-agent.yml' 2>&1 | grep -q 'SUCCESS' && ! promtool check config '$T/agent/prometheus-agent.yml' 2>&1 | grep -qi 'fail'"
check "promtool check rules" promtool check rules "$DEPLOY/prometheus/portsyncd-alerts.yml"
check "promtool test rules" bash -c "cd $DEPLOY/prometheus && promtool test rules portsyncd-alerts.test.yml"
mkdir -p "$T/prom"
cp "$DEPLOY/prometheus/portsyncd-alerts.yml" "$T/prom/"
cp "$T/certs/ca.crt" "$T/certs/prometheus.crt" "$T/certs/prometheus.key" "$T/prom/"
sed -e "s|/etc/prometheus/portsyncd/|$T/prom/|; s|/etc/prometheus/portsyncd-alerts.yml|$T/prom/portsyncd-alerts.yml|" \
    "$DEPLOY/prometheus/prometheus.yml" >"$T/prom/prometheus.yml"
check "promtool check config" promtool check config "$T/prom/prometheus.yml"

if command -v nginx >/dev/null; then
    sed "s|/etc/portsyncd/metrics|$T/certs|g" "$DEPLOY/nginx/portsyncd-exporter.conf" >"$T/site.conf"
    printf 'pid %s/nginx.pid;\nerror_log %s/error.log;\nevents {}\nhttp {\n  access_log off;\n  include %s/site.conf;\n}\n' "$T" "$T" "$T" >"$T/nginx.conf"
    check "nginx -t accepts the reverse-proxy example" nginx -t -q -c "$T/nginx.conf" -p "$T"
else
    echo "skip - nginx is not installed"
fi

if command -v systemd-analyze >/dev/null; then
    mkdir -p "$T/units"
    for u in portsyncd portsyncd-exporter; do
        sed "s|/usr/bin/|$BIN/|" "$DEPLOY/systemd/$u.service" >"$T/units/$u.service"
    done
    # Missing binaries are reported; a missing exporter binary is only fine until it is built.
    [ -x "$BIN/portsyncd-exporter" ] || sed -i "s|$BIN/portsyncd-exporter|/bin/true|" "$T/units/portsyncd-exporter.service"
    out=$(cd "$T/units" && systemd-analyze verify portsyncd.service portsyncd-exporter.service 2>&1) || true
    check "systemd-analyze verify: '${out}'" test -z "$out"
else
    echo "skip - systemd-analyze is not available"
fi

check "Grafana dashboard is valid JSON with panels" /usr/bin/python3 -c "
import json, re, sys
d = json.load(open('$DEPLOY/grafana/portsyncd-dashboard.json'))
assert len(d['panels']) >= 10
names = set()
for p in d['panels']:
    for t in p['targets']:
        names |= set(re.findall(r'(portsyncd_[a-z_]+)', t['expr']))
top = '$(cd "$(dirname "$0")/../.." && pwd)'
known = ''.join(open(f).read() for f in (top + '/README.md', top + '/exporter/README.md', '$DEPLOY/prometheus/portsyncd-alerts.yml'))
missing = [n for n in names if re.sub(r'_(bucket|sum|count)$', '', n) not in known]
assert not missing, missing
"
finish
