#!/usr/bin/env bats
# S3 sources (issue 6), against s3rver behind a proxy that verifies every
# request's SigV4 signature as AWS computes it (s3rver itself checks only the
# access key id). The proxy cuts listings to 3 keys a page, so continuation
# tokens are always followed.

load helpers
load ../remote/lib

SECRET=ingestd-test-secret

setup_file() {
	export SRV=$BATS_FILE_TMPDIR/srv
	mkdir -p "$SRV"
	start_s3rver "$SRV" uploads
	export S3_PORT S3_PID S3_DATA
}

teardown_file() {
	kill -TERM "$S3_PID" 2>/dev/null || true
}

setup() {
	common_setup
	# Every test starts from an empty bucket.
	find "$S3_DATA/uploads" -mindepth 1 -delete 2>/dev/null || true
	start_proxy "$T" "$S3_PORT" "$SECRET" --page-size 3 --hold-delete "$T/hold" \
	    --hold-head "$T/hold-head"
}

teardown() {
	stop_servers
	common_teardown
}

# s3_put KEY: upload a small zip packet under KEY (encoded here), through the proxy.
s3_put() {
	local enc
	enc=$("$PY" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe="/-._~"))' "$1")
	make_packet "$T/src" p.zip
	curl -sS -f --aws-sigv4 "aws:amz:us-east-1:s3" -u "S3RVER:$SECRET" \
	    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -T "$T/src/p.zip" \
	    "http://127.0.0.1:$PROXY_PORT/uploads/$enc" -o /dev/null
}

# objects: how many objects the bucket holds.
objects() { find "$S3_DATA/uploads" -name '*._S3rver_object' | wc -l; }
bucket_empty() { [ "$(objects)" -eq 0 ]; }

s3_conf() {
	local del=${1:-after_commit} secret=${2:-$SECRET}
	write_conf workers=2
	conf_add <<-EOF
	handler:
	  command: [/bin/true]
	  retries: 2
	fetch:
	  retries: 2
	  backoff: 100ms
	sources:
	  - s3:
	      endpoint: http://127.0.0.1:$PROXY_PORT
	      region: us-east-1
	      bucket: uploads
	      prefix: video_
	      poll: 300ms
	      delete: $del
	EOF
	export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=$secret
}

no_bad_signatures() {
	! grep -q '"status": 403' "$PROXY_LOG" || fail "the proxy refused: $(grep '"status": 403' "$PROXY_LOG" | head -3)"
}

@test "the SigV4 proxy reproduces AWS's published example signatures" {
	run "$PY" "$REMOTE_DIR/sigv4proxy.py" selftest
	[ "$status" -eq 0 ] || fail "$output"
	[[ $output == *"24 passed, 0 failed"* ]] || fail "$output"
}

@test "keys with spaces, +, =, % and non-ASCII over several pages: fetched, processed once, deleted after commit" {
	local k keys=("video_a b.zip" "video_c+d=e.zip" "video_50%.zip" "video_été.zip" "video_dir/x.zip"
	    "video_7.zip" "video_8.zip")
	for k in "${keys[@]}"; do s3_put "$k"; done
	s3_put "other.zip"
	s3_conf after_commit
	start_daemon
	wait_for journal_has 7
	wait_until 10 eval '[ "$(objects)" -eq 1 ]'
	[ -e "$S3_DATA/uploads/other.zip._S3rver_object" ] || fail "the object outside the prefix was touched"
	for k in "video_a%20b.zip" "video_c+d=e.zip" "video_50%25.zip" "video_été.zip" \
	    "video_dir／x.zip" "video_7.zip" "video_8.zip"; do
		[ "$(journal_field "$k" outcome)" = done ] || fail "$k: $(journal_field "$k" outcome)"
		[ -z "$(journal_field "$k.url" outcome)" ] || fail "$k.url has a journal line of its own"
		[ ! -e "$SPOOL/done/$k.url" ] || fail "done/$k.url"
		cmp -s "$SPOOL/done/$k" "$T/src/p.zip" || [ -s "$SPOOL/done/$k" ] || fail "$k is empty"
	done
	[ "$(journal_count)" -eq 7 ]
	grep -q 'continuation-token=' "$PROXY_LOG" || fail "no continuation token was followed"
	[ "$(grep -c '"method": "DELETE"' "$PROXY_LOG")" -eq 7 ]
	no_bad_signatures
	# Nothing more is queued later: deleted objects are gone, the rest is not ours.
	sleep 1
	[ "$(journal_count)" -eq 7 ]
	stop_daemon
}

