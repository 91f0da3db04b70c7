#!/usr/bin/env bats
# Command line, configuration and start-up errors (issue 2, tests 7): exit codes
# from sysexits.h, FILE:LINE: reason for config errors, paths in spool errors.

load helpers

# conf_error LINE: the last run failed with 78 and said CONF:LINE: reason.
conf_error() {
	[ "$status" -eq 78 ] || fail "exit status $status, want 78 (EX_CONFIG); stderr: $stderr"
	[[ $stderr == *"$CONF:$1: "?* ]] || fail "stderr does not say $CONF:$1: reason; it says: $stderr"
}

@test "an unknown key is an error with FILE:LINE, exit 78 (-t and a real start)" {
	cat >"$CONF" <<-EOF
	# line 1
	spool: $SPOOL
	workers: 2
	bogus_key: 1
	packet:
	  manifest_required: false
	EOF
	run_ingestd -t -c "$CONF"
	conf_error 4
	[[ $stderr == *bogus_key* ]] || fail "the message does not name the key: $stderr"
	run_ingestd -c "$CONF"
	conf_error 4
}

@test "an unknown key inside handler: is an error at its own line" {
	cat >"$CONF" <<-EOF
	spool: $SPOOL
	handler:
	  command: [/bin/true]
	  retries: 2
	  colour: red
	EOF
	run_ingestd -t -c "$CONF"
	conf_error 5
	[[ $stderr == *colour* ]]
}

@test "a bad duration is an error with FILE:LINE, exit 78" {
	cat >"$CONF" <<-EOF
	spool: $SPOOL
	shutdown_grace: 5 parsecs
	EOF
	run_ingestd -t -c "$CONF"
	conf_error 2
	cat >"$CONF" <<-EOF
	spool: $SPOOL
	workers: 2

	handler:
	  command: [/bin/true]
	  timeout: 10x
	EOF
	run_ingestd -t -c "$CONF"
	conf_error 6
	run_ingestd -c "$CONF"
	conf_error 6
}

@test "a value of the wrong type is an error with FILE:LINE, exit 78" {
	cat >"$CONF" <<-EOF
	spool: $SPOOL
	settle: 1s
	workers: [1, 2]
	EOF
	run_ingestd -t -c "$CONF"
	conf_error 3
	cat >"$CONF" <<-EOF
	spool: $SPOOL
	handler: yes
	EOF
	run_ingestd -t -c "$CONF"
	conf_error 2
	cat >"$CONF" <<-EOF
	spool: $SPOOL
	workers: many
	EOF
	run_ingestd -t -c "$CONF"
	conf_error 2
}

