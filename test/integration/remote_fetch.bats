#!/usr/bin/env bats
# URL packets (issue 6): NAME.url in the inbox is downloaded to inbox/NAME.part,
# verified, renamed to NAME in the job and processed by the same job, as one
# packet: the request leaves no journal line or file of its own. Against
# nginx (ranges, parallel segments, resume after a kill) and a server that
# misbehaves on purpose (404, 500 then 200, a cut connection, a short body, a
# slow drip, Range ignored or answered wrong).

load helpers
load ../remote/lib

setup_file() {
	export FILES=$BATS_FILE_TMPDIR/files SRV=$BATS_FILE_TMPDIR/srv
	mkdir -p "$FILES" "$SRV"
	gen_file $((24 * 1024 * 1024 + 12345)) "$FILES/big.bin"
	gen_file 3000 "$FILES/small.bin"
	: >"$FILES/empty.bin"
	start_misbehave "$SRV"
	start_nginx "$SRV" "$FILES" 2m
	export MB_PORT MB_PID NGINX_PORT NGINX_PID
}

teardown_file() {
	kill -TERM "$MB_PID" "$NGINX_PID" 2>/dev/null || true
}

# A config for URL packets: small ranges so a test file is "large".
fetch_conf() {
	cat >"$CONF" <<-EOF
	# written by $BATS_TEST_FILENAME: $BATS_TEST_DESCRIPTION
	spool: $SPOOL
	workers: 2
	settle: 200ms
	shutdown_grace: 1s
	allow_root: true
	handler:
	  command: [/bin/true]
	  retries: ${RETRIES:-0}
	  backoff: 200ms
	  backoff_max: 200ms
	packet:
	  plain: pass
	  manifest_required: false
	fetch:
	  segments: 4
	  segment_min: 1MiB
	  retries: ${FETCH_RETRIES:-3}
	  backoff: 100ms
	  connect_timeout: 2s
	  low_speed_limit: 1KiB
	  low_speed_time: 2s
	EOF
}

