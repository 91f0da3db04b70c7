#!/usr/bin/env bats
# Under a real runsv (issue 2, test 3): runsv starts ./run, which execs ingestd
# in runsv's own process group; `sv down` must stop ingestd and everything it
# started, leave runsv and the log process alone, and see a clean exit.

load helpers

setup() {
	common_setup
	command -v runsv >/dev/null && command -v sv >/dev/null || skip "runit is not installed"
	SV=$T/sv
	RUNSV_PID=
}

# make_service: a private service dir whose run script execs ingestd -c CONF.
make_service() {
	mkdir -p "$SV/log"
	cat >"$SV/run" <<-EOF
	#!/bin/sh
	exec "$INGESTD" -c "$CONF" 2>&1
	EOF
	cat >"$SV/finish" <<-EOF
	#!/bin/sh
	echo "\$1 \$2" >>"$T/out/finish"
	EOF
	cat >"$SV/log/run" <<-EOF
	#!/bin/sh
	exec cat >>"$T/sv.log"
	EOF
	chmod +x "$SV/run" "$SV/finish" "$SV/log/run"
}

supervise_pid() { local p; p=$(cat "$1/supervise/pid" 2>/dev/null) && [ -n "$p" ] && echo "$p"; }
service_up() { [ -n "$(supervise_pid "$SV")" ] && [ -n "$(supervise_pid "$SV/log")" ]; }

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

handlers_started() { [ "$(find "$T/out" -name 'pids.*' ! -name '*.tmp' | wc -l)" -ge "$1" ]; }

# only_runit_left RUNSV LOGPID: of this test's processes only runsv and its
# log process are alive.
only_runit_left() { [ -z "$(test_pids_except "$1" "$2")" ]; }

@test "sv down under a real runsv: ingestd and its handlers are gone within grace + 1 s; runsv and the log process stay" {
	write_conf workers=4 shutdown_grace=1s
	sleeping_handler
	make_service
	LOG=$T/sv.log
	: >"$LOG"
	INGESTD_TEST_TAG=$TAG runsv "$SV" </dev/null >"$T/runsv.out" 2>&1 3>&- &
	RUNSV_PID=$!
	wait_for service_up
	DAEMON_PID=$(supervise_pid "$SV")
	local logpid
	logpid=$(supervise_pid "$SV/log")
	wait_ready
	# ingestd set up its own group, apart from runsv's
	[ "$(ps -o pgid= -p "$DAEMON_PID" | tr -d ' ')" = "$DAEMON_PID" ]
	[ "$(ps -o pgid= -p "$RUNSV_PID" | tr -d ' ')" != "$DAEMON_PID" ]
	local n
	for n in 1 2 3 4; do drop "r$n.zip"; done
	wait_for handlers_started 4
	local sup=$DAEMON_PID
	sv down "$SV" >/dev/null
	if ! wait_until 2 only_runit_left "$RUNSV_PID" "$logpid"; then
		fail "left after sv down: $(ps -o pid=,ppid=,pgid=,sid=,args= -p "$(test_pids_except "$RUNSV_PID" "$logpid" | paste -sd,)")"
	fi
	DAEMON_PID=
	alive "$RUNSV_PID" || fail "runsv died"
	alive "$logpid" || fail "the log process died"
	[ "$(supervise_pid "$SV/log")" = "$logpid" ] || fail "the log process was restarted"
	wait_for test -s "$T/out/finish"
	[ "$(cat "$T/out/finish")" = "0 0" ] || fail "./finish got exit code and signal: $(cat "$T/out/finish")"
	[[ $(sv status "$SV") == down:* ]] || fail "sv status: $(sv status "$SV")"
	[ -z "$(descendants_of "$sup")" ]
	[ "$(journal_count)" -eq 0 ]

	# sv up with a quick handler: the four interrupted packets are processed
	write_conf workers=4
	conf_add <<-EOF
	handler:
	  command: [/bin/true]
	EOF
	: >"$T/sv.log"
	sv up "$SV" >/dev/null
	wait_for all_finished
	assert_exactly_once
	[ "$(count_packets done)" -eq 4 ]
	sv down "$SV" >/dev/null
	wait_until 10 only_runit_left "$RUNSV_PID" "$logpid"
	[ "$(tail -n 1 "$T/out/finish")" = "0 0" ] || fail "./finish: $(cat "$T/out/finish")"
	sv exit "$SV" >/dev/null 2>&1 || true
	sv exit "$SV/log" >/dev/null 2>&1 || true
	wait_until 10 eval '! alive "$RUNSV_PID"'
	wait "$RUNSV_PID" || true
}
