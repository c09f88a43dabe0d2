#!/usr/bin/env bash
# Installs what the test suite needs, only when it is missing. Idempotent, non-interactive.
#   - Debian packages (apt-get update runs once, and only if something is missing)
#   - npm ci at the repo root when node_modules is missing or older than package-lock.json; the root
#     is an npm workspace that holds web/ (the console), so this one install covers its build too
# Env: SKIP_APT=1 skips the Debian part; SKIP_NPM=1 skips the npm part.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
log() { echo "[install-deps] $*" >&2; }

# package -> a binary it provides (empty: check with dpkg only)
PKGS=(
  "skopeo:skopeo" "podman:podman" "buildah:buildah"
  "docker-registry:docker-registry"      # CNCF Distribution 2.8.2, /usr/bin/docker-registry
  "chromium:chromium" "wrk:wrk" "containerd:containerd" "jq:jq" "openssl:openssl"
  "ceph-mon:ceph-mon" "ceph-osd:ceph-osd" "ceph-mgr:ceph-mgr" "ceph-common:ceph" "radosgw:radosgw"
  "postgresql:"                          # binaries live in /usr/lib/postgresql/<v>/bin, not on PATH
  "curl:curl" "python3:" "util-linux:flock" "iproute2:ss" "tar:tar" "gzip:gzip"
  "nginx:nginx"                          # scripts/deploy-local.sh runs its own; the system service is never started
  "strace:strace"                        # test/integration/group-commit.test.ts: fsync order at the system-call level
)

installed() { # pkg bin
  if [ -n "$2" ] && command -v "$2" >/dev/null 2>&1; then return 0; fi
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

wait_for_apt() {
  local waited=0
  while pgrep -x apt-get >/dev/null || pgrep -x dpkg >/dev/null || pgrep -x apt >/dev/null; do
    [ $waited = 0 ] && log "another apt/dpkg is running; waiting for it"
    waited=1; sleep 5
  done
}

if [ "${SKIP_APT:-}" != 1 ]; then
  missing=()
  for e in "${PKGS[@]}"; do
    p=${e%%:*}; b=${e#*:}
    installed "$p" "$b" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    wait_for_apt
    # re-check: the apt that was running may have installed them
    still=(); for p in "${missing[@]}"; do installed "$p" "" || still+=("$p"); done
    if [ ${#still[@]} -gt 0 ]; then
      SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
      log "installing: ${still[*]}"
      export DEBIAN_FRONTEND=noninteractive
      $SUDO apt-get update -qq
      $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${still[@]}"
    fi
  fi
  # Debian's postgresql package creates and may start the 'main' cluster on :5432. We do not use it
  # (scripts/start-postgres.sh runs a private cluster), so leave it alone either way.
fi

npm_ci_if_stale() {
  local marker="$ROOT/node_modules/.package-lock.json"   # npm rewrites this on every install
  if [ ! -f "$marker" ] || [ "$ROOT/package-lock.json" -nt "$marker" ]; then
    log "npm ci"
    (cd "$ROOT" && npm ci --no-audit --no-fund)
  fi
}

[ "${SKIP_NPM:-}" = 1 ] || npm_ci_if_stale
