# Shared set-up for the ingestd integration suites (bats).
#
# Every test gets its own directory T (spool, config, logs, handler scripts), a
# canary process and a TAG. The daemon is started with INGESTD_TEST_TAG=TAG in
# its environment and every handler sees INGEST_SPOOL=T/spool, which holds TAG
# too, so every process the test caused -- daemon, watcher, workers, handlers,
# their backgrounded or setsid()ed children, runsv -- can be found in /proc
# whatever its parent, group or session, and teardown kills them all.
#
# Conditions are polled with a deadline (wait_until); a timeout prints the
# daemon log, the spool and the test's processes.

bats_require_minimum_version 1.5.0

INGESTD=${INGESTD:-$BATS_TEST_DIRNAME/../../ingestd}
IT_BIN=$BATS_TEST_DIRNAME/bin
# The handlers run with the daemon's PATH; the pyenv shim is not wanted there.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
# Default deadline for wait_for; the ASan build is 2-3x slower than -O2.
WAIT_TIMEOUT=${WAIT_TIMEOUT:-30}
READY_TIMEOUT=${READY_TIMEOUT:-15}

# Make a failing command under `run` obvious and keep sanitizer reports whole.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

# --- set-up and teardown ----------------------------------------------------

common_setup() {
	# TAG first: teardown does nothing until it is set.
	TAG=itag${RANDOM}x$$x${RANDOM}x${EPOCHREALTIME//[!0-9]/}
	[ -x "$INGESTD" ] || { echo "INGESTD=$INGESTD is not an executable (run make)" >&2; return 1; }
	INGESTD=$(readlink -f "$INGESTD")
	T=$BATS_TEST_TMPDIR/$TAG
	SPOOL=$T/spool
	CONF=$T/ingestd.yml
	LOG=$T/daemon.log
	DAEMON_PID=
	DAEMON_STATUS=
	DAEMON_RUNS=0
	EXTRA_DIRS=()
	mkdir -p "$T/src" "$T/stage" "$T/out"
	: >"$T/dropped"
	# The canary shares the process group of the shell that starts the daemon, as
	# runsv and its log process do: a daemon that signals its parent's group
	# (killpg before setpgid) kills it, and teardown says so.
	sleep 100000 3>&- &
	CANARY_PID=$!
}

common_teardown() {
	local rc=0 p f
	# setup failed before anything was started
	[ -n "${TAG:-}" ] && [ -n "${T:-}" ] || return 0

	# Only processes that carry our tag are killed (never a bare pid or group
	# that may have been reused): the daemon and all it forked, the handlers
	# and all they started, runsv and its log process.
	kill_test_procs || rc=1
	if [ -n "${DAEMON_PID:-}" ]; then
		wait "$DAEMON_PID" 2>/dev/null || true
		DAEMON_PID=
		# A SIGKILLed daemon leaves its queue behind; remove it (best effort).
		mq_cleanup
	fi
	if [ -n "${CANARY_PID:-}" ]; then
		if ! alive "$CANARY_PID"; then
			echo "# the canary in the daemon's parent process group was killed" >&2
			rc=1
		fi
		kill -KILL "$CANARY_PID" 2>/dev/null || true
		wait "$CANARY_PID" 2>/dev/null || true
	fi
	for f in "$T"/*.log; do
		[ -f "$f" ] || continue
		if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: (Address|Undefined)' "$f"; then
			echo "# sanitizer report in $f:" >&2
			grep -E -A30 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$f" | head -60 >&2
			rc=1
		fi
	done
	for p in "${EXTRA_DIRS[@]}"; do
		rm -rf -- "$p"
	done
	return $rc
}

setup() { common_setup; }
teardown() { common_teardown; }

# --- processes --------------------------------------------------------------

# alive PID: the process exists and is not a zombie.
alive() {
	local line s
	{ read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
	s=${line##*) }
	[ "${s:0:1}" != Z ]
}

# none_alive PID...: none of them is alive.
none_alive() {
	local p
	for p in "$@"; do alive "$p" && return 1; done
	return 0
}

# test_pids: live processes carrying this test's TAG in their environment:
# INGESTD_TEST_TAG=TAG (the daemon, runsv and what they fork) or an INGEST_*
# variable naming a path under T (handlers and whatever they start). One grep
# and one awk: shell loops are slow under bats' DEBUG trap.
test_pids() {
	# Never match everything: without a tag there is nothing of ours to find.
	[ "${#TAG}" -ge 16 ] || { echo "# test_pids: no TAG" >&2; return 0; }
	grep -lsaz -e "^INGESTD_TEST_TAG=$TAG\$" -e "^INGEST_[A-Z_]*=.*/$TAG/" /proc/[0-9]*/environ |
	    awk -F/ -v self="$BASHPID" '
		$3 != self {
			f = "/proc/" $3 "/stat"
			if ((getline l <f) > 0) { sub(/.*\) /, "", l); if (substr(l, 1, 1) != "Z") print $3 }
			close(f)
		}'
	return 0
}

