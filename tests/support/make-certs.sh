#!/usr/bin/env bash
# make-certs.sh DIR: test certificates for TLS fixture servers (see fx_tls.c).
#
# Writes into DIR (PEM, unencrypted EC P-256 keys):
#   ca.crt/.key                 the test CA
#   server.crt/.key             signed by ca for localhost, 127.0.0.1, ::1;
#                               serverAuth AND clientAuth, because redis and
#                               sentinel present the same certificate when
#                               they connect out (replication, sentinel links)
#   client.crt/.key             signed by ca, CN=sentinel_pool-test-client
#   other-ca.crt/.key           an unrelated CA
#   other-server.crt/.key       signed by other-ca, same names as server.crt
#   expired.crt/.key            signed by ca, same names, valid only in 2020
#   wrong-name.crt/.key         signed by ca for wrong.example, 127.0.0.2
# Needs only bash, coreutils and the openssl 3.x CLI. Quiet on success.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
dir=$1
mkdir -p "$dir"

work=$(mktemp -d "${TMPDIR:-/tmp}/make-certs.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Our own config, so the system openssl.cnf (absent in some minimal roots,
# and adding CA:TRUE to every req -x509 certificate) plays no part.
cnf=$work/openssl.cnf
cat >"$cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
authorityKeyIdentifier = keyid
[client]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
[wrong_name]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:wrong.example, IP:127.0.0.2
authorityKeyIdentifier = keyid
EOF

# Valid from an hour ago (clock skew between hosts of a CI run) for 2 days.
now=$(date -u +%s)
not_before=$(date -u -d "@$((now - 3600))" +%Y%m%d%H%M%SZ)
not_after=$(date -u -d "@$((now - 3600 + 2 * 86400))" +%Y%m%d%H%M%SZ)

# Capture openssl's chatter and show it only when a step fails.
run() {
    if ! "$@" >"$work/out" 2>&1; then
        echo "make-certs.sh: failed: $*" >&2
        cat "$work/out" >&2
        exit 1
    fi
}

new_key() {
    run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/$1.key"
}

# make_ca NAME CN
make_ca() {
    new_key "$1"
    run openssl req -new -x509 -config "$cnf" -extensions ca -key "$dir/$1.key" \
        -subj "/O=sentinel_pool tests/CN=$2" -not_before "$not_before" \
        -not_after "$not_after" -out "$dir/$1.crt"
}

# make_leaf NAME CA SECTION CN [NOT_BEFORE NOT_AFTER]
make_leaf() {
    new_key "$1"
    run openssl req -new -x509 -config "$cnf" -extensions "$3" -key "$dir/$1.key" \
        -CA "$dir/$2.crt" -CAkey "$dir/$2.key" -subj "/O=sentinel_pool tests/CN=$4" \
        -not_before "${5:-$not_before}" -not_after "${6:-$not_after}" -out "$dir/$1.crt"
}

make_ca ca "sentinel_pool test CA"
make_ca other-ca "sentinel_pool unrelated CA"
make_leaf server ca server localhost
make_leaf client ca client sentinel_pool-test-client
make_leaf other-server other-ca server localhost
make_leaf expired ca server localhost 20200101000000Z 20200102000000Z
make_leaf wrong-name ca wrong_name wrong.example

# verify CAFILE CERT PURPOSE: must pass.
verify() {
    run openssl verify -CAfile "$dir/$1.crt" -purpose "$3" "$dir/$2.crt"
}
verify ca server sslserver
verify ca server sslclient
verify ca client sslclient
verify other-ca other-server sslserver
verify ca wrong-name sslserver
if openssl verify -CAfile "$dir/ca.crt" "$dir/expired.crt" >"$work/out" 2>&1 ||
    ! grep -q "certificate has expired" "$work/out"; then
    echo "make-certs.sh: expired.crt does not fail verification as expired:" >&2
    cat "$work/out" >&2
    exit 1
fi
chmod 600 "$dir"/*.key
