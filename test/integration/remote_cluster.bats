#!/usr/bin/env bats
# Scale-out (issue 14): several ingestd hosts drain one S3 bucket through NATS
# JetStream, and every object is filed exactly once. Each "host" is a daemon
# with its own spool and config (T/hI/), all with the same cluster: section,
# node hI; a nats-server cluster of the test's own (test/remote/nats.bash);
# the bucket is s3rver behind the SigV4-checking proxy, as in remote_s3.bats.
# A host's requests can be held (holdproxy.py in front of the proxy) so that a
# test acts while a download is in flight: it is then holding a lease.
#
# What every test checks at its end (assert_cluster_once): each object is
# filed once in the whole cluster (one host's done/, never a NAME.~J~, never
# failed/), the packet is what was uploaded, the bucket is empty, no request,
# .part or job is left on any host, the work stream holds nothing, and the
# filed-markers name exactly the hosts that filed.

load helpers
load ../remote/lib
load ../remote/nats

SECRET=ingestd-test-secret
# Short leases, so that a dead or stopped host's objects come back quickly.
LEASE=3
STREAM=ingestd
KV=KV_ingestd-filed
HOSTS=3

setup_file() {
	have_nats || skip "nats-server is not installed (make deps-test installs it)"
	export SRV=$BATS_FILE_TMPDIR/srv
	mkdir -p "$SRV"
	start_s3rver "$SRV" uploads
	export S3_PORT S3_PID S3_DATA
}

teardown_file() {
	kill -TERM "$S3_PID" 2>/dev/null || true
}

setup() {
	common_setup
	find "$S3_DATA/uploads" -mindepth 1 -delete 2>/dev/null || true
	# 50 keys a page: 300 objects are listed over 6 pages.
	start_proxy "$T" "$S3_PORT" "$SECRET" --page-size 50
	H_PID=()
	H_RUNS=()
	H_LOG=()
	H_SPOOL=()
	H_CONF=()
	HOLD_URL=
	make_packet "$T/src" p.zip
	: >"$T/keys"
	handler_script work >/dev/null <<-'EOF'
	# HANDLER_SLEEP in T/handler.sleep: a handler that takes time keeps the
	# workers busy, so that every host gets a share.
	s=$(cat "$T/handler.sleep" 2>/dev/null || echo 0)
	[ "$s" = 0 ] || sleep "$s"
	exit 0
	EOF
}

