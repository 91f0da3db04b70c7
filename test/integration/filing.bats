#!/usr/bin/env bats
# Promises of ingestd(8) about filing and the inbox that the other suites do not
# exercise: the rescan trigger, packet.keep_extracted and packet.on_success.

load helpers

# set_packet KEY VALUE: add a key under the packet: section write_conf made.
set_packet() {
	sed -i "s/^  manifest_required: false\$/  manifest_required: false\n  $1: $2/" "$CONF"
}

@test "closing inbox/.ingestd-rescan makes the watcher rescan: an entry no event announced is claimed" {
	write_conf
	start_daemon
	make_packet "$T/src" linked.zip
	# A hard link gives IN_CREATE only: the watcher waits for a rename or a close.
	ln "$T/src/linked.zip" "$SPOOL/inbox/linked.zip"
	# Events are read in order: once this later drop is filed, the link's event was seen.
	drop sentinel.zip
	wait_for filed sentinel.zip
	[ -e "$SPOOL/inbox/linked.zip" ] || fail "the hard link was claimed without a rescan"
	: >"$SPOOL/inbox/.ingestd-rescan"
	wait_for filed linked.zip
	grep -q 'event=rescan_requested' "$LOG" || fail "no event=rescan_requested in the log"
	wait_for test ! -e "$SPOOL/inbox/.ingestd-rescan"
	[ "$(journal_count)" -eq 2 ]
}

@test "packet.keep_extracted: the extracted tree is filed beside the packet as NAME.tree" {
	write_conf
	set_packet keep_extracted true
	start_daemon
	drop kept.zip
	wait_for filed kept.zip
	[ -f "$SPOOL/done/kept.zip" ]
	[ -f "$SPOOL/done/kept.zip.tree/data_info.yml" ] || fail "no done/kept.zip.tree/data_info.yml"
	grep -q '^name: kept.zip$' "$SPOOL/done/kept.zip.tree/data_info.yml"
	no_jobs
}

@test "without keep_extracted no tree is filed; with on_success: delete only the records stay" {
	write_conf
	set_packet on_success delete
	start_daemon
	drop gone.zip
	wait_for journal_has 1
	wait_for no_jobs
	[ ! -e "$SPOOL/done/gone.zip" ] || fail "the packet was kept despite on_success: delete"
	[ ! -e "$SPOOL/done/gone.zip.tree" ] || fail "a tree was filed without keep_extracted"
	[ -f "$SPOOL/done/gone.zip.json" ] || fail "the manifest record is missing"
	grep -qE ' name=gone.zip outcome=done .* filed=- records=done/gone.zip$' "$SPOOL/journal" ||
		fail "journal line: $(cat "$SPOOL/journal")"
}