@test "-T on a good config exits 0 and prints the effective settings, which load again" {
	write_conf workers=3 settle=750ms shutdown_grace=4s
	conf_add <<-EOF
	handler:
	  command: [/bin/echo, '{name}']
	  timeout: 90s
	  retries: 4
	EOF
	run_ingestd -T -c "$CONF"
	[ "$status" -eq 0 ] || fail "status $status: $stderr"
	grep -qE '^workers: *3$' <<<"$output" || fail "workers: 3 not in: $output"
	grep -qF "$SPOOL" <<<"$output" || fail "spool not in: $output"
	grep -qE '^ +retries: *4$' <<<"$output" || fail "handler retries: 4 not in: $output"
	grep -q 'echo' <<<"$output" || fail "handler command not in: $output"
	# what -t prints is a config ingestd accepts, with the same settings
	echo "$output" >"$T/printed.yml"
	local first=$output
	run_ingestd -T -c "$T/printed.yml"
	[ "$status" -eq 0 ] || fail "the printed settings do not load: $stderr"
	[ "$(grep -v "^#" <<<"$output")" = "$(grep -v "^#" <<<"$first")" ] ||
	    fail "a second round trip differs: $(diff <(echo "$first") <(echo "$output"))"
	# nothing was created by a check
	[ ! -e "$SPOOL" ]
}

@test "with no config file at all the built-in defaults apply" {
	[ ! -e /etc/ingestd/ingestd.yml ] || skip "/etc/ingestd/ingestd.yml exists on this machine"
	run_ingestd -T
	[ "$status" -eq 0 ] || fail "status $status: $stderr"
	grep -qE "^workers: *$(nproc)\$" <<<"$output" || fail "default workers is not the CPU count ($(nproc)): $output"
	grep -qE '^settle: *2s$' <<<"$output" || fail "default settle is not 2s: $output"
	grep -qE '^shutdown_grace: *5s$' <<<"$output" || fail "default shutdown_grace is not 5s: $output"
}

@test "-c with a missing file: an error naming the file" {
	run_ingestd -t -c "$T/nonexistent.yml"
	[ "$status" -eq 66 ] || [ "$status" -eq 78 ] || fail "status $status: $stderr"
	[[ $stderr == *"$T/nonexistent.yml"* ]] || fail "the file is not named: $stderr"
}

@test "usage: unknown options and bad values exit 64; -V and -h exit 0" {
	run_ingestd -Z
	[ "$status" -eq 64 ] || fail "-Z: status $status"
	[[ "$stderr$output" == *-c* ]] || fail "-Z does not show the usage: $stderr"
	run_ingestd -w abc -t
	[ "$status" -eq 64 ] || fail "-w abc: status $status: $stderr"
	run_ingestd -w 0 -t
	[ "$status" -eq 64 ] || fail "-w 0: status $status: $stderr"
	run_ingestd extra-operand
	[ "$status" -eq 64 ] || fail "an operand: status $status: $stderr"
	run_ingestd -V
	[ "$status" -eq 0 ]
	[[ $output =~ [0-9]+\.[0-9]+ ]] || fail "-V prints no version: $output"
	run_ingestd -h
	[ "$status" -eq 0 ]
	[[ "$output$stderr" == *-c* && "$output$stderr" == *-d* && "$output$stderr" == *-w* ]] ||
	    fail "-h: $output $stderr"
}

@test "--help and --version, GNU style: on stdout, exit 0, for the daemon and every command" {
	local cmd
	run_ingestd --version
	[ "$status" -eq 0 ] || fail "--version: status $status: $stderr"
	[[ $output =~ ^ingestd\ [0-9]+\.[0-9]+ ]] || fail "--version: $output"
	[ -z "$stderr" ] || fail "--version wrote to stderr: $stderr"
	run_ingestd --help
	[ "$status" -eq 0 ] || fail "--help: status $status: $stderr"
	[[ $output == usage:* && $output == *-T* && $output == *retry* ]] || fail "--help: $output"
	[ -z "$stderr" ] || fail "--help wrote to stderr: $stderr"
	for cmd in status failed show retry; do
		run_ingestd "$cmd" --help
		[ "$status" -eq 0 ] || fail "$cmd --help: status $status: $stderr"
		[[ $output == *"usage: ingestd $cmd"* ]] || fail "$cmd --help: $output"
		run_ingestd "$cmd" --version
		[ "$status" -eq 0 ] || fail "$cmd --version: status $status: $stderr"
		[[ $output =~ ^ingestd\ [0-9]+\.[0-9]+ ]] || fail "$cmd --version: $output"
	done
	run_ingestd --no-such-option
	[ "$status" -eq 64 ] || fail "--no-such-option: status $status"
}

@test "-t says FILE: configuration OK in one line, checks nothing into being, and -T prints the settings" {
	write_conf
	run_ingestd -t -c "$CONF"
	[ "$status" -eq 0 ] || fail "status $status: $stderr"
	[ "$output" = "$CONF: configuration OK" ] || fail "stdout: $output"
	[ -z "$stderr" ] || fail "stderr: $stderr"
	[ ! -e "$SPOOL" ] || fail "-t created the spool"
	run_ingestd -T -c "$CONF"
	[ "$status" -eq 0 ] || fail "-T: status $status: $stderr"
	grep -qE '^workers: *2$' <<<"$output" || fail "-T: $output"
}

@test "a misspelt top-level key suggests the nearest valid one" {
	cat >"$CONF" <<-EOF
	spool: $SPOOL
	wrokers: 2
	EOF
	run_ingestd -t -c "$CONF"
	conf_error 2
	[[ $stderr == *'unknown key \"wrokers\" (did you mean \"workers\"?)'* ]] || fail "stderr: $stderr"
	run_ingestd -c "$CONF"
	conf_error 2
	[[ $stderr == *'did you mean \"workers\"?'* ]] || fail "stderr: $stderr"
}

@test "config errors: one logfmt line (file=, line=, error=) for a log, FILE:LINE: reason on a terminal" {
	command -v script >/dev/null || skip "no script(1) to give ingestd a terminal"
	cat >"$CONF" <<-EOF
	spool: $SPOOL
	handler:
	  retries: lots
	EOF
	run_ingestd -c "$CONF"
	[ "$status" -eq 78 ] || fail "status $status"
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ] || fail "more than one line: $stderr"
	[[ $stderr == "level=fatal event=config file=$CONF line=3 error=\"$CONF:3: handler.retries: "* ]] ||
	    fail "not logfmt: $stderr"
	run_ingestd -t -c "$CONF"
	[[ $stderr == "level=fatal event=config file=$CONF line=3 error="* ]] || fail "-t: $stderr"
	# a terminal gets the line as a person reads it
	run script -qec "$INGESTD -t -c $CONF" /dev/null
	[ "$status" -eq 78 ] || fail "on a tty: status $status: $output"
	[[ $output == "$CONF:3: handler.retries: "* ]] || fail "on a tty: $output"
}

