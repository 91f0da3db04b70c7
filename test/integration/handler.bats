#!/usr/bin/env bats
# The handler contract (issue 2, test 6 and the Handler section): exit codes,
# retries with backoff, timeout kills the tree, environment, cwd, stdin, fds,
# bounded job log, placeholders.

load helpers

@test "exit 75 is retried after a growing backoff, then done; INGEST_ATTEMPT counts up" {
	write_conf
	handler_script tempfail >/dev/null <<-'EOF'
	echo "$INGEST_ATTEMPT $(date +%s%N)" >>"$T/out/attempts"
	n=$(wc -l <"$T/out/attempts")
	[ "$n" -le 2 ] && exit 75
	exit 0
	EOF
	use_handler tempfail "retries: 3" "backoff: 100ms"
	start_daemon
	drop retry.zip
	wait_for all_finished
	assert_exactly_once
	[ -e "$SPOOL/done/retry.zip" ]
	[ "$(cut -d' ' -f1 "$T/out/attempts" | tr '\n' ' ')" = "1 2 3 " ] ||
	    fail "INGEST_ATTEMPT: $(cat "$T/out/attempts")"
	[ "$(journal_field retry.zip attempts)" = 3 ]
	[ "$(journal_field retry.zip outcome)" = done ]
	local t1 t2 t3
	read -r _ t1 < <(sed -n 1p "$T/out/attempts")
	read -r _ t2 < <(sed -n 2p "$T/out/attempts")
	read -r _ t3 < <(sed -n 3p "$T/out/attempts")
	# backoff 100ms, growing: the gaps are at least 100 ms and 200 ms (10 ms slack)
	[ $(((t2 - t1) / 1000000)) -ge 90 ] || fail "first retry after $(((t2 - t1) / 1000000)) ms"
	[ $(((t3 - t2) / 1000000)) -ge 190 ] || fail "second retry after $(((t3 - t2) / 1000000)) ms"
	stop_daemon
}

@test "exit 75 more often than handler.retries allows: failed" {
	write_conf
	handler_script always75 >/dev/null <<-'EOF'
	echo "$INGEST_ATTEMPT" >>"$T/out/attempts"
	exit 75
	EOF
	use_handler always75 "retries: 1" "backoff: 50ms"
	start_daemon
	drop tf.zip
	wait_for all_finished
	assert_exactly_once
	[ -e "$SPOOL/failed/tf.zip" ]
	[ "$(tr '\n' ' ' <"$T/out/attempts")" = "1 2 " ] || fail "attempts: $(cat "$T/out/attempts")"
	[[ $(journal_field tf.zip reason) == *"exit status=75"* ]] || fail "reason: $(journal_field tf.zip reason)"
	stop_daemon
}

@test "exit 3: failed/ with reason=exit status=3 in NAME.error and the journal, not retried" {
	write_conf
	handler_script exit3 >/dev/null <<-'EOF'
	echo "$INGEST_ATTEMPT" >>"$T/out/attempts"
	echo "something went wrong" >&2
	exit 3
	EOF
	use_handler exit3 "retries: 3" "backoff: 50ms"
	start_daemon
	make_packet "$T/src" bad.zip
	drop bad.zip "$T/src/bad.zip"
	wait_for all_finished
	assert_exactly_once
	cmp "$T/src/bad.zip" "$SPOOL/failed/bad.zip"
	grep -q 'reason=exit status=3' "$SPOOL/failed/bad.zip.error" ||
	    fail "failed/bad.zip.error: $(cat "$SPOOL/failed/bad.zip.error" 2>&1)"
	grep -q ' outcome=failed .* reason=exit status=3$' "$SPOOL/journal" || fail "journal: $(cat "$SPOOL/journal")"
	[ "$(journal_field bad.zip attempts)" = 1 ]
	[ "$(cat "$T/out/attempts")" = 1 ] || fail "retried: $(cat "$T/out/attempts")"
	grep -q 'something went wrong' "$SPOOL/failed/bad.zip.log"
	stop_daemon
}

