# shellcheck shell=bash
# The pooled lane for scripts/test: the stores reached the way Vercel users
# reach them (DESIGN.md, "Where it runs"), next to the plain ones stack.sh
# starts. A suite that only sees a private Postgres on a Unix socket proves
# nothing about poolers and TLS, so this adds, on the same throwaway Postgres:
#   - Debian's PgBouncer (installed with apt where missing) in transaction
#     mode with its DEFAULT startup-parameter rules, so it refuses `options`
#     ("unsupported startup parameter: options") as Neon's and Supabase's
#     poolers do; clients must use TLS; Supabase-shaped user and URL.
#   - The test Postgres itself over TLS with a scram password (verify-full).
#   - A second Redis that speaks only TLS (rediss://).
# Certificates come from a throwaway CA made with openssl at run time; nothing
# is committed, nothing outlives DIR and the test cluster.
# Source after stack.sh and `stack_start DIR test`, then:
#   pooled_start DIR   # DIR: a folder of its own (created if missing)
#   pooled_stop        # safe to call twice or after a failed start
# pooled_start exports (every password is a FAKE, test-only value):
#   TEST_CA_CERT_FILE           PEM of the throwaway CA that signed every server cert
#   TEST_WRONG_CA_CERT_FILE     PEM of an unrelated CA (verification must fail)
#   TEST_POOLED_DATABASE_URL    postgres://postgres.fakeref:...@localhost:PORT/DBNAME?sslmode=require&supa=base-pooler.x
#                               (literal DBNAME: each test puts its own database there)
#   TEST_POOLER_PORT_IS_6543    1 when PORT is 6543 (pooler auto-detection by port), else 0
#   TEST_DIRECT_TLS_DATABASE_URL postgres://app_tls:...@localhost:PGPORT/DBNAME?sslmode=verify-full
#   TEST_PGBOUNCER_ADMIN_URL    postgres://pgbouncer_admin:...@localhost:PORT/pgbouncer?sslmode=require
#                               (admin console: SHOW POOLS, RECONNECT, KILL db; simple query protocol only)
#   TEST_PGBOUNCER_RESTART      a script: restarts pgbouncer in place (same port and config),
#                               dropping every client and server connection
#   TEST_REDIS_TLS_URL          rediss://localhost:PORT (unset when redis-server lacks TLS)

pooled_log() { printf '%s\n' "opsbridge: $*" >&2; }
# Every step below ends in `|| return 1`: when a caller writes
# `pooled_start DIR || ...`, bash turns errexit off inside the functions.

# Fake credentials: test-only, printed in URLs, never secrets.
POOLED_PGB_USER=postgres.fakeref           # Supabase's pooler user shape: <role>.<project ref>
POOLED_PGB_PASSWORD=FAKE_pooler_password
POOLED_PGB_ADMIN=pgbouncer_admin
POOLED_PGB_ADMIN_PASSWORD=FAKE_admin_password
POOLED_TLS_ROLE=app_tls
POOLED_TLS_PASSWORD=FAKE_tls_password

# Finds pgbouncer (Debian puts it in /usr/sbin, often off a user's PATH);
# installs the package when missing.
pooled_pgbouncer_bin() {
  local bin
  bin=$(command -v pgbouncer 2>/dev/null || true)
  if [ -z "$bin" ] && [ -x /usr/sbin/pgbouncer ]; then bin=/usr/sbin/pgbouncer; fi
  if [ -z "$bin" ]; then
    stack_apt_install pgbouncer || return 1
    bin=$(command -v pgbouncer 2>/dev/null || echo /usr/sbin/pgbouncer)
  fi
  [ -x "$bin" ] || { pooled_log "pgbouncer not found after install"; return 1; }
  printf '%s' "$bin"
}

# True when nothing listens on 127.0.0.1:PORT (a bind succeeds).
pooled_port_free() {
  python3 -c 'import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try: s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError: sys.exit(1)' "$1"
}