# test_pids_except PID...: test_pids minus the given pids.
test_pids_except() {
	local p x skip
	for p in $(test_pids); do
		skip=
		for x in "$@"; do [ "$p" = "$x" ] && skip=1; done
		[ -z "$skip" ] && echo "$p"
	done
	return 0
}

no_test_procs() { [ -z "$(test_pids)" ]; }

kill_test_procs() {
	local i pids
	for i in $(seq 50); do
		pids=$(test_pids)
		[ -z "$pids" ] && return 0
		# shellcheck disable=SC2086
		kill -KILL $pids 2>/dev/null || true
		sleep 0.05
	done
	echo "# processes still alive after teardown: $(test_pids)" >&2
	return 1
}

# ps_table: pid ppid pgid sid stat args of every process, for diagnostics.
ps_table() { ps -eo pid=,ppid=,pgid=,sid=,stat=,args=; }

# descendants_of PID: live (non-zombie) descendants, one pid a line.
descendants_of() {
	ps -eo pid=,ppid=,stat= | awk -v root="$1" '
		{ pp[$1] = $2; st[$1] = $3 }
		END {
			n = 0; q[n++] = root; seen[root] = 1
			for (i = 0; i < n; i++)
				for (p in pp)
					if (pp[p] == q[i] && !(p in seen)) { seen[p] = 1; q[n++] = p }
			for (i = 1; i < n; i++) if (st[q[i]] !~ /^Z/) print q[i]
		}'
}

# procs_in_group PGID: live members of a process group.
procs_in_group() {
	ps -eo pid=,pgid=,stat= | awk -v g="$1" '$2 == g && $3 !~ /^Z/ { print $1 }'
}

# children_of PID: live direct children.
children_of() {
	ps -eo pid=,ppid=,stat= | awk -v p="$1" '$2 == p && $3 !~ /^Z/ { print $1 }'
}

# spawned ROLE: pids the daemon logged as `event=spawn child_role=ROLE child_pid=N`,
# oldest first.
spawned() {
	awk -v role="$1" '
		/event=spawn/ {
			s = substr($0, index($0, "event=spawn"))
			if (match(s, / child_role=[a-z]+/) == 0) next
			r = substr(s, RSTART + 12, RLENGTH - 12)
			if (r != role) next
			if (match(s, / child_pid=[0-9]+/) == 0) next
			print substr(s, RSTART + 11, RLENGTH - 11)
		}' "$LOG"
}

# worker_pids: live workers of the running daemon (logged as spawned and still
# children of the supervisor).
worker_pids() {
	local p kids
	kids=" $(children_of "$DAEMON_PID" | tr '\n' ' ') "
	for p in $(spawned worker); do
		[[ "$kids" == *" $p "* ]] && echo "$p"
	done
	return 0
}

watcher_pid() {
	local p kids
	kids=" $(children_of "$DAEMON_PID" | tr '\n' ' ') "
	for p in $(spawned watcher); do
		[[ "$kids" == *" $p "* ]] && echo "$p"
	done
	return 0
}

# --- waiting ----------------------------------------------------------------

