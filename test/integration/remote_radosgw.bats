#!/usr/bin/env bats
# S3 sources against Ceph's RADOS Gateway, the server real sites run: it
# verifies SigV4 itself, pages its listings at 1,000 keys with the raw last key
# as the continuation token, and makes its own ETags. s3rver behind the SigV4
# proxy (remote_s3.bats) let through what only a real server shows.

load helpers
load ../remote/lib
load ../remote/radosgw

KEY=ingestd-rgw
SECRET=ingestd-rgw-secret

setup_file() {
	have_radosgw || skip "radosgw is not installed (make deps-test installs it)"
	export SRV=$BATS_FILE_TMPDIR/srv
	mkdir -p "$SRV"
	start_radosgw "$SRV" "$KEY" "$SECRET"
	export RGW_DIR RGW_PORT RGW_URL RGW_KEY RGW_SECRET
	echo "${RGW_PIDS[*]}" >"$SRV/pids"
}

teardown_file() {
	local p
	# shellcheck disable=SC2046
	for p in $(cat "$SRV/pids" 2>/dev/null); do kill -TERM "$p" 2>/dev/null || true; done
}

setup() {
	common_setup
	BUCKET=b${RANDOM}x$$
	[ "$(rgw_s3 PUT "/$BUCKET" -o /dev/null -w '%{http_code}')" = 200 ] ||
	    fail "radosgw did not make bucket $BUCKET"
	make_packet "$T/src" p.zip
}

teardown() {
	stop_servers
	common_teardown
}

# enc KEY: KEY percent-encoded for a URL path, '/' kept.
enc() { "$PY" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe="/-._~"))' "$1"; }

# put KEYS...: upload the packet under each key, over one connection.
put() {
	local k sha cfg=$T/put.curl
	sha=$(sha256sum "$T/src/p.zip" | cut -d' ' -f1)
	: >"$cfg"
	for k in "$@"; do
		printf 'url = "%s/%s/%s"\nupload-file = "%s"\noutput = "/dev/null"\n' \
		    "$RGW_URL" "$BUCKET" "$(enc "$k")" "$T/src/p.zip" >>"$cfg"
	done
	curl -sS -f -Z --parallel-max 8 --aws-sigv4 "aws:amz:us-east-1:s3" --user "$RGW_KEY:$RGW_SECRET" \
	    -H "x-amz-content-sha256: $sha" -K "$cfg" || fail "upload failed"
}

# keys: the bucket's keys, one a line (first 1,000 are enough for the tests).
keys() {
	rgw_s3 GET "/$BUCKET?list-type=2" | grep -o '<Key>[^<]*</Key>' | sed 's/<[^>]*>//g'
}
nkeys() { keys | grep -c . || true; }
bucket_empty() { [ "$(nkeys)" -eq 0 ]; }

# rgw_conf [SECRET]: a source on the bucket; ENDPOINT (default radosgw itself), DEL (delete:, default after_commit)
# and CREDS (a credentials_file instead of the environment) if set.
rgw_conf() {
	local secret=${1:-$SECRET}
	write_conf workers=2
	conf_add <<-EOF
	handler:
	  command: [/bin/true]
	  retries: ${RETRIES:-2}
	  backoff: 200ms
	  backoff_max: 1s
	fetch:
	  retries: 2
	  backoff: 100ms
	sources:
	  - s3:
	      endpoint: ${ENDPOINT:-$RGW_URL}
	      region: us-east-1
	      bucket: $BUCKET
	      prefix: video_
	      poll: 300ms
	      delete: ${DEL:-after_commit}
	EOF
	[ -z "${CREDS:-}" ] || echo "      credentials_file: $CREDS" >>"$CONF"
	export AWS_ACCESS_KEY_ID=$KEY AWS_SECRET_ACCESS_KEY=$secret
}