@test "the handler of an S3 packet is told its bucket, key, ETag and URL; a packet dropped in is told it came from the inbox" {
	s3_put "video_cam 1/clip+1.zip"
	s3_conf after_commit
	sed -i 's|command: \[/bin/true\]|command: [sh, -c, "env \| grep ^INGEST_ \| sort"]|' "$CONF"
	grep -q 'grep ^INGEST_' "$CONF" || fail "the handler was not replaced in $CONF"
	start_daemon
	local name="video_cam%201／clip+1.zip" etag
	wait_for test -e "$SPOOL/done/$name.log"
	make_packet "$T/src" local.zip
	cp "$T/src/local.zip" "$SPOOL/inbox/local.zip"
	wait_for test -e "$SPOOL/done/local.zip.log"
	etag=$(md5sum "$T/src/p.zip" | cut -d' ' -f1)
	grep -qx 'INGEST_SOURCE=s3' "$SPOOL/done/$name.log" || fail "$(cat "$SPOOL/done/$name.log")"
	grep -qx 'INGEST_S3_BUCKET=uploads' "$SPOOL/done/$name.log"
	grep -qx 'INGEST_S3_KEY=video_cam 1/clip+1.zip' "$SPOOL/done/$name.log"
	grep -qx "INGEST_S3_ETAG=$etag" "$SPOOL/done/$name.log" ||
	    fail "no INGEST_S3_ETAG=$etag in $(cat "$SPOOL/done/$name.log")"
	grep -qx 'INGEST_URL=s3://uploads/video_cam%201/clip%2B1.zip' "$SPOOL/done/$name.log" ||
	    fail "no INGEST_URL in $(cat "$SPOOL/done/$name.log")"
	grep -qx 'INGEST_SOURCE=inbox' "$SPOOL/done/local.zip.log"
	! grep -q 'INGEST_S3_' "$SPOOL/done/local.zip.log"
	# The record is the daemon's and goes with the filing.
	wait_until 5 eval '[ -z "$(ls -A "$SPOOL/remote/origin")" ]' ||
	    fail "origin records left: $(ls -A "$SPOOL/remote/origin")"
	stop_daemon
}

@test "a wrong secret gives a clear error and deletes nothing" {
	s3_put video_1.zip
	s3_put video_2.zip
	s3_conf after_commit wrong-secret
	start_daemon
	wait_for grep -q 'role=source .*event=list .*status=403 code=SignatureDoesNotMatch' "$LOG"
	# Said once, not at every poll.
	sleep 1
	[ "$(grep -c 'code=SignatureDoesNotMatch' "$LOG")" -eq 1 ] ||
	    fail "the error was logged $(grep -c 'code=SignatureDoesNotMatch' "$LOG") times"
	[ "$(objects)" -eq 2 ]
	! grep -q '"method": "DELETE"' "$PROXY_LOG"
	[ "$(journal_count)" -eq 0 ]
	dir_empty inbox
	stop_daemon
}

@test "delete: never keeps the objects and fetches each once, across a restart" {
	s3_put video_1.zip
	s3_put video_2.zip
	s3_conf never
	start_daemon
	wait_for journal_has 2
	sleep 1	# several polls
	[ "$(journal_count)" -eq 2 ]
	[ "$(objects)" -eq 2 ]
	! grep -q '"method": "DELETE"' "$PROXY_LOG"
	stop_daemon
	start_daemon
	sleep 1
	[ "$(journal_count)" -eq 2 ] || fail "fetched again after a restart"
	# A changed object (new ETag) is new.
	echo "changed" >"$T/src/p.zip"
	curl -sS -f --aws-sigv4 "aws:amz:us-east-1:s3" -u "S3RVER:$SECRET" \
	    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -T "$T/src/p.zip" \
	    "http://127.0.0.1:$PROXY_PORT/uploads/video_1.zip" -o /dev/null
	wait_for journal_has 3
	stop_daemon
}

@test "a failure of an attempt begun before the source started is forgotten at once: the object is fetched again; a later one is held" {
	s3_put video_1.zip
	s3_put video_2.zip
	s3_conf never
	start_daemon
	wait_for journal_has 2
	local ledger
	ledger=$(ls "$SPOOL"/remote/source-*.ledger)
	# What a worker of the generation before a HUP writes when its last
	# attempt fails after the new source started: begun long before (1 ms
	# after boot). And one begun in the far future, as if after the start.
	sed -n 's/^+ \(.* video_1\.zip\)$/! \1 1/p' "$ledger" >>"$ledger"
	sed -n 's/^+ \(.* video_2\.zip\)$/! \1 18446744073709551614/p' "$ledger" >>"$ledger"
	grep -q '^! .* video_1.zip 1$' "$ledger" || fail "ledger: $(cat "$ledger")"
	wait_for journal_has 3
	sleep 1	# several polls
	[ "$(grep -c ' name=video_1.zip[ .]' "$SPOOL/journal")" -eq 2 ] || fail "$(cat "$SPOOL/journal")"
	[ "$(grep -c ' name=video_2.zip[ .]' "$SPOOL/journal")" -eq 1 ] || fail "$(cat "$SPOOL/journal")"
	stop_daemon
}

delete_held() { grep -q '"code": "Held"' "$PROXY_LOG" 2>/dev/null; }

