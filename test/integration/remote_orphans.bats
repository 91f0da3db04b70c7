#!/usr/bin/env bats
# ingestd(8): the children die with the supervisor. Here each remote child is
# inside a blocking libcurl call when the supervisor is killed with SIGKILL
# (and nothing else is): a worker waiting for the headers of a GET, an S3
# source waiting for a listing, the notifier waiting for its POST to be
# answered. The server accepts and never answers. Every process must be gone
# within 2 s (the progress callback runs about once a second even on a dead
# connection), and nothing may be written into the journal after the kill.

load helpers
load ../remote/lib

teardown() {
	stop_servers
	common_teardown
}

journal_size() { stat -c %s "$SPOOL/journal" 2>/dev/null || echo 0; }

@test "kill -9 of the supervisor ends a worker, a source and the notifier stuck in libcurl" {
	start_blackhole "$T/bh"
	write_conf workers=2
	conf_add <<-EOF
	handler:
	  command: [/bin/true]
	fetch:
	  connect_timeout: 30s
	  low_speed_limit: 1
	  low_speed_time: 60s
	  protocols: [http]
	sources:
	  - s3:
	      endpoint: http://127.0.0.1:$BH_PORT
	      region: us-east-1
	      bucket: b
	      poll: 300ms
	notify:
	  url: http://127.0.0.1:$BH_PORT/hook
	  timeout: 60s
	  retries: 0
	EOF
	export AWS_ACCESS_KEY_ID=AKID AWS_SECRET_ACCESS_KEY=secret
	start_daemon
	# One finished job gives the notifier a POST to make.
	drop p.zip
	wait_for journal_has 1
	mkdir -p "$SPOOL/inbox"
	printf 'http://127.0.0.1:%s/never\n' "$BH_PORT" >"$SPOOL/inbox/.u.tmp"
	mv "$SPOOL/inbox/.u.tmp" "$SPOOL/inbox/never.bin.url"
	# The listing, the POST and the GET are each held by the server.
	wait_for blackhole_has 3
	wait_for log_has 'event=fetch name=never.bin '
	[ -n "$(test_pids_except "$DAEMON_PID")" ]
	local before
	before=$(journal_size)
	kill -KILL "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=
	wait_until 2 no_test_procs || fail "still alive 2 s after the kill: $(ps -o pid,args -p "$(test_pids | paste -sd,)")"
	[ "$(journal_size)" -eq "$before" ] || fail "journal written after the kill: $(tail -n 2 "$SPOOL/journal")"
	mq_cleanup
}
