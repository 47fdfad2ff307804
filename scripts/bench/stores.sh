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
# REDIS_URL, DATABASE_POOLER and STACK_PGDATA) and `bench_stores_stop`.

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/stack.sh
source "$BENCH_ROOT/scripts/lib/stack.sh"
# shellcheck source=../lib/pooled.sh
source "$BENCH_ROOT/scripts/lib/pooled.sh"

bench_stores_start() {
  local dir="$BENCH_ROOT/.dev/bench/$1" mode=${DB_MODE:-direct}
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
