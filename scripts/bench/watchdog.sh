#!/usr/bin/env bash
# Watchdog benchmark: the plan of each rule query and the time of one run
# with 1,000,000 old jobs, events and integration requests, on throwaway
# local stores. Usage: RUNS=200 scripts/bench/watchdog.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=../lib/stack.sh
source scripts/lib/stack.sh
work=$(mktemp -d /tmp/opsbridge-bench.XXXXXX); chmod 755 "$work"
trap 'stack_stop; rm -rf "$work"' EXIT
stack_start "$work" test
TEST_DATABASE_URL=$DATABASE_URL TEST_REDIS_URL=$REDIS_URL RUST_LOG=warn cargo bench --quiet --bench watchdog