# as_root_of USER: the test needs root to check as another user.
need_root_and() {
	[ "$(id -u)" -eq 0 ] || skip "needs root, to check as another user"
	id "$1" >/dev/null 2>&1 || skip "no user $1"
}

@test "-t: a handler program that does not exist, or that the service user may not run, is named" {
	need_root_and nobody
	local d
	d=$(mktemp -d /tmp/ingestd-it.XXXXXX)
	EXTRA_DIRS+=("$d")
	chmod 755 "$d"
	printf '#!/bin/sh\nexit 0\n' >"$d/h.sh"
	chmod 700 "$d/h.sh"
	mkdir "$d/spool"
	chown nobody "$d/spool"
	write_conf spool="$d/spool"
	sed -i '/^allow_root:/d' "$CONF"
	conf_add <<-EOF
	user: nobody
	handler:
	  command: [$d/h.sh, "{path}"]
	EOF
	chmod 644 "$CONF"
	run_ingestd -t -c "$CONF"
	[ "$status" -eq 78 ] || fail "root-only handler: status $status: $output $stderr"
	[[ $stderr == *"handler.command: $d/h.sh is not executable by user nobody\""* ]] ||
	    fail "root-only handler: $stderr"
	chmod 755 "$d/h.sh"
	run_ingestd -t -c "$CONF"
	[ "$status" -eq 0 ] || fail "runnable handler: status $status: $stderr"
	sed -i "s|$d/h.sh|no-such-handler-$TAG|" "$CONF"
	run_ingestd -t -c "$CONF"
	[ "$status" -eq 78 ] || fail "missing handler: status $status: $stderr"
	[[ $stderr == *"program no-such-handler-$TAG not found in PATH"* ]] || fail "missing: $stderr"
	[[ $stderr == *" line=10 "* ]] || fail "not at the line of handler.command: $stderr"
	sed -i "s|no-such-handler-$TAG|true|" "$CONF"
	run_ingestd -t -c "$CONF"
	[ "$status" -eq 0 ] || fail "true, found in PATH: status $status: $stderr"
}

