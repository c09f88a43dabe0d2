#!/usr/bin/env bash
# The reference deployment on one machine (docs/scaling.md): nginx (deploy/nginx/wharf.conf) in
# front of three Wharf instances on one PostgreSQL database and one Ceph RGW bucket, each service
# started the way the test suite starts its own (scripts/start-postgres.sh, scripts/start-ceph.sh).
# Everything binds 127.0.0.1 and lives in DIR; the system's nginx and PostgreSQL are not touched.
#
#   scripts/deploy-local.sh start [DIR]    starts it all; prints WHARF_DEPLOY_* lines (also in DIR/env)
#   scripts/deploy-local.sh stop [DIR]     stops everything started for DIR (DIR stays; rm -rf it after)
#   scripts/deploy-local.sh status [DIR]   each process, and each instance's /readyz
#
# One part at a time, for fault drills (the end-to-end test uses these):
#   scripts/deploy-local.sh instance start|stop|kill N [DIR]   Wharf instance N (1..INSTANCES); kill = SIGKILL
#   scripts/deploy-local.sh postgres stop|start [DIR]           a fast shutdown / a start of the same cluster
#   scripts/deploy-local.sh rgw stop|start [DIR]                the S3 gateway only (the objects stay in the OSD)
#
# DIR defaults to ./.deploy-local. Env knobs (for start):
#   INSTANCES=3          Wharf instances
#   NGINX_PORT           nginx's port (default: the first free one from 18080)
#   WHARF_ADMIN_USER / WHARF_ADMIN_PASSWORD   the first administrator (default admin / a random password, in DIR/env)
#   REDIRECT=1           blob GETs answer 307 to a presigned URL of the bucket (storage.s3.redirect)
#   EXTRA_CONFIG=FILE    YAML appended to the instances' config.yml (sections it does not set, e.g. mirror:)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CMD=${1:-}
case "$CMD" in
  start|stop|status) shift ;;
  instance|postgres|rgw) shift; ACTION=${1:?usage: deploy-local.sh $CMD start|stop|... [DIR]}; shift
    if [ "$CMD" = instance ]; then N=${1:?usage: deploy-local.sh instance start|stop|kill N [DIR]}; shift; fi ;;
  *) echo "usage: deploy-local.sh start|stop|status|instance|postgres|rgw ... [DIR]" >&2; exit 2 ;;
