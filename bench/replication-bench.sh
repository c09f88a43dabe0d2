#!/usr/bin/env bash
# Replication benchmark (docs/benchmarks.md): a Wharf push rule against `skopeo sync`, copying the
# same images sharing base layers from a Wharf to CNCF Distribution (docker-registry): wall time
# and bytes sent to the target. Everything runs on 127.0.0.1 and stops at the end.
#
#   bash bench/replication-bench.sh                       # 20 images, about 1 GiB distinct
#   bash bench/replication-bench.sh --images 5 --base-mib 32 --own-mib 4   # a smoke run
#
# Needs: npm run build done once (node_modules), docker-registry and skopeo on PATH.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
command -v docker-registry >/dev/null || { echo "docker-registry is not installed (Debian package docker-registry)" >&2; exit 2; }
command -v skopeo >/dev/null || { echo "skopeo is not installed" >&2; exit 2; }
npx tsc -p tsconfig.json
# The fixtures put their temp dirs under WHARF_TEST_WORK_DIR when set; keep them out of /tmp's way.
export WHARF_TEST_WORK_DIR=${WHARF_TEST_WORK_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/replication-bench.XXXXXX")}
trap 'rm -rf "$WHARF_TEST_WORK_DIR"' EXIT
node dist/bench/replication-bench.js "$@"
