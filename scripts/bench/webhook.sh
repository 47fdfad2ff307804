#!/usr/bin/env bash
# Load benchmark of the whole Stripe webhook path (verify, claim, one
# transaction with member + outbox jobs, answer) against a release build of
# the local server on a fresh, durable Postgres + Redis of its own
# (.dev/bench/webhook), reached as DB_MODE says (direct, transaction or
# pgbouncer: scripts/bench/stores.sh). Prints events/s and latency
# percentiles. Usage: scripts/bench/webhook.sh [seconds] [connections] [rate]
# (with a rate: open loop at that many events/s, latency counted from each
# event's scheduled send time; without: closed loop, the saturation rate).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=stores.sh
source scripts/bench/stores.sh
secs=${1:-10}; conns=${2:-64}; rate=${3:-}; port=${BENCH_PORT:-3190}
bench_stores_start webhook
cargo bench --quiet --bench webhook_load --no-run
bench_server_start "$port"
secret=$(grep '^STRIPE_WEBHOOK_SECRET=' .dev/env | cut -d= -f2-)
TARGET="http://127.0.0.1:$port" STRIPE_WEBHOOK_SECRET="$secret" DURATION_SECS=$secs CONCURRENCY=$conns RATE=$rate \
  cargo bench --quiet --bench webhook_load
