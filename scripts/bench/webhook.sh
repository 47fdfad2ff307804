#!/usr/bin/env bash
# Load benchmark of the whole Stripe webhook path (verify, claim, one
# transaction with the event and its outbox jobs, answer), opsbridge side by
# side with a plain Node.js reference (benches/node-reference), one after the
# other on the same machine, the same stores and the same load generator
# (benches/loadgen/src/bin/webhook_load.rs). Prints one line per server
# (events/s, latency percentiles), the CPU per accepted event of Postgres and
# of the server process, and the ratio.
#   scripts/bench/webhook.sh [seconds] [connections] [rate]
#     with a rate: open loop at that many events/s, latency counted from each
#     event's scheduled send time; without: closed loop, the saturation rate.
#   LATENCY=1 scripts/bench/webhook.sh [seconds]
#     Postgres and Redis behind benches/delay_proxy.rs (DELAY_MS, 1 ms each
#     way, over TCP), one connection, closed loop (one delivery at a time):
#     p50/p99 and the store round trips each event costs.
#   WEBHOOK_TARGETS=opsbridge (or node): run only one of them.
#   PG_STATS=1: also print each server's costliest statements (Postgres with
#     pg_stat_statements loaded; its bookkeeping costs a little CPU).
#   WAL_PREFILL=N: WAL segments made ready before the runs (48; 0 = a cold
#     Postgres, see bench_wal_prefill in stores.sh).
#   WARMUP_SECS=N: the same load, not measured, before each server's run
#     (2; 0 = measure from a cold start).
#   SLOW_MS=N: also print when the events slower than N ms were due.
#   BENCH_PG_OPTS="-c name=value ...": more Postgres settings (diagnostics,
#     e.g. synchronous_commit=off to see what the WAL sync costs).
# Stores: one fresh, durable Postgres + Redis under .dev/bench/webhook,
# reached as DB_MODE says for opsbridge (scripts/bench/stores.sh). Both
# servers use the same Postgres server (separate databases, opsbridge and
# noderef, so neither sees the other's tables) and the same Redis (flushed
# between runs): one set of settings and one warm page cache, so the server
# is the only thing that differs; a CHECKPOINT before each run keeps one
# run's dirty pages from being written during the next.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=stores.sh
source scripts/bench/stores.sh
secs=${1:-10}; conns=${2:-64}; rate=${3:-}; port=${BENCH_PORT:-3190}
node_port=${NODE_PORT:-3191}
targets=${WEBHOOK_TARGETS:-node,opsbridge}
latency=${LATENCY:-}
if [ -n "$latency" ]; then conns=1; rate=""; fi
NODE_DIR="$ROOT/benches/node-reference"
NODE_PID=""; PROXY_PID=""

cleanup() {
  for pid in "$NODE_PID" "$PROXY_PID"; do
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  bench_cleanup
}

export STACK_PG_EXTRA_OPTS="$BENCH_WAL_OPTS ${BENCH_PG_OPTS:-}"
if [ -n "${PG_STATS:-}" ]; then
  STACK_PG_EXTRA_OPTS="$STACK_PG_EXTRA_OPTS -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all -c pg_stat_statements.track_planning=on"
