#!/usr/bin/env bash
# s3-compare.sh: Wharf on its s3 driver beside CNCF Distribution 2.8.2 on its own s3 driver, both
# against the same Ceph RGW (scripts/start-ceph.sh), measured by bench/compare.sh
# (registry-bench.mjs, alternating rounds, medians side by side; "reference" = Distribution,
# "candidate" = Wharf).
#
# Like with like: two modes, each on a freshly started Ceph (memstore holds everything in RAM,
# capped at 4 GiB, so every mode starts empty):
#   stream     blob GETs served by the registry (Distribution: redirect: {disable: true})
#   redirect   blob GETs answered 307 to a presigned gateway URL (Distribution's default)
# wrk follows no redirects, so in "redirect" mode pull is measured by registry-bench.mjs's own
# client (following the 307) for both registries.
#
# Usage:  bench/s3-compare.sh [stream] [redirect]        (default: both)
# Env:    ROUNDS (2), BENCH_ARGS ("--blobs 4": 4 x 64 MiB per push phase keeps 2 rounds of both
#         registries under the gateway's 4 GiB), COMPARE (bench/compare.sh),
#         DIST_BIN (docker-registry), KEEP_TMP=1 keeps the work dir (configs, logs, JSON results).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COMPARE=${COMPARE:-$ROOT/bench/compare.sh}
DIST_BIN=${DIST_BIN:-docker-registry}
export ROUNDS=${ROUNDS:-2}
export BENCH_ARGS=${BENCH_ARGS:---blobs 4}
MODES=("$@"); [ ${#MODES[@]} -gt 0 ] || MODES=(stream redirect)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/wharf-s3-bench.XXXXXX")
WHARF_PID=""
log() { echo "[s3-compare] $*" >&2; }

stop_wharf() {
  if [ -n "$WHARF_PID" ]; then kill "$WHARF_PID" 2>/dev/null || true; wait "$WHARF_PID" 2>/dev/null || true; WHARF_PID=""; fi
}
cleanup() {
  stop_wharf
  bash "$ROOT/scripts/start-ceph.sh" stop "$WORK/ceph" >/dev/null 2>&1 || true
  if [ "${KEEP_TMP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
[ -f "$ROOT/dist/src/cli/main.js" ] || { log "build first: npx tsc -p ."; exit 1; }

for mode in "${MODES[@]}"; do
  case $mode in stream) redirect=false ;; redirect) redirect=true ;; *) log "unknown mode $mode"; exit 2 ;; esac
  log "mode $mode: starting Ceph RGW"
  bash "$ROOT/scripts/start-ceph.sh" stop "$WORK/ceph" >/dev/null 2>&1 || true
  bash "$ROOT/scripts/start-ceph.sh" "$WORK/ceph" >"$WORK/ceph.env" 2>"$WORK/ceph.log" || { cat "$WORK/ceph.log" >&2; exit 1; }
  # shellcheck disable=SC1091
  set -a; . "$WORK/ceph.env"; set +a

  # Distribution on its s3 driver; compare.sh starts "$REF_BIN serve <its config>" on
  # REF_PORT, so REF_BIN is a wrapper that serves this config instead.
  ref_port=$(free_port)
  dist_redirect=""; [ "$redirect" = false ] && dist_redirect="  redirect: {disable: true}"
  cat >"$WORK/distribution-$mode.yml" <<EOF
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage:
  s3: {region: $WHARF_TEST_S3_REGION, regionendpoint: $WHARF_TEST_S3_ENDPOINT, bucket: $WHARF_TEST_S3_BUCKET,
       accesskey: $WHARF_TEST_S3_ACCESS_KEY, secretkey: $WHARF_TEST_S3_SECRET_KEY, secure: false, v4auth: true,
       rootdirectory: /distribution-$mode}
  delete: {enabled: true}
  cache: {blobdescriptor: inmemory}
$dist_redirect
http: {addr: 127.0.0.1:$ref_port}
EOF
  cat >"$WORK/distribution-$mode.sh" <<EOF
#!/bin/sh
# AWS_CA_BUNDLE makes Distribution's AWS SDK panic at start.
[ "\$1" = serve ] && exec env -u AWS_CA_BUNDLE $DIST_BIN serve "$WORK/distribution-$mode.yml"
exec $DIST_BIN "\$@"
EOF
  chmod +x "$WORK/distribution-$mode.sh"

  # Wharf on s3, its defaults otherwise (16 MiB parts, 4 in parallel); no access log, like Distribution.
  wharf_port=$(free_port)
  cat >"$WORK/wharf-$mode.yml" <<EOF
dataDirectory: $WORK/wharf-data-$mode
http: {address: 127.0.0.1, port: $wharf_port}
log: {level: warn, accessLog: false}
storage:
  driver: s3
  s3: {bucket: $WHARF_TEST_S3_BUCKET, region: $WHARF_TEST_S3_REGION, endpoint: $WHARF_TEST_S3_ENDPOINT,
       accessKey: $WHARF_TEST_S3_ACCESS_KEY, secretKey: $WHARF_TEST_S3_SECRET_KEY, forcePathStyle: true,
       rootDirectory: wharf-$mode, redirect: $redirect}
EOF
  env -u WHARF_TEST_S3_ENDPOINT -u WHARF_TEST_S3_ACCESS_KEY -u WHARF_TEST_S3_SECRET_KEY -u WHARF_TEST_S3_BUCKET \
    -u WHARF_TEST_S3_REGION node "$ROOT/bin/wharf" serve --config "$WORK/wharf-$mode.yml" >"$WORK/wharf-$mode.log" 2>&1 &
  WHARF_PID=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$wharf_port/v2/" && break
    kill -0 "$WHARF_PID" 2>/dev/null || { cat "$WORK/wharf-$mode.log" >&2; exit 1; }
    sleep 0.1
  done

  echo "=== mode $mode (redirect: $redirect): Distribution 2.8.2 s3 = reference, Wharf s3 = candidate; Ceph RGW $WHARF_TEST_S3_ENDPOINT"
  REF_BIN="$WORK/distribution-$mode.sh" REF_PORT=$ref_port bash "$COMPARE" "http://127.0.0.1:$wharf_port" "$WHARF_PID"
  stop_wharf
done
