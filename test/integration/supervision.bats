#!/usr/bin/env bats
# Supervision (issue 5): reload, scaling, recycling, crash-loop throttling,
# status and metrics. Every condition is polled with a deadline; the only fixed
# pauses are sampling windows that a broken daemon would fail inside.

load helpers

# --- helpers for this file -----------------------------------------------------

# sup_lines EVENT: the supervisor's log lines for EVENT (its own role= and pid= come first).
sup_lines() { grep -E -- "^level=[a-z]+ role=supervisor pid=$DAEMON_PID event=$1( |$)" "$LOG" || true; }

# status_json: `ingestd status -d SPOOL --json` into T/status.json (fails with its stderr).
status_json() {
	"$INGESTD" status -d "$SPOOL" --json >"$T/status.json" 2>"$T/status.err" ||
	    { cat "$T/status.err" >&2; return 1; }
	jq -e . "$T/status.json" >/dev/null || { echo "# status --json is not JSON:" >&2; cat "$T/status.json" >&2; return 1; }
}

# sj FILTER: jq -r FILTER on the last status_json.
sj() { jq -r "$1" "$T/status.json"; }

nworkers() { worker_pids | wc -l; }

# workers_are N: exactly N live worker processes (children of the supervisor
# logged as workers), and the scoreboard shows N workers that are not retiring.
workers_are() {
	[ "$(nworkers)" -eq "$1" ] || return 1
	status_json || return 1
	[ "$(sj '[.workers[] | select(.state != "retiring")] | length')" -eq "$1" ]
}

# sorted_words WORDS...: one line, sorted.
sorted_words() { printf '%s\n' "$@" | grep . | sort | tr '\n' ' '; }

# n_files GLOB: how many paths the glob matches.
n_files() { local f n=0; for f in $1; do [ -e "$f" ] && n=$((n + 1)); done; echo "$n"; }
files_are() { [ "$(n_files "$1")" -ge "$2" ]; }

