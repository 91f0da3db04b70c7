#!/usr/bin/env bats
# Shutdown and crashes (issue 2, tests 3-5): nothing left running, nothing lost.

load helpers

# A handler that leaves a backgrounded child, a setsid() child and a sleeping
# shell; it records "shell bg setsid" pids in out/pids.NAME once all are started.
sleeping_handler() {
	handler_script sleeper >/dev/null <<-'EOF'
	sleep 1000 &
	bg=$!
	setsid sleep 1000 &
	ss=$!
	echo "$$ $bg $ss" >"$T/out/pids.$INGEST_NAME.tmp"
	mv "$T/out/pids.$INGEST_NAME.tmp" "$T/out/pids.$INGEST_NAME"
	sleep 1000
	EOF
	use_handler sleeper "timeout: 1h"
}

quick_handler() {
	handler_script quick >/dev/null <<-'EOF'
	echo "$INGEST_NAME" >>"$T/out/ran"
	EOF
	use_handler quick
}

handlers_started() { [ "$(find "$T/out" -name 'pids.*' ! -name '*.tmp' | wc -l)" -ge "$1" ]; }

# handler_pids: every pid the sleeping handlers recorded.
handler_pids() { cat "$T"/out/pids.* 2>/dev/null | tr ' ' '\n' | grep . || true; }

# everything_gone SUPERVISOR PIDS...: the supervisor exited, nothing in its
# group, no descendant, none of PIDS, nothing tagged with this test.
everything_gone() {
	local sup=$1
	shift
	! alive "$sup" && [ -z "$(procs_in_group "$sup")" ] && [ -z "$(descendants_of "$sup")" ] &&
	    none_alive "$@" && no_test_procs
}

# leftovers SUPERVISOR PIDS...: describe what is still alive, for the message.
leftovers() {
	local sup=$1 p
	shift
	for p in $sup $(procs_in_group "$sup") $(descendants_of "$sup") "$@" $(test_pids); do
		alive "$p" && ps -o pid=,ppid=,pgid=,sid=,args= -p "$p"
	done | sort -u
}

# shutdown_test SIGNAL: 4 workers busy with sleeping handlers, shutdown_grace
# 1s; after SIGNAL everything is gone within grace + 1 s and the exit status is 0.
shutdown_test() {
	local sig=$1 sup hp t0 elapsed
	write_conf workers=4 shutdown_grace=1s
	sleeping_handler
	start_daemon
	local n
	for n in 1 2 3 4; do drop "s$n.zip"; done
	wait_for handlers_started 4
	sup=$DAEMON_PID
	hp=$(handler_pids)
	[ "$(echo "$hp" | wc -l)" -eq 12 ] || fail "expected 12 handler pids, got: $hp"
	for n in $hp; do alive "$n" || fail "handler process $n is not running"; done
	now_us
	t0=$NOW_US
	kill -s "$sig" "$sup"
	# shellcheck disable=SC2086
	if ! wait_until 2 everything_gone "$sup" $hp; then
		# shellcheck disable=SC2086
		fail "still alive 2 s after SIG$sig (grace 1s): $(leftovers "$sup" $hp)"
	fi
	now_us
	elapsed=$(((NOW_US - t0) / 1000))
	wait_daemon_exit 1 || fail "exit status $DAEMON_STATUS after SIG$sig (all gone after $elapsed ms)"
	[ "$DAEMON_STATUS" -eq 0 ]
	# nothing was filed or journaled for the interrupted jobs
	[ "$(journal_count)" -eq 0 ] || fail "journal after shutdown: $(cat "$SPOOL/journal")"
	[ "$(count_packets done)" -eq 0 ] && [ "$(count_packets failed)" -eq 0 ]
}

@test "SIGTERM with 4 handlers running (bg + setsid children): nothing left within grace + 1 s, exit 0; restart processes them" {
	shutdown_test TERM
	write_conf workers=4
	quick_handler
	start_daemon
	wait_for all_finished
	assert_exactly_once
	[ "$(count_packets done)" -eq 4 ]
	[ "$(sort "$T/out/ran" | tr '\n' ' ')" = "s1.zip s2.zip s3.zip s4.zip " ] ||
	    fail "handlers ran for: $(cat "$T/out/ran")"
	stop_daemon
}

@test "SIGINT behaves like SIGTERM" {
	shutdown_test INT
}

# execed PID: PID runs ingestd (the launcher or the daemon), no longer the forked shell.
execed() { [[ $(readlink "/proc/$1/exe" 2>/dev/null) == "$(readlink -f "$INGESTD")"* ]]; }

@test "SIGTERM 1 to 9 ms after the start, 27 times: always a clean stop, exit 0" {
	# The daemon's loader needs ~4 ms for its 45 libraries; the launcher blocks
	# the signals before that, so a TERM in that time waits for the signalfd.
	write_conf
	local i ms bad=
	for i in $(seq 0 26); do
		ms=$((1 + i % 9))
		start_daemon_nowait
		# $! is known at the fork: wait for the exec, the moment the promise starts.
		wait_until 5 execed "$DAEMON_PID"
		sleep "0.00$ms"
		if ! stop_daemon TERM 10; then
			bad="$bad run=$i after=${ms}ms status=$DAEMON_STATUS"
		fi
	done
	[ -z "$bad" ] || fail "not a clean stop:$bad"
}

