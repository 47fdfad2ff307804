#!/usr/bin/env bash
# Load benchmark of POST /api/support/intake: `benches/loadgen/src/bin/intake_load.rs` posts
# unique tickets (a new email per request, so every post creates a member, a
# ticket and its outbox jobs in one transaction) at CONNECTIONS connections
# for DURATION_SECS against `scripts/dev --release` on PORT, closed loop (the
# saturation rate) or, with RATE, open loop at RATE tickets/s (latency counted
# from each request's scheduled time), and prints latency percentiles and
# the CPU time Postgres and the functions spent per accepted ticket.
# Target: p99 < 15 ms for accepted tickets at 32 connections.
#   scripts/bench/intake.sh                      # 32 connections, 10 s, closed loop
#   RATE=300 scripts/bench/intake.sh             # open loop at 300 tickets/s
#   CONNECTIONS=64 DURATION_SECS=30 PORT=3901 scripts/bench/intake.sh
# The server gets its own throwaway Postgres + Redis under .dev/bench/intake
# (so it never touches a running scripts/dev), reached as DB_MODE says
# (direct, transaction or pgbouncer: scripts/bench/stores.sh), rate limits
# high enough not to interfere, and warn-level logs (a JSON line per request
# would measure the terminal). Secrets come from .dev/env as usual.
# WAL_PREFILL=N: WAL segments made ready before the run (48, as the webhook
# bench; 0 = a cold Postgres, see bench_wal_prefill in stores.sh).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=stores.sh
source scripts/bench/stores.sh

PORT=${PORT:-3900}
CONNECTIONS=${CONNECTIONS:-32}
DURATION_SECS=${DURATION_SECS:-10}
RATE=${RATE:-}

export STACK_PG_EXTRA_OPTS=$BENCH_WAL_OPTS
bench_stores_start intake
bench_wal_prefill "${WAL_PREFILL:-48}"
export SUPPORT_RATE_LIMIT_PER_IP=1000000 SUPPORT_RATE_LIMIT_PER_EMAIL=1000000
export DB_POOL_SIZE=${DB_POOL_SIZE:-16}
bench_server_start "$PORT"

# CPU time (clock ticks) of Postgres (the postmaster, exited backends
# included, and its live backends) and of the functions' process: what each
# accepted ticket costs, and so the most this machine's cores could accept.
fn_pid=$(bench_server_pid)
# Built before the clock starts (a build error shows here).
loadgen=$(bench_loadgen intake_load)
stack_log "intake load: $CONNECTIONS connections, ${DURATION_SECS}s${RATE:+, open loop at $RATE/s}"
pgb_pid=$(cat "$BENCH_DIR/pooled/pgbouncer/pgbouncer.pid" 2>/dev/null || echo 0)
pg0=$(bench_pg_ticks); fn0=$(bench_ticks "$fn_pid"); pgb0=$(bench_ticks "$pgb_pid")
out=$(TARGET="http://127.0.0.1:$PORT" CONCURRENCY=$CONNECTIONS DURATION_SECS=$DURATION_SECS RATE=$RATE \
  "$loadgen")
pg1=$(bench_pg_ticks); fn1=$(bench_ticks "$fn_pid"); pgb1=$(bench_ticks "$pgb_pid")
echo "$out"
ok=$(echo "$out" | sed -n 's/.*: \([0-9]*\) ok,.*/\1/p' | tail -n 1)
python3 - "${ok:-0}" "$((pg1 - pg0))" "$((fn1 - fn0))" "$((pgb1 - pgb0))" "$(getconf CLK_TCK)" "$(nproc)" <<'PY'
import sys
ok, pg, fn, pgb, hz, cores = map(int, sys.argv[1:])
if ok:
    pg_ms, fn_ms, pgb_ms = (x / hz * 1000 / ok for x in (pg, fn, pgb))
    print(f"cpu per accepted ticket: postgres {pg_ms:.2f} ms, functions {fn_ms:.2f} ms, "
          f"pgbouncer {pgb_ms:.2f} ms; "
          f"{cores} cores given to postgres alone would accept at most {cores * 1000 / pg_ms:.0f}/s")
PY
