#!/usr/bin/env python3
"""make lint: the module rules of docs/HACKING.md that a script can hold.

No two modules need each other: the graph of src/*.{c,h} includes (a module
is NAME.c with NAME.h) has no cycle. No file in src/ is far over 700 lines:
over 750 fails. `depcheck.py --self-test` plants a cycle it must find."""
import glob
import os
import re
import sys

LIMIT = 750


def graph(files):
    mods = {}
    for f in files:
        m = os.path.splitext(os.path.basename(f))[0]
        with open(f, encoding="utf-8", errors="replace") as fp:
            inc = set(re.findall(r'^#include "([A-Za-z0-9_]+)\.h"', fp.read(), re.M))
        mods.setdefault(m, set()).update(inc - {m})
    return mods


def cycles(mods):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(mods.get(v, ())):
            if w not in mods:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(mods):
        if v not in index:
            visit(v)
    return out


def main():
    if sys.argv[1:] == ["--self-test"]:
        found = cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
        if found != [["a", "b", "c"]]:
            print("depcheck: self-test: the planted cycle a -> b -> c -> a was not found: %s" % found)
            return 1
        print("depcheck: self-test: the planted cycle is found")
        return 0
    files = sorted(glob.glob("src/*.[ch]"))
    bad = 0
    for comp in cycles(graph(files)):
        print("depcheck: modules that include each other: %s" % " <-> ".join(comp))
        bad = 1
    for f in files:
        with open(f, encoding="utf-8", errors="replace") as fp:
            n = sum(1 for _ in fp)
        if n > LIMIT:
            print("depcheck: %s: %d lines, over %d: split it by concern" % (f, n, LIMIT))
            bad = 1
    return bad


if __name__ == "__main__":
    sys.exit(main())
