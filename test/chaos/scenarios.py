"""The chaos scenarios. Each takes the mode ("full" or "short") and a context
(the built shim), runs the daemon through its trouble, drains, stops it with
SIGTERM and hands the spool to the one invariant checker (invariants.py).
Each returns a one-line summary, or raises chaos.Failure with what broke.

Sizes: full runs thousands of packets per scenario (`make chaos`), short runs
hundreds and stays well under two minutes in all (`make check`).
"""

import os
import random
import signal
import subprocess
import time

import chaos
import invariants
from chaos import Failure, World, wait_until

SH = "/bin/sh"


def names(prefix, n, start=0):
    return ["%s%05d.zip" % (prefix, i) for i in range(start, start + n)]


def finish(w, drain_timeout, expect=None, log_max=None, want_all_done=False):
    """Drain, SIGTERM, check exit 0 and the invariants. Returns the stats.
    A short run gives up draining after a minute: a stuck packet is a
    failure either way, and make check must stay short."""
    if w.mode == "short":
        drain_timeout = min(drain_timeout, 60)
    w.wait_drained(drain_timeout)
    # Drained and idle: only the daemon's own processes may live; anything a
    # handler started must have died with its job, not wait for the shutdown.
    daemon = {w.pid()} | set(chaos.children(w.pid()))
    stray = []
    for _ in range(10):  # a job just filed may still be reaping its handler
        stray = [p for p in chaos.tagged(w.tag) if p not in daemon]
        if not stray:
            break
        time.sleep(0.1)
        daemon = {w.pid()} | set(chaos.children(w.pid()))
    rc = w.stop(signal.SIGTERM, timeout=30)
    if stray:
        raise Failure("%d processes outlived their jobs while the daemon idled: %s"
                      % (len(stray), chaos.describe(stray)))
    if rc != 0:
        raise Failure("final SIGTERM: ingestd exited %s, not 0:\n%s" % (rc, w.tail()))
    # The supervisor has already killed and reaped everything: one second for
    # the kernel to finish tearing down what it SIGKILLed.
    wait_until(lambda: not chaos.tagged(w.tag), 1.0)
    problems, st = invariants.check(w.spool, w.dropped, w.tag, expect, log_max)
    if want_all_done and st["failed"]:
        problems.append("expected every packet done, %d failed: %s" % (st["failed"],
                                                                     st["reasons"]))
    if problems:
        raise Failure("invariants broken:\n  " + "\n  ".join(problems))
    return st


def outcome_text(st):
    r = ", ".join("%s %d" % kv for kv in sorted(st["reasons"].items()))
    return "%d done, %d failed%s" % (st["done"], st["failed"], " (%s)" % r if r else "")


def reruns(w):
    runs = w.handler_runs()
    return sum(1 for v in runs.values() if v > 1), sum(v - 1 for v in runs.values() if v > 1)


# --- SIGKILL a random worker every 50 ms ---------------------------------------

def worker_kill(mode, ctx):
    n = 3000 if mode == "full" else 300
    kill_secs = 60 if mode == "full" else 5
    w = World("worker-kill", workers=4, handler=[SH, chaos.HANDLER], handler_args=["RUNS", "{name}", "0.01"],
              handler_conf=["timeout: 30s", "retries: 3", "backoff: 100ms", "backoff_max: 1s"])
    try:
        w.stage_packets(names("k", n))
        w.start()
        w.drop(names("k", n))
        kills, t_end = 0, time.monotonic() + kill_secs
        while not w.drained() and time.monotonic() < t_end:
            ws = w.workers()
            if ws:
                try:
                    os.kill(random.choice(ws), signal.SIGKILL)
                    kills += 1
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        during = w.journal_lines()
        st = finish(w, 300)
        again, extra = reruns(w)
        return ("%d packets, %d worker SIGKILLs over %.0fs (%d filed meanwhile): %s; "
                "%d handler re-runs" % (n, kills, kill_secs if during < n else 0, during,
                                        outcome_text(st), extra))
    finally:
        w.cleanup(ctx["keep"])


# --- SIGKILL the supervisor at random moments, restart, 20 times -----------------

