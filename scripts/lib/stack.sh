# shellcheck shell=bash
# The local stores for scripts/dev and scripts/test: a throwaway Postgres and
# Redis on free loopback ports, from the machine's binaries (installed with
# apt where missing). Source this file, then:
#   stack_start DIR MODE   # MODE: dev (durable, reused) or test (fast, throwaway)
#   stack_stop
# stack_start exports DATABASE_URL and REDIS_URL.

stack_log() { printf '%s\n' "opsbridge: $*" >&2; }

# Runs apt-get install for the named packages, once per call site.
stack_apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    stack_log "apt-get not found: install $* by hand"; return 1
  fi
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  stack_log "installing $* (apt-get)"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

# Finds the newest Postgres server binaries; installs postgresql if none.
stack_pg_bin() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    stack_apt_install postgresql postgresql-client || return 1
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  fi
  printf '%s' "$bin"
}

stack_ensure_redis() {
  command -v redis-server >/dev/null 2>&1 || stack_apt_install redis-server redis-tools
}

stack_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Postgres refuses to run as root: as root, run it as the `postgres` user.
stack_as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home /var/lib/postgresql postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# Where Postgres keeps its data. As root, the postgres user must reach the
# folder; when the checkout is somewhere it cannot (e.g. under /root), the data
# goes to /var/tmp, keyed by the checkout path, and still survives restarts.
stack_pg_dir() {
  local dir=$1
  if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$(dirname "$dir")" 2>/dev/null; then
    dir="/var/tmp/opsbridge-$(printf '%s' "$dir" | sha1sum | cut -c1-12)/pg"
  fi
  printf '%s' "$dir"
}

stack_start() {
  local dir=$1 mode=${2:-dev}
  mkdir -p "$dir"
  STACK_DIR=$dir
  local pg_bin; pg_bin=$(stack_pg_bin) || return 1
  stack_ensure_redis || return 1

  STACK_PGDATA=$(stack_pg_dir "$dir/pg")
  mkdir -p "$(dirname "$STACK_PGDATA")"
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$(dirname "$STACK_PGDATA")"; fi
  if [ ! -f "$STACK_PGDATA/PG_VERSION" ]; then
    stack_as_pg "$pg_bin/initdb" -D "$STACK_PGDATA" -U postgres -A trust -E UTF8 --no-locale >/dev/null
  fi
  STACK_PG_PORT=$(stack_free_port)
  # Clients connect over a Unix socket (next to the data: no TCP stack on
  # every statement, a third less CPU per round trip on a small machine);
  # TCP on 127.0.0.1 stays open for tools. Socket paths are limited to ~100
  # bytes, so a deep checkout falls back to TCP.
  local sock_dir; sock_dir=$(dirname "$STACK_PGDATA")
  [ ${#sock_dir} -le 80 ] || sock_dir=
  local opts="-c listen_addresses=127.0.0.1 -c port=$STACK_PG_PORT -c unix_socket_directories='$sock_dir' -c max_connections=400"
  # Extra server settings for diagnostics (e.g. pg_stat_statements in a bench).
  [ -z "${STACK_PG_EXTRA_OPTS:-}" ] || opts="$opts $STACK_PG_EXTRA_OPTS"
  if [ "$mode" = test ]; then
    # Throwaway data: durability off for speed.
    opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  fi
  stack_as_pg "$pg_bin/pg_ctl" -D "$STACK_PGDATA" -l "$STACK_PGDATA/../postgres.log" -o "$opts" -w -t 60 start >/dev/null
  STACK_PG_BIN=$pg_bin
  "$pg_bin/psql" -h 127.0.0.1 -p "$STACK_PG_PORT" -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='opsbridge'" | grep -q 1 ||
    "$pg_bin/createdb" -h 127.0.0.1 -p "$STACK_PG_PORT" -U postgres opsbridge
  if [ -n "$sock_dir" ]; then
    export DATABASE_URL="postgres:///opsbridge?user=postgres&host=$sock_dir&port=$STACK_PG_PORT&sslmode=disable"
  else
    export DATABASE_URL="postgres://postgres@127.0.0.1:$STACK_PG_PORT/opsbridge?sslmode=disable"
  fi

  STACK_REDIS_PORT=$(stack_free_port)
  mkdir -p "$dir/redis"
  local persist=(--save "60 1" --appendonly no)
  [ "$mode" = test ] && persist=(--save "" --appendonly no)
  local redis_sock="$dir/redis/redis.sock" sock_opts=()
  [ ${#redis_sock} -le 100 ] && sock_opts=(--unixsocket "$redis_sock" --unixsocketperm 700)
  redis-server --bind 127.0.0.1 --port "$STACK_REDIS_PORT" --dir "$dir/redis" "${sock_opts[@]}" \
    --daemonize yes --pidfile "$dir/redis/redis.pid" --logfile "$dir/redis/redis.log" \
    "${persist[@]}" >/dev/null
  for _ in $(seq 1 50); do
    redis-cli -p "$STACK_REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  if [ ${#sock_opts[@]} -gt 0 ]; then
    export REDIS_URL="redis+unix://$redis_sock"
  else
    export REDIS_URL="redis://127.0.0.1:$STACK_REDIS_PORT"
  fi
  stack_log "postgres on 127.0.0.1:$STACK_PG_PORT, redis on 127.0.0.1:$STACK_REDIS_PORT (data in $dir)"
}

stack_stop() {
  if [ -n "${STACK_PGDATA:-}" ] && [ -f "$STACK_PGDATA/postmaster.pid" ]; then
    stack_as_pg "$STACK_PG_BIN/pg_ctl" -D "$STACK_PGDATA" -m fast -w stop >/dev/null 2>&1 || true
  fi
  if [ -n "${STACK_REDIS_PORT:-}" ]; then
    redis-cli -p "$STACK_REDIS_PORT" shutdown >/dev/null 2>&1 || true
  fi
}
