#!/usr/bin/env bash
# Postgres' own ceiling for the Stripe ingest on this machine: pgbench runs
# the statements of one new-member checkout (benches/sql/ingest_new_member.sql,
# the shape lib/stripe sends) at CLIENTS connections for SECS seconds on a
# throwaway durable Postgres (same settings as scripts/dev), with no function,
# no HTTP and no Redis in the way. If this is below a target, no change in
# our code alone reaches it on this machine.
#   scripts/bench/pg_ceiling.sh            # 16 clients, 10 s
#   CLIENTS=64 SECS=30 scripts/bench/pg_ceiling.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=../lib/stack.sh
source scripts/lib/stack.sh
CLIENTS=${CLIENTS:-16}
SECS=${SECS:-10}
trap stack_stop EXIT INT TERM
rm -rf "$ROOT/.dev/pgbench" "$(stack_pg_dir "$ROOT/.dev/pgbench/pg")"
stack_start "$ROOT/.dev/pgbench" dev
for f in migrations/*.sql; do "$STACK_PG_BIN/psql" -q "$DATABASE_URL" -v ON_ERROR_STOP=1 -f "$f" >/dev/null; done
pgbench=$STACK_PG_BIN/pgbench
[ -x "$pgbench" ] || pgbench=$(command -v pgbench)
stack_log "pgbench: $CLIENTS clients, ${SECS}s, benches/sql/ingest_new_member.sql"
"$pgbench" "$DATABASE_URL" -n -M prepared -c "$CLIENTS" -j 2 -T "$SECS" \
  -f benches/sql/ingest_new_member.sql 2>&1 | grep -E "^(tps|latency|number of failed)"
