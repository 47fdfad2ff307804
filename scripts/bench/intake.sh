#!/usr/bin/env bash
# Load benchmark of POST /api/support/intake: wrk posts unique tickets (a new
# email per request, so every post creates a member, a ticket and its outbox
# jobs in one transaction) at CONNECTIONS connections for DURATION against
# `scripts/dev --release` on PORT, and prints wrk's latency distribution.
# Target: p99 < 15 ms for accepted tickets at 32 connections.
#   scripts/bench/intake.sh                      # 32 connections, 10 s, port 3900
#   CONNECTIONS=64 DURATION=30s PORT=3901 scripts/bench/intake.sh
# The server gets its own throwaway Postgres + Redis under .dev/bench/ (so it
# never touches a running scripts/dev), rate limits high enough not to
# interfere, and warn-level logs (a JSON line per request would measure the
# terminal). Secrets come from .dev/env as usual.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=../lib/stack.sh
source scripts/lib/stack.sh

PORT=${PORT:-3900}
CONNECTIONS=${CONNECTIONS:-32}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}

command -v wrk >/dev/null || stack_apt_install wrk

server=""
cleanup() {
  if [ -n "$server" ]; then
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  stack_stop
}
trap cleanup EXIT INT TERM

rm -rf "$ROOT/.dev/bench" "$(stack_pg_dir "$ROOT/.dev/bench/pg")"
stack_start "$ROOT/.dev/bench" dev

export PORT DEV_CRONS=off RUST_LOG=${RUST_LOG:-warn}
export SUPPORT_RATE_LIMIT_PER_IP=1000000 SUPPORT_RATE_LIMIT_PER_EMAIL=1000000
export DB_POOL_SIZE=${DB_POOL_SIZE:-16}
scripts/dev --release >"$ROOT/.dev/bench/server.log" 2>&1 &
server=$!

stack_log "waiting for the server on :$PORT (first run builds release binaries)"
for _ in $(seq 1 900); do
  curl -fsS "http://127.0.0.1:$PORT/api/health" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { tail -n 30 "$ROOT/.dev/bench/server.log" >&2; exit 1; }
  sleep 1
done

lua=$(mktemp --suffix=.lua)
cat >"$lua" <<'LUA'
-- One unique contact per request: thread id + counter + a per-run nonce.
local threads = {}
function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  counter = 0
  nonce = tostring(os.time())
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  counter = counter + 1
  local body = string.format(
    '{"email":"bench-%s-%d-%d@example.com","name":"Bench","subject":"Load test",' ..
    '"message":"Ticket %d: where is my invoice?","source":"form"}',
    nonce, id, counter, counter)
  return wrk.format(nil, "/api/support/intake", nil, body)
end
function done(summary, latency, requests)
  io.write(string.format("accepted-or-not: %d requests, %d non-2xx/socket errors\n",
    summary.requests, summary.errors.status + summary.errors.connect +
    summary.errors.read + summary.errors.write + summary.errors.timeout))
  io.write(string.format("p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
LUA
stack_log "wrk: $CONNECTIONS connections, $THREADS threads, $DURATION"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$lua" "http://127.0.0.1:$PORT"
rm -f "$lua"
