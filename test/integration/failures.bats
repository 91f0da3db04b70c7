#!/usr/bin/env bats
# ingestd failed, show and retry (issue 15): what failed and why, and putting it
# back, read from and done on the spool itself, with or without a daemon.

load helpers

# A handler that fails each packet with the status its name asks for
# (x-3.zip exits 3), prints 30 numbered lines, and succeeds once T/out/ok exists.
failing_handler() {
	handler_script fail >/dev/null <<-'EOF'
	i=1
	while [ $i -le 30 ]; do echo "line $i of $INGEST_NAME"; i=$((i + 1)); done
	[ -e "$T/out/ok" ] && exit 0
	code=${INGEST_NAME##*-}
	exit "${code%%.*}"
	EOF
	use_handler fail
}

failed_json() { run_ingestd failed -d "$SPOOL" --json; [ "$status" -eq 0 ] || fail "failed --json: $status $stderr"; }

@test "failed: the failed packets, newest first, with when, attempts and reason; --json the same" {
	write_conf
	failing_handler
	start_daemon
	drop a-3.zip
	wait_for failed_has 1
	drop b-4.zip
	wait_for failed_has 2
	drop ok-0.zip
	wait_for all_finished
	run_ingestd failed -d "$SPOOL"
	[ "$status" -eq 0 ] || fail "status $status: $stderr"
	[ "$(wc -l <<<"$output")" -eq 3 ] || fail "want a header and two lines: $output"
	[[ $(sed -n 2p <<<"$output") =~ ^b-4\.zip\ +20[0-9-]+T[0-9:.]+Z\ +1\ +exit\ status=4$ ]] ||
	    fail "newest first: $output"
	[[ $(sed -n 3p <<<"$output") =~ ^a-3\.zip\ .*\ exit\ status=3$ ]] || fail "then a-3.zip: $output"
	failed_json
	[ "$(jq -r '[.[].name] | join(",")' <<<"$output")" = "b-4.zip,a-3.zip" ] || fail "$output"
	[ "$(jq -r '.[1] | [.packet, .filed, .attempts, .reason] | join("|")' <<<"$output")" = \
	    "a-3.zip|failed/a-3.zip|1|exit status=3" ] || fail "$output"
	[ "$(jq -r '.[1].job' <<<"$output")" = "$(journal_field a-3.zip job)" ] || fail "job: $output"
	[ "$(jq -r '.[1].when' <<<"$output")" = "$(journal_field a-3.zip ts)" ] || fail "when: $output"
	stop_daemon
}

@test "metrics: failures counted by the first word of their reason, every reason written, the sum the failed total" {
	local kw sum=0 v
	write_conf
	printf 'metrics_file: %s\nmetrics_interval: 1s\n' "$T/metrics.prom" >>"$CONF"
	failing_handler
	start_daemon
	wait_for test -e "$T/metrics.prom"
	# Before any failure every series is there, at 0.
	for kw in symlink type exit signal timeout exec tempfail crashed archive format plain limit link path manifest fetch permission other; do
		metric_is "$T/metrics.prom" "ingestd_jobs_failed_total{reason=\"$kw\"}" 0 || fail "no $kw series at 0: $(grep failed "$T/metrics.prom")"
	done
	drop a-3.zip
	drop b-4.zip
	ln -s /etc/passwd "$T/l.zip"
	mv "$T/l.zip" "$SPOOL/inbox/l.zip"
	wait_for failed_has 3
	wait_until 5 metric_is "$T/metrics.prom" 'ingestd_jobs_total{outcome="failed"}' 3 || fail "$(grep failed "$T/metrics.prom")"
	[ "$(metric "$T/metrics.prom" 'ingestd_jobs_failed_total{reason="exit"}')" = 2 ] || fail "$(grep failed "$T/metrics.prom")"
	[ "$(metric "$T/metrics.prom" 'ingestd_jobs_failed_total{reason="symlink"}')" = 1 ] || fail "$(grep failed "$T/metrics.prom")"
	for kw in symlink type exit signal timeout exec tempfail crashed archive format plain limit link path manifest fetch permission other; do
		v=$(metric "$T/metrics.prom" "ingestd_jobs_failed_total{reason=\"$kw\"}") || fail "no $kw series"
		sum=$((sum + v))
	done
	[ "$sum" -eq 3 ] || fail "the reasons add up to $sum, not 3"
	stop_daemon
}

@test "failed and show work without a daemon, as a user of the daemon's group, and take the reason from the journal when .error is gone" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to give the spool to a group"
	id nobody >/dev/null 2>&1 || skip "no user nobody"
	write_conf
	failing_handler
	start_daemon
	drop a-3.zip
	wait_for all_finished
	stop_daemon
	local d
	d=$(mktemp -d /tmp/ingestd-it.XXXXXX)
	EXTRA_DIRS+=("$d")
	chmod 755 "$d"
	mv "$SPOOL" "$d/spool"
	SPOOL=$d/spool
	chgrp -R nogroup "$SPOOL"
	rm "$SPOOL/failed/a-3.zip.error"
	run setpriv --reuid=nobody --regid=nogroup --clear-groups "$INGESTD" failed -d "$SPOOL" --json
	[ "$status" -eq 0 ] || fail "status $status: $output"
	[ "$(jq -r '.[0] | [.name, .reason, .attempts] | join("|")' <<<"$output")" = "a-3.zip|exit status=3|1" ] ||
	    fail "$output"
	run setpriv --reuid=nobody --regid=nogroup --clear-groups "$INGESTD" show -d "$SPOOL" a-3.zip
	[ "$status" -eq 0 ] || fail "show: status $status: $output"
	[[ $output == *"reason: exit status=3"* ]] || fail "show: $output"
	# a reader of another group may not look
	run setpriv --reuid=nobody --regid=54321 --clear-groups "$INGESTD" failed -d "$SPOOL"
	[ "$status" -eq 77 ] || [ "$status" -eq 66 ] || fail "outsider: status $status: $output"
}

