#!/usr/bin/env bash
# Both database modes side by side in one run (this machine is shared and
# noisy: only same-run ratios mean anything): the webhook and intake load
# benches, each in direct, transaction (no pooler: the unnamed statements
# alone) and pgbouncer (PgBouncer in transaction mode over TLS) mode, one
# after the other (the webhook for opsbridge alone: its Node reference has
# no pooled mode). Usage: scripts/bench/db_modes.sh [seconds] (default 10).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
secs=${1:-10}
for mode in direct transaction pgbouncer; do
  echo "== $mode"
  DB_MODE=$mode WEBHOOK_TARGETS=opsbridge scripts/bench/webhook.sh "$secs" 64 2>/dev/null | sed "s/^/webhook $mode: /"
  DB_MODE=$mode DURATION_SECS=$secs scripts/bench/intake.sh 2>/dev/null | sed "s/^/intake $mode: /"
done
