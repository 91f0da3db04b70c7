#!/usr/bin/env bats
# Privileges (issue 4) against the real daemon: started as root with user:,
# every process it runs is that user with that user's groups and no way back
# to root; without user: it refuses to run a handler as root unless
# allow_root: true; started unprivileged (chpst -u) it accepts only its own
# user; everything it creates keeps other users out (umask 027). Needs root.

load helpers

setup() {
	common_setup
	[ "$(id -u)" = 0 ] || skip "needs root"
	id nobody >/dev/null 2>&1 || skip "no user nobody"
	U=$(id -u nobody)
	G=$(id -g nobody)
	UGROUPS=$(id -G nobody)
	# bats' temporary directories are 0700: a dropped daemon could reach
	# neither its spool nor the handler there. P is world-searchable, and
	# P/home belongs to nobody, so the daemon itself creates SPOOL.
	P=$(mktemp -d /tmp/ingestd-priv.XXXXXX)
	EXTRA_DIRS+=("$P")
	chmod 0755 "$P"
	install -d -o nobody -g "$G" -m 0755 "$P/home"
	SPOOL=$P/home/spool
	CONF=$P/ingestd.yml
	HANDLER=$P/whoami.sh
	cat >"$HANDLER" <<-'EOF'
	#!/bin/sh
	echo "id uid=$(id -u) gid=$(id -g) groups=$(id -G) umask=$(umask)"
	EOF
	chmod 0755 "$HANDLER"
}

# priv_conf SPOOL [WORKERS]: the base config. Not write_conf: that one allows
# root handlers when the tests run as root, and allowing them is the question.
priv_conf() {
	cat >"$CONF" <<-EOF
	# written by $BATS_TEST_FILENAME: $BATS_TEST_DESCRIPTION
	spool: $1
	workers: ${2:-1}
	settle: 200ms
	shutdown_grace: 1s
	packet:
	  manifest_required: false
	EOF
}

# creds PID: the ids, groups and capabilities of a live process, one line.
creds() {
	awk '
		/^Uid:/    { u = $2 " " $3 " " $4 " " $5 }
		/^Gid:/    { g = $2 " " $3 " " $4 " " $5 }
		/^Groups:/ { $1 = ""; gr = $0; gsub(/^ +| +$/, "", gr) }
		/^CapPrm:/ { p = $2 }
		/^CapEff:/ { e = $2 }
		END { print "uid=" u " gid=" g " groups=" gr " capprm=" p " capeff=" e }
	' "/proc/$1/status"
}

# assert_creds PID ROLE UID GID GROUPS: real, effective, saved and fs ids are
# all UID/GID (a saved uid of 0 would let the process become root again), the
# supplementary groups are exactly GROUPS and there are no capabilities.
assert_creds() {
	local want="uid=$3 $3 $3 $3 gid=$4 $4 $4 $4 groups=$5 capprm=0000000000000000 capeff=0000000000000000"
	local got
	got=$(creds "$1")
	[ "$got" = "$want" ] || fail "$2 (pid $1): $got; want $want"
}

