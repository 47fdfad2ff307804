#!/usr/bin/env bash
# Load benchmark of the whole Stripe webhook path (verify, claim, one
# transaction with member + outbox jobs, answer) against a release build of
# the local server on its local Postgres + Redis. Prints events/s and latency
# percentiles. Usage: scripts/bench/webhook.sh [seconds] [connections] [rate]
# (with a rate: open loop at that many events/s, latency counted from each
# event's scheduled send time; without: closed loop, the saturation rate).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
secs=${1:-10}; conns=${2:-64}; rate=${3:-}; port=${BENCH_PORT:-3190}
cargo build --release --quiet --bench webhook_load 2>/dev/null || true
PORT=$port DEV_CRONS=off RUST_LOG=warn scripts/dev --release > .dev/bench-server.log 2>&1 &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$port/api/health" >/dev/null && break; sleep 1; done
secret=$(grep '^STRIPE_WEBHOOK_SECRET=' .dev/env | cut -d= -f2-)
TARGET="http://127.0.0.1:$port" STRIPE_WEBHOOK_SECRET="$secret" DURATION_SECS=$secs CONCURRENCY=$conns RATE=$rate \
  cargo bench --quiet --bench webhook_load
