#!/bin/bash
# The Debian package end to end (issue 4), as root, on this machine: build it
# with `make deb`, lint it, install it, check its systemd unit statically
# (systemd-analyze verify and security: CI has no systemd as PID 1), run it
# under a PRIVATE runsvdir (never the system's), deliver packets, stop and
# start it with sv, remove it (data stays), purge it (the daemon's state goes,
# packets stay; an empty spool goes). Safe to run twice in a row: a leftover
# installation is purged first. Exits 0 only if every step passed, after
# printing "N passed, N failed".
#
# Environment: DEB_TEST_TIMEOUT (seconds for each wait, default 30).

# Steps run their commands through check (SC2317: "unreachable" helpers) and
# hand values to `sh -c` scripts as arguments, not by expansion (SC2016).
# shellcheck disable=SC2317,SC2016

set -u
export LC_ALL=C

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
TIMEOUT=${DEB_TEST_TIMEOUT:-30}
SPOOL=/var/spool/ingestd
CONF=/etc/ingestd/ingestd.yml
LOGDIR=/var/log/ingestd
STATE=/run/ingestd-deb-test.runsvdir
UNIT=/lib/systemd/system/ingestd.service
# The most systemd-analyze security may say of the unit (it says 1.6 now).
# Losing any one of User=, ProtectSystem=, PrivateDevices= or NoNewPrivileges=
# takes it to 1.8 or more, still "OK" by systemd's bands (1.0-4.9): so the
# band would not notice, this does. A site relaxes it in a drop-in, not here.
EXPOSURE_MAX=1.7

passed=0
failed=0
TMP=
RUNSVDIR_PID=
SV=

# --- reporting ----------------------------------------------------------------

ok() {
	passed=$((passed + 1))
	echo "ok $((passed + failed)) - $1"
}

# not_ok DESC [DETAILS]
not_ok() {
	failed=$((failed + 1))
	echo "not ok $((passed + failed)) - $1"
	[ -n "${2:-}" ] && printf '%s\n' "$2" | tail -n 40 | sed 's/^/#   /'
	return 0
}

# check DESC CMD...: one step; its output is shown only if it fails.
check() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		ok "$desc"
	else
		not_ok "$desc" "$out"
		return 1
	fi
}

# must DESC CMD...: a step the rest depends on; stop here if it fails.
must() {
	check "$@" || finish
}

# wait_until SECONDS CMD...: poll CMD every 0.1 s until it succeeds.
wait_until() {
	local secs=$1 end now
	shift
	end=$(( ${EPOCHREALTIME/./} + secs * 1000000 ))
	until "$@"; do
		now=${EPOCHREALTIME/./}
		if [ "$now" -ge "$end" ]; then
			"$@" && return 0
			echo "timed out after ${secs}s waiting for: $*"
			[ -f "$LOGDIR/current" ] && tail -n 15 "$LOGDIR/current"
			return 1
		fi
		sleep 0.1
	done
}

# --- the private runsvdir -------------------------------------------------------

# descendants PID: every live descendant, one pid a line.
descendants() {
	ps -eo pid=,ppid= | awk -v root="$1" '
		{ pp[$1] = $2 }
		END {
			n = 0; q[n++] = root
			for (i = 0; i < n; i++)
				for (p in pp) if (pp[p] == q[i]) q[n++] = p
			for (i = 1; i < n; i++) print q[i]
		}'
}

# stop_runsvdir: HUP makes runsvdir TERM every runsv, which stops its service
# and its log service and exits. If runsvdir is gone already, `sv exit` asks
# runsv the same. Whatever is left after that gets KILL, by pid.
stop_runsvdir() {
	local pids p
	[ -n "$RUNSVDIR_PID" ] || return 0
	pids="$RUNSVDIR_PID $(descendants "$RUNSVDIR_PID" | tr '\n' ' ')"
	if kill -HUP "$RUNSVDIR_PID" 2>/dev/null; then
		# shellcheck disable=SC2086
		wait_until 15 none_alive $pids
	elif [ -p "$SV/supervise/control" ]; then
		sv -w 10 force-shutdown "$SV" >/dev/null 2>&1
	fi
	for p in $pids; do
		kill -KILL "$p" 2>/dev/null
	done
	wait "$RUNSVDIR_PID" 2>/dev/null
	RUNSVDIR_PID=
	rm -f "$STATE"
}

