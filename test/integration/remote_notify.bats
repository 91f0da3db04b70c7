#!/usr/bin/env bats
# The webhook (issue 6): one JSON document per finished job, from the journal,
# by a process of its own: a receiver that is down, slow or failing never
# slows the jobs; what cannot be delivered is logged, counted and kept.

load helpers
load ../remote/lib

teardown() {
	stop_servers
	common_teardown
}

# notify_conf URL [RETRIES [TIMEOUT]]: quick handler that fails packets named bad*.
notify_conf() {
	write_conf workers=2
	handler_script h >/dev/null <<-'EOF'
	case $INGEST_NAME in bad*) exit 3 ;; esac
	exit 0
	EOF
	use_handler h "retries: 0"
	conf_add <<-EOF
	notify:
	  url: $1
	  timeout: ${3:-2s}
	  retries: ${2:-1}
	  backoff: 100ms
	EOF
}

records() { [ -f "$HOOK_RECORD" ] && wc -l <"$HOOK_RECORD" || echo 0; }
records_has() { [ "$(records)" -ge "$1" ]; }

# doc NAME FIELD: FIELD of the (last) document received for packet NAME, as JSON.
doc() {
	"$PY" -c '
import json, sys
last = None
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["doc"].get("name") == sys.argv[2]:
        last = r["doc"]
v = last
for k in sys.argv[3].split("."):
    v = v[k]
print(json.dumps(v))' "$HOOK_RECORD" "$1" "$2"
}

@test "each finished job is posted as JSON with its outcome, reason and the manifest's scalars" {
	start_webhook "$T" ok
	notify_conf "http://127.0.0.1:$HOOK_PORT/hook?x=1"
	start_daemon
	drop good.zip
	drop bad.zip
	wait_for records_has 2
	[ "$(doc good.zip outcome)" = '"done"' ]
	[ "$(doc good.zip attempts)" = 1 ]
	[ "$(doc good.zip reason)" = null ]
	[ "$(doc good.zip filed)" = '"done/good.zip"' ]
	[ "$(doc good.zip manifest.name)" = '"good.zip"' ]
	[ "$(doc good.zip manifest.source)" = '"ingestd-integration"' ]
	[ "$(doc bad.zip outcome)" = '"failed"' ]
	[ "$(doc bad.zip reason)" = '"exit status=3"' ]
	[[ $(doc bad.zip duration_ms) =~ ^[0-9]+$ ]]
	! grep -q '"ok": false' "$HOOK_RECORD" || fail "a document was not a JSON object: $(cat "$HOOK_RECORD")"
	stop_daemon
}

@test "a dead receiver: jobs finish at full speed, the documents are logged, counted and kept" {
	notify_conf "http://127.0.0.1:$(free_port)/hook" 1
	start_daemon
	drop_many 20 dead 0
	wait_until 20 all_finished
	assert_exactly_once
	wait_for grep -q 'event=notify_failed .*undelivered=20' "$LOG"
	grep -q 'role=notifier .*event=notify_failed name=dead0001.zip attempts=2 error=' "$LOG"
	[ "$(wc -l <"$SPOOL/remote/notify.failed")" -eq 20 ]
	stop_daemon
}

@test "a receiver that takes 5s per POST does not slow the jobs" {
	start_webhook "$T" slow 5
	notify_conf "http://127.0.0.1:$HOOK_PORT/hook" 0 10s
	start_daemon
	now_us
	local t0=$NOW_US
	drop_many 20 slow 0
	wait_until 20 all_finished
	now_us
	# 20 jobs with a quick handler: seconds, while the receiver has taken one or two.
	[ $(( (NOW_US - t0) / 1000000 )) -lt 8 ] || fail "jobs took $(( (NOW_US - t0) / 1000 )) ms"
	[ "$(records)" -le 2 ] || fail "the receiver got $(records) documents already"
	assert_exactly_once
	stop_daemon
}

@test "a receiver answering 500 gets the retries, then the document counts as undelivered" {
	start_webhook "$T" error
	notify_conf "http://127.0.0.1:$HOOK_PORT/hook" 2
	start_daemon
	drop one.zip
	wait_for grep -q 'event=notify_failed name=one.zip attempts=3 status=500 undelivered=1' "$LOG"
	[ "$(records)" -eq 3 ]
	stop_daemon
}

@test "after a restart the notifier goes on where it stopped: nothing lost, nothing sent twice" {
	start_webhook "$T" ok
	notify_conf "http://127.0.0.1:$HOOK_PORT/hook"
	start_daemon
	drop a.zip
	wait_for records_has 1
	stop_daemon
	drop b.zip
	start_daemon
	wait_for records_has 2
	sleep 0.5
	[ "$(records)" -eq 2 ] || fail "$(cat "$HOOK_RECORD")"
	[ "$(doc a.zip outcome)" = '"done"' ]
	[ "$(doc b.zip outcome)" = '"done"' ]
	stop_daemon
}

# Issue 11: the notifier reads the journal with the logfmt reader, so a name
# is never read as fields, and escapes are decoded before they are JSON.
@test "a forged or escaped name is posted as the name it is, with its real fields and its manifest" {
	start_webhook "$T" ok
	notify_conf "http://127.0.0.1:$HOOK_PORT/hook"
	start_daemon
	local forged="ok outcome=failed attempts=99 dur_ms=7 reason=forged.zip" tab=$'tab\there.zip'
	drop "$forged"
	drop "$tab"
	wait_for records_has 2
	[ "$(doc "$forged" outcome)" = '"done"' ] || fail "$(cat "$HOOK_RECORD")"
	[ "$(doc "$forged" attempts)" = 1 ]
	[ "$(doc "$forged" reason)" = null ]
	[ "$(doc "$forged" manifest.source)" = '"ingestd-integration"' ]
	[ "$(doc "$tab" outcome)" = '"done"' ] || fail "$(cat "$HOOK_RECORD")"
	[ "$(doc "$tab" filed)" = '"done/tab\there.zip"' ]
	[ "$(doc "$tab" manifest.source)" = '"ingestd-integration"' ]
	stop_daemon
}

# The receiver is slow, so the journal is rotated (journal -> journal.1, at
# journal_max, 64 KiB at least: some 450 lines) while the notifier is still
# reading it: it must finish the old file before it starts the new one.
@test "the notifier follows a rotation of the journal: every job posted once" {
	start_webhook "$T" slow 0.01
	notify_conf "http://127.0.0.1:$HOOK_PORT/hook" 0 5s
	conf_add <<-EOF
	journal_max: 64KiB
	journal_keep: 20
	EOF
	start_daemon
	drop_many 600 r
	wait_for jobs_in_journals 600
	[ -e "$SPOOL/journal.1" ] || fail "no rotation happened: $(ls "$SPOOL")"
	[ "$(records)" -lt 600 ] || skip "the notifier kept up: nothing was read across the rotation"
	WAIT_TIMEOUT=60 wait_for records_has 600
	local uniq
	uniq=$("$PY" -c '
import json, sys
names = [json.loads(l)["doc"]["name"] for l in open(sys.argv[1])]
print(len(set(names)), len(names))' "$HOOK_RECORD")
	[ "$uniq" = "600 600" ] || fail "distinct and total documents: $uniq"
	stop_daemon
}

# jobs_in_journals N: the journal and the rotated ones hold N job lines.
jobs_in_journals() { [ "$(cat "$SPOOL"/journal* 2>/dev/null | grep -c ' outcome=')" -ge "$1" ]; }
