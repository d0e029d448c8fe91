#!/usr/bin/env bash
# TLS baseline on loopback: requests/s over plain HTTP keep-alive, HTTPS keep-alive, and
# HTTPS with a new connection (full handshake) per request, through Strait to one echo
# backend. Needs wrk and openssl (Debian packages). Not part of the test command.
#
#   bash benches/scripts/tls-baseline.sh [duration-seconds] [key-type: ec|rsa]
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION="${1:-8}"
KEY="${2:-ec}"
cargo build --release -q -p strait-controller
BIN=target/release/strait
WORK="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null; rm -rf "$WORK"' EXIT

if [ "$KEY" = rsa ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=bench.test \
    -addext subjectAltName=DNS:bench.test -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
else
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench.test \
    -addext subjectAltName=DNS:bench.test -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
fi
mkdir "$WORK/m"
{
  cat <<YAML
apiVersion: v1
kind: Secret
metadata: {name: bench-tls, namespace: default}
type: kubernetes.io/tls
stringData:
  tls.crt: |
$(sed 's/^/    /' "$WORK/cert.pem")
  tls.key: |
$(sed 's/^/    /' "$WORK/key.pem")
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec: {ports: [{name: http, port: 80, targetPort: 9001}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: echo-1, namespace: default, labels: {kubernetes.io/service-name: echo}}
addressType: IPv4
endpoints: [{addresses: [127.0.0.2], conditions: {ready: true}}]
ports: [{name: http, port: 9001}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: bench, namespace: default}
spec:
  ingressClassName: strait
  tls: [{hosts: [bench.test], secretName: bench-tls}]
  rules:
  - host: bench.test
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: echo, port: {number: 80}}}}]}
---
# No spec.tls: plain HTTP for this host is proxied, not redirected.
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: plain, namespace: default}
spec:
  ingressClassName: strait
  rules:
  - host: plain.test
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: echo, port: {number: 80}}}}]}
YAML
} > "$WORK/m/bench.yaml"

"$BIN" echo --addr 127.0.0.2:9001 --name bench >/dev/null 2>&1 &
# wrk connects to an IP, so its SNI names no host: the same certificate is made the default.
"$BIN" serve --manifests "$WORK/m" --http-addr 127.0.0.1:18080 --https-addr 127.0.0.1:18443 \
  --admin-addr 127.0.0.1:0 --default-ssl-certificate default/bench-tls --log warn \
  --shutdown-delay 0s --shutdown-grace 1s >/dev/null 2>&1 &
STRAIT=$!
for _ in $(seq 100); do
  curl -sf -o /dev/null -H 'Host: plain.test' http://127.0.0.1:18080/ &&
    curl -sfk -o /dev/null -H 'Host: bench.test' https://127.0.0.1:18443/ && break
  kill -0 "$STRAIT" || { echo "strait did not start (ports 18080/18443 taken?)" >&2; exit 1; }
  sleep 0.1
done

run() {
  echo "== $1"
  shift
  wrk -t2 -c64 -d"${DURATION}s" "$@" | grep -E 'Requests/sec|Latency|Socket errors|Non-2xx' || true
}
run "plain HTTP keep-alive" -H 'Host: plain.test' http://127.0.0.1:18080/
run "plain HTTP new connection per request" -H 'Connection: close' -H 'Host: plain.test' \
  http://127.0.0.1:18080/
run "HTTPS keep-alive ($KEY)" -H 'Host: bench.test' https://127.0.0.1:18443/
run "HTTPS new connection per request ($KEY)" -H 'Connection: close' -H 'Host: bench.test' \
  https://127.0.0.1:18443/

# wrk keeps each connection's TLS session, so its new connections may resume. This client
# tells full handshakes from resumed ones.
cargo build --release -q -p strait-benches --example tls_handshakes
echo "== HTTPS new connection per request, full handshakes ($KEY)"
target/release/examples/tls_handshakes 127.0.0.1:18443 bench.test 64 "$DURATION"
echo "== HTTPS new connection per request, resumed handshakes ($KEY)"
target/release/examples/tls_handshakes 127.0.0.1:18443 bench.test 64 "$DURATION" --resume
