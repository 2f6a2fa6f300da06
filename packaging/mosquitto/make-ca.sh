#!/bin/sh
# A private CA for homescope's broker, and certificates signed by it (docs/broker-tls.md).
#
#   make-ca.sh DIR ca                          the CA (ca.key stays offline, ca.crt goes everywhere)
#   make-ca.sh DIR server NAME [IP|DNS ...]    the broker's certificate (SAN: NAME and the extras)
#   make-ca.sh DIR client ID                   a client certificate whose CN is ID (a gateway id,
#                                              or a collector account such as _collector)
#
# The broker runs with require_certificate and use_identity_as_username, so the CN of a
# client certificate IS its MQTT username: keep CNs unique, one per gateway.
set -eu

dir=$1; what=$2; shift 2
mkdir -p "$dir"; cd "$dir"
days=${HOMESCOPE_CERT_DAYS:-825}

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; chmod 600 "$1"; }

case $what in
ca)
    [ -e ca.key ] && { echo "ca.key exists in $dir; refusing to overwrite" >&2; exit 1; }
    key ca.key
    openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=homescope private CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -out ca.crt
    ;;
server)
    name=$1; shift
    san="DNS:$name"
    for extra in "$@"; do
        case $extra in *[!0-9.]*) san="$san,DNS:$extra" ;; *) san="$san,IP:$extra" ;; esac
    done
    key server.key
    openssl req -new -key server.key -subj "/CN=$name" -out server.csr
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$san" > server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days "$days" \
        -extfile server.ext -out server.crt 2>/dev/null
    rm -f server.csr server.ext
    ;;
client)
    id=$1
    case $id in *[!A-Za-z0-9_.-]*|"") echo "bad client id: $id" >&2; exit 2 ;; esac
    key "$id.key"
    openssl req -new -key "$id.key" -subj "/CN=$id" -out "$id.csr"
    printf 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n' > "$id.ext"
    openssl x509 -req -in "$id.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days "$days" \
        -extfile "$id.ext" -out "$id.crt" 2>/dev/null
    rm -f "$id.csr" "$id.ext"
    ;;
*)
    echo "usage: make-ca.sh DIR ca | server NAME [IP|DNS ...] | client ID" >&2; exit 2 ;;
esac
