#!/usr/bin/env bats
# The producer protocol (issue 2, test 2): ignored names wait until renamed, a
# folder counts only once renamed in, a file written in place only once it has
# been closed and left alone for `settle`.

load helpers

# untouched_for SECONDS PATH...: poll for SECONDS that every PATH stays where it
# is with the same inode (the daemon claims by rename, so a claim shows at once).
untouched_for() {
	local secs=$1 deadline p
	shift
	declare -A ino
	for p in "$@"; do ino[$p]=$(stat -c %i "$p") || return 1; done
	now_us
	deadline=$((NOW_US + $(secs_to_us "$secs")))
	while :; do
		for p in "$@"; do
			[ "$(stat -c %i "$p" 2>/dev/null)" = "${ino[$p]}" ] || {
				echo "# $p was taken while it should have been left alone" >&2
				diag
				return 1
			}
		done
		now_us
		[ "$NOW_US" -ge "$deadline" ] && return 0
		sleep 0.03
	done
}

@test "names matching the default ignore patterns (*-downloading, *.part, .*) wait until they are renamed" {
	write_conf settle=200ms
	handler_script record >/dev/null <<-'EOF'
	echo "$INGEST_NAME" >>"$T/out/ran"
	EOF
	use_handler record
	mkdir -p "$SPOOL/inbox"
	make_packet "$T/src" a.zip
	make_packet "$T/src" b.zip
	make_packet "$T/src" c.zip
	make_packet "$T/src" d.zip
	# present before the daemon starts (its first scan) ...
	cp "$T/src/a.zip" "$SPOOL/inbox/a.zip-downloading"
	cp "$T/src/b.zip" "$SPOOL/inbox/.b.zip"
	start_daemon
	# ... and written in place while it runs
	cp "$T/src/c.zip" "$SPOOL/inbox/c.zip.part"
	cp "$T/src/d.zip" "$SPOOL/inbox/d.zip-downloading"
	local waiting=("$SPOOL/inbox/a.zip-downloading" "$SPOOL/inbox/.b.zip" "$SPOOL/inbox/c.zip.part"
	    "$SPOOL/inbox/d.zip-downloading")
	# longer than settle: an in-place file that was not ignored would be taken now
	untouched_for 0.6 "${waiting[@]}"
	drop sentinel.zip
	wait_for journal_has 1
	untouched_for 0.1 "${waiting[@]}"
	[ "$(cat "$T/out/ran")" = sentinel.zip ] || fail "handler ran for: $(cat "$T/out/ran")"
	[ "$(journal_count)" -eq 1 ]
	mv "$SPOOL/inbox/a.zip-downloading" "$SPOOL/inbox/a.zip"
	mv "$SPOOL/inbox/.b.zip" "$SPOOL/inbox/b.zip"
	mv "$SPOOL/inbox/c.zip.part" "$SPOOL/inbox/c.zip"
	mv "$SPOOL/inbox/d.zip-downloading" "$SPOOL/inbox/d.zip"
	printf '%s\n' a.zip b.zip c.zip d.zip >>"$T/dropped"
	wait_for all_finished
	assert_exactly_once
	local n
	for n in a b c d; do cmp "$T/src/$n.zip" "$SPOOL/done/$n.zip"; done
	stop_daemon
}

@test "a folder packet made in place under a -downloading name is claimed only after it is renamed in" {
	write_conf settle=200ms
	handler_script listing >/dev/null <<-'EOF'
	cd "$INGEST_PATH" && find . -type f | sort >"$T/out/seen.$INGEST_NAME"
	EOF
	use_handler listing
	start_daemon
	local f=$SPOOL/inbox/folder-downloading
	mkdir "$f"
	echo one >"$f/one"
	untouched_for 0.4 "$f" "$f/one"
	mkdir "$f/sub"
	echo three >"$f/sub/three"
	untouched_for 0.4 "$f" "$f/one" "$f/sub/three"
	echo two >"$f/two"
	drop sentinel.zip
	wait_for journal_has 1
	untouched_for 0.3 "$f" "$f/one" "$f/sub/three" "$f/two"
	[ "$(journal_count)" -eq 1 ]
	mv "$f" "$SPOOL/inbox/folder"
	echo folder >>"$T/dropped"
	wait_for all_finished
	assert_exactly_once
	[ -d "$SPOOL/done/folder" ] || fail "done/folder is not a folder: $(ls -l "$SPOOL/done")"
	[ "$(cat "$SPOOL/done/folder/one" "$SPOOL/done/folder/two" "$SPOOL/done/folder/sub/three")" = \
	    "$(printf 'one\ntwo\nthree')" ]
	[ "$(cat "$T/out/seen.folder" | tr '\n' ' ')" = "./one ./sub/three ./two " ] ||
	    fail "the handler saw: $(cat "$T/out/seen.folder" 2>&1)"
	stop_daemon
}

