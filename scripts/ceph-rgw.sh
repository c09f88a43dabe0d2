#!/bin/bash
# The S3 store the tests run against (README, "Run the tests"), started by scripts/start-ceph.sh, which picks
# free ports. tcp_nodelay=1 on the beast frontend: without it every response with a body waits
# ~40 ms for a delayed ACK.
# Minimal single-node Ceph (1 mon, optional mgr, 1 memstore OSD, radosgw/beast) for S3 integration tests.
# No systemd/cephadm, cephx off, everything under DIR, binds 127.0.0.1 only.
#
#   ceph-rgw.sh start DIR   -> wipes DIR, starts cluster, prints ENDPOINT/ACCESS_KEY/SECRET_KEY/BUCKET, exits when ready
#   ceph-rgw.sh stop DIR    -> kills exactly the PIDs recorded in DIR/pids/*.pid
#
# Env overrides: MON_PORT (15200) RGW_PORT (15280) MSGR_PORT_MIN/MAX (15210/15259)
#                ACCESS_KEY SECRET_KEY BUCKET  WITH_MGR (0; S3 works without a mgr, it costs ~300 MB RSS)  OSD_STORE (memstore|bluestore)
# Needs Debian packages: ceph-mon ceph-osd ceph-mgr ceph-common radosgw (tested with 16.2.15, Debian 12).
set -euo pipefail