none_alive() {
	local p
	for p in "$@"; do
		# a zombie is gone for our purposes
		[ "$(ps -o stat= -p "$p" 2>/dev/null | cut -c1)" = "" ] ||
		    [ "$(ps -o stat= -p "$p" | cut -c1)" = Z ] || return 1
	done
}

cleanup() {
	stop_runsvdir
	[ -n "$TMP" ] && rm -rf "$TMP"
	TMP=
}

finish() {
	cleanup
	if dpkg-query -W -f='${Status}' ingestd 2>/dev/null | grep -q 'ok installed'; then
		echo "# ingestd is left installed for a look; the next run purges it"
	fi
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ] && exit 0
	exit 1
}

trap cleanup EXIT
trap 'echo "# interrupted"; failed=$((failed + 1)); finish' INT TERM

# --- helpers --------------------------------------------------------------------

installed() { dpkg-query -W -f='${Status}' ingestd 2>/dev/null | grep -q 'ok installed'; }
known() { dpkg-query -W -f='${Status}' ingestd >/dev/null 2>&1 &&
    ! dpkg-query -W -f='${Status}' ingestd | grep -q 'not-installed'; }

# mode_owner PATH: "MODE USER:GROUP"
mode_owner() { stat -c '%a %U:%G' "$1"; }