fi
bench_stores_start webhook
bench_wal_prefill "${WAL_PREFILL:-48}"
trap cleanup EXIT INT TERM
# Built before any clock starts (a build error shows here).
loadgen=$(bench_loadgen webhook_load)
# The proxy runs as its own binary (not under cargo) so signals reach it.
proxy_bin=""
[ -z "$latency" ] || proxy_bin=$(cargo bench --quiet --bench delay_proxy --no-run --message-format=json |
  python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("executable") and m["target"]["name"] == "delay_proxy": print(m["executable"])')
# One secret for both servers and the load: the caller's, else .dev/env's,
# else a new one (scripts/dev writes .dev/env on its first start, and the
# Node run may come first; scripts/dev lets the environment win).
secret=${STRIPE_WEBHOOK_SECRET:-$(grep '^STRIPE_WEBHOOK_SECRET=' .dev/env 2>/dev/null | cut -d= -f2- || true)}
[ -n "$secret" ] ||
  secret=$(python3 -c 'import secrets,base64; print("whsec_"+base64.b64encode(secrets.token_bytes(32)).decode())')
export STRIPE_WEBHOOK_SECRET=$secret
psql_pg() { "$STACK_PG_BIN/psql" -h 127.0.0.1 -p "$STACK_PG_PORT" -U postgres -qtAc "$1" "${2:-postgres}"; }
"$STACK_PG_BIN/createdb" -h 127.0.0.1 -p "$STACK_PG_PORT" -U postgres noderef
if [ -n "${PG_STATS:-}" ]; then
  for db in opsbridge noderef; do psql_pg "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" "$db"; done
fi

# The stores as each server sees them: direct, or over TCP through the proxy.
node_db=$(printf '%s' "$DATABASE_URL" | sed 's#^\(postgres://[^/]*\)/opsbridge?#\1/noderef?#')
if [ "${DB_MODE:-direct}" = pgbouncer ]; then
  node_db="postgres://postgres@127.0.0.1:$STACK_PG_PORT/noderef?sslmode=disable"
  stack_log "the Node reference has no pooled mode: it connects to Postgres directly over TCP"
fi
node_redis=$REDIS_URL
if [ -n "$latency" ]; then
  pg_proxy=$(stack_free_port); redis_proxy=$(stack_free_port)
  ROUTES="127.0.0.1:$pg_proxy=127.0.0.1:$STACK_PG_PORT,127.0.0.1:$redis_proxy=127.0.0.1:$STACK_REDIS_PORT" \
    DELAY_MS=${DELAY_MS:-1} STATS_FILE="$BENCH_DIR/proxy.json" "$proxy_bin" >"$BENCH_DIR/proxy.log" 2>&1 &
  PROXY_PID=$!
  node_db="postgres://postgres@127.0.0.1:$pg_proxy/noderef?sslmode=disable"
  node_redis="redis://127.0.0.1:$redis_proxy"
  export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_proxy/opsbridge?sslmode=disable"
  export REDIS_URL="redis://127.0.0.1:$redis_proxy"
  for _ in $(seq 1 50); do [ -s "$BENCH_DIR/proxy.json" ] && break; sleep 0.1; done
  stack_log "latency mode: stores behind a ${DELAY_MS:-1} ms-each-way proxy, 1 connection, closed loop"
fi

# Round trips so far through the proxy: "postgres redis" (0 0 without it).
proxy_trips() {
  if [ -z "$PROXY_PID" ]; then echo "0 0"; return; fi
  kill -USR1 "$PROXY_PID"; sleep 0.2
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["routes"]; print(r[0]["round_trips"], r[1]["round_trips"])' \
    "$BENCH_DIR/proxy.json"
}

node_start() {
  [ -d "$NODE_DIR/node_modules" ] || (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2)
  PORT=$node_port DATABASE_URL=$node_db REDIS_URL=$node_redis STRIPE_WEBHOOK_SECRET=$secret \
    node "$NODE_DIR/server.js" >"$BENCH_DIR/node.log" 2>&1 &
  NODE_PID=$!
  bench_wait_health "$node_port" "$NODE_PID" "$BENCH_DIR/node.log" 10
}

node_stop() {
  kill -TERM "$NODE_PID" 2>/dev/null || true
  wait "$NODE_PID" 2>/dev/null || true
  NODE_PID=""
}

# Runs the load against NAME on PORT; prints the load line, the Postgres CPU
# and (latency mode) round trips per accepted event, and what DB holds in
# its EVENTS and JOBS tables afterwards (the same work was stored); keeps the
# line in $BENCH_DIR/NAME.out for the ratio.
run_load() {
  local name=$1 port=$2 db=$3 events=$4 jobs=$5 server=$6 out trips0 trips1 pg0 pg1 s0 s1
  # Warm-up, not measured: the same load for WARMUP_SECS opens the pools'
  # connections and fills the statement caches, as on a server that has run
  # a while (cold, the first half second held ~1% of all events above 8 ms).
  if [ "${WARMUP_SECS:-2}" -gt 0 ]; then
    TARGET="http://127.0.0.1:$port" STRIPE_WEBHOOK_SECRET="$secret" DURATION_SECS=${WARMUP_SECS:-2} \
      CONCURRENCY=$conns RATE=$rate SLOW_MS="" "$loadgen" >/dev/null
  fi
  psql_pg "CHECKPOINT"
  wal0=$(psql_pg "SELECT pg_current_wal_lsn() || ' ' || wal_fpi FROM pg_stat_wal")
  trips0=$(proxy_trips); pg0=$(bench_pg_ticks); s0=$(bench_ticks "$server")
  out=$(TARGET="http://127.0.0.1:$port" STRIPE_WEBHOOK_SECRET="$secret" DURATION_SECS=$secs \
    CONCURRENCY=$conns RATE=$rate /usr/bin/time -f '%U %S' -o "$BENCH_DIR/loadgen.time" \
    "$loadgen")
  pg1=$(bench_pg_ticks); trips1=$(proxy_trips); s1=$(bench_ticks "$server")
  # WAL written during the run (every commit waits for its sync), and how
  # many full-page images it held (a page's first change after a checkpoint).
  wal=$(psql_pg "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '${wal0% *}') || ' ' || (wal_fpi - ${wal0#* }) FROM pg_stat_wal")
  echo "$name${out#webhook load}"
  echo "$out" >"$BENCH_DIR/$name.out"
  psql_pg "SELECT format('$name: stored %s events, %s jobs', (SELECT count(*) FROM $events),
    (SELECT count(*) FROM $jobs))" "$db"
  if [ -n "${PG_STATS:-}" ]; then
    psql_pg "SELECT format('%s: %8s ms %7s calls %6s µs/call (planning %s)  %s', '$name', round(total_exec_time), calls,
        round((total_exec_time * 1000 / calls)::numeric, 1), round((total_plan_time * 1000 / calls)::numeric, 1),
        left(regexp_replace(query, '\s+', ' ', 'g'), 80))
      FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = '$db')
      ORDER BY total_exec_time + total_plan_time DESC LIMIT 12" "$db"
  fi
  # Autovacuum would otherwise catch up on these rows during the next run.
  psql_pg "VACUUM ANALYZE" "$db"
  python3 - "$name" "$out" "$((pg1 - pg0))" "$(getconf CLK_TCK)" "$trips0" "$trips1" "$latency" "$((s1 - s0))" \
    "$(cat "$BENCH_DIR/loadgen.time")" "$wal" <<'PY'