# proc_cpu_ticks PID: utime + stime of a process, in clock ticks.
proc_cpu_ticks() {
	local line
	read -r line <"/proc/$1/stat"
	line=${line##*) }
	# shellcheck disable=SC2086
	set -- $line
	# after "pid (comm) ": state is field 1, utime field 12, stime field 13
	echo $((${12} + ${13}))
}

mtime_ns() { "$PY" -c 'import os,sys; print(os.stat(sys.argv[1]).st_mtime_ns)' "$1" 2>/dev/null; }
changed_since() { [ -e "$1" ] && [ "$(mtime_ns "$1")" != "$2" ]; }

# defer_fail MSG: record a failure and go on, so one daemon bug does not hide
# the rest of a test; check_deferred (last in the test) fails with them all.
defer_fail() { echo "# $*" >>"$T/deferred"; echo "# deferred failure: $*" >&2; }
check_deferred() {
	[ ! -s "$T/deferred" ] && return 0
	cat "$T/deferred" >&2
	return 1
}

# poll SECONDS CMD...: like wait_until, but quiet on timeout (for deferred checks).
poll() {
	local deadline
	now_us
	deadline=$((NOW_US + $(secs_to_us "$1")))
	shift
	until "$@"; do
		now_us
		[ "$NOW_US" -lt "$deadline" ] || return 1
		sleep 0.03
	done
}

# status_pids_alive: every worker `status --json` shows is a live process.
status_pids_alive() {
	local p
	status_json || return 1
	for p in $(sj '.workers[].pid'); do alive "$p" || return 1; done
}

# A handler that records which version ran it (one line per run) and then
# waits for T/release, so the test decides when it ends.
blocking_handler() {
	local ver=$1
	handler_script "$ver" >/dev/null <<-EOF
	echo $ver >>"\$T/out/ran.\$INGEST_NAME"
	while [ ! -e "\$T/release" ]; do sleep 0.05; done
	EOF
}

quick_versioned_handler() {
	local ver=$1
	handler_script "$ver" >/dev/null <<-EOF
	echo $ver >>"\$T/out/ran.\$INGEST_NAME"
	EOF
}

# ran_is NAME VERSION: the handler ran exactly once for NAME, as VERSION.
ran_is() {
	local got
	got=$(cat "$T/out/ran.$1" 2>/dev/null | tr '\n' ' ')
	[ "$got" = "$2 " ] || fail "handler runs for $1: '$got', expected '$2 '"
}

# journal_workers PREFIX: worker= of the journal lines whose name starts with PREFIX.
journal_workers() {
	grep -E " name=$1" "$SPOOL/journal" | grep -oE ' worker=[0-9]+' | cut -d= -f2
}

# --- 1. reload --------------------------------------------------------------------

@test "HUP with a new worker count and handler while 4 long jobs run: they finish under the old handler, new workers take their slots as they leave, never more jobs than workers" {
	# Four jobs must run at the same time, so the old generation has 4 workers;
	# the reload changes the count to 3 and the handler from v1 to v2.
	write_conf workers=4
	blocking_handler v1
	quick_versioned_handler v2
	use_handler v1 "timeout: 1h"
	start_daemon
	local n old new p
	for n in 1 2 3 4; do drop "a$n.zip"; done
	wait_for files_are "$T/out/ran.a*" 4
	old=$(worker_pids)
	[ "$(echo "$old" | wc -l)" -eq 4 ] || fail "expected 4 workers before the reload: $old"

	write_conf workers=3
	use_handler v2
	kill -HUP "$DAEMON_PID"
	wait_for log_has "event=reload status=ok generation=2 workers=3 watcher=kept"
	# Four old jobs run, three are allowed: no new worker, and new packets wait.
	for n in 1 2 3 4; do drop "b$n.zip"; done
	! wait_until 1 files_are "$T/out/ran.b*" 1 || fail "a b*.zip ran while 4 old jobs ran (workers: 3)"
	[ "$(log_count 'event=spawn child_role=worker .*generation=2')" -eq 0 ] ||
	    fail "generation 2 started while the old jobs ran: $(grep 'generation=2' "$LOG")"
	status_json
	[ "$(sj .workers_target)" -eq 3 ] && [ "$(sj '.workers | length')" -eq 4 ]
	for n in 1 2 3 4; do
		[ ! -e "$SPOOL/done/a$n.zip" ] || fail "a$n.zip was filed before its handler was released"
		alive "$(echo "$old" | sed -n "${n}p")" || fail "an old worker left while its job ran"
	done
	# Released, the old jobs finish under v1; three new workers then take the b*.zip.
	touch "$T/release"
	wait_for all_finished
	assert_exactly_once
	[ "$(count_packets done)" -eq 8 ] || fail "not all done: $(grep -v outcome=done "$SPOOL/journal")"
	for n in 1 2 3 4; do
		ran_is "a$n.zip" v1
		ran_is "b$n.zip" v2
	done
	# The old jobs were finished by the old workers, the new ones by new workers.
	for p in $(journal_workers a); do
		[[ " $(echo $old) " == *" $p "* ]] || fail "an a*.zip job was journaled by $p, not an old worker ($old)"
	done
	for p in $(journal_workers b); do
		[[ " $(echo $old) " != *" $p "* ]] || fail "a b*.zip job was journaled by the old worker $p"
	done
	# Every old worker retired (exit 0, not killed), and 3 workers remain.
	for p in $old; do
		wait_for log_has "event=retired child_role=worker child_pid=$p slot=[0-9]+ status=0"
	done
	wait_for workers_are 3
	status_json
	[ "$(log_count 'event=spawn child_role=worker .*generation=2')" -eq 3 ] ||
	    fail "generation 2 spawned $(log_count 'event=spawn child_role=worker .*generation=2') workers, not 3"
	new=$(worker_pids)
	for p in $new; do
		log_has "event=spawn child_role=worker child_pid=$p slot=[0-9]+ generation=2" ||
		    fail "live worker $p is not of generation 2"
	done
	[ "$(sj .generation)" -eq 2 ] && [ "$(sj .workers_target)" -eq 3 ]
	[ "$(log_count 'event=exit child_role=worker')" -eq 0 ] || fail "a worker crashed: $(grep 'event=exit' "$LOG")"
	stop_daemon
}

@test "HUP with a broken config: logged with FILE:LINE, the daemon keeps the old config and keeps working" {
	write_conf workers=2
	quick_versioned_handler v1
	quick_versioned_handler v2
	use_handler v1
	start_daemon
	drop p1.zip
	wait_for all_finished
	local before line
	before=$(sorted_words $(worker_pids))

	# A whole new config (3 workers, handler v2) with an unknown key after it:
	# if any of it were applied, the next packet would show it.
	write_conf workers=3
	use_handler v2
	echo "no_such_key: 1" >>"$CONF"
	line=$(wc -l <"$CONF")
	kill -HUP "$DAEMON_PID"
	wait_for log_has "event=reload status=failed"
	grep -F "event=reload status=failed error=\"$CONF:$line: " "$LOG" ||
	    fail "the reload error does not name $CONF:$line: $(grep 'event=reload' "$LOG")"
	grep 'event=reload status=failed' "$LOG" | grep -q 'no_such_key' ||
	    fail "the reload error does not name the bad key: $(grep 'event=reload' "$LOG")"

	drop p2.zip
	wait_for all_finished
	assert_exactly_once
	ran_is p1.zip v1
	ran_is p2.zip v1
	[ "$(count_packets done)" -eq 2 ]
	# nothing was restarted: same workers, no spawn since the start, generation 1
	[ "$(sorted_words $(worker_pids))" = "$before" ] || fail "workers changed: $before -> $(worker_pids | tr '\n' ' ')"
	[ "$(log_count 'event=spawn child_role=worker')" -eq 2 ]
	! log_has "event=reload status=ok" || fail "$(grep 'event=reload' "$LOG")"
	status_json
	[ "$(sj .generation)" -eq 1 ] && [ "$(sj .workers_target)" -eq 2 ]

	# ... and a fixed config is taken by the next HUP
	write_conf workers=3
	use_handler v2
	kill -HUP "$DAEMON_PID"
	wait_for log_has "event=reload status=ok generation=2 workers=3"
	drop p3.zip
	wait_for all_finished
	ran_is p3.zip v2
	wait_for workers_are 3
	stop_daemon
}

@test "five HUPs during a 150-packet run (2 <-> 3 workers): no job lost, abandoned or run twice, no worker crashed" {
	write_conf workers=2
	handler_script short >/dev/null <<-'EOF'
	echo "$INGEST_NAME" >>"$T/out/ran"
	sleep 0.02
	EOF
	use_handler short
	start_daemon
	drop_many 150 h
	wait_for journal_has 1
	local g w
	for g in 2 3 4 5 6; do
		w=$((g % 2 + 2))
		write_conf workers=$w
		use_handler short
		kill -HUP "$DAEMON_PID"
		# one at a time: signals of one kind that arrive together are merged
		wait_for log_has "event=reload status=ok generation=$g workers=$w watcher=kept"
	done
	[ "$(journal_count)" -lt 150 ] || fail "the run was over before the last HUP: not under load"
	wait_until 30 all_finished
	assert_exactly_once
	[ "$(count_packets done)" -eq 150 ]
	[ "$(wc -l <"$T/out/ran")" -eq 150 ] || fail "$(wc -l <"$T/out/ran") handler runs for 150 packets"
	# retiring workers finished their jobs: nothing was interrupted or adopted
	! log_has "event=(interrupted|recover|requeue|exit child_role=worker)" ||
	    fail "$(grep -E 'event=(interrupted|recover|requeue|exit child_role=worker)' "$LOG" | head -5)"
	wait_for workers_are 2
	for w in $(worker_pids); do
		log_has "event=spawn child_role=worker child_pid=$w slot=[0-9]+ generation=6" || fail "worker $w is not of generation 6"
	done
	stop_daemon
}

# --- 2. scaling -------------------------------------------------------------------

@test "TTIN x3 then TTOU x5 under load (from 2 workers): the worker count follows, never below 1, nothing lost" {
	write_conf workers=2
	# 0.2 s a job while T/slow exists: 150 packets outlast the signals even on
	# a loaded machine; then the rest drains quickly.
	handler_script slowish >/dev/null <<-'EOF'
	[ ! -e "$T/slow" ] || sleep 0.2
	EOF
	use_handler slowish
	touch "$T/slow"
	start_daemon
	drop_many 150 t
	wait_for journal_has 1
	local i want left
	for i in 1 2 3; do
		want=$((2 + i))
		kill -TTIN "$DAEMON_PID"
		wait_for log_has "event=workers target=$want why=SIGTTIN"
		wait_for workers_are "$want"
	done
	left=$((150 - $(journal_count)))
	[ "$left" -gt 10 ] || fail "only $left packets left at 5 workers: not under load, the test proves nothing"
	for i in 1 2 3 4 5; do
		want=$((5 - i))
		kill -TTOU "$DAEMON_PID"
		if [ "$want" -ge 1 ]; then
			wait_for log_has "event=workers target=$want why=SIGTTOU"
		else
			want=1
			wait_for log_has "event=workers target=1 why=SIGTTOU action=none"
		fi
		wait_for workers_are "$want"
	done
	left=$((150 - $(journal_count)))
	echo "# $left of 150 packets left after the last TTOU" >&3
	[ "$left" -gt 0 ] || fail "the run was over before the last TTOU: not under load"
	# one worker stays and does the rest
	for i in $(seq 10); do
		[ "$(nworkers)" -ge 1 ] || fail "no worker left after TTOU at 1"
		sleep 0.05
	done
	[ "$(sj .workers_target)" -eq 1 ]
	# and up again from the floor, to drain the rest
	rm "$T/slow"
	for want in 2 3; do
		kill -TTIN "$DAEMON_PID"
		wait_for log_has "event=workers target=$want why=SIGTTIN"
		wait_for workers_are "$want"
	done
	wait_until 60 all_finished
	assert_exactly_once
	[ "$(count_packets done)" -eq 150 ]
	[ "$(nworkers)" -eq 3 ]
	[ "$(log_count 'event=exit child_role=worker')" -eq 0 ] || fail "a worker crashed: $(grep 'event=exit' "$LOG")"
	[ "$(sup_lines retired | wc -l)" -eq 4 ] || fail "expected 4 retired workers: $(sup_lines retired)"
	stop_daemon
}

# --- 3. recycling -----------------------------------------------------------------

@test "max_jobs_per_worker: 10 over 200 packets: about 20 worker generations, none over 10 jobs, all 200 done once" {
	write_conf workers=2
	conf_add <<-EOF
	max_jobs_per_worker: 10
	handler:
	  command: [/bin/true]
	EOF
	start_daemon
	drop_many 200 r
	wait_until 90 all_finished
	assert_exactly_once
	[ "$(count_packets done)" -eq 200 ]
	local recycles pids most
	recycles=$(sup_lines recycle | wc -l)
	pids=$(grep -oE ' worker=[0-9]+' "$SPOOL/journal" | sort -u | wc -l)
	most=$(grep -oE ' worker=[0-9]+' "$SPOOL/journal" | sort | uniq -c | sort -rn | awk 'NR == 1 { print $1 }')
	echo "# recycles=$recycles distinct journal workers=$pids most jobs by one worker=$most" >&3
	[ "$recycles" -ge 18 ] || fail "only $recycles recycle events for 200 jobs at 10 per worker"
	[ "$pids" -ge 18 ] || fail "only $pids distinct workers in the journal"
	[ "$most" -le 10 ] || fail "a worker journaled $most jobs with max_jobs_per_worker: 10"
	# each worker that recycled had done exactly 10 jobs
	[ "$(grep -E 'role=worker pid=[0-9]+ event=recycle ' "$LOG" | grep -vc ' jobs=10$')" -eq 0 ] ||
	    fail "recycled with a count other than 10: $(grep -E 'role=worker .*event=recycle ' "$LOG" | grep -v ' jobs=10$')"
	# recycling is not crashing: respawned at once, never throttled
	[ "$(log_count 'event=exit child_role=worker')" -eq 0 ] || fail "$(grep 'event=exit' "$LOG" | head -3)"
	wait_for workers_are 2
	[ "$(sj .totals.restarted)" -eq "$recycles" ] || fail "restarted $(sj .totals.restarted), recycled $recycles"
	stop_daemon
}

# --- 4. crash loop ----------------------------------------------------------------

@test "a worker that dies right after it starts: respawn delay doubles from 100 ms, supervisor CPU stays low, the log says why; fixed, it comes back" {
	command -v cc >/dev/null || skip "no C compiler"
	cc -shared -fPIC -O2 -o "$T/crashshim.so" "$IT_BIN/crashshim.c" -ldl ||
	    fail "cannot build the crash shim"
	local real=$INGESTD
	# The shim aborts a process that opens the journal for appending while
	# T/crash exists: only workers do, first thing after they start.
	cat >"$T/ingestd-shim" <<-EOF
	#!/bin/sh
	LD_PRELOAD='$T/crashshim.so' CRASHSHIM_FLAG='$T/crash' \
	ASAN_OPTIONS='${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0' exec '$real' "\$@"
	EOF
	chmod +x "$T/ingestd-shim"
	ulimit -c 0
	write_conf workers=2
	quick_versioned_handler v1
	use_handler v1
	touch "$T/crash"
	INGESTD=$T/ingestd-shim
	start_daemon
	INGESTD=$real
	local hz cpu0 cpu1 t0 t1 used_ms slot seq exits
	hz=$(getconf CLK_TCK)
	cpu0=$(proc_cpu_ticks "$DAEMON_PID")
	now_us
	t0=$NOW_US
	# 100+200+400+800+1600 ms of pauses: the sixth death of a slot says 3200.
	wait_for log_has "event=exit child_role=worker child_pid=[0-9]+ slot=[0-9]+ .*respawn_ms=3200"
	cpu1=$(proc_cpu_ticks "$DAEMON_PID")
	now_us
	t1=$NOW_US
	used_ms=$(((cpu1 - cpu0) * 1000 / hz))
	echo "# crash loop: $(log_count 'event=exit child_role=worker') worker deaths in $(((t1 - t0) / 1000)) ms, supervisor CPU ${used_ms} ms" >&3
	[ $((t1 - t0)) -ge 2500000 ] || fail "six deaths of one slot in $(((t1 - t0) / 1000)) ms: not throttled"
	[ "$used_ms" -lt 300 ] || fail "the supervisor used $used_ms ms of CPU in $(((t1 - t0) / 1000)) ms of crash loop"
	# per slot: 100, 200, 400, 800, 1600, 3200 ms, and each line says how the worker died
	for slot in $(grep -oE 'event=exit child_role=worker child_pid=[0-9]+ slot=[0-9]+' "$LOG" | grep -oE '[0-9]+$' | sort -u); do
		seq=$(grep -E "event=exit child_role=worker child_pid=[0-9]+ slot=$slot " "$LOG" | grep -oE 'respawn_ms=[0-9]+' |
		    cut -d= -f2 | head -n 6 | tr '\n' ' ')
		# a slot that lags behind may have fewer, but in this order
		[[ -n $seq && "100 200 400 800 1600 3200 " == "$seq"* ]] ||
		    fail "slot $slot respawn delays: $seq (expected 100 200 400 800 1600 3200)"
	done
	exits=$(grep -E 'event=exit child_role=worker' "$LOG")
	[ "$(printf '%s\n' "$exits" | grep -vc ' signal=ABRT ')" -eq 0 ] ||
	    fail "an exit line does not say the worker died of SIGABRT: $exits"
	# Both slots are in a long pause now: no worker runs, and status must not
	# show the dead ones as running.
	poll 1 status_pids_alive ||
	    defer_fail "in the crash-loop pause status --json shows workers $(sj '[.workers[] | "\(.pid) \(.state)"] | join(", ")') while the live workers are: '$(worker_pids | tr '\n' ' ')'"
	[ "$(printf '%s\n' "$exits" | wc -l)" -le 16 ] || fail "too many deaths for the throttle: $exits"
	[ "$(printf '%s\n' "$exits" | grep -vc '^level=warn role=supervisor ')" -eq 0 ] ||
	    fail "worker deaths are not logged as supervisor warnings: $exits"
	[ "$(journal_count)" -eq 0 ]

	# The fault goes away: the workers come back (at the next due respawn) and work.
	rm "$T/crash"
	drop fixed.zip
	wait_for all_finished
	assert_exactly_once
	[ -e "$SPOOL/done/fixed.zip" ]
	ran_is fixed.zip v1
	wait_for workers_are 2
	stop_daemon
	check_deferred
}

# --- 5. status and metrics --------------------------------------------------------

@test "the Prometheus parser of this suite rejects what it must" {
	local p=$IT_BIN/sup-promparse f=$T/bad.prom good
	good='# HELP x_total X.
# TYPE x_total counter
x_total{a="b"} 1
# TYPE h histogram
h_bucket{le="0.1"} 1
h_bucket{le="+Inf"} 2
h_sum 0.3
h_count 2
'
	printf '%s' "$good" >"$f"
	run "$PY" "$p" "$f"
	[ "$status" -eq 0 ] || fail "the good file is refused: $output"
	[ "${lines[0]}" = 'x_total{a="b"} 1' ]
	local bad
	for bad in \
	    's/h_count 2/h_count 3/' \
	    's/le="0.1"} 1/le="0.1"} 3/' \
	    '/le="+Inf"/d' \
	    's/x_total{a="b"}/x-total{a="b"}/' \
	    's/{a="b"}/{a=b}/' \
	    's/{a="b"}/{1a="b"}/' \
	    's/{a="b"} 1/{a="b"} one/' \
	    's/{a="b"} 1/{a="b"}  1/' \
	    's/x_total{a="b"} 1/x_total{a="b"} -1/' \
	    's/counter/countr/' \
	    '/h_sum/d' \
	    '$a x_total{a="b"} 2' \
	    '$a # TYPE x_total gauge' \
	    's/{a="b"}/{a="b\\q"}/'; do
		sed "$bad" <<<"$good" >"$f"
		run "$PY" "$p" "$f"
		[ "$status" -eq 1 ] || fail "sed '$bad' was accepted: $(cat "$f")"
		[[ $output == "$f:"* ]] || fail "no FILE:LINE in: $output"
	done
	printf 'x 1' >"$f"
	run "$PY" "$p" "$f"
	[ "$status" -eq 1 ]
}

@test "status and status --json during a run match the scoreboard and the process table; SIGUSR1 logs the same; none running: exit 69" {
	write_conf workers=3
	conf_add <<-EOF
	metrics_file: $T/metrics.prom
	metrics_interval: 1s
	EOF
	blocking_handler slow
	use_handler slow "timeout: 1h"
	start_daemon
	local n w pids names qsize m1 line
	for n in 1 2 3; do drop "s$n.zip"; done
	wait_for files_are "$T/out/ran.s*" 3
	# all three workers busy: two more wait in the inbox and the queue
	drop q1.zip
	drop q2.zip
	qsize=$(grep -oE 'event=queue name=[^ ]+ depth=[0-9]+' "$LOG" | grep -oE '[0-9]+$')

	wait_until 5 eval 'status_json && [ "$(sj .inbox_backlog)" -eq 2 ]'
	[ "$(sj .pid)" -eq "$DAEMON_PID" ]
	[ "$(sj .spool)" = "$SPOOL" ]
	[ "$(sj .generation)" -eq 1 ] && [ "$(sj .workers_target)" -eq 3 ]
	[ "$(sj .uptime_s)" -ge 0 ] && [ "$(sj .uptime_s)" -lt 60 ]
	[ "$(sj .queue.size)" -eq "$qsize" ] || fail "queue size $(sj .queue.size), the log says $qsize"
	pids=$(sorted_words $(worker_pids))
	[ "$(sorted_words $(sj '.workers[].pid'))" = "$pids" ] ||
	    fail "status pids $(sj '[.workers[].pid]|join(" ")') != live workers $pids"
	[ "$(sj '[.workers[] | select(.state == "busy")] | length')" -eq 3 ] || fail "not all busy: $(cat "$T/status.json")"
	[ "$(sorted_words $(sj '.workers[].packet'))" = "s1.zip s2.zip s3.zip " ] ||
	    fail "packets shown: $(sj '[.workers[].packet]|join(" ")')"
	for w in $(sj '.workers[] | "\(.job)/\(.packet)"'); do
		[[ ${w%%/*} =~ ^[0-9a-f]{16}$ ]] || fail "job id ${w%%/*}"
		[ -e "$SPOOL/work/${w%%/*}/pkt/${w#*/}" ] || fail "status says job $w, but work/${w%%/*}/pkt/${w#*/} does not exist"
	done
	[ "$(sj '[.workers[] | select(.seconds >= 0 and .seconds < 60 and .jobs_done == 0)] | length')" -eq 3 ]
	[ "$(sj .totals.done)" -eq 0 ] && [ "$(sj .totals.failed)" -eq 0 ]
	# the handlers are children of the workers the scoreboard names
	for w in $(sj '.workers[].pid'); do
		[ -n "$(children_of "$w")" ] || fail "busy worker $w has no handler child"
	done
	# The queue holds the two waiting names: the supervisor's metrics see them,
	# and so must the scoreboard that `status` reads. Checked at the end, so the
	# rest of the test still runs if this is wrong.
	wait_until 5 metric_is "$T/metrics.prom" ingestd_queue_depth 2
	poll 2 eval 'status_json && [ "$(sj .queue.depth)" -eq 2 ]' ||
	    defer_fail "status --json says queue depth $(sj .queue.depth) while the queue holds 2 names (metrics: ingestd_queue_depth $(metric "$T/metrics.prom" ingestd_queue_depth)) and every worker is busy"
	status_json

	# the text form says the same
	run "$INGESTD" status -d "$SPOOL"
	[ "$status" -eq 0 ]
	echo "$output"
	[[ $output == *"pid $DAEMON_PID"* ]]
	[[ $output == *"inbox: 2 waiting"* ]] || fail "text status: $output"
	[[ $output == *"workers: 3 running, target 3"* ]]
	for w in $(sj '.workers[] | "\(.pid)/\(.packet)"'); do
		line=$(grep -E "^ +[0-9]+ +${w%%/*} " <<<"$output") || fail "no line for worker ${w%%/*}: $output"
		[[ $line == *" busy "* && $line == *" ${w#*/}" ]] || fail "worker line: $line"
	done
	[[ $output == *"totals: done 0, failed 0,"* ]]
	# -c FILE finds the spool through the config
	run "$INGESTD" status -c "$CONF" --json
	[ "$status" -eq 0 ] && [ "$(jq -r .pid <<<"$output")" -eq "$DAEMON_PID" ] || fail "status -c: $status $output"

	# SIGUSR1: the same picture in the log
	kill -USR1 "$DAEMON_PID"
	wait_for log_has "event=status supervisor_pid=$DAEMON_PID "
	wait_for log_has "event=status_worker " 3
	for w in $(sj '.workers[] | "\(.pid)/\(.packet)"'); do
		log_has "event=status_worker slot=[0-9]+ worker_pid=${w%%/*} state=busy generation=1 job=[0-9a-f]{16} name=${w#*/} " ||
		    fail "no busy status_worker line for ${w%%/*}: $(grep status_worker "$LOG")"
	done

	# metrics: a valid file with the same picture, rewritten every second
	wait_for test -e "$T/metrics.prom"
	wait_until 5 metric_is "$T/metrics.prom" ingestd_workers_busy 3
	metric "$T/metrics.prom" ingestd_workers_busy >/dev/null || fail "metrics do not parse: $(cat "$T/metrics.prom")"
	wait_until 5 metric_is "$T/metrics.prom" ingestd_inbox_backlog 2
	[ "$(metric "$T/metrics.prom" ingestd_workers)" = 3 ]
	m1=$(mtime_ns "$T/metrics.prom")
	wait_until 5 changed_since "$T/metrics.prom" "$m1"
	metric "$T/metrics.prom" 'ingestd_jobs_total{outcome="done"}' >/dev/null

	touch "$T/release"
	wait_for all_finished
	assert_exactly_once
	wait_until 5 eval 'status_json && [ "$(sj .totals.done)" -eq 5 ]'
	wait_until 5 eval 'status_json && [ "$(sj "[.workers[] | select(.state == \"idle\" and .packet == null and .job == null)] | length")" -eq 3 ]'
	[ "$(sj '[.workers[].jobs_done] | add')" -eq 5 ]
	# the metrics catch up with the journal
	n=$(grep -c ' outcome=done ' "$SPOOL/journal")
	[ "$n" -eq 5 ]
	wait_until 5 metric_is "$T/metrics.prom" 'ingestd_jobs_total{outcome="done"}' "$n"
	[ "$(metric "$T/metrics.prom" ingestd_job_duration_seconds_count)" = 5 ]
	stop_daemon
	# the last file, written at exit, is whole and agrees with the journal
	[ "$(metric "$T/metrics.prom" 'ingestd_jobs_total{outcome="done"}')" = "$n" ]
	[ "$(metric "$T/metrics.prom" 'ingestd_jobs_total{outcome="failed"}')" = 0 ]
	# ... and says what runs then: nothing
	[ "$(metric "$T/metrics.prom" ingestd_workers)" = 0 ] && [ "$(metric "$T/metrics.prom" ingestd_workers_busy)" = 0 ] ||
	    defer_fail "the metrics file written at exit says ingestd_workers $(metric "$T/metrics.prom" ingestd_workers), ingestd_workers_busy $(metric "$T/metrics.prom" ingestd_workers_busy) after the daemon stopped"
	[ ! -e "$T/metrics.prom.tmp" ]

	# no daemon: exit 69 and a clear message, in both forms
	run --separate-stderr "$INGESTD" status -d "$SPOOL"
	[ "$status" -eq 69 ] || fail "status with no daemon: exit $status, $output $stderr"
	[[ $stderr == *"no daemon is running on spool $SPOOL"* ]] || fail "message: $stderr"
	[ -z "$output" ]
	run --separate-stderr "$INGESTD" status -d "$SPOOL" --json
	[ "$status" -eq 69 ]
	[[ $stderr == *"no daemon is running on spool"* ]]
	mkdir "$T/never"
	run --separate-stderr "$INGESTD" status -d "$T/never"
	[ "$status" -eq 69 ] || fail "status on a spool never used: exit $status, $stderr"
	[[ $stderr == *"no daemon is running on spool $T/never"* ]]
	check_deferred
}

# --- 6. SIGQUIT -------------------------------------------------------------------

@test "SIGQUIT with a running 1 s job: the job finishes in done/ (past shutdown_grace), exit 0, nothing left" {
	write_conf workers=2 shutdown_grace=200ms
	handler_script onesec >/dev/null <<-'EOF'
	echo started >"$T/out/started.$INGEST_NAME"
	sleep 1
	echo ended >"$T/out/ended.$INGEST_NAME"
	EOF
	use_handler onesec
	start_daemon
	local sup=$DAEMON_PID
	drop q.zip
	wait_for test -e "$T/out/started.q.zip"
	kill -QUIT "$sup"
	wait_for log_has "event=shutdown signal=QUIT"
	# taking no more jobs: a packet dropped now stays in the inbox
	drop late.zip
	wait_daemon_exit 15 || fail "exit status $DAEMON_STATUS after SIGQUIT"
	[ "$DAEMON_STATUS" -eq 0 ]
	[ -e "$T/out/ended.q.zip" ] || fail "the handler did not run to its end"
	[ -e "$SPOOL/done/q.zip" ] || fail "q.zip not in done/: $(ls "$SPOOL"/*)"
	[ "$(journal_count)" -eq 1 ]
	[ "$(journal_field q.zip outcome)" = done ]
	[ "$(journal_field q.zip dur_ms)" -ge 800 ]
	[ -e "$SPOOL/inbox/late.zip" ] || fail "late.zip was taken after SIGQUIT"
	! log_has "event=grace_expired" || fail "the running job was cut short: $(grep 'event=grace_expired' "$LOG")"
	wait_until 3 eval '[ -z "$(procs_in_group "$sup")" ] && no_test_procs' ||
	    fail "left behind: $(test_pids | tr '\n' ' ')"
}

# --- 7. a killed worker -----------------------------------------------------------

@test "a worker SIGKILLed while its handler runs: the job is requeued, adopted and finished once; the handler and its children die" {
	write_conf workers=2
	handler_script firstsleeps >/dev/null <<-'EOF'
	if [ "$INGEST_ATTEMPT" = 1 ]; then
		sleep 1000 &
		bg=$!
		setsid sleep 1000 &
		ss=$!
		echo "$$ $bg $ss $PPID" >"$T/out/pids.$INGEST_NAME.tmp"
		mv "$T/out/pids.$INGEST_NAME.tmp" "$T/out/pids.$INGEST_NAME"
		sleep 1000
	fi
	echo "$INGEST_ATTEMPT" >>"$T/out/ran.$INGEST_NAME"
	EOF
	use_handler firstsleeps "timeout: 1h"
	start_daemon
	drop k.zip
	wait_for test -e "$T/out/pids.k.zip"
	local sh bg ss ppid victim job other
	read -r sh bg ss ppid <"$T/out/pids.k.zip"
	status_json
	victim=$(sj '.workers[] | select(.packet == "k.zip") | .pid')
	job=$(sj '.workers[] | select(.packet == "k.zip") | .job')
	[ -n "$victim" ] && [ "$victim" = "$ppid" ] || fail "status names worker '$victim' for k.zip; the handler's parent is $ppid"
	[[ $job =~ ^[0-9a-f]{16}$ ]] && [ -d "$SPOOL/work/$job" ]
	other=$(worker_pids | grep -vx "$victim")
	[ -n "$other" ]

	kill -KILL "$victim"
	wait_for log_has "event=exit child_role=worker child_pid=$victim slot=[0-9]+ signal=KILL"
	wait_for log_has "event=offer job=$job crashes=1"
	wait_for log_has "event=recover job=$job name=k.zip state=OPEN crashes=1"
	wait_for all_finished
	assert_exactly_once
	[ -e "$SPOOL/done/k.zip" ]
	[ "$(journal_field k.zip outcome)" = done ]
	[ "$(journal_field k.zip job)" = "$job" ]
	[ "$(journal_field k.zip worker)" != "$victim" ]
	[ "$(journal_field k.zip attempts)" -eq 2 ]
	ran_is k.zip 2
	[ "$(log_count "event=recover job=$job ")" -eq 1 ] || fail "adopted more than once: $(grep "job=$job" "$LOG")"
	wait_until 5 none_alive "$sh" "$bg" "$ss" ||
	    fail "the killed worker's handler or its children survive: $(ps -o pid=,ppid=,args= -p "$sh,$bg,$ss")"
	# the other worker was not hurt by the clean-up, and the slot was refilled
	alive "$other" || fail "the other worker $other died"
	wait_for workers_are 2
	stop_daemon
}
