#!/usr/bin/env bash
# Fail-secure configuration: every refused configuration makes the exporter
# exit non-zero before it listens, with one line per problem that names the
# flag, key or file, the value, and what was expected.
source "$(dirname "$0")/lib.sh"

make_certs
K=$PKI/server.key
C=$PKI/server.crt
A=$PKI/ca.crt

# refuses DESCRIPTION RC PATTERN ENV... -- ARGS...: the exporter exits with RC,
# logs PATTERN, and never logs that it listens
refuses() {
    local what=$1 want=$2 pat=$3 rc=0
    shift 3
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    env PORTSYNCD_METRICS_CERT="$C" PORTSYNCD_METRICS_KEY="$K" PORTSYNCD_METRICS_CA="$A" \
        "${envs[@]+"${envs[@]}"}" ${PEX_WRAP:-} "$BIN/portsyncd-exporter" --shm-name="$SEG" \
        --web.listen-address='[::1]:0' "$@" >"$T/out.log" 2>&1 || rc=$?
    if [ "$rc" -eq "$want" ] && grep -qE -- "$pat" "$T/out.log" && ! grep -q 'listening on' "$T/out.log"; then
        ok "$what: exit $rc, \"$(grep -E -- "$pat" "$T/out.log" | head -n 1 | cut -c1-150)\""
    else
        not_ok "$what: expected exit $want and /$pat/ without listening; got exit $rc: $(head -c 400 "$T/out.log")"
    fi
}

# --- listen address ------------------------------------------------------------------
refuses "IPv4 listen address" 2 "--web.listen-address: '127.0.0.1:9090' is an IPv4 address" -- \
    --web.listen-address=127.0.0.1:9090
refuses "IPv4-mapped listen address" 2 "--web.listen-address: '\[::ffff:127.0.0.1\]:9090' is an IPv4-mapped" -- \
    --web.listen-address='[::ffff:127.0.0.1]:9090'
refuses "wildcard ':port' (would include IPv4)" 2 "would listen on every address, IPv4 included" -- \
    --web.listen-address=:9090
refuses "host name instead of an IPv6 literal" 2 "is not of the form \[IPv6\]:port" -- \
    --web.listen-address=localhost:9090

# --- files -------------------------------------------------------------------------
refuses "missing certificate" 1 "server certificate '$T/none.crt' \(from PORTSYNCD_METRICS_CERT\): does not exist" \
    PORTSYNCD_METRICS_CERT="$T/none.crt" --
refuses "missing key" 1 "server key '$T/none.key' \(from PORTSYNCD_METRICS_KEY\): does not exist" \
    PORTSYNCD_METRICS_KEY="$T/none.key" --
refuses "missing CA" 1 "client CA '$T/none.ca' \(from PORTSYNCD_METRICS_CA\): does not exist" \
    PORTSYNCD_METRICS_CA="$T/none.ca" --
refuses "two problems, two lines" 1 "pre-flight failed with 2 problem" \
    PORTSYNCD_METRICS_KEY="$T/none.key" PORTSYNCD_METRICS_CA="$T/none.ca" --
check "two problems: both named" bash -c "grep -q 'server key' '$T/out.log' && grep -q 'client CA' '$T/out.log'"
cp "$K" "$T/k644"
chmod 644 "$T/k644"
refuses "key file mode 0644" 1 "server key '$T/k644' has mode 0644: group or others may access it; expected 0600" \
    PORTSYNCD_METRICS_KEY="$T/k644" --
cp "$K" "$T/k640"
chmod 640 "$T/k640"
refuses "key file mode 0640" 1 "has mode 0640" PORTSYNCD_METRICS_KEY="$T/k640" --
refuses "key that does not match the certificate" 1 "server key '$PKI/client.key' does not match the certificate" \
    PORTSYNCD_METRICS_KEY="$PKI/client.key" --
echo "not a certificate" >"$T/garbage.crt"
refuses "certificate that does not parse" 1 "server certificate '$T/garbage.crt': not a PEM certificate" \
    PORTSYNCD_METRICS_CERT="$T/garbage.crt" --
