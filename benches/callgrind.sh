#!/usr/bin/env bash
# Instructions per proxied request, counted by callgrind: deterministic where wall-clock CPU
# time on a shared 2-core VM is not (and this VM has no hardware counters for `perf stat`).
# One worker, one plain route to the load suite's echo upstream, `wrk` keep-alive (or
# `Connection: close`) load; instrumentation is switched on only around the measured load.
#
#   bash benches/callgrind.sh [keepalive|close] [seconds=8] [strait binary]
#
# Prints `Ir/req`; the profile stays in target/callgrind/ for `callgrind_annotate`.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-keepalive}
SECONDS_=${2:-8}
BIN=${3:-target/release/strait}
for tool in valgrind callgrind_control callgrind_annotate wrk curl; do
  command -v "$tool" >/dev/null || { echo "callgrind.sh: needs $tool" >&2; exit 2; }
done
[ -x "$BIN" ] || cargo build --release --locked -q -p strait-controller --bin strait
[ -x target/release/examples/load ] || cargo build --release --locked -q -p strait-benches --example load
WORK=target/callgrind
rm -rf "$WORK" && mkdir -p "$WORK/m"
UP=127.0.0.2:45529
cat >"$WORK/m/plain.json" <<JSON
{"apiVersion":"v1","kind":"List","items":[
 {"apiVersion":"v1","kind":"Service","metadata":{"name":"echo","namespace":"default"},
  "spec":{"clusterIP":"10.96.0.10","ports":[{"name":"http","port":80,"protocol":"TCP"}]}},
 {"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","addressType":"IPv4",
  "metadata":{"name":"echo-1","namespace":"default","labels":{"kubernetes.io/service-name":"echo"}},
  "endpoints":[{"addresses":["127.0.0.2"],"conditions":{"ready":true}}],
  "ports":[{"name":"http","port":45529,"protocol":"TCP"}]},
 {"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"plain","namespace":"default"},
  "spec":{"ingressClassName":"strait","rules":[{"host":"plain.test","http":{"paths":[
   {"path":"/","pathType":"Prefix","backend":{"service":{"name":"echo","port":{"number":80}}}}]}}]}}]}
JSON
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
target/release/examples/load upstream "$UP" >"$WORK/upstream.log" 2>&1 &
pids+=($!)
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/callgrind.out" \
  "$BIN" serve --workers 1 --manifests "$WORK/m" --http-addr 127.0.0.1:18180 \
  --https-addr 127.0.0.1:18543 --admin-addr 127.0.0.1:18190 --access-log=false --log warn \
  --shutdown-delay 0s --shutdown-grace 1s >"$WORK/strait.log" 2>&1 &
SPID=$!
pids+=($SPID)
deadline=$((SECONDS + 120))
until [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: plain.test' http://127.0.0.1:18180/)" = 200 ]; do
  ((SECONDS < deadline)) || { echo "callgrind.sh: Strait did not serve; see $WORK/strait.log" >&2; exit 1; }
  sleep 0.2
done
headers=(-H 'Host: plain.test')
[ "$MODE" = close ] && headers+=(-H 'Connection: close')
wrk -t1 -c4 -d2s "${headers[@]}" http://127.0.0.1:18180/ >/dev/null
callgrind_control -i on "$SPID" >/dev/null 2>&1
out=$(wrk -t1 -c4 -d"${SECONDS_}s" "${headers[@]}" http://127.0.0.1:18180/)
callgrind_control -i off "$SPID" >/dev/null 2>&1
callgrind_control -d "$SPID" >/dev/null 2>&1
requests=$(awk '/requests in/{print $1}' <<<"$out")
# The dump is written by the profiled process: wait for it (with a deadline).
deadline=$((SECONDS + 30))
until dump=$(ls "$WORK"/callgrind.out.* 2>/dev/null | head -1) && [ -n "$dump" ] &&
  callgrind_annotate "$dump" >/dev/null 2>&1; do
  ((SECONDS < deadline)) || { echo "callgrind.sh: no profile dump in $WORK" >&2; exit 1; }
  sleep 0.5
done
total=$(callgrind_annotate "$dump" | awk '/PROGRAM TOTALS/ && !n {gsub(",","",$1); print $1; n=1}')
echo "$MODE: $requests requests, $total instructions, Ir/req $((total / requests)) (profile: $dump)"