@test "a file written slowly in place (write, pause, write, close, reopen, write, close) is claimed only after it settled" {
	write_conf settle=1s
	handler_script size >/dev/null <<-'EOF'
	date +%s%N >"$T/out/time.$INGEST_NAME"
	stat -c %s "$INGEST_PATH" >"$T/out/size.$INGEST_NAME"
	EOF
	use_handler size
	start_daemon
	make_packet "$T/src" slow.zip
	local p=$T/src/slow.zip size a b t_last claimed
	size=$(stat -c %s "$p")
	a=$((size / 3))
	b=$((size / 3))
	head -c "$a" "$p" >"$T/src/part1"
	tail -c +$((a + 1)) "$p" | head -c "$b" >"$T/src/part2"
	tail -c +$((a + b + 1)) "$p" >"$T/src/part3"
	cat "$T/src/part1" "$T/src/part2" "$T/src/part3" | cmp - "$p"

	local in=$SPOOL/inbox/slow.zip
	exec 5>"$in"
	cat "$T/src/part1" >&5
	# open and unchanged for longer than settle: still not closed, so not ready
	untouched_for 1.3 "$in" || { exec 5>&-; false; }
	cat "$T/src/part2" >&5
	exec 5>&-
	untouched_for 0.5 "$in"
	exec 5>>"$in"
	cat "$T/src/part3" >&5
	exec 5>&-
	now_us
	t_last=$NOW_US
	echo slow.zip >>"$T/dropped"
	# settle is 1s from the last close; allow 100 ms for timer slack
	untouched_for 0.9 "$in"
	wait_for all_finished
	assert_exactly_once
	cmp "$p" "$SPOOL/done/slow.zip"
	[ "$(cat "$T/out/size.slow.zip")" -eq "$size" ] ||
	    fail "the handler saw $(cat "$T/out/size.slow.zip") bytes of $size"
	claimed=$(( $(cat "$T/out/time.slow.zip") / 1000 ))
	[ "$claimed" -ge $((t_last + 950000)) ] ||
	    fail "handler started $(( (claimed - t_last) / 1000 )) ms after the last close (settle 1s)"
	stop_daemon
}

@test "a symlink or a FIFO made in place in the inbox is filed failed at once, not left for a rescan" {
	write_conf
	start_daemon
	ln -s /etc/passwd "$SPOOL/inbox/link.zip"
	mkfifo "$SPOOL/inbox/pipe.zip"
	# Never closed after a write: no event but the create says they are there.
	wait_until 5 eval 'test -e "$SPOOL/failed/link.zip.error" && test -e "$SPOOL/failed/pipe.zip.error"' ||
	    fail "not filed: $(ls -la "$SPOOL/inbox" "$SPOOL/failed")"
	[ "$(journal_field link.zip reason)" = symlink ] || fail "link.zip: $(journal_field link.zip reason)"
	[[ $(journal_field pipe.zip reason) == type* ]] || fail "pipe.zip: $(journal_field pipe.zip reason)"
	# A name still being written is left alone, whatever it is.
	ln -s /etc/passwd "$SPOOL/inbox/later.zip-downloading"
	drop after.zip
	wait_for filed after.zip
	[ -L "$SPOOL/inbox/later.zip-downloading" ]
	stop_daemon
}
