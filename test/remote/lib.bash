# Servers for the remote suites (test/integration/remote*.bats) and the fetch
# benchmark, all on 127.0.0.1 with ports they choose themselves (or, for nginx,
# one picked free just before). Each start_* waits until the server answers and
# sets NAME_PORT and NAME_PID; stop_servers ends every server started here.
# Meant to be sourced by bats files after helpers.bash, or by test/bench/fetch.

REMOTE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY3=${PY:-/usr/bin/python3}
[ -x "$PY3" ] || PY3=$(command -v python3)
SERVER_PIDS=()

# wait_file FILE SECONDS: until FILE exists and is not empty.
wait_file() {
	local i n=$(( $2 * 20 ))
	for ((i = 0; i < n; i++)); do
		[ -s "$1" ] && return 0
		sleep 0.05
	done
	echo "# timed out waiting for $1" >&2
	return 1
}

# free_port: a TCP port nothing listens on now, for servers that cannot pick one.
free_port() {
	"$PY3" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_misbehave DIR: the misbehaving HTTP server; MB_PORT, MB_PID.
start_misbehave() {
	mkdir -p "$1"
	rm -f "$1/mb.port"
	"$PY3" "$REMOTE_DIR/misbehave.py" serve "$1/mb.port" >"$1/mb.log" 2>&1 3>&- &
	MB_PID=$!
	SERVER_PIDS+=("$MB_PID")
	wait_file "$1/mb.port" 10 || return 1
	MB_PORT=$(cat "$1/mb.port")
}

# start_nginx DIR ROOT [RATE]: nginx serving ROOT; NGINX_PORT, NGINX_PID; its access
# log is DIR/nginx/access.log.
start_nginx() {
	local dir=$1/nginx root=$2 rate=${3:-2m} i
	mkdir -p "$dir/tmp"
	NGINX_PORT=$(free_port)
	sed -e "s|@PREFIX@|$dir|g" -e "s|@PORT@|$NGINX_PORT|g" -e "s|@ROOT@|$root|g" \
	    -e "s|@RATE@|$rate|g" "$REMOTE_DIR/nginx.conf.in" >"$dir/nginx.conf"
	nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/stdout" 2>&1 3>&- &
	NGINX_PID=$!
	SERVER_PIDS+=("$NGINX_PID")
	for ((i = 0; i < 200; i++)); do
		curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/" && return 0
		kill -0 "$NGINX_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "# nginx did not start:" >&2
	cat "$dir/error.log" "$dir/stdout" >&2
	return 1
}

# start_s3rver DIR BUCKET: s3rver (installed by install-s3rver) with BUCKET;
# S3_PORT, S3_PID, S3_DATA (its directory of objects).
start_s3rver() {
	local dir=$1 i
	"$REMOTE_DIR/install-s3rver" >&2 || return 1
	S3_DATA=$dir/s3data
	mkdir -p "$S3_DATA"
	# Before the start: the poll below may read it before the shell has made it.
	: >"$dir/s3rver.log"
	# s3rver 3.7 makes continuation tokens with DES, a legacy cipher in OpenSSL 3.
	node --openssl-legacy-provider "$REMOTE_DIR/node_modules/.bin/s3rver" -d "$S3_DATA" \
	    -a 127.0.0.1 -p 0 --configure-bucket "$2" >"$dir/s3rver.log" 2>&1 3>&- &
	S3_PID=$!
	SERVER_PIDS+=("$S3_PID")
	for ((i = 0; i < 300; i++)); do
		S3_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/s3rver.log")
		[ -n "$S3_PORT" ] && return 0
		kill -0 "$S3_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "# s3rver did not start:" >&2
	cat "$dir/s3rver.log" >&2
	return 1
}

# start_proxy DIR UPSTREAM_PORT SECRET [ARGS...]: the SigV4-verifying proxy for
# access key S3RVER; PROXY_PORT, PROXY_PID, PROXY_LOG (one JSON line a request).
start_proxy() {
	local dir=$1 up=$2 secret=$3
	shift 3
	PROXY_LOG=$dir/proxy.log
	rm -f "$dir/proxy.port"
	"$PY3" "$REMOTE_DIR/sigv4proxy.py" serve --upstream "$up" --port-file "$dir/proxy.port" \
	    --key S3RVER --secret "$secret" --log "$PROXY_LOG" "$@" >"$dir/proxy.out" 2>&1 3>&- &
	PROXY_PID=$!
	SERVER_PIDS+=("$PROXY_PID")
	wait_file "$dir/proxy.port" 10 || return 1
	PROXY_PORT=$(cat "$dir/proxy.port")
}

# start_webhook DIR MODE [DELAY]: the receiver; HOOK_PORT, HOOK_PID, HOOK_RECORD.
start_webhook() {
	local dir=$1 mode=$2 delay=${3:-5}
	HOOK_RECORD=$dir/hook.record
	: >"$HOOK_RECORD"
	rm -f "$dir/hook.port"
	"$PY3" "$REMOTE_DIR/webhook.py" "$dir/hook.port" "$HOOK_RECORD" --mode "$mode" \
	    --delay "$delay" >"$dir/hook.log" 2>&1 3>&- &
	HOOK_PID=$!
	SERVER_PIDS+=("$HOOK_PID")
	wait_file "$dir/hook.port" 10 || return 1
	HOOK_PORT=$(cat "$dir/hook.port")
}

stop_servers() {
	local p
	for p in "${SERVER_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${SERVER_PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	SERVER_PIDS=()
}

# gen_file SIZE FILE: the misbehaving server's byte stream, to compare against.
gen_file() { "$PY3" "$REMOTE_DIR/misbehave.py" gen "$1" "$2"; }

# start_blackhole DIR: a TCP server on 127.0.0.1 that accepts every connection,
# reads what comes and never answers; BH_PORT, BH_PID, BH_COUNT (a file holding
# how many connections it has accepted).
start_blackhole() {
	mkdir -p "$1"
	BH_COUNT=$1/bh.count
	rm -f "$1/bh.port" "$BH_COUNT"
	"$PY3" -c '
import socket, sys, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(64)
open(sys.argv[1] + ".tmp", "w").write("%d\n" % s.getsockname()[1])
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
held, n = [], 0
def drain(c):
    try:
        while c.recv(65536):
            pass
    except OSError:
        pass
while True:
    c, _ = s.accept()
    held.append(c)
    n += 1
    open(sys.argv[2] + ".tmp", "w").write("%d\n" % n)
    os.rename(sys.argv[2] + ".tmp", sys.argv[2])
    threading.Thread(target=drain, args=(c,), daemon=True).start()
' "$1/bh.port" "$BH_COUNT" >"$1/bh.log" 2>&1 3>&- &
	BH_PID=$!
	SERVER_PIDS+=("$BH_PID")
	wait_file "$1/bh.port" 10 || return 1
	BH_PORT=$(cat "$1/bh.port")
}

# blackhole_has N: it has accepted at least N connections.
blackhole_has() { [ "$(cat "$BH_COUNT" 2>/dev/null || echo 0)" -ge "$1" ]; }