# creds FILE SECRET: an AWS shared credentials file.
creds() { printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$KEY" "$2" >"$1"; }

# versioned: turn versioning on for the bucket.
versioned() {
	local x=$T/versioning.xml
	printf '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>' >"$x"
	[ "$(RGW_SHA=$(sha256sum "$x" | cut -d' ' -f1) rgw_s3 PUT "/$BUCKET?versioning=" --data-binary "@$x" \
	    -o /dev/null -w '%{http_code}')" = 200 ] || fail "versioning not enabled on $BUCKET"
}

# nversions: versions and delete markers of the bucket.
nversions() { rgw_s3 GET "/$BUCKET?versions" | grep -o '<Version>\|<DeleteMarker>' | grep -c . || true; }

# done_copies NAME: how many packets named NAME were filed done.
done_copies() { grep -v ' event=' "$SPOOL/journal" | grep " name=$1 " | grep -c ' outcome=done' || true; }

# all_done NAME...: each was filed done.
all_done() {
	local k
	for k in "$@"; do [ "$(done_copies "$k")" -ge 1 ] || return 1; done
}

# done_has NAME FILE: some packet filed in done/ as NAME or NAME.~J~ is FILE.
done_has() {
	local f
	for f in "$SPOOL/done/$1" "$SPOOL/done/$1".~*~; do
		[ -f "$f" ] && cmp -s "$f" "$2" && return 0
	done
	return 1
}

# race_kill VERSIONED: upload, hold the daemon's requests after its download
# (HEAD or DELETE), SIGKILL it there, upload new content under the same key,
# restart: both contents must be filed, and the bucket end empty.
race_kill() {
	start_holdproxy "$T/hold"
	[ "$1" = no ] || versioned
	put video_r.zip
	printf '^(HEAD|DELETE) /%s/video_r' "$BUCKET" >"$HOLD_FILE"
	ENDPOINT=$HOLD_URL rgw_conf
	start_daemon
	wait_for grep -q "video_r" "$HELD_FILE"
	kill -KILL -- "-$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=
	mkdir -p "$T/new"
	make_packet "$T/new" p.zip
	cmp -s "$T/new/p.zip" "$T/src/p.zip" && fail "the new content is the old"
	[ -n "$(rgw_put "$BUCKET" video_r.zip "$T/new/p.zip")" ] || fail "no second upload"
	rm -f "$HOLD_FILE"
	start_daemon
	wait_until 60 eval '[ "$(done_copies video_r.zip)" -ge 2 ]' ||
	    fail "filed $(done_copies video_r.zip) times: $(grep -E 's3_delete' "$LOG")"
	wait_until 30 bucket_empty || fail "left: $(keys)"
	done_has video_r.zip "$T/src/p.zip" || fail "the first upload is not in done/"
	done_has video_r.zip "$T/new/p.zip" || fail "the second upload is not in done/"
}

@test "radosgw: 1,010 objects over two listing pages, keys full of specials: each filed once, all deleted" {
	local k i names=() specials=("video_a b.zip" "video_c+d=e.zip" "video_50%.zip" "video_été.zip"
	    "video_日本.zip" "video_dir/x.zip" "video_~!*'()\$,;:@&.zip")
	for ((i = 0; i < 1000; i++)); do names+=("$(printf 'video_%04d.zip' "$i")"); done
	put "${names[@]}" "${specials[@]}" other.zip
	[ "$(rgw_s3 GET "/$BUCKET?list-type=2&max-keys=1000" | grep -c '<IsTruncated>true')" -eq 1 ] ||
	    fail "the listing fits one page: the test would not follow a continuation token"
	rgw_conf
	start_daemon
	wait_until 300 journal_has 1007	# generous: ASan, and 2 cores shared
	wait_until 30 eval '[ "$(nkeys)" -eq 1 ]' || fail "left in the bucket: $(keys | head)"
	[ "$(keys)" = other.zip ] || fail "the object outside the prefix was touched: $(keys)"
	[ "$(journal_count)" -eq 1007 ]
	[ "$(grep -v ' event=' "$SPOOL/journal" | grep -vc ' outcome=done')" -eq 0 ] ||
	    fail "not done: $(grep -v ' outcome=done' "$SPOOL/journal" | head -3)"
	for k in "video_a%20b.zip" "video_c+d=e.zip" "video_50%25.zip" "video_été.zip" \
	    "video_dir／x.zip" "video_日本.zip" video_0000.zip video_0999.zip; do
		[ "$(journal_field "$k" outcome)" = done ] || fail "$k: $(journal_field "$k" outcome)"
		cmp -s "$SPOOL/done/$k" "$T/src/p.zip" || fail "$k differs from what was uploaded"
	done
	! grep -q 'status=403' "$LOG" || fail "radosgw refused a request: $(grep 'status=403' "$LOG" | head -2)"
	stop_daemon
}

@test "radosgw: a wrong secret is said once, by radosgw's own check, and deletes nothing" {
	put video_1.zip video_2.zip
	rgw_conf wrong-secret
	start_daemon
	wait_for grep -q 'role=source .*event=list .*status=403 code=SignatureDoesNotMatch' "$LOG"
	sleep 1	# several polls: the error is not repeated
	[ "$(grep -c 'code=SignatureDoesNotMatch' "$LOG")" -eq 1 ] ||
	    fail "logged $(grep -c 'code=SignatureDoesNotMatch' "$LOG") times"
	[ "$(nkeys)" -eq 2 ]
	[ "$(journal_count)" -eq 0 ]
	stop_daemon
}

@test "radosgw: SIGKILL of the whole daemon mid-flow, then a restart: every object filed once, none left" {
	local i names=()
	for ((i = 0; i < 60; i++)); do names+=("$(printf 'video_k%02d.zip' "$i")"); done
	put "${names[@]}"
	rgw_conf
	start_daemon
	wait_for journal_has 10
	kill -KILL -- "-$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=
	start_daemon
	wait_until 60 bucket_empty
	wait_for journal_has 60
	for k in "${names[@]}"; do
		[ "$(grep -c " name=$k " "$SPOOL/journal")" -eq 1 ] || fail "$k: $(grep " name=$k " "$SPOOL/journal")"
		[ -s "$SPOOL/done/$k" ] || fail "$k is not in done/"
	done
	stop_daemon
}

@test "radosgw: killed between download and delete, the key uploaded again: the new object is fetched and filed, never deleted unseen" {
	race_kill no
	grep -q 'event=s3_delete_skipped name=video_r.zip .*why=changed' "$LOG" ||
	    fail "no skipped delete logged: $(grep s3_delete "$LOG")"
	stop_daemon
}

@test "radosgw: a versioned bucket: the exact version fetched is deleted (logged), a version uploaded meanwhile is fetched, nothing is left" {
	race_kill yes
	grep -q 'event=s3_delete name=video_r.zip .*version=' "$LOG" ||
	    fail "no version in the delete's log: $(grep s3_delete "$LOG")"
	wait_until 10 eval '[ "$(nversions)" -eq 0 ]' ||
	    fail "versions left: $(rgw_s3 GET "/$BUCKET?versions")"
	stop_daemon
}

@test "radosgw: the secret broken (credentials_file, HUP) while downloads wait, then fixed (HUP): every object fetched and filed once" {
	local i k names=()
	for ((i = 0; i < 20; i++)); do names+=("$(printf 'video_c%02d.zip' "$i")"); done
	put "${names[@]}"
	start_holdproxy "$T/hold"
	CREDS=$T/creds
	creds "$CREDS" "$SECRET"
	printf '^GET /%s/video_c' "$BUCKET" >"$HOLD_FILE"
	RETRIES=1 ENDPOINT=$HOLD_URL CREDS=$CREDS rgw_conf
	start_daemon
	wait_for eval '[ "$(grep -c "event=queued" "$LOG")" -ge 20 ]'
	wait_for eval '[ "$(grep -c . "$HELD_FILE")" -ge 2 ]'
	creds "$CREDS" wrong-secret
	kill -HUP "$DAEMON_PID"
	rm -f "$HOLD_FILE"
	wait_for grep -q 'role=worker.* code=SignatureDoesNotMatch' "$LOG"
	# Let some give up for good, as they would over a weekend.
	wait_for grep -q 'outcome=failed' "$SPOOL/journal"
	creds "$CREDS" "$SECRET"
	kill -HUP "$DAEMON_PID"
	wait_until 90 all_done "${names[@]}" ||
	    fail "not all filed: $(ls "$SPOOL/done" | grep -c 'video_c..\.zip$') in done/"
	wait_until 30 bucket_empty || fail "left: $(keys)"
	for k in "${names[@]}"; do
		[ "$(done_copies "$k")" -eq 1 ] || fail "$k filed done $(done_copies "$k") times"
	done
	stop_daemon
}

# The flows of remote_s3.bats that need no s3rver-only trick, against radosgw.
# Left out: the SigV4 proxy's self-test (the proxy is s3rver's) and a listing
# never answered (a black hole, no S3 server at all).

@test "radosgw: delete: never keeps the objects and fetches each once, across a restart; a changed object is new" {
	put video_1.zip video_2.zip
	DEL=never rgw_conf
	start_daemon
	wait_for journal_has 2
	sleep 1	# several polls
	[ "$(journal_count)" -eq 2 ]
	[ "$(nkeys)" -eq 2 ]
	! grep -q 'event=s3_delete' "$LOG" || fail "a delete: $(grep s3_delete "$LOG")"
	stop_daemon
	start_daemon
	sleep 1	# several polls
	[ "$(journal_count)" -eq 2 ] || fail "fetched again after a restart"
	# A changed object (new ETag) is new.
	mkdir -p "$T/new"
	make_packet "$T/new" p.zip
	[ -n "$(rgw_put "$BUCKET" video_1.zip "$T/new/p.zip")" ] || fail "no second upload"
	wait_for journal_has 3
	[ "$(nkeys)" -eq 2 ]
	stop_daemon
}

# hold_delete KEY: radosgw behind holdproxy, which holds the DELETE of KEY.
hold_delete() {
	start_holdproxy "$T/hold"
	put "$1"
	printf '^DELETE /%s/%s' "$BUCKET" "$1" >"$HOLD_FILE"
	ENDPOINT=$HOLD_URL rgw_conf
}
delete_held() { grep -q '^DELETE ' "$HELD_FILE"; }

@test "radosgw: a daemon killed with SIGKILL between download and delete loses nothing and processes once" {
	hold_delete video_k.zip
	start_daemon
	wait_for delete_held
	[ "$(nkeys)" -eq 1 ]
	[ ! -e "$SPOOL/inbox/video_k.zip.part" ]
	kill -KILL -- "-$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=
	mq_cleanup
	rm -f "$HOLD_FILE"
	start_daemon
	wait_for bucket_empty
	wait_for journal_has 1
	sleep 1	# several polls: nothing is fetched again
	[ "$(grep -c ' name=video_k.zip ' "$SPOOL/journal")" -eq 1 ] || fail "video_k.zip: $(cat "$SPOOL/journal")"
	[ "$(journal_count)" -eq 1 ] || fail "journal: $(cat "$SPOOL/journal")"
	[ "$(journal_field video_k.zip outcome)" = done ]
	[ -s "$SPOOL/done/video_k.zip" ]
	! grep -q 'status=403' "$LOG" || fail "radosgw refused a request: $(grep 'status=403' "$LOG" | head -2)"
	stop_daemon
}

@test "radosgw: kill -9 of the supervisor alone ends a worker whose DELETE the server holds, within 2 s" {
	hold_delete video_h.zip
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
	rm -f "$HOLD_FILE"
	mq_cleanup
}

@test "radosgw: a DELETE the server accepts and never answers ends after fetch.request_timeout, logged; the packet is filed" {
	hold_delete video_t.zip
	sed -i 's/^  backoff: 100ms$/  backoff: 100ms\n  request_timeout: 1s/' "$CONF"
	start_daemon
	wait_for delete_held
	wait_until 10 grep -q 'event=s3_delete_failed name=video_t.zip .*request=DELETE .*error="Timeout was reached"' "$LOG" ||
	    fail "no timeout of the held DELETE within 10 s: $(grep s3_delete "$LOG")"
	wait_for journal_has 1
	[ "$(journal_field video_t.zip outcome)" = done ]
	[ "$(nkeys)" -eq 1 ] || fail "the object is gone"
	rm -f "$HOLD_FILE"
	stop_daemon
}
