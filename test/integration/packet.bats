#!/usr/bin/env bats
# The packet path (issue 11) against the real daemon, where one daemon per
# test is needed: a folder changed by its producer after the checks, a read
# error of the packet while it is extracted, packet.filters.

load helpers

# --- a folder packet's producer keeps a way in -------------------------------

PRODUCER=ingestd-prod

@test "user: a folder's producer plants a symlink after the checks: the handler never sees it" {
	[ "$(id -u)" = 0 ] || skip "needs root"
	id nobody >/dev/null 2>&1 || skip "no user nobody"
	command -v useradd >/dev/null && command -v setpriv >/dev/null || skip "no useradd/setpriv"
	if ! id "$PRODUCER" >/dev/null 2>&1; then
		useradd -M -N -g "$(id -g nobody)" -s /usr/sbin/nologin "$PRODUCER" ||
		    skip "cannot create $PRODUCER"
	fi
	local P G
	G=$(id -g nobody)
	P=$(mktemp -d /tmp/ingestd-toctou.XXXXXX)
	EXTRA_DIRS+=("$P")
	chmod 0755 "$P"
	install -d -o nobody -g "$G" -m 0755 "$P/home"
	install -d -o "$PRODUCER" -g "$G" -m 0755 "$P/prod"
	install -d -m 0777 "$P/sync"
	# What only the daemon's user may read: the producer must never see it.
	echo "the daemon's secret" >"$P/home/secret"
	chown nobody "$P/home/secret"
	chmod 0600 "$P/home/secret"
	SPOOL=$P/home/spool
	cat >"$P/handler.sh" <<-EOF
	#!/bin/sh
	# Tell the producer the checks are over, give it time to plant, then read.
	: >'$P/sync/started'
	i=0
	while [ ! -e '$P/sync/planted' ] && [ \$i -lt 400 ]; do sleep 0.05; i=\$((i + 1)); done
	echo "INGEST_DIR=\$INGEST_DIR"
	ls -la "\$INGEST_DIR"
	cat "\$INGEST_DIR/planted" 2>&1
	exit 0
	EOF
	chmod 0755 "$P/handler.sh"
	cat >"$CONF" <<-EOF
	spool: $SPOOL
	workers: 1
	settle: 200ms
	shutdown_grace: 1s
	user: nobody
	handler:
	  command: [$P/handler.sh]
	  timeout: 60s
	packet:
	  manifest_required: false
	EOF
	start_daemon
	# The inbox as ingestd(8) recommends: group-writable, the producer in the group.
	chgrp "$G" "$SPOOL/inbox"
	chmod 2770 "$SPOOL/inbox"
	# The producer's folder, writable so that the daemon's user may move it.
	setpriv --reuid "$PRODUCER" --regid "$G" --clear-groups sh -c "
		mkdir -m 0777 '$P/prod/f' && echo data >'$P/prod/f/a.txt' && chmod 0666 '$P/prod/f/a.txt'" ||
	    fail "the producer could not make its folder"
	# It keeps a descriptor of the folder, renames it in, and plants through it.
	setpriv --reuid "$PRODUCER" --regid "$G" --clear-groups "$PY" -c '
import os, sys, time
src, dst, secret, sync = sys.argv[1:]
fd = os.open(src, os.O_RDONLY | os.O_DIRECTORY)
os.rename(src, dst)
deadline = time.monotonic() + 30
while not os.path.exists(sync + "/started"):
    if time.monotonic() > deadline:
        sys.exit("the handler never started")
    time.sleep(0.02)
os.symlink(secret, "planted", dir_fd=fd)
open(sync + "/planted", "w").close()
' "$P/prod/f" "$SPOOL/inbox/f" "$P/home/secret" "$P/sync" || fail "producer failed"
	echo f >>"$T/dropped"
	wait_for all_finished
	[ -e "$P/sync/planted" ] || fail "nothing was planted"
	local log=$SPOOL/done/f.log
	[ -f "$log" ] || fail "f not done: $(ls -R "$SPOOL/failed" 2>&1)"
	! grep -q "the daemon's secret" "$log" || fail "the handler read the planted link: $(cat "$log")"
	! grep -q " planted -> " "$log" || fail "the handler saw the planted link: $(cat "$log")"
	grep -q '^INGEST_DIR=.*/work/[^/]*/tree$' "$log" || fail "INGEST_DIR is not the job's tree: $(cat "$log")"
	grep -q 'a.txt' "$log" || fail "the folder's own file is missing: $(cat "$log")"
	stop_daemon
}

# --- a read error is the disk's fault, not the packet's ----------------------

@test "EIO while reading the packet during extraction defers it, and the retry files it done" {
	command -v cc >/dev/null || skip "no C compiler"
	cc -shared -fPIC -O2 -o "$T/faultshim.so" "$IT_BIN/faultshim.c" -ldl 2>/dev/null ||
	    fail "cannot build the fault shim"
	mkdir -p "$T/faults"
	cat >"$T/ingestd-faults" <<-EOF
	#!/bin/sh
	LD_PRELOAD='$T/faultshim.so' FAULTSHIM='read:eio.zip:EIO:1000' FAULTSHIM_READ=1 \
	FAULTSHIM_DIR='$T/faults' \
	ASAN_OPTIONS='${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0' exec '$INGESTD' "\$@"
	EOF
	chmod +x "$T/ingestd-faults"
	INGESTD=$T/ingestd-faults
	write_conf workers=1
	conf_add <<-EOF
	handler:
	  backoff: 300ms
	  backoff_max: 300ms
	EOF
	start_daemon
	: >"$T/faults/armed"
	drop eio.zip
	# The first block reads; then the disk fails, and the zip reader, seeking to
	# the central directory, would call the archive truncated.
	wait_for log_has 'event=prepare_retry .*name=eio\.zip .*reason="?system'
	[ -z "$(journal_field eio.zip outcome)" ] || fail "filed on a read error: $(cat "$SPOOL/journal")"
	rm -f "$T/faults/armed"
	wait_for all_finished
	[ "$(journal_field eio.zip outcome)" = done ] || fail "$(cat "$SPOOL/journal")"
	stop_daemon
}

# --- packet.filters ------------------------------------------------------------

@test "packet.filters: a filter left off fails the packet saying so; one listed is read" {
	write_conf
	sed -i 's/^  manifest_required: false$/&\n  filters: [gzip]/' "$CONF"
	start_daemon
	make_packet "$T/src" m.zip
	mkdir -p "$T/t" && (cd "$T/t" && unzip -q "$T/src/m.zip" && tar cf "$T/t.tar" data_info.yml)
	xz -c "$T/t.tar" >"$T/src/p.tar.xz"
	gzip -c "$T/t.tar" >"$T/src/p.tar.gz"
	drop p.tar.xz "$T/src/p.tar.xz"
	drop p.tar.gz "$T/src/p.tar.gz"
	wait_for all_finished
	[ "$(journal_field p.tar.xz reason)" = 'archive error="filter xz is off (packet.filters)"' ] ||
	    fail "$(grep p.tar.xz "$SPOOL/journal")"
	[ "$(journal_field p.tar.gz outcome)" = done ] || fail "$(grep p.tar.gz "$SPOOL/journal")"
	stop_daemon
}