# now_us: microseconds since the epoch, into NOW_US (no fork).
now_us() { NOW_US=${EPOCHREALTIME//[!0-9]/}; }

# wait_until SECONDS CMD...: poll CMD every 30 ms until it succeeds; on timeout
# print what was waited for and the state of the daemon, and fail.
wait_until() {
	local secs=$1 deadline
	shift
	now_us
	deadline=$((NOW_US + $(secs_to_us "$secs")))
	while :; do
		"$@" && return 0
		now_us
		if [ "$NOW_US" -ge "$deadline" ]; then
			"$@" && return 0
			echo "# timed out after ${secs}s waiting for: $*" >&2
			diag
			return 1
		fi
		sleep 0.03
	done
}

# secs_to_us 1.25 -> 1250000
secs_to_us() {
	local ip=${1%%.*} fp=
	[[ $1 == *.* ]] && fp=${1#*.}
	fp=${fp}000000
	echo $((10#${ip:-0} * 1000000 + 10#${fp:0:6}))
}

wait_for() { wait_until "$WAIT_TIMEOUT" "$@"; }

# diag: what a person needs to see when a wait failed.
diag() {
	local d
	{
		echo "# --- daemon log (tail) $LOG"
		[ -f "$LOG" ] && tail -n 40 "$LOG" | sed 's/^/#   /'
		for d in inbox work defer "done" failed; do
			[ -d "$SPOOL/$d" ] || continue
			echo "# --- $d/: $(find "$SPOOL/$d" -mindepth 1 -maxdepth 1 | wc -l) entries"
			find "$SPOOL/$d" -mindepth 1 -maxdepth 3 2>/dev/null | head -n 12 | sed "s|^$SPOOL/|#   |"
		done
		for d in "$SPOOL"/work/*/ "$SPOOL"/defer/*/; do
			[ -d "$d" ] || continue
			echo "# --- job ${d%/}: $(ls -A "$d" | tr '\n' ' ') pkt/: $(ls -A "$d/pkt" 2>/dev/null | tr '\n' ' ')"
			[ -f "$d/state" ] && echo "#   state: $(head -c 200 "$d/state" | tr -s ' \n' ' ')"
			[ -f "$d/verdict" ] && echo "#   verdict: $(head -c 200 "$d/verdict" | tr '\n' ' ')"
		done 2>/dev/null | head -n 20
		if [ -f "$SPOOL/journal" ]; then
			echo "# --- journal: $(wc -l <"$SPOOL/journal") lines (tail)"
			tail -n 5 "$SPOOL/journal" | sed 's/^/#   /'
		fi
		echo "# --- processes of this test"
		local pids
		pids=$(test_pids | tr '\n' ',')
		[ -n "$pids" ] && ps -o pid=,ppid=,pgid=,sid=,stat=,args= -p "${pids%,}" | sed 's/^/#   /'
	} >&2
	return 0
}

# --- the daemon -------------------------------------------------------------

# start_daemon_nowait [ARGS...]: start ingestd -c CONF in the background.
start_daemon_nowait() {
	DAEMON_RUNS=$((DAEMON_RUNS + 1))
	LOG=$T/daemon.$DAEMON_RUNS.log
	INGESTD_TEST_TAG=$TAG "$INGESTD" -c "$CONF" "$@" </dev/null >"$T/daemon.$DAEMON_RUNS.stdout" \
	    2>"$LOG" 3>&- &
	DAEMON_PID=$!
}

daemon_ready() { grep -q 'event=ready' "$LOG" 2>/dev/null; }

# wait_ready: until the log says event=ready; fails at once if the daemon exits.
wait_ready() {
	local deadline
	now_us
	deadline=$((NOW_US + READY_TIMEOUT * 1000000))
	while ! daemon_ready; do
		if ! alive "$DAEMON_PID"; then
			daemon_ready && return 0
			echo "# ingestd (pid $DAEMON_PID) exited before event=ready" >&2
			wait "$DAEMON_PID" 2>/dev/null && DAEMON_STATUS=0 || DAEMON_STATUS=$?
			echo "# exit status $DAEMON_STATUS" >&2
			DAEMON_PID=
			diag
			return 1
		fi
		now_us
		if [ "$NOW_US" -ge "$deadline" ]; then
			echo "# no event=ready after ${READY_TIMEOUT}s" >&2
			diag
			return 1
		fi
		sleep 0.02
	done
}

# start_daemon [ARGS...]: start and wait until ready.
start_daemon() {
	start_daemon_nowait "$@"
	wait_ready
}

daemon_gone() { ! alive "$DAEMON_PID"; }

# stop_daemon [SIGNAL [SECONDS]]: signal the daemon (TERM), wait for it to exit,
# reap it; DAEMON_STATUS holds its exit status, which is also returned.
stop_daemon() {
	local sig=${1:-TERM} secs=${2:-20}
	[ -n "$DAEMON_PID" ] || { echo "# stop_daemon: no daemon running" >&2; return 1; }
	kill -s "$sig" "$DAEMON_PID"
	wait_daemon_exit "$secs"
}

# wait_daemon_exit [SECONDS]: wait for the daemon to exit by itself and reap it.
wait_daemon_exit() {
	local secs=${1:-20}
	wait_until "$secs" daemon_gone || return 1
	DAEMON_STATUS=0
	wait "$DAEMON_PID" || DAEMON_STATUS=$?
	DAEMON_PID=
	if [ "$DAEMON_STATUS" -ne 0 ]; then
		echo "# ingestd exited with status $DAEMON_STATUS" >&2
		tail -n 20 "$LOG" | sed 's/^/#   /' >&2
	fi
	return "$DAEMON_STATUS"
}

# run_ingestd ARGS...: run the binary in the foreground under bats' `run`
# (stdout in $output, stderr in $stderr), tagged and with a time limit.
run_ingestd() {
	run --separate-stderr env INGESTD_TEST_TAG="$TAG" timeout -k 2 "${RUN_TIMEOUT:-15}" "$INGESTD" "$@"
}

# mq_cleanup: unlink the POSIX queue a killed daemon left for SPOOL.
mq_cleanup() {
	[ -d "$SPOOL" ] && "$PY" "$IT_BIN/mq-unlink" "$SPOOL" 2>/dev/null
	return 0
}

# --- configuration and handlers ----------------------------------------------

# write_conf [key=value...]: the base config for the core tests; more YAML can
# be appended with conf_add. Keys: spool workers settle shutdown_grace.
write_conf() {
	local kv spool=$SPOOL workers=2 settle=200ms grace=1s
	for kv in "$@"; do
		case $kv in
		spool=*) spool=${kv#*=} ;;
		workers=*) workers=${kv#*=} ;;
		settle=*) settle=${kv#*=} ;;
		shutdown_grace=*) grace=${kv#*=} ;;
		*) echo "write_conf: unknown $kv" >&2; return 1 ;;
		esac
	done
	cat >"$CONF" <<-EOF
	# written by $BATS_TEST_FILENAME: $BATS_TEST_DESCRIPTION
	spool: $spool
	workers: $workers
	settle: $settle
	shutdown_grace: $grace
	packet:
	  manifest_required: false
	EOF
	# Tests run as root in CI; the daemon refuses to run a handler as root unless told.
	[ "$(id -u)" -ne 0 ] || echo "allow_root: true" >>"$CONF"
}

# conf_add: append YAML from stdin to CONF.
conf_add() { cat >>"$CONF"; }

# handler_script NAME: write stdin as T/NAME.sh, a /bin/sh script that finds T
# in its variable T; prints the path.
handler_script() {
	local f=$T/$1.sh
	{
		echo '#!/bin/sh'
		echo "T='$T'"
		cat
	} >"$f"
	chmod +x "$f"
	echo "$f"
}

# use_handler NAME [more handler YAML lines...]: set handler.command to run
# T/NAME.sh with /bin/sh; extra arguments are added under handler: verbatim.
use_handler() {
	local f=$T/$1.sh l
	shift
	{
		echo "handler:"
		echo "  command: [/bin/sh, '$f']"
		for l in "$@"; do echo "  $l"; done
	} >>"$CONF"
}

# --- packets ----------------------------------------------------------------

# make_packet DIR NAME: a small zip DIR/NAME holding data_info.yml.
make_packet() {
	local dir=$1 name=$2 tmp
	tmp=$(mktemp -d "$T/mk.XXXXXX")
	cat >"$tmp/data_info.yml" <<-EOF
	name: $name
	source: ingestd-integration
	serial: $RANDOM$RANDOM
	created: 2026-11-22T02:30:00Z
	EOF
	(cd "$tmp" && zip -q -X "$tmp/p.zip" data_info.yml)
	mv "$tmp/p.zip" "$dir/$name"
	rm -rf "$tmp"
}

# drop NAME [SRC]: producer protocol: write inbox/NAME-downloading, rename to
# inbox/NAME. SRC defaults to a fresh packet.
drop() {
	local name=$1 src=${2:-}
	mkdir -p "$SPOOL/inbox"
	if [ -z "$src" ]; then
		make_packet "$T/src" "$name"
		src=$T/src/$name
	fi
	cp -- "$src" "$SPOOL/inbox/$name-downloading"
	mv -- "$SPOOL/inbox/$name-downloading" "$SPOOL/inbox/$name"
	echo "$name" >>"$T/dropped"
}

# drop_many COUNT PREFIX [INTERVAL_MS]: COUNT copies of one packet, staged on
# the same filesystem, renamed into the inbox one after the other as
# PREFIX0001.zip ... (INTERVAL_MS between renames, default none).
drop_many() {
	local n=$1 prefix=$2 ms=${3:-0}
	make_packet "$T/src" "$prefix.zip"
	mkdir -p "$SPOOL/inbox"
	"$PY" "$IT_BIN/drop-many" "$T/src/$prefix.zip" "$T/stage" "$SPOOL/inbox" "$prefix" "$n" "$ms" \
	    >>"$T/dropped"
}

# --- the spool --------------------------------------------------------------

# journal_count: the jobs' lines; a line with event= is about something else (a
# rare "event=refiled" corrects one's filed=, "event=retried" is ingestd retry).
journal_count() {
	if [ -f "$SPOOL/journal" ]; then grep -vc ' event=' "$SPOOL/journal"; else echo 0; fi
}

# count_packets DIR: entries in SPOOL/DIR that are packets, not records.
count_packets() {
	[ -d "$SPOOL/$1" ] || { echo 0; return 0; }
	find "$SPOOL/$1" -mindepth 1 -maxdepth 1 ! -name '*.log' ! -name '*.json' ! -name '*.error' |
	    wc -l
}

dir_empty() { [ -z "$(ls -A "$SPOOL/$1" 2>/dev/null)" ]; }
# log_has ERE [N]: the daemon log has at least N (1) lines matching ERE.
log_has() { local n; n=$(grep -cE -- "$1" "$LOG" 2>/dev/null); [ "${n:-0}" -ge "${2:-1}" ]; }

# log_count ERE: lines of the daemon log matching ERE.
log_count() { local n; n=$(grep -cE -- "$1" "$LOG" 2>/dev/null); echo "${n:-0}"; }

# metric FILE SERIES: the value of one series in a metrics file, checked by the
# strict parser first (the test fails on a malformed file).
metric() {
	local out
	out=$("$PY" "$IT_BIN/sup-promparse" "$1") || return 1
	printf '%s\n' "$out" | awk -v s="$2" '$1 == s { print $2; found = 1 } END { exit !found }'
}

metric_is() { [ "$(metric "$1" "$2" 2>/dev/null)" = "$3" ]; }

# no_jobs: no job left in work/ (a worker keeps empty, locked directories
# there, its spares) and none waiting in defer/. defer/ is looked at before
# and after work/: a job moving between them is seen in one or the other.
no_jobs() {
	dir_empty defer && [ -z "$(find "$SPOOL/work" -mindepth 2 -maxdepth 3 \( -path '*/pkt/*' -o \
	    -name log -o -name manifest.json -o -name verdict \) 2>/dev/null | head -1)" ] &&
	    dir_empty defer
}
# job_dirs: the job directories in work/ that hold a job, one a line.
job_dirs() {
	find "$SPOOL/work" -mindepth 3 -maxdepth 3 -path '*/pkt/*' 2>/dev/null | sed 's|/pkt/.*||' | sort -u
}
# journal_has N: N jobs' lines, and each job with a line is filed: the line is
# the commit record, written before the packet is renamed into done/ or failed/.
journal_has() { [ "$(journal_count)" -ge "$1" ] && ! committed_in_flight; }
# committed_in_flight: a job in work/ or defer/ that has its journal line but is
# not yet filed.
committed_in_flight() {
	local d
	# defer/, work/, defer/ again: a job moving between them is seen.
	for d in $(find "$SPOOL/defer" "$SPOOL/work" "$SPOOL/defer" -mindepth 2 -maxdepth 3 \( \
	    -path '*/pkt/*' -o -name log -o -name manifest.json \) 2>/dev/null |
	    sed -E "s|^$SPOOL/(work\|defer)/||; s|/.*||; s|^[0-9]+\.||" | sort -u); do
		grep -q " job=$d " "$SPOOL/journal" 2>/dev/null && return 0
	done
	return 1
}
done_has() { [ "$(count_packets "done")" -ge "$1" ]; }
failed_has() { [ "$(count_packets failed)" -ge "$1" ]; }
filed() { [ -e "$SPOOL/done/$1" ] || [ -e "$SPOOL/failed/$1" ] || [ -L "$SPOOL/failed/$1" ]; }

# all_finished: every dropped packet has its journal line and no job is left.
all_finished() {
	[ "$(journal_count)" -ge "$(wc -l <"$T/dropped")" ] && no_jobs
}

# journal_field NAME FIELD: FIELD of the (last) journal line for packet NAME.
journal_field() {
	awk -v n="$1" -v f="$2" '
		{ v = ""; name = "" }
		match($0, /(^| )name=("[^"]*"|[^ ]*)/) { name = substr($0, RSTART, RLENGTH); sub(/^ ?name=/, "", name); gsub(/"/, "", name) }
		name == n && match($0, "(^| )" f "=") {
			s = substr($0, RSTART + RLENGTH)
			if (f == "reason") { print s; next }
			if (substr(s, 1, 1) == "\"") { s = substr(s, 2); sub(/".*/, "", s) } else sub(/ .*/, "", s)
			print s
		}' "$SPOOL/journal" | tail -n 1
}

# assert_exactly_once [DIR...]: every dropped name (T/dropped, with repeats
# counted) is filed in done/ or failed/ exactly as often as it was dropped,
# under NAME or NAME.~JOBID~; the journal has one line per drop; no unexpected
# entry in done/ or failed/; no job is left in work/ or defer/, none in the inbox.
assert_exactly_once() {
	local bad
	bad=$(
		{
			sed 's/^/D /' "$T/dropped"
			for d in "done" failed; do
				[ -d "$SPOOL/$d" ] && ls -A "$SPOOL/$d" | sed "s|^|F $d |"
			done
			[ -f "$SPOOL/journal" ] && grep -v ' event=' "$SPOOL/journal" | sed 's/^/J /'
		} | awk '
			$1 == "D" { want[$2]++; total++; next }
			$1 == "F" { ent[$3] = $2; next }
			$1 == "J" {
				lines++
				if (match($0, / name=("[^"]*"|[^ ]*)/)) {
					n = substr($0, RSTART + 6, RLENGTH - 6); gsub(/"/, "", n); jn[n]++
				} else print "journal line without name=: " $0
				if (!match($0, / outcome=(done|failed)( |$)/)) print "journal line without outcome=done|failed: " $0
				if (!match($0, / job=[0-9a-f]+( |$)/)) print "journal line without job=: " $0
			}
			END {
				for (e in ent) {
					base = e
					if (e in want) { got[e]++; continue }
					b = e; sub(/\.~[0-9a-f]+~$/, "", b)
					if (b != e && (b in want)) { got[b]++; continue }
					r = e; sub(/\.(log|json|error)$/, "", r)
					if (r != e) {
						rb = r; sub(/\.~[0-9a-f]+~$/, "", rb)
						if ((r in ent) || (rb in want)) continue
					}
					print "unexpected entry " ent[e] "/" e
				}
				for (n in want) {
					if (got[n] != want[n]) print n ": dropped " want[n] "x, filed " got[n] + 0 "x"
					if (jn[n] != want[n]) print n ": dropped " want[n] "x, " jn[n] + 0 " journal lines"
				}
				for (n in jn) if (!(n in want)) print "journal names an undropped packet " n
				if (lines != total) print "journal has " lines + 0 " lines for " total " drops"
			}' | sort | head -n 20
		if ! no_jobs; then echo "a job is left in work/ or defer/: $(job_dirs | head -5 | tr '\n' ' ') $(ls -A "$SPOOL/defer" | head -5 | tr '\n' ' ')"; fi
		ls -A "$SPOOL/inbox" 2>/dev/null | grep -Fx -f "$T/dropped" | head -5 | sed 's/^/still in inbox: /'
	)
	if [ -n "$bad" ]; then
		echo "# assert_exactly_once failed:" >&2
		echo "$bad" | sed 's/^/#   /' >&2
		diag
		return 1
	fi
}

# assert_journal_filed: every journal line's filed= names an entry that exists.
assert_journal_filed() {
	local missing
	missing=$(cd "$SPOOL" && sed -n 's/.* filed=\("[^"]*"\|[^ ]*\).*/\1/p' journal | tr -d '"' |
	    xargs -r -d '\n' ls -d -- 2>&1 >/dev/null | head -5)
	[ -z "$missing" ] || { echo "# journal filed= names what is not there: $missing" >&2; return 1; }
}

# fail MSG: fail the test with a message.
fail() {
	echo "# $*" >&2
	return 1
}

# queue_fd: the /proc path of the supervisor's descriptor of its message
# queue (the queue itself is unlinked once made); fails when it holds none.
queue_fd() {
	local fd
	for fd in /proc/"$DAEMON_PID"/fd/*; do
		case $(readlink "$fd") in /ingestd.*) echo "$fd"; return 0 ;; esac
	done
	return 1
}
