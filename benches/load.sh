#!/usr/bin/env bash
# Strait's load suite: Strait next to nginx and HAProxy (and direct) on one upstream, on
# loopback; then configuration churn under load (Strait vs nginx -s reload); then Strait at
# 1k/10k/50k Ingresses; then what each per-route policy costs. Rewrites the generated section
# of benches/RESULTS.md and benches/load-ratios.png. About 14 minutes on 2 cores; every load
# run is bounded and everything started is stopped on exit. Not part of the test command.
#
#   bash benches/load.sh                 # the full run
#   bash benches/load.sh --help          # the suite's flags (duration, reps, rate, skip, ...)
#
# Installs what is missing: nginx-light, haproxy, wrk and gnuplot-nox (Debian packages, with
# sudo unless root) and oha (cargo install).
set -euo pipefail
cd "$(dirname "$0")/.."

OHA_VERSION=1.16.0
need=()
command -v nginx >/dev/null || need+=(nginx-light)
command -v haproxy >/dev/null || need+=(haproxy)
command -v wrk >/dev/null || need+=(wrk)
command -v gnuplot >/dev/null || need+=(gnuplot-nox)
if ((${#need[@]})); then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "load.sh: installing ${need[*]}" >&2
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
  # The packages start their system services; the suite runs its own instances only.
  for svc in nginx haproxy; do
    $SUDO service "$svc" stop >/dev/null 2>&1 || true
  done
fi
if ! command -v oha >/dev/null; then
  echo "load.sh: installing oha $OHA_VERSION (cargo install, a few minutes once)" >&2
  cargo install oha --locked --version "$OHA_VERSION"
fi
ulimit -n 65536 2>/dev/null || true

cargo build --release --locked -q -p strait-controller --bin strait
cargo build --release --locked -q -p strait-benches --example load
exec target/release/examples/load run "$@"