# assert_private PATH OWNER: owned by OWNER, nothing for other users, and no
# group write.
assert_private() {
	local m o
	read -r m o < <(stat -c '%a %U' "$1")
	[ "$o" = "$2" ] || fail "$1 is owned by $o, not $2"
	[ $((8#$m & 8#027)) -eq 0 ] || fail "$1 has mode $m: group write or world access"
}

handler_said() { grep -h '^id ' "$SPOOL/done/$1.log"; }

@test "root with user: supervisor, watcher, workers and handlers run as that user, its groups only, no way back" {
	priv_conf "$SPOOL" 2
	conf_add <<-EOF
	user: nobody
	handler:
	  command: [$HANDLER]
	EOF
	start_daemon
	grep -q 'event=priv user=nobody' "$LOG" || fail "no event=priv in the log"
	drop a.zip
	wait_for all_finished
	assert_creds "$DAEMON_PID" supervisor "$U" "$G" "$UGROUPS"
	local p n=0
	for p in $(watcher_pid) $(worker_pids); do
		assert_creds "$p" "child" "$U" "$G" "$UGROUPS"
		n=$((n + 1))
	done
	[ "$n" -eq 3 ] || fail "found $n of 3 children (watcher + 2 workers)"
	[ "$(handler_said a.zip)" = "id uid=$U gid=$G groups=$UGROUPS umask=0027" ] ||
	    fail "handler: $(handler_said a.zip)"
	stop_daemon
}

@test "root with user: the spool, journal, lock and records are the user's and closed to others" {
	priv_conf "$SPOOL" 1
	conf_add <<-EOF
	user: nobody
	handler:
	  command: [$HANDLER]
	EOF
	start_daemon
	drop a.zip
	wait_for all_finished
	local f
	for f in "$SPOOL" "$SPOOL"/inbox "$SPOOL"/work "$SPOOL"/done "$SPOOL"/failed \
	    "$SPOOL"/journal "$SPOOL"/ingestd.lock "$SPOOL"/done/a.zip.log; do
		[ -e "$f" ] || fail "$f does not exist"
		assert_private "$f" nobody
	done
	[ "$(stat -c %a "$SPOOL")" = 750 ] || fail "spool mode $(stat -c %a "$SPOOL"), want 750"
	# and whatever else it made there, now or in a later version
	local open
	open=$(find "$SPOOL" \( -user nobody -o -type d \) -perm /o=rwx)
	[ -z "$open" ] || fail "open to other users: $open"
	stop_daemon
}

@test "root with user: the message queue is mode 0600 and the user's" {
	priv_conf "$SPOOL" 1
	conf_add <<-EOF
	user: nobody
	EOF
	start_daemon
	# The queue is unlinked once made: look at it through the supervisor's descriptor.
	local q
	q=$(queue_fd) || fail "the supervisor holds no queue"
	run stat -L -c '%a %U' "$q"
	[ "$status" -eq 0 ] || fail "stat of the queue: $output"
	[ "$output" = "600 nobody" ] || fail "queue: $output"
	stop_daemon
}

@test "root without user: a handler is refused before the spool is touched, exit 78, saying what to set" {
	priv_conf "$SPOOL"
	conf_add <<-EOF
	handler:
	  command: [$HANDLER]
	EOF
	run_ingestd -c "$CONF"
	[ "$status" -eq 78 ] || fail "exit status $status; stderr: $stderr"
	[[ $stderr == *"handler would run as root; set user: or allow_root: true"* ]] ||
	    fail "stderr: $stderr"
	[ ! -e "$SPOOL" ] || fail "the spool was created before the refusal"
}

@test "root without user: allow_root: true runs the handler as root, still with umask 027" {
	priv_conf "$SPOOL" 1
	conf_add <<-EOF
	allow_root: true
	handler:
	  command: [$HANDLER]
	EOF
	start_daemon
	drop a.zip
	wait_for all_finished
	[ "$(handler_said a.zip)" = "id uid=0 gid=0 groups=$(id -G root) umask=0027" ] ||
	    fail "handler: $(handler_said a.zip)"
	assert_private "$SPOOL/done" root
	assert_private "$SPOOL/journal" root
	stop_daemon
}

@test "root without user and without a handler: runs as root, since it only files packets" {
	priv_conf "$SPOOL" 1
	start_daemon
	drop a.zip
	wait_for all_finished
	[ "$(stat -c %U "$SPOOL/journal")" = root ]
	stop_daemon
}

@test "root with an unknown user: exit 78 naming it, nothing created" {
	priv_conf "$SPOOL"
	conf_add <<-EOF
	user: ingestd-no-such-user
	EOF
	run_ingestd -c "$CONF"
	[ "$status" -eq 78 ] || fail "exit status $status; stderr: $stderr"
	[[ $stderr == *"user ingestd-no-such-user: no such user"* ]] || fail "stderr: $stderr"
	[ ! -e "$SPOOL" ] || fail "the spool was created"
}

@test "root with user: the spool is opened as the user, so one it cannot create fails naming it" {
	install -d -m 0700 "$P/rootonly"
	priv_conf "$P/rootonly/spool"
	conf_add <<-EOF
	user: nobody
	EOF
	run_ingestd -c "$CONF"
	[ "$status" -eq 73 ] || [ "$status" -eq 77 ] || fail "exit status $status; stderr: $stderr"
	[[ $stderr == *"$P/rootonly/spool"* ]] || fail "stderr does not name the spool: $stderr"
	[ ! -e "$P/rootonly/spool" ] || fail "root created the spool"
}

@test "started unprivileged as the configured user (chpst -u): runs without switching" {
	command -v chpst >/dev/null || skip "runit's chpst is not installed"
	priv_conf "$SPOOL" 1
	conf_add <<-EOF
	user: nobody
	handler:
	  command: [$HANDLER]
	EOF
	DAEMON_RUNS=$((DAEMON_RUNS + 1))
	LOG=$T/daemon.$DAEMON_RUNS.log
	INGESTD_TEST_TAG=$TAG chpst -u "nobody:$(id -gn nobody)" "$INGESTD" -c "$CONF" \
	    </dev/null >"$T/daemon.$DAEMON_RUNS.stdout" 2>"$LOG" 3>&- &
	DAEMON_PID=$!
	wait_ready
	! grep -q 'event=priv' "$LOG" || fail "logged a user switch it cannot have made"
	drop a.zip
	wait_for all_finished
	# chpst sets exactly the groups it is given, not the user's others
	assert_creds "$DAEMON_PID" supervisor "$U" "$G" "$G"
	[ "$(handler_said a.zip)" = "id uid=$U gid=$G groups=$G umask=0027" ] ||
	    fail "handler: $(handler_said a.zip)"
	stop_daemon
}

@test "started unprivileged as another user than user: names: exit 77, saying how to start it" {
	command -v chpst >/dev/null || skip "runit's chpst is not installed"
	id daemon >/dev/null 2>&1 || skip "no user daemon"
	priv_conf "$SPOOL"
	conf_add <<-EOF
	user: daemon
	EOF
	run --separate-stderr env INGESTD_TEST_TAG="$TAG" timeout -k 2 15 \
	    chpst -u "nobody:$(id -gn nobody)" "$INGESTD" -c "$CONF"
	[ "$status" -eq 77 ] || fail "exit status $status; stderr: $stderr"
	[[ $stderr == *"user daemon: running as uid $U, which cannot switch users; start as root or as daemon"* ]] ||
	    fail "stderr: $stderr"
	[ ! -e "$SPOOL" ] || fail "the spool was created"
}

# --- what the daemon's user may not touch (issue 10) ----------------------------

@test "user: a packet the daemon's user may not read fails at once with reason=permission, never retried" {
	priv_conf "$SPOOL" 1
	conf_add <<-EOF
	user: nobody
	EOF
	start_daemon
	make_packet "$T/src" secret.zip
	# root's, mode 0600: the daemon may move it (the inbox is its own), not read it
	install -m 0600 "$T/src/secret.zip" "$SPOOL/inbox/.secret.zip"
	mv "$SPOOL/inbox/.secret.zip" "$SPOOL/inbox/secret.zip"
	echo secret.zip >>"$T/dropped"
	wait_until 5 filed secret.zip || fail "not filed within 5 s"
	wait_for all_finished
	assert_exactly_once
	[[ $(journal_field secret.zip reason) == "permission entry=secret.zip mode=0600 uid=0 gid=0 "* ]] ||
	    fail "reason: $(journal_field secret.zip reason)"
	[ "$(journal_field secret.zip attempts)" -eq 0 ]
	! grep -q 'event=deferred' "$LOG" || fail "it was retried: $(grep event=deferred "$LOG")"
	stop_daemon
}

@test "user: a folder the daemon's user may not move is stuck: reported once, shown by status, never holding the only worker" {
	priv_conf "$SPOOL" 1
	conf_add <<-EOF
	user: nobody
	metrics_file: $P/home/metrics.prom
	metrics_interval: 1s
	EOF
	start_daemon
	# root's 0755 folder: moving a folder to another parent writes its "..", which
	# nobody may not
	mkdir "$T/stage/locked"
	make_packet "$T/stage/locked" locked.zip
	chmod 0755 "$T/stage/locked"
	mv "$T/stage/locked" "$SPOOL/inbox/locked"
	wait_for log_has "event=stuck name=locked error="
	local i
	for i in 1 2 3; do drop "ok$i.zip"; done
	wait_until 5 done_has 3 || fail "the other packets did not pass the stuck one"
	run "$INGESTD" status -d "$SPOOL" --json
	[ "$status" -eq 0 ] && [ "$(jq -r '.stuck[0].packet' <<<"$output")" = locked ] ||
	    fail "status: $output"
	run "$INGESTD" status -d "$SPOOL"
	[[ $output == *"stuck: 1"* && $output == *locked* ]] || fail "$output"
	[ "$(log_count 'event=stuck name=locked ')" -eq 1 ] || fail "$(grep event=stuck "$LOG")"
	wait_until 5 metric_is "$P/home/metrics.prom" ingestd_packets_stuck 1 ||
	    fail "metrics: $(grep stuck "$P/home/metrics.prom")"
	# Mended by hand: the next offer (here a rescan) claims it.
	chown -R nobody "$SPOOL/inbox/locked"
	touch "$SPOOL/inbox/.ingestd-rescan"
	echo locked >>"$T/dropped"
	wait_for all_finished
	assert_exactly_once
	run "$INGESTD" status -d "$SPOOL" --json
	[ "$(jq -r '.stuck | length' <<<"$output")" -eq 0 ] || fail "still stuck: $output"
	stop_daemon
}