@test "show: the packet's journal lines, its reason, its manifest and the end of its log" {
	write_conf
	failing_handler
	start_daemon
	drop a-3.zip
	wait_for all_finished
	run_ingestd show -d "$SPOOL" a-3.zip
	[ "$status" -eq 0 ] || fail "status $status: $stderr"
	[[ $output == *"packet: failed/a-3.zip"* ]] || fail "$output"
	[[ $output == *"reason: exit status=3"* ]] || fail "$output"
	[[ $output == *"attempts: 1"* ]] || fail "$output"
	grep -qF "  $(grep ' name=a-3.zip ' "$SPOOL/journal")" <<<"$output" || fail "no journal line: $output"
	[[ $output == *'"source":"ingestd-integration"'* ]] || fail "no manifest: $output"
	[[ $output == *"line 30 of a-3.zip"* && $output == *"line 11 of a-3.zip"* ]] || fail "no log tail: $output"
	[[ $output != *"line 10 of a-3.zip"* ]] || fail "more than the last 20 lines: $output"
	run_ingestd show -d "$SPOOL" nothing-such.zip
	[ "$status" -eq 66 ] || fail "unknown name: status $status: $stderr"
	[[ $stderr == *nothing-such.zip* ]] || fail "$stderr"
	stop_daemon
}