# private [-o OWNER] PATH...: each exists, nothing for other users.
private() {
	local owner='' f m u
	if [ "$1" = -o ]; then owner=$2; shift 2; fi
	for f in "$@"; do
		read -r m u < <(stat -c '%a %U' "$f") || { echo "$f: missing"; return 1; }
		if [ $((8#$m & 8#007)) -ne 0 ] || { [ -n "$owner" ] && [ "$u" != "$owner" ]; }; then
			echo "$f: mode $m, owner $u"
			return 1
		fi
	done
}

system_user() {
	local ent uid home shell
	ent=$(getent passwd ingestd) || { echo "no user ingestd"; return 1; }
	IFS=: read -r _ _ uid _ _ home shell <<<"$ent"
	if [ "$uid" -ge 1000 ] || [ "$home" != "$SPOOL" ] || [ "$shell" != /usr/sbin/nologin ] ||
	    [ "$(id -gn ingestd)" != ingestd ]; then
		echo "$ent; group $(id -gn ingestd)"
		return 1
	fi
}

# stayed_down N: still N held-down lines, no daemon, and runsv says down.
stayed_down() {
	[ "$(count_in_log 'event=held-down')" = "$1" ] ||
	    { echo "restarted: $(grep held-down "$LOGDIR/current")"; return 1; }
	no_ingestd || { echo "ingestd runs: $(ingestd_pids)"; return 1; }
	sv status "$SV" | grep -q '^down: ' || { sv status "$SV"; return 1; }
}

expect_eq() {
	[ "$1" = "$2" ] || { echo "got '$1', want '$2'"; return 1; }
}

# ingestd_pids: every process running the packaged binaries, the launcher or
# the daemon it executes (other ingestd processes, such as other test suites'
# daemons, are none of our business).
ingestd_pids() {
	local d exe
	for d in /proc/[0-9]*; do
		exe=$(readlink "$d/exe" 2>/dev/null) || continue
		case $exe in
		/usr/sbin/ingestd | "/usr/sbin/ingestd (deleted)" | \
		    /usr/libexec/ingestd/ingestd-core | "/usr/libexec/ingestd/ingestd-core (deleted)")
			echo "${d#/proc/}" ;;
		esac
	done
}
no_ingestd() { [ -z "$(ingestd_pids)" ]; }

sv_pid() { cat "$SV/supervise/pid" 2>/dev/null; }
count_in_log() { grep -cE -- "$1" "$LOGDIR/current" 2>/dev/null || true; }

# restarted OLDPID READY_COUNT: a new daemon process, and it said event=ready.
restarted() {
	local pid
	pid=$(sv_pid)
	[ -n "$pid" ] && [ "$pid" != "$1" ] && ready_after "$2"
}

# ready_count: how many times the daemon has said event=ready so far.
ready_count() { count_in_log 'event=ready'; }
ready_after() { [ "$(ready_count)" -gt "$1" ]; }

# make_packet NAME: TMP/NAME, a zip holding data_info.yml.
make_packet() {
	local d
	d=$(mktemp -d "$TMP/pkt.XXXXXX")
	printf 'name: %s\nsource: ingestd-deb-test\n' "$1" >"$d/data_info.yml"
	(cd "$d" && zip -q -X "$TMP/$1" data_info.yml)
	rm -rf "$d"
}

# deliver NAME [USER:GROUP]: the producer protocol from ingestd(8): copy under
# a hidden name in the inbox, then rename.
deliver() {
	local as=()
	[ -n "${2:-}" ] && as=(chpst -u "$2")
	"${as[@]}" cp "$TMP/$1" "$SPOOL/inbox/.$1" &&
	    "${as[@]}" mv "$SPOOL/inbox/.$1" "$SPOOL/inbox/$1"
}

in_done() { [ -f "$SPOOL/done/$1" ]; }
journal_done() { grep -q " name=$1 outcome=done " "$SPOOL/journal"; }

# script_lines FILE: the commands of a shell script, comments and blank lines
# dropped, continuation lines joined, blanks squeezed.
script_lines() {
	sed -e 's/^[[:space:]]*#.*//' -e '/^[[:space:]]*$/d' "$1" |
	    sed -e ':a' -e '/\\$/N; s/\\\n//; ta' | tr -s ' \t' '  '
}

# man_run_script: the run script as ingestd(8) shows it in EXAMPLES.
man_run_script() {
	awk '/^The packaged runit service,/ { f = 1 } f && /^\.Bd -literal/ { b = 1; next }
	    b && /^\.Ed/ { exit } b' man/ingestd.8 | sed -e 's/\\e/\\/g'
}

# --- 0. preconditions -------------------------------------------------------------

if [ "$(id -u)" != 0 ]; then
	echo "test/deb: needs root (it installs, runs and purges the package)"
	echo "0 passed, 1 failed"
	exit 1
fi
for cmd in dpkg-buildpackage lintian runsvdir runsv sv chpst svlogd zip systemd-analyze; do
	command -v "$cmd" >/dev/null || { not_ok "$cmd is installed (make deps-test)"; finish; }
done
TMP=$(mktemp -d /tmp/ingestd-deb-test.XXXXXX)
chmod 0755 "$TMP"

# A runsvdir of an earlier run that was killed outright: stop it, by the pid
# that run left, if that pid is still that runsvdir.
if read -r RUNSVDIR_PID old <"$STATE" 2>/dev/null &&
    [[ $old == /tmp/ingestd-deb-test.* && $RUNSVDIR_PID =~ ^[0-9]+$ ]]; then
	SV=$old/service/ingestd
	if tr '\0' ' ' <"/proc/$RUNSVDIR_PID/cmdline" 2>/dev/null |
	    grep -q "^runsvdir -P $old/service "; then
		echo "# stopping runsvdir $RUNSVDIR_PID left by an earlier run"
		stop_runsvdir
	fi
	RUNSVDIR_PID=
	rm -rf "$old"
fi
rm -f "$STATE"

# The system's runsvdir (runit as init, or runit-run under systemd), or one
# left by a run of this test that could not be stopped, would start the
# installed service too, and two runsv would fight over its supervise
# directory.
others=$(ps -eo pid=,args= | awk '($2 == "runsvdir" || $2 ~ /\/runsvdir$/) &&
    /\/etc\/(service|runit)|\/tmp\/ingestd-deb-test\./')
if [ -n "$others" ]; then
	not_ok "no other runsvdir supervises /etc/sv/ingestd (this test brings its own)" "$others"
	finish
fi

VERSION=$(dpkg-parsechangelog -l debian/changelog -S Version)
DEB=dist/ingestd_${VERSION}_$(dpkg --print-architecture).deb

check "the run script in ingestd(8) EXAMPLES is etc/sv/ingestd/run" \
    diff <(man_run_script | script_lines /dev/stdin) <(script_lines etc/sv/ingestd/run)

# --- 1. a clean start -----------------------------------------------------------

if known; then
	must "purge the ingestd left by an earlier run" dpkg --purge ingestd
fi

# --- 2. build and lint --------------------------------------------------------------

rm -f "$DEB"
must "make deb builds $DEB" sh -c 'make deb >"$1/build.log" 2>&1 || { tail -n 40 "$1/build.log"; exit 1; }
    test -f "$2"' sh "$TMP" "$DEB"
lint=$(lintian "$DEB" 2>&1 | grep -v '^running with root privileges')
if printf '%s\n' "$lint" | grep -qE '^[EW]: '; then
	not_ok "lintian: no errors, no warnings" "$lint"
else
	ok "lintian: no errors, no warnings"
fi

# --- 3. install ----------------------------------------------------------------------

if ! out=$(dpkg -i "$DEB" 2>&1); then
	# Depends missing on this machine: let apt bring them, then configure.
	out+=$'\n'$(apt-get -f install -y -q 2>&1)
fi
if installed; then ok "dpkg -i installs it"; else not_ok "dpkg -i installs it" "$out"; finish; fi

check "user ingestd: system user, home $SPOOL, no login, group ingestd" system_user
check "$SPOOL is mode 750, ingestd:ingestd" expect_eq "$(mode_owner "$SPOOL")" "750 ingestd:ingestd"
check "$LOGDIR exists, closed to others" private "$LOGDIR"
check "/usr/sbin/ingestd runs" /usr/sbin/ingestd -V
check "$CONF is a conffile" sh -c "dpkg-query -W -f='\${Conffiles}\n' ingestd | grep -q ' $CONF '"
check "the packaged config passes ingestd -t as user ingestd" \
    chpst -u ingestd:ingestd /usr/sbin/ingestd -t -c "$CONF"
check "ingestd(8) and ingestd.yml(5) are installed" \
    test -f /usr/share/man/man8/ingestd.8.gz -a -f /usr/share/man/man5/ingestd.yml.5.gz
check "README.Debian says which service to use and what purge keeps" \
    grep -q "keeps the packets" /usr/share/doc/ingestd/README.Debian
check "the runit service is installed in /etc/sv/ingestd" \
    test -x /etc/sv/ingestd/run -a -x /etc/sv/ingestd/finish -a -x /etc/sv/ingestd/log/run

# --- 3b. the systemd unit, statically ------------------------------------------------

# unit_value KEY: the value of KEY= in the unit (the last one given).
unit_value() { sed -n "s/^$1=//p" "$UNIT" | tail -n 1; }
# seconds DURATION: 15s, 1min, 5 -> seconds (what TimeoutStopSec= and -T print).
seconds() {
	case $1 in
	*min) echo $((${1%min} * 60)) ;;
	*ms) echo 0 ;;
	*s) echo "${1%s}" ;;
	*m) echo $((${1%m} * 60)) ;;
	*) echo "$1" ;;
	esac
}

