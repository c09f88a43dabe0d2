#!/usr/bin/env bash
# mirror-compare.sh: the mirror's first (uncached) and warm (cached) pull, Wharf beside CNCF
# Distribution in proxy mode (`proxy.remoteurl`), both in front of the same upstream (a plain
# Distribution), measured with skopeo (`copy docker://… dir:`) and with plain HTTP (curl: the
# manifest, then every blob at once, each body hashed and checked).
#
# Every round pushes fresh random images to the upstream, one per mirror and client, so each
# first pull is a real miss; the warm pull repeats it. Rounds alternate which mirror goes first.
# All servers run on 127.0.0.1 under one temporary directory and are stopped at exit.
#
# With CEILING=nginx a third contender joins: nginx as a caching reverse proxy of the same upstream
# (proxy_cache to disk, sendfile, no verification of what it caches). It is not a registry; it is
# the floor of what a pull-through cache costs on this machine, so the clients' own share shows.
#
# With LINK_MIBPS=N the mirrors reach the upstream through bench/link-proxy.mjs, as across the
# internet: one shared downlink of N MiB/s and LINK_RTT_MS (20) of round trip. Images are still
# pushed to the upstream directly; only what the mirrors fetch crosses the link.
#
# Usage: bash bench/mirror-compare.sh [ROUNDS]                   (default: 3)
# Environment: LAYERS (4) × LAYER_MIB (32) per image; UP_PORT (15401), REF_PORT (15399),
# WHARF_PORT (15081), NGINX_PORT (15402); CEILING (unset, or nginx); LINK_MIBPS (unset: no link),
# LINK_RTT_MS (20), LINK_PORT (15403). Run `npm run build` first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROUNDS=${1:-3}
LAYERS=${LAYERS:-4}
LAYER_MIB=${LAYER_MIB:-32}
UP_PORT=${UP_PORT:-15401}
REF_PORT=${REF_PORT:-15399}
WHARF_PORT=${WHARF_PORT:-15081}
NGINX_PORT=${NGINX_PORT:-15402}
CEILING=${CEILING:-}
LINK_MIBPS=${LINK_MIBPS:-}
LINK_RTT_MS=${LINK_RTT_MS:-20}
LINK_PORT=${LINK_PORT:-15403}
[[ -z $CEILING || $CEILING == nginx ]] || { echo "CEILING must be unset or nginx, not '$CEILING'" >&2; exit 2; }
# shellcheck source=bench/lib.sh
source bench/lib.sh
bench_work mirror-compare
# The port the mirrors fetch from: the upstream itself, or the link in front of it.
MIRRORED_PORT=$UP_PORT
if [[ -n $LINK_MIBPS ]]; then MIRRORED_PORT=$LINK_PORT; fi

start() { # NAME COMMAND…: starts a server in the background, its log in $WORK/NAME.log
  local name=$1
  shift
  "$@" > "$WORK/$name.log" 2>&1 &
  PIDS+=("$!")
  printf -v "${name}_PID" '%s' "$!"
}
printf 'version: 0.1\nlog: {level: error, accesslog: {disabled: true}}\nstorage: {filesystem: {rootdirectory: %s/up}, delete: {enabled: true}}\nhttp: {addr: 127.0.0.1:%s}\n' \
  "$WORK" "$UP_PORT" > "$WORK/up.yml"
printf 'version: 0.1\nlog: {level: error, accesslog: {disabled: true}}\nstorage: {filesystem: {rootdirectory: %s/ref}, cache: {blobdescriptor: inmemory}}\nhttp: {addr: 127.0.0.1:%s}\nproxy: {remoteurl: "http://127.0.0.1:%s"}\n' \
  "$WORK" "$REF_PORT" "$MIRRORED_PORT" > "$WORK/ref.yml"
printf 'dataDirectory: %s/wharf\nhttp:\n  address: 127.0.0.1\n  port: %s\nlog:\n  level: warn\nmirror:\n  upstreams:\n    - {name: up, url: "http://127.0.0.1:%s", registry: "upstream.test", default: true}\n' \
  "$WORK" "$WHARF_PORT" "$MIRRORED_PORT" > "$WORK/wharf.yml"