# drop_url NAME LINE...: write NAME (a .url file) the producer's way.
drop_url() {
	local name=$1
	shift
	mkdir -p "$SPOOL/inbox"
	printf '%s\n' "$@" >"$SPOOL/inbox/.$name.tmp"
	mv "$SPOOL/inbox/.$name.tmp" "$SPOOL/inbox/$name"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# one_job NAME: the packet a request brought is filed, as the request's job:
# one journal line, under the packet's name, and none of the request's.
one_job() { journal_has 1 && [ -n "$(journal_field "$1" outcome)" ]; }
# no_request_line NAME: the request left no journal line and no file of its own.
no_request_line() {
	[ -z "$(journal_field "$1.url" outcome)" ] || fail "a journal line of its own for $1.url"
	[ "$(journal_count)" -eq 1 ] || fail "$(journal_count) journal lines for one request"
	[ ! -e "$SPOOL/done/$1.url" ] || fail "done/$1.url is left"
}
failed_url() { [ -e "$SPOOL/failed/$1" ]; }

# no_leftovers STEM: nothing of the download is left in the inbox.
no_leftovers() {
	[ ! -e "$SPOOL/inbox/$1.part" ] || fail "inbox/$1.part is left"
	[ ! -e "$SPOOL/inbox/.$1.part.state" ] || fail "inbox/.$1.part.state is left"
}

@test "a large file comes from nginx in parallel ranges, is verified and processed as a packet" {
	fetch_conf
	printf 'metrics_file: %s\nmetrics_interval: 1s\n' "$T/metrics.prom" >>"$CONF"
	start_daemon
	drop_url big.bin.url "http://127.0.0.1:$NGINX_PORT/big.bin" "sha256=$(sha "$FILES/big.bin")" \
	    "size=$(stat -c %s "$FILES/big.bin")"
	wait_for one_job big.bin
	[ "$(journal_field big.bin outcome)" = done ]
	no_request_line big.bin
	cmp "$FILES/big.bin" "$SPOOL/done/big.bin"
	no_leftovers big.bin
	# The metrics count what the download wrote: the file, once.
	local size
	size=$(stat -c %s "$FILES/big.bin")
	wait_until 5 eval "awk '/^ingestd_fetched_bytes_total / { exit !(\$2 >= $size && \$2 < 2 * $size) }' \"$T/metrics.prom\"" ||
	    fail "ingestd_fetched_bytes_total is not the file's $size: $(grep fetched "$T/metrics.prom")"
	# One request, one job: counted done once.
	wait_until 5 grep -qx 'ingestd_jobs_total{outcome="done"} 1' "$T/metrics.prom" ||
	    fail "$(grep jobs_total "$T/metrics.prom")"
	# Four ranges, each asked for once, all answered 206; and the 1 MiB probe.
	local log=$SRV/nginx/access.log
	[ "$(grep -c 'GET /big.bin range="bytes=[0-9]*-[0-9]*" status=206' "$log")" -ge 5 ] ||
	    fail "expected the probe and 4 range requests: $(grep big.bin "$log")"
	grep -q 'range="bytes=0-1048575"' "$log"
	grep -q "range=\"bytes=$((3 * (24 * 1024 * 1024 + 12345) / 4))-$((24 * 1024 * 1024 + 12345 - 1))\"" "$log" ||
	    fail "no request for the last quarter: $(grep big.bin "$log")"
	stop_daemon
}

# Bytes of a download present, from its state record.
state_done() {
	local f=$SPOOL/inbox/.$1.part.state
	[ -f "$f" ] || { echo 0; return; }
	tr -d '\0' <"$f" | awk '/^seg=/ { split($0, a, /[= ]/); d += a[4] } END { print d + 0 }'
}

half_done() { [ "$(state_done big.bin)" -ge $((8 * 1024 * 1024)) ]; }
slow_requests() { grep -c '/slow/big.bin' "$SRV/nginx/access.log" || true; }
slow_requests_at_least() { [ "$(slow_requests)" -ge "$1" ]; }

@test "a download cut by SIGKILL of the whole daemon resumes where it stopped" {
	# The kill counts as a crash of the job: allow one.
	RETRIES=2 fetch_conf
	local base
	base=$(slow_requests)
	start_daemon
	# 2 MB/s per connection: about 3 s for the file, so it can be stopped halfway.
	drop_url big.bin.url "http://127.0.0.1:$NGINX_PORT/slow/big.bin" "sha256=$(sha "$FILES/big.bin")"
	wait_for half_done
	# status shows the download under way: its bytes, its total, a rate and an ETA.
	local st
	st=$("$INGESTD" status -c "$CONF")
	grep -A2 '^downloads:' <<<"$st" | grep 'big\.bin' | grep -vq ' ? ' ||
	    fail "no download line for big.bin in status: $st"
	"$INGESTD" status -c "$CONF" --json | jq -e '[.workers[] | select(.download != null) |
	    .download | select(.have > 0 and .total > .have and .rate > 0 and .eta_s >= 0)] |
	    length == 1' >/dev/null || fail "no download in status --json"
	kill -KILL -- "-$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=
	mq_cleanup
	[ ! -e "$SPOOL/inbox/big.bin" ] || fail "a partial file is under the final name"
	[ -e "$SPOOL/inbox/big.bin.part" ]
	local before first
	before=$(state_done big.bin)
	# nginx logs a request when its connection ends: the probe and the 4 ranges.
	wait_for slow_requests_at_least $((base + 5))
	first=$(slow_requests)
	start_daemon
	wait_for one_job big.bin
	cmp "$FILES/big.bin" "$SPOOL/done/big.bin"
	no_leftovers big.bin
	grep -q 'event=fetch_resume name=big.bin' "$LOG" || fail "no event=fetch_resume in $LOG"
	# It says how much it resumed from: what the state had, not 0.
	local have
	have=$(sed -n 's/.*event=fetch_resume name=big.bin .*have=\([0-9]*\).*/\1/p' "$LOG" | head -1)
	[ "${have:-0}" -ge "$before" ] && [ "$before" -gt 0 ] ||
	    fail "fetch_resume have=${have:-none}, the state had $before"
	# What the state recorded was not fetched again: the second run asked for
	# the rest, from where each range stopped. (Bytes nginx sent the first run
	# beyond the last saved state are lost by design: it is saved once a second.)
	local sent size
	size=$(stat -c %s "$FILES/big.bin")
	sent=$(grep '/slow/big.bin' "$SRV/nginx/access.log" | tail -n +$((first + 1)) |
	    awk '{ sub(/bytes=/, "", $NF); s += $NF } END { print s + 0 }')
	[ "$sent" -le $(( size - before + 64 * 1024 )) ] ||
	    fail "the resumed run got $sent bytes of a file of $size (state had $before)"
	[ "$sent" -gt 0 ]
	stop_daemon
}