check "the systemd unit is installed and enabled like Debian's other daemons" \
    test -f "$UNIT" -a -L /etc/systemd/system/multi-user.target.wants/ingestd.service
check "systemd-analyze verify: the unit is valid" sh -c '
    out=$(systemd-analyze verify "$1" 2>&1); [ -z "$out" ] || { echo "$out"; exit 1; }' sh "$UNIT"
exposure=$(systemd-analyze security --offline=true "$UNIT" 2>&1 | sed -n 's/.*Overall exposure level for ingestd.service: \([0-9.]*\).*/\1/p')
echo "# systemd-analyze security: exposure $exposure (at most $EXPOSURE_MAX)"
check "systemd-analyze security: exposure $exposure, at most $EXPOSURE_MAX" \
    systemd-analyze security --offline=true --threshold="${EXPOSURE_MAX/./}" "$UNIT"
check "the unit runs the launcher as user ingestd, checks with -t first, reloads with HUP" sh -c '
    [ "$1" = ingestd ] && [ "$2" = "/usr/sbin/ingestd -t -c $5" ] && [ "$3" = "/usr/sbin/ingestd -c $5" ] &&
    [ "$4" = "/bin/kill -HUP \$MAINPID" ]' sh "$(unit_value User)" "$(unit_value ExecStartPre)" \
    "$(unit_value ExecStart)" "$(unit_value ExecReload)" "$CONF"
check "the unit holds down the exit codes ./finish holds down (64 77 78)" expect_eq \
    "$(unit_value RestartPreventExitStatus)" \
    "$(sed -n 's/^\([0-9|]*\))$/\1/p' /etc/sv/ingestd/finish | tr '|' ' ')"
grace=$(/usr/sbin/ingestd -T -c "$CONF" | sed -n 's/^shutdown_grace: *//p')
check "TimeoutStopSec ($(unit_value TimeoutStopSec)) is above shutdown_grace ($grace) + 1 s" test \
    "$(seconds "$(unit_value TimeoutStopSec)")" -gt $(($(seconds "$grace") + 1))
check "stop is SIGTERM to the supervisor alone (KillMode=mixed), the spool writable" sh -c '
    [ "$1" = mixed ] && [ "$2" = SIGTERM ] && [ "$3" = "$4" ]' sh "$(unit_value KillMode)" \
    "$(unit_value KillSignal)" "$(unit_value ReadWritePaths)" "$SPOOL"

