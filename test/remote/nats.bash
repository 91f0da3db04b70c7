# NATS JetStream servers for the cluster suite (test/integration/remote_cluster.bats)
# and the scale-out benchmark: one node or a three-node cluster on 127.0.0.1,
# every port picked free, each node's store under the caller's directory, so
# that a node can be stopped, killed and started again on the same ports and
# the same store. Sourced after lib.bash (free ports, PY3).
#
#   nats_start DIR N        N = 1 or 3 nodes; waits until JetStream is up and
#                           the cluster has a meta leader
#   nats_stop I / nats_kill I / nats_restart I / nats_stop_all / nats_start_all
#   nats_stream_leader S    the node (1..N) that leads stream S
#   nats_stream_msgs S      how many messages S holds (a work queue: not acked)
#
# Nodes are numbered 1..N and named n1..nN (their server_name, which is what
# the cluster reports as a leader). After nats_start:
#   NATS_URLS   the client URLs, comma-separated ("nats://127.0.0.1:P1,...")
#   NATS_YAML   the same as a YAML flow list, for `cluster.nats:`
#   NATS_PORT[I] NATS_MPORT[I] (monitoring) NATS_PID[I] (empty while down)
#
# Readiness is polled with a deadline (NATS_READY_TIMEOUT, default 60 s),
# never waited for with a fixed sleep. The deadline is long because a cluster
# restarted whole (or a stream that lost its leader) is recovered by a Raft
# election: each round waits a random election timeout (seconds, not
# milliseconds, in nats-server 2.9), and a split vote costs another round. CI
# once saw a meta leader take over 15 s; here it takes about 5 s. The servers are not tagged for the
# integration helpers' kill_test_procs: a test's teardown calls nats_stop_all,
# and a server is never found by name, only by the pid it was started as.

NATS_DIR=
NATS_N=0
NATS_URLS=
NATS_YAML=
NATS_ROUTES=
NATS_PORT=()
NATS_MPORT=()
NATS_CPORT=()
NATS_PID=()
NATS_READY_TIMEOUT=${NATS_READY_TIMEOUT:-60}
JSAPI=$REMOTE_DIR/jsapi.py

have_nats() { command -v nats-server >/dev/null 2>&1; }

# free_ports N: N distinct free TCP ports, one a line. All are bound at once
# before any is let go: free_port called N times could hand out one twice.
free_ports() {
	"$PY3" -c '
import socket, sys
ss = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); ss.append(s)
print("\n".join(str(s.getsockname()[1]) for s in ss))' "$1"
}

# nats_start DIR N: N (1 or 3) nodes, stores under DIR/nats/nI/, logs DIR/nats/nI.log.
nats_start() {
	local dir=$1 n=$2 i ports=() routes=
	case $n in 1 | 3) ;; *) echo "nats_start: 1 or 3 nodes, not $n" >&2; return 1 ;; esac
	have_nats || { echo "nats_start: nats-server is not installed (make deps-test)" >&2; return 1; }
	NATS_DIR=$dir/nats
	NATS_N=$n
	mkdir -p "$NATS_DIR"
	mapfile -t ports < <(free_ports $((3 * n)))
	[ "${#ports[@]}" -eq $((3 * n)) ] || { echo "nats_start: no free ports" >&2; return 1; }
	NATS_URLS=
	NATS_YAML=
	for ((i = 1; i <= n; i++)); do
		NATS_PORT[i]=${ports[3 * (i - 1)]}
		NATS_MPORT[i]=${ports[3 * (i - 1) + 1]}
		NATS_CPORT[i]=${ports[3 * (i - 1) + 2]}
		NATS_PID[i]=
		NATS_URLS+=${NATS_URLS:+,}nats://127.0.0.1:${NATS_PORT[i]}
		routes+=${routes:+,}nats://127.0.0.1:${NATS_CPORT[i]}
	done
	NATS_YAML="[${NATS_URLS//,/, }]"
	NATS_ROUTES=$routes
	nats_start_all
}