@test "-t: a spool the service user can neither write nor create is an error; nothing is created" {
	need_root_and nobody
	local d
	d=$(mktemp -d /tmp/ingestd-it.XXXXXX)
	EXTRA_DIRS+=("$d")
	chmod 755 "$d"
	mkdir -p "$d/ro/spool" "$d/closed"
	chmod 755 "$d/ro" "$d/ro/spool"
	chmod 700 "$d/closed"
	CONF=$d/a.yml SPOOL=$d/ro/spool write_conf
	CONF=$d/b.yml SPOOL=$d/ro/new/deeper/spool write_conf
	CONF=$d/c.yml SPOOL=$d/closed/spool write_conf
	local f
	for f in a b c; do sed -i '/^allow_root:/d' "$d/$f.yml"; echo "user: nobody" >>"$d/$f.yml"; done
	run_ingestd -t -c "$d/a.yml"
	[ "$status" -eq 78 ] || fail "read-only spool: status $status: $stderr"
	[[ $stderr == *"spool: $d/ro/spool is not writable by user nobody\""* ]] || fail "a: $stderr"
	run_ingestd -t -c "$d/b.yml"
	[ "$status" -eq 78 ] || fail "uncreatable spool: status $status: $stderr"
	[[ $stderr == *"spool: $d/ro/new/deeper/spool cannot be created: $d/ro is not writable by user nobody\""* ]] ||
	    fail "b: $stderr"
	[ ! -e "$d/ro/new" ] || fail "-t created $d/ro/new"
	run_ingestd -t -c "$d/c.yml"
	[ "$status" -eq 78 ] || fail "spool under a closed directory: status $status: $stderr"
	[[ $stderr == *"$d/closed"* ]] || fail "c: $stderr"
	chown nobody "$d/ro"
	run_ingestd -t -c "$d/b.yml"
	[ "$status" -eq 0 ] || fail "creatable once $d/ro is nobody's: status $status: $stderr"
	[ ! -e "$d/ro/new" ] || fail "-t created $d/ro/new"
}

@test "-d and -w override the config file" {
	write_conf spool="$T/not-this-one" workers=1
	start_daemon -d "$SPOOL" -w 3
	[ -d "$SPOOL/inbox" ]
	[ ! -e "$T/not-this-one" ]
	[ "$(worker_pids | wc -l)" -eq 3 ] || fail "workers: $(worker_pids | tr '\n' ' ')"
	drop over.zip
	wait_for all_finished
	assert_exactly_once
	stop_daemon
}

@test "a spool that cannot be created (under a regular file): exit 73, the message names the path" {
	echo "not a directory" >"$T/plainfile"
	write_conf spool="$T/plainfile/spool"
	run_ingestd -c "$CONF"
	[ "$status" -eq 73 ] || fail "status $status, want 73 (EX_CANTCREAT): $stderr"
	[[ $stderr == *"$T/plainfile"* ]] || fail "the path is not named: $stderr"
	[ "$(cat "$T/plainfile")" = "not a directory" ]
}

# as_nobody CMD...: run CMD under `run` as an unprivileged user.
as_nobody() {
	if [ "$(id -u)" -ne 0 ]; then
		run --separate-stderr "$@"
	elif command -v setpriv >/dev/null; then
		run --separate-stderr setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"
	elif command -v runuser >/dev/null; then
		run --separate-stderr runuser -u nobody -- "$@"
	elif command -v chpst >/dev/null; then
		run --separate-stderr chpst -u nobody:nogroup "$@"
	else
		skip "no setpriv, runuser or chpst to drop privileges"
	fi
}

