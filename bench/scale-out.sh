#!/usr/bin/env bash
# scale-out.sh: manifest GET and blob pull requests per second through nginx on the reference
# deployment (scripts/deploy-local.sh: nginx, N Wharf instances, PostgreSQL, Ceph RGW), with 1, 2
# and 3 instances, then with 3 instances and blob redirects on (storage.s3.redirect: a blob GET is
# a 307 to a presigned bucket URL, which wrk does not follow: it counts what Wharf itself answers).
# Each configuration runs on a fresh deployment; wrk runs on the same machine, so it competes with
# nginx, the instances, PostgreSQL and Ceph for the same cores (see docs/benchmarks.md).
#
# Usage:  bench/scale-out.sh [1] [2] [3] [redirect]      (default: all four)
# Env:    DURATION (10s per measurement), CONNECTIONS (64), THREADS (2), BLOB_KIB (1024),
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

# requests/sec from wrk's output
rps() { awk '/^Requests\/sec:/ { printf "%d", $2 }'; }

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
  manifest=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -H "$auth" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "$url/v2/bench/app/manifests/v1" | tee "$WORK/$name.manifest.wrk" | rps)
  blob=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -H "$auth" "$url/v2/bench/app/blobs/$layer" | tee "$WORK/$name.blob.wrk" | rps)
  local transfer; transfer=$(awk '/^Transfer\/sec:/ { print $2 }' "$WORK/$name.blob.wrk")
  printf '| %s | %s | %s | %s | %s |\n' "$name" "$instances" "$manifest" "$blob" "$transfer" >> "$WORK/table"
  bash "$ROOT/scripts/deploy-local.sh" stop "$DEPLOY" >/dev/null 2>&1 || true
  DEPLOY=""
}

printf '| run | instances | manifest GET (req/s) | blob GET %s KiB (req/s) | blob GET (transfer/s) |\n|---|---|---|---|---|\n' "$BLOB_KIB" > "$WORK/table"
for run in "${RUNS[@]}"; do
  case "$run" in
    1|2|3) measure "instances-$run" "$run" 0 ;;
    redirect) measure redirect 3 1 ;;
    *) log "unknown run $run (1, 2, 3 or redirect)"; exit 2 ;;
  esac
done
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION through nginx, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$WORK/table"
