#!/usr/bin/env bash
# Load benchmark of POST /api/members/events (the founder's app's events,
# group-committed): benches/loadgen/src/bin/app_events_load.rs posts unique
# user.signed_up events (each a new member, its event row and outbox jobs)
# to scripts/dev --release on fresh durable stores (scripts/bench/stores.sh,
# DB_MODE as there). Prints the load line and the CPU per accepted event of
# Postgres and of the functions' process. DEV_BIN=path runs that build of
# opsbridge-dev instead (alternate two builds for a before/after).
#   scripts/bench/app_events.sh [seconds] [connections] [rate]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=stores.sh
source scripts/bench/stores.sh
secs=${1:-10}; conns=${2:-64}; rate=${3:-}; port=${BENCH_PORT:-3192}
export STACK_PG_EXTRA_OPTS=$BENCH_WAL_OPTS
bench_stores_start app_events
bench_wal_prefill 48
loadgen=$(bench_loadgen app_events_load)
bench_server_start "$port"
token=$(grep '^APP_API_TOKEN=' .dev/env | cut -d= -f2-)
load() {
  TARGET="http://127.0.0.1:$port" APP_API_TOKEN="$token" DURATION_SECS=$1 CONCURRENCY=$conns RATE=$rate "$loadgen"
}
load 2 >/dev/null # warm-up, as scripts/bench/webhook.sh does
"$STACK_PG_BIN/psql" -h 127.0.0.1 -p "$STACK_PG_PORT" -U postgres -qtAc CHECKPOINT postgres
server=$(bench_server_pid)
pg0=$(bench_pg_ticks); s0=$(bench_ticks "$server")
out=$(load "$secs")
pg1=$(bench_pg_ticks); s1=$(bench_ticks "$server")
echo "$out"
ok=$(echo "$out" | sed -n 's/.*: \([0-9]*\) ok,.*/\1/p')
echo "app events: CPU per event: postgres $(bench_us_per_event $((pg1 - pg0)) "${ok:-0}")," \
  "server process $(bench_us_per_event $((s1 - s0)) "${ok:-0}")"
