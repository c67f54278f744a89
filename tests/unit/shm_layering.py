#!/usr/bin/env python3
"""
tests/unit/shm_layering.py - no file of shm/ imports one that imports it back.

Two graphs, each must be free of cycles:
  - calls: object file A -> B when A uses a symbol B defines (nm), within each
    group of objects given (libpsmetrics; portsyncd-shmdump), so a file that
    calls into another which calls back is caught whatever the headers say;
  - includes: A -> B when A #includes the local header B, over shm/ (.c and .h).
Usage: shm_layering.py SHM_DIR 'OBJ;OBJ;...' ['OBJ;...' ...]
Prints every cycle with what each edge uses, and exits 1 if there is one.
"""
import os
import re
import subprocess
import sys


def cycles(edges):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
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

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def call_graph(objs):
    defs, uses = {}, {}
    for o in objs:
        name = re.sub(r'\.o$', '', os.path.basename(o))
        text = subprocess.run(['nm', o], check=True, capture_output=True, text=True).stdout
        defs[name] = {p[2] for p in (l.split() for l in text.splitlines())
                      if len(p) == 3 and p[1] in 'TDBRCV'}
        uses[name] = {p[1] for p in (l.split() for l in text.splitlines())
                      if len(p) == 2 and p[0] == 'U'}
    owner = {s: f for f, ds in defs.items() for s in ds}
    edges = {f: {} for f in defs}
    for f, us in uses.items():
        for s in us:
            g = owner.get(s)
            if g and g != f:
                edges[f].setdefault(g, []).append(s)
    return edges


def include_graph(shm):
    files = {}
    for dirpath, _, names in os.walk(shm):
        for nm in names:
            if nm.endswith(('.c', '.h')):
                files[os.path.relpath(os.path.join(dirpath, nm), shm)] = os.path.join(dirpath, nm)
    by_base = {}
    for rel in files:
        by_base.setdefault(rel, rel)
        # "psm/reader.h" is include/psm/reader.h, "psu/clock.h" util/include/psu/clock.h
        for pre in ('include/', 'util/include/'):
            if rel.startswith(pre):
                by_base[rel[len(pre):]] = rel
    edges = {rel: {} for rel in files}
    for rel, path in files.items():
        here = os.path.dirname(rel)
        for m in re.finditer(r'^\s*#\s*include\s+"([^"]+)"', open(path).read(), re.M):
            inc = m.group(1)
            target = by_base.get(os.path.normpath(os.path.join(here, inc))) or by_base.get(inc)
            if target:
                edges[rel].setdefault(target, []).append('#include "%s"' % inc)
    return edges


def report(kind, edges):
    bad = cycles(edges)
    for comp in bad:
        print('%s cycle: %s' % (kind, ' <-> '.join(comp)))
        for a in comp:
            for b in comp:
                if b in edges[a]:
                    print('    %s -> %s: %s' % (a, b, ', '.join(sorted(edges[a][b]))))
    return len(bad)


def main():
    shm, groups = sys.argv[1], sys.argv[2:]
    bad = report('include', include_graph(shm))
    nfiles = 0
    for g in groups:
        objs = [o for o in g.split(';') if o]
        nfiles += len(objs)
        bad += report('call', call_graph(objs))
    print('%s: %d object files, %d cycles' % ('FAIL' if bad else 'ok', nfiles, bad))
    return 1 if bad else 0


sys.exit(main())