def restarts(mode, ctx, sig):
    n = 3000 if mode == "full" else 300
    cycles = 20
    name = "supervisor-kill" if sig == signal.SIGKILL else "sigterm-restart"
    w = World(name, workers=4, handler=[SH, chaos.HANDLER], handler_args=["RUNS", "{name}", "0.005"],
              handler_conf=["timeout: 30s", "retries: 3", "backoff: 100ms", "backoff_max: 1s"])
    try:
        nl = names("s", n)
        w.stage_packets(nl)
        span = 8.0 if mode == "full" else 4.0  # the drops go on while we kill
        dropper = w.drop_async(nl, span / n)
        slow_stops = []
        for i in range(cycles):
            w.start(wait_ready=False)
            # A random moment: during start-up, recovery of work/, or steady work.
            # Not in the first millisecond: a signal that comes while the kernel
            # is still inside execve(2) ends any program by its default action
            # (only the parent could have blocked it). The launcher makes that
            # window the exec alone, ~0.3 ms here, where the loader's ~4 ms of
            # mapping 45 libraries used to be.
            delay = random.uniform(0.001, 0.6 if mode == "short" else 0.9)
            time.sleep(delay)
            if sig == signal.SIGKILL:
                survivors = w.sigkill_supervisor(grace=5)
                if survivors:
                    raise Failure("cycle %d: %d processes outlived the SIGKILLed supervisor "
                                  "by 5s: %s" % (i + 1, len(survivors),
                                                 chaos.describe(survivors)))
            else:
                t0 = time.monotonic()
                rc = w.stop(signal.SIGTERM, timeout=15)
                took = time.monotonic() - t0
                if rc != 0:
                    raise Failure("cycle %d: SIGTERM %.0f ms after the start: exit status %s, "
                                  "not 0%s:\n%s" % (i + 1, delay * 1000, rc,
                                                     " (killed by the signal)" if rc < 0 else "",
                                                     w.tail()))
                slow_stops.append(took)
                if not wait_until(lambda: not chaos.tagged(w.tag), 1.0):
                    left = chaos.tagged(w.tag)
                    raise Failure("cycle %d: %d processes left after a clean stop: %s"
                                  % (i + 1, len(left), chaos.describe(left)))
        dropper.join()
        w.start()
        st = finish(w, 300)
        again, extra = reruns(w)
        more = ""
        if slow_stops:
            more = "; stops took %.2f-%.2fs" % (min(slow_stops), max(slow_stops))
        return ("%d packets, %d %s+restart cycles: %s; %d packets' handler re-run (%d extra "
                "runs)%s" % (n, cycles, signal.Signals(sig).name, outcome_text(st), again,
                             extra, more))
    finally:
        w.cleanup(ctx["keep"])


def supervisor_kill(mode, ctx):
    return restarts(mode, ctx, signal.SIGKILL)


def sigterm_restart(mode, ctx):
    return restarts(mode, ctx, signal.SIGTERM)


# --- IN_Q_OVERFLOW with the queue at its minimum --------------------------------

def ipc_ok():
    r = subprocess.run(["unshare", "--ipc", "sh", "-c", "echo 1 >/proc/sys/fs/mqueue/msg_max"],
                       capture_output=True)
    return r.returncode == 0


def overflow(mode, ctx):
    if not ipc_ok():
        return ("SKIPPED: cannot make a private IPC namespace (unshare --ipc, root only) to "
                "put the message queue at its minimum (fs.mqueue.msg_max=1)")
    if mode == "full":
        return overflow_full(ctx)
    return overflow_short(ctx)


def overflow_full(ctx):
    n = 100000
    w = World("overflow", workers=4, ipc_msg_max=1)
    try:
        nl = names("o", n)
        w.stage_packets(nl, kb=0)
        w.start()
        t0 = time.monotonic()
        w.drop(nl)
        rate = n / (time.monotonic() - t0)
        st = finish(w, 900)
        return check_overflow(w, "%d packets renamed in at %.0f/s" % (n, rate), st)
    finally:
        w.cleanup(ctx["keep"])