esac
DIR=${1:-$ROOT/.deploy-local}
log() { echo "[deploy-local] $*" >&2; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

port_free() { [ -z "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }
first_free() { # from count
  local p
  for p in $(seq "$1" $(( $1 + $2 - 1 ))); do port_free "$p" && { echo "$p"; return 0; }; done
  return 1
}
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
# Waits up to $1 s for a process (pid file $2) to exit; SIGKILL after that.
stop_pid() { # pidfile signal wait_s
  local f=$1 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "-$2" "$pid" 2>/dev/null || true
    for _ in $(seq 1 $(( $3 * 10 ))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}
load_env() { # file: KEY=VALUE lines into the environment
  local line
  while IFS= read -r line; do
    if [[ $line =~ ^([A-Z0-9_]+)=(.*)$ ]]; then export "${BASH_REMATCH[1]}=${BASH_REMATCH[2]}"; fi
  done < "$1"
}
wait_http() { # url timeout_s what
  local end=$(( $(date +%s) + $2 ))
  until curl -s -o /dev/null --max-time 2 "$1"; do
    [ "$(date +%s)" -lt "$end" ] || { log "$3 did not answer at $1 within $2 s"; return 1; }
    sleep 0.2
  done
}

# --- one Wharf instance: node bin/wharf serve, its own port and data directory (spool, logs).
instance_start() { # n
  local n=$1 port
  port=$(sed -n "s/^WHARF_DEPLOY_INSTANCE_${n}=http:\/\/127.0.0.1://p" "$DIR/env")
  [ -n "$port" ] || { log "no instance $n in $DIR/env"; return 1; }
  alive "$DIR/wharf/$n.pid" && return 0
  mkdir -p "$DIR/wharf/$n"
  # fd 8 is the port lock while starting: the instance must not keep it.
  WHARF_HTTP_PORT=$port WHARF_DATA_DIRECTORY="$DIR/wharf/$n" \
    setsid node "$ROOT/bin/wharf" serve --config "$DIR/wharf/config.yml" </dev/null >>"$DIR/wharf/$n.log" 2>&1 8>&- &
  echo $! > "$DIR/wharf/$n.pid"
  wait_http "http://127.0.0.1:$port/healthz" 60 "wharf instance $n" || { tail -n 20 "$DIR/wharf/$n.log" >&2; return 1; }
}

instance_stop() { # n signal
  stop_pid "$DIR/wharf/$1.pid" "$2" 40
}

start() {
  local t0 ts
  t0=$(now_ms)
  command -v nginx >/dev/null || { log "nginx not installed (scripts/install-deps.sh installs Debian's package)"; exit 1; }
  [ -f "$ROOT/dist/src/cli/main.js" ] || { log "Wharf is not built: npm run build"; exit 1; }
  if [ -f "$DIR/env" ]; then bash "$0" stop "$DIR" >/dev/null 2>&1 || true; fi
  mkdir -p "$DIR"; DIR=$(cd "$DIR" && pwd)
  rm -rf "$DIR/wharf" "$DIR/nginx" "$DIR/env"
  mkdir -p "$DIR/wharf" "$DIR/nginx/logs" "$DIR/nginx/temp"
  local instances=${INSTANCES:-3}

  # PostgreSQL and Ceph in parallel, as scripts/test.sh does.
  ts=$(now_ms)
  # A port range of its own: the deployment stops and resumes PostgreSQL on the same port, and a
  # test server started meanwhile (scanning from 15432) must not take that port in the gap.
  local pg_port
  pg_port=${PG_PORT:-$(first_free 25432 68)} || { log "no free port in 25432..25499"; return 1; }
  PG_PORT=$pg_port bash "$ROOT/scripts/start-postgres.sh" start "$DIR/postgres" >"$DIR/postgres.env" 2>"$DIR/postgres.start.log" & local pg=$!
  bash "$ROOT/scripts/start-ceph.sh" start "$DIR/ceph" >"$DIR/ceph.env" 2>"$DIR/ceph.start.log" & local ceph=$!
  local fail=0
  wait "$pg" || { fail=1; log "PostgreSQL did not start:"; cat "$DIR/postgres.start.log" >&2; }
  wait "$ceph" || { fail=1; log "Ceph RGW did not start:"; cat "$DIR/ceph.start.log" >&2; }
  [ "$fail" = 0 ] || { bash "$0" stop "$DIR" >/dev/null 2>&1 || true; exit 1; }
  load_env "$DIR/postgres.env"
  load_env "$DIR/ceph.env"
  log "PostgreSQL and Ceph RGW ready in $(( $(now_ms) - ts )) ms"

  # Ports: nginx, then one per instance (a flock keeps two deployments from picking the same).
  exec 8>"${TMPDIR:-/tmp}/wharf-deploy-ports.lock"
  flock -w 60 8 || { log "could not take the port lock"; exit 1; }
  local nginx_port=${NGINX_PORT:-$(first_free 18080 100)}
  local ports=() p=$(( nginx_port + 1 ))
  while [ ${#ports[@]} -lt "$instances" ]; do
    port_free "$p" && ports+=("$p")
    p=$(( p + 1 ))
  done

  local admin_user=${WHARF_ADMIN_USER:-admin}
  local admin_password=${WHARF_ADMIN_PASSWORD:-$(head -c 18 /dev/urandom | base64 | tr -d '/+=')}
  {
    echo "WHARF_DEPLOY_URL=http://127.0.0.1:$nginx_port"
    for i in $(seq 1 "$instances"); do echo "WHARF_DEPLOY_INSTANCE_$i=http://127.0.0.1:${ports[$((i - 1))]}"; done
    echo "WHARF_DEPLOY_INSTANCES=$instances"
    echo "WHARF_DEPLOY_ADMIN_USER=$admin_user"
    echo "WHARF_DEPLOY_ADMIN_PASSWORD=$admin_password"
    echo "WHARF_DEPLOY_POSTGRES_URL=$WHARF_TEST_POSTGRES_URL"
    echo "WHARF_DEPLOY_S3_ENDPOINT=$WHARF_TEST_S3_ENDPOINT"
    echo "WHARF_DEPLOY_S3_BUCKET=$WHARF_TEST_S3_BUCKET"
  } > "$DIR/env"
  chmod 600 "$DIR/env"

  # One config for every instance; each gets its port and data directory from the environment.
  cat > "$DIR/wharf/config.yml" <<EOF
http:
  address: 127.0.0.1
  trustProxy: true
  publicUrl: http://127.0.0.1:$nginx_port
database:
  driver: postgres
  postgres:
    url: $WHARF_TEST_POSTGRES_URL
    poolSize: 10
storage:
  driver: s3
  s3:
    endpoint: $WHARF_TEST_S3_ENDPOINT
    accessKey: $WHARF_TEST_S3_ACCESS_KEY
    secretKey: $WHARF_TEST_S3_SECRET_KEY
    bucket: $WHARF_TEST_S3_BUCKET
    region: $WHARF_TEST_S3_REGION
    forcePathStyle: true
    redirect: $([ "${REDIRECT:-}" = 1 ] && echo true || echo false)
auth:
  mode: token
EOF
  [ -z "${EXTRA_CONFIG:-}" ] || cat "$EXTRA_CONFIG" >> "$DIR/wharf/config.yml"
  chmod 600 "$DIR/wharf/config.yml"

  # The first instance alone creates the schema, the signing key and the administrator.
  ts=$(now_ms)
  export WHARF_ADMIN_USER=$admin_user WHARF_ADMIN_PASSWORD=$admin_password
  instance_start 1
  local starting=()
  for i in $(seq 2 "$instances"); do instance_start "$i" & starting+=($!); done
  for p in "${starting[@]}"; do wait "$p" || true; done
  for i in $(seq 1 "$instances"); do alive "$DIR/wharf/$i.pid" || { log "instance $i is not running"; exit 1; }; done
  log "$instances Wharf instances ready in $(( $(now_ms) - ts )) ms"

  # nginx: the documented site config with this deployment's ports, under a main config of its own.
  local servers="" i
  for i in $(seq 1 "$instances"); do servers+="    server 127.0.0.1:${ports[$((i - 1))]} max_fails=1 fail_timeout=5s;\n"; done
  awk -v servers="$servers" -v listen="127.0.0.1:$nginx_port" '
    /^    server 127\.0\.0\.1:500[0-9] / { if (!done) { printf "%s", servers; done = 1 } next }
    { sub(/listen 127\.0\.0\.1:8080;/, "listen " listen ";"); print }
  ' "$ROOT/deploy/nginx/wharf.conf" > "$DIR/nginx/wharf.conf"
  local user_line=""
  [ "$(id -u)" != 0 ] || user_line="user nobody nogroup;"
  cat > "$DIR/nginx/nginx.conf" <<EOF
# scripts/deploy-local.sh: a private nginx (its own prefix, pid and logs) for the reference deployment.
$user_line
worker_processes 1;
pid $DIR/nginx/nginx.pid;
error_log $DIR/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log $DIR/nginx/logs/access.log;
    client_body_temp_path $DIR/nginx/temp/body;
    proxy_temp_path $DIR/nginx/temp/proxy;
    fastcgi_temp_path $DIR/nginx/temp/fastcgi;
    uwsgi_temp_path $DIR/nginx/temp/uwsgi;
    scgi_temp_path $DIR/nginx/temp/scgi;
    include $DIR/nginx/wharf.conf;
}
EOF
  nginx -t -q -p "$DIR/nginx" -e "$DIR/nginx/logs/error.log" -c "$DIR/nginx/nginx.conf"
  nginx -p "$DIR/nginx" -e "$DIR/nginx/logs/error.log" -c "$DIR/nginx/nginx.conf" </dev/null >/dev/null 2>&1 8>&-
  flock -u 8
  wait_http "http://127.0.0.1:$nginx_port/v2/" 20 nginx
  log "ready in $(( $(now_ms) - t0 )) ms: http://127.0.0.1:$nginx_port (state in $DIR)"
  cat "$DIR/env"
}

stop() {
  [ -d "$DIR" ] || exit 0
  DIR=$(cd "$DIR" && pwd)
  stop_pid "$DIR/nginx/nginx.pid" QUIT 10
  local f
  for f in "$DIR"/wharf/*.pid; do [ -f "$f" ] && stop_pid "$f" TERM 40 & done
  wait
  bash "$ROOT/scripts/start-ceph.sh" stop "$DIR/ceph" >/dev/null 2>&1 || log "stopping Ceph failed"
  bash "$ROOT/scripts/start-postgres.sh" stop "$DIR/postgres" >/dev/null 2>&1 || log "stopping PostgreSQL failed"
}

status() {
  [ -f "$DIR/env" ] || { echo "not started in $DIR"; exit 1; }
  load_env "$DIR/env"
  local rc=0 i url
  if alive "$DIR/nginx/nginx.pid"; then echo "nginx       running  $WHARF_DEPLOY_URL"; else echo "nginx       stopped"; rc=1; fi
  for i in $(seq 1 "$WHARF_DEPLOY_INSTANCES"); do
    url=$(sed -n "s/^WHARF_DEPLOY_INSTANCE_${i}=//p" "$DIR/env")
    if alive "$DIR/wharf/$i.pid"; then
      echo "instance $i  running  $url  readyz: $(curl -s --max-time 5 "$url/readyz" || echo 'no answer')"
    else
      echo "instance $i  stopped  $url"; rc=1
    fi
  done
  if [ -f "$DIR/postgres/data/postmaster.pid" ] && kill -0 "$(head -n1 "$DIR/postgres/data/postmaster.pid")" 2>/dev/null; then
    echo "postgres    running  $WHARF_DEPLOY_POSTGRES_URL" | sed 's#://[^@]*@#://***@#'
  else echo "postgres    stopped"; rc=1; fi
  if alive "$DIR/ceph/pids/rgw.pid"; then echo "ceph rgw    running  $WHARF_DEPLOY_S3_ENDPOINT"; else echo "ceph rgw    stopped"; rc=1; fi
  return $rc
}

case "$CMD" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  instance)
    DIR=$(cd "$DIR" && pwd)
    case "$ACTION" in
      start) instance_start "$N" ;;
      stop) instance_stop "$N" TERM ;;
      kill) instance_stop "$N" KILL ;;
      *) echo "usage: deploy-local.sh instance start|stop|kill N [DIR]" >&2; exit 2 ;;
    esac ;;
  postgres)
    case "$ACTION" in
      stop) bash "$ROOT/scripts/start-postgres.sh" stop "$DIR/postgres" ;;
      start) bash "$ROOT/scripts/start-postgres.sh" resume "$DIR/postgres" ;;
      *) echo "usage: deploy-local.sh postgres stop|start [DIR]" >&2; exit 2 ;;
    esac ;;
  rgw)
    case "$ACTION" in
      stop|start) bash "$ROOT/scripts/start-ceph.sh" "rgw-$ACTION" "$DIR/ceph" ;;
      *) echo "usage: deploy-local.sh rgw stop|start [DIR]" >&2; exit 2 ;;
    esac ;;
esac