@test "retry NAME: the packet goes back by rename, its old records are kept as .retried-JOB, one event=retried line; it runs again" {
	write_conf
	failing_handler
	start_daemon
	drop a-3.zip
	wait_for all_finished
	local job ino
	job=$(journal_field a-3.zip job)
	ino=$(stat -c %i "$SPOOL/failed/a-3.zip")
	touch "$T/out/ok"
	run_ingestd retry -d "$SPOOL" a-3.zip
	[ "$status" -eq 0 ] || fail "status $status: $stderr"
	[[ $output == *"failed/a-3.zip -> inbox/a-3.zip"* ]] || fail "$output"
	wait_for test -e "$SPOOL/done/a-3.zip"
	wait_for all_finished
	[ "$(stat -c %i "$SPOOL/done/a-3.zip")" = "$ino" ] || fail "not the same file: a copy, not a rename"
	[ -f "$SPOOL/failed/a-3.zip.retried-$job.error" ] || fail "old .error: $(ls "$SPOOL/failed")"
	[ -f "$SPOOL/failed/a-3.zip.retried-$job.log" ] || fail "old .log: $(ls "$SPOOL/failed")"
	[ ! -e "$SPOOL/failed/a-3.zip" ] && [ ! -e "$SPOOL/failed/a-3.zip.error" ] || fail "$(ls "$SPOOL/failed")"
	[ "$(grep -c ' event=retried ' "$SPOOL/journal")" -eq 1 ] || fail "$(cat "$SPOOL/journal")"
	grep -qE "^ts=[^ ]+ event=retried name=a-3.zip from=failed/a-3.zip records=failed/a-3.zip.retried-$job\$" \
	    "$SPOOL/journal" || fail "the line: $(grep retried "$SPOOL/journal")"
	[ "$(journal_field a-3.zip outcome)" = "done" ] || fail "$(cat "$SPOOL/journal")"
	# the retried records are history, not a failure
	failed_json
	[ "$output" = "[]" ] || fail "failed lists: $output"
	stop_daemon
}

@test "retry --all --reason GLOB: only the failures whose reason matches; the rest stay" {
	write_conf
	failing_handler
	start_daemon
	drop a-3.zip
	drop b-4.zip
	drop c-4.zip
	wait_for all_finished
	touch "$T/out/ok"
	run_ingestd retry -d "$SPOOL" --all --reason 'exit status=4'
	[ "$status" -eq 0 ] || fail "status $status: $stderr"
	[ "$(grep -c '^retried ' <<<"$output")" -eq 2 ] || fail "$output"
	wait_for test -e "$SPOOL/done/b-4.zip" -a -e "$SPOOL/done/c-4.zip"
	wait_for all_finished
	[ -e "$SPOOL/failed/a-3.zip" ] || fail "a-3.zip was retried: $(ls "$SPOOL/failed")"
	run_ingestd retry -d "$SPOOL" --reason 'timeout*' a-3.zip
	[ -e "$SPOOL/failed/a-3.zip" ] || fail "a-3.zip was retried though its reason differs"
	run_ingestd retry -d "$SPOOL" --all
	[ "$status" -eq 0 ] || fail "--all: status $status: $stderr"
	wait_for test -e "$SPOOL/done/a-3.zip"
	wait_for all_finished
	run_ingestd retry -d "$SPOOL"
	[ "$status" -eq 64 ] || fail "neither names nor --all: status $status"
	stop_daemon
}

@test "retry with no daemon running: the packet waits in the inbox and the next start takes it; a name taken in the inbox is refused" {
	write_conf
	failing_handler
	start_daemon
	drop a-3.zip
	drop b-3.zip
	wait_for all_finished
	stop_daemon
	run_ingestd retry -d "$SPOOL" a-3.zip
	[ "$status" -eq 0 ] || fail "status $status: $stderr"
	[ -e "$SPOOL/inbox/a-3.zip" ] || fail "not in the inbox: $(ls -A "$SPOOL/inbox")"
	echo other >"$SPOOL/inbox/b-3.zip"
	run_ingestd retry -d "$SPOOL" b-3.zip
	[ "$status" -eq 73 ] || fail "taken name: status $status: $stderr"
	[ -e "$SPOOL/failed/b-3.zip" ] && [ -e "$SPOOL/failed/b-3.zip.error" ] || fail "b-3.zip moved"
	rm "$SPOOL/inbox/b-3.zip"
	run_ingestd retry -d "$SPOOL" nothing-such.zip
	[ "$status" -eq 66 ] || fail "unknown: status $status"
	touch "$T/out/ok"
	start_daemon
	wait_for test -e "$SPOOL/done/a-3.zip"
	echo a-3.zip >>"$T/dropped"
	wait_for all_finished
	[ "$(journal_field a-3.zip outcome)" = "done" ] || fail "$(cat "$SPOOL/journal")"
	[ "$(journal_count)" -eq 3 ] || fail "three jobs' lines, the retried one not counted: $(cat "$SPOOL/journal")"
	stop_daemon
}
