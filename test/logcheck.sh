#!/usr/bin/env bash
# Log lines, checked at every call site (make lint runs this):
#  - every %s argument of log_debug/info/warn/warnx and fatal/fatalx is
#    quoted through LQ() or log_quote(), or is a value the daemon itself
#    owns (the SAFE expressions below): a name, path or error text from
#    outside printed raw can forge a whole line (issue 11);
#  - a key appears once per line (issue 15): not twice in one format, and
#    never one of those log_emit() writes itself (level role pid time, and
#    error for log_warn and fatal), so a child's role and pid are child_role
#    and child_pid.
# A justified exception carries /* logcheck: safe */ on the line of the
# argument or of the call. Usage: test/logcheck.sh [FILE.c...] (default
# src/*.c less SKIP); exit 1 with FILE:LINE: problem for each finding.
# test/logcheck.sh --self-test plants calls that it must flag, and some it
# must not, and fails unless exactly the planted ones are found.
set -u
cd "$(dirname "$0")/.." || exit 2

if [ "${1:-}" = --self-test ]; then
	tmp=$(mktemp -d) || exit 2
	trap 'rm -rf "$tmp"' EXIT
	# Lines ending in "// flag" must be reported, no other line may be.
	cat >"$tmp/planted.c" <<-'EOF'
	void f(const char *name, const char *v, int n, int e)
	{
		log_info("event=claim name=%s", name); // flag
		log_info("event=claim name=%s", LQ(name));
		log_info("event=x n=%d v=%s", n, v); // flag
		log_debug("event=x %.*s", n, v); // flag
		log_warnx("event=x v=%s",
		    v); // flag
		log_info("event=x v=%s", /* a comment, ( */ LQ(v));
		log_info("event=x v=%s", v); /* logcheck: safe */
		log_info("event=spawn role=%s", LQ(v)); // flag
		log_info("event=spawn child_role=%s child_pid=%d", LQ(v), n);
		log_info("event=x a=%d b=%d a=%d", n, n, n); // flag
		log_warn("event=x error=%s", LQ(v)); // flag
		log_warnx("event=x error=%s", LQ(v));
		fatalx("event=x error=%s", strerror(e)); // flag
		fatalx("event=x error=\"%s\"", strerror(e));
		log_info("event=x v=%s", n ? "yes" : "no");
		log_info("event=x v=%s", n ? v : "no"); // flag
		log_info("event=x " "v=%s", v); // flag
		log_info(v); // flag
		log_info("event=x job=%s", j->id);
	}
	EOF
	want=$(grep -n '// flag$' "$tmp/planted.c" | cut -d: -f1 | sort -n | tr '\n' ' ')
	got=$("$0" "$tmp/planted.c" | cut -d: -f2 | sort -n | uniq | tr '\n' ' ')
	"$0" "$tmp/planted.c" >/dev/null && { echo "logcheck: self-test: exit 0 with findings planted" >&2; exit 1; }
	if [ "$want" != "$got" ]; then
		echo "logcheck: self-test: want findings on lines $want, got $got" >&2
		"$0" "$tmp/planted.c" >&2
		exit 1
	fi
	echo "logcheck: self-test: the $(echo $want | wc -w) planted calls are found"
	exit 0
fi

# Files being changed on another branch (the packet path): the name goes once
# that branch is merged and its findings fixed.
SKIP=""

if [ "$#" -eq 0 ]; then
	set --
	for f in src/*.c; do
		case " $(echo $SKIP) " in *" $f "*) continue ;; esac
		set -- "$@" "$f"
	done
fi

exec python3 - "$@" <<'PY'
import re, sys

# Expressions that are the daemon's own words: constant tables and libc's.
SAFE = [
    r'LQ\(.*\)',
    r'log_quote\(.*\)',
    r'sigabbrev_np\(.*\)',            # "TERM": libc's constant table
    r'[A-Z][A-Z0-9_]*',               # a macro: INGESTD_VERSION
    r'[a-z_]*role_name\(.*\)',       # role names: a constant table
    r'ch->ops\.name\(.*\)',           # children.c's way to the same table
    r'role',
    r'job_state_name\(.*\)',
    r'proctree_method\(\)',          # "pidfd" or "pid"
    # a job id: 16 hex digits made by job.c, checked by job_is_id() wherever
    # one comes in (queue hints, work/ and defer/ entries)
    r'(?:[a-z]+(?:->|\.))*id',
    r'[a-z_]+_names?\[[^]]*\]',      # a constant table indexed
    r'"(?:[^"\\]|\\.)*"',             # a literal
]
SAFE_RE = [re.compile(r'\A(?:%s)\Z' % s, re.S) for s in SAFE]
FUNCS = {'log_debug': 0, 'log_info': 0, 'log_warn': 1, 'log_warnx': 0, 'fatal': 1, 'fatalx': 0}
CALL = re.compile(r'\b(log_debug|log_info|log_warnx|log_warn|fatalx|fatal)\s*\(')
PREFIX_KEYS = {'level', 'role', 'pid', 'time'}
KEY = re.compile(r'(?:^|[ \t])([A-Za-z_][A-Za-z0-9_.]*)=')
CONV = re.compile(r'%(?:%|[-+ #0]*(\*|\d+)?(?:\.(\*|\d+))?(hh|h|ll|l|j|z|t|L)?([diouxXeEfgGcspn]))')
MARK = '/* logcheck: safe */'