# small_gets: how many times nginx has sent small.bin.
small_gets() { grep -c 'GET /small.bin ' "$SRV/nginx/access.log" || true; }

@test "a job that died after its download landed, before it let go of the request, files the packet once without a second download" {
	fetch_conf
	# The state of a job killed between the rename into pkt/ and the unlink of
	# the request: both names in pkt/, no journal line, no resume record.
	local id
	id=$(printf '%016x' "$(( $(date +%s%N) ))")
	mkdir -p "$SPOOL/work/$id/pkt" "$SPOOL/inbox"
	printf 'http://127.0.0.1:%s/small.bin\n' "$NGINX_PORT" >"$SPOOL/work/$id/pkt/landed.bin.url"
	cp "$FILES/small.bin" "$SPOOL/work/$id/pkt/landed.bin"
	local base
	base=$(small_gets)
	start_daemon
	wait_for one_job landed.bin
	[ "$(journal_field landed.bin outcome)" = done ] || fail "$(journal_field landed.bin reason)"
	[ "$(journal_field landed.bin job)" = "$id" ]
	no_request_line landed.bin
	cmp "$FILES/small.bin" "$SPOOL/done/landed.bin"
	[ "$(small_gets)" -eq "$base" ] || fail "downloaded again"
	no_leftovers landed.bin
	[ -z "$(ls -A "$SPOOL/work/$id/pkt" 2>/dev/null)" ] || fail "left in pkt/: $(ls -A "$SPOOL/work/$id/pkt")"
	stop_daemon
}

@test "a job whose download landed is never failed for what is left after it: a request no longer valid still files the packet" {
	fetch_conf
	local id
	id=$(printf '%016x' "$(( $(date +%s%N) ))")
	mkdir -p "$SPOOL/work/$id/pkt" "$SPOOL/inbox"
	printf 'no URL here\n' >"$SPOOL/work/$id/pkt/left.bin.url"
	cp "$FILES/small.bin" "$SPOOL/work/$id/pkt/left.bin"
	start_daemon
	wait_for one_job left.bin
	[ "$(journal_field left.bin outcome)" = done ] || fail "$(cat "$SPOOL/journal")"
	no_request_line left.bin
	[ ! -e "$SPOOL/failed/left.bin.url" ] || fail "the request was failed"
	log_has "event=fetch_left name=left.bin reason="
	[ -z "$(ls -A "$SPOOL/work/$id/pkt" 2>/dev/null)" ] || fail "left in pkt/: $(ls -A "$SPOOL/work/$id/pkt")"
	stop_daemon
}

@test "a daemon killed while the handler of a downloaded packet runs runs it again on restart, without a second download" {
	RETRIES=2 fetch_conf
	cat >"$T/h.sh" <<-EOF
	#!/bin/sh
	echo run >>"$T/runs"
	[ -e "$T/go" ] || sleep 60
	EOF
	chmod +x "$T/h.sh"
	sed -i "s|command: \[/bin/true\]|command: [$T/h.sh]|" "$CONF"
	local base
	base=$(small_gets)
	start_daemon
	drop_url hk.bin.url "http://127.0.0.1:$NGINX_PORT/small.bin"
	wait_for test -s "$T/runs"
	kill -KILL -- "-$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=
	mq_cleanup
	[ ! -e "$SPOOL/inbox/hk.bin" ] || fail "the download went to the inbox"
	touch "$T/go"
	start_daemon
	wait_for one_job hk.bin
	[ "$(journal_field hk.bin outcome)" = done ] || fail "$(journal_field hk.bin reason)"
	no_request_line hk.bin
	[ "$(wc -l <"$T/runs")" -eq 2 ] || fail "handler runs: $(wc -l <"$T/runs")"
	[ "$(small_gets)" -eq $((base + 1)) ] || fail "small.bin fetched $(($(small_gets) - base)) times"
	stop_daemon
}

