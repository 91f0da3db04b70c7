#!/usr/bin/env python3
"""The one invariant checker every chaos scenario ends with.

    invariants.py SPOOL DROPPED [--tag TAG] [--expect FILE] [--log-max BYTES]

DROPPED lists the packet names dropped, one a line, each once (scenarios use
unique names, so a second filing of one can never be mistaken for another
packet that happened to have the same name). The invariants:

  1. every dropped packet is filed exactly once, in done/ or in failed/, as
     NAME, NAME.~N~ or NAME.~JOBID~ (16 lowercase hex digits). Two entries of
     one name mean it was filed twice (reported); a lone NAME.~...~ is
     accepted only where the journal says so: its filed= or a refiled line;
     nothing is filed that was not dropped; no record (STEM.log, STEM.json,
     STEM.error) is left without its packet (half-filed);
  2. every packet in failed/ has STEM.error holding its journal line, with a
     reason= whose first word is a keyword;
  3. the journal agrees: every line whole and well formed, exactly one line
     per dropped packet, its outcome= matching where the packet is, its
     filed= naming that very entry, job ids unique;
  4. work/ is empty (and defer/ and any other directory in extra_dirs,
     where it exists) and no dropped packet is left in inbox/;
  5. no process carrying TAG (the daemon, its children, the handlers and
     whatever they started) is alive;
  and, when asked: each packet's outcome and reason match --expect (lines
  "NAME done" or "NAME failed REASON-PREFIX"), and no job log is larger
  than --log-max plus the daemon's own notes.

Prints one line per problem (at most 30 of each kind) and a summary; exits 1
when any invariant is broken.
"""

import argparse
import os
import re
import sys

RECORD = re.compile(r"^(.*)\.(log|json|error)$")
NUMBERED = re.compile(r"^(.*)\.~(\d+|[0-9a-f]{16})~$")
KV = re.compile(r'([a-z_]+)=("(?:[^"\\]|\\.)*"|\S*)')
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
REASON_WORD = re.compile(r"^[a-z][a-z_]*( |$)")
LOG_SLACK = 4096  # "[ingestd: N bytes of output omitted]" and attempt headers


def unquote(v):
    if v.startswith('"') and v.endswith('"') and len(v) >= 2:
        return re.sub(r"\\(.)", r"\1", v[1:-1])
    return v


def parse_line(line):
    """(fields, reason) of a journal line; reason is the raw text after ' reason='."""
    head, sep, reason = line.partition(" reason=")
    d = {}
    for k, v in KV.findall(head):
        d.setdefault(k, unquote(v))
    return d, (reason if sep else None)


def is_refile(d):
    """A journal line that records a second rename of a job already journaled
    (the lead's group commit: "refiled"), not a job's own line."""
    return "refiled" in d or d.get("outcome") == "refiled" or d.get("event") == "refiled"


