#!/usr/bin/env bash
# deploy/gen-certs.sh - a private CA and the certificates portsyncd-exporter's
# mutual TLS needs: ECDSA P-384 keys, SHA-384 signatures (the CNSA suite that
# OpenSSL 3.0 does), key files 0600.
#
#   deploy/gen-certs.sh [--dir DIR] [--host NAME] [--client NAME]... [--days N] [--force]
#   deploy/gen-certs.sh [--dir DIR] [--days N] [--owner USER] [--force] server NAME [ADDRESS...]
#   deploy/gen-certs.sh [--dir DIR] [--days N] [--force] client NAME
#
# Without a command: a new CA in DIR, this machine's server certificate and the
# client certificates. With one, a certificate from the CA already in DIR
# (ca.crt, ca.key), for a fleet of switches sharing one CA:
#   server NAME [ADDRESS...]  a switch's exporter: DIR/NAME/server.crt, server.key
#                   and a copy of ca.crt, to install as /etc/portsyncd/metrics on
#                   that switch. SANs: DNS:NAME, and per ADDRESS an IP SAN (an
#                   IPv6 or IPv4 address: the management address Prometheus
#                   connects to) or a DNS SAN (a name)
#   client NAME     a scraper (a Prometheus agent): DIR/NAME.crt, DIR/NAME.key
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
# Without a command, writes ca.crt ca.key server.crt server.key and NAME.crt NAME.key per client.
# The exporter reads ca.crt, server.crt, server.key; Prometheus gets ca.crt,
# NAME.crt, NAME.key. Keep ca.key offline in production.
set -euo pipefail
dir=/etc/portsyncd/metrics
host=$(hostname -f 2>/dev/null || hostname)
clients=()
host_given=0 # --host or --client: options of a new CA only
days=825
owner=
force=0
cmd=
die() { echo "gen-certs.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
    --dir) dir=${2:?--dir needs a directory}; shift 2 ;;
    --host) host=${2:?--host needs a name}; host_given=1; shift 2 ;;
    --client) clients+=("${2:?--client needs a name}"); host_given=1; shift 2 ;;
    --days) days=${2:?--days needs a number}; shift 2 ;;
    --owner) owner=${2:?--owner needs a user}; shift 2 ;;
    --force) force=1; shift ;;
    -h | --help) sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    server | client) cmd=$1; shift; break ;;
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

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$1" 2>/dev/null; }

# issue OUT_PREFIX SUBJECT_CN SAN EKU CA_DIR: a leaf signed by CA_DIR/ca.{crt,key}
issue() {
    key "$1.key"
    openssl req -new -key "$1.key" -sha384 -subj "/CN=$2" -out "$1.csr"
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=%s\n' \
        "$4" "$3" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$5/ca.crt" -CAkey "$5/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
        -sha384 -days "$days" -extfile "$1.ext" -out "$1.crt" 2>/dev/null
}

if [ -n "$cmd" ]; then
    name=${1:-}
    [ -n "$name" ] || die "$cmd needs a NAME (see --help)"
    [ "$host_given" -eq 0 ] ||
        die "--host and --client make a new CA's certificates; '$cmd' takes NAME and ADDRESS instead"
    shift
    [[ $name =~ ^[A-Za-z0-9.-]+$ ]] || die "$cmd '$name' is not a DNS name"
    [ "$cmd" = server ] || [ $# -eq 0 ] || die "client takes one NAME, not '$*'"
    [ -f "$dir/ca.crt" ] && [ -f "$dir/ca.key" ] ||
        die "no CA in $dir (ca.crt and ca.key): make one first with 'gen-certs.sh --dir $dir'"
    san="DNS:$name"
    for a in "$@"; do
        if [[ $a =~ ^[0-9A-Fa-f:.]+$ && $a == *:* ]] || [[ $a =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]]; then
            san+=",IP:$a"
        elif [[ $a =~ ^[A-Za-z0-9.-]+$ ]]; then
            san+=",DNS:$a"
        else
            die "server $name: '$a' is neither an IP address nor a DNS name"
        fi
    done
    if [ "$cmd" = server ]; then out=$dir/$name; files=("$out/server.crt" "$out/server.key" "$out/ca.crt")
    else out=$dir; files=("$dir/$name.crt" "$dir/$name.key"); fi
    if [ "$force" -eq 0 ]; then
        for f in "${files[@]}"; do [ -e "$f" ] && die "$f exists; pass --force to overwrite"; done
    fi
    umask 077
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    if [ "$cmd" = server ]; then
        issue "$tmp/server" "$name" "$san" serverAuth "$dir" ||
            die "openssl could not issue the certificate for $name (SANs $san)"
        install -d -m 0755 "$out"
        install -m 0644 "$tmp/server.crt" "$out/server.crt"
        install -m 0600 "$tmp/server.key" "$out/server.key"
        install -m 0644 "$dir/ca.crt" "$out/ca.crt"
        [ -z "$owner" ] || chown "$owner" "$out/server.crt" "$out/server.key"
        echo "gen-certs.sh: wrote $out/server.crt server.key ca.crt (P-384, SHA-384, $days days; key 0600)"
        echo "gen-certs.sh: server SANs ${san//,/ }"
    else
        issue "$tmp/client" "$name" "DNS:$name" clientAuth "$dir" ||
            die "openssl could not issue the certificate for $name"
        install -m 0644 "$tmp/client.crt" "$dir/$name.crt"
        install -m 0600 "$tmp/client.key" "$dir/$name.key"
        echo "gen-certs.sh: wrote $dir/$name.crt $dir/$name.key (client, SAN DNS:$name)"
    fi
    exit 0
fi

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