@test "the handler of a URL packet is told INGEST_SOURCE=url and the URL, without its password" {
	fetch_conf
	sed -i 's|command: \[/bin/true\]|command: [sh, -c, "env \| grep ^INGEST_ \| sort"]|' "$CONF"
	start_daemon
	drop_url small.bin.url "http://user:secret@127.0.0.1:$NGINX_PORT/small.bin"
	wait_for test -e "$SPOOL/done/small.bin.log"
	grep -qx 'INGEST_SOURCE=url' "$SPOOL/done/small.bin.log" ||
	    fail "$(cat "$SPOOL/done/small.bin.log")"
	grep -qx "INGEST_URL=http://user:***@127.0.0.1:$NGINX_PORT/small.bin" "$SPOOL/done/small.bin.log" ||
	    grep -qx "INGEST_URL=http://127.0.0.1:$NGINX_PORT/small.bin" "$SPOOL/done/small.bin.log" ||
	    fail "no INGEST_URL without the password in $(cat "$SPOOL/done/small.bin.log")"
	! grep -q secret "$SPOOL/done/small.bin.log" || fail "the password reached the handler"
	! grep -q INGEST_S3_ "$SPOOL/done/small.bin.log"
	stop_daemon
}

@test "404 fails at once with the status and the URL, and leaves nothing behind" {
	fetch_conf
	start_daemon
	drop_url gone.zip.url "http://127.0.0.1:$MB_PORT/status/404"
	wait_for failed_url gone.zip.url
	wait_for journal_has 1
	[ "$(journal_field gone.zip.url reason)" = "fetch status=404 url=http://127.0.0.1:$MB_PORT/status/404" ]
	grep -q 'reason=fetch status=404' "$SPOOL/failed/gone.zip.url.error"
	no_leftovers gone.zip
	[ ! -e "$SPOOL/inbox/gone.zip" ]
	[ "$(grep -c '/status/404' < <(curl -s "http://127.0.0.1:$MB_PORT/log"))" -eq 1 ] ||
	    fail "a 404 was asked again"
	stop_daemon
}

@test "a download failed for good and put back with retry, once the server mends, is one job filed under the packet's name" {
	FETCH_RETRIES=0 fetch_conf
	start_daemon
	drop_url mend.bin.url "http://127.0.0.1:$MB_PORT/flaky/mend1?fail=1&size=3000"
	wait_for failed_url mend.bin.url
	wait_for journal_has 1
	[[ $(journal_field mend.bin.url reason) == "fetch status=500"* ]] ||
	    fail "reason: $(journal_field mend.bin.url reason)"
	local job
	job=$(journal_field mend.bin.url job)
	run_ingestd retry -d "$SPOOL" mend.bin.url
	[ "$status" -eq 0 ] || fail "status $status: $stderr"
	wait_for one_job mend.bin
	[ "$(journal_field mend.bin outcome)" = done ] || fail "$(journal_field mend.bin reason)"
	cmp "$FILES/small.bin" "$SPOOL/done/mend.bin"
	[ -f "$SPOOL/failed/mend.bin.url.retried-$job.error" ] || fail "old .error: $(ls "$SPOOL/failed")"
	[ ! -e "$SPOOL/failed/mend.bin.url" ] && [ ! -e "$SPOOL/done/mend.bin.url" ] ||
	    fail "failed/: $(ls "$SPOOL/failed") done/: $(ls "$SPOOL/done")"
	[ "$(journal_count)" -eq 2 ] || fail "$(cat "$SPOOL/journal")"
	stop_daemon
}

@test "500 then 200: retried with growing backoff, then done" {
	fetch_conf
	start_daemon
	drop_url flaky.bin.url "http://127.0.0.1:$MB_PORT/flaky/f1?fail=2&size=3000"
	wait_for one_job flaky.bin
	cmp "$FILES/small.bin" "$SPOOL/done/flaky.bin"
	grep -q 'event=fetch_retry name=flaky.bin status=500 attempt=1 .* delay_ms=100' "$LOG"
	grep -q 'event=fetch_retry name=flaky.bin status=500 attempt=2 .* delay_ms=200' "$LOG"
	stop_daemon
}

@test "a connection cut mid-body resumes from the byte where it stopped" {
	fetch_conf
	start_daemon
	drop_url cut.bin.url "http://127.0.0.1:$MB_PORT/cut/c1?at=1000000&size=3000000"
	wait_for one_job cut.bin
	gen_file 3000000 "$T/expect"
	cmp "$T/expect" "$SPOOL/done/cut.bin"
	curl -s "http://127.0.0.1:$MB_PORT/log" | grep '/cut/c1' | grep -q '"range": "bytes=1000000-2999999"' ||
	    fail "no resumed range request: $(curl -s "http://127.0.0.1:$MB_PORT/log" | grep /cut/c1)"
	no_leftovers cut.bin
	stop_daemon
}

@test "a body shorter than its Content-Length fails after the retries, nothing under the final name" {
	RETRIES=0 FETCH_RETRIES=1 fetch_conf
	start_daemon
	drop_url short.bin.url "http://127.0.0.1:$MB_PORT/shortlen?size=10000"
	wait_for failed_url short.bin.url
	wait_for journal_has 1
	local r
	r=$(journal_field short.bin.url reason)
	[[ $r == "fetch error=\"Transferred a partial file\" attempts=2 url="* ]] || fail "reason: $r"
	[ ! -e "$SPOOL/inbox/short.bin" ]
	[ ! -e "$SPOOL/done/short.bin" ]
	stop_daemon
}

@test "a slow drip is cut by the low-speed limit" {
	RETRIES=0 FETCH_RETRIES=0 fetch_conf
	start_daemon
	drop_url drip.bin.url "http://127.0.0.1:$MB_PORT/drip?size=100000&bps=10"
	wait_until 15 failed_url drip.bin.url
	wait_for journal_has 1
	[[ $(journal_field drip.bin.url reason) == *"Timeout was reached"* ]] ||
	    fail "reason: $(journal_field drip.bin.url reason)"
	[ ! -e "$SPOOL/inbox/drip.bin" ]
	stop_daemon
}

@test "a sha256 mismatch fails with both digests and leaves no file under the final name" {
	fetch_conf
	start_daemon
	local wrong=0000000000000000000000000000000000000000000000000000000000000000
	drop_url bad.bin.url "http://127.0.0.1:$NGINX_PORT/small.bin" "sha256=$wrong"
	wait_for failed_url bad.bin.url
	wait_for journal_has 1
	[ "$(journal_field bad.bin.url reason)" = "fetch sha256_mismatch expected=$wrong got=$(sha "$FILES/small.bin")" ]
	[ ! -e "$SPOOL/inbox/bad.bin" ]
	[ ! -e "$SPOOL/done/bad.bin" ]
	no_leftovers bad.bin
	stop_daemon
}

@test "size= that does not match fails before the body is fetched" {
	fetch_conf
	start_daemon
	drop_url sz.bin.url "http://127.0.0.1:$NGINX_PORT/small.bin" "size=2999"
	wait_for failed_url sz.bin.url
	wait_for journal_has 1
	[ "$(journal_field sz.bin.url reason)" = "fetch size_mismatch expected=2999 got=3000" ]
	no_leftovers sz.bin
	stop_daemon
}

@test "servers that ignore Range or answer it wrong are read as one plain stream" {
	fetch_conf
	start_daemon
	drop_url norange.bin.url "http://127.0.0.1:$MB_PORT/norange?size=3000000"
	drop_url badrange.bin.url "http://127.0.0.1:$MB_PORT/badrange?size=3000000"
	wait_for journal_has 2
	gen_file 3000000 "$T/expect"
	cmp "$T/expect" "$SPOOL/done/norange.bin"
	cmp "$T/expect" "$SPOOL/done/badrange.bin"
	curl -s "http://127.0.0.1:$MB_PORT/log" | grep '/badrange' | grep -q '"range": null' ||
	    fail "no plain GET after the wrong Content-Range"
	# Said once per download, not once per range that found out.
	[ "$(grep -c 'event=fetch_no_ranges name=norange.bin' "$LOG")" -eq 1 ] ||
	    fail "event=fetch_no_ranges not logged exactly once for norange.bin in $LOG"
	[ "$(grep -c 'event=fetch_no_ranges name=badrange.bin' "$LOG")" -eq 1 ] ||
	    fail "event=fetch_no_ranges not logged exactly once for badrange.bin in $LOG"
	stop_daemon
}

@test "an empty file arrives as an empty packet, with or without Range support" {
	fetch_conf
	start_daemon
	drop_url e1.bin.url "http://127.0.0.1:$NGINX_PORT/empty.bin" "size=0"
	drop_url e2.bin.url "http://127.0.0.1:$MB_PORT/norange?size=0"
	wait_for journal_has 2
	[ "$(journal_field e1.bin outcome)" = done ] || fail "$(journal_field e1.bin reason)"
	[ "$(journal_field e2.bin outcome)" = done ] || fail "$(journal_field e2.bin reason)"
	[ -f "$SPOOL/done/e1.bin" ] && [ ! -s "$SPOOL/done/e1.bin" ]
	[ -f "$SPOOL/done/e2.bin" ] && [ ! -s "$SPOOL/done/e2.bin" ]
	stop_daemon
}

@test "fetch.max_time ends a download trickling above the low-speed limit, says why, and frees its space" {
	RETRIES=0 FETCH_RETRIES=0 fetch_conf
	echo "  max_time: 2s" >>"$CONF"
	start_daemon
	drop_url trickle.bin.url "http://127.0.0.1:$MB_PORT/drip?size=100000000&bps=8192"
	wait_until 15 failed_url trickle.bin.url || fail "still running after 15 s (max_time 2s)"
	wait_for journal_has 1
	[[ $(journal_field trickle.bin.url reason) == *"fetch limit max_time max_ms=2000"* ]] ||
	    fail "reason: $(journal_field trickle.bin.url reason)"
	[ ! -e "$SPOOL/inbox/trickle.bin.part" ] || fail "the .part of a failed download is left"
	[ ! -e "$SPOOL/inbox/.trickle.bin.part.state" ] || fail "its state is left"
	stop_daemon
}

# blocks_k FILE: the KiB FILE really takes on disk (0 when it is gone).
blocks_k() { [ -e "$1" ] && du -k "$1" | cut -f1 || echo 0; }

@test "a server announcing 10 GiB and hanging up after 4 bytes pins no disk: only the bytes a resume needs while a retry is due, nothing once the packet failed" {
	RETRIES=1 FETCH_RETRIES=0 fetch_conf
	sed -i 's/^  backoff: 200ms$/  backoff: 3s/; s/^  backoff_max: 200ms$/  backoff_max: 3s/' "$CONF"
	start_daemon
	drop_url hang.bin.url "http://127.0.0.1:$MB_PORT/hangup?size=10737418240&at=4"
	wait_for grep -q 'event=retry .*name=hang.bin.url' "$LOG"
	[ "$(blocks_k "$SPOOL/inbox/hang.bin.part")" -lt 1024 ] ||
	    fail "while the retry waits the .part takes $(blocks_k "$SPOOL/inbox/hang.bin.part") KiB"
	wait_until 20 failed_url hang.bin.url || fail "not filed failed"
	[ ! -e "$SPOOL/inbox/hang.bin.part" ] || fail "the .part of a failed download is left"
	[ ! -e "$SPOOL/inbox/.hang.bin.part.state" ] || fail "its state is left"
	stop_daemon
}

@test "a size larger than the spool's free space is refused before any of it is reserved, with the sizes" {
	RETRIES=0 FETCH_RETRIES=0 fetch_conf
	echo "  max_bytes: 4096TiB" >>"$CONF"
	start_daemon
	drop_url huge.bin.url "http://127.0.0.1:$MB_PORT/hangup?size=1125899906842624&at=4"
	wait_until 15 failed_url huge.bin.url || fail "not filed failed"
	wait_for journal_has 1
	[[ $(journal_field huge.bin.url reason) == *"fetch no_space size=1125899906842624 free="* ]] ||
	    fail "reason: $(journal_field huge.bin.url reason)"
	[ ! -e "$SPOOL/inbox/huge.bin.part" ] || fail "the .part is left"
	stop_daemon
}

# A 2 MiB download held for about 4 s, and one that needs no time at all.
reserve_refused() { grep -q 'event=retry .*name=fast.bin.url .*fetch no_space size=2097152 free=[0-9]* reserved=2097152 max=3145728' "$LOG"; }
slow_reserved() { [ "$(blocks_k "$SPOOL/inbox/slow.bin.part")" -ge 2048 ]; }
done_both() { [ -e "$SPOOL/done/slow.bin" ] && [ -e "$SPOOL/done/fast.bin" ]; }

@test "downloads running at once reserve no more than fetch.reserve_max together: the second waits, with the sizes, and completes after the first" {
	RETRIES=30 FETCH_RETRIES=0 fetch_conf
	echo "  reserve_max: 3MiB" >>"$CONF"
	start_daemon
	drop_url slow.bin.url "http://127.0.0.1:$MB_PORT/drip?size=2097152&bps=524288"
	wait_for grep -q 'event=fetch name=slow.bin ' "$LOG"
	wait_until 20 slow_reserved ||
	    fail "the slow download reserved $(blocks_k "$SPOOL/inbox/slow.bin.part") KiB"
	drop_url fast.bin.url "http://127.0.0.1:$MB_PORT/ok/fast?size=2097152"
	# Each fits alone (2 MiB of 3); together they do not: the second waits.
	wait_until 30 reserve_refused || fail "no refusal naming the reservation in $LOG"
	[ ! -e "$SPOOL/done/fast.bin" ] || fail "the second download went past the cap"
	wait_until 60 done_both || fail "not both downloaded: $(ls "$SPOOL"/done "$SPOOL"/failed 2>&1)"
	gen_file 2097152 "$BATS_TEST_TMPDIR/expect"
	cmp "$BATS_TEST_TMPDIR/expect" "$SPOOL/done/slow.bin"
	cmp "$BATS_TEST_TMPDIR/expect" "$SPOOL/done/fast.bin"
	[ -z "$(ls "$SPOOL/failed" 2>/dev/null)" ] || fail "failed: $(ls "$SPOOL/failed")"
	stop_daemon
}

@test "a worker killed while its download holds a reservation gives it back: the next download is not refused" {
	RETRIES=0 FETCH_RETRIES=0 fetch_conf
	echo "  reserve_max: 3MiB" >>"$CONF"
	start_daemon
	# 2 MiB at 64 KiB a second: held for half a minute unless its worker dies.
	drop_url slow.bin.url "http://127.0.0.1:$MB_PORT/drip?size=2097152&bps=65536"
	wait_for grep -q 'event=fetch name=slow.bin ' "$LOG"
	wait_until 20 slow_reserved || fail "the slow download reserved $(blocks_k "$SPOOL/inbox/slow.bin.part") KiB"
	local pid
	pid=$(sed -n 's/.* pid=\([0-9]*\) event=fetch name=slow\.bin .*/\1/p' "$LOG" | head -n 1)
	[ -n "$pid" ] || fail "no worker pid for the slow download in $LOG"
	kill -KILL "$pid"
	# A crash with no retries left: filed failed, not downloaded again.
	wait_until 30 failed_url slow.bin.url || fail "the killed download was not filed failed"
	drop_url fast.bin.url "http://127.0.0.1:$MB_PORT/ok/fast?size=2097152"
	wait_until 30 test -e "$SPOOL/done/fast.bin" || fail "not downloaded: $(grep fast.bin "$LOG" | tail -3)"
	! reserve_refused || fail "refused for the dead worker's reservation: $(grep 'name=fast.bin.url' "$LOG")"
	stop_daemon
}
