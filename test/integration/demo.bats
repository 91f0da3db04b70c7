#!/usr/bin/env bats
# make run (issue 15): the demo config shows the handler's output on the
# terminal ingestd runs on, and one ^C stops it.

load helpers

@test "the demo config (make run) prints the handler's output on the terminal, and one ^C stops the daemon" {
	command -v script >/dev/null || skip "no script(1) to give ingestd a terminal"
	local demo=$BATS_TEST_DIRNAME/../../etc/demo.yml pid
	mkdir -p "$SPOOL/inbox"
	# script(1) gives the daemon a terminal of its own, as make run in a terminal has.
	INGESTD_TEST_TAG=$TAG script -qfec "$INGESTD -c $demo -d $SPOOL" "$T/tty.out" </dev/null \
	    >/dev/null 2>&1 3>&- &
	local script_pid=$!
	LOG=$T/tty.out
	wait_for grep -q 'event=ready' "$T/tty.out"
	drop demo1.zip
	wait_for grep -q "demo handler: demo1.zip in " "$T/tty.out"
	wait_for all_finished
	grep -q "demo handler: demo1.zip in " "$SPOOL/done/demo1.zip.log" || fail "not in the log too"
	# ^C: the terminal sends SIGINT to its foreground process group.
	pid=$(head -n 1 "$SPOOL/ingestd.lock")
	kill -INT -- "-$(ps -o tpgid= -p "$pid" | tr -d ' ')"
	wait_until 10 eval '! alive "$script_pid"' || fail "still running after one ^C"
	wait "$script_pid" || fail "exit status $?: $(tail -n 5 "$T/tty.out")"
	wait_until 5 no_test_procs || fail "left running: $(test_pids)"
}
