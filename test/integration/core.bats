#!/usr/bin/env bats
# The core promises of issue 2: packets in, each filed exactly once, journal,
# names never overwritten, symlinks refused, one daemon per spool, drops during
# start-up, the supervisor's process group.

load helpers

# A handler that records which job ran and what it printed.
quick_handler() {
	handler_script quick >/dev/null <<-'EOF'
	echo "handled $INGEST_NAME attempt $INGEST_ATTEMPT"
	echo "$INGEST_NAME" >>"$T/out/ran"
	EOF
	use_handler quick "timeout: 30s"
}

@test "1,000 packets dropped at once with 4 workers: all in done/ exactly once, 1,000 journal lines" {
	write_conf workers=4
	conf_add <<-EOF
	handler:
	  command: [/bin/true]
	EOF
	start_daemon
	[ "$(worker_pids | wc -l)" -eq 4 ] || fail "expected 4 workers, found: $(worker_pids | tr '\n' ' ')"
	drop_many 1000 bulk
	[ "$(wc -l <"$T/dropped")" -eq 1000 ]
	wait_until 120 all_finished || true
	assert_exactly_once
	[ "$(count_packets done)" -eq 1000 ]
	[ "$(count_packets failed)" -eq 0 ]
	[ "$(journal_count)" -eq 1000 ]
	[ "$(grep -c ' outcome=done ' "$SPOOL/journal")" -eq 1000 ]
	assert_journal_filed
	dir_empty inbox
	stop_daemon
}

@test "the daemon creates the spool, files a packet with a journal line in the documented format" {
	write_conf
	quick_handler
	[ ! -e "$SPOOL" ]
	start_daemon
	for d in inbox work done failed; do
		[ -d "$SPOOL/$d" ] || fail "spool/$d was not created"
	done
	make_packet "$T/src" one.zip
	drop one.zip "$T/src/one.zip"
	wait_for all_finished
	assert_exactly_once
	cmp "$T/src/one.zip" "$SPOOL/done/one.zip"
	grep -q 'handled one.zip attempt 1' "$SPOOL/done/one.zip.log" ||
	    fail "done/one.zip.log lacks the handler output: $(head -c 300 "$SPOOL/done/one.zip.log")"
	local line workers w
	line=$(cat "$SPOOL/journal")
	# the documented fields in the documented order; others may come between
	local x='( [a-z_]+=("[^"]*"|[^ "]*))*'
	[[ $line =~ ^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$x\ job=[0-9a-f]{16}$x\ name=one\.zip$x\ outcome=done$x\ attempts=1$x\ dur_ms=[0-9]+$x\ worker=[0-9]+$x\ filed=done/one\.zip$ ]] ||
	    fail "journal line not in the documented format: $line"
	[[ $line =~ \ worker=([0-9]+) ]]
	w=${BASH_REMATCH[1]}
	workers=" $(spawned worker | tr '\n' ' ') "
	[[ $workers == *" $w "* ]] || fail "journal worker=$w is not a spawned worker ($workers)"
	stop_daemon
}

@test "with no handler configured a packet just moves to done/" {
	write_conf
	start_daemon
	make_packet "$T/src" plain.zip
	drop plain.zip "$T/src/plain.zip"
	wait_for all_finished
	assert_exactly_once
	cmp "$T/src/plain.zip" "$SPOOL/done/plain.zip"
	stop_daemon
}

@test "the supervisor leads its own process group; watcher and workers are in it; its parent's group is untouched" {
	write_conf workers=3
	start_daemon
	local sup=$DAEMON_PID pg p
	pg=$(ps -o pgid= -p "$sup" | tr -d ' ')
	[ "$pg" = "$sup" ] || fail "supervisor $sup is in group $pg, not its own"
	[ "$(ps -o pgid= -p $$ | tr -d ' ')" != "$sup" ]
	[ "$(watcher_pid | wc -l)" -eq 1 ] || fail "expected one watcher child of $sup: $(spawned watcher)"
	[ "$(worker_pids | wc -l)" -eq 3 ] || fail "expected 3 workers: $(worker_pids | tr '\n' ' ')"
	for p in $(watcher_pid) $(worker_pids); do
		[ "$(ps -o pgid= -p "$p" | tr -d ' ')" = "$sup" ] || fail "child $p is not in group $sup"
	done
	stop_daemon
	wait_until 2 no_test_procs
	alive "$CANARY_PID" || fail "the canary in the parent's process group was killed"
}

