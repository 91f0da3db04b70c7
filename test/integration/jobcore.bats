#!/usr/bin/env bats
# The job core (issue 10): nothing holds a worker through a pause, every job a
# worker lets go of is handed on, failures of the system cost time and never a
# job or a record, and a failed sync is never trusted.

load helpers

# with_faults SPEC: run the daemon under faultshim.so with FAULTSHIM=SPEC; the
# rules apply once "arm" was called.
with_faults() {
	command -v cc >/dev/null || skip "no C compiler"
	cc -shared -fPIC -O2 -o "$T/faultshim.so" "$IT_BIN/faultshim.c" -ldl ||
	    fail "cannot build the fault shim"
	mkdir -p "$T/faults"
	local real=$INGESTD
	cat >"$T/ingestd-faults" <<-EOF
	#!/bin/sh
	LD_PRELOAD='$T/faultshim.so' FAULTSHIM='$1' FAULTSHIM_DIR='$T/faults' \
	ASAN_OPTIONS='${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0' exec '$real' "\$@"
	EOF
	chmod +x "$T/ingestd-faults"
	INGESTD=$T/ingestd-faults
}
arm() { : >"$T/faults/armed"; }
injected() { cat "$T"/faults/count.* 2>/dev/null | tr -d -- - | wc -c; }

# A handler that exits 75 the first time it sees a packet named slow*, and
# records every run.
tempfail_handler() {
	handler_script tempfail >/dev/null <<-'EOF'
	echo "$INGEST_NAME $INGEST_ATTEMPT" >>"$T/out/ran"
	case $INGEST_NAME in
	slow*) [ "$INGEST_ATTEMPT" -gt 1 ] || exit 75 ;;
	esac
	exit 0
	EOF
	use_handler tempfail "$@"
}

# all_rotated_finished N: N packets in done/, no job left (the journal may be rotated).
all_rotated_finished() { [ "$(count_packets done)" -ge "$1" ] && no_jobs; }

