"""Shared code for the chaos scenarios (test/chaos/run): a private directory
per scenario, packets, steady droppers, the daemon under test, its processes.

Every process a scenario causes can be found in /proc by its TAG: the daemon
gets CHAOS_TAG=TAG in its environment and every handler sees INGEST_SPOOL,
whose path holds TAG, whatever its parent, group or session.
"""

import io
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
INGESTD = os.path.abspath(os.environ.get("INGESTD", os.path.join(TOP, "ingestd")))
CHAOS_DIR = os.environ.get("CHAOS_DIR", "/dev/shm" if os.path.isdir("/dev/shm") else "/tmp")
HANDLER = os.path.join(HERE, "handler")


class Failure(Exception):
    pass


def say(msg):
    print("chaos: " + msg, file=sys.stderr, flush=True)


def wait_until(pred, timeout, step=0.02):
    end = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() >= end:
            return pred()
        time.sleep(step)


# --- packets -------------------------------------------------------------------

def packet_bytes(name, kb=1):
    """A zip with a data_info.yml and about kb KiB of data."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("data_info.yml", "name: %s\nsource: ingestd-chaos\n" % name)
        z.writestr("data.bin", os.urandom(kb * 1024))
    return buf.getvalue()


# --- processes -----------------------------------------------------------------

def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def children(pid):
    out = []
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return [p for p in out if alive(p)]


def tagged(tag):
    """Live processes that carry tag in their environment."""
    out = []
    me = os.getpid()
    b = tag.encode()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        try:
            with open("/proc/%s/environ" % d, "rb") as f:
                if b not in f.read():
                    continue
        except OSError:
            continue
        if alive(int(d)):
            out.append(int(d))
    return out


def describe(pids):
    out = []
    for p in pids:
        try:
            with open("/proc/%d/cmdline" % p, "rb") as f:
                out.append("%d %s" % (p, f.read().replace(b"\0", b" ").decode(errors="replace")[:80]))
        except OSError:
            pass
    return "; ".join(out)


def kill_all(tag):
    for _ in range(100):
        pids = tagged(tag)
        if not pids:
            return True
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.02)
    return False


# --- a scenario's world --------------------------------------------------------

class World:
    """A private directory: spool, stage, config, logs; the daemon; the drops."""

    mode = "full"  # set by test/chaos/run

    def __init__(self, name, workers=4, conf_extra="", handler=None, handler_args=(),
                 handler_conf=(), spool=None, env=None, argv_prefix=(), ipc_msg_max=None):
        self.name = name
        self.tag = "chaos%dx%d" % (os.getpid(), random.randrange(1 << 30))
        self.dir = os.path.join(CHAOS_DIR, "ingestd-%s.%s" % (name, self.tag))
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.spool = spool or os.path.join(self.dir, "spool")
        self.stage = os.path.join(self.spool, ".stage")  # same filesystem, not watched
        os.makedirs(os.path.join(self.spool, "inbox"), exist_ok=True)
        os.makedirs(self.stage, exist_ok=True)
        self.runs_log = os.path.join(self.dir, "handler-runs")
        self.conf = os.path.join(self.dir, "ingestd.yml")
        self.dropped = []
        self.stopping = False
        self.lock = threading.Lock()
        self.proc = None
        self.runs = 0
        self.log = None
        self.env = env or {}
        self.argv_prefix = list(argv_prefix)
        self.ipc_msg_max = ipc_msg_max
        lines = ["spool: %s" % self.spool, "workers: %d" % workers, "settle: 200ms",
                 "shutdown_grace: 2s", "allow_root: true"]
        if handler is not None:
            # RUNS in an argument stands for the file the chaos handler notes its runs in.
            argv = [self.runs_log if a == "RUNS" else a
                    for a in ([handler] if isinstance(handler, str) else list(handler)) +
                    list(handler_args)]
            lines += ["handler:", "  command: [%s]" % ", ".join("'%s'" % a for a in argv)]
            lines += ["  " + x for x in handler_conf]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n" + conf_extra)

    # -- packets
    def stage_packets(self, names, kb=1):
        data = {}
        for n in names:
            k = kb(n) if callable(kb) else kb
            if k not in data:
                data[k] = packet_bytes("chaos", k)
            with open(os.path.join(self.stage, n), "wb") as f:
                f.write(data[k])

    def drop(self, names, interval=0.0):
        """Rename staged packets into the inbox, interval seconds apart."""
        for n in names:
            if self.stopping:
                return
            os.rename(os.path.join(self.stage, n), os.path.join(self.spool, "inbox", n))
            with self.lock:
                self.dropped.append(n)
            if interval:
                time.sleep(interval)

    def drop_async(self, names, interval):
        t = threading.Thread(target=self.drop, args=(names, interval), daemon=True)
        t.start()
        return t

    # -- the daemon
    def start(self, wait_ready=True, timeout=20):
        self.runs += 1
        self.log = os.path.join(self.dir, "daemon.%d.log" % self.runs)
        env = dict(os.environ)
        env["CHAOS_TAG"] = self.tag
        env.update(self.env)
        argv = self.argv_prefix + [INGESTD, "-c", self.conf]
        if self.ipc_msg_max is not None:
            # A private IPC namespace: its own fs.mqueue.msg_max, nobody else's queues.
            argv = ["unshare", "--ipc", "sh", "-c",
                    'echo %d >/proc/sys/fs/mqueue/msg_max && exec "$@"' % self.ipc_msg_max,
                    "sh"] + argv
        with open(self.log, "wb") as lf:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=lf, stderr=lf,
                                         env=env, close_fds=True)
        if wait_ready and not wait_until(self.ready, timeout):
            raise Failure("ingestd (run %d) not ready in %ds:\n%s"
                          % (self.runs, timeout, self.tail()))
        return self.proc

    def ready(self):
        if self.proc.poll() is not None:
            raise Failure("ingestd exited %s before event=ready:\n%s"
                          % (self.proc.returncode, self.tail()))
        return b"event=ready" in self.read_log(self.log)

    @staticmethod
    def read_log(path):
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError:
            return b""

    def all_logs(self):
        return b"".join(self.read_log(os.path.join(self.dir, "daemon.%d.log" % i))
                        for i in range(1, self.runs + 1)).decode(errors="replace")

    def tail(self, n=25):
        return "\n".join(self.read_log(self.log).decode(errors="replace").splitlines()[-n:])

    def pid(self):
        return self.proc.pid

    def roles(self):
        """{pid: role} of the daemon's live children, from its event=spawn lines."""
        spawned = {}
        for line in self.read_log(self.log).decode(errors="replace").splitlines():
            # child_role/child_pid since the job core's rebuild; role/pid before it
            m = re.search(r"event=spawn (?:child_)?role=(\w+) (?:child_)?pid=(\d+)", line)
            if m:
                spawned[int(m.group(2))] = m.group(1)
        live = set(children(self.proc.pid))
        return {p: r for p, r in spawned.items() if p in live}

    def workers(self):
        return [p for p, r in self.roles().items() if r == "worker"]

    def sigkill_supervisor(self, grace=5):
        """SIGKILL the supervisor; every process it left must die by itself
        (PDEATHSIG) within grace seconds. Returns the survivors."""
        before = tagged(self.tag)
        self.proc.kill()
        self.proc.wait()
        wait_until(lambda: not any(alive(p) for p in before), grace)
        return [p for p in before if alive(p)]

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Signal the daemon and reap it; returns its exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Failure("ingestd did not exit within %ds of %s:\n%s"
                          % (timeout, signal.Signals(sig).name, self.tail()))

    def journal_lines(self):
        """The jobs' lines (a rare "event=refiled" line corrects one's filed=)."""
        try:
            with open(os.path.join(self.spool, "journal"), "rb") as f:
                return sum(1 for line in f if b" event=refiled " not in line)
        except FileNotFoundError:
            return 0

    def busy_jobs(self):
        """Jobs in work/ and defer/. A worker keeps empty, locked job
        directories (an empty pkt/, a tree/, maybe a stale state record) ready
        for its next claims, and those are no job."""
        # defer/ before and after work/: a job moving between them is seen once at least.
        n = self.deferred()
        work = os.path.join(self.spool, "work")
        for j in os.listdir(work):
            try:
                ents = os.listdir(os.path.join(work, j))
                if [e for e in ents if e in ("log", "manifest.json", "verdict")] or (
                        "pkt" in ents and os.listdir(os.path.join(work, j, "pkt"))):
                    n += 1
            except FileNotFoundError:
                pass  # removed while we looked
            except NotADirectoryError:
                n += 1
        return n + self.deferred()

    def deferred(self):
        try:
            return len(os.listdir(os.path.join(self.spool, "defer")))
        except FileNotFoundError:
            return 0

    def drained(self):
        """Every drop has a journal line, no job holds a packet, inbox/ is empty.
        (work/ itself must be empty only once the daemon has stopped.)"""
        with self.lock:
            n = len(self.dropped)
        return (self.journal_lines() >= n and not os.listdir(os.path.join(self.spool, "inbox"))
                and self.busy_jobs() == 0)

    def wait_drained(self, timeout):
        if not wait_until(self.drained, timeout, step=0.05):
            inbox = os.listdir(os.path.join(self.spool, "inbox"))
            raise Failure("not drained after %ds: %d dropped, %d journal lines, %d jobs in "
                          "work/, inbox/ %d (e.g. %s)\n%s"
                          % (timeout, len(self.dropped), self.journal_lines(), self.busy_jobs(),
                             len(inbox), inbox[:3], self.tail()))

    def handler_runs(self):
        """{name: times the handler ran for it} from the handler's own log."""
        runs = {}
        try:
            with open(self.runs_log) as f:
                for line in f:
                    n = line.split()[0] if line.split() else ""
                    runs[n] = runs.get(n, 0) + 1
        except FileNotFoundError:
            pass
        return runs

    def cleanup(self, keep=False):
        self.stopping = True  # a dropper thread still running stops
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        kill_all(self.tag)
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)
