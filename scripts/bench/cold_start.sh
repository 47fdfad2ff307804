#!/usr/bin/env bash
# Cold start with the schema current: process start -> first 200 from
# /api/health (every check passing: Postgres with the schema at the latest
# version, Redis), for each database mode, the release local server on a
# fresh durable stack (scripts/bench/stores.sh). The schema check at start is
# one statement; the rest is connecting (TCP, TLS, auth) and the health
# checks themselves. Usage: scripts/bench/cold_start.sh [runs] (default 10).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=stores.sh
source scripts/bench/stores.sh
runs=${1:-10}; port=${BENCH_PORT:-3290}
cargo build --release --quiet --bin opsbridge-dev
bin="${CARGO_TARGET_DIR:-$ROOT/target}/release/opsbridge-dev"
[ -f .dev/env ] || { echo "run scripts/dev once first (it writes .dev/env)" >&2; exit 1; }
set -a; # shellcheck disable=SC1091
source .dev/env; set +a

for mode in direct transaction pgbouncer; do
  DB_MODE=$mode bench_stores_start cold
  PORT=$port DEV_CRONS=off RUST_LOG=warn "$bin" >/dev/null 2>&1 & BENCH_SERVER=$!   # migrates
  until curl -sf "http://127.0.0.1:$port/api/health" >/dev/null; do sleep 0.05; done
  kill "$BENCH_SERVER"; wait "$BENCH_SERVER" 2>/dev/null || true; BENCH_SERVER=""
  times=()
  for _ in $(seq 1 "$runs"); do
    t0=$(date +%s%N)
    PORT=$port DEV_CRONS=off RUST_LOG=warn "$bin" >/dev/null 2>&1 & BENCH_SERVER=$!
    until curl -sf -o /dev/null "http://127.0.0.1:$port/api/health"; do sleep 0.002; done
    times+=($(( ($(date +%s%N) - t0) / 1000000 )))
    kill "$BENCH_SERVER"; wait "$BENCH_SERVER" 2>/dev/null || true; BENCH_SERVER=""
  done
  sorted=$(printf '%s\n' "${times[@]}" | sort -n | tr '\n' ' ')
  median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
  echo "cold start, $mode: median ${median} ms to the first 200 (runs: $sorted)"
  bench_stores_stop
done
