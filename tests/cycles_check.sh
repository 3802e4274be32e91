#!/usr/bin/env bash
# Fails when the files of a layer depend on each other in a cycle, seen two
# ways:
# - calls: a file depends on another of its layer when it calls a function
#   (or uses data) defined there, read from the objects' symbol tables (nm),
#   so a shared *_internal.h hides nothing. A registry file may call every
#   feature; a feature may call helpers; helpers call no feature; then
#   nothing cycles.
# - includes: a header includes another of its layer that includes it back,
#   directly or through others. Only headers can be in an include cycle (a
#   .c file is never included); who calls whom is the check above.
# No cycle is tolerated: every layer was untangled (issue 16).
# Usage: tests/cycles_check.sh [BUILD_DIR or BUILD_DIR/switchboard]
set -u
cd "$(dirname "$0")/.."
b=${1:-build}
[ -d "$b" ] || b=$(dirname "$b")

check() { # calls BUILD_DIR SOURCE_DIR | includes SOURCE_DIR
    python3 -c "$checker" "$@"
}

checker=$(cat <<'PY'
import glob, os, re, subprocess, sys

def call_graph(build, src, layer):
    defs, uses = {}, {}
    # The layer's sources name the objects: a stale object of a file that
    # is gone must not count.
    for c in sorted(glob.glob(f'{src}/{layer}/*.c')):
        name = os.path.basename(c)[:-2]
        o = f'{build}/obj/src/{layer}/{name}.o'
        if not os.path.exists(o):
            print(f'not ok - {o} is missing (build first)')
            sys.exit(1)
        uses[name] = set()
        out = subprocess.run(['nm', '-P', o], capture_output=True, text=True, check=True).stdout
        for row in out.splitlines():
            f = row.split()
            if len(f) < 2:
                continue
            if f[1] == 'U':
                uses[name].add(f[0])
            elif f[1].isupper():
                defs[f[0]] = name
    edges = {n: {} for n in uses}
    for n, syms in uses.items():
        for s in syms:
            d = defs.get(s)
            if d and d != n:
                edges[n].setdefault(d, []).append(s)
    return edges

def include_graph(src, layer):
    edges = {}
    for h in sorted(glob.glob(f'{src}/{layer}/*.h')):
        name = os.path.basename(h)
        edges[name] = {}
        for line in open(h, errors='replace'):
            m = re.match(r'\s*#\s*include\s+"' + re.escape(layer) + r'/([^"/]+\.h)"', line)
            if m:
                edges[name][m.group(1)] = ['#include']
    for name in edges:  # a header of another folder is no node of this one
        edges[name] = {d: why for d, why in edges[name].items() if d in edges}
    return edges

def cycles(edges):  # strongly connected components: several files, or one including itself
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop(); on.discard(w); comp.add(w)
                if w == v:
                    break
            if len(comp) > 1 or v in edges[v]:
                out.append(comp)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out

mode, args = sys.argv[1], sys.argv[2:]
if mode == 'calls':
    build, src = args[0], args[1]
    graph = lambda layer: call_graph(build, src, layer)
    what, fix = 'files depend on each other in a cycle', (
        'move what both sides need into a helper file that calls neither, or pass a callback'
        ' set by the upper file')
    sep = '.c -> '
else:
    src = args[0]
    graph = lambda layer: include_graph(src, layer)
    what, fix = 'headers include each other in a cycle', (
        'declare what both need in a header that includes neither, or forward-declare a type')
    sep = ' -> '

layers = sorted(d for d in os.listdir(src) if os.path.isdir(f'{src}/{d}'))
passed = failed = 0
for layer in layers:
    edges = graph(layer)
    bad = cycles(edges)
    if not bad:
        passed += 1
        print(f'ok - {layer}: no {"call" if mode == "calls" else "include"} cycle')
        continue
    failed += 1
    for comp in bad:
        print(f'not ok - {layer}: {what}: {" ".join(sorted(comp))} ({fix})')
        for a in sorted(comp):
            for d, syms in sorted(edges[a].items()):
                if d in comp:
                    print(f'    {a}{sep}{d}{".c" if mode == "calls" else ""}: '
                          f'{" ".join(sorted(syms)[:6])}')
print(f'{passed} passed, {failed} failed')
sys.exit(1 if failed else 0)
PY
)

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
not_ok() { fail=$((fail + 1)); echo "not ok - $1"; }

# First, that both checks can fail: two files of a made-up layer that call
# each other, and two headers that include each other.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/obj/src/demo" "$tmp/src/demo"
echo 'void b(void); void a(void) { b(); }' >"$tmp/src/demo/a.c"
echo 'void a(void); void b(void) { a(); }' >"$tmp/src/demo/b.c"
printf '#include "demo/b.h"\n' >"$tmp/src/demo/a.h"
printf '#include "demo/a.h"\n' >"$tmp/src/demo/b.h"
planted=$(cc -c "$tmp/src/demo/a.c" -o "$tmp/obj/src/demo/a.o" &&
    cc -c "$tmp/src/demo/b.c" -o "$tmp/obj/src/demo/b.o" &&
    check calls "$tmp" "$tmp/src")
if echo "$planted" | grep -q 'not ok - demo: .*cycle: a b '; then
    ok "a planted call cycle (a.c <-> b.c) is found"
else
    not_ok "a planted call cycle (a.c <-> b.c) is not found"
fi
planted=$(check includes "$tmp/src")
if echo "$planted" | grep -q 'not ok - demo: .*cycle: a.h b.h '; then
    ok "a planted include cycle (a.h <-> b.h) is found"
else
    not_ok "a planted include cycle (a.h <-> b.h) is not found"
fi

rc=0
for mode in calls includes; do
    if [ $mode = calls ]; then
        out=$(check calls "$b" src)
    else
        out=$(check includes src)
    fi
    [ $? -eq 0 ] || rc=1
    echo "$out" | grep -v '^[0-9]* passed'
    line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)
    pass=$((pass + $(echo "${line:-0 passed, 1 failed}" | awk '{print $1}')))
    fail=$((fail + $(echo "${line:-0 passed, 1 failed}" | awk '{print $3}')))
done
echo "$pass passed, $fail failed"
[ $rc -eq 0 ] && [ $fail -eq 0 ]