CMD=${1:-}; DIR=${2:-}
[ -n "$CMD" ] && [ -n "$DIR" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

MON_PORT=${MON_PORT:-15200}
RGW_PORT=${RGW_PORT:-15280}
MSGR_PORT_MIN=${MSGR_PORT_MIN:-15210}
MSGR_PORT_MAX=${MSGR_PORT_MAX:-15259}
ACCESS_KEY=${ACCESS_KEY:-registrytestaccesskey}
SECRET_KEY=${SECRET_KEY:-registrytestsecretkey0123456789abcdef}
BUCKET=${BUCKET:-registry}
WITH_MGR=${WITH_MGR:-0}
OSD_STORE=${OSD_STORE:-memstore}
HOST=127.0.0.1

exec 9>&2
log() { echo "[ceph-rgw] $*" >&9; }

stop_all() {
  local d=$1 f pid n grp
  [ -d "$d/pids" ] || return 0
  # rgw first (it hangs on exit if the osd is already going away), then osd+mgr, then the mon
  for grp in "rgw" "osd mgr" "mon"; do
    local pids=()
    for n in $grp; do
      f="$d/pids/$n.pid"; [ -f "$f" ] || continue
      pid=$(cat "$f")
      # ceph-mgr often ignores SIGTERM for >10s (python modules); it holds no data, so KILL it
      if [ "$n" = mgr ]; then kill -KILL "$pid" 2>/dev/null || true; continue; fi
      kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
    done
    for pid in "${pids[@]}"; do
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && { log "pid $pid did not exit after 10s, SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; }
    done
    for n in $grp; do rm -f "$d/pids/$n.pid"; done
  done
}

wait_for() { # timeout_s description command...
  local t=$1 what=$2; shift 2
  local end=$(( $(date +%s) + t ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$end" ]; then log "timeout waiting for $what"; return 1; fi
    sleep 0.2
  done
}

if [ "$CMD" = stop ]; then
  DIR=$(cd "$DIR" 2>/dev/null && pwd) || exit 0
  stop_all "$DIR"
  exit 0
fi
[ "$CMD" = start ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

mkdir -p "$DIR"; DIR=$(cd "$DIR" && pwd)
stop_all "$DIR"
rm -rf "$DIR"/{mon,mgr,osd,run,log,pids,crash,ceph.conf,monmap}
mkdir -p "$DIR"/{mon,mgr,osd,run,log,pids,crash}
CONF=$DIR/ceph.conf
FSID=$(cat /proc/sys/kernel/random/uuid)

cat > "$CONF" <<EOF
[global]
fsid = $FSID
mon host = v2:$HOST:$MON_PORT
mon initial members = a
public addr = $HOST
cluster addr = $HOST
public network = 127.0.0.0/8
ms bind ipv4 = true
ms bind ipv6 = false
ms bind msgr1 = false
ms bind port min = $MSGR_PORT_MIN
ms bind port max = $MSGR_PORT_MAX
auth cluster required = none
auth service required = none
auth client required = none
auth supported = none
# radosgw's built-in defaults force ms_mon_client_mode=secure + cephx; with auth=none that makes
# 'get_initial_auth_request returned -13' forever, so allow crc explicitly
ms mon client mode = secure crc
ms client mode = secure crc
run dir = $DIR/run
crash dir = $DIR/crash
admin socket = $DIR/run/\$name.asok
pid file = $DIR/run/\$name.pid
log file = $DIR/log/\$name.log
log to stderr = false
err to stderr = false
mon cluster log file = $DIR/log/cluster.log
keyring = /dev/null
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 1
osd pool default pgp num = 1
# mon batches map updates every paxos_propose_interval (1s); RGW creates ~7 pools at first start
paxos propose interval = 0.1
paxos min wait = 0.01
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
mon warn on insecure global id reclaim = false
mon max pg per osd = 1000
mon data avail warn = 2
mon data avail crit = 1
mgr initial modules =
[mon]
mon data = $DIR/mon/\$name
[mgr]
mgr data = $DIR/mgr/\$name
[osd]
osd data = $DIR/osd/\$name
osd objectstore = $OSD_STORE
memstore device bytes = 4294967296
bluestore block path = $DIR/osd/\$name/block.file
bluestore block create = true
bluestore block size = 4294967296
bluestore fsck on mount = false
osd memory target = 939524096
bluestore cache autotune = false
bluestore cache size = 134217728
osd op num shards = 1
osd op num threads per shard = 2
osd crush update on start = true
osd max object name len = 460
osd max object namespace len = 64
[client.rgw]
rgw frontends = beast endpoint=$HOST:$RGW_PORT tcp_nodelay=1
rgw data = $DIR/rgw
rgw thread pool size = 64
rgw rados pool pg num min = 1
rgw enable usage log = false
# deleted/overwritten data is garbage-collected after rgw_gc_obj_min_wait (default 2h); with memstore
# that is RAM, so collect quickly
rgw gc obj min wait = 10
rgw gc processor period = 10
rgw gc processor max time = 10
EOF

t0=$(date +%s.%N)
OK=0
trap '[ "$OK" = 1 ] || { log "start failed; see $DIR/log"; stop_all "$DIR"; }' EXIT
stage() { [ -n "${VERBOSE:-}" ] && log "$1 ready at +$(python3 -c "print(round($(date +%s.%N)-$t0,1))")s"; true; }
start_daemon() { # name cmd...
  local n=$1; shift
  setsid "$@" </dev/null >>"$DIR/log/$n.stdout" 2>&1 &
  echo $! > "$DIR/pids/$n.pid"
}
C="ceph -c $CONF --connect-timeout 5"

# --- mon
monmaptool --create --fsid "$FSID" --addv a "[v2:$HOST:$MON_PORT]" "$DIR/monmap" >/dev/null
ceph-mon -c "$CONF" -i a --mkfs --monmap "$DIR/monmap" >/dev/null
start_daemon mon ceph-mon -c "$CONF" -i a -f
port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
wait_for 30 mon port_open "$MON_PORT"
stage mon

# --- mgr (optional; only needed for 'ceph -s' PG stats and service map)
if [ "$WITH_MGR" = 1 ]; then
  mkdir -p "$DIR/mgr/mgr.x"
  start_daemon mgr ceph-mgr -c "$CONF" -i x -f
fi

# --- osd
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
OSD_ID=$($C osd new "$OSD_UUID")
mkdir -p "$DIR/osd/osd.$OSD_ID"
ceph-osd -c "$CONF" -i "$OSD_ID" --mkfs --osd-uuid "$OSD_UUID" >"$DIR/log/osd-mkfs.log" 2>&1
start_daemon osd ceph-osd -c "$CONF" -i "$OSD_ID" -f
# no need to wait for 'osd up' here: rgw blocks until its pools are writable

# --- rgw (creates its own pools on first start)
mkdir -p "$DIR/rgw"
start_daemon rgw radosgw -c "$CONF" -n client.rgw -f
alive() { local n; for n in "$@"; do kill -0 "$(cat "$DIR/pids/$n.pid")" 2>/dev/null || { log "$n died"; return 2; }; done; }
rgw_up() { alive mon osd rgw || exit 1; curl -sf -o /dev/null "http://$HOST:$RGW_PORT/"; }
wait_for 90 rgw rgw_up
stage rgw

# --- S3 user + bucket
radosgw-admin -c "$CONF" -n client.rgw user create --uid=registry --display-name=registry \
  --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >"$DIR/log/user.json" 2>>"$DIR/log/radosgw-admin.log"
# tiny SigV4 client (curl 7.88 --aws-sigv4 omits x-amz-content-sha256, which RGW requires -> 403)
s3() { # METHOD PATH [BODY]
  /usr/bin/python3 - "$@" <<PY
import sys, hashlib, hmac, datetime, urllib.request
m, path = sys.argv[1], sys.argv[2]; body = (sys.argv[3] if len(sys.argv) > 3 else '').encode()
ak, sk, host, region = "$ACCESS_KEY", "$SECRET_KEY", "$HOST:$RGW_PORT", "us-east-1"
t = datetime.datetime.now(datetime.timezone.utc); amzdate = t.strftime('%Y%m%dT%H%M%SZ'); d = amzdate[:8]
ph = hashlib.sha256(body).hexdigest()
hdrs = {'host': host, 'x-amz-content-sha256': ph, 'x-amz-date': amzdate}
sh = ';'.join(sorted(hdrs))
creq = '\n'.join([m, path, '', ''.join(k + ':' + hdrs[k] + '\n' for k in sorted(hdrs)), sh, ph])
scope = d + '/' + region + '/s3/aws4_request'
sts = '\n'.join(['AWS4-HMAC-SHA256', amzdate, scope, hashlib.sha256(creq.encode()).hexdigest()])
k = ('AWS4' + sk).encode()
for x in (d, region, 's3', 'aws4_request'): k = hmac.new(k, x.encode(), hashlib.sha256).digest()
sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
h = {'x-amz-content-sha256': ph, 'x-amz-date': amzdate,
     'Authorization': 'AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s' % (ak, scope, sh, sig)}
urllib.request.urlopen(urllib.request.Request('http://' + host + path, data=body if m == 'PUT' else None, method=m, headers=h), timeout=10).read()
PY
}
wait_for 30 bucket s3 PUT "/$BUCKET"
s3 PUT "/$BUCKET/.ready" ready
s3 DELETE "/$BUCKET/.ready"
t1=$(date +%s.%N)
log "ready in $(python3 -c "print(round($t1-$t0,1))")s"

OK=1
cat <<EOF
ENDPOINT=http://$HOST:$RGW_PORT
ACCESS_KEY=$ACCESS_KEY
SECRET_KEY=$SECRET_KEY
BUCKET=$BUCKET
REGION=us-east-1
EOF
