#!/usr/bin/env bash
# scale-out.sh: manifest GET and blob pull requests per second through nginx on the reference
# deployment (scripts/deploy-local.sh: nginx, N Wharf instances, PostgreSQL, Ceph RGW), with 1, 2
# and 3 instances, then with 3 instances and blob redirects on (storage.s3.redirect: a blob GET is
# a 307 to a presigned bucket URL, which wrk does not follow: it counts what Wharf itself answers).
# Each configuration runs on a fresh deployment; wrk runs on the same machine, so it competes with
# nginx, the instances, PostgreSQL and Ceph for the same cores (see docs/benchmarks.md).
#
# Usage:  bench/scale-out.sh [1] [2] [3] [redirect]      (default: all four)
# Env:    DURATION (10s per measurement, whole seconds, at least 4s), CONNECTIONS (64), THREADS (2), BLOB_KIB (1024),
#         KEEP_TMP=1 keeps the work dir (deployment logs).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
BLOB_KIB=${BLOB_KIB:-1024}
RUNS=("$@"); [ ${#RUNS[@]} -gt 0 ] || RUNS=(1 2 3 redirect)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/wharf-scale-bench.XXXXXX")
chmod 755 "$WORK"   # PostgreSQL runs as its own user and must reach its directory in here
DEPLOY=""
log() { echo "[scale-out] $*" >&2; }
for b in wrk curl nginx sha256sum; do command -v "$b" >/dev/null || { log "missing $b (scripts/install-deps.sh)"; exit 1; }; done

cleanup() {
  [ -z "$DEPLOY" ] || bash "$ROOT/scripts/deploy-local.sh" stop "$DEPLOY" >/dev/null 2>&1 || true
  if [ "${KEEP_TMP:-}" = 1 ]; then log "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# requests/sec and the 99th percentile from wrk's output (wrk --latency)
rps() { awk '/^Requests\/sec:/ { printf "%d", $2 }'; }
p99() { awk '$1 == "99%" { print $2 }'; }

# CPU seconds used so far by each part of the deployment and by wrk, from /proc/PID/stat (a
# process's line counts all its threads): "wharf nginx postgres ceph wrk".
cpu_snapshot() {
  local part pids out=""
  for part in "-f bin/wharf serve" "-x nginx" "-x postgres" "-f ceph-|radosgw" "-x wrk"; do
    # shellcheck disable=SC2086 # the pgrep options are split on purpose
    pids=$(pgrep ${part%% *} "${part#* }" | sed 's#.*#/proc/&/stat#' | tr '\n' ' ')
    out+="$( [ -z "$pids" ] && echo 0 || cat $pids 2>/dev/null | awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); split($0, f, " "); t += (f[12] + f[13]) / hz } END { print t + 0 }') "
  done
  echo "$out"
}
# cores each part used between two snapshots taken SECONDS apart: "wharf / nginx / postgres / ceph / wrk"
cores_used() { # before after seconds
  awk -v a="$1" -v b="$2" -v s="$3" 'BEGIN { split(a, x, " "); split(b, y, " "); out = ""
    for (i = 1; i <= 5; i++) out = out (i > 1 ? " / " : "") sprintf("%.2f", (y[i] - x[i]) / s); print out }'
}

# wrk through nginx, with the cores each part used meanwhile: "req/s|p99|cores"
run_wrk() { # out-file wrk-args...
  local out=$1; shift
  local seconds=${DURATION%s} before after started ended
  wrk --latency -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "$@" > "$out" &
  local pid=$!
  # CPU is read while wrk runs (from its second second to a second before its end): a process
  # that is gone by the second reading would drop out of the sum.
  sleep 1; before=$(cpu_snapshot); started=$(date +%s.%N)
  sleep $(( seconds - 2 )); after=$(cpu_snapshot); ended=$(date +%s.%N)
  wait "$pid"
  echo "$(rps < "$out")|$(p99 < "$out")|$(cores_used "$before" "$after" "$(awk -v a="$started" -v b="$ended" 'BEGIN { print b - a }')")"
}

measure() { # name instances redirect
  local name=$1 instances=$2 redirect=$3
  DEPLOY=$WORK/$name
  log "$name: starting $instances instance(s), redirect=$redirect"
  INSTANCES=$instances REDIRECT=$redirect bash "$ROOT/scripts/deploy-local.sh" start "$DEPLOY" > "$WORK/$name.env"
  local url user password token
  url=$(sed -n 's/^WHARF_DEPLOY_URL=//p' "$WORK/$name.env")
  user=$(sed -n 's/^WHARF_DEPLOY_ADMIN_USER=//p' "$WORK/$name.env")
  password=$(sed -n 's/^WHARF_DEPLOY_ADMIN_PASSWORD=//p' "$WORK/$name.env")
  token=$(curl -sf -u "$user:$password" "$url/token?service=wharf&scope=repository:bench/app:pull,push" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
  [ -n "$token" ] || { log "no token from $url"; exit 1; }
  local auth="Authorization: Bearer $token"

  # One image: a random layer, a config, a manifest (monolithic uploads, POST ?digest=).
  head -c $(( BLOB_KIB * 1024 )) /dev/urandom > "$WORK/layer"
  printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' > "$WORK/config"
  local layer config
  layer=sha256:$(sha256sum "$WORK/layer" | cut -d' ' -f1)
  config=sha256:$(sha256sum "$WORK/config" | cut -d' ' -f1)
  for blob in layer config; do
    local digest; digest=$([ $blob = layer ] && echo "$layer" || echo "$config")
    curl -sf -o /dev/null -X POST -H "$auth" -H 'Content-Type: application/octet-stream' \
      --data-binary "@$WORK/$blob" "$url/v2/bench/app/blobs/uploads/?digest=$digest"
  done
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}' \
    "$config" "$(stat -c %s "$WORK/config")" "$layer" "$(stat -c %s "$WORK/layer")" > "$WORK/manifest"
  curl -sf -o /dev/null -X PUT -H "$auth" -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary "@$WORK/manifest" "$url/v2/bench/app/manifests/v1"

  local manifest blob
  manifest=$(run_wrk "$WORK/$name.manifest.wrk" -H "$auth" -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$url/v2/bench/app/manifests/v1")
  blob=$(run_wrk "$WORK/$name.blob.wrk" -H "$auth" "$url/v2/bench/app/blobs/$layer")
  local transfer; transfer=$(awk '/^Transfer\/sec:/ { print $2 }' "$WORK/$name.blob.wrk")
  IFS='|' read -r m_rps m_p99 m_cores <<< "$manifest"
  IFS='|' read -r b_rps b_p99 b_cores <<< "$blob"
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$instances" "$m_rps" "$m_p99" "$m_cores" "$b_rps" "$b_p99" "$transfer" "$b_cores" >> "$WORK/table"
  bash "$ROOT/scripts/deploy-local.sh" stop "$DEPLOY" >/dev/null 2>&1 || true
  DEPLOY=""
}

printf '| run | instances | manifest GET (req/s) | p99 | cores used: wharf / nginx / postgres / ceph / wrk | blob GET %s KiB (req/s) | p99 | transfer/s | cores used: wharf / nginx / postgres / ceph / wrk |\n|---|---|---|---|---|---|---|---|---|\n' "$BLOB_KIB" > "$WORK/table"
for run in "${RUNS[@]}"; do
  case "$run" in
    1|2|3) measure "instances-$run" "$run" 0 ;;
    redirect) measure redirect 3 1 ;;
    *) log "unknown run $run (1, 2, 3 or redirect)"; exit 2 ;;
  esac
done
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION through nginx, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$WORK/table"