@test "a daemon killed with SIGKILL between download and delete loses nothing and processes once" {
	s3_put video_k.zip
	touch "$T/hold"
	s3_conf after_commit
	start_daemon
	wait_for delete_held
	# The packet is committed to its job, not yet processed; the object is still there.
	[ "$(objects)" -eq 1 ]
	[ ! -e "$SPOOL/inbox/video_k.zip.part" ]
	kill -KILL -- "-$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=
	mq_cleanup
	rm -f "$T/hold"
	start_daemon
	wait_for bucket_empty
	wait_for journal_has 1
	sleep 1
	[ "$(grep -c ' name=video_k.zip ' "$SPOOL/journal")" -eq 1 ] || fail "video_k.zip: $(cat "$SPOOL/journal")"
	[ "$(journal_count)" -eq 1 ] || fail "journal: $(cat "$SPOOL/journal")"
	[ "$(journal_field video_k.zip outcome)" = done ]
	[ -s "$SPOOL/done/video_k.zip" ]
	no_bad_signatures
	stop_daemon
}

@test "kill -9 of the supervisor alone ends a worker whose DELETE the server holds, within 2 s" {
	s3_put video_h.zip
	touch "$T/hold"
	s3_conf after_commit
	start_daemon
	wait_for delete_held
	# The job that holds the DELETE holds the packet too: nothing is filed yet.
	[ "$(journal_count)" -eq 0 ] || fail "filed before its DELETE: $(cat "$SPOOL/journal")"
	local before
	before=$(stat -c %s "$SPOOL/journal" 2>/dev/null || echo 0)
	kill -KILL "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=
	wait_until 2 no_test_procs || fail "still alive 2 s after the kill: $(ps -o pid,args -p "$(test_pids | paste -sd,)")"
	[ "$(stat -c %s "$SPOOL/journal" 2>/dev/null || echo 0)" -eq "$before" ] ||
	    fail "journal written after the kill: $(tail -n 2 "$SPOOL/journal")"
	rm -f "$T/hold"
	mq_cleanup
}

# request_timeout D: set fetch.request_timeout in the config s3_conf wrote.
request_timeout() { sed -i "s/^  backoff: 100ms\$/  backoff: 100ms\n  request_timeout: $1/" "$CONF"; }

@test "a DELETE the server accepts and never answers ends after fetch.request_timeout, logged; the packet is filed" {
	s3_put video_t.zip
	touch "$T/hold"
	s3_conf after_commit
	request_timeout 1s
	start_daemon
	wait_for delete_held
	wait_until 10 grep -q 'event=s3_delete_failed name=video_t.zip .*request=DELETE .*error="Timeout was reached"' "$LOG" ||
	    fail "no timeout of the held DELETE within 10 s: $(grep s3_delete "$LOG")"
	wait_for journal_has 1
	[ "$(journal_field video_t.zip outcome)" = done ]
	[ "$(objects)" -eq 1 ] || fail "the object is gone"
	rm -f "$T/hold"
	stop_daemon
}

@test "a listing the server accepts and never answers ends after fetch.request_timeout, said once" {
	start_blackhole "$T/bh"
	s3_conf after_commit
	request_timeout 1s
	sed -i "s|endpoint: http://127.0.0.1:$PROXY_PORT|endpoint: http://127.0.0.1:$BH_PORT|" "$CONF"
	start_daemon
	wait_until 10 grep -q 'role=source .*event=list .*error="Timeout was reached"' "$LOG" ||
	    fail "no timeout of the listing within 10 s"
	wait_until 10 blackhole_has 3 || fail "the listing was not tried again"
	[ "$(grep -c 'event=list .*Timeout was reached' "$LOG")" -eq 1 ] || fail "said more than once"
	stop_daemon
}

# copies_done NAME: how many packets named NAME were filed done.
copies_done() { grep -v ' event=' "$SPOOL/journal" | grep " name=$1 " | grep -c ' outcome=done' || true; }

# in_done NAME FILE: done/NAME or a done/NAME.~J~ is FILE.
in_done() {
	local f
	for f in "$SPOOL/done/$1" "$SPOOL/done/$1".~*~; do
		[ -f "$f" ] && cmp -s "$f" "$2" && return 0
	done
	return 1
}

@test "killed after its download, before its delete, the key uploaded again: the new object is fetched and filed, never deleted unseen" {
	s3_put video_r.zip
	cp "$T/src/p.zip" "$T/first.zip"
	touch "$T/hold-head"
	s3_conf after_commit
	start_daemon
	wait_for delete_held
	kill -KILL -- "-$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=
	mq_cleanup
	s3_put video_r.zip
	cmp -s "$T/src/p.zip" "$T/first.zip" && fail "the second upload is the first"
	rm -f "$T/hold-head"
	start_daemon
	wait_until 60 eval '[ "$(copies_done video_r.zip)" -ge 2 ]' ||
	    fail "filed $(copies_done video_r.zip) times: $(grep s3_delete "$LOG")"
	wait_for bucket_empty
	in_done video_r.zip "$T/first.zip" || fail "the first upload is not in done/"
	in_done video_r.zip "$T/src/p.zip" || fail "the second upload is not in done/"
	grep -q 'event=s3_delete_skipped name=video_r.zip .*why=changed' "$LOG" ||
	    fail "no skipped delete: $(grep s3_delete "$LOG")"
	no_bad_signatures
	stop_daemon
}