# nats_spawn I: start node I on its ports and store, without waiting.
nats_spawn() {
	local i=$1 args
	args=(-js -sd "$NATS_DIR/n$i" -a 127.0.0.1 -p "${NATS_PORT[i]}" -m "${NATS_MPORT[i]}"
	    -n "n$i")
	# A three-node cluster: every node is given every route (its own is ignored).
	[ "$NATS_N" -eq 1 ] || args+=(--cluster_name ingestd-test
	    --cluster "nats://127.0.0.1:${NATS_CPORT[i]}" --routes "$NATS_ROUTES")
	mkdir -p "$NATS_DIR/n$i"
	# Appended: a restarted node's log follows its first life's.
	echo "--- start $(date -u +%FT%T.%N)" >>"$NATS_DIR/n$i.log"
	nats-server "${args[@]}" >>"$NATS_DIR/n$i.log" 2>&1 </dev/null 3>&- &
	NATS_PID[i]=$!
}

# nats_alive I: node I's process runs (not a zombie).
nats_alive() {
	local line s p=${NATS_PID[$1]:-}
	[ -n "$p" ] || return 1
	{ read -r line <"/proc/$p/stat"; } 2>/dev/null || return 1
	s=${line##*) }
	[ "${s:0:1}" != Z ]
}

# nats_healthy I: node I answers that JetStream is enabled.
nats_healthy() {
	curl -sf -m 2 -o /dev/null "http://127.0.0.1:${NATS_MPORT[$1]}/healthz?js-enabled-only=true"
}

# nats_jsz I [QUERY]: node I's /jsz (JSON), QUERY e.g. "streams=true&consumers=true".
nats_jsz() { curl -sf -m 2 "http://127.0.0.1:${NATS_MPORT[$1]}/jsz?${2:-}"; }

# nats_meta_leader I: the meta leader node I knows of (its name, nK), if any.
nats_meta_leader() {
	local l
	l=$(nats_jsz "$1" | jq -r '.meta_cluster.leader // empty' 2>/dev/null)
	[ -n "$l" ] && echo "$l"
}

# nats_wait_ready I...: until each node is healthy and, in a cluster, knows a
# meta leader (before that, creating a stream fails: the meta group decides it).
nats_wait_ready() {
	local i deadline now
	deadline=$(($(date +%s%N) / 1000000 + NATS_READY_TIMEOUT * 1000))
	for i in "$@"; do
		while ! { nats_healthy "$i" && { [ "$NATS_N" -eq 1 ] || nats_meta_leader "$i" >/dev/null; }; }; do
			if ! nats_alive "$i"; then
				echo "# nats node n$i (pid ${NATS_PID[i]:-}) exited:" >&2
				tail -n 20 "$NATS_DIR/n$i.log" | sed 's/^/#   /' >&2
				return 1
			fi
			now=$(($(date +%s%N) / 1000000))
			if [ "$now" -ge "$deadline" ]; then
				echo "# nats node n$i not ready after ${NATS_READY_TIMEOUT}s:" >&2
				tail -n 20 "$NATS_DIR/n$i.log" | sed 's/^/#   /' >&2
				return 1
			fi
			sleep 0.05
		done
	done
}

# nats_start_all: start every node that is down, then wait for all of them
# (started together: a cluster node alone never elects a meta leader).
nats_start_all() {
	local i
	for ((i = 1; i <= NATS_N; i++)); do
		nats_alive "$i" || nats_spawn "$i"
	done
	nats_wait_ready $(seq "$NATS_N")
}

# nats_signal_wait I SIGNAL: send SIGNAL to node I and reap it (20 s at most).
nats_signal_wait() {
	local i=$1 p=${NATS_PID[$1]:-} n
	[ -n "$p" ] || return 0
	kill -s "$2" "$p" 2>/dev/null || true
	for ((n = 0; n < 400; n++)); do
		nats_alive "$i" || break
		sleep 0.05
	done
	if nats_alive "$i"; then
		echo "# nats node n$i (pid $p) still alive 20 s after SIG$2; killing it" >&2
		kill -KILL "$p" 2>/dev/null || true
	fi
	wait "$p" 2>/dev/null || true
	NATS_PID[i]=
}

# nats_stop I: a clean stop (SIGTERM: it flushes its store and leaves its groups).
nats_stop() { nats_signal_wait "$1" TERM; }
# nats_kill I: kill -9, as a crash or a power cut of that host would leave it.
nats_kill() { nats_signal_wait "$1" KILL; }

# nats_restart I: start node I again on its ports and store, wait until ready.
nats_restart() {
	nats_alive "$1" && { echo "nats_restart: n$1 is running" >&2; return 1; }
	nats_spawn "$1"
	nats_wait_ready "$1"
}

# nats_stop_all: SIGTERM to every node at once, then reap them: stopped one
# by one, a client would hop from each to the next still up.
nats_stop_all() {
	local i
	for ((i = 1; i <= NATS_N; i++)); do
		[ -n "${NATS_PID[i]:-}" ] && kill -TERM "${NATS_PID[i]}" 2>/dev/null
	done
	for ((i = 1; i <= NATS_N; i++)); do nats_stop "$i"; done
}

# nats_up_node: the first node that is running, or fails.
nats_up_node() {
	local i
	for ((i = 1; i <= NATS_N; i++)); do
		nats_alive "$i" && { echo "$i"; return 0; }
	done
	return 1
}

# nats_stream_leader STREAM: the node (1..N) that leads STREAM, as that node
# itself reports it (a follower may still name a leader that was just killed).
nats_stream_leader() {
	local i l
	for ((i = 1; i <= NATS_N; i++)); do
		nats_alive "$i" || continue
		l=$(nats_jsz "$i" 'streams=true' | jq -r --arg s "$1" \
		    '.account_details[]?.stream_detail[]? | select(.name == $s) | .cluster.leader // empty' \
		    2>/dev/null | head -n 1)
		[ "$l" = "n$i" ] && { echo "$i"; return 0; }
		# A single node leads every stream; /jsz then has no cluster leader.
		[ "$NATS_N" -eq 1 ] && [ -n "$(nats_jsz "$i" 'streams=true' | jq -r --arg s "$1" \
		    '.account_details[]?.stream_detail[]? | select(.name == $s) | .name' 2>/dev/null)" ] &&
		    { echo "$i"; return 0; }
	done
	return 1
}

# nats_wait_leader STREAM [SECONDS]: until STREAM has a leader; NATS_LEADER.
nats_wait_leader() {
	local n lim=$(( ${2:-$NATS_READY_TIMEOUT} * 20 ))
	for ((n = 0; n < lim; n++)); do
		NATS_LEADER=$(nats_stream_leader "$1") && return 0
		sleep 0.05
	done
	echo "# stream $1 has no leader after ${2:-$NATS_READY_TIMEOUT}s" >&2
	return 1
}

# nats_stream_info STREAM: the stream's info (JSON) from the API, answered by its leader.
nats_stream_info() {
	local i
	i=$(nats_up_node) || return 1
	"$PY3" "$JSAPI" req "${NATS_PORT[i]}" "\$JS.API.STREAM.INFO.$1"
}

# nats_stream_msgs STREAM: the messages STREAM holds; for a work queue, the
# ones not yet acked. Fails while the stream cannot answer (no leader).
nats_stream_msgs() {
	local out
	out=$(nats_stream_info "$1" 2>/dev/null) || return 1
	jq -er '.state.messages' <<<"$out"
}

# nats_consumer_info STREAM CONSUMER: the consumer's info (JSON):
# num_pending (not yet delivered), num_ack_pending (leased), num_redelivered.
nats_consumer_info() {
	local i
	i=$(nats_up_node) || return 1
	"$PY3" "$JSAPI" req "${NATS_PORT[i]}" "\$JS.API.CONSUMER.INFO.$1.$2"
}

# nats_stream_dump STREAM: every message of STREAM, SEQ<TAB>SUBJECT<TAB>DATA a line
# (a key-value bucket B is the stream KV_B).
nats_stream_dump() {
	local i
	i=$(nats_up_node) || return 1
	"$PY3" "$JSAPI" msgs "${NATS_PORT[i]}" "$1"
}

# nats_req SUBJECT [JSON]: one API request to the first running node.
nats_req() {
	local i
	i=$(nats_up_node) || return 1
	"$PY3" "$JSAPI" req "${NATS_PORT[i]}" "$@"
}
