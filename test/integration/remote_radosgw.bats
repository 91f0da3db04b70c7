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

rgw_conf() {
	local secret=${1:-$SECRET}
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
	      endpoint: $RGW_URL
	      region: us-east-1
	      bucket: $BUCKET
	      prefix: video_
	      poll: 300ms
	      delete: after_commit
	EOF
	export AWS_ACCESS_KEY_ID=$KEY AWS_SECRET_ACCESS_KEY=$secret
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
	wait_until 120 journal_has 2014
	wait_until 30 eval '[ "$(nkeys)" -eq 1 ]' || fail "left in the bucket: $(keys | head)"
	[ "$(keys)" = other.zip ] || fail "the object outside the prefix was touched: $(keys)"
	[ "$(journal_count)" -eq 2014 ]
	[ "$(grep -v ' event=' "$SPOOL/journal" | grep -vc ' outcome=done')" -eq 0 ] ||
	    fail "not done: $(grep -v ' outcome=done' "$SPOOL/journal" | head -3)"
	for k in "video_a%20b.zip" "video_c+d=e.zip" "video_50%25.zip" "video_%C3%A9t%C3%A9.zip" \
	    "video_dir%2Fx.zip" video_0000.zip video_0999.zip; do
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
	wait_for journal_has 20
	kill -KILL -- "-$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=
	start_daemon
	wait_until 60 bucket_empty
	wait_for journal_has 120
	for k in "${names[@]}"; do
		[ "$(grep -c " name=$k " "$SPOOL/journal")" -eq 1 ] || fail "$k: $(grep " name=$k " "$SPOOL/journal")"
		[ -s "$SPOOL/done/$k" ] || fail "$k is not in done/"
	done
	stop_daemon
}
