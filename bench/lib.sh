# Helpers for the benchmark scripts (sourced, not run).

# bench_work NAME: a fresh temporary directory in $WORK and a PIDS list of background processes,
# both cleaned up at exit (the processes killed, the directory removed).
bench_work() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  PIDS=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

bench_cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}

# upload_blob BASE_URL FILE REPO: uploads FILE as a blob of REPO (POST, then PUT ?digest= with the
# body: the monolithic upload both Wharf and CNCF Distribution take; Distribution 2.8 ignores the
# body of a POST ?digest=) and prints its digest.
upload_blob() {
  local base=$1 file=$2 repo=$3 digest location
  digest="sha256:$(sha256sum "$file" | cut -d' ' -f1)"
  location=$(curl -sf -X POST -o /dev/null -w '%header{location}' "$base/v2/$repo/blobs/uploads/")
  [[ $location == http* ]] || location="$base$location"
  if [[ $location == *\?* ]]; then location+="&"; else location+="?"; fi
  curl -sf -X PUT -H 'Content-Type: application/octet-stream' -T "$file" "${location}digest=$digest" > /dev/null
  echo "$digest"
}