@test "two packets with the same name are both kept: done/x.zip and done/x.zip.~JOBID~, nothing overwritten" {
	write_conf
	quick_handler
	start_daemon
	local i j1 j2
	for i in 0 1 2; do
		make_packet "$T/src" "x$i.zip"
		drop x.zip "$T/src/x$i.zip"
		wait_for journal_has $((i + 1))
	done
	wait_for all_finished
	assert_exactly_once
	j1=$(sed -n '2s/.* job=\([0-9a-f]*\) .*/\1/p' "$SPOOL/journal")
	j2=$(sed -n '3s/.* job=\([0-9a-f]*\) .*/\1/p' "$SPOOL/journal")
	cmp "$T/src/x0.zip" "$SPOOL/done/x.zip"
	cmp "$T/src/x1.zip" "$SPOOL/done/x.zip.~$j1~"
	cmp "$T/src/x2.zip" "$SPOOL/done/x.zip.~$j2~"
	# each has its own records
	[ -s "$SPOOL/done/x.zip.log" ] && [ -s "$SPOOL/done/x.zip.~$j1~.log" ] &&
	    [ -s "$SPOOL/done/x.zip.~$j2~.log" ] || fail "records missing: $(ls "$SPOOL/done" | tr '\n' ' ')"
	[ "$(sed -n 's/.* filed=\([^ ]*\).*/\1/p' "$SPOOL/journal" | tr '\n' ' ')" = \
	    "done/x.zip done/x.zip.~$j1~ done/x.zip.~$j2~ " ] || fail "journal filed= fields: $(cat "$SPOOL/journal")"
	stop_daemon
}

@test "filing names are O(1) whatever the history: after 100,000 earlier DCIM.zip a new one is filed at once" {
	write_conf workers=1
	start_daemon
	# The names numbered backups would have used, and the packet's own.
	"$PY" -c 'import os, sys
d = sys.argv[1]
for i in range(1, 100001):
    os.close(os.open("%s/DCIM.zip.~%d~" % (d, i), os.O_CREAT | os.O_WRONLY, 0o640))
os.close(os.open(d + "/DCIM.zip", os.O_CREAT | os.O_WRONLY, 0o640))' "$SPOOL/done"
	make_packet "$T/src" DCIM.zip
	drop DCIM.zip "$T/src/DCIM.zip"
	wait_for all_finished
	local stem dur
	stem=$(sed -n 's/.* filed=done\/\([^ ]*\).*/\1/p' "$SPOOL/journal")
	dur=$(journal_field DCIM.zip dur_ms)
	[[ $stem =~ ^DCIM\.zip\.~[0-9a-f]{16}~$ ]] || fail "filed as $stem"
	cmp "$T/src/DCIM.zip" "$SPOOL/done/$stem"
	[ "$dur" -lt 1000 ] || fail "filing took dur_ms=$dur"
	stop_daemon
}

@test "a packet named like another packet's record does not overwrite the record" {
	write_conf
	quick_handler
	start_daemon
	make_packet "$T/src" a.zip
	drop a.zip "$T/src/a.zip"
	wait_for journal_has 1
	local before
	before=$(cat "$SPOOL/done/a.zip.log")
	[ -n "$before" ]
	make_packet "$T/src" a.zip.log
	drop a.zip.log "$T/src/a.zip.log"
	wait_for journal_has 2
	[ "$(cat "$SPOOL/done/a.zip.log")" = "$before" ] || fail "done/a.zip.log (a record) was overwritten"
	cmp "$T/src/a.zip" "$SPOOL/done/a.zip"
	# the second packet is filed somewhere under its own name, intact
	local f
	f=$(sed -n '2s/.* filed=\([^ ]*\).*/\1/p' "$SPOOL/journal")
	[ -n "$f" ] && [ "$f" != done/a.zip.log ] || fail "second packet filed as '$f'"
	cmp "$T/src/a.zip.log" "$SPOOL/$f"
	no_jobs
	stop_daemon
}

