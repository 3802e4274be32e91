#!/usr/bin/env bash
# Checks that every C file of the tree follows .clang-format (the tree was
# laid out by `make format` in one commit of its own). It first proves it
# can fail on a badly laid out file. Fix what it shows with `make format`.
# Usage: tests/format_check.sh
set -u
cd "$(dirname "$0")/.."
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
not_ok() { fail=$((fail + 1)); echo "not ok - $1"; }

# True when clang-format would change nothing in the file $1.
laid_out() { clang-format --dry-run --Werror "$1" >/dev/null 2>&1; }

if ! command -v clang-format >/dev/null; then
    not_ok "clang-format is installed (scripts/install-deps.sh)"
    echo "$pass passed, $fail failed"
    exit 1
fi

# First, that it can fail: a badly laid out file next to our .clang-format.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp .clang-format "$tmp/"
printf 'int  b(int x){\nreturn x;}\n' >"$tmp/x.c"
if laid_out "$tmp/x.c"; then
    not_ok "a badly laid out file is not found"
else
    ok "a badly laid out file is found"
fi

bad=""
for f in $(git ls-files -- 'src/*.[ch]' 'include/*.[ch]' 'tests/*.[ch]' 'examples/*.[ch]' 'bench/*.[ch]'); do
    laid_out "$f" || bad="$bad $f"
done
if [ -z "$bad" ]; then
    ok "every C file follows .clang-format"
else
    for f in $bad; do clang-format "$f" | diff -u "$f" - | head -n 20; done
    not_ok "these C files do not follow .clang-format (make format):$bad"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
