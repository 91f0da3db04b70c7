"""Shared code for ingestd's benchmarks (test/bench/*): packets, drops,
the daemon, the peers' journals, percentiles, /proc memory figures.

Python 3 standard library only. Every benchmark works in a private directory
under BENCH_DIR (default build-bench/ in the repository: the real disk, where
fsync costs what it costs a user) and removes it afterwards unless
BENCH_KEEP=1. Times are CLOCK_REALTIME nanoseconds unless a name says ms/us.
"""

import calendar
import io
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
INGESTD = os.path.abspath(os.environ.get("INGESTD", os.path.join(TOP, "ingestd")))
BENCH_DIR = os.path.abspath(os.environ.get("BENCH_DIR", os.path.join(TOP, "build-bench")))
KEEP = os.environ.get("BENCH_KEEP") == "1"
TAG = "ingestd-bench-%d-%d" % (os.getpid(), random.randrange(1 << 30))


def say(*a):
    print(*a, file=sys.stderr, flush=True)


def die(msg):
    say("bench: " + msg)
    sys.exit(1)


# --- the machine ---------------------------------------------------------------

def filesystem(d):
    """'ext4 /dev/vda (rw,relatime,discard)': what d is stored on."""
    r = subprocess.run(["findmnt", "-n", "-o", "FSTYPE,SOURCE,OPTIONS", "--target", d],
                       capture_output=True, text=True)
    p = r.stdout.split()
    if len(p) < 3:
        return subprocess.run(["stat", "-f", "-c", "%T", d], capture_output=True,
                              text=True).stdout.strip()
    return "%s on %s (%s)" % (p[0], p[1], ",".join(p[2].split(",")[:4]))


def machine(d=None):
    """One paragraph that names the machine a run was made on, and the
    filesystem of d (default BENCH_DIR)."""
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024
    deb = "?"
    try:
        with open("/etc/debian_version") as f:
            deb = f.read().strip()
    except OSError:
        pass
    hz = ""
    try:
        with open("/boot/config-" + platform.release()) as f:
            m = re.search(r"^CONFIG_HZ=(\d+)", f.read(), re.M)
            hz = " HZ=%s" % m.group(1) if m else ""
    except OSError:
        pass
    d = d or BENCH_DIR
    os.makedirs(d, exist_ok=True)
    return ("%d x %s, %d MiB RAM, Linux %s%s, Debian %s, spool in %s: %s"
            % (os.cpu_count(), cpu, mem, platform.release(), hz, deb, d, filesystem(d)))


def commit():
    """The repository's commit (and +dirty), or '?'."""
    r = subprocess.run(["git", "-C", TOP, "describe", "--always", "--dirty", "--abbrev=12"],
                       capture_output=True, text=True)
    return r.stdout.strip() or "?"


def ingestd_version():
    r = subprocess.run([INGESTD, "-V"], capture_output=True, text=True)
    return (r.stdout or r.stderr).strip()


def tool_version(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = (r.stdout + r.stderr).strip().splitlines()
    return out[0] if out else "?"


# --- packets -------------------------------------------------------------------

def packet_bytes(name, payload=3900, seed=0):
    """A zip of about 4 KiB: data_info.yml and an incompressible data.bin."""
    rnd = random.Random(seed)
    buf = io.BytesIO()
    manifest = ("name: %s\nsource: ingestd-bench\nserial: %d\n"
                "created: 2026-11-22T02:30:00Z\nsensor: bench-1\n" % (name, seed))
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("data_info.yml", manifest)
        if payload:
            z.writestr("data.bin", bytes(rnd.getrandbits(8) for _ in range(payload)))
    return buf.getvalue()


def names(n, prefix="p"):
    return ["%s%06d.zip" % (prefix, i) for i in range(n)]


def stage(stagedir, nlist, data=None):
    """Write one packet per name into stagedir (same filesystem as the inbox).
    The same bytes under every name: the content does not matter, the count does."""
    os.makedirs(stagedir, exist_ok=True)
    data = data or packet_bytes("bench")
    for n in nlist:
        fd = os.open(os.path.join(stagedir, n), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, data)
        os.close(fd)


def drop(stagedir, inbox, nlist, interval=0.0):
    """Rename each staged packet into the inbox; return {name: drop time ns}.

    The drop time is read just before rename() (the dropper's CLOCK_REALTIME):
    if the dropper is preempted around the call, a latency can only come out
    too long, never too short (read after, a claim could precede its drop)."""
    out = {}
    nxt = time.monotonic()
    for n in nlist:
        t = time.time_ns()
        os.rename(os.path.join(stagedir, n), os.path.join(inbox, n))
        out[n] = t
        if interval:
            nxt += interval
            d = nxt - time.monotonic()
            if d > 0:
                time.sleep(d)
    return out


# --- journals ------------------------------------------------------------------

_KV = re.compile(r'([a-z_]+)=("(?:[^"\\]|\\.)*"|\S*)')


def logfmt(line):
    d = {}
    for k, v in _KV.findall(line):
        if v.startswith('"'):
            v = v[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        d.setdefault(k, v)
    return d


def iso_ns(ts):
    """2026-11-22T02:30:00.123Z -> ns since the epoch (UTC)."""
    m = re.match(r"(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)(?:\.(\d+))?Z$", ts)
    if not m:
        raise ValueError("bad ts " + ts)
    y, mo, d, h, mi, s = (int(x) for x in m.groups()[:6])
    frac = (m.group(7) or "0").ljust(9, "0")[:9]
    return (calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)) * 1000000000 + int(frac))


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def ingestd_journal(path):
    """{name: (claim_ns_after_drop_ms, filed_ns, outcome)} from ingestd's journal:
    wait_ms (claim minus the packet's ctime) and ts (filing time, ms)."""
    out = {}
    with open(path) as f:
        for line in f:
            d = logfmt(line)
            out[d["name"]] = (int(d.get("wait_ms", "-1")), iso_ns(d["ts"]), d["outcome"])
    return out


