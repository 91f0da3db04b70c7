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

@test "-t on a good config exits 0 and prints the effective settings, which load again" {
	write_conf workers=3 settle=750ms shutdown_grace=4s
	conf_add <<-EOF
	handler:
	  command: [/bin/echo, '{name}']
	  timeout: 90s
	  retries: 4
	EOF
	run_ingestd -t -c "$CONF"
	[ "$status" -eq 0 ] || fail "status $status: $stderr"
	grep -qE '^workers: *3$' <<<"$output" || fail "workers: 3 not in: $output"
	grep -qF "$SPOOL" <<<"$output" || fail "spool not in: $output"
	grep -qE '^ +retries: *4$' <<<"$output" || fail "handler retries: 4 not in: $output"
	grep -q 'echo' <<<"$output" || fail "handler command not in: $output"
	# what -t prints is a config ingestd accepts, with the same settings
	echo "$output" >"$T/printed.yml"
	local first=$output
	run_ingestd -t -c "$T/printed.yml"
	[ "$status" -eq 0 ] || fail "the printed settings do not load: $stderr"
	[ "$(grep -v "^#" <<<"$output")" = "$(grep -v "^#" <<<"$first")" ] ||
	    fail "a second round trip differs: $(diff <(echo "$first") <(echo "$output"))"
	# nothing was created by a check
	[ ! -e "$SPOOL" ]
}

@test "with no config file at all the built-in defaults apply" {
	[ ! -e /etc/ingestd/ingestd.yml ] || skip "/etc/ingestd/ingestd.yml exists on this machine"
	run_ingestd -t
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
