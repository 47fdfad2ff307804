#!/usr/bin/env bash
# Outbox benchmark: sweep throughput against a zero-latency fake HubSpot and
# claim latency with 1,000,000 succeeded rows, on throwaway local stores.
# Usage: JOBS=20000 scripts/bench/sweep.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=../lib/stack.sh
source scripts/lib/stack.sh
work=$(mktemp -d /tmp/opsbridge-bench.XXXXXX); chmod 755 "$work"
trap 'stack_stop; rm -rf "$work"' EXIT
stack_start "$work" test
TEST_DATABASE_URL=$DATABASE_URL TEST_REDIS_URL=$REDIS_URL RUST_LOG=warn cargo bench --quiet --bench sweep