def overflow_short(ctx):
    """A few hundred packets can overflow inotify too: block the watcher in
    mq_send (queue depth 1, every worker busy on a slow packet), then queue
    more than max_queued_events events behind it: writes to two ignored
    (.part) files, alternating so the kernel cannot merge them. Packets
    dropped then lose their events and only the rescan finds them."""
    n = 300
    w = World("overflow", workers=2, ipc_msg_max=1, handler=[SH, chaos.HANDLER],
              handler_args=["RUNS", "{name}"], handler_conf=["timeout: 30s"])
    try:
        slow = names("slow-", 8)
        nl = names("o", n)
        w.stage_packets(slow + nl, kb=0)
        w.start()
        w.drop(slow)
        # Both workers busy, one name in the queue, the watcher blocked on the next.
        if not wait_until(lambda: len(w.handler_runs()) >= 2, 10):
            raise Failure("the slow packets never started")
        with open("/proc/sys/fs/inotify/max_queued_events") as f:
            qmax = int(f.read())
        inbox = os.path.join(w.spool, "inbox")
        fds = [os.open(os.path.join(inbox, x), os.O_WRONLY | os.O_CREAT, 0o644)
               for x in ("flood-a.part", "flood-b.part")]
        for i in range(qmax + 2000):
            os.write(fds[i & 1], b"x")
        for fd in fds:
            os.close(fd)
        os.unlink(os.path.join(inbox, "flood-a.part"))
        os.unlink(os.path.join(inbox, "flood-b.part"))
        w.drop(nl)
        st = finish(w, 120)
        return check_overflow(w, "%d packets behind %d events" % (n + len(slow), qmax + 2000),
                              st)
    finally:
        w.cleanup(ctx["keep"])


def check_overflow(w, what, st):
    log = w.all_logs()
    if "event=overflow" not in log:
        raise Failure("no event=overflow in the daemon's log: the scenario did not overflow "
                      "inotify's queue")
    depth = [l for l in log.splitlines() if "event=queue " in l]
    if not depth or " depth=1 " not in depth[0] + " ":
        raise Failure("the message queue was not at its minimum (depth=1): %s" % depth[:1])
    ov = log.count("event=overflow")
    scans = log.count("event=scan why=overflow")
    return ("%s, queue depth 1: %d IN_Q_OVERFLOW, %d rescans; %s"
            % (what, ov, scans, outcome_text(st)))


# --- disk full -------------------------------------------------------------------

def enospc_shim(mode, ctx):
    n = 2000 if mode == "full" else 300
    span = 12.0 if mode == "full" else 3.0
    w = World("enospc", workers=4, handler="/bin/true",
              handler_conf=["retries: 3", "backoff: 100ms", "backoff_max: 500ms"])
    ctl = os.path.join(w.dir, "enospc.ctl")
    count = os.path.join(w.dir, "enospc.count")
    w.env = {"LD_PRELOAD": ctx["enospc"], "CHAOS_ENOSPC_CTL": ctl, "CHAOS_ENOSPC_LOG": count}
    try:
        nl = names("e", n)
        w.stage_packets(nl)
        w.start()
        dropper = w.drop_async(nl, span / n)
        # Phases: the disk full outright, space back, full now and then, back.
        plan = [(0.3, None), (1.0, "1"), (0.7, None), (1.5, "0.3")]
        if mode == "full":
            plan += [(1.0, None), (2.0, "1"), (1.0, None), (3.0, "0.05"), (1.0, "1")]
        for secs, p in plan:
            if p is None:
                if os.path.exists(ctl):
                    os.unlink(ctl)
            else:
                with open(ctl + ".tmp", "w") as f:
                    f.write(p)
                os.rename(ctl + ".tmp", ctl)
            time.sleep(secs)
        if os.path.exists(ctl):
            os.unlink(ctl)
        dropper.join()
        injected = os.path.getsize(count) if os.path.exists(count) else 0
        st = finish(w, 120)
        if injected == 0:
            raise Failure("the shim injected no ENOSPC: LD_PRELOAD not in effect?")
        return "%d packets, %d ENOSPC injected (write/rename/fsync): %s" % (n, injected,
                                                                           outcome_text(st))
    finally:
        w.cleanup(ctx["keep"])


