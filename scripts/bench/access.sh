#!/usr/bin/env bash
# Load test of GET /api/members/access against a running local server:
#   PORT=3100 scripts/dev --release &     # in another terminal (or background)
#   scripts/bench/access.sh               # BASE_URL, CONNECTIONS, DURATION, RATE to change
# Seeds one member through POST /api/members/events, then runs the
# access_load generator (benches/loadgen/src/bin/access_load.rs) with CONNECTIONS (64) connections
# for DURATION seconds (10): closed loop (saturation), or open loop at RATE
# requests/s (latency counted from each request's scheduled time). Prints
# answers/s and latency percentiles. Reads APP_API_TOKEN from the
# environment or .dev/env (written by scripts/dev); never prints it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BASE_URL=${BASE_URL:-http://127.0.0.1:${PORT:-3100}}
CONNECTIONS=${CONNECTIONS:-64}
DURATION=${DURATION:-10}

if [ -z "${APP_API_TOKEN:-}" ]; then
  [ -f "$ROOT/.dev/env" ] || { echo "no APP_API_TOKEN and no .dev/env: start scripts/dev first" >&2; exit 1; }
  APP_API_TOKEN=$(sed -n 's/^APP_API_TOKEN=//p' "$ROOT/.dev/env")
fi
curl -fsS "$BASE_URL/api/health" >/dev/null || { echo "no server at $BASE_URL (PORT=3100 scripts/dev --release)" >&2; exit 1; }

user_id="bench_user_$(date +%s)"
seed=$(curl -sS -o /dev/stderr -w '%{http_code}' -X POST "$BASE_URL/api/members/events" \
  -H "authorization: Bearer $APP_API_TOKEN" -H 'content-type: application/json' \
  -d "{\"id\":\"bench_$user_id\",\"type\":\"user.signed_up\",\"user_id\":\"$user_id\",\"email\":\"$user_id@example.com\"}" 2>/dev/null)
case "$seed" in 200|202) ;; *) echo "seeding failed: HTTP $seed" >&2; exit 1 ;; esac
url="$BASE_URL/api/members/access?user_id=$user_id"
check=$(curl -sS -o /dev/null -w '%{http_code}' -H "authorization: Bearer $APP_API_TOKEN" "$url")
[ "$check" = 200 ] || { echo "access check failed: HTTP $check" >&2; exit 1; }

cd "$ROOT"
cargo build --release --quiet -p opsbridge-loadgen --bin access_load
bench=${CARGO_TARGET_DIR:-target}/release/access_load
TARGET="$BASE_URL" APP_API_TOKEN="$APP_API_TOKEN" USER_ID="$user_id" CONCURRENCY="$CONNECTIONS" \
  DURATION_SECS="$DURATION" "$bench"