# assert_journals_whole: across journal, journal.1, ...: every line whole, no job twice.
assert_journals_whole() {
	local bad
	bad=$(cat "$SPOOL"/journal.[0-9]* "$SPOOL/journal" | awk '
		!/^ *ts=[0-9-]+T[0-9:.]+Z job=[0-9a-f]+ / { print "malformed: " $0; next }
		/ event=/ { next }
		{ match($0, / job=[0-9a-f]+ /); j = substr($0, RSTART, RLENGTH); if (seen[j]++) print "twice: " j }' | head -5)
	[ -z "$bad" ] || fail "$bad"
}

status_json() { run "$INGESTD" status -d "$SPOOL" --json; [ "$status" -eq 0 ]; STATUS=$output; }
deferred_is() { status_json && [ "$(jq -r '.deferred | length' <<<"$STATUS")" -eq "$1" ]; }

@test "exit 75 defers the job: the only worker takes other packets meanwhile; status shows it and when it is due" {
	write_conf workers=1
	cat >>"$CONF" <<-EOF
	metrics_file: $T/metrics.prom
	metrics_interval: 1s
	EOF
	tempfail_handler "retries: 3" "backoff: 3s" "backoff_max: 3s"
	start_daemon
	drop slow.zip
	wait_for deferred_is 1
	wait_until 5 metric_is "$T/metrics.prom" ingestd_jobs_deferred 1 ||
	    fail "metrics: $(grep deferred "$T/metrics.prom")"
	[ "$(jq -r '.deferred[0].packet' <<<"$STATUS")" = slow.zip ] || fail "$STATUS"
	[ "$(jq -r '.deferred[0].attempts' <<<"$STATUS")" -eq 1 ] || fail "$STATUS"
	[ "$(jq -r '.deferred[0].due_in_s' <<<"$STATUS")" -le 3 ] || fail "$STATUS"
	[ -n "$(ls "$SPOOL/defer")" ]
	# While it waits, the one worker files another packet.
	drop fast.zip
	wait_until 2 filed fast.zip || fail "fast.zip waited behind slow.zip's pause"
	! filed slow.zip
	run "$INGESTD" status -d "$SPOOL"
	[[ $output == *"deferred: 1, the first due in"* && $output == *slow.zip* ]] || fail "$output"
	wait_for all_finished
	assert_exactly_once
	[ "$(journal_field slow.zip attempts)" -eq 2 ]
	[ "$(grep -c '^slow.zip ' "$T/out/ran")" -eq 2 ]
	stop_daemon
}

@test "HUP while a job waits for its retry: it runs when due, not at the next start" {
	write_conf workers=2
	tempfail_handler "retries: 3" "backoff: 2s" "backoff_max: 2s"
	start_daemon
	drop slow.zip
	wait_for deferred_is 1
	kill -HUP "$DAEMON_PID"
	wait_for log_has "event=reload status=ok"
	now_us
	local t0=$NOW_US
	wait_until 6 filed slow.zip || fail "slow.zip not filed 6 s after the HUP (backoff 2s)"
	wait_for all_finished
	assert_exactly_once
	stop_daemon
}

@test "a job directory nobody holds appears in work/ while the daemon runs: the sweep hands it on within seconds" {
	write_conf workers=1
	start_daemon
	local id
	id=$(printf '%016x' "$(( $(date +%s%N) ))")
	mkdir -p "$SPOOL/work/$id/pkt"
	make_packet "$SPOOL/work/$id/pkt" orphan.zip
	echo orphan.zip >>"$T/dropped"
	wait_until 4 filed orphan.zip || fail "work/$id was not taken over within 4 s"
	wait_for all_finished
	assert_exactly_once
	[ "$(journal_field orphan.zip job)" = "$id" ]
	log_has "event=offer job=$id crashes=0"
	stop_daemon
}

@test "a journal append cut short by a full disk leaves no fragment that counts: the job's one whole line comes later" {
	with_faults "write:journal:short:1"
	write_conf workers=1
	start_daemon
	arm
	drop torn.zip
	wait_for all_finished
	[ "$(injected)" -eq 1 ] || fail "the shim did not cut the append"
	assert_exactly_once
	# The fragment is blank where it lay; the next line begins after the spaces.
	grep -q '^ *ts=.* job=.* name=torn.zip outcome=done .* filed=done/torn.zip$' "$SPOOL/journal" ||
	    fail "journal: $(cat -A "$SPOOL/journal")"
	[ "$(grep -c 'torn.zip' "$SPOOL/journal")" -eq 1 ] || fail "journal: $(cat -A "$SPOOL/journal")"
	log_has "event=deferred job=[0-9a-f]+ name=torn.zip .*why=journal"
	stop_daemon
}

@test "ENOSPC while its records move: the job waits and is filed later with every record, none lost" {
	with_faults "renameat2:log:ENOSPC:2,renameat2:manifest.json:ENOSPC:1"
	write_conf workers=1
	handler_script talk >/dev/null <<-'EOF'
	echo "the handler's output for $INGEST_NAME"
	EOF
	use_handler talk "backoff: 200ms" "backoff_max: 400ms"
	start_daemon
	arm
	drop rec.zip
	wait_for all_finished
	[ "$(injected)" -eq 3 ] || fail "injected $(injected) faults, expected 3"
	assert_exactly_once
	grep -q "the handler's output for rec.zip" "$SPOOL/done/rec.zip.log" || fail "no .log"
	[ -s "$SPOOL/done/rec.zip.json" ] || fail "no .json"
	log_has "event=file_retry job=[0-9a-f]+ name=rec.zip step=rename"
	stop_daemon
}

@test "a failed fdatasync of the journal is not trusted: the batch waits, the line is written again, synced, then filed" {
	with_faults "fdatasync:journal:EIO:1"
	write_conf workers=1
	cat >>"$CONF" <<-EOF
	handler:
	  backoff: 200ms
	  backoff_max: 400ms
	EOF
	start_daemon
	arm
	drop eio.zip
	wait_for all_finished
	[ "$(injected)" -eq 1 ]
	assert_exactly_once
	log_has "event=journal_sync jobs=1"
	log_has "event=file_retry job=[0-9a-f]+ name=eio.zip step=journal_sync"
	log_has "event=journal_rewrite job=[0-9a-f]+ why="
	# counted done only after a sync that worked
	[ "$(log_count 'event=done job=[0-9a-f]+ name=eio.zip')" -eq 1 ]
	local a b
	a=$(grep -n 'event=file_retry .*eio.zip' "$LOG" | head -1 | cut -d: -f1)
	b=$(grep -n 'event=done .*eio.zip' "$LOG" | head -1 | cut -d: -f1)
	[ "$a" -lt "$b" ]
	stop_daemon
}

@test "a packet whose name holds a newline, a tab and quotes is filed whole, also when its filing is resumed" {
	local n=$'new\nline\t"q".zip'
	# The packet's rename into done/ (not its claim) fails once: the job waits,
	# committed, and is resumed from its line.
	with_faults "renameat2:$n:ENOSPC:1:1"
	write_conf workers=1
	cat >>"$CONF" <<-EOF
	handler:
	  backoff: 200ms
	  backoff_max: 400ms
	EOF
	start_daemon
	arm
	make_packet "$T/src" x.zip
	cp "$T/src/x.zip" "$SPOOL/inbox/.tmp"
	mv "$SPOOL/inbox/.tmp" "$SPOOL/inbox/$n"
	wait_for journal_has 1
	[ "$(injected)" -eq 1 ] || fail "the rename did not fail"
	[ -e "$SPOOL/done/$n" ] || fail "done/: $(ls -b "$SPOOL/done")"
	cmp "$T/src/x.zip" "$SPOOL/done/$n"
	[ -e "$SPOOL/done/$n.json" ]
	grep -qF 'name="new\nline\x09\"q\".zip"' "$SPOOL/journal" || fail "$(cat "$SPOOL/journal")"
	[ "$(wc -l <"$SPOOL/journal")" -eq 1 ]
	log_has "event=recover job=[0-9a-f]+ name=.* state=COMMITTED"
	stop_daemon
}

@test "a worker killed while its handler runs: the job runs again only once the old handler's leftovers are dead" {
	write_conf workers=2
	handler_script leaves >/dev/null <<-'EOF'
	if [ "$INGEST_ATTEMPT" -eq 1 ]; then
		setsid sh -c 'while :; do sleep 0.01; done' </dev/null >/dev/null 2>&1 &
		echo $! >"$T/out/left.tmp"
		echo $PPID >"$T/out/worker"
		mv "$T/out/left.tmp" "$T/out/left"
		exec sleep 1000
	fi
	# The second run: is the first one's leftover still alive?
	if kill -0 "$(cat "$T/out/left")" 2>/dev/null; then echo overlap >>"$T/out/overlap"; fi
	echo "run $INGEST_ATTEMPT" >>"$T/out/ran"
	EOF
	use_handler leaves "timeout: 1h"
	start_daemon
	drop o.zip
	wait_for test -e "$T/out/left"
	local victim left
	left=$(cat "$T/out/left")
	victim=$(cat "$T/out/worker")
	[[ " $(worker_pids | tr '\n' ' ') " == *" $victim "* ]] || fail "$victim is not a worker"
	kill -KILL "$victim"
	wait_for all_finished
	assert_exactly_once
	[ ! -e "$T/out/overlap" ] || fail "the second run started while the first one's child lived"
	! alive "$left" || fail "the leftover $left lives on"
	[ "$(journal_field o.zip attempts)" -eq 2 ]
	stop_daemon
}

@test "journal_max: the journal rotates (journal.1, journal.2, the oldest removed) while 2,000 packets flow; no line lost or doubled" {
	write_conf workers=2
	cat >>"$CONF" <<-EOF
	journal_max: 64KiB
	journal_keep: 3
	EOF
	start_daemon
	drop_many 2000 r
	wait_for all_rotated_finished 2000
	[ "$(count_packets done)" -eq 2000 ] || fail "$(count_packets done) in done/"
	assert_journals_whole
	[ -s "$SPOOL/journal.1" ] && [ -s "$SPOOL/journal.2" ] && [ -s "$SPOOL/journal.3" ] ||
	    fail "$(ls -l "$SPOOL"/journal*)"
	[ ! -e "$SPOOL/journal.4" ] || fail "journal.4 kept: $(ls "$SPOOL"/journal*)"
	local f
	for f in "$SPOOL"/journal.[123]; do
		[ "$(stat -c %s "$f")" -ge 65536 ] || fail "$f rotated before it was full"
	done
	log_has "event=journal_rotated keep=3" 4
	stop_daemon
}

@test "retention: packets and their records leave done/ and failed/ once older than retention, newer ones stay; the janitor runs at nice 19" {
	write_conf workers=1
	cat >>"$CONF" <<-EOF
	retention:
	  done: 3s
	  failed: 3s
	EOF
	start_daemon
	drop old.zip
	echo "not an archive" >"$T/src/bad.bin"
	drop bad.bin "$T/src/bad.bin"
	wait_for all_finished
	[ -e "$SPOOL/done/old.zip" ] && [ -e "$SPOOL/done/old.zip.json" ] && [ -e "$SPOOL/failed/bad.bin.error" ]
	# a record left alone (on_success: delete leaves those) goes by its own age
	: >"$SPOOL/done/alone.zip.log"
	local jan
	jan=$(spawned janitor | tail -1)
	[ -n "$jan" ] || fail "no janitor was started"
	[ "$(awk '{ print $19 }' "/proc/$jan/stat")" -eq 19 ] || fail "janitor nice $(awk '{ print $19 }' "/proc/$jan/stat")"
	wait_until 8 dir_empty "done" || fail "done/: $(ls -A "$SPOOL/done")"
	wait_until 8 dir_empty failed || fail "failed/: $(ls -A "$SPOOL/failed")"
	drop young.zip
	wait_for filed young.zip
	# a second later it is still there: younger than 3s
	! wait_until 1 test ! -e "$SPOOL/done/young.zip" || fail "young.zip went before its time"
	log_has "event=retention dir=done removed=1"
	stop_daemon
}

@test "a worker SIGKILLed just before a clean stop leaves no spare directory in work/" {
	write_conf workers=2
	start_daemon
	drop warm.zip
	wait_for all_finished
	local w
	w=$(worker_pids | head -n 1)
	[ -n "$w" ] || fail "no worker"
	# Its spare is unowned from now on; the stop comes before any sweep can take it.
	kill -KILL "$w"
	stop_daemon
	[ -z "$(ls -A "$SPOOL/work")" ] || fail "left in work/: $(ls -A "$SPOOL/work")"
}