@test "a symlink dropped in the inbox goes to failed/ with reason=symlink; its target is untouched" {
	write_conf
	quick_handler
	start_daemon
	make_packet "$T" target.zip
	mkdir "$T/targetdir"
	echo keep >"$T/targetdir/file"
	local sum before
	sum=$(sha256sum "$T/target.zip")
	before=$(stat -c '%i %s %Y %h' "$T/target.zip" "$T/targetdir" "$T/targetdir/file")
	ln -s "$T/target.zip" "$T/stage/link.zip"
	ln -s "$T/targetdir" "$T/stage/linkdir"
	# One mv each: given several, GNU mv stats each destination after its
	# rename, and the daemon may have claimed it by then.
	mv "$T/stage/link.zip" "$SPOOL/inbox/"
	mv "$T/stage/linkdir" "$SPOOL/inbox/"
	printf '%s\n' link.zip linkdir >>"$T/dropped"
	wait_for all_finished
	assert_exactly_once
	local n
	for n in link.zip linkdir; do
		[ -L "$SPOOL/failed/$n" ] || fail "failed/$n is not the symlink: $(ls -l "$SPOOL/failed" "$SPOOL/done")"
		grep -q 'reason=symlink' "$SPOOL/failed/$n.error" || fail "failed/$n.error: $(cat "$SPOOL/failed/$n.error")"
		[[ $(journal_field "$n" reason) == symlink* ]] || fail "journal reason for $n: $(journal_field "$n" reason)"
		[ "$(journal_field "$n" outcome)" = failed ]
	done
	[ ! -e "$T/out/ran" ] || fail "the handler ran for a symlink: $(cat "$T/out/ran")"
	[ "$(sha256sum "$T/target.zip")" = "$sum" ]
	[ "$(stat -c '%i %s %Y %h' "$T/target.zip" "$T/targetdir" "$T/targetdir/file")" = "$before" ]
	[ "$(ls -A "$T/targetdir")" = file ]
	stop_daemon
}

@test "a second daemon on the same spool exits 75 with a clear message; the first keeps working" {
	write_conf
	start_daemon
	run_ingestd -c "$CONF"
	[ "$status" -eq 75 ] || fail "second daemon: status $status, stderr: $stderr"
	[[ $stderr == *"$SPOOL"* ]] || fail "message does not name the spool: $stderr"
	grep -qiE 'another|already|running|locked|in use' <<<"$stderr" || fail "unclear message: $stderr"
	# stderr is not a terminal here, so the reason is one logfmt line for the service's log
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ] || fail "more than one line: $stderr"
	[[ $stderr == "level=fatal role=supervisor pid="*" event=start error=\""*'"' ]] ||
	    fail "not logfmt: $stderr"
	# the same with the spool given by -d
	run_ingestd -c "$CONF" -d "$SPOOL"
	[ "$status" -eq 75 ] || fail "second daemon with -d: status $status, stderr: $stderr"
	alive "$DAEMON_PID"
	drop after.zip
	wait_for all_finished
	assert_exactly_once
	stop_daemon
}

@test "packets dropped while the daemon starts are all processed (200)" {
	write_conf workers=2
	mkdir -p "$SPOOL/inbox"
	# 50 are there before it starts (the first scan), 150 arrive during start-up
	# and after, one every 2 ms, starting before the watch is even set.
	drop_many 50 pre
	start_daemon_nowait
	drop_many 150 during 2 3>&- &
	local dropper=$!
	wait_ready
	wait "$dropper"
	[ "$(wc -l <"$T/dropped")" -eq 200 ]
	wait_until 60 all_finished || true
	assert_exactly_once
	[ "$(count_packets done)" -eq 200 ]
	stop_daemon
}

@test "the message queue has no name while the daemon runs: a SIGKILL leaves none behind" {
	write_conf
	start_daemon
	local fd found
	fd=$(queue_fd) || fail "the supervisor holds no queue: $(ls -l /proc/"$DAEMON_PID"/fd)"
	found=$(readlink "$fd")
	[[ $found == *" (deleted)" ]] || fail "the queue still has its name: $found"
	drop q.zip
	wait_for all_finished
	assert_exactly_once
	stop_daemon
}
