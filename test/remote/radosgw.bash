# Ceph's RADOS Gateway as a real S3 server for the remote suites: one monitor,
# one OSD on memstore, one radosgw, all on 127.0.0.1 under DIR, with cephx off
# (see ../shared/PITFALLS.md). Sourced after lib.bash.
#
# start_radosgw DIR ACCESS SECRET: up in ~10 s; sets RGW_PORT and RGW_URL, with
# a user ACCESS/SECRET that owns every bucket made through rgw_s3. stop_radosgw
# (also called by stop_servers through SERVER_PIDS) ends the three daemons.
# rgw_s3 METHOD PATH [curl args...]: a request signed with SigV4 by curl.

RGW_DIR=
RGW_PIDS=()

have_radosgw() {
	command -v radosgw >/dev/null && command -v ceph-mon >/dev/null &&
	    command -v ceph-osd >/dev/null && command -v monmaptool >/dev/null
}

_rgw_conf() {
	local dir=$1 fsid=$2 mon=$3 rgw=$4
	cat <<-EOF
	[global]
	fsid = $fsid
	mon host = 127.0.0.1:$mon
	mon initial members = a
	# Test-only: no cephx, and with it no "secure" messenger mode (it needs
	# the session key cephx would give: without this every client fails -13).
	auth cluster required = none
	auth service required = none
	auth client required = none
	ms mon client mode = crc
	ms mon service mode = crc
	ms mon cluster mode = crc
	ms client mode = crc
	ms service mode = crc
	ms cluster mode = crc
	mon allow pool size one = true
	mon warn on pool no redundancy = false
	osd pool default size = 1
	osd pool default min size = 1
	osd crush chooseleaf type = 0
	osd objectstore = memstore
	# Deleted data stays for 2 h and a full store makes requests hang.
	memstore device bytes = 4294967296
	run dir = $dir/run
	log file = $dir/log/\$name.log
	admin socket = $dir/run/\$name.asok
	[mon.a]
	mon data = $dir/mon
	[osd.0]
	osd data = $dir/osd
	osd max object name len = 256
	osd max object namespace len = 64
	[client.rgw.a]
	rgw frontends = beast endpoint=127.0.0.1:$rgw
	rgw data = $dir/rgw
	EOF
}

# _rgw_wait SECONDS CMD...: until CMD succeeds.
_rgw_wait() {
	local n=$(( $1 * 10 )) i
	shift
	for ((i = 0; i < n; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

_rgw_up() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$RGW_URL/")" = 200 ]; }
_osd_up() { ceph -c "$RGW_DIR/ceph.conf" osd stat 2>/dev/null | grep -q ' 1 up'; }

start_radosgw() {
	local dir=$1 key=$2 secret=$3 fsid mon
	have_radosgw || { echo "# radosgw is not installed (make deps-test)" >&2; return 1; }
	RGW_DIR=$dir/ceph
	rm -rf "$RGW_DIR"
	mkdir -p "$RGW_DIR"/{run,log,mon,osd,rgw}
	fsid=$(cat /proc/sys/kernel/random/uuid)
	mon=$(free_port)
	RGW_PORT=$(free_port)
	RGW_URL=http://127.0.0.1:$RGW_PORT
	_rgw_conf "$RGW_DIR" "$fsid" "$mon" "$RGW_PORT" >"$RGW_DIR/ceph.conf"
	local c=(-c "$RGW_DIR/ceph.conf")
	monmaptool --create --add a "127.0.0.1:$mon" --fsid "$fsid" "$RGW_DIR/monmap" >/dev/null &&
	    ceph-mon "${c[@]}" -i a --mkfs --monmap "$RGW_DIR/monmap" || return 1
	ceph-mon "${c[@]}" -i a -f 3>&- &
	RGW_PIDS+=($!)
	timeout 20 ceph "${c[@]}" osd create >/dev/null &&
	    ceph-osd "${c[@]}" -i 0 --mkfs >"$RGW_DIR/log/osd-mkfs.out" 2>&1 || {
		echo "# ceph: the OSD could not be made:" >&2; cat "$RGW_DIR/log/osd-mkfs.out" >&2
		return 1
	}
	ceph-osd "${c[@]}" -i 0 -f >"$RGW_DIR/log/osd.out" 2>&1 3>&- &
	RGW_PIDS+=($!)
	_rgw_wait 30 _osd_up || { echo "# ceph: osd.0 did not come up" >&2; return 1; }
	radosgw "${c[@]}" -n client.rgw.a -f >"$RGW_DIR/log/rgw.out" 2>&1 3>&- &
	RGW_PIDS+=($!)
	SERVER_PIDS+=("${RGW_PIDS[@]}")
	_rgw_wait 60 _rgw_up || {
		echo "# radosgw did not answer on $RGW_URL:" >&2
		tail -n 20 "$RGW_DIR/log/client.rgw.a.log" >&2
		return 1
	}
	# Its own name, or it would take radosgw's admin socket.
	radosgw-admin "${c[@]}" -n client.admin user create --uid=ingestd-test \
	    --display-name=ingestd-test --access-key="$key" --secret="$secret" >/dev/null || return 1
	RGW_KEY=$key
	RGW_SECRET=$secret
}

# radosgw-admin on the test cluster, e.g. rgw_admin bucket stats --bucket=b
rgw_admin() { radosgw-admin -c "$RGW_DIR/ceph.conf" -n client.admin "$@"; }

# rgw_s3 METHOD PATH [curl args...]: body on stdout, HTTP status on fd 3 if open.
# radosgw wants x-amz-content-sha256; the body, if any, comes from --data-binary
# @FILE or -T FILE, whose digest the caller passes as RGW_SHA (default: empty body).
rgw_s3() {
	local m=$1 p=$2 sha=${RGW_SHA:-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855}
	shift 2
	curl -s --aws-sigv4 "aws:amz:us-east-1:s3" --user "$RGW_KEY:$RGW_SECRET" \
	    -H "x-amz-content-sha256: $sha" -X "$m" "$RGW_URL$p" "$@"
}

# rgw_put BUCKET KEY FILE: upload FILE; prints the ETag radosgw gave it.
rgw_put() {
	local sha
	sha=$(sha256sum "$3" | cut -d' ' -f1)
	RGW_SHA=$sha rgw_s3 PUT "/$1/$2" -T "$3" -D - -o /dev/null |
	    sed -n 's/^[Ee][Tt]ag: *"\{0,1\}\([^"]*\)"\{0,1\}\r$/\1/p'
}

stop_radosgw() {
	local p
	for p in "${RGW_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${RGW_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	RGW_PIDS=()
}

# start_holdproxy DIR: holdproxy.py in front of radosgw; HOLD_URL (use it as
# the endpoint), HOLD_FILE (write a regex of request lines to hold; remove it
# to let them go), HELD_FILE (the request lines held so far).
start_holdproxy() {
	mkdir -p "$1"
	HOLD_FILE=$1/hold
	HELD_FILE=$1/held
	rm -f "$1/hold.port" "$HOLD_FILE"
	: >"$HELD_FILE"
	"$PY3" "$REMOTE_DIR/holdproxy.py" --upstream "$RGW_PORT" --port-file "$1/hold.port" \
	    --hold "$HOLD_FILE" --held "$HELD_FILE" >"$1/holdproxy.log" 2>&1 3>&- &
	SERVER_PIDS+=($!)
	wait_file "$1/hold.port" 10 || return 1
	HOLD_URL=http://127.0.0.1:$(cat "$1/hold.port")
}