def check(spool, dropped, tag=None, expect=None, log_max=None, pids_fn=None,
          extra_dirs=("defer",)):
    """Returns (problems, stats). problems: list of strings."""
    problems = {}

    def bad(kind, msg):
        problems.setdefault(kind, []).append(msg)

    want = set(dropped)
    if len(want) != len(dropped):
        bad("setup", "DROPPED lists %d names more than once" % (len(dropped) - len(want)))

    # 1. what is filed where
    filed = {}      # name -> [(dir, entry)]
    entries = {}    # dir -> set of names present
    for d in ("done", "failed"):
        path = os.path.join(spool, d)
        ents = set(os.listdir(path)) if os.path.isdir(path) else set()
        entries[d] = ents
        packets = set()
        for e in ents:
            if e in want:
                packets.add(e)
                continue
            m = NUMBERED.match(e)
            if m and m.group(1) in want:
                packets.add(e)
        for e in ents:
            if e in packets:
                base = NUMBERED.match(e).group(1) if e not in want else e
                filed.setdefault(base, []).append((d, e))
                continue
            m = RECORD.match(e)
            if m and m.group(1) in packets:
                continue
            if m:
                bad("half-filed", "%s/%s: a record without its packet" % (d, e))
            else:
                bad("unknown", "%s/%s: filed but never dropped" % (d, e))
    lost = [n for n in dropped if n not in filed]
    for n in lost:
        bad("lost", "%s: dropped, never filed" % n)
    for n, where in sorted(filed.items()):
        if len(where) > 1:
            bad("double", "%s: filed %d times: %s" % (n, len(where),
                                                      ", ".join("%s/%s" % w for w in where)))

    # 2. failed packets carry their reason
    for n, where in filed.items():
        for d, e in where:
            if d != "failed":
                continue
            try:
                with open(os.path.join(spool, d, e + ".error"), errors="replace") as f:
                    err = f.read()
            except OSError:
                bad("no-reason", "failed/%s: no %s.error" % (e, e))
                continue
            _, reason = parse_line(err.strip())
            if reason is None or not REASON_WORD.match(reason):
                bad("no-reason", "failed/%s.error has no reason=KEYWORD: %r" % (e, err[:120]))

    # 3. the journal
    jpath = os.path.join(spool, "journal")
    try:
        with open(jpath, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raw = b""
    if raw and not raw.endswith(b"\n"):
        bad("journal", "the journal does not end with a newline (torn last line)")
    lines = raw.decode(errors="replace").splitlines()
    jby = {}
    jobs = {}
    outcomes = {"done": 0, "failed": 0}
    reasons = {}
    refiled = {}    # job -> filed= of its refiled line
    for i, line in enumerate(lines, 1):
        line = line.lstrip(" ")  # what is left of a torn append is blanked with spaces
        d, reason = parse_line(line)
        if is_refile(d):  # corrects a job's filed=: checked with the filing below
            where = d.get("filed") or d.get("refiled")
            if not d.get("job") or not where:
                bad("journal", "line %d: a refiled line without job= and filed=: %r"
                    % (i, line[:160]))
            else:
                refiled[d["job"]] = where
            continue
        miss = [k for k in ("ts", "job", "name", "outcome", "attempts", "dur_ms", "worker", "filed")
                if k not in d]
        if miss or not TS.match(d.get("ts", "")) or d.get("outcome") not in ("done", "failed"):
            bad("journal", "line %d malformed (missing %s): %r" % (i, ",".join(miss) or "-",
                                                                 line[:160]))
            continue
        if d["outcome"] == "failed" and (reason is None or not REASON_WORD.match(reason)):
            bad("journal", "line %d: outcome=failed without reason=KEYWORD: %r" % (i, line[:160]))
        if d["outcome"] == "done" and reason is not None:
            bad("journal", "line %d: outcome=done with a reason: %r" % (i, line[:160]))
        if d["job"] in jobs:
            bad("journal", "line %d: job %s already on line %d" % (i, d["job"], jobs[d["job"]]))
        jobs[d["job"]] = i
        n = d["name"]
        if n not in want:
            bad("journal", "line %d names %r, never dropped" % (i, n))
            continue
        jby.setdefault(n, []).append((i, d, reason))
        outcomes[d["outcome"]] += 1
        if reason:
            w = reason.split()[0]
            reasons[w] = reasons.get(w, 0) + 1
    for n in dropped:
        got = jby.get(n, [])
        if len(got) != 1:
            bad("journal", "%s: %d journal lines (lines %s)" % (n, len(got),
                                                               ",".join(str(g[0]) for g in got)))
        if len(got) < 1 or n not in filed:
            continue
        i, d, reason = got[0]
        where = filed[n]
        loc = "%s/%s" % where[0]
        if d["outcome"] != where[0][0]:
            bad("journal", "%s: journal says outcome=%s, filed in %s" % (n, d["outcome"], loc))
        said = refiled.get(d["job"], d["filed"])
        if said != "-" and not any(said == "%s/%s" % w for w in where):
            bad("journal", "%s: journal says filed=%s, the packet is %s" % (n, said, loc))
        elif where[0][1] != n and said == "-":
            bad("journal", "%s: filed as %s, the journal names no such filing" % (n, loc))
        if expect and n in expect:
            eo, er = expect[n]
            if d["outcome"] != eo:
                bad("expect", "%s: outcome=%s, expected %s (reason=%s)" % (n, d["outcome"], eo,
                                                                          reason))
            elif er and not (reason or "").startswith(er):
                bad("expect", "%s: reason=%s, expected %s..." % (n, reason, er))

    # 4. nothing left behind
    for x in ("work",) + tuple(x for x in extra_dirs or () if x != "work"):
        path = os.path.join(spool, x)
        left = os.listdir(path) if os.path.isdir(path) else []
        if left:
            bad("work" if x == "work" else x, "%s/ not empty: %d entries (%s)"
                % (x, len(left), ", ".join(sorted(left)[:5])))
    inbox = os.path.join(spool, "inbox")
    stuck = sorted(set(os.listdir(inbox)) & want) if os.path.isdir(inbox) else []
    if stuck:
        bad("inbox", "%d dropped packets still in inbox/ (%s)" % (len(stuck), ", ".join(stuck[:5])))

    # 5. no process left
    if tag:
        pids = (pids_fn or _tagged)(tag)
        if pids:
            bad("processes", "%d processes of this run still alive: %s" % (len(pids),
                                                                         _describe(pids)))

    # log bound
    biggest = 0
    if log_max is not None:
        for d in ("done", "failed"):
            for e in entries[d]:
                if e.endswith(".log"):
                    sz = os.path.getsize(os.path.join(spool, d, e))
                    biggest = max(biggest, sz)
                    if sz > log_max + LOG_SLACK:
                        bad("log", "%s/%s is %d bytes, over log_max %d" % (d, e, sz, log_max))

    stats = dict(dropped=len(dropped), done=outcomes["done"], failed=outcomes["failed"],
                 journal=len(lines), reasons=reasons, biggest_log=biggest)
    out = []
    for kind, msgs in problems.items():
        out += ["%s: %s" % (kind, m) for m in msgs[:30]]
        if len(msgs) > 30:
            out.append("%s: ... and %d more" % (kind, len(msgs) - 30))
    return out, stats


def _tagged(tag):
    sys.dont_write_bytecode = True
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import chaos
    return chaos.tagged(tag)


def _describe(pids):
    import chaos
    return chaos.describe(pids)


def load_expect(path):
    exp = {}
    with open(path) as f:
        for line in f:
            p = line.split(None, 2)
            if len(p) >= 2:
                exp[p[0]] = (p[1], p[2].strip() if len(p) > 2 else "")
    return exp


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("spool")
    ap.add_argument("dropped", help="file: one dropped name a line")
    ap.add_argument("--tag")
    ap.add_argument("--expect")
    ap.add_argument("--log-max", type=int)
    a = ap.parse_args()
    with open(a.dropped) as f:
        dropped = [x.rstrip("\n") for x in f if x.strip()]
    problems, st = check(a.spool, dropped, a.tag, load_expect(a.expect) if a.expect else None,
                         a.log_max)
    for p in problems:
        print(p)
    print("%d dropped: %d done, %d failed %s; %d journal lines; %s"
          % (st["dropped"], st["done"], st["failed"], st["reasons"] or "", st["journal"],
             "OK" if not problems else "%d PROBLEMS" % len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