install -m 600 /dev/null "$T/garbage.key"
echo "not a key" >"$T/garbage.key"
refuses "key that does not parse" 1 "server key '$T/garbage.key': not an unencrypted PEM private key" \
    PORTSYNCD_METRICS_KEY="$T/garbage.key" --
refuses "CA file that does not parse" 1 "client CA '$T/garbage.crt': holds no PEM certificate" \
    PORTSYNCD_METRICS_CA="$T/garbage.crt" --
refuses "CA file holding a leaf, not a CA" 1 "client CA '$C': certificate 1 is not a CA certificate" \
    PORTSYNCD_METRICS_CA="$C" --
refuses "expired server certificate" 1 "server certificate '$PKI/expiredserver.crt' has expired" \
    PORTSYNCD_METRICS_CERT="$PKI/expiredserver.crt" PORTSYNCD_METRICS_KEY="$PKI/expiredserver.key" --
refuses "RSA server key with the ECDSA P-384 policy" 1 "server key is RSA, which none of the signature algorithms" \
    PORTSYNCD_METRICS_CERT="$PKI/rsaserver.crt" PORTSYNCD_METRICS_KEY="$PKI/rsaserver.key" --
# Unreadable: run as nobody; root can read anything, so the files stay root's, mode 0600.
install -m 600 "$C" "$T/rootonly.crt"
chmod 711 "$T"
PEX_WRAP="setpriv --reuid=nobody --regid=nogroup --clear-groups" \
    refuses "certificate unreadable by the exporter's user" 1 \
    "server certificate '$T/rootonly.crt' \(from PORTSYNCD_METRICS_CERT\): cannot be read by uid 65534: Permission denied" \
    PORTSYNCD_METRICS_CERT="$T/rootonly.crt" --

# --- web config ------------------------------------------------------------------------
wc() { printf '%b' "$1" >"$T/web.yml"; }
wc 'tls_server_config:\n  cert_file: /etc/x.crt\n  bogus_key: 1\n'
refuses "web config: unknown key" 2 "web.yml:3: tls_server_config: unknown key 'bogus_key'" -- --web.config.file="$T/web.yml"
wc 'tls_server_config: {}\nbasic_auth_users:\n  a: b\n'
refuses "web config: basic_auth_users" 2 "basic_auth_users is not supported" -- --web.config.file="$T/web.yml"
wc 'tls_config:\n  cert_file: x\n'
refuses "web config: unknown top-level key" 2 "unknown key 'tls_config'" -- --web.config.file="$T/web.yml"
for t in NoClientCert RequestClientCert RequireAnyClientCert VerifyClientCertIfGiven; do
    wc "tls_server_config:\n  client_auth_type: $t\n"
    refuses "web config: client_auth_type $t" 2 "client_auth_type: '$t' is not allowed; client certificates are mandatory \(expected RequireAndVerifyClientCert\)" \
        -- --web.config.file="$T/web.yml"
done
wc 'tls_server_config:\n  min_version: TLS12\n'
refuses "web config: min_version TLS12" 2 "min_version: 'TLS12' is not allowed; this exporter speaks TLS 1.3 only" -- --web.config.file="$T/web.yml"
wc 'tls_server_config:\n  max_version: TLS12\n'
refuses "web config: max_version TLS12" 2 "max_version: 'TLS12' is not allowed" -- --web.config.file="$T/web.yml"
wc 'tls_server_config:\n  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]\n'
refuses "web config: a TLS 1.2 cipher suite" 2 "'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384' is not a TLS 1.3 cipher suite" -- --web.config.file="$T/web.yml"
wc 'tls_server_config:\n  cipher_suites: [TLS_AES_128_CCM_8_SHA256]\n'
refuses "web config: CCM_8 (a 64-bit tag)" 2 "'TLS_AES_128_CCM_8_SHA256' is not a TLS 1.3 cipher suite" -- --web.config.file="$T/web.yml"
wc 'tls_server_config:\n  curve_preferences: [X25519MLKEM768]\n'
refuses "web config: a group this OpenSSL lacks" 1 "groups 'X25519MLKEM768': not groups this OpenSSL" -- --web.config.file="$T/web.yml"
wc 'tls_server_config:\n  cert_file: [a, b]\n'
refuses "web config: cert_file not a string" 2 "cert_file: expected a non-empty string" -- --web.config.file="$T/web.yml"
wc 'tls_server_config:\n  cert_file: "unterminated\n'
refuses "web config: not YAML" 2 "web.yml:[0-9]+: not valid YAML" -- --web.config.file="$T/web.yml"
refuses "web config: missing file" 2 "--web.config.file: cannot open '$T/none.yml'" -- --web.config.file="$T/none.yml"
wc 'tls_server_config:\n  curve_preferences: [CurveP384]\n'
refuses "groups set by flag and web config" 2 "--tls.groups and curve_preferences in .* both set the groups" \
    -- --web.config.file="$T/web.yml" --tls.groups=P-521