# True while PID runs. A zombie counts as gone: daemons are reparented to
# PID 1, which (in containers) may reap them only seconds later, so a bare
# `kill -0` would wait that long for a process that has already exited.
pooled_alive() {
  local st=""
  if [ -r "/proc/$1/stat" ]; then
    read -r _ _ st _ <"/proc/$1/stat" 2>/dev/null || return 1
    [ -n "$st" ] && [ "$st" != Z ]
  else
    kill -0 "$1" 2>/dev/null
  fi
}

# The throwaway CA, an unrelated "wrong" CA, and one server certificate for
# DNS:localhost + IP:127.0.0.1 used by pgbouncer, Postgres and Redis.
# EC P-256: key generation takes milliseconds, unlike RSA.
pooled_certs() {
  local tls=$1 days=7
  mkdir -p "$tls" && chmod 755 "$tls" || return 1
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  # CA: v3 with CA:TRUE and keyCertSign, which OpenSSL and webpki both demand.
  openssl req -x509 "${ec[@]}" -days "$days" -subj "/CN=opsbridge test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$tls/ca.key" -out "$tls/ca.crt" 2>/dev/null || return 1
  openssl req -x509 "${ec[@]}" -days "$days" -subj "/CN=opsbridge WRONG test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$tls/wrong-ca.key" -out "$tls/wrong-ca.crt" 2>/dev/null || return 1
  openssl req "${ec[@]}" -subj "/CN=localhost" -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null || return 1
  # Leaf: CA:FALSE (webpki rejects a CA cert used as an end entity), SAN for
  # both names clients use, serverAuth.
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid" >"$tls/server.ext"
  openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial \
    -days "$days" -extfile "$tls/server.ext" -out "$tls/server.crt" 2>/dev/null || return 1
  chmod 600 "$tls"/*.key && chmod 644 "$tls"/*.crt
}

# Postgres over TLS: ssl=on with the throwaway cert, a scram role for TCP.
# Plain DATABASE_URL access (socket/TCP trust as postgres) is untouched.
pooled_pg_tls() {
  local tls=$1
  local psql=("$STACK_PG_BIN/psql" -X -q -h 127.0.0.1 -p "$STACK_PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1)
  # Key and cert live in PGDATA (the default server.crt/server.key names), so
  # they share the cluster's life; Postgres wants the key owned by it, 0600.
  cp "$tls/server.crt" "$tls/server.key" "$STACK_PGDATA/" && chmod 600 "$STACK_PGDATA/server.key" || return 1
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$STACK_PGDATA/server.crt" "$STACK_PGDATA/server.key" || return 1; fi

  # The TLS role first: strictly scram over TLS from loopback, and refused
  # without TLS (so a client that silently drops TLS fails loudly instead of
  # falling through to the trust lines). First match wins, so these go on top.
  local hba="$STACK_PGDATA/pg_hba.conf" tmp
  tmp=$(mktemp) || return 1
  {
    echo "# opsbridge pooled.sh begin"
    echo "hostssl   all $POOLED_TLS_ROLE 127.0.0.1/32 scram-sha-256"
    echo "hostssl   all $POOLED_TLS_ROLE ::1/128      scram-sha-256"
    echo "hostnossl all $POOLED_TLS_ROLE all          reject"
    echo "# opsbridge pooled.sh end"
    sed '/^# opsbridge pooled.sh begin$/,/^# opsbridge pooled.sh end$/d' "$hba"
  } >"$tmp" || return 1
  cat "$tmp" >"$hba" || return 1 # in place: keeps the file's owner and mode
  rm -f "$tmp"

  # ssl is reloadable (SIGHUP), so no restart; ALTER SYSTEM lands in the
  # test cluster's postgresql.auto.conf, thrown away with it.
  "${psql[@]}" \
    -c "ALTER SYSTEM SET ssl = on" \
    -c "SET password_encryption = 'scram-sha-256'" \
    -c "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$POOLED_TLS_ROLE') THEN CREATE ROLE $POOLED_TLS_ROLE; END IF; END\$\$" \
    -c "ALTER ROLE $POOLED_TLS_ROLE LOGIN SUPERUSER PASSWORD '$POOLED_TLS_PASSWORD'" \
    -c "SELECT pg_reload_conf()" >/dev/null || return 1

  # Ready when a verify-full scram login works end to end (reload is async).
  local _
  for _ in $(seq 1 100); do
    PGPASSWORD=$POOLED_TLS_PASSWORD "$STACK_PG_BIN/psql" -X -tAq \
      "postgres://$POOLED_TLS_ROLE@localhost:$STACK_PG_PORT/postgres?sslmode=verify-full&sslrootcert=$tls/ca.crt" \
      -c "SELECT 1" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  pooled_log "postgres did not accept TLS after reload; see $(dirname "$STACK_PGDATA")/postgres.log"
  return 1
}

# Writes pgbouncer.ini for PORT.
pooled_pgb_config() {
  local d=$1 port=$2
  cat >"$d/pgbouncer.ini" <<EOF
; Written by scripts/lib/pooled.sh for the test suite; throwaway.
[databases]
; Wildcard auto-database: each test's own database needs no reload. Server
; side is plain TCP as postgres, let in by the cluster's trust line.
* = host=127.0.0.1 port=$STACK_PG_PORT user=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
; No Unix socket: clients come over TCP+TLS like on Vercel.
unix_socket_dir =
; Transaction mode: what Neon's pooled URL and Supabase's 6543 give users.
pool_mode = transaction
; ignore_startup_parameters left at its default on purpose: pgbouncer must
; refuse a startup "options" parameter, as hosted poolers do.
auth_type = scram-sha-256
auth_file = $d/userlist.txt
admin_users = $POOLED_PGB_ADMIN
client_tls_sslmode = require
client_tls_key_file = $d/server.key
client_tls_cert_file = $d/server.crt
max_client_conn = 1000
; Server connections: at most 20 per test database, opened only while that
; many of its transactions run at once; idle ones close after 10 s, an
; unused database's pool after 30 s. The total is 20 x the databases busy at
; once (under Postgres's 400 while fewer than ~15 tests hammer it together).
; No global cap: 1.18 counts max_user_connections per database when the
; database forces user=, so it cannot bound the total.
default_pool_size = 20
server_idle_timeout = 10
autodb_idle_timeout = 30
; After a fault test stops Postgres, retry logins after 1 s, not 15.
server_login_retry = 1
logfile = $d/pgbouncer.log
pidfile = $d/pgbouncer.pid
EOF
}

# Starts pgbouncer on PORT through the restart script (one code path for
# first start and in-place restart).
pooled_pgb_launch() {
  local d=$1 port=$2
  pooled_pgb_config "$d" "$port" || return 1
  local as_pg="" restart="$POOLED_DIR/pgbouncer-restart"
  # pgbouncer refuses to run as root: as root, run it as postgres.
  if [ "$(id -u)" -eq 0 ]; then as_pg="runuser -u postgres --"; fi
  # The script stays the caller's (not in the postgres-owned folder): root runs it.
  cat >"$restart" <<EOF
#!/usr/bin/env bash
# Restarts the test pgbouncer in place (same port, same config): every
# client and server connection drops. Written by scripts/lib/pooled.sh.
set -euo pipefail
d='$d'
$(declare -f pooled_alive)
if pid=\$(cat "\$d/pgbouncer.pid" 2>/dev/null) && pooled_alive "\$pid"; then
  kill -TERM "\$pid" # pgbouncer 1.18: SIGTERM = immediate shutdown
  for _ in \$(seq 1 200); do pooled_alive "\$pid" || break; sleep 0.02; done
  if pooled_alive "\$pid"; then kill -KILL "\$pid"; sleep 0.1; fi
fi
$as_pg '$POOLED_PGB_BIN' -d -q "\$d/pgbouncer.ini"
for _ in \$(seq 1 200); do
  (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && exit 0
  sleep 0.05
done
echo "pgbouncer did not come up on 127.0.0.1:$port; log tail:" >&2
tail -n 20 "\$d/pgbouncer.log" >&2 || true
exit 1
EOF
  chmod 755 "$restart" || return 1
  if [ "$(id -u)" -eq 0 ]; then chown -R postgres "$d" || return 1; fi
  "$restart"
}

pooled_start_pgbouncer() {
  local tls=$1
  POOLED_PGB_BIN=$(pooled_pgbouncer_bin) || return 1
  pooled_log "$("$POOLED_PGB_BIN" --version | head -n 1)"
  # As root, pgbouncer runs as postgres: its folder must be reachable by that
  # user; when DIR is not (e.g. under /root), it goes to /var/tmp instead.
  POOLED_PGB_DIR="$POOLED_DIR/pgbouncer"
  if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$POOLED_DIR" 2>/dev/null; then
    POOLED_PGB_DIR=$(mktemp -d /var/tmp/opsbridge-pgbouncer.XXXXXX)
  fi
  mkdir -p "$POOLED_PGB_DIR" && chmod 700 "$POOLED_PGB_DIR" || return 1
  cp "$tls/server.crt" "$tls/server.key" "$POOLED_PGB_DIR/" || return 1
  # Plain-text passwords: pgbouncer derives scram from them (1.14+).
  printf '"%s" "%s"\n' "$POOLED_PGB_USER" "$POOLED_PGB_PASSWORD" \
    "$POOLED_PGB_ADMIN" "$POOLED_PGB_ADMIN_PASSWORD" >"$POOLED_PGB_DIR/userlist.txt" || return 1
  chmod 600 "$POOLED_PGB_DIR/userlist.txt" "$POOLED_PGB_DIR/server.key" || return 1

  # 6543 when free: Supabase's pooler port, so the suite exercises the
  # auto-detection by port; else any free port. A lost race on 6543 (another
  # run took it) falls back once to a free port.
  local port
  if pooled_port_free 6543; then port=6543; else port=$(stack_free_port); fi
  if ! pooled_pgb_launch "$POOLED_PGB_DIR" "$port"; then
    [ "$port" = 6543 ] || return 1
    port=$(stack_free_port)
    pooled_pgb_launch "$POOLED_PGB_DIR" "$port" || return 1
  fi
  POOLED_PGB_PORT=$port
}

# A Redis that speaks only TLS (--port 0), separate from stack.sh's plain
# one so REDIS_URL is untouched. Returns 2 when redis-server lacks TLS.
pooled_start_redis_tls() {
  local tls=$1
  # Debian's redis-server is built with TLS linked in (BUILD_TLS=yes).
  if ! ldd "$(command -v redis-server)" 2>/dev/null | grep -q libssl; then
    pooled_log "redis-server here is built without TLS: TEST_REDIS_TLS_URL not set"
    return 2
  fi
  local d="$POOLED_DIR/redis-tls"
  mkdir -p "$d" || return 1
  POOLED_REDIS_TLS_PORT=$(stack_free_port) || return 1
  POOLED_REDIS_TLS_PID_FILE="$d/redis.pid" # set first: pooled_stop finds a half-started one
  # --tls-auth-clients no: hosted Redis checks a password, not a client cert.
  redis-server --bind 127.0.0.1 --port 0 --tls-port "$POOLED_REDIS_TLS_PORT" \
    --tls-cert-file "$tls/server.crt" --tls-key-file "$tls/server.key" \
    --tls-ca-cert-file "$tls/ca.crt" --tls-auth-clients no \
    --dir "$d" --daemonize yes --pidfile "$d/redis.pid" --logfile "$d/redis.log" \
    --save "" --appendonly no >/dev/null || return 1
  local _
  for _ in $(seq 1 200); do
    redis-cli --tls --cacert "$tls/ca.crt" -h 127.0.0.1 -p "$POOLED_REDIS_TLS_PORT" ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.05
  done
  pooled_log "TLS redis did not answer on 127.0.0.1:$POOLED_REDIS_TLS_PORT; see $d/redis.log"
  return 1
}

pooled_start() {
  local dir=$1
  if [ -z "${STACK_PG_PORT:-}" ] || [ -z "${STACK_PGDATA:-}" ]; then
    pooled_log "pooled_start needs stack_start first"; return 1
  fi
  mkdir -p "$dir" || return 1
  POOLED_DIR=$(cd "$dir" && pwd) || return 1
  local tls="$POOLED_DIR/tls"
  pooled_certs "$tls" || { pooled_log "openssl failed to make the test certificates"; return 1; }
  pooled_pg_tls "$tls" || return 1
  pooled_start_pgbouncer "$tls" || return 1
  local rc=0
  pooled_start_redis_tls "$tls" || rc=$?
  [ "$rc" -eq 0 ] || [ "$rc" -eq 2 ] || return 1

  export TEST_CA_CERT_FILE="$tls/ca.crt"
  export TEST_WRONG_CA_CERT_FILE="$tls/wrong-ca.crt"
  export TEST_POOLED_DATABASE_URL="postgres://$POOLED_PGB_USER:$POOLED_PGB_PASSWORD@localhost:$POOLED_PGB_PORT/DBNAME?sslmode=require&supa=base-pooler.x"
  if [ "$POOLED_PGB_PORT" = 6543 ]; then export TEST_POOLER_PORT_IS_6543=1; else export TEST_POOLER_PORT_IS_6543=0; fi
  export TEST_DIRECT_TLS_DATABASE_URL="postgres://$POOLED_TLS_ROLE:$POOLED_TLS_PASSWORD@localhost:$STACK_PG_PORT/DBNAME?sslmode=verify-full"
  export TEST_PGBOUNCER_ADMIN_URL="postgres://$POOLED_PGB_ADMIN:$POOLED_PGB_ADMIN_PASSWORD@localhost:$POOLED_PGB_PORT/pgbouncer?sslmode=require"
  export TEST_PGBOUNCER_RESTART="$POOLED_DIR/pgbouncer-restart"
  if [ "$rc" -eq 0 ]; then
    export TEST_REDIS_TLS_URL="rediss://localhost:$POOLED_REDIS_TLS_PORT"
  else
    unset TEST_REDIS_TLS_URL
  fi
  pooled_log "pgbouncer (transaction, TLS) on 127.0.0.1:$POOLED_PGB_PORT, postgres TLS on :$STACK_PG_PORT${TEST_REDIS_TLS_URL:+, redis TLS on :$POOLED_REDIS_TLS_PORT}"
}

# Stops a daemon by its pid file, waiting up to ~5 s (then SIGKILL).
pooled_kill_pidfile() {
  local pidfile=$1 sig=$2 pid _
  pid=$(cat "$pidfile" 2>/dev/null) || return 0
  [ -n "$pid" ] && pooled_alive "$pid" || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 1 250); do pooled_alive "$pid" || return 0; sleep 0.02; done
  kill -KILL "$pid" 2>/dev/null || true
}

pooled_stop() {
  # pgbouncer 1.18: SIGTERM = immediate shutdown.
  if [ -n "${POOLED_PGB_DIR:-}" ]; then pooled_kill_pidfile "$POOLED_PGB_DIR/pgbouncer.pid" TERM; fi
  if [ -n "${POOLED_REDIS_TLS_PID_FILE:-}" ]; then pooled_kill_pidfile "$POOLED_REDIS_TLS_PID_FILE" TERM; fi
  # The fallback folder under /var/tmp is outside DIR: remove it here.
  case "${POOLED_PGB_DIR:-}" in /var/tmp/opsbridge-pgbouncer.*) rm -rf "$POOLED_PGB_DIR" ;; esac
  return 0
}