teardown() {
	local rc=0 i
	common_teardown || rc=1
	for ((i = 1; i <= ${#H_SPOOL[@]}; i++)); do
		[ -d "${H_SPOOL[i]:-/nonexistent}" ] && "$PY" "$IT_BIN/mq-unlink" "${H_SPOOL[i]}" 2>/dev/null
	done
	nats_stop_all
	stop_servers
	return $rc
}

# --- the bucket ----------------------------------------------------------------

# put KEYS...: upload the test's packet under each key (plain names: no encoding
# needed), 8 at a time over the proxy; each key is added to T/keys, the list of
# what must end up filed.
put() {
	local k cfg=$T/put.curl
	: >"$cfg"
	for k in "$@"; do
		printf 'url = "http://127.0.0.1:%s/uploads/%s"\nupload-file = "%s"\noutput = "/dev/null"\n' \
		    "$PROXY_PORT" "$k" "$T/src/p.zip" >>"$cfg"
		echo "$k" >>"$T/keys"
	done
	curl -sS --no-progress-meter -f -Z --parallel-max 8 --aws-sigv4 "aws:amz:us-east-1:s3" -u "S3RVER:$SECRET" \
	    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -K "$cfg" || fail "upload failed"
}

# put_n N PREFIX: objects video_PREFIX0001.zip ... video_PREFIX{N}.zip.
put_n() {
	local i names=()
	for ((i = 1; i <= $1; i++)); do names+=("$(printf 'video_%s%04d.zip' "$2" "$i")"); done
	put "${names[@]}"
}

objects() { find "$S3_DATA/uploads" -name '*._S3rver_object' 2>/dev/null | wc -l; }
bucket_empty() { [ "$(objects)" -eq 0 ]; }
bucket_keys() {
	find "$S3_DATA/uploads" -name '*._S3rver_object' 2>/dev/null | sed "s|^$S3_DATA/uploads/||; s|\._S3rver_object\$||"
}

# start_hold: holdproxy.py in front of the SigV4 proxy; HOLD_URL (a host's
# endpoint), HOLD_FILE (a regex of request lines to hold while it exists),
# HELD_FILE (the request lines held so far, one each).
start_hold() {
	local d=$T/hold
	mkdir -p "$d"
	HOLD_FILE=$d/pattern
	HELD_FILE=$d/held
	: >"$HELD_FILE"
	"$PY3" "$REMOTE_DIR/holdproxy.py" --upstream "$PROXY_PORT" --port-file "$d/port" \
	    --hold "$HOLD_FILE" --held "$HELD_FILE" >"$d/holdproxy.log" 2>&1 3>&- &
	SERVER_PIDS+=($!)
	wait_file "$d/port" 10 || return 1
	HOLD_URL=http://127.0.0.1:$(cat "$d/port")
}
# The object GETs, not the listings (GET /uploads/?list-type=2...).
hold_gets() { echo '^GET /uploads/video_' >"$HOLD_FILE"; }
held_gets() { grep -c '^GET /uploads/video_' "$HELD_FILE" 2>/dev/null || true; }
# held_keys: the keys whose GET was held.
held_keys() { sed -n 's|^GET /uploads/\(video_[^ ?]*\) .*|\1|p' "$HELD_FILE" | sort -u; }
# answered KEY: the proxy has answered a GET of KEY with its bytes (200, or
# 206 to a Range request): they are on their way.
answered() { grep -qE "\"method\": \"GET\", \"path\": \"/uploads/$1[\"?].*\"status\": 20[06]" "$PROXY_LOG"; }

# --- the hosts -------------------------------------------------------------------

# host_conf I [ENDPOINT]: host I's config in T/hI/ingestd.yml: its own spool, 2
# workers, the S3 source on the bucket (through ENDPOINT, default the proxy),
# the cluster on the test's nats servers as node hI.
host_conf() {
	local i=$1 ep=${2:-http://127.0.0.1:$PROXY_PORT} d=$T/h$1
	mkdir -p "$d"
	H_SPOOL[i]=$d/spool
	H_CONF[i]=$d/ingestd.yml
	H_RUNS[i]=${H_RUNS[i]:-0}
	cat >"${H_CONF[i]}" <<-EOF
	# written by $BATS_TEST_FILENAME: $BATS_TEST_DESCRIPTION (host $i)
	spool: ${H_SPOOL[i]}
	workers: ${WORKERS:-2}
	settle: 200ms
	shutdown_grace: 1s
	packet:
	  manifest_required: false
	handler:
	  command: [/bin/sh, '$T/work.sh']
	  retries: 2
	fetch:
	  retries: 2
	  backoff: 100ms
	  # A GET the test holds is slow on purpose: not a stalled server.
	  low_speed_time: 5m
	sources:
	  - s3:
	      endpoint: $ep
	      region: us-east-1
	      bucket: uploads
	      prefix: video_
	      poll: 300ms
	      delete: after_commit
	cluster:
	  nats: $NATS_YAML
	  name: $STREAM
	  node: h$i
	  lease: ${LEASE}s
	  replicas: $NATS_N
	EOF
	[ "$(id -u)" -ne 0 ] || echo "allow_root: true" >>"${H_CONF[i]}"
	export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=$SECRET
}

# on_host I CMD...: run CMD with the integration helpers' globals (SPOOL, LOG,
# CONF, DAEMON_PID) set to host I's, so journal_count, no_jobs and the like
# work on that host.
on_host() {
	local i=$1
	shift
	local SPOOL=${H_SPOOL[i]} LOG=${H_LOG[i]:-/dev/null} CONF=${H_CONF[i]} DAEMON_PID=${H_PID[i]:-}
	"$@"
}

# host_start I: start host I's daemon (tagged, like start_daemon) and wait for
# event=ready. Its log is T/hI.daemon.RUN.log: under T, so teardown looks for
# sanitizer reports in it.
host_start() {
	local i=$1
	H_RUNS[i]=$((${H_RUNS[i]:-0} + 1))
	H_LOG[i]=$T/h$i.daemon.${H_RUNS[i]}.log
	INGESTD_TEST_TAG=$TAG "$INGESTD" -c "${H_CONF[i]}" </dev/null \
	    >"$T/h$i.daemon.${H_RUNS[i]}.stdout" 2>"${H_LOG[i]}" 3>&- &
	H_PID[i]=$!
	on_host "$i" wait_ready || { H_PID[i]=; return 1; }
}

# hosts_start I...: start several, then wait for each (they come up together).
hosts_start() {
	local i
	for i in "$@"; do host_start "$i" || return 1; done
}

host_alive() { [ -n "${H_PID[$1]:-}" ] && alive "${H_PID[$1]}"; }

# host_pids I: host I's live processes: the daemon's process group (the
# supervisor heads it: watcher, workers, source, parse helpers) and its
# handlers, which run in groups of their own and are found by INGEST_SPOOL.
host_pids() {
	local i=$1 p g
	for p in $(test_pids); do
		g=$(ps -o pgid= -p "$p" 2>/dev/null | tr -d ' ')
		if [ "$g" = "${H_PID[i]}" ] ||
		    grep -qsaz -x "INGEST_SPOOL=${H_SPOOL[i]}" "/proc/$p/environ"; then
			echo "$p"
		fi
	done
	return 0
}

# host_signal I SIG: SIG to the daemon's whole process group first (one
# kill(2): no member can act on another's death in between), then to its
# handlers.
host_signal() {
	local i=$1 sig=$2 rest
	kill -s "$sig" -- "-${H_PID[i]}" || return 1
	rest=$(host_pids "$i")
	# shellcheck disable=SC2086
	[ -z "$rest" ] || kill -s "$sig" $rest 2>/dev/null || true
}

# host_kill9 I: the host dies as in a power cut of its machine: every process
# of it at once, nothing written after; reaped; its message queue unlinked.
host_kill9() {
	local i=$1
	host_signal "$i" KILL
	wait_until 5 eval '[ -z "$(host_pids '"$i"')" ]' || fail "host $i survived kill -9: $(host_pids "$i")"
	wait "${H_PID[i]}" 2>/dev/null || true
	H_PID[i]=
	"$PY" "$IT_BIN/mq-unlink" "${H_SPOOL[i]}" 2>/dev/null || true
}

# host_stop I: a clean stop (SIGTERM), exit status 0.
host_stop() {
	local i=$1 rc=0
	kill -TERM "${H_PID[i]}"
	wait_until 20 eval '! host_alive '"$i" || return 1
	wait "${H_PID[i]}" || rc=$?
	H_PID[i]=
	[ "$rc" -eq 0 ] || fail "host $i exited with status $rc: $(tail -n 5 "${H_LOG[i]}")"
}

# reconnected I: host I logged state=connected after a state=disconnected.
reconnected() {
	awk '/event=cluster state=disconnected/ { d = 1 } d && /event=cluster state=connected/ { ok = 1 }
	    END { exit !ok }' "${H_LOG[$1]}"
}
disconnects() { grep -c 'event=cluster state=disconnected' "${H_LOG[$1]}" || true; }

# status_of I: host I's `ingestd status`; status_says I TEXT: it contains TEXT.
status_of() { INGESTD_TEST_TAG=$TAG timeout 10 "$INGESTD" status -d "${H_SPOOL[$1]}" 2>&1; }
status_says() { [[ $(status_of "$1") == *"$2"* ]]; }

# --- what the spool says ------------------------------------------------------

# A packet's own entry in done/ or failed/: the key, or the key.~J~ of a
# second filing (records and the .url request left out).
PKT_RE='^video_[^/]*\.zip(\.~[0-9a-f]+~)?$'

# filed_on I DIR: the packets in host I's DIR (done or failed), one a line.
filed_on() { ls -A "${H_SPOOL[$1]}/$2" 2>/dev/null | grep -E "$PKT_RE" || true; }

# filed_total: packets in done/ over all the hosts started so far.
filed_total() {
	local i n=0
	for ((i = 1; i <= HOSTS; i++)); do
		[ -n "${H_SPOOL[i]:-}" ] || continue
		n=$((n + $(filed_on "$i" "done" | grep -c .)))
	done
	echo "$n"
}
filed_has() { [ "$(filed_total)" -ge "$1" ]; }

# where_filed KEY: the hosts (I) that have KEY in done/, one a line.
where_filed() {
	local i
	for ((i = 1; i <= HOSTS; i++)); do
		[ -n "${H_SPOOL[i]:-}" ] || continue
		[ -e "${H_SPOOL[i]}/done/$1" ] && echo "$i"
	done
	return 0
}

# claimed_on I: the keys host I logged as claimed (event=claimed key=KEY).
claimed_on() {
	cat "$T/h$1".daemon.*.log 2>/dev/null | sed -n 's/.*event=claimed .*key=\([^ ]*\).*/\1/p' | sort -u
}

# settled I: host I has no request, .part or packet left in its inbox, no job
# in work/ or defer/, no claim record in remote/claims/.
settled() {
	[ -z "$(ls -A "${H_SPOOL[$1]}/inbox" 2>/dev/null)" ] && on_host "$1" no_jobs &&
	    [ -z "$(ls -A "${H_SPOOL[$1]}/remote/claims" 2>/dev/null)" ]
}
# all_settled: every running host is settled. A host that is down (killed)
# keeps what it had until it is started again: that is looked at then.
all_settled() {
	local i
	for ((i = 1; i <= HOSTS; i++)); do
		host_alive "$i" || continue
		settled "$i" || return 1
	done
}

stream_empty() { [ "$(nats_stream_msgs "$STREAM" 2>/dev/null)" = 0 ]; }

# drained N: N packets filed, the bucket empty, every host settled, the work
# stream empty (every claim acked).
drained() { filed_has "$1" && bucket_empty && all_settled && stream_empty; }

# assert_cluster_once: the invariants of the file header, over every host that
# was ever started, for the keys in T/keys.
assert_cluster_once() {
	local bad i
	bad=$(
		{
			sed 's/^/K /' "$T/keys"
			for ((i = 1; i <= HOSTS; i++)); do
				[ -n "${H_SPOOL[i]:-}" ] || continue
				filed_on "$i" "done" | sed "s/^/D $i /"
				ls -A "${H_SPOOL[i]}/failed" 2>/dev/null | sed "s/^/F $i /"
				[ -f "${H_SPOOL[i]}/journal" ] && grep -v ' event=' "${H_SPOOL[i]}/journal" | sed "s/^/J $i /"
			done
			# The markers: node=hI name=NAME, one per filed object.
			nats_stream_dump "$KV" 2>/dev/null | cut -f3 | sed 's/^/M /'
		} | awk -v keys="$(wc -l <"$T/keys")" '
			$1 == "K" { want[$2] = 1; next }
			$1 == "D" {
				if ($3 in where) print $3 ": in done/ of host " where[$3] " and host " $2
				else if (!($3 in want)) print "host " $2 " done/ has " $3 ", which is no key or a second copy"
				# (not x = (k in a) ? ..: awk makes a[k] before the test)
				if ($3 in where) where[$3] = where[$3] "," $2; else where[$3] = $2
				next
			}
			$1 == "F" { print "host " $2 " failed/ has " $3; next }
			$1 == "J" {
				if (match($0, / outcome=failed/)) print "host " $2 " journal: " substr($0, 5)
				if (match($0, / name=[^ ]*/)) {
					n = substr($0, RSTART + 6, RLENGTH - 6)
					if ((n in want) && match($0, / outcome=done/)) jd[n]++
				}
				next
			}
			$1 == "M" {
				node = ""; name = ""
				for (f = 2; f <= NF; f++) {
					if ($f ~ /^node=/) node = substr($f, 6)
					if ($f ~ /^name=/) name = substr($f, 6)
				}
				markers++
				if (name in mk) mk[name] = mk[name] "," node; else mk[name] = node
			}
			END {
				for (k in want) {
					if (!(k in where)) print k ": filed nowhere"
					if (jd[k] != 1) print k ": " jd[k] + 0 " journal lines outcome=done over all hosts"
					if (!(k in mk)) print k ": no marker"
					else if ((k in where) && mk[k] != "h" where[k]) print k ": marker says " mk[k] ", filed by host " where[k]
				}
				if (markers != keys) print markers + 0 " markers for " keys " keys"
			}' | sort | head -n 20
		for ((i = 1; i <= HOSTS; i++)); do
			host_alive "$i" || continue
			settled "$i" || echo "host $i not settled: inbox: $(ls -A "${H_SPOOL[i]}/inbox" | head -5 | tr '\n' ' ')" \
			    "jobs: $(on_host "$i" job_dirs | head -3 | tr '\n' ' ')" \
			    "claims: $(ls -A "${H_SPOOL[i]}/remote/claims" 2>/dev/null | head -3 | tr '\n' ' ')"
		done
		bucket_empty || echo "left in the bucket: $(bucket_keys | head -5 | tr '\n' ' ')"
		stream_empty || echo "the work stream holds $(nats_stream_msgs "$STREAM" 2>&1) messages"
		# What was filed is what was uploaded.
		for ((i = 1; i <= HOSTS; i++)); do
			[ -n "${H_SPOOL[i]:-}" ] || continue
			for k in $(filed_on "$i" "done"); do
				cmp -s "${H_SPOOL[i]}/done/$k" "$T/src/p.zip" || echo "host $i done/$k differs from the upload"
			done
		done | head -n 5
	)
	if [ -n "$bad" ]; then
		echo "# assert_cluster_once failed:" >&2
		echo "$bad" | sed 's/^/#   /' >&2
		diag
		return 1
	fi
}

# diag (replaces the helpers' one-daemon version): each host's log tail, inbox,
# jobs and counts; the nats nodes and the stream.
diag() {
	local i
	{
		for ((i = 1; i <= HOSTS; i++)); do
			[ -n "${H_SPOOL[i]:-}" ] || continue
			echo "# --- host $i (pid ${H_PID[i]:-down}) ${H_LOG[i]:-}: done/ $(filed_on "$i" "done" | grep -c .)" \
			    "failed/ $(ls -A "${H_SPOOL[i]}/failed" 2>/dev/null | grep -c .)" \
			    "journal $(on_host "$i" journal_count) lines"
			[ -f "${H_LOG[i]:-}" ] && tail -n 15 "${H_LOG[i]}" | sed 's/^/#   /'
			echo "#   inbox: $(ls -A "${H_SPOOL[i]}/inbox" 2>/dev/null | head -8 | tr '\n' ' ')"
			echo "#   jobs: $(on_host "$i" job_dirs | head -4 | tr '\n' ' ') defer: $(ls -A "${H_SPOOL[i]}/defer" 2>/dev/null | head -4 | tr '\n' ' ')"
		done
		echo "# --- bucket: $(objects) objects: $(bucket_keys | head -5 | tr '\n' ' ')"
		for ((i = 1; i <= NATS_N; i++)); do
			echo "# --- nats n$i (pid ${NATS_PID[i]:-down}): $(tail -n 3 "$NATS_DIR/n$i.log" 2>/dev/null | tr '\n' '|')"
		done
		echo "# --- stream $STREAM: $(nats_stream_info "$STREAM" 2>&1 | jq -c '.state // .' 2>/dev/null | head -c 300)"
	} >&2
	return 0
}

# cluster HOSTS_STARTED: the usual set-up: a three-node cluster, hosts 1..N
# configured (direct to the proxy) and started.
cluster() {
	local i
	nats_start "$T" 3
	for ((i = 1; i <= $1; i++)); do host_conf "$i"; done
	hosts_start $(seq "$1")
}

# --- the helpers themselves --------------------------------------------------------

@test "nats helpers: a three-node cluster comes up, a replicated stream keeps its messages through kill -9 of its leader and a restart of every node" {
	local old created
	nats_start "$T" 3
	nats_req '$JS.API.STREAM.CREATE.w' \
	    '{"name":"w","subjects":["w.>"],"retention":"workqueue","num_replicas":3,"storage":"file"}' >/dev/null
	for i in 1 2 3 4 5; do "$PY3" "$JSAPI" pub "${NATS_PORT[2]}" w.x "m$i" "id$i" >/dev/null; done
	run "$PY3" "$JSAPI" pub "${NATS_PORT[3]}" w.x again id1
	[[ $output == *'"duplicate": true'* ]] || fail "the message id did not deduplicate: $output"
	nats_wait_leader w
	[ "$(nats_stream_msgs w)" -eq 5 ]
	created=$(nats_stream_info w | jq -r .created)
	old=$NATS_LEADER
	nats_kill "$old"
	nats_wait_leader w
	[ "$NATS_LEADER" != "$old" ] || fail "n$old was killed and still leads"
	[ "$(nats_stream_msgs w)" -eq 5 ]
	nats_restart "$old"
	nats_stop_all
	nats_start_all
	nats_wait_leader w
	[ "$(nats_stream_msgs w)" -eq 5 ]
	[ "$(nats_stream_info w | jq -r .created)" = "$created" ] || fail "the stream was made anew"
	[ "$(nats_stream_dump w | cut -f3 | tr '\n' ' ')" = "m1 m2 m3 m4 m5 " ]
}

# --- the proofs of issue 14 ----------------------------------------------------------

@test "three hosts, one bucket, 300 objects: each filed in exactly one host's done/, all deleted, no duplicate anywhere" {
	local i
	# 50 ms a packet: every host gets a share while the others are busy.
	echo 0.05 >"$T/handler.sleep"
	cluster 3
	put_n 300 a
	wait_until 240 drained 300
	assert_cluster_once
	for i in 1 2 3; do
		[ "$(filed_on "$i" "done" | grep -c .)" -gt 0 ] || fail "host $i filed nothing: not scaled out"
	done
	# Several polls later nothing more is fetched, published or filed.
	sleep 1
	assert_cluster_once
	[ "$(filed_total)" -eq 300 ]
	! grep -q 'status=403' "$T"/h*.daemon.*.log || fail "the proxy refused a request"
	for i in 1 2 3; do host_stop "$i"; done
}

# listings: how many listings of the bucket the proxy has answered so far.
listings() { grep -cE '"method": "GET", "path": "/uploads/?\?' "$PROXY_LOG" || true; }

@test "a listing is skipped while the work stream holds a backlog, and made again once it drains" {
	local before after n=30
	nats_start "$T" 1
	start_hold
	hold_gets
	host_conf 1 "$HOLD_URL"
	put_n "$n" s
	host_start 1
	# The first listing publishes all 30; with every GET held, 2 are claimed
	# and the rest wait in the stream: a backlog larger than 8.
	wait_for eval '[ "$(nats_stream_msgs "$STREAM" 2>/dev/null)" = '"$n"' ]'
	wait_for eval '[ "$(held_gets)" -ge 1 ]'
	before=$(listings)
	# 8 s of polls every 300 ms or a little more: about 20 listings, were none
	# skipped; every tenth poll lists regardless (one each 3 s or more), so 1
	# to 3 of them, and one more is allowed.
	sleep 8
	after=$(listings)
	[ $((after - before)) -ge 1 ] || fail "no listing in 8 s: every tenth poll must list"
	[ $((after - before)) -le 4 ] || fail "$((after - before)) listings in 8 s with a backlog of $n"
	rm -f "$HOLD_FILE"
	wait_until 60 drained "$n"
	# No backlog now: a new object is listed at the next poll, not the tenth.
	put_n 5 t
	wait_until 10 drained $((n + 5)) || fail "new objects were not listed once the backlog was gone"
	assert_cluster_once
	host_stop 1
}

@test "a redelivery to the host whose job still holds the object moves the claim: one job, filed once (CI: a second job was filed failed with a 404)" {
	local src key=video_q0001.zip
	nats_start "$T" 1
	start_hold
	hold_gets
	host_conf 1 "$HOLD_URL"
	put "$key"
	host_start 1
	wait_for eval '[ "$(held_gets)" -ge 1 ]'
	# The source renews the lease; stopped past it (as when NATS is away for
	# longer), the object is delivered again, here to the same host, whose
	# worker still holds it in a download.
	src=$(sed -n 's/^level=info role=source pid=\([0-9]*\) .*/\1/p' "${H_LOG[1]}" | tail -n 1)
	[ -n "$src" ] || fail "no source process in the log"
	kill -STOP "$src"
	sleep $((LEASE + 2))	# past the lease: that is the condition, not a wait for it
	kill -CONT "$src"
	wait_for grep -q "event=reclaimed .*name=$key.url delivered=2" "${H_LOG[1]}" ||
	    fail "the redelivery was not taken as the job's own: $(grep "$key" "${H_LOG[1]}" | tail -n 5)"
	rm -f "$HOLD_FILE"
	wait_until 60 drained 1
	assert_cluster_once
	# One job, from the request to the filing: no line of the request's own.
	[ "$(grep -v ' event=' "${H_SPOOL[1]}/journal" | grep -c " name=$key.url ")" -eq 0 ] ||
	    fail "a second job for $key.url: $(grep " name=$key.url " "${H_SPOOL[1]}/journal")"
	host_stop 1
}

@test "kill -9 of a host while it holds leases: its objects are filed once by the others; restarted, it files none of them" {
	local i k mine n=30 t0
	nats_start "$T" 3
	start_hold
	put_n "$n" k
	# Host 1's downloads never end: it holds the leases of what it claimed.
	hold_gets
	host_conf 1 "$HOLD_URL"
	host_start 1
	wait_for eval '[ "$(held_gets)" -ge 2 ]'
	now_us
	t0=$NOW_US
	host_conf 2
	host_conf 3
	hosts_start 2 3
	# What it holds: the downloads held, and any claim it logged and has not
	# started yet.
	mine=$({ held_keys; claimed_on 1; } | sort -u)
	# Everything but host 1's claims: those it still holds.
	wait_until 120 filed_has $((n - $(grep -c . <<<"$mine")))
	# Two leases since its claims: host 1 renewed them (InProgress), so nobody
	# else has had them.
	wait_until 30 eval 'now_us; [ $((NOW_US - t0)) -ge $((2 * LEASE * 1000000)) ]'
	for k in $mine; do
		[ -z "$(where_filed "$k")" ] || fail "$k, leased by the living host 1, was filed by host $(where_filed "$k")"
	done
	host_kill9 1
	wait_until 60 drained "$n"
	for k in $mine; do
		[ "$(where_filed "$k")" = 2 ] || [ "$(where_filed "$k")" = 3 ] ||
		    fail "$k (host 1's) filed by '$(where_filed "$k")'"
	done
	assert_cluster_once
	# Back, without the hold: its requests for those objects find them filed
	# by another host (marker) and gone from the bucket: not a failure, no packet.
	rm -f "$HOLD_FILE"
	host_start 1
	wait_until 60 settled 1
	for k in $mine; do
		wait_for grep -q " name=$k.url .*outcome=done" "${H_SPOOL[1]}/journal"
	done
	assert_cluster_once
	[ -z "$(filed_on 1 "done")" ] || fail "host 1 filed $(filed_on 1 "done")"
	for i in 1 2 3; do host_stop "$i"; done
}

# watch_js FILE SUBJECT...: log the subject of every message sent on SUBJECT
# (the JetStream API requests the hosts make) into FILE, from now on.
watch_js() {
	local f=$1 i
	shift
	i=$(nats_up_node) || return 1
	"$PY3" "$JSAPI" watch "${NATS_PORT[i]}" "$@" >"$f" 2>&1 3>&- &
	SERVER_PIDS+=($!)
	wait_for grep -qx ready "$f"
}

@test "SIGSTOP of a host past the lease with downloads in progress, then SIGCONT: it loses the markers, discards its copies, nothing is filed twice" {
	local i k mine n=6
	nats_start "$T" 3
	start_hold
	put_n "$n" s
	hold_gets
	host_conf 1 "$HOLD_URL"
	host_start 1
	wait_for eval '[ "$(held_gets)" -ge 2 ]'
	mine=$(held_keys)
	host_signal 1 STOP
	# Let the held GETs through: the proxy answers them, and the objects wait
	# in the stopped host's sockets, half-downloaded from its point of view.
	rm -f "$HOLD_FILE"
	for k in $mine; do wait_for answered "$k"; done
	# The others take everything, host 1's objects once its leases run out.
	host_conf 2
	host_conf 3
	hosts_start 2 3
	wait_until 60 eval 'filed_has '"$n"' && bucket_empty'
	for k in $mine; do
		[ -n "$(where_filed "$k")" ] || fail "$k not filed by host 2 or 3"
	done
	# Who owns a marker is read from the stream's leader: a direct get may
	# be answered by a replica still applying the winner's write, which says
	# "not found", and the loser would file the winner's delete as a 404.
	watch_js "$T/js.watch" "\$JS.API.DIRECT.GET.>" "\$JS.API.STREAM.MSG.GET.>"
	host_signal 1 CONT
	# Its downloads finish, its marker creates lose: the copies go.
	for k in $mine; do
		wait_for grep -qE "event=duplicate .*name=$k(\.url)?( |\$)" "${H_LOG[1]}"
	done
	! grep -F "DIRECT.GET.KV_$STREAM-filed" "$T/js.watch" || fail "markers read with a direct get"
	grep -qF "STREAM.MSG.GET.KV_$STREAM-filed" "$T/js.watch" || fail "no marker read seen: $(cat "$T/js.watch")"
	wait_until 30 all_settled
	wait_for stream_empty
	assert_cluster_once
	[ -z "$(filed_on 1 "done")" ] || fail "host 1 filed $(filed_on 1 "done")"
	[ -z "$(find "${H_SPOOL[1]}" -name '*.part')" ] || fail "a .part is left: $(find "${H_SPOOL[1]}" -name '*.part')"
	sleep 1	# several polls: nothing comes back
	assert_cluster_once
	for i in 1 2 3; do host_stop "$i"; done
}

@test "an object gone (404) with no host's marker is tried again and only then failed, and no other host is sent it" {
	local k=video_g0001.zip
	nats_start "$T" 1
	start_hold
	put "$k"
	hold_gets
	host_conf 1 "$HOLD_URL"
	host_start 1
	wait_for eval '[ "$(held_gets)" -ge 1 ]'
	# Deleted behind the cluster's back while its GET waits: a 404, and no marker.
	rm -f "$S3_DATA/uploads/$k"._S3rver_*
	rm -f "$HOLD_FILE"
	nats_consumer_info "$STREAM" "$(nats_req "\$JS.API.CONSUMER.NAMES.$STREAM" | jq -r ".consumers[0]")" >"$T/consumer.json" || true
	wait_until 60 test -e "${H_SPOOL[1]}/failed/$k.url" || fail "not failed: $(ls "${H_SPOOL[1]}"/*)"
	# fetch.retries is 2: three attempts, the first two deferred as temporary.
	[ "$(on_host 1 journal_field "$k.url" attempts)" = 3 ] || fail "attempts: $(on_host 1 journal_field "$k.url" attempts)"
	[[ $(on_host 1 journal_field "$k.url" reason) == "fetch status=404"* ]] || fail "reason: $(on_host 1 journal_field "$k.url" reason)"
	[ "$(grep -c "fetch gone marker=none" "${H_LOG[1]}")" -eq 2 ] || fail "$(grep "$k" "${H_LOG[1]}")"
	# Failed for good: the message is terminated, not redelivered.
	wait_for stream_empty
	host_stop 1
}

@test "kill -9 of the stream leader's nats-server mid-drain: nothing lost, nothing filed twice" {
	local i old
	echo 0.05 >"$T/handler.sleep"
	cluster 3
	put_n 120 l
	wait_until 60 filed_has 20
	nats_wait_leader "$STREAM"
	old=$NATS_LEADER
	nats_kill "$old"
	wait_until 120 drained 120
	assert_cluster_once
	# The node comes back and catches up; still nothing more.
	nats_restart "$old"
	sleep 1
	assert_cluster_once
	for i in 1 2 3; do host_alive "$i" || fail "host $i died"; host_stop "$i"; done
}

@test "every nats-server restarted with work published and leased: the unacked work is kept and then filed once" {
	local i n=20 before after created
	nats_start "$T" 3
	start_hold
	# Every host's downloads wait: nothing can be acked.
	hold_gets
	for i in 1 2 3; do host_conf "$i" "$HOLD_URL"; done
	hosts_start 1 2 3
	put_n "$n" r
	wait_for eval '[ "$(nats_stream_msgs "$STREAM" 2>/dev/null)" = '"$n"' ]'
	wait_for eval '[ "$(held_gets)" -ge 3 ]'
	before=$(nats_stream_dump "$STREAM")
	created=$(nats_stream_info "$STREAM" | jq -r .created)
	nats_stop_all
	for i in 1 2 3; do
		wait_for grep -q 'event=cluster state=disconnected' "${H_LOG[i]}"
	done
	nats_start_all
	nats_wait_leader "$STREAM"
	# The same stream (not made anew by a host), with every message at its
	# sequence: what the hosts publish again is deduplicated, not new.
	[ "$(nats_stream_info "$STREAM" | jq -r .created)" = "$created" ] || fail "the stream was made anew"
	after=$(nats_stream_dump "$STREAM")
	[ "$before" = "$after" ] || fail "the stream changed: before: $(echo "$before" | head -3) after: $(echo "$after" | head -3)"
	for i in 1 2 3; do
		wait_for reconnected "$i"
	done
	# Several polls of every host: what they list is published again, and must
	# be deduplicated (the window is the stream's, kept across the restart).
	sleep 1
	[ "$(nats_stream_dump "$STREAM")" = "$before" ] || fail "the stream changed once the hosts were back"
	rm -f "$HOLD_FILE"
	wait_until 120 drained "$n"
	assert_cluster_once
	for i in 1 2 3; do host_stop "$i"; done
}

# The issue asks for 30 s; NATS_OUTAGE=SECONDS shortens it for a quick run.
# 30 s is kept by default because it is what decides whether a client gives up:
# libnats' defaults (60 reconnect attempts, 2 s apart) outlast it, and it is
# ten leases, so every lease held at the cut has run out when NATS returns.
@test "NATS down for 30 s: the local inbox keeps flowing, the S3 source pauses and resumes by itself" {
	local i j t_down t_dis t_up secs=${NATS_OUTAGE:-30}
	cluster 2
	put_n 10 b
	wait_until 60 drained 10
	nats_stop_all
	now_us
	t_down=$NOW_US
	for i in 1 2; do
		wait_for grep -q 'event=cluster state=disconnected' "${H_LOG[i]}"
	done
	# Requests the proxy sees from here on come from a source that did not pause
	# (a listing that was on its way when NATS went may still end: 1 s of margin).
	t_dis=$(date +%s.%N)
	# status reads remote/cluster.state, which the source rewrites every second.
	wait_until 5 status_says 1 "cluster: disconnected" || fail "status during the outage: $(status_of 1)"
	put_n 10 c
	# One local packet a second into each host, each filed while NATS is down.
	j=0
	while now_us; [ $((NOW_US - t_down)) -lt $((secs * 1000000)) ]; do
		j=$((j + 1))
		for i in 1 2; do
			SPOOL=${H_SPOOL[i]} drop "local_h${i}_$j.zip"
		done
		for i in 1 2; do
			wait_until 10 test -e "${H_SPOOL[i]}/done/local_h${i}_$j.zip" ||
			    fail "host $i: local packet $j not filed while NATS is down"
		done
		# Paced, one a second: not a wait for anything.
		while now_us; [ $((NOW_US - t_down)) -lt $((j * 1000000)) ]; do sleep 0.05; done
	done
	for i in 1 2; do
		[ "$(disconnects "$i")" -eq 1 ] || fail "host $i said disconnected $(disconnects "$i") times in one outage"
		! reconnected "$i" || fail "host $i says it is connected while NATS is down"
	done
	[ "$(objects)" -eq 10 ] || fail "objects were fetched while NATS was down: $(objects) left of 10"
	t_up=$(date +%s.%N)
	# The test's own uploads (PUT) left out.
	grep -v '"method": "PUT"' "$PROXY_LOG" |
	    awk -v a="$t_dis" -v b="$t_up" -F'"t": ' '{ t = $2 + 0 } t > a + 1 && t < b { print }' |
	    head -3 | grep . && fail "the source listed or fetched while NATS was down"
	nats_start_all
	for i in 1 2; do
		wait_for reconnected "$i"
	done
	wait_until 60 drained 20
	assert_cluster_once
	for i in 1 2; do
		[ "$(ls "${H_SPOOL[i]}/done" | grep -c "^local_h${i}_[0-9]*\.zip\$")" -eq "$j" ] ||
		    fail "host $i: $(ls "${H_SPOOL[i]}/done" | grep -c "^local_h${i}_[0-9]*\.zip\$") of $j local packets"
	done
	wait_until 5 status_says 1 "cluster: connected" || fail "status after the outage: $(status_of 1)"
	for i in 1 2; do host_stop "$i"; done
}
