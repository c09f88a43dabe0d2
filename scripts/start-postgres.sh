#!/usr/bin/env bash
# A private PostgreSQL for the tests, on 127.0.0.1, all state in DIR (Debian's postgresql package;
# the system cluster on :5432 is not used or touched).
#
#   scripts/start-postgres.sh [start] DIR  -> prints WHARF_TEST_POSTGRES_URL=postgres://... on stdout
#                                             (also written to DIR/env); timing goes to stderr
#   scripts/start-postgres.sh stop DIR     -> stops that cluster (a fast shutdown; its data stays in DIR)
#   scripts/start-postgres.sh resume DIR   -> starts that stopped cluster again, data and port kept
#                                             (fault tests: a database restart under load; no other
#                                             start takes the port meanwhile)
#
# The URL's role `wharf` (password `wharf`, CREATEDB) owns database `wharf_test`; tests that need
# isolation create their own database or schema (see test/fixtures/postgres.ts).
# Port: PG_PORT, else the first free port from 15432 upward. Runs as user postgres when invoked
# as root (postgres refuses to run as root). Durability is off (fsync=off): test data only.
set -euo pipefail
CMD=start
case "${1:-}" in start|stop|resume) CMD=$1; shift ;; esac
DIR=${1:?usage: start-postgres.sh [start|stop|resume] DIR}
log() { echo "[start-postgres] $*" >&2; }

PGBIN=${PG_BIN:-}
if [ -z "$PGBIN" ]; then
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
  [ -n "$PGBIN" ] || PGBIN=$(pg_config --bindir 2>/dev/null || true)
fi
[ -x "$PGBIN/initdb" ] || { log "PostgreSQL server binaries not found (install Debian package postgresql, or set PG_BIN)"; exit 1; }

if [ "$(id -u)" = 0 ]; then
  PGUSER_OS=postgres
  as_pg() { runuser -u postgres -- "$@"; }
else
  PGUSER_OS=$(id -un)
  as_pg() { "$@"; }
fi

if [ "$CMD" = stop ]; then
  [ -f "$DIR/data/postmaster.pid" ] || exit 0
  DIR=$(cd "$DIR" && pwd)
  as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -m fast -w -t 20 stop >/dev/null 2>&1 || {
    pid=$(head -n1 "$DIR/data/postmaster.pid" 2>/dev/null || true)
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  }
  exit 0
fi

if [ "$CMD" = resume ]; then
  DIR=$(cd "$DIR" && pwd)
  [ -f "$DIR/data/PG_VERSION" ] || { log "no cluster in $DIR to resume"; exit 1; }
  # The server must not inherit this script's stdout/stderr: a caller reading them would wait for it.
  as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/log/postgres.log" -w -t 60 start >>"$DIR/log/pg_ctl.log" 2>&1 \
    || { log "postgres failed to start:"; tail -n 30 "$DIR/log/pg_ctl.log" "$DIR/log/postgres.log" >&2; exit 1; }
  exit 0
fi

mkdir -p "$DIR"; DIR=$(cd "$DIR" && pwd)
# stop a cluster left over in DIR, then start fresh
if [ -f "$DIR/data/postmaster.pid" ]; then bash "$0" stop "$DIR"; fi
rm -rf "$DIR/data" "$DIR/run" "$DIR/log"
mkdir -p "$DIR/data" "$DIR/run" "$DIR/log"
chown -R "$PGUSER_OS" "$DIR"
chmod 700 "$DIR/data"
as_pg test -w "$DIR/data" || { log "user $PGUSER_OS cannot write $DIR (a parent directory is not traversable?)"; exit 1; }

port_free() { [ -z "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }
# A stopped cluster keeps its port for `resume`: while its DIR holds a cluster, no other start takes
# the port, though nothing listens on it (a fault test stopped it and starts it again).
CLAIMS=${TMPDIR:-/tmp}/wharf-test-pg-ports.d
mkdir -p "$CLAIMS"
port_claimed() {
  local owner
  owner=$(cat "$CLAIMS/$1" 2>/dev/null) || return 1
  [ "$owner" != "$DIR" ] && [ -f "$owner/data/PG_VERSION" ]
}
LOCK=${TMPDIR:-/tmp}/wharf-test-pg-ports.lock
exec 8>"$LOCK"
flock -w 120 8 || { log "could not get $LOCK"; exit 1; }
if [ -n "${PG_PORT:-}" ]; then
  PORT=$PG_PORT; port_free "$PORT" || { log "port $PORT is in use"; exit 1; }
else
  PORT=""
  for p in $(seq 15432 15499); do port_free "$p" && ! port_claimed "$p" && { PORT=$p; break; }; done
  [ -n "$PORT" ] || { log "no free port in 15432..15499"; exit 1; }
fi
echo "$DIR" > "$CLAIMS/$PORT"

t0=$(date +%s%N)
as_pg "$PGBIN/initdb" -D "$DIR/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
  -E UTF8 --no-locale --no-sync --no-instructions >"$DIR/log/initdb.log" 2>&1 \
  || { log "initdb failed:"; cat "$DIR/log/initdb.log" >&2; exit 1; }
cat >>"$DIR/data/postgresql.conf" <<EOF
# --- wharf test settings
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR/run'
max_connections = 300
shared_buffers = 64MB
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
log_line_prefix = '%m [%p] %d '
EOF
as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/log/postgres.log" -w -t 60 start >/dev/null 8>&- \
  || { log "postgres failed to start:"; tail -n 30 "$DIR/log/postgres.log" >&2; exit 1; }
flock -u 8

PSQL=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$DIR/run" -p "$PORT" -U postgres -d postgres)
as_pg "${PSQL[@]}" -c "CREATE ROLE wharf LOGIN CREATEDB PASSWORD 'wharf'" \
  -c "CREATE DATABASE wharf_test OWNER wharf" >/dev/null \
  || { log "could not create the test role/database"; bash "$0" stop "$DIR"; exit 1; }
URL="postgres://wharf:wharf@127.0.0.1:$PORT/wharf_test"
# check the URL itself works over TCP with the password
PGPASSWORD=wharf "$PGBIN/psql" -X -q -At "$URL" -c 'select 1' >/dev/null \
  || { log "cannot connect with $URL"; bash "$0" stop "$DIR"; exit 1; }
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "WHARF_TEST_POSTGRES_URL=$URL" > "$DIR/env"
log "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') ready at 127.0.0.1:$PORT in ${ms} ms (state in $DIR)"
cat "$DIR/env"
