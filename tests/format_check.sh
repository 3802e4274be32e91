#!/usr/bin/env bash
# Checks that the C lines a branch changes follow .clang-format: only the
# changed lines (git clang-format), so untouched code keeps its layout until
# the whole tree is reformatted in one commit of its own. The base is the
# merge-base with main (SB_FORMAT_BASE or the first argument overrides it;
# on main itself only uncommitted changes count). Fix what it shows with
# `git clang-format <base>`. Usage: tests/format_check.sh [BASE]
set -u
cd "$(dirname "$0")/.."
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
not_ok() { fail=$((fail + 1)); echo "not ok - $1"; }

# Prints the formatting diff of the C files changed since $1 ("" when clean).
format_diff() {
    local out
    out=$(git clang-format --binary clang-format --extensions c,h --diff "$1" -- "${@:2}" 2>&1)
    case $out in
    diff*) echo "$out" ;;
    "no modified files to format" | "clang-format did not modify any files" | "") ;;
    *) echo "$out" ;; # an error: show it, so it fails
    esac
}

if ! command -v clang-format >/dev/null || ! git clang-format -h >/dev/null 2>&1; then
    not_ok "clang-format and git clang-format are installed (scripts/install-deps.sh)"
    echo "$pass passed, $fail failed"
    exit 1
fi

# First, that it can fail: a badly laid out line added to a scratch repository.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(
    cd "$tmp" && git init -q && cp "$OLDPWD/.clang-format" . &&
        printf 'int a(void) { return 1; }\n' >x.c && git add -A &&
        git -c user.email=check@localhost -c user.name=check commit -qm base &&
        printf 'int a(void) { return 1; }\nint  b(int x){\nreturn x;}\n' >x.c
) >/dev/null 2>&1
if [ -n "$(cd "$tmp" && format_diff HEAD x.c)" ]; then
    ok "a badly laid out changed line is found"
else
    not_ok "a badly laid out changed line is not found"
fi

base=${1:-${SB_FORMAT_BASE:-}}
if [ -z "$base" ]; then
    base=$(git merge-base HEAD main 2>/dev/null) || base=HEAD
fi
diff=$(format_diff "$base" src include tests examples bench)
if [ -z "$diff" ]; then
    ok "the C lines changed since ${base:0:12} follow .clang-format"
else
    echo "$diff" | head -n 80
    not_ok "the C lines changed since ${base:0:12} do not follow .clang-format (git clang-format $base)"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
