#!/usr/bin/env bash
# The man page is the contract: every config key in the key tables of
# src/conf*.c must be documented in man/ingestd.yml.5 (as ".It Ic KEY") and present in the
# packaged etc/ingestd.yml, and nothing may be documented that the code does not
# know. The man pages must lint clean, and the example configs in
# ingestd.yml(5) must be accepted by `ingestd -T` ($INGESTD, default ./ingestd)
# when that binary exists.
set -u
cd "$(dirname "$0")/.." || exit 2

# The tables may move between the config's files: read them all.
conf="src/conf*.c" man=man/ingestd.yml.5 etc=etc/ingestd.yml
status=0
problem() { echo "mancheck: $*" >&2; status=1; }

for f in $conf "$man" "$etc"; do
	[ -r "$f" ] || { echo "mancheck: cannot read $f" >&2; exit 2; }
done
# shellcheck disable=SC2086  # $conf is a glob
table=$(cat $conf)

# The key table has one KEY("path", ...) or SECTION("path") per line. Count the
# macro uses too, so a row written another way cannot slip past unseen.
keys=$(sed -nE 's/^[[:space:]]*KEY\("([a-z_.]+)".*/\1/p' <<<"$table")
# Keys of one entry of a list of mappings (sources: - s3: {...}): SKEY("name", ...).
subkeys=$(sed -nE 's/^[[:space:]]*SKEY\("([a-z_]+)".*/\1/p' <<<"$table")
sections=$(sed -nE 's/^[[:space:]]*SECTION\("([a-z_]+)"\).*/\1/p' <<<"$table")
nkeys=$(printf '%s\n' "$keys" | grep -c .)
nrows=$(grep -cE '^[[:space:]]*KEY\(' <<<"$table")
nsub=$(printf '%s\n' "$subkeys" | grep -c .)
nsubrows=$(grep -cE '^[[:space:]]*SKEY\(' <<<"$table")
if [ "$nkeys" -lt 10 ] || [ "$nkeys" -ne "$nrows" ] || [ "$nsub" -lt 1 ] ||
    [ "$nsub" -ne "$nsubrows" ]; then
	echo "mancheck: found $nkeys key names in $nrows KEY( rows and $nsub in $nsubrows" \
	    "SKEY( rows of $conf: is the tables' layout still one row per line?" >&2
	exit 2
fi

# Dotted paths of the mapping keys actually set in the YAML file (not comments).
etc_keys=$(awk '
	/^[[:space:]]*(#|$)/ { next }
	match($0, /^ *[A-Za-z_][A-Za-z0-9_]*:([ \t]|$)/) {
		indent = match($0, /[^ ]/) - 1
		name = $0; sub(/^ */, "", name); sub(/:.*/, "", name)
		while (depth > 0 && ind[depth] >= indent) depth--
		ind[++depth] = indent; key[depth] = name
		path = key[1]; for (i = 2; i <= depth; i++) path = path "." key[i]
		print path
	}' "$etc")

for k in $keys; do
	grep -qE "^\.It Ic ${k//./\\.}( |$)" "$man" ||
	    problem "key $k (in $conf) is not documented in $man as \".It Ic $k\""
	printf '%s\n' "$etc_keys" | grep -qxF "$k" ||
	    problem "key $k (in $conf) is not set in $etc"
done
for k in $subkeys; do
	grep -qE "^\.It Ic $k( |$)" "$man" || problem "key $k (in $conf) is not documented in $man"
done
for s in $sections; do
	grep -qE "^\.Ic $s( |$)" "$man" || problem "section $s: is not named in $man"
done
# The other way round: what the page documents must exist.
for k in $(sed -nE 's/^\.It Ic ([a-z_.]+).*/\1/p' "$man"); do
	printf '%s\n' "$keys" "$subkeys" | grep -qxF "$k" ||
	    problem "$man documents key $k, which $conf does not know"
done

pages=("$man")
if [ -e man/ingestd.8 ]; then pages+=(man/ingestd.8); else echo "mancheck: no man/ingestd.8 yet, not linted"; fi
mandoc -T lint -W warning "${pages[@]}" || problem "mandoc -T lint -W warning ${pages[*]} reports problems"

bin=${INGESTD:-./ingestd}
if [ -x "$bin" ]; then
	tmp=$(mktemp -d) || exit 2
	trap 'rm -rf "$tmp"' EXIT
	# Each literal display under EXAMPLES is a config file.
	awk -v dir="$tmp" '
		/^\.Sh / { in_ex = ($0 == ".Sh EXAMPLES") }
		in_ex && /^\.Bd -literal/ { n++; f = dir "/example" n ".yml"; inbd = 1; next }
		inbd && /^\.Ed/ { inbd = 0; close(f); next }
		inbd { gsub(/\\e/, "\\"); gsub(/\\\(dq/, "\""); gsub(/\\&/, ""); print > f }
	' "$man"
	n=0
	for ex in "$tmp"/example*.yml; do
		[ -e "$ex" ] || continue
		n=$((n + 1))
		# -T reads the file alone: the examples' handlers and users are not this machine's.
		if ! out=$("$bin" -T -c "$ex" 2>&1 >/dev/null); then
			problem "an example in $man's EXAMPLES is refused by $bin -T: $out"
			sed 's/^/    /' "$ex" >&2
		fi
	done
	[ "$n" -gt 0 ] || problem "no example config found under EXAMPLES in $man"
else
	echo "mancheck: $bin not built, examples in $man not checked"
fi

# The state table of a job directory (src/job.h, JOB_STATES) is ingestd(8)'s
# CRASH SAFETY table, row for row, word for word.
if ! out=$(python3 - src/job.h man/ingestd.8 <<-'PY'
	import re, sys
	src = open(sys.argv[1]).read()
	body = src[src.index("#define JOB_STATES(X)"):]
	body = body[:body.index("\n\n")].replace("\\\n", " ")
	rows = re.findall(r'X\(\s*(\w+),\s*((?:"[^"]*"\s*)+),\s*((?:"[^"]*"\s*)+),\s*((?:"[^"]*"\s*)+)\)',
	                  body)
	def text(lit):
	    return "".join(re.findall(r'"([^"]*)"', lit))
	man = open(sys.argv[2]).read()
	sec = man[man.index(".Sh CRASH SAFETY"):]
	sec = sec[:sec.index("\n.Sh ", 1)]
	table = re.findall(r"^\.It (.*) Ta (.*) Ta (.*)$", sec, re.M)
	table = [t for t in table if not t[0].startswith("Sy ")]
	want = [(text(d), text(m), text(a)) for _, d, m, a in rows]
	if len(want) < 5:
	    sys.exit("found %d rows in JOB_STATES: is its layout still X(name, \"...\", ...)?" % len(want))
	if want != table:
	    for w in want:
	        if w not in table:
	            print("in src/job.h, not in ingestd(8) CRASH SAFETY:", " | ".join(w))
	    for t in table:
	        if t not in want:
	            print("in ingestd(8) CRASH SAFETY, not in src/job.h:", " | ".join(t))
	    sys.exit(1)
	PY
); then
	problem "the job state table and ingestd(8) CRASH SAFETY differ: $out"
fi

[ "$status" -eq 0 ] && echo "mancheck: $nkeys keys documented in $man and set in $etc"
exit "$status"
