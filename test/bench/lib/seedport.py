#!/usr/bin/env python3
"""seedport.py SPOOL WORKERS [POLL_SECONDS]

Seed 004's design (shared/seeds/004_*), ported to Python 3 as the strongest
script a user would write instead of ingestd, for test/bench/throughput:

  - the main process polls SPOOL/inbox (os.listdir every POLL_SECONDS,
    default 0.05; the seed slept 1 s) and puts each new name on one
    multiprocessing.Queue;
  - WORKERS worker processes take names from the queue, extract the zip with
    zipfile, read data_info.yml, shutil.move the packet to SPOOL/done/ (or
    failed/), shutil.rmtree the extraction and append a journal line;
  - no fsync at all (as the seed).

Kept from the seed: the queue, the poll, zipfile, shutil.move, rmtree, the
process group killed on SIGTERM. Its bugs are not kept:
  - the workers block in Queue.get() instead of spinning on Queue.empty();
  - each name is queued once (the seed forgot names after 100, so a backlog
    was queued again and again): the main process remembers what it queued
    until the name has left the inbox;
  - the claim is a rename into the worker's own directory, so two workers
    can never take one packet (the loser gets ENOENT and skips it);
  - the packet's name never lands in a shell or format string; names
    starting with '.' or ending in -downloading/.part are left for later.

Journal lines (SPOOL/journal, O_APPEND, one write each) are
"ts=... name=NAME outcome=done|failed claim=S.US filed=S.US pid=P", which
bench.peer_journal reads; filed= is read
right after the move. Prints "ready" on stdout once the workers run.
"""

import os
import shutil
import signal
import sys
import time
import zipfile
from multiprocessing import Process, Queue


def worker(q, spool, me):
    inbox = os.path.join(spool, "inbox")
    mine = os.path.join(spool, "work", "w%d" % me)
    os.makedirs(mine, exist_ok=True)
    jfd = os.open(os.path.join(spool, "journal"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    while True:
        name = q.get()  # blocks: no busy loop
        if name is None:
            return
        pkt = os.path.join(mine, name)
        try:
            os.rename(os.path.join(inbox, name), pkt)  # the claim
        except FileNotFoundError:
            continue  # another worker has it, or it went away
        claim = time.time()
        tree = os.path.join(mine, name + ".tree")
        outcome = "done"
        try:
            with zipfile.ZipFile(pkt) as z:
                z.extractall(path=tree)
            with open(os.path.join(tree, "data_info.yml"), "rb") as f:
                info = f.read(65536)
            if not (info.startswith(b"name:") or b"\nname:" in info):
                outcome = "failed"
        except Exception:  # a bad zip or no manifest fails this packet, not the worker
            outcome = "failed"
        shutil.move(pkt, os.path.join(spool, outcome, name))
        filed = time.time()
        shutil.rmtree(tree, ignore_errors=True)
        os.write(jfd, ("ts=%.3f name=%s outcome=%s claim=%.6f filed=%.6f pid=%d\n"
                       % (filed, name, outcome, claim, filed, os.getpid())).encode())


def skip(name):
    return name.startswith(".") or name.endswith("-downloading") or name.endswith(".part")


def main():
    spool = sys.argv[1]
    nw = int(sys.argv[2])
    poll = float(sys.argv[3]) if len(sys.argv) > 3 else 0.05
    os.setpgid(0, 0)
    # As the seed: on SIGTERM the whole process group goes, no orphan left.
    signal.signal(signal.SIGTERM, lambda *_: os.killpg(0, signal.SIGKILL))
    for d in ("inbox", "work", "done", "failed"):
        os.makedirs(os.path.join(spool, d), exist_ok=True)
    q = Queue()
    procs = [Process(target=worker, args=(q, spool, i), daemon=True) for i in range(nw)]
    for p in procs:
        p.start()
    print("ready", flush=True)
    inbox = os.path.join(spool, "inbox")
    queued = set()
    while True:
        present = set(n for n in os.listdir(inbox) if not skip(n))
        for n in sorted(present - queued):
            q.put(n)
        queued &= present  # names claimed since: forget them (a new drop of one is new)
        queued |= present
        time.sleep(poll)


if __name__ == "__main__":
    main()
