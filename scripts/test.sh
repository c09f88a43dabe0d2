#!/usr/bin/env bash
# The one test command (npm test and .ci/run call this).
#
#   1. scripts/install-deps.sh   (Debian packages and node_modules, only what is missing)
#   2. npm run build             (tsc, then the console in web/)
#   3. a fresh work dir .test-work/run-<pid>/ (exported as WHARF_TEST_WORK_DIR; fixtures put temp dirs there)
#   4. Ceph RGW + PostgreSQL on 127.0.0.1 (in parallel), exporting WHARF_TEST_S3_ENDPOINT,
#      WHARF_TEST_S3_ACCESS_KEY, WHARF_TEST_S3_SECRET_KEY, WHARF_TEST_S3_BUCKET, WHARF_TEST_S3_REGION,
#      WHARF_TEST_POSTGRES_URL. A service that fails to start fails the run.
#   5. node --test --test-concurrency=2 on every compiled *.test.js (from test/ and src/); then the
#      long files (the fresh-clone test, which runs `npm ci && npm run build` itself) with their own
#      timeout; then the API suite and the skopeo e2e files once more on PostgreSQL and the s3 driver
#      (WHARF_TEST_DATABASE=postgres WHARF_TEST_STORAGE=s3)
#   6. stops the services (also on failure / Ctrl-C) and exits with node's exit code
#
# Env knobs:
#   TEST_FILTER=regex     only test files whose source path matches (bash ERE), e.g. TEST_FILTER=storage
#   SKIP_SERVICES=1       don't start Ceph/PostgreSQL (tests that need them skip themselves)
#   SKIP_INSTALL=1        don't run install-deps.sh;   SKIP_BUILD=1  don't run npm run build
#   TEST_CONCURRENCY=2    files run in parallel;       TEST_TIMEOUT_MS=300000  per-test timeout
#   LONG_FILTER=regex     which compiled files run apart, after the others, with LONG_TEST_TIMEOUT_MS=1500000
#   TEST_REPORTER=spec    node test reporter (spec, tap, dot, junit)
#   SKIP_S3_PASS=1        skip the second pass of test/api and the skopeo e2e files on PostgreSQL + s3
#   S3_PASS_FILTER=regex  which compiled files (dist/test/...) that pass re-runs; S3_PASS_EXCLUDE=regex which not
#   KEEP_TEST_WORK=1      keep .test-work/run-<pid>/ (server data, client dirs, service logs) after a green run
# Extra arguments are passed to `node --test`, e.g. scripts/test.sh --test-name-pattern='manifest'
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
log() { echo "[test.sh] $*" >&2; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
T0=$(now_ms)

[ "${SKIP_INSTALL:-}" = 1 ] || bash scripts/install-deps.sh
if [ "${SKIP_BUILD:-}" != 1 ]; then
  log "npm run build"
  npm run --silent build
fi

# --- work dir. Several runs may share this tree (other developers), so each run owns
# .test-work/run-<pid>; leftovers of dead runs are stopped and removed here.
mkdir -p .test-work
for d in .test-work/run-*; do
  [ -d "$d" ] || continue
  pid=${d##*/run-}
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$pid" != $$ ]; then continue; fi
  bash scripts/start-ceph.sh stop "$d/ceph" >/dev/null 2>&1 || true
  bash scripts/start-postgres.sh stop "$d/postgres" >/dev/null 2>&1 || true
  rm -rf "$d"
done
WORK=$ROOT/.test-work/run-$$
rm -rf "$WORK"; mkdir -p "$WORK/tmp"
export WHARF_TEST_WORK_DIR=$WORK

SERVICES_STARTED=0
CEPH_PID=""; PG_PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$SERVICES_STARTED" = 1 ]; then
    local t j; t=$(now_ms)
    # start scripts still running (interrupted during start-up): end them before stopping daemons
    for j in ${CEPH_PID:-} ${PG_PID:-}; do
      if kill -0 "$j" 2>/dev/null; then kill -TERM -- "-$j" 2>/dev/null || true; wait "$j" 2>/dev/null || true; fi
    done
    bash scripts/start-ceph.sh stop "$WORK/ceph" >/dev/null 2>&1 || log "stopping Ceph failed"
    bash scripts/start-postgres.sh stop "$WORK/postgres" >/dev/null 2>&1 || log "stopping PostgreSQL failed"
    log "services stopped in $(( $(now_ms) - t )) ms"
  fi
  if [ "$rc" = 0 ] && [ "${KEEP_TEST_WORK:-}" != 1 ]; then rm -rf "$WORK"
  else log "work dir kept: $WORK"; fi
  log "total $(( ($(now_ms) - T0) / 1000 )) s, exit $rc"
  # One closing line for every node --test run (the main one, the long files, the s3 pass).
  [ -z "${SUMMARY:-}" ] || echo "$SUMMARY"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

load_env() { # file: export WHARF_TEST_*=... lines only
  local line
  while IFS= read -r line; do
    if [[ $line =~ ^(WHARF_TEST_[A-Z0-9_]+)=(.*)$ ]]; then export "${BASH_REMATCH[1]}=${BASH_REMATCH[2]}"; fi
  done < "$1"
}

if [ "${SKIP_SERVICES:-}" = 1 ]; then
  log "SKIP_SERVICES=1: no Ceph, no PostgreSQL (tests that need them will skip)"
  unset WHARF_TEST_S3_ENDPOINT WHARF_TEST_S3_ACCESS_KEY WHARF_TEST_S3_SECRET_KEY WHARF_TEST_S3_BUCKET \
        WHARF_TEST_S3_REGION WHARF_TEST_POSTGRES_URL
else
  SERVICES_STARTED=1
  ts=$(now_ms)
  # own process groups (set -m), so an interrupted start-up can be ended as a whole
  set -m
  bash scripts/start-ceph.sh "$WORK/ceph" >"$WORK/ceph.env" 2>"$WORK/ceph.start.log" & CEPH_PID=$!
  bash scripts/start-postgres.sh "$WORK/postgres" >"$WORK/postgres.env" 2>"$WORK/postgres.start.log" & PG_PID=$!
  set +m
  fail=0
  wait "$CEPH_PID" || { fail=1; log "FAILED to start Ceph RGW:"; cat "$WORK/ceph.start.log" >&2; }
  wait "$PG_PID" || { fail=1; log "FAILED to start PostgreSQL:"; cat "$WORK/postgres.start.log" >&2; }
  [ "$fail" = 0 ] || { log "services did not start; not running the tests"; exit 1; }
  cat "$WORK/ceph.start.log" "$WORK/postgres.start.log" >&2
  load_env "$WORK/ceph.env"
  load_env "$WORK/postgres.env"
  for v in WHARF_TEST_S3_ENDPOINT WHARF_TEST_S3_ACCESS_KEY WHARF_TEST_S3_SECRET_KEY WHARF_TEST_S3_BUCKET \
           WHARF_TEST_S3_REGION WHARF_TEST_POSTGRES_URL; do
    [ -n "${!v:-}" ] || { log "FAILED: $v not set by the service scripts"; exit 1; }
  done
  log "services ready in $(( $(now_ms) - ts )) ms"
fi

# --- test files: from the sources, so stale files in dist/ (deleted tests) never run
mapfile -t SOURCES < <(find test src -name '*.test.ts' -not -path '*/node_modules/*' -not -path '*/fixtures/*' 2>/dev/null | sort)
FILES=()
for s in "${SOURCES[@]}"; do
  if [ -n "${TEST_FILTER:-}" ] && ! [[ $s =~ $TEST_FILTER ]]; then continue; fi
  js="dist/${s%.ts}.js"
  [ -f "$js" ] || { log "FAILED: $s has no compiled $js (build failed?)"; exit 1; }
  FILES+=("$js")
done
if [ ${#FILES[@]} = 0 ]; then
  if [ -n "${TEST_FILTER:-}" ]; then log "FAILED: TEST_FILTER='$TEST_FILTER' matches no test file"; exit 1; fi
  log "no test files found"; exit 0
fi
log "running ${#FILES[@]} test file(s)"
# node --test's timeout covers a whole file, so files that must build the project get their own run.
MAIN_FILES=(); LONG_FILES=()
for js in "${FILES[@]}"; do
  if [[ $js =~ ${LONG_FILTER:-^dist/test/e2e/fresh-clone} ]]; then LONG_FILES+=("$js"); else MAIN_FILES+=("$js"); fi
done

export NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--enable-source-maps"
RC=0
if [ ${#MAIN_FILES[@]} -gt 0 ]; then
  set +e
  node --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-timeout="${TEST_TIMEOUT_MS:-300000}" \
    --test-reporter="${TEST_REPORTER:-spec}" "$@" "${MAIN_FILES[@]}" | tee "$WORK/main.out"
  RC=${PIPESTATUS[0]}
  set -e
fi
if [ ${#LONG_FILES[@]} -gt 0 ]; then
  log "long files: ${#LONG_FILES[@]}, timeout ${LONG_TEST_TIMEOUT_MS:-1500000} ms"
  ts=$(now_ms)
  set +e
  node --test --test-timeout="${LONG_TEST_TIMEOUT_MS:-1500000}" --test-reporter="${TEST_REPORTER:-spec}" "$@" "${LONG_FILES[@]}" | tee "$WORK/long.out"
  LONG_RC=${PIPESTATUS[0]}
  set -e
  log "long files: exit $LONG_RC in $(( ($(now_ms) - ts) / 1000 )) s"
  [ "$RC" != 0 ] || RC=$LONG_RC
fi

# --- s3 pass: the registry API suite and the skopeo end-to-end tests once more, with every Wharf the
# fixtures start storing its blobs in Ceph RGW and its metadata in PostgreSQL, the scaled-out shape
# (WHARF_TEST_STORAGE=s3 WHARF_TEST_DATABASE=postgres, see test/fixtures/server.ts).
S3_PASS_FILES=()
if [ -n "${WHARF_TEST_S3_ENDPOINT:-}" ] && [ "${SKIP_S3_PASS:-}" != 1 ]; then
  for js in "${MAIN_FILES[@]}"; do
    # Tests of the SQLite file itself: admin-bootstrap runs `wharf user … --data DIR` beside the
    # server (the CLI opens DIR's SQLite file), data-permissions checks the modes of wharf.db.
    [[ $js =~ ${S3_PASS_EXCLUDE:-/(admin-bootstrap|data-permissions)\.test\.js$} ]] && continue
    [[ $js =~ ${S3_PASS_FILTER:-^dist/test/(api/|e2e/(registry-clients|skopeo))} ]] && S3_PASS_FILES+=("$js")
  done
fi
if [ ${#S3_PASS_FILES[@]} -gt 0 ]; then
  log "s3 pass: ${#S3_PASS_FILES[@]} file(s) again with WHARF_TEST_STORAGE=s3 WHARF_TEST_DATABASE=postgres"
  ts=$(now_ms)
  set +e
  WHARF_TEST_STORAGE=s3 WHARF_TEST_DATABASE=postgres node --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-timeout="${TEST_TIMEOUT_MS:-300000}" \
    --test-reporter="${TEST_REPORTER:-spec}" "$@" "${S3_PASS_FILES[@]}" | tee "$WORK/s3.out"
  S3_RC=${PIPESTATUS[0]}
  set -e
  log "s3 pass: exit $S3_RC in $(( ($(now_ms) - ts) / 1000 )) s"
  [ "$RC" != 0 ] || RC=$S3_RC
fi
# Sum the runs' counters (spec reporter: "ℹ pass N") into one closing line.
count() { awk -v k="$1" '$1 == "ℹ" && $2 == k { n += $3 } END { print n + 0 }' /dev/null "$WORK"/*.out; }
SUMMARY="total: $(count pass) passed, $(count fail) failed, $(count skipped) skipped"
[ "$RC" != 0 ] || [ "$(count fail)" = 0 ] || RC=1
exit "$RC"