@test "SIGTERM to an idle daemon: exit 0 at once, queue and lock released" {
	write_conf
	start_daemon
	local sup=$DAEMON_PID
	stop_daemon TERM 3
	wait_until 1 everything_gone "$sup"
	# a new daemon can take the spool straight away
	start_daemon
	drop again.zip
	wait_for all_finished
	assert_exactly_once
	stop_daemon
}

@test "SIGKILL to the supervisor: no watcher, worker, handler or handler child survives; restart recovers the jobs" {
	write_conf workers=4
	sleeping_handler
	start_daemon
	local n sup hp others
	for n in 1 2 3 4; do drop "k$n.zip"; done
	wait_for handlers_started 4
	sup=$DAEMON_PID
	hp=$(handler_pids)
	others="$(watcher_pid) $(worker_pids)"
	[ "$(echo $others | wc -w)" -eq 5 ] || fail "expected a watcher and 4 workers: $others"
	kill -KILL "$sup"
	# shellcheck disable=SC2086
	if ! wait_until 3 everything_gone "$sup" $hp $others; then
		# shellcheck disable=SC2086
		fail "still alive 3 s after SIGKILL to the supervisor: $(leftovers "$sup" $hp $others)"
	fi
	wait "$DAEMON_PID" || true
	DAEMON_PID=
	[ "$(journal_count)" -eq 0 ]
	# the four jobs were left in work/; a new run recovers them
	write_conf workers=4
	quick_handler
	start_daemon
	wait_for all_finished
	assert_exactly_once
	[ "$(count_packets done)" -eq 4 ]
	stop_daemon
}

@test "SIGKILL to a random worker 20 times during a 500-packet run: 500 in done/, none twice, none lost" {
	write_conf workers=4
	handler_script short >/dev/null <<-'EOF'
	n=$(( $$ % 31 + 20 ))
	sleep 0.0$n
	EOF
	use_handler short "retries: 10" "backoff: 50ms"
	start_daemon
	local sup=$DAEMON_PID kills=0 w pick done_at_last deadline
	drop_many 500 w
	now_us
	deadline=$((NOW_US + 60000000))
	while [ "$kills" -lt 20 ]; do
		mapfile -t w < <(worker_pids)
		if [ "${#w[@]}" -eq 0 ]; then
			now_us
			[ "$NOW_US" -lt "$deadline" ] || { diag; fail "no live worker to kill after $kills kills"; }
			sleep 0.03
			continue
		fi
		pick=${w[RANDOM % ${#w[@]}]}
		kill -KILL "$pick" 2>/dev/null && kills=$((kills + 1))
		# spacing between the blows, so they land on different jobs
		sleep "0.$(printf %02d $((RANDOM % 10 + 5)))"
	done
	done_at_last=$(journal_count)
	[ "$done_at_last" -lt 500 ] || fail "the run finished before the 20th kill: the test proved nothing"
	# on a timeout, assert_exactly_once says which packets are stuck and where
	wait_until 60 all_finished || true
	assert_exactly_once
	[ "$(count_packets done)" -eq 500 ] || fail "$(count_packets failed) packets failed: $(head -3 "$SPOOL/journal")"
	[ "$(grep -c ' outcome=done ' "$SPOOL/journal")" -eq 500 ]
	assert_journal_filed
	# the daemon is whole again: 4 workers, one watcher, nothing else below it
	wait_until 10 eval '[ "$(worker_pids | wc -l)" -eq 4 ]'
	[ "$(watcher_pid | wc -l)" -eq 1 ]
	stop_daemon
}

@test "a packet that kills its worker handler.retries + 1 times goes to failed/ with reason=crashed" {
	write_conf workers=2
	handler_script killer >/dev/null <<-'EOF'
	echo "$INGEST_NAME $INGEST_ATTEMPT" >>"$T/out/ran"
	case $INGEST_NAME in
	poison*) kill -KILL "$PPID"; sleep 5 ;;
	esac
	EOF
	use_handler killer "retries: 1" "backoff: 50ms"
	start_daemon
	drop poison.zip
	wait_until 60 all_finished
	[ -e "$SPOOL/failed/poison.zip" ] || fail "poison.zip not in failed/"
	[[ $(journal_field poison.zip reason) == crashed* ]] || fail "reason: $(journal_field poison.zip reason)"
	grep -q 'reason=crashed' "$SPOOL/failed/poison.zip.error"
	[ "$(grep -c '^poison.zip' "$T/out/ran")" -eq 2 ] || fail "handler runs: $(cat "$T/out/ran")"
	# the daemon goes on with the next packet
	drop good.zip
	wait_for all_finished
	assert_exactly_once
	[ -e "$SPOOL/done/good.zip" ]
	stop_daemon
}
