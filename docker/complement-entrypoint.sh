#!/bin/sh
# Entry point of the Dockerfile's `complement` target: Complement's homeserver image contract.
#  - SERVER_NAME (env): the server name, e.g. hs1 (Complement names its homeservers hs1, hs2, ...).
#  - The client API on 8008 over plain HTTP; federation on 8448 over HTTPS, with a certificate for
#    SERVER_NAME signed by the CA Complement mounts at /complement/ca/ca.crt + ca.key (made here, at
#    each start, with openssl). Without that mount a self-signed certificate is made instead.
#  - Outbound federation trusts that CA (federation_custom_ca_list, in addition to the system's CAs)
#    and reaches any address (Complement's networks are private).
#  - registration_shared_secret "complement", open registration, raised rate limits.
#  - The database and signing key under /data in the container's filesystem (not a volume):
#    Complement commits containers into images and starts them again; the config is rewritten at each
#    start from the environment, the data is kept.
# Extra: DOORSTEP_LOG_LEVEL (default info).
set -eu

: "${SERVER_NAME:?SERVER_NAME must be set}"
conf=/conf
ca_dir=/complement/ca
mkdir -p "$conf" /data

# The certificate's name: the server name without a port (hs1, or hs1:8448 -> hs1).
host="$SERVER_NAME"
case "$host" in
  \[*\]*) host="${host#[}"; host="${host%%]*}" ;;
  *:*:*) ;; # a bare IPv6 address
  *:*) host="${host%:*}" ;;
esac
case "$host" in
  *[!0-9.]*) case "$host" in *:*) san="IP:$host" ;; *) san="DNS:$host" ;; esac ;;
  *) san="IP:$host" ;;
esac

umask 077
ca_list=""
if [ -r "$ca_dir/ca.crt" ] && [ -r "$ca_dir/ca.key" ]; then
  openssl req -new -newkey rsa:2048 -nodes -subj "/CN=$host" \
    -keyout "$conf/server.key" -out "$conf/server.csr" 2>/dev/null
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' "$san" >"$conf/server.ext"
  openssl x509 -req -in "$conf/server.csr" -CA "$ca_dir/ca.crt" -CAkey "$ca_dir/ca.key" \
    -CAcreateserial -CAserial "$conf/ca.srl" -days 3650 -sha256 -extfile "$conf/server.ext" \
    -out "$conf/server.crt" 2>/dev/null
  ca_list="federation_custom_ca_list: [\"$ca_dir/ca.crt\"]"
else
  echo "complement-entrypoint: no CA at $ca_dir; using a self-signed certificate" >&2
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$host" -addext "subjectAltName=$san" \
    -keyout "$conf/server.key" -out "$conf/server.crt" 2>/dev/null
fi
umask 022

cat >"$conf/homeserver.yaml" <<YAML
server_name: "$SERVER_NAME"
public_baseurl: "http://$host:8008/"
listeners:
  - port: 8008
    type: http
    tls: false
    bind_addresses: ['0.0.0.0']
    resources:
      - names: [client]
  - port: 8448
    type: http
    tls: true
    bind_addresses: ['0.0.0.0']
    resources:
      - names: [federation]
tls_certificate_path: "$conf/server.crt"
tls_private_key_path: "$conf/server.key"
database:
  name: sqlite3
  args:
    database: "/data/homeserver.db"
signing_key_path: "/data/signing.key"
enable_registration: true
enable_registration_without_verification: true
registration_shared_secret: "complement"
federation_verify_certificates: true
$ca_list
ip_range_blacklist: []
# Complement registers and logs in many users at once: rate limits raised (as scripts/test-rate-limits.js).
rc_login: {address: {per_second: 1000, burst_count: 10000}, account: {per_second: 1000, burst_count: 10000}, failed_attempts: {per_second: 1000, burst_count: 10000}}
rc_registration: {per_second: 1000, burst_count: 10000}
rc_message: {per_second: 1000, burst_count: 10000}
rc_joins: {local: {per_second: 1000, burst_count: 10000}, remote: {per_second: 1000, burst_count: 10000}}
rc_invites: {per_room: {per_second: 1000, burst_count: 10000}, per_user: {per_second: 1000, burst_count: 10000}, per_issuer: {per_second: 1000, burst_count: 10000}}
rc_room_creation: {per_second: 1000, burst_count: 10000}
rc_knock: {per_second: 1000, burst_count: 10000}
log_level: "${DOORSTEP_LOG_LEVEL:-info}"
YAML

exec node /app/dist/doorstep.js --config "$conf/homeserver.yaml"