# --- 4. run it under a private runsvdir ------------------------------------------------

mkdir "$TMP/service"
ln -s /etc/sv/ingestd "$TMP/service/ingestd"
SV=$TMP/service/ingestd
# In a session of its own, so that a signal to this script's process group
# (Ctrl-C, timeout(1)) leaves it to the trap to stop runsvdir in order. Its
# pid is kept in STATE for a later run, in case this one is killed outright.
setsid runsvdir -P "$TMP/service" </dev/null >/dev/null 2>&1 &
RUNSVDIR_PID=$!
echo "$RUNSVDIR_PID $TMP" >"$STATE"
must "runsv starts the service and its log" wait_until "$TIMEOUT" sh -c \
    'sv status "$1" | grep -q "^run: .*; run: log:"' sh "$SV"
must "the daemon says event=ready in $LOGDIR/current" wait_until "$TIMEOUT" ready_after 0
check "svlogd writes the log as _runit-log with -tt timestamps" sh -c '
    [ "$(stat -c %U "$1/current")" = _runit-log ] &&
    grep -qE "^[0-9]{4}-[0-9]{2}-[0-9]{2}_[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]+ level=info .*event=ready" "$1/current"' \
    sh "$LOGDIR"

make_packet t1.zip
check "a packet is delivered into the inbox as ingestd(8) says" deliver t1.zip &&
    check "... and done within ${TIMEOUT}s, with its journal line" wait_until "$TIMEOUT" journal_done t1.zip &&
    check "... and is filed as done/t1.zip" wait_until "$TIMEOUT" in_done t1.zip

pid=$(sv_pid)
check "supervisor, watcher and workers all run as user ingestd" sh -c '
    [ -n "$1" ] || { echo "no pid in supervise/pid"; exit 1; }
    ps -o user=,pid=,args= -p "$1" --ppid "$1" | tee /dev/stderr |
        awk "{ n++ } \$1 != \"ingestd\" { bad++ } END { exit !(n >= 3 && !bad) }"' sh "$pid"
check "the spool the daemon made is the user's, closed to others" private -o ingestd \
    "$SPOOL"/inbox "$SPOOL"/work "$SPOOL"/done "$SPOOL"/failed "$SPOOL"/journal "$SPOOL"/done/t1.zip.json
check "... and so is everything else it made there" \
    eval 'open=$(find "$SPOOL" \( -user ingestd -o -type d \) -perm /o=rwx); [ -z "$open" ] || { echo "$open"; false; }'

# The man page's recipe for other producers: group ingestd and a set-gid inbox.
# chpst gives a user the group without touching /etc/group.
make_packet t2.zip
check "a producer outside the group cannot deliver (inbox mode 0750)" \
    sh -c '! chpst -u nobody:nogroup cp "$1/t2.zip" "$2/inbox/.t2.zip" 2>/dev/null' sh "$TMP" "$SPOOL"
chmod 2770 "$SPOOL/inbox"
check "a producer in group ingestd delivers into a 2770 inbox" deliver t2.zip nobody:ingestd &&
    check "... and the packet ends in done/" wait_until "$TIMEOUT" journal_done t2.zip

# --- 5. sv down, sv up ---------------------------------------------------------------

sv down "$SV" >/dev/null
check "sv down leaves no ingestd process" wait_until "$TIMEOUT" no_ingestd
check "... and runsv reports it down, exit 0, not held down" sh -c '
    sv status "$1" | grep -q "^down: " && ! grep -q "event=held-down" "$2/current"' sh "$SV" "$LOGDIR"
before=$(ready_count)
sv up "$SV" >/dev/null
check "sv up brings it back" wait_until "$TIMEOUT" ready_after "$before"
check "... with the inbox still 2770" expect_eq "$(stat -c %a "$SPOOL/inbox")" 2770
make_packet t3.zip
check "... and it processes packets again" deliver t3.zip &&
    check "... t3.zip ends in done/" wait_until "$TIMEOUT" journal_done t3.zip

# --- 6. a broken config is logged once and the service held down ----------------------