def strip_comments(src):
    """Comments become spaces (newlines kept), strings and chars stay."""
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith('/*', i):
            j = src.find('*/', i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r'[^\n]', ' ', src[i:j]))
            i = j
        elif src.startswith('//', i):
            j = src.find('\n', i)
            j = n if j < 0 else j
            out.append(' ' * (j - i))
            i = j
        elif c in '"\'':
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if src[j] == '\\' else 1
            out.append(src[i:j + 1])
            i = j + 1
        else:
            out.append(c)
            i += 1
    return ''.join(out)

def split_args(src, start):
    """Arguments of the call whose '(' is at start-1: [(text, offset)], end."""
    args, depth, i, cur = [], 0, start, start
    while i < len(src):
        c = src[i]
        if c in '"\'':
            j = i + 1
            while j < len(src) and src[j] != c:
                j += 2 if src[j] == '\\' else 1
            i = j + 1
            continue
        if c in '([{':
            depth += 1
        elif c in ')]}':
            if depth == 0:
                args.append((src[cur:i], cur))
                return args, i
            depth -= 1
        elif c == ',' and depth == 0:
            args.append((src[cur:i], cur))
            cur = i + 1
        i += 1
    return args, i

def literal_text(expr):
    """The format: adjacent literals joined; None if it is not only literals."""
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', expr)
    rest = re.sub(r'"(?:[^"\\]|\\.)*"', '', expr).strip()
    if not parts or rest:
        return None
    return ''.join(parts)

def top_ternary(expr):
    depth, q = 0, -1
    for i, c in enumerate(expr):
        if c in '([{': depth += 1
        elif c in ')]}': depth -= 1
        elif c == '?' and depth == 0 and q < 0: q = i
        elif c == ':' and depth == 0 and q >= 0:
            return expr[q + 1:i], expr[i + 1:]
    return None

def safe(expr):
    expr = expr.strip()
    while expr.startswith('(') and expr.endswith(')') and split_args(expr, 1)[1] == len(expr) - 1:
        expr = expr[1:-1].strip()
    if any(r.match(expr) for r in SAFE_RE):
        return True
    t = top_ternary(expr)
    return t is not None and safe(t[0]) and safe(t[1])

problems = 0
def problem(path, line, msg):
    global problems
    problems += 1
    print('%s:%d: %s' % (path, line, msg))

for path in sys.argv[1:]:
    raw = open(path, encoding='utf-8', errors='replace').read()
    lines = raw.split('\n')
    src = strip_comments(raw)
    for m in CALL.finditer(src):
        name = m.group(1)
        # a definition or declaration (void log_info(const char *fmt, ...)) is not a call
        before = src[:m.start()].rstrip()
        if re.search(r'\b(void|char|int)\s*\**$', before) or before.endswith('#define'):
            continue
        args, end = split_args(src, m.end())
        if not args:
            continue
        lineno = src.count('\n', 0, m.start()) + 1
        endline = src.count('\n', 0, end) + 1
        fmt = literal_text(args[0][0])
        if fmt is None:
            if args[0][0].strip() == 'fmt':
                continue        # log.c's own forwarding
            if not any(MARK in lines[k - 1] for k in range(lineno, endline + 1)):
                problem(path, lineno, '%s: the format is not a string literal' % name)
            continue
        # keys: once per line, never one the prefix or log_warn's suffix writes
        seen = set()
        for k in KEY.findall(fmt):
            if k in seen:
                problem(path, lineno, '%s: key %s= twice in one line' % (name, k))
            seen.add(k)
            if k in PREFIX_KEYS:
                problem(path, lineno, '%s: key %s= is the line\'s own (use child_%s=)' %
                        (name, k, k))
            if k == 'error' and FUNCS[name]:
                problem(path, lineno, '%s: key error= is added by %s itself' % (name, name))
        # arguments of %s: quoted, or the daemon's own
        ai = 1
        for c in CONV.finditer(fmt):
            if c.group(0) == '%%':
                continue
            for star in (c.group(1), c.group(2)):
                if star == '*':
                    ai += 1
            if ai >= len(args):
                problem(path, lineno, '%s: fewer arguments than conversions' % name)
                break
            expr, off = args[ai]
            ai += 1
            if c.group(4) != 's':
                continue
            aline = src.count('\n', 0, off + len(expr) - len(expr.lstrip())) + 1
            if safe(expr):
                continue
            # libc's error texts are ours to print, but they hold spaces: "%s" in the format
            if re.match(r'\A\s*strerror\(.*\)\s*\Z', expr, re.S) and \
                    fmt[max(0, c.start() - 2):c.start()] == '\\"' and fmt[c.end():c.end() + 2] == '\\"':
                continue
            if MARK in lines[aline - 1] or MARK in lines[lineno - 1]:
                continue
            problem(path, aline, '%s: %%s argument %s is not LQ()-quoted (or marked %s)' %
                    (name, ' '.join(expr.split()), MARK))
sys.exit(1 if problems else 0)
PY