@test "a handler killed by a signal: failed with a reason" {
	write_conf
	handler_script selfkill >/dev/null <<-'EOF'
	kill -SEGV $$
	EOF
	use_handler selfkill "retries: 2"
	start_daemon
	drop sig.zip
	wait_for all_finished
	assert_exactly_once
	[ -e "$SPOOL/failed/sig.zip" ]
	[[ $(journal_field sig.zip reason) == signal* ]] || fail "reason: $(journal_field sig.zip reason)"
	grep -q 'reason=signal' "$SPOOL/failed/sig.zip.error"
	stop_daemon
}

# repeated_keys FILE: the lines of FILE (logfmt) that hold a key twice, and why.
repeated_keys() {
	"$PY" - "$1" <<-'PY'
	import re, sys
	tok = re.compile(r'\s*([^\s="]+)(?:=("(?:[^"\\]|\\.)*"|[^\s"]*))?')
	bad = 0
	for n, line in enumerate(open(sys.argv[1], errors='replace'), 1):
	    seen, pos, line = set(), 0, line.rstrip('\n')
	    while pos < len(line):
	        m = tok.match(line, pos)
	        if not m or m.end() == pos:
	            break
	        pos = m.end()
	        if m.group(2) is None:
	            continue
	        if m.group(1) in seen:
	            print('%d: %s twice: %s' % (n, m.group(1), line))
	            bad = 1
	        seen.add(m.group(1))
	sys.exit(bad)
	PY
}

@test "log lines: a failed packet at warn, a done one at info, no line holds a key twice (a real run)" {
	write_conf
	handler_script mixed >/dev/null <<-'EOF'
	case $INGEST_NAME in
	bad*) exit 3 ;;
	sig*) kill -KILL $$ ;;
	esac
	exit 0
	EOF
	use_handler mixed "retries: 0"
	# -v: the debug lines too
	start_daemon -v
	drop good.zip
	drop bad.zip
	drop sig.zip
	wait_for all_finished
	stop_daemon
	grep -q '^level=warn .*event=failed .*name=bad.zip ' "$LOG" ||
	    fail "bad.zip not at warn: $(grep bad.zip "$LOG")"
	grep -q '^level=warn .*event=failed .*name=sig.zip .*signame=KILL' "$LOG" ||
	    fail "sig.zip not at warn: $(grep sig.zip "$LOG")"
	grep -q '^level=info .*event=done .*name=good.zip ' "$LOG" || fail "good.zip: $(grep good.zip "$LOG")"
	! grep -q '^level=info .*event=failed' "$LOG" || fail "a failure at info: $(grep 'event=failed' "$LOG")"
	grep -q 'event=spawn child_role=worker child_pid=' "$LOG" || fail "no spawn line: $(head "$LOG")"
	run repeated_keys "$LOG"
	[ "$status" -eq 0 ] || fail "keys repeated: $output"
	# the checker itself sees a repeat
	echo 'level=info role=supervisor pid=1 event=spawn role=watcher pid="2"' >"$T/planted.log"
	run repeated_keys "$T/planted.log"
	[ "$status" -eq 1 ] && [[ $output == *"role twice"* ]] || fail "planted repeat not found: $output"
}