wc "tls_server_config:\n  cert_file: $T/none.crt\n"
refuses "web config cert_file overrides the environment" 1 "server certificate '$T/none.crt' \(from web config cert_file\): does not exist" \
    -- --web.config.file="$T/web.yml"

# --- flags -------------------------------------------------------------------------------
refuses "unknown flag" 2 "unknown flag '--web.listen-adress=x'" -- --web.listen-adress=x
refuses "bad duration" 2 "--web.request-timeout: '10 seconds' is not a duration" -- --web.request-timeout='10 seconds'
refuses "unknown log level" 2 "--log-level: 'loud' is not one of EMERG, ALERT, CRIT, ERROR, WARN, NOTICE, INFO, DEBUG" \
    -- --log-level=loud
refuses "unknown log level, old flag spelling" 2 "--log.level: 'loud' is not one of" -- --log.level=loud
refuses "idle timeout below request timeout" 2 "--web.idle-timeout \(2000ms\) must be at least --web.request-timeout" \
    -- --web.idle-timeout=2s --web.request-timeout=5s
refuses "telemetry path under /-/" 2 "--web.telemetry-path: '/-/metrics' must" -- --web.telemetry-path=/-/metrics
refuses "max requests not a number" 2 "--web.max-requests: 'many' is not an integer" -- --web.max-requests=many

# --- accepted ------------------------------------------------------------------------------
wc 'tls_server_config:\n  client_auth_type: RequireAndVerifyClientCert\n  min_version: TLS13\n  max_version: TLS13\n  cipher_suites: [TLS_AES_256_GCM_SHA384]\n  curve_preferences: [CurveP384, CurveP521]\n  prefer_server_cipher_suites: true\n  client_allowed_sans: [a.example.net]\nhttp_server_config:\n  http2: true\n'
rc=0
PORTSYNCD_METRICS_CERT="$C" PORTSYNCD_METRICS_KEY="$K" PORTSYNCD_METRICS_CA="$A" \
    "$BIN/portsyncd-exporter" --web.config.file="$T/web.yml" --check-config >"$T/ok.log" 2>&1 || rc=$?
check "a complete web config passes --check-config (rc=$rc)" test "$rc" -eq 0
check "--check-config names the groups from curve_preferences" grep -q 'groups P-384:P-521' "$T/ok.log"
check "log lines have portsyncd's format: time, name[pid], SONiC level" \
    grep -Eq '^[0-9-]+T[0-9:.]+Z portsyncd-exporter\[[0-9]+\] INFO: pre-flight passed' "$T/ok.log"
for flag in --log-level=WARN --log.level=warn; do
    rc=0
    PORTSYNCD_METRICS_CERT="$C" PORTSYNCD_METRICS_KEY="$K" PORTSYNCD_METRICS_CA="$A" \
        "$BIN/portsyncd-exporter" "$flag" --check-config >"$T/quiet.log" 2>&1 || rc=$?
    check "$flag passes and hides INFO lines (rc=$rc)" bash -c "[ $rc -eq 0 ] && ! [ -s '$T/quiet.log' ]"
done
rc=0
"$BIN/portsyncd-exporter" --help >"$T/help.txt" 2>&1 || rc=$?
check "--help exits 0 and lists the flags" bash -c "[ $rc -eq 0 ] && grep -q -- '--web.listen-address' '$T/help.txt'"
check "--version prints the version" bash -c "'$BIN/portsyncd-exporter' --version | grep -q '^portsyncd-exporter [0-9]'"
finish
