#!/usr/bin/env bash
# Fails when the files of a layer depend on each other in a cycle. A file
# depends on another of its layer when it calls a function (or uses data)
# defined there: read from the objects' symbol tables (nm), so a shared
# *_internal.h hides nothing. A registry file may call every feature; a
# feature may call helpers; helpers call no feature; then nothing cycles.
# Cycles listed in tests/cycles_known.txt (layers not untangled yet) are
# reported but pass, as long as they do not grow.
# Usage: tests/cycles_check.sh [BUILD_DIR or BUILD_DIR/switchboard]
set -u
cd "$(dirname "$0")/.."
b=${1:-build}
[ -d "$b" ] || b=$(dirname "$b")

check() { # BUILD_DIR KNOWN_FILE SOURCE_DIR
    python3 -c "$checker" "$@"
}

checker=$(cat <<'PY'
import glob, os, subprocess, sys

build, known_file, src = sys.argv[1], sys.argv[2], sys.argv[3]
known = {}  # layer -> list of sets of files
for line in open(known_file):
    line = line.split('#', 1)[0].strip()
    if line:
        layer, files = line.split(':', 1)
        known.setdefault(layer.strip(), []).append(set(files.split()))

def graph(layer):
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

def cycles(edges):  # strongly connected components of more than one file
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
            if len(comp) > 1:
                out.append(comp)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out

layers = sorted(d for d in os.listdir(src) if os.path.isdir(f'{src}/{d}'))
passed = failed = 0
for layer in layers:
    edges = graph(layer)
    bad = []
    for comp in cycles(edges):
        if any(comp <= k for k in known.get(layer, [])):
            print(f'ok - {layer}: known cycle, left to untangle: {" ".join(sorted(comp))}')
        else:
            bad.append(comp)
    if not bad:
        passed += 1
        print(f'ok - {layer}: no new cycle')
        continue
    failed += 1
    for comp in bad:
        print(f'not ok - {layer}: files depend on each other in a cycle: {" ".join(sorted(comp))}'
              ' (move what both sides need into a helper file that calls neither, or list the'
              ' cycle in tests/cycles_known.txt with a reason)')
        for a in sorted(comp):
            for d, syms in sorted(edges[a].items()):
                if d in comp:
                    print(f'    {a}.c -> {d}.c: {" ".join(sorted(syms)[:6])}')
print(f'{passed} passed, {failed} failed')
sys.exit(1 if failed else 0)
PY
)

# First, that it can fail: two files of a made-up layer that call each other.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/obj/src/demo" "$tmp/src/demo"
echo 'void b(void); void a(void) { b(); }' >"$tmp/src/demo/a.c"
echo 'void a(void); void b(void) { a(); }' >"$tmp/src/demo/b.c"
: >"$tmp/known"
self=0
if cc -c "$tmp/src/demo/a.c" -o "$tmp/obj/src/demo/a.o" &&
    cc -c "$tmp/src/demo/b.c" -o "$tmp/obj/src/demo/b.o" &&
    ! check "$tmp" "$tmp/known" "$tmp/src" | grep -q 'not ok - demo: .*cycle: a b '; then
    self=1
fi
if [ $self -eq 0 ]; then
    echo "ok - a planted cycle (a.c <-> b.c) is found"
else
    echo "not ok - a planted cycle (a.c <-> b.c) is not found"
fi

out=$(check "$b" tests/cycles_known.txt src)
rc=$?
echo "$out" | grep -v '^[0-9]* passed'
line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)
p=$(echo "${line:-0 passed, 1 failed}" | awk '{print $1}')
f=$(echo "${line:-0 passed, 1 failed}" | awk '{print $3}')
echo "$((p + (self == 0))) passed, $((f + self)) failed"
[ $rc -eq 0 ] && [ $self -eq 0 ]