def peer_journal(path):
    """{name: (claim_ns, filed_ns, outcome)} from a peer's journal (lib/seedport.py,
    lib/floor.c): claim= and filed= are seconds with exactly 6 decimals."""
    out = {}
    with open(path) as f:
        for line in f:
            d = logfmt(line)
            out[d["name"]] = (int(d["claim"].replace(".", "")) * 1000,
                              int(d["filed"].replace(".", "")) * 1000, d["outcome"])
    return out


def percentile(values, p):
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(-(-p * len(v) // 100)) - 1))
    return v[k]


# --- waiting -------------------------------------------------------------------

def wait_until(pred, timeout, step=0.01):
    end = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() >= end:
            return pred()
        time.sleep(step)


# --- processes -----------------------------------------------------------------

def children(pid):
    """Live direct children of pid (from /proc/PID/task/*/children)."""
    out = []
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def tagged_pids(tag=TAG):
    """Live processes whose environment holds tag (what a benchmark started)."""
    out = []
    me = os.getpid()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        try:
            with open("/proc/%s/environ" % d, "rb") as f:
                env = f.read()
            with open("/proc/%s/stat" % d) as f:
                st = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if tag.encode() in env and st != "Z":
            out.append(int(d))
    return out


def kill_tagged(tag=TAG):
    for _ in range(100):
        pids = tagged_pids(tag)
        if not pids:
            return
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.02)


def mem(pid):
    """(rss_kib, private_dirty_kib) from /proc/PID/smaps_rollup, or None."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            txt = f.read()
    except OSError:
        return None
    rss = re.search(r"^Rss:\s+(\d+) kB", txt, re.M)
    pd = re.search(r"^Private_Dirty:\s+(\d+) kB", txt, re.M)
    if not rss or not pd:
        return None
    return int(rss.group(1)), int(pd.group(1))


# --- helpers in C ------------------------------------------------------------

def build_helper(name, outdir, libs=()):
    """cc -O2 lib/NAME.c [libs] -> outdir/NAME; returns the path."""
    exe = os.path.join(outdir, name)
    r = subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-O2", "-Wall", "-Wextra", "-o", exe,
                        os.path.join(HERE, name + ".c")] + list(libs),
                       capture_output=True, text=True)
    if r.returncode != 0:
        die("cannot build %s:\n%s" % (name, r.stderr))
    return exe


def _nice():
    try:
        os.nice(-10)  # root only: keeps the observer's timestamps close to the events
    except OSError:
        pass


class Observer:
    """lib/observe.c: timestamps of renames out of inbox/ (claims) and into
    done/ and failed/ (filings), taken from outside the contender."""

    def __init__(self, exe, out, spool, watches=None):
        """watches: observe's TAG=DIR[:from|:to] arguments; by default the
        claims out of SPOOL/inbox and the filings into done/ and failed/."""
        self.out = out
        env = dict(os.environ, INGESTD_BENCH_TAG=TAG)
        watches = watches or ["claim=%s/inbox:from" % spool, "done=%s/done:to" % spool,
                              "failed=%s/failed:to" % spool]
        self.p = subprocess.Popen([exe, out] + list(watches),
                                  stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env,
                                  preexec_fn=_nice)
        if self.p.stdout.readline().strip() != b"ready":
            die("observe did not start")

    def stop(self):
        """Stop; returns ({name: claim ns}, {name: filed ns}, overflows)."""
        self.p.send_signal(signal.SIGTERM)
        self.p.wait(10)
        claim, filed, over = {}, {}, 0
        with open(self.out) as f:
            for line in f:
                ns, tag, name = line.rstrip("\n").split(" ", 2)
                if tag == "OVERFLOW":
                    over += 1
                elif tag == "claim-":
                    claim.setdefault(name, int(ns))
                elif tag in ("done+", "failed+"):
                    filed.setdefault(name, int(ns))
        return claim, filed, over


# --- the daemon ----------------------------------------------------------------

class Daemon:
    """ingestd on SPOOL with a generated config, logging to DIR/daemon.N.log."""

    def __init__(self, workdir, spool, workers, handler=None, extra="", fsync=True):
        self.dir = workdir
        self.spool = spool
        self.conf = os.path.join(workdir, "ingestd.yml")
        self.proc = None
        self.runs = 0
        self.log = None
        lines = ["spool: %s" % spool, "workers: %d" % workers, "settle: 2s",
                 "shutdown_grace: 5s", "fsync: %s" % ("true" if fsync else "false"),
                 "allow_root: true"]
        if handler:
            lines += ["handler:", "  command: [%s]" % ", ".join("'%s'" % a for a in handler),
                      "  retries: 0"]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n" + extra)

    def start(self, wait_ready=True, env=None, argv_prefix=()):
        self.runs += 1
        self.log = os.path.join(self.dir, "daemon.%d.log" % self.runs)
        e = dict(os.environ)
        e["INGESTD_BENCH_TAG"] = TAG
        e.update(env or {})
        with open(self.log, "wb") as lf:
            self.t_start = time.time_ns()
            self.proc = subprocess.Popen(list(argv_prefix) + [INGESTD, "-c", self.conf],
                                         stdin=subprocess.DEVNULL, stdout=lf, stderr=lf,
                                         env=e, close_fds=True)
        if wait_ready and not wait_until(self.ready, 20):
            die("ingestd did not log event=ready; log %s:\n%s" % (self.log, self.tail()))
        return self

    def tail(self, n=20):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def logtext(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def ready(self):
        if self.proc.poll() is not None:
            die("ingestd exited with status %s; log:\n%s" % (self.proc.returncode, self.tail()))
        try:
            with open(self.log, "rb") as f:
                return b"event=ready" in f.read()
        except OSError:
            return False

    def roles(self):
        """{pid: role} of the live children, from the event=spawn lines."""
        spawned = {}
        for line in self.logtext().splitlines():
            if "event=spawn" in line:
                d = logfmt(line.split("event=spawn", 1)[1])
                # child_pid/child_role since the job core's rebuild; pid/role before
                pid = d.get("child_pid", d.get("pid", ""))
                if pid.isdigit():
                    spawned[int(pid)] = d.get("child_role", d.get("role", "?"))
        live = set(children(self.proc.pid))
        return {p: r for p, r in spawned.items() if p in live}

    def stop(self, timeout=30):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def journal_lines(spool):
    return count_lines(os.path.join(spool, "journal"))


def make_spool(root):
    spool = os.path.join(root, "spool")
    for d in ("inbox", "work", "done", "failed"):
        os.makedirs(os.path.join(spool, d), exist_ok=True)
    return spool


def workdir(name, base=None):
    d = os.path.join(base or BENCH_DIR, "%s.%s" % (TAG, name))
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def cleanup(d):
    kill_tagged()
    if not KEEP:
        shutil.rmtree(d, ignore_errors=True)
    else:
        say("bench: kept %s" % d)


def fmt_ms(v, digits=1):
    if v is None:
        return "-"
    return ("%.*f" % (digits, v)) if v < 100 else "%.0f" % v


def table(rows, header):
    """Markdown table (printed as is: it reads well in a terminal too)."""
    w = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    out = ["| " + " | ".join(str(h).ljust(w[i]) for i, h in enumerate(header)) + " |",
           "|" + "|".join("-" * (x + 2) for x in w) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c).rjust(w[i]) if i else str(c).ljust(w[i])
                                     for i, c in enumerate(r)) + " |")
    return "\n".join(out)
