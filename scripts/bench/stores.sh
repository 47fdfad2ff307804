# shellcheck shell=bash
# The stores of one load-bench run: a fresh, durable Postgres + Redis under
# .dev/bench/NAME (never a running scripts/dev's), reached the way DB_MODE
# says, so both database modes are measured on the same machine in one run:
#   direct       Unix socket, prepared-statement cache, limits at startup
#                (DATABASE_POOLER=none): a private Postgres
#   transaction  the same socket with DATABASE_POOLER=transaction: unnamed
#                statements parsed on every execution and SET LOCAL limits,
#                without a pooler: what the mode itself costs
#   pgbouncer    PgBouncer in transaction mode over TLS with a
#                Supabase-shaped URL (scripts/lib/pooled.sh): what a Vercel
#                deploy on a pooled URL runs through
# Source it, then `bench_stores_start NAME` (exports DATABASE_URL,
# REDIS_URL, DATABASE_POOLER and STACK_PGDATA; stops everything on exit)
# and `bench_server_start PORT` (scripts/dev --release on those stores;
# sets BENCH_SERVER to its pid once /api/health answers).

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/stack.sh
source "$BENCH_ROOT/scripts/lib/stack.sh"
# shellcheck source=../lib/pooled.sh
source "$BENCH_ROOT/scripts/lib/pooled.sh"

BENCH_SERVER=""
BENCH_DIR=""
# Room for bench_wal_prefill's recycled segments, and no checkpoint forced
# by WAL volume during a run.
BENCH_WAL_OPTS="-c min_wal_size=1GB -c max_wal_size=4GB"

bench_stores_start() {
  local dir="$BENCH_ROOT/.dev/bench/$1" mode=${DB_MODE:-direct}
  BENCH_DIR=$dir
  trap bench_cleanup EXIT INT TERM
  rm -rf "$dir" "$(stack_pg_dir "$dir/pg")"
  stack_start "$dir" dev
  case "$mode" in
    direct) export DATABASE_POOLER=none ;;
    transaction) export DATABASE_POOLER=transaction ;;
    pgbouncer)
      pooled_start "$dir/pooled"
      export DATABASE_URL=${TEST_POOLED_DATABASE_URL/DBNAME/opsbridge}
      # auto would find it by port 6543; say it when 6543 was taken.
      export DATABASE_POOLER=transaction ;;
    *) stack_log "DB_MODE must be direct, transaction or pgbouncer"; return 1 ;;
  esac
  stack_log "database mode: $mode"
}

bench_stores_stop() {
  pooled_stop
  stack_stop
}

# Serves every function from a release build on PORT over the bench stores
# (logs in the bench folder); returns once /api/health answers.
bench_server_start() {
  local port=$1
  PORT=$port DEV_CRONS=off RUST_LOG=${RUST_LOG:-warn} \
    "$BENCH_ROOT/scripts/dev" --release >"$BENCH_DIR/server.log" 2>&1 &
  BENCH_SERVER=$!
  stack_log "waiting for the server on :$port (first run builds release binaries)"
  bench_wait_health "$port" "$BENCH_SERVER" "$BENCH_DIR/server.log" 900
}

# Returns once http://127.0.0.1:PORT/api/health answers; fails (showing the
# end of LOG) if PID exits first or SECONDS pass.
bench_wait_health() {
  local port=$1 pid=$2 log=$3 secs=$4
  for _ in $(seq 1 $((secs * 10))); do
    curl -fsS "http://127.0.0.1:$port/api/health" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { tail -n 30 "$log" >&2; return 1; }
    sleep 0.1
  done
  return 1
}

# CPU time in clock ticks of PID (utime+stime; with FIELDS=14-17 also its
# reaped children's, cutime+cstime): what each accepted request costs.
bench_ticks() {
  local t; t=$(cut -d' ' -f"${2:-14-15}" "/proc/$1/stat" 2>/dev/null | tr ' ' '+')
  echo $((${t:-0}))
}

# The whole Postgres server: the postmaster with its exited backends plus
# its live children.
bench_pg_ticks() {
  local pg_pid t; pg_pid=$(head -n 1 "$STACK_PGDATA/postmaster.pid")
  t=$(bench_ticks "$pg_pid" 14-17)
  for c in $(pgrep -P "$pg_pid"); do t=$((t + $(bench_ticks "$c"))); done
  echo "$t"
}

# Microseconds per accepted event of TICKS clock ticks over OK events.
bench_us_per_event() {
  local ticks=$1 ok=$2
  [ "$ok" -gt 0 ] || { echo "n/a"; return; }
  echo "$((ticks * 1000000 / $(getconf CLK_TCK) / ok)) µs"
}

# The pid of the functions' process that bench_server_start started.
bench_server_pid() {
  pgrep -P "$BENCH_SERVER" -f opsbridge-dev | head -n 1
}

# Makes N WAL segments (16 MB each) and recycles them, as a Postgres that has
# run a while has them: a fresh cluster zero-fills and syncs every new
# segment inside the commit that first needs it, a stall of every commit
# behind it that no deployed Postgres pays (measured here: open-loop p99
# 16-20 ms cold, 12 ms with recycled segments). Needs Postgres started with
# BENCH_WAL_OPTS (in STACK_PG_EXTRA_OPTS) so that the CHECKPOINT keeps them.
bench_wal_prefill() {
  local n=$1
  [ "$n" -gt 0 ] || return 0
  "$STACK_PG_BIN/psql" -h 127.0.0.1 -p "$STACK_PG_PORT" -U postgres -qtA postgres >/dev/null <<SQL
CREATE TABLE bench_wal_prefill (n int);
DO \$\$ BEGIN
  FOR i IN 1..$n LOOP
    INSERT INTO bench_wal_prefill VALUES (i);
    PERFORM pg_switch_wal();
  END LOOP;
END \$\$;
DROP TABLE bench_wal_prefill;
CHECKPOINT;
SQL
}

# Builds the load generator NAME (benches/loadgen: webhook_load, intake_load,
# access_load) and prints its path; run directly, not under cargo, so its CPU
# time is its own.
bench_loadgen() {
  (cd "$BENCH_ROOT" && cargo build --release --quiet -p opsbridge-loadgen --bin "$1") >&2
  echo "${CARGO_TARGET_DIR:-$BENCH_ROOT/target}/release/$1"
}

bench_cleanup() {
  if [ -n "$BENCH_SERVER" ]; then
    kill -TERM "$BENCH_SERVER" 2>/dev/null || true
    wait "$BENCH_SERVER" 2>/dev/null || true
  fi
  bench_stores_stop
}