import re, sys
name, out, pg, hz, t0, t1, latency, server, loadgen, wal = sys.argv[1:]
m = re.search(r": (\d+) ok,", out)
ok = int(m.group(1)) if m else 0
if ok:
    per = lambda ticks: f"{int(ticks) / int(hz) * 1e6 / ok:.0f} µs"
    load = sum(map(float, loadgen.split())) * 1e6 / ok
    print(f"{name}: CPU per event: postgres {per(pg)}, server process {per(server)}"
          f" (load generator {load:.0f} µs)")
    wal_bytes, fpi = map(float, wal.split())
    print(f"{name}: WAL per event: {wal_bytes / ok:.0f} bytes, {fpi / ok:.2f} full-page images")
    if latency:
        (p0, r0), (p1, r1) = (map(int, t.split()) for t in (t0, t1))
        print(f"{name}: round trips per event: postgres {(p1 - p0) / ok:.2f}, redis {(r1 - r0) / ok:.2f}")
PY
}

IFS=, read -r -a wanted <<<"$targets"
for target in "${wanted[@]}"; do
  case "$target" in
    node)
      node_start
      run_load node "$node_port" noderef ref_events ref_jobs "$NODE_PID"
      node_stop ;;
    opsbridge)
      redis-cli -p "$STACK_REDIS_PORT" flushall >/dev/null
      bench_server_start "$port"
      run_load opsbridge "$port" opsbridge events jobs "$(bench_server_pid)"
      admin=$(grep '^ADMIN_TOKEN=' .dev/env | cut -d= -f2-)
      curl -fsS -H "Authorization: Bearer $admin" "http://127.0.0.1:$port/api/admin/overview" 2>/dev/null |
        python3 -c 'import json,sys
o = json.load(sys.stdin)
w = o.get("stripe_writer", (o.get("metrics") or {}).get("stripe_writer"))
if w is not None: print("opsbridge: stripe_writer:", json.dumps(w))' || true ;;
    *) stack_log "WEBHOOK_TARGETS: node, opsbridge or both (got $target)"; exit 2 ;;
  esac
done

if [ -s "$BENCH_DIR/node.out" ] && [ -s "$BENCH_DIR/opsbridge.out" ]; then
  python3 - "$(cat "$BENCH_DIR/node.out")" "$(cat "$BENCH_DIR/opsbridge.out")" <<'PY'
import re, sys
def figures(line):
    rate = float(re.search(r"= ([\d.]+)/s", line).group(1))
    p50, p99 = (float(re.search(rf"{p} ([\d.]+)", line).group(1)) for p in ("p50", "p99"))
    return rate, p50, p99
(nr, n50, n99), (orate, o50, o99) = figures(sys.argv[1]), figures(sys.argv[2])
div = lambda a, b: f"{a / b:.2f}" if b else "n/a"
print(f"ratio: opsbridge/node events/s = {div(orate, nr)}, "
      f"p50 node/opsbridge = {div(n50, o50)}, p99 node/opsbridge = {div(n99, o99)}")
PY
fi