wait_for() { # PORT
  for _ in $(seq 150); do curl -sf "http://127.0.0.1:$1/v2/" > /dev/null && return 0; sleep 0.1; done
  echo "server on port $1 did not start:" >&2
  cat "$WORK"/*.log >&2
  exit 1
}
start UP docker-registry serve "$WORK/up.yml"
wait_for "$UP_PORT" # the proxy asks the upstream as it starts
if [[ -n $LINK_MIBPS ]]; then
  start LINK node bench/link-proxy.mjs --listen "$LINK_PORT" --target "$UP_PORT" --mibps "$LINK_MIBPS" --rtt-ms "$LINK_RTT_MS"
  wait_for "$LINK_PORT"
fi
start REF docker-registry serve "$WORK/ref.yml"
start WHARF ./bin/wharf serve --config "$WORK/wharf.yml"
wait_for "$REF_PORT"
wait_for "$WHARF_PORT"
SIDES=(distribution wharf)
if [[ $CEILING == nginx ]]; then
  mkdir -p "$WORK/nginx"
  cat > "$WORK/nginx.conf" << CONF
daemon off;
user root;
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log error;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  proxy_cache_path $WORK/nginx/cache levels=2 keys_zone=mirror:10m max_size=8g inactive=1h use_temp_path=off;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://127.0.0.1:$MIRRORED_PORT;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache mirror;
      proxy_cache_key \$request_uri\$http_accept;
      proxy_cache_valid 200 1h;
      proxy_ignore_headers Cache-Control Expires Set-Cookie;
      proxy_cache_lock on;
    }
  }
}
CONF
  start NGINX nginx -c "$WORK/nginx.conf"
  wait_for "$NGINX_PORT"
  SIDES+=(nginx)
fi
port_of() { case $1 in distribution) echo "$REF_PORT" ;; wharf) echo "$WHARF_PORT" ;; nginx) echo "$NGINX_PORT" ;; esac; }

UP="http://127.0.0.1:$UP_PORT"
printf '{"auths":{}}\n' > "$WORK/auth.json"
printf '{"default":[{"type":"insecureAcceptAnything"}]}\n' > "$WORK/policy.json"

push_image() { # REPO: LAYERS fresh random layers, a config, a manifest tagged v1
  local repo=$1 layers='' i digest diff_ids=''
  for i in $(seq "$LAYERS"); do
    head -c "$((LAYER_MIB << 20))" /dev/urandom > "$WORK/layer.bin"
    digest=$(upload_blob "$UP" "$WORK/layer.bin" "$repo")
    layers+="${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"$digest\",\"size\":$((LAYER_MIB << 20))}"
    diff_ids+="${diff_ids:+,}\"$digest\""
  done
  printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[%s]}}' "$diff_ids" > "$WORK/config.json"
  digest=$(upload_blob "$UP" "$WORK/config.json" "$repo")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[%s]}' \
    "$digest" "$(stat -c %s "$WORK/config.json")" "$layers" > "$WORK/manifest.json"
  curl -sf -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "@$WORK/manifest.json" "$UP/v2/$repo/manifests/v1" > /dev/null
  rm -f "$WORK/layer.bin"
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

pull_skopeo() { # PORT REPO
  rm -rf "$WORK/out"
  skopeo --policy "$WORK/policy.json" --tmpdir "$WORK" copy -q --src-tls-verify=false --src-authfile "$WORK/auth.json" \
    "docker://127.0.0.1:$1/$2:v1" "dir:$WORK/out" > /dev/null
  rm -rf "$WORK/out"
}

pull_http() { # PORT REPO: the manifest, then every blob in parallel, each body's digest checked
  local base="http://127.0.0.1:$1/v2/$2" digests digest failed=0
  digests=$(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$base/manifests/v1" | grep -o 'sha256:[0-9a-f]\{64\}')
  local -a jobs=()
  for digest in $digests; do
    ( [[ "sha256:$(curl -sf "$base/blobs/$digest" | sha256sum | cut -d' ' -f1)" == "$digest" ]] ) &
    jobs+=("$!")
  done
  for job in "${jobs[@]}"; do wait "$job" || failed=1; done
  if (( failed )); then echo "pull_http $2 on port $1: a blob came back wrong" >&2; exit 1; fi
}

timed() { # COMMAND…: prints the milliseconds it took
  local t0
  t0=$(now_ms)
  "$@"
  echo $(($(now_ms) - t0))
}

MIB=$((LAYERS * LAYER_MIB))
declare -A RESULTS # "side client kind" → space-separated ms
measure() { # SIDE PORT CLIENT ROUND
  local side=$1 port=$2 client=$3 repo="bench/$3-$1-$4-$RANDOM"
  push_image "$repo"
  local first warm
  first=$(timed "pull_$client" "$port" "$repo")
  warm=$(timed "pull_$client" "$port" "$repo")
  RESULTS["$side $client first"]+="$first "
  RESULTS["$side $client warm"]+="$warm "
  printf 'round %s %-12s %-6s first %6d ms (%4d MiB/s), warm %6d ms (%4d MiB/s)\n' "$4" "$side" "$client" \
    "$first" $((MIB * 1000 / (first > 0 ? first : 1))) "$warm" $((MIB * 1000 / (warm > 0 ? warm : 1)))
}

echo "image: $LAYERS × $LAYER_MIB MiB layers; $(docker-registry --version 2>&1 | head -1) as upstream and as proxy${LINK_MIBPS:+; the mirrors reach it across a $LINK_MIBPS MiB/s link, $LINK_RTT_MS ms round trip}"
for round in $(seq "$ROUNDS"); do
  for client in skopeo http; do
    # Odd rounds go in the listed order, even rounds in reverse.
    order=("${SIDES[@]}")
    if (( round % 2 == 0 )); then mapfile -t order < <(printf '%s\n' "${SIDES[@]}" | tac); fi
    for side in "${order[@]}"; do measure "$side" "$(port_of "$side")" "$client" "$round"; done
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo
ratio() { awk -v r="$1" -v s="$2" 'BEGIN { printf "%.2f", r / s }'; }
header="| pull ($MIB MiB image, median of $ROUNDS) | Distribution proxy, ms | Wharf, ms | Wharf speed / Distribution |"
[[ $CEILING == nginx ]] && header+=" nginx cache, ms | nginx speed / Distribution |"
echo "$header"
echo "|---|---|---|---|${CEILING:+---|---|}"
for client in skopeo http; do
  for kind in first warm; do
    ref=$(echo "${RESULTS["distribution $client $kind"]}" | median)
    wharf=$(echo "${RESULTS["wharf $client $kind"]}" | median)
    row="| $kind pull, $client | $ref | $wharf | $(ratio "$ref" "$wharf") |"
    if [[ $CEILING == nginx ]]; then
      ceiling=$(echo "${RESULTS["nginx $client $kind"]}" | median)
      row+=" $ceiling | $(ratio "$ref" "$ceiling") |"
    fi
    echo "$row"
  done
done
rss() { awk '/VmRSS/ { printf "%d MiB", $2 / 1024 }' "/proc/$1/status"; }
echo "RSS after the run: Distribution proxy $(rss "$REF_PID"), Wharf $(rss "$WHARF_PID")"