cp -p "$CONF" "$TMP/ingestd.yml.orig"
echo "no_such_key: 1" >>"$CONF"
sv restart "$SV" >/dev/null 2>&1
check "a config error: the check logs FILE:LINE and ./finish holds the service down" wait_until "$TIMEOUT" \
    sh -c 'grep -q "level=fatal event=config file=$1 line=[0-9]* error=\"$1:[0-9]*: .*no_such_key" "$2/current" &&
        grep -q "event=held-down status=78" "$2/current" &&
        sv status "$3" | grep -q "^down: .*normally up"' sh "$CONF" "$LOGDIR" "$SV"
# runsv would restart a failed ./run after one second: give it two.
held=$(count_in_log 'event=held-down')
sleep 2
check "... and it stays down: no restart loop" stayed_down "$held"
cp -p "$TMP/ingestd.yml.orig" "$CONF"
before=$(ready_count)
sv up "$SV" >/dev/null
check "fixed and sv up: it runs again" wait_until "$TIMEOUT" ready_after "$before"

# --- 7. an upgrade restarts it ----------------------------------------------------

# Reinstalling is an upgrade to the same version: the maintainer scripts run
# as for any upgrade, and the new binary must take over from the old one.
oldpid=$(sv_pid)
before=$(ready_count)
out=$(dpkg -i "$DEB" 2>&1)
check "reinstalling over the running service succeeds" eval 'installed || { echo "$out"; false; }'
check "... and restarts the daemon" wait_until "$TIMEOUT" restarted "$oldpid" "$before"
check "... keeping the data" test -f "$SPOOL/done/t3.zip" -a "$(stat -c %a "$SPOOL/inbox")" = 2770

# --- 8. remove keeps the data ------------------------------------------------------

out=$(dpkg --remove ingestd 2>&1)
check "dpkg --remove succeeds" eval '! installed || { echo "$out"; false; }'
check "... stops the service: no ingestd process" wait_until "$TIMEOUT" no_ingestd
check "... removes /usr/sbin/ingestd" test ! -e /usr/sbin/ingestd
check "... removes /usr/libexec/ingestd" test ! -e /usr/libexec/ingestd
check "... keeps the spool, its packets and journal" sh -c '
    test -f "$1/done/t1.zip" -a -f "$1/done/t3.zip" -a -s "$1/journal"' sh "$SPOOL"
check "... keeps the user, the config and the log" sh -c '
    getent passwd ingestd >/dev/null && test -f "$1" -a -s "$2/current"' sh "$CONF" "$LOGDIR"
stop_runsvdir

# --- 9. purge removes the state, keeps the packets ------------------------------------

out=$(dpkg --purge ingestd 2>&1)
check "dpkg --purge succeeds without warnings" eval \
    '! known && ! grep -qiE "warning|error|not empty" <<<"$out" || { echo "$out"; false; }'
for path in /usr/sbin/ingestd /usr/libexec/ingestd /etc/ingestd /etc/sv/ingestd /etc/runit/runsvdir/default/ingestd \
    "$UNIT" /etc/systemd/system/multi-user.target.wants/ingestd.service \
    "$LOGDIR" /usr/share/man/man8/ingestd.8.gz /usr/share/doc/ingestd \
    "$SPOOL/journal" "$SPOOL/work" "$SPOOL/defer" "$SPOOL/scoreboard" "$SPOOL/ingestd.lock" "$SPOOL/failed"; do
	check "... removes $path" test ! -e "$path" -a ! -L "$path"
done
check "... keeps the packets in done/ and the spool that holds them" \
    test -f "$SPOOL/done/t1.zip" -a -f "$SPOOL/done/t3.zip" -a -f "$SPOOL/done/t1.zip.json"
check "... and says so on stderr" grep -q "ingestd: purge kept the packets in $SPOOL/done" <<<"$out"
check "... removes user and group ingestd" sh -c '! getent passwd ingestd && ! getent group ingestd'

# An empty spool, as the daemon leaves it with nothing filed, goes entirely.
rm -rf "$SPOOL"
out=$(dpkg -i "$DEB" 2>&1)
if installed; then
	for d in inbox work defer done failed; do chpst -u ingestd:ingestd mkdir "$SPOOL/$d"; done
	chpst -u ingestd:ingestd touch "$SPOOL/journal" "$SPOOL/ingestd.lock" "$SPOOL/scoreboard"
	out=$(dpkg --purge ingestd 2>&1)
	check "purge of a spool without packets removes it, silently" eval \
	    'test ! -e "$SPOOL" && ! grep -q "purge kept" <<<"$out" || { echo "$out"; ls -la "$SPOOL"; false; }'
else
	not_ok "dpkg -i installs it again, for the empty-spool purge" "$out"
fi

finish