@test "a spool the daemon cannot write or create (as an unprivileged user): 77 or 73, the message names the path" {
	id nobody >/dev/null 2>&1 || [ "$(id -u)" -ne 0 ] || skip "no user nobody"
	# bats' own temp dirs are private (0700): use one every user may enter
	local d bin=$INGESTD
	d=$(mktemp -d /tmp/ingestd-it.XXXXXX)
	EXTRA_DIRS+=("$d")
	mkdir -p "$d/spool/inbox" "$d/spool/work" "$d/spool/done" "$d/spool/failed" "$d/sub"
	CONF=$d/sub.yml SPOOL=$d/sub/spool write_conf
	CONF=$d/ro.yml SPOOL=$d/spool write_conf
	chmod 644 "$d"/*.yml
	if [ "$(id -u)" -eq 0 ]; then
		chmod 755 "$d" "$d/sub" "$d/spool" "$d/spool"/*
	else
		chmod 555 "$d/sub" "$d/spool" "$d/spool"/*
	fi
	if ! as_nobody test -x "$bin"; then
		cp "$INGESTD" "$d/ingestd"
		bin=$d/ingestd
	fi
	# an existing spool it may not write
	as_nobody env INGESTD_TEST_TAG="$TAG" timeout -k 2 15 "$bin" -c "$d/ro.yml"
	[ "$status" -eq 77 ] || [ "$status" -eq 73 ] || fail "read-only spool: status $status: $stderr"
	[[ $stderr == *"$d/spool"* ]] || fail "the path is not named: $stderr"
	# one it would have to create in a directory it may not write
	as_nobody env INGESTD_TEST_TAG="$TAG" timeout -k 2 15 "$bin" -c "$d/sub.yml"
	[ "$status" -eq 73 ] || [ "$status" -eq 77 ] || fail "uncreatable spool: status $status: $stderr"
	[[ $stderr == *"$d/sub"* ]] || fail "the path is not named: $stderr"
	[ ! -e "$d/sub/spool" ]
	chmod -R u+w "$d"
}

@test "metrics_mode: the metrics file is 0640 by default, whatever was there; a bad mode is a config error" {
	write_conf
	conf_add <<-EOF
	metrics_file: $T/metrics.prom
	metrics_interval: 1s
	EOF
	# an older daemon's 0644 file is replaced by one of the configured mode
	echo old >"$T/metrics.prom"
	chmod 0644 "$T/metrics.prom"
	start_daemon
	wait_for metric_is "$T/metrics.prom" ingestd_workers 2
	[ "$(stat -c %a "$T/metrics.prom")" = 640 ] || fail "mode $(stat -c %a "$T/metrics.prom")"
	stop_daemon
	echo 'metrics_mode: 0755' >>"$CONF"
	run_ingestd -t -c "$CONF"
	conf_error "$(wc -l <"$CONF")"
	[[ $stderr == *"is not a file mode"* ]] || fail "stderr: $stderr"
}

@test "log_time: auto (the default) leaves the time to svlogd or journald when stderr is not a terminal" {
	write_conf
	start_daemon
	stop_daemon
	grep -q 'event=ready' "$LOG" || fail "no ready line: $(cat "$LOG")"
	! grep -v '^level=' "$LOG" | grep -q . || fail "a line not starting with level=: $(grep -v '^level=' "$LOG")"
	! grep -q 'time=' "$LOG" || fail "time= on a log file: $(grep 'time=' "$LOG" | head -3)"
}

@test "metrics_mode: 0644 for a textfile collector of another user, whatever the umask" {
	write_conf
	conf_add <<-EOF
	metrics_file: $T/metrics.prom
	metrics_interval: 1s
	metrics_mode: "0644"
	EOF
	start_daemon
	wait_for metric_is "$T/metrics.prom" ingestd_workers 2
	[ "$(stat -c %a "$T/metrics.prom")" = 644 ] || fail "mode $(stat -c %a "$T/metrics.prom")"
	stop_daemon
	[ "$(stat -c %a "$T/metrics.prom")" = 644 ] || fail "mode after the stop: $(stat -c %a "$T/metrics.prom")"
}

@test "log_time: on puts time= (RFC 3339, UTC, ms) first on every line, children's too; off never; a HUP applies it" {
	write_conf
	echo 'log_time: on' >>"$CONF"
	start_daemon
	drop t.zip
	wait_for filed t.zip
	local stamp='^time=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z level='
	grep -qE "$stamp.* role=supervisor .*event=start" "$LOG" || fail "start: $(head -3 "$LOG")"
	grep -qE "$stamp.* role=worker " "$LOG" || fail "worker lines: $(grep role=worker "$LOG" | head -3)"
	! grep -vE "$stamp" "$LOG" | grep -q . || fail "unstamped: $(grep -vE "$stamp" "$LOG" | head -3)"
	sed -i 's/^log_time: on$/log_time: off/' "$CONF"
	local n
	n=$(wc -l <"$LOG")
	kill -HUP "$DAEMON_PID"
	wait_for log_has 'event=reload'
	drop u.zip
	wait_for filed u.zip
	stop_daemon
	tail -n +"$((n + 1))" "$LOG" | grep -q 'event=stopped' || fail "no stop after the HUP"
	# the supervisor's own lines; an old worker finishing may still stamp its last ones
	! tail -n +"$((n + 1))" "$LOG" | grep '^time=' | grep -q ' role=supervisor ' ||
	    fail "stamped after log_time: off: $(tail -n +"$((n + 1))" "$LOG" | grep '^time=' | head -3)"
}
