#!/usr/bin/env bats
# The hostile-input corpus (test/hostile/gen.py) against the real daemon.
#
# One daemon serves the whole file, as it would serve strangers: each case is
# renamed into its inbox and must land in done/ or failed/ with the expected
# reason; then nothing may have changed outside the spool (a canary tree is
# the target of every escape attempt), the spool holds only what filing
# makes, the daemon still runs, and a good packet dropped next is processed.
# The handler fails any tree that holds set-id bits or anything but regular
# files and directories, so "done" also means "extracted safely".

load helpers

setup_file() {
	TAG=hostile${RANDOM}x$$x${EPOCHREALTIME//[!0-9]/}
	[ -x "$INGESTD" ] || { echo "INGESTD=$INGESTD is not an executable (run make)" >&2; return 1; }
	INGESTD=$(readlink -f "$INGESTD")
	# tmpfs when there is one: 10,000 creates and a 129 MiB entry cost seconds on a disk.
	if [ -d /dev/shm ] && [ -w /dev/shm ]; then
		T=$(mktemp -d "/dev/shm/$TAG.XXXXXX")
	else
		T=$BATS_FILE_TMPDIR/$TAG
	fi
	SPOOL=$T/spool
	CONF=$T/ingestd.yml
	MAX_TIME=2
	LOG=
	DAEMON_PID=
	DAEMON_RUNS=0
	mkdir -p "$T/canary/sub" "$T/src" "$T/stage" "$SPOOL/inbox"
	echo "the canary: every escape in the corpus aims here" >"$T/canary/file"
	echo "nested" >"$T/canary/sub/file"
	: >"$T/dropped"
	: >"$T/ran"
	"$PY" "$BATS_TEST_DIRNAME/../hostile/gen.py" "$T/cases" "$T/canary" "$TAG"

	cat >"$T/check.sh" <<-'EOF'
	#!/bin/sh
	# Print the tree the handler was given; fail if the rules were broken.
	cd "$INGEST_DIR" || exit 5
	find . -printf '%M %s %p\n' | LC_ALL=C sort
	bad=$(find . \( -perm /7000 -o ! \( -type f -o -type d \) \) -print)
	[ -z "$bad" ] || { echo "forbidden in the tree: $bad"; exit 3; }
	[ -n "$INGEST_META_DEVICE_ID" ] || { echo "INGEST_META_DEVICE_ID is not set"; exit 4; }
	[ -f "$INGEST_MANIFEST_JSON" ] || { echo "no INGEST_MANIFEST_JSON"; exit 4; }
	EOF
	cat >"$CONF" <<-EOF
	# written by hostile.bats
	spool: $SPOOL
	workers: 2
	settle: 200ms
	shutdown_grace: 2s
	handler:
	  command: [/bin/sh, '$T/check.sh']
	  timeout: 60s
	packet:
	  formats: [zip, tar, xar, ar]
	  max_time: ${MAX_TIME}s
	  max_file_bytes: 128MiB
	  manifest_keys: [device_id]
	EOF
	[ "$(id -u)" -ne 0 ] || echo "allow_root: true" >>"$CONF"
	start_daemon
	export TAG T SPOOL CONF LOG DAEMON_PID INGESTD MAX_TIME
}

teardown_file() {
	local rc=0
	if [ -n "${DAEMON_PID:-}" ] && alive "$DAEMON_PID"; then
		stop_daemon TERM 20 || rc=1
	fi
	kill_test_procs || rc=1
	mq_cleanup
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T"/daemon.*.log 2>/dev/null; then
		grep -E -A30 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T"/daemon.*.log |
		    head -60 >&2
		rc=1
	fi
	rm -rf "/tmp/ingestd-hostile-$TAG"*
	[[ $T == /dev/shm/* ]] && rm -rf -- "$T"
	return $rc
}

# helpers.bash sets up a daemon per test; this file shares one.
setup() { :; }
teardown() { :; }

# What must never change while a case runs: everything under T but the spool
# and the unused cases, the canary's contents, the spool's own top level, and
# anything at the /tmp targets of the corpus.
outside_snapshot() {
	(cd "$T" && find . \( -path ./spool -o -path ./cases \) -prune -o -print | LC_ALL=C sort)
	(cd "$T/canary" && find . -type f -exec md5sum {} + | LC_ALL=C sort)
	ls -A "$SPOOL" | LC_ALL=C sort
	ls -d "/tmp/ingestd-hostile-$TAG"* 2>/dev/null || true
}

# done/ and failed/ hold only dropped packets and their records.
spool_only_filed() {
	local bad
	bad=$({ sed 's/^/K /' "$T/ran" "$T/dropped"; ls -A "$SPOOL/done" "$SPOOL/failed"; } | awk '
		$1 == "K" { known[substr($0, 3)] = 1; next }
		/^$/ || /:$/ { next }
		{ b = $0; sub(/\.(log|json|error)$/, "", b); sub(/\.~[0-9]+~$/, "", b)
		  if (!(b in known)) print }')
	[ -z "$bad" ] || fail "unexpected in done/ or failed/: $bad"
}

journaled() { [ -n "$(journal_field "$1" outcome)" ]; }
filed_and_journaled() { filed "$1" && journaled "$1"; }
done_packet() { [ -e "$SPOOL/done/$1" ] && journaled "$1"; }

GOOD=0
# drop_good: a well-formed packet after each case; it must be processed.
drop_good() {
	local name tmp
	GOOD=$((GOOD + 1))
	name=good-$BATS_TEST_NUMBER-$GOOD.zip
	tmp=$(mktemp -d "$T/stage/good.XXXXXX")
	printf 'device_id: good\nafter: %s\n' "$1" >"$tmp/data_info.yml"
	(cd "$tmp" && zip -q -X "$T/stage/$name" data_info.yml)
	rm -rf "$tmp"
	echo "$name" >>"$T/dropped"
	mv "$T/stage/$name" "$SPOOL/inbox/$name"
	wait_for done_packet "$name"
}

# run_case NAME: drop the generated case NAME and check all of the above.
run_case() {
	local name=$1 line outcome reason what before after got
	line=$(awk -F'\t' -v n="$name" '$1 == n' "$T/cases/cases.tsv")
	[ -n "$line" ] || fail "case $name is not in cases.tsv"
	# Not `read`: tab is IFS white space, and an empty reason would vanish.
	outcome=$(cut -f2 <<<"$line")
	reason=$(cut -f3 <<<"$line")
	what=$(cut -f4 <<<"$line")
	echo "$name" >>"$T/ran"
	before=$(outside_snapshot)

	mv -- "$T/cases/$name" "$SPOOL/inbox/$name"
	wait_for filed_and_journaled "$name"
	got=$(journal_field "$name" outcome)
	if [ "$got" != "$outcome" ]; then
		echo "# $name ($what): expected $outcome, got $got" >&2
		grep -h -- "name=$name " "$SPOOL/journal" | sed 's/^/#   /' >&2
		head -n 20 "$SPOOL/$got/$name.log" 2>/dev/null | sed 's/^/#   log: /' >&2
		return 1
	fi
	if [ "$outcome" = failed ]; then
		got=$(journal_field "$name" reason)
		[[ $got == "$reason"* ]] || fail "$name ($what): reason should start '$reason', is '$got'"
		grep -qF -- " reason=$reason" "$SPOOL/failed/$name.error" ||
		    fail "failed/$name.error lacks the reason: $(cat "$SPOOL/failed/$name.error")"
	else
		grep -q '"device_id":"hostile-corpus"' "$SPOOL/done/$name.json" ||
		    fail "done/$name.json: $(head -c 200 "$SPOOL/done/$name.json" 2>&1)"
	fi

	wait_for no_jobs
	after=$(outside_snapshot)
	if [ "$before" != "$after" ]; then
		echo "# $name ($what) changed something outside its job directory:" >&2
		diff <(echo "$before") <(echo "$after") | sed 's/^/#   /' >&2
		return 1
	fi
	spool_only_filed
	alive "$DAEMON_PID" || fail "the daemon died on $name"
	drop_good "$name"
	alive "$DAEMON_PID" || fail "the daemon died after $name"
}

# log_of NAME: what the handler printed for a done case.
log_of() { cat "$SPOOL/done/$1.log"; }

@test "path traversal with ../ (tar)" { run_case dotdot.tar; }
@test "a/../../x inside a name (zip)" { run_case dotdot-inner.zip; }
@test "absolute path (tar)" { run_case absolute.tar; }
@test "absolute path (zip)" { run_case absolute.zip; }
@test "zip local header says ../ while the central directory does not" { run_case header-mismatch.zip; }
@test "symlink out, then a file written through it" { run_case symlink-write-through.tar; }
@test "symlink to /" { run_case symlink-root.tar; }
@test "hard link to /etc/passwd" { run_case hardlink-passwd.tar; }
@test "hard link climbing out with ../" { run_case hardlink-canary.tar; }
@test "device node" { run_case device.tar; }
@test "FIFO (tar)" { run_case fifo.tar; }
@test "FIFO mode bits in a zip become a regular file" {
	run_case fifo.zip
	log_of fifo.zip | grep -q '^-rw.* \./pipe$' || fail "pipe is not a regular file: $(log_of fifo.zip)"
}
@test "setuid, setgid and sticky bits are stripped (tar)" {
	run_case setuid.tar
	log_of setuid.tar | grep -q '^-rwxr-x.*\./bin/su$' || fail "$(log_of setuid.tar)"
}
@test "setuid bit is stripped (zip)" { run_case setuid.zip; }
@test "10,000 empty entries pass" {
	run_case many-entries.zip
	[ "$(log_of many-entries.zip | grep -c '^-.* 0 \./d[0-9]*/e[0-9]*$')" -eq 10000 ]
}
@test "100 nested directories" { run_case deep.tar; }
@test "a name of 255 bytes is kept" {
	run_case name-255.tar
	log_of name-255.tar | grep -q "\./$(printf 'n%.0s' $(seq 255))\$"
}
@test "a name of 256 bytes" { run_case name-256.tar; }
@test "a name that is not UTF-8 is kept byte for byte" {
	run_case name-nonutf8.tar
	log_of name-nonutf8.tar | LC_ALL=C grep -aq $'\./caf\xe9-latin1\\.txt$'
}
@test "names with a newline and control characters are kept" {
	run_case name-newline.zip
	log_of name-newline.zip | LC_ALL=C grep -aq '^-.* \./new$'
	log_of name-newline.zip | LC_ALL=C grep -aq $'\./tab\tand\x01ctl\\.txt$'
}
@test "a zip name flagged UTF-8 that is not" { run_case name-bad-utf8.zip; }
@test "1 KiB that unpacks to 10 GiB stops at max_ratio" { run_case bomb-ratio.tar.gz; }
@test "a nested zip bomb is extracted one level only" {
	run_case bomb-nested.zip
	log_of bomb-nested.zip | grep -q '^-.* \./nested\.zip$'
	[ -z "$(log_of bomb-nested.zip | grep zeros)" ]
}
@test "an entry larger than max_file_bytes" { run_case big-entry.zip; }
@test "a 1 TiB sparse hole counts as bytes" { run_case sparse-hole.tar; }
@test "corrupt CRC" { run_case crc.zip; }
@test "truncated tar.gz" { run_case truncated.tar.gz; }
@test "truncated zip" { run_case truncated.zip; }
@test "encrypted zip" { run_case encrypted.zip; }
@test "empty file" { run_case empty; }
@test "zero-entry zip" { run_case zero-entries.zip; }
@test "plain file" { run_case notes.txt; }
@test "a .zip that is not one" { run_case not-a-zip.zip; }
@test "cpio is not in packet.formats" { run_case archive.cpio; }
@test "7z is not in packet.formats" { run_case archive.7z; }
@test "manifest that is not YAML" { run_case manifest-not-yaml.zip; }
@test "YAML alias bomb" { run_case manifest-alias-bomb.zip; }
@test "10,000-deep nesting in the manifest" { run_case manifest-deep.zip; }
@test "a list instead of a mapping" { run_case manifest-list.zip; }
@test "a missing required key" { run_case manifest-missing-key.zip; }
@test "binary garbage as manifest" { run_case manifest-garbage.zip; }
@test "duplicate keys" { run_case manifest-dup.zip; }
@test "tab indentation" { run_case manifest-tab.zip; }
@test "UTF-16 manifest" { run_case manifest-utf16.zip; }
@test "a 100 MB manifest" { run_case manifest-100mb.zip; }
@test "a folder holding NAME.zip" {
	run_case folder-good
	log_of folder-good | grep -q '\./clip\.mp4$'
	[ -f "$SPOOL/done/folder-good/notes.txt" ]
	[ ! -e "$SPOOL/done/folder-good/clip.mp4" ]	# extracted beside, not into, the folder
}
@test "a folder whose NAME.zip climbs out" { run_case folder-zip-escape; }
@test "an unpacked folder" { run_case folder-plain; }
@test "an unpacked folder with a symlink out" { run_case folder-symlink; }
@test "a manifest that is a symlink" { run_case folder-manifest-link; }
@test "an unpacked folder with a FIFO" { run_case folder-fifo; }
@test "the packet itself a symlink" { run_case inbox-symlink; }
@test "tar.xz, tar.zst and tar.bz2 are read" {
	local c
	for c in family.tar.xz family.tar.zst family.tar.bz2; do
		run_case "$c"
	done
}

# limit_case NAME: run_case, and the packet was stopped at packet.max_time on
# its first and only attempt, give or take the slack of a loaded machine.
limit_case() {
	local ms
	run_case "$1"
	ms=$(journal_field "$1" dur_ms)
	[ -n "$ms" ] && [ "$ms" -ge $((MAX_TIME * 1000)) ] && [ "$ms" -lt $((MAX_TIME * 1000 + 5000)) ] ||
	    fail "$1: dur_ms=$ms, not within ${MAX_TIME}s + 5s"
	[ "$(journal_field "$1" attempts)" -le 1 ] || fail "$1: $(grep -h -- "name=$1 " "$SPOOL/journal")"
}

@test "libarchive's own gzip loop (293 bytes) ends at packet.max_time" {
	limit_case gzip-recursive.gz
}
@test "libarchive's own xar loop (388 bytes) ends at packet.max_time" {
	limit_case xar-doublelink.xar
}
@test "both hangs at once: each fails at the limit, the workers live, packets keep flowing" {
	local before n
	before=$(worker_pids | sort)
	[ "$(wc -l <<<"$before")" -eq 2 ] || fail "workers: $before"
	for n in again-gzip-recursive.gz again-xar-doublelink.xar; do
		echo "$n" >>"$T/dropped"
		mv -- "$T/cases/$n" "$SPOOL/inbox/$n"
	done
	drop_good "two hangs"
	for n in again-gzip-recursive.gz again-xar-doublelink.xar; do
		wait_for filed_and_journaled "$n"
		[[ $(journal_field "$n" reason) == "limit max_time kind="* ]] ||
		    fail "$n: $(journal_field "$n" reason)"
	done
	drop_good "two hangs, after"
	[ "$(worker_pids | sort)" = "$before" ] || fail "a worker was replaced: $before -> $(worker_pids)"
	# The parse ran in a child of the worker, which is gone with its packet.
	for n in $before; do
		[ -z "$(children_of "$n")" ] || fail "worker $n still has children: $(children_of "$n")"
	done
}
@test "GNU ar: the symbol table / and long names // are not entries" {
	run_case lib.a
	log_of lib.a | grep -q '\./a-member-name-longer-than-16\.txt$' || fail "$(log_of lib.a)"
	[ "$(log_of lib.a | grep -c '^-')" -eq 2 ] || fail "$(log_of lib.a)"
}
@test "data_info.yml twice in a zip is refused" { run_case dup-manifest.zip; }
@test "an entry with more data than its header says is the archive's fault, not a path" {
	run_case too-much-data.zip
}
@test "lzma and uu are read; lrzip is refused, saying it needs a program" {
	local c
	for c in family.tar.lzma family.tar.uu packed.lrz; do
		run_case "$c"
	done
}

@test "every generated case ran, and there are at least 30" {
	local total missing
	total=$(wc -l <"$T/cases/cases.tsv")
	[ "$total" -ge 30 ] || fail "only $total cases"
	missing=$(cut -f1 "$T/cases/cases.tsv" | grep -vxF -f "$T/ran" || true)
	[ -z "$missing" ] || fail "cases without a test: $missing"
}
