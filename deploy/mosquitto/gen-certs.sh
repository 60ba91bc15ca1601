#!/bin/sh
# Example: a fleet CA, the broker's certificate and one client certificate per device/operator.
# usage: gen-certs.sh OUT_DIR BROKER_HOST NAME... (NAME = device id or "operator")
# Keep ca.key offline; copy ca.crt + <name>.crt + <name>.key to each device (mode 600 for the key).
set -eu
out=$1; host=$2; shift 2
mkdir -p "$out"; cd "$out"
[ -f ca.key ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
  -keyout ca.key -out ca.crt -subj "/CN=edge-agent fleet CA"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr -subj "/CN=$host"
printf 'subjectAltName=DNS:%s,IP:127.0.0.1\n' "$host" > server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 -out server.crt -extfile server.ext
for name in "$@"; do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$name.key" -out "$name.csr" -subj "/CN=$name"
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 -out "$name.crt"
  chmod 600 "$name.key"
done
rm -f ./*.csr server.ext