@test "handler.timeout: failed with reason=timeout, the handler and every process it started are killed" {
	write_conf workers=2
	handler_script slow >/dev/null <<-'EOF'
	sleep 1000 &
	bg=$!
	setsid sleep 1000 &
	ss=$!
	echo "$$ $bg $ss" >"$T/out/pids.tmp"
	mv "$T/out/pids.tmp" "$T/out/pids"
	sleep 1000
	EOF
	use_handler slow "timeout: 1s" "retries: 2"
	start_daemon
	local workers
	workers=$(worker_pids | sort | tr '\n' ' ')
	drop slow.zip
	wait_for test -e "$T/out/pids"
	local pids p
	pids=$(cat "$T/out/pids")
	for p in $pids; do alive "$p" || fail "handler process $p not running"; done
	wait_until 10 all_finished
	assert_exactly_once
	[ -e "$SPOOL/failed/slow.zip" ]
	[[ $(journal_field slow.zip reason) == "timeout after=1s"* ]] || fail "reason: $(journal_field slow.zip reason)"
	grep -q 'reason=timeout' "$SPOOL/failed/slow.zip.error"
	# shellcheck disable=SC2086
	wait_until 2 none_alive $pids ||
	    fail "still alive: $(ps -o pid=,ppid=,sid=,args= -p "${pids// /,}")"
	# nothing else of the handler's survived either; the daemon itself is intact
	[ -z "$(test_pids_except "$DAEMON_PID" $(watcher_pid) $(worker_pids))" ] ||
	    fail "left over: $(test_pids_except "$DAEMON_PID" $(watcher_pid) $(worker_pids))"
	[ "$(worker_pids | sort | tr '\n' ' ')" = "$workers" ] || fail "workers changed: $workers -> $(worker_pids)"
	stop_daemon
}

@test "a grandchild that setsid()s and outlives a handler that exited 0 is killed; the packet is done" {
	write_conf
	handler_script escape >/dev/null <<-'EOF'
	# the subshell exits at once: its child is the handler's grandchild
	( setsid sleep 1000 & echo $! >"$T/out/gc.tmp"; mv "$T/out/gc.tmp" "$T/out/gc" ) &
	while [ ! -e "$T/out/gc" ]; do sleep 0.01; done
	exit 0
	EOF
	use_handler escape
	start_daemon
	drop esc.zip
	wait_for filed esc.zip
	[ -e "$SPOOL/done/esc.zip" ] || fail "not done: $(ls "$SPOOL/failed")"
	local gc
	gc=$(cat "$T/out/gc")
	[ "$(ps -o sid= -p "$gc" 2>/dev/null | tr -d ' ')" = "$gc" ] || ! alive "$gc" ||
	    fail "the grandchild did not setsid"
	wait_until 5 none_alive "$gc" || fail "still alive: $(ps -o pid=,ppid=,sid=,args= -p "$gc")"
	stop_daemon
}

@test "the handler's environment holds only INGEST_*, PATH and the handler.env names; cwd, stdin and fds are clean" {
	write_conf
	handler_script envdump >/dev/null <<-'EOF'
	tr '\0' '\n' </proc/$$/environ >"$T/out/env"
	pwd -P >"$T/out/cwd"
	readlink /proc/$$/fd/0 >"$T/out/stdin"
	/usr/bin/python3 -c '
	import os, sys
	for fd in range(3, 1024):
	    try:
	        os.fstat(fd)
	    except OSError:
	        continue
	    try:
	        print(fd, os.readlink("/proc/self/fd/%d" % fd))
	    except OSError:
	        print(fd, "?")
	' >"$T/out/fds"
	EOF
	use_handler envdump "env: [INGESTD_IT_PASSED]"
	INGESTD_IT_LEAK=secret INGESTD_IT_PASSED=yes start_daemon
	drop envtest.zip
	wait_for all_finished
	assert_exactly_once
	local e=$T/out/env
	grep -qx 'INGESTD_IT_PASSED=yes' "$e" || fail "handler.env name missing: $(cat "$e")"
	! grep -q 'INGESTD_IT_LEAK' "$e" || fail "unlisted variable leaked: $(cat "$e")"
	! grep -q 'INGESTD_TEST_TAG' "$e" || fail "daemon environment leaked: $(cat "$e")"
	local extra
	extra=$(grep -vE '^(INGEST_[A-Z_]+|PATH|INGESTD_IT_PASSED)=' "$e" || true)
	[ -z "$extra" ] || fail "unexpected variables: $extra"
	grep -qx 'INGEST_NAME=envtest.zip' "$e"
	grep -qx 'INGEST_ATTEMPT=1' "$e"
	grep -qx "INGEST_SPOOL=$SPOOL" "$e" || fail "INGEST_SPOOL: $(grep INGEST_SPOOL "$e")"
	grep -qE '^INGEST_JOB=[0-9a-f]{16}$' "$e" || fail "INGEST_JOB: $(grep INGEST_JOB "$e")"
	grep -qE '^PATH=.' "$e"
	local path dir
	path=$(sed -n 's/^INGEST_PATH=//p' "$e")
	dir=$(sed -n 's/^INGEST_DIR=//p' "$e")
	[[ $path == "$SPOOL/work/"*"/envtest.zip" ]] || fail "INGEST_PATH=$path"
	[[ $dir == "$SPOOL/work/"* ]] || fail "INGEST_DIR=$dir"
	[ "$(cat "$T/out/cwd")" = "$dir" ] || fail "cwd $(cat "$T/out/cwd") is not INGEST_DIR $dir"
	[ "$(cat "$T/out/stdin")" = /dev/null ] || fail "stdin is $(cat "$T/out/stdin")"
	[ ! -s "$T/out/fds" ] || fail "descriptors leaked into the handler: $(cat "$T/out/fds")"
	stop_daemon
}

@test "placeholders {name} {path} {dir} in handler.command; a bare command name is found on PATH" {
	write_conf
	conf_add <<-EOF
	handler:
	  command: [sh, -c, 'printf "%s\n" "\$1" "\$2" "\$3" "\$INGEST_NAME" "\$INGEST_PATH" "\$INGEST_DIR" >"\$0"', '$T/out/args', '{name}', '{path}', '{dir}']
	EOF
	start_daemon
	drop ph.zip
	wait_for all_finished
	assert_exactly_once
	local a
	mapfile -t a <"$T/out/args"
	[ "${a[0]}" = ph.zip ] || fail "{name} -> ${a[0]}"
	[ "${a[1]}" = "${a[4]}" ] || fail "{path} -> ${a[1]}, INGEST_PATH=${a[4]}"
	[ "${a[2]}" = "${a[5]}" ] || fail "{dir} -> ${a[2]}, INGEST_DIR=${a[5]}"
	stop_daemon
}

@test "a handler that cannot be executed: failed with a reason, the daemon goes on" {
	write_conf
	conf_add <<-EOF
	handler:
	  command: ['$T/no-such-handler']
	EOF
	start_daemon
	drop noexec.zip
	wait_for all_finished
	assert_exactly_once
	[ -e "$SPOOL/failed/noexec.zip" ]
	[ -n "$(journal_field noexec.zip reason)" ]
	[ -s "$SPOOL/failed/noexec.zip.error" ]
	alive "$DAEMON_PID"
	stop_daemon
}

@test "the job log holds stdout and stderr and stays bounded (50 MB printed, log_max 64KiB)" {
	write_conf
	handler_script noisy >/dev/null <<-'EOF'
	echo "FIRST-LINE on stdout"
	echo "stderr line" >&2
	head -c 50000000 /dev/zero | tr '\0' 'x'
	echo
	echo "LAST-LINE on stdout"
	EOF
	use_handler noisy "log_max: 64KiB" "timeout: 60s"
	start_daemon
	drop noisy.zip
	wait_until 60 all_finished
	assert_exactly_once
	local l=$SPOOL/done/noisy.zip.log size
	[ -e "$SPOOL/done/noisy.zip" ] || fail "noisy.zip failed: $(journal_field noisy.zip reason)"
	size=$(stat -c %s "$l")
	[ "$size" -le $((64 * 1024 + 1024)) ] || fail "job log is $size bytes (log_max 64KiB)"
	[ "$size" -ge $((32 * 1024)) ] || fail "job log is only $size bytes"
	grep -q 'FIRST-LINE' "$l" || fail "the head of the output is missing"
	grep -q 'stderr line' "$l" || fail "stderr is missing"
	grep -q 'LAST-LINE' "$l" || fail "the tail of the output is missing"
	stop_daemon
}