def enospc_tmpfs(mode, ctx):
    """A real full disk: the spool on a small tmpfs, filled up, then freed."""
    n = 1000 if mode == "full" else 200
    base = os.path.join(chaos.CHAOS_DIR, "ingestd-enospc-mnt.%d" % os.getpid())
    mnt = os.path.join(base, "spool")
    os.makedirs(mnt, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m,mode=0755", "chaos-enospc", mnt],
                       capture_output=True, text=True)
    if r.returncode != 0:
        os.rmdir(mnt)
        os.rmdir(base)
        return "SKIPPED: cannot mount a tmpfs here (%s); the shim scenario covers ENOSPC" % (
            r.stderr.strip() or "not root")
    w = None
    try:
        w = World("enospc-tmpfs", workers=4, spool=mnt, handler="/bin/true",
                  handler_conf=["retries: 3", "backoff: 100ms", "backoff_max: 500ms"])
        nl = names("t", n)
        w.stage_packets(nl)
        w.start()
        w.drop(nl[: n // 4])
        # Fill the disk, keep it full while packets arrive, then free it.
        fill = os.path.join(mnt, ".fill")
        with open(fill, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        w.drop(nl[n // 4:], 1.5 / n)
        time.sleep(1.5)
        log = w.read_log(w.log).decode(errors="replace")
        os.unlink(fill)
        st = finish(w, 120)
        hit = sum(1 for l in w.all_logs().splitlines()
                  if "No space left" in l or "ENOSPC" in l)
        if not hit and "No space left" not in log:
            raise Failure("the daemon never met ENOSPC: the disk did not fill?")
        return "%d packets, 32 MiB tmpfs filled for 3s (%d ENOSPC log lines): %s" % (
            n, hit, outcome_text(st))
    finally:
        if w is not None:
            w.cleanup(ctx["keep"])
        subprocess.run(["umount", "-l", mnt], capture_output=True)
        for d in (mnt, base):
            try:
                os.rmdir(d)
            except OSError:
                pass


# --- handlers that hang, flood, close stdout --------------------------------------

def handlers(mode, ctx):
    full = mode == "full"
    n = 2000 if full else 300
    flood_mb = 2048 if full else 1024
    counts = dict(hang=12 if full else 4, flood=4 if full else 2, close=200 if full else 20,
                  fail=100 if full else 10, orphan=50 if full else 10)
    log_max = 64 * 1024
    w = World("handlers", workers=4, handler=[SH, chaos.HANDLER], handler_args=["RUNS", "{name}"],
              handler_conf=["timeout: 3s", "retries: 0", "log_max: 64KiB"])
    try:
        special = (names("hang-", counts["hang"]) +
                   names("flood-%d-" % flood_mb, counts["flood"]) +
                   names("close-", counts["close"]) + names("fail-", counts["fail"]) +
                   names("orphan-", counts["orphan"]))
        nl = special + names("h", n - len(special))
        random.shuffle(nl)
        expect = {}
        for x in nl:
            if x.startswith("hang-"):
                expect[x] = ("failed", "timeout")
            elif x.startswith("fail-"):
                expect[x] = ("failed", "exit status=3")
            else:
                expect[x] = ("done", "")
        w.stage_packets(nl)
        w.start()
        w.drop(nl)
        st = finish(w, 300, expect=expect, log_max=log_max)
        return ("%d packets (%d hang, %d print %d MiB, %d close stdout, %d exit 3, %d exit 0 "
                "leaving children): %s; largest job log %d bytes (log_max %d)"
                % (n, counts["hang"], counts["flood"], flood_mb, counts["close"], counts["fail"],
                   counts["orphan"], outcome_text(st), st["biggest_log"], log_max))
    finally:
        w.cleanup(ctx["keep"])


ALL = [("worker-kill", worker_kill), ("supervisor-kill", supervisor_kill),
       ("sigterm-restart", sigterm_restart), ("overflow", overflow),
       ("enospc", enospc_shim), ("enospc-tmpfs", enospc_tmpfs), ("handlers", handlers)]
