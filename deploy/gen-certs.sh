#!/usr/bin/env bash
# deploy/gen-certs.sh - a private CA and the certificates portsyncd-exporter's
# mutual TLS needs: ECDSA P-384 keys, SHA-384 signatures (the CNSA suite that
# OpenSSL 3.0 does), key files 0600.
#
#   deploy/gen-certs.sh [--dir DIR] [--host NAME] [--client NAME]... [--days N] [--force]
#
#   --dir DIR       where to write (default /etc/portsyncd/metrics)
#   --host NAME     the server's DNS name (default: this machine's hostname); the
#                   server certificate also carries DNS:localhost and IP:::1
#   --client NAME   a client certificate (repeatable; default: prometheus). Its SAN
#                   is DNS:NAME, which the exporter's client_allowed_sans can list
#   --days N        validity (default 825)
#   --owner USER    owner of server.crt/server.key (e.g. portsyncd-exporter, the
#                   exporter's user: the key stays 0600, so only that user reads it)
#   --force         overwrite existing files (default: refuse)
#
# Writes ca.crt ca.key server.crt server.key and NAME.crt NAME.key per client.
# The exporter reads ca.crt, server.crt, server.key; Prometheus gets ca.crt,
# NAME.crt, NAME.key. Keep ca.key offline in production.
set -euo pipefail
dir=/etc/portsyncd/metrics
host=$(hostname -f 2>/dev/null || hostname)
clients=()
days=825
owner=
force=0
die() { echo "gen-certs.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
    --dir) dir=${2:?--dir needs a directory}; shift 2 ;;
    --host) host=${2:?--host needs a name}; shift 2 ;;
    --client) clients+=("${2:?--client needs a name}"); shift 2 ;;
    --days) days=${2:?--days needs a number}; shift 2 ;;
    --owner) owner=${2:?--owner needs a user}; shift 2 ;;
    --force) force=1; shift ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[[ $days =~ ^[0-9]+$ ]] && [ "$days" -ge 1 ] || die "--days '$days' is not a positive number of days"
[[ $host =~ ^[A-Za-z0-9.-]+$ ]] || die "--host '$host' is not a DNS name"
[ ${#clients[@]} -gt 0 ] || clients=(prometheus)
for c in "${clients[@]}"; do
    [[ $c =~ ^[A-Za-z0-9.-]+$ ]] || die "--client '$c' is not a DNS name"
    [ "$c" != server ] && [ "$c" != ca ] || die "--client '$c' would overwrite the $c files"
done
[ -z "$owner" ] || id -u "$owner" >/dev/null 2>&1 || die "--owner '$owner' is not a user on this machine"
command -v openssl >/dev/null || die "openssl is not installed (apt-get install openssl)"

files=(ca.crt ca.key server.crt server.key)
for c in "${clients[@]}"; do files+=("$c.crt" "$c.key"); done
if [ "$force" -eq 0 ]; then
    for f in "${files[@]}"; do
        [ -e "$dir/$f" ] && die "$dir/$f exists; pass --force to overwrite"
    done
fi
mkdir -p "$dir"
umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$1" 2>/dev/null; }

# CA
key "$tmp/ca.key"
openssl req -x509 -new -key "$tmp/ca.key" -sha384 -days "$days" -subj "/CN=portsyncd metrics CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$tmp/ca.crt"

# sign NAME SUBJECT_CN SAN EKU
sign() {
    key "$tmp/$1.key"
    openssl req -new -key "$tmp/$1.key" -sha384 -subj "/CN=$2" -out "$tmp/$1.csr"
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=%s\n' \
        "$4" "$3" >"$tmp/$1.ext"
    openssl x509 -req -in "$tmp/$1.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" -CAcreateserial \
        -sha384 -days "$days" -extfile "$tmp/$1.ext" -out "$tmp/$1.crt" 2>/dev/null
}
sign server "$host" "DNS:$host,DNS:localhost,IP:::1" serverAuth
for c in "${clients[@]}"; do sign "$c" "$c" "DNS:$c" clientAuth; done

for f in "${files[@]}"; do
    install -m "$([[ $f == *.key ]] && echo 0600 || echo 0644)" "$tmp/$f" "$dir/$f"
done
[ -z "$owner" ] || chown "$owner" "$dir/server.crt" "$dir/server.key"
echo "gen-certs.sh: wrote ${files[*]} to $dir (P-384, SHA-384, $days days; keys 0600)"
echo "gen-certs.sh: server SANs DNS:$host DNS:localhost IP:::1; clients: ${clients[*]}"
