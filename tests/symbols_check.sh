#!/usr/bin/env bash
# The library boundary (issue 16): libswitchboard.a exports exactly the
# functions include/switchboard.h declares, the header stands alone, and its
# copies of shared constants match the internal tables.
# Usage: tests/symbols_check.sh [build/switchboard]. Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
build=$(dirname "${1:-build/switchboard}")
lib="$build/libswitchboard.a"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
check() { # name, then a command that succeeds when the check holds
    local name=$1
    shift
    if "$@" >"$tmp/out" 2>&1; then
        pass=$((pass + 1)); echo "ok - $name"
    else
        fail=$((fail + 1)); echo "not ok - $name"; head -40 "$tmp/out"
    fi
}

scripts/public-symbols.sh include/switchboard.h >"$tmp/declared"
nm -g --defined-only "$lib" | awk 'NF == 3 { print $3 }' | sort -u >"$tmp/exported"
echo "exported symbols: $(wc -l <"$tmp/exported"), declared functions: $(wc -l <"$tmp/declared")"

check "the header declares functions (the parser found them)" test "$(wc -l <"$tmp/declared")" -gt 50
check "every exported symbol is declared in the header" \
    bash -c "comm -23 '$tmp/exported' '$tmp/declared' | sed 's/^/exported, not declared: /' | grep . && exit 1 || exit 0"
check "every declared function is defined in the library" \
    bash -c "comm -13 '$tmp/exported' '$tmp/declared' | sed 's/^/declared, not defined: /' | grep . && exit 1 || exit 0"
check "no internal (__) symbol is exported" bash -c "! grep -q '__' '$tmp/exported'"
check "the library undefines nothing of its own (sb_*)" \
    bash -c "! nm -u '$lib' | grep -E ' sb_'"

# The header alone, strict, in C and as C++.
printf '#include <switchboard.h>\nint main(void) { return sb_version() == SB_VERSION_NUMBER ? 0 : 1; }\n' >"$tmp/alone.c"
check "the header compiles alone (-std=c11 -pedantic -Werror)" \
    cc -std=c11 -pedantic -Wall -Wextra -Werror -Iinclude -c -o "$tmp/alone.o" "$tmp/alone.c"
if command -v c++ >/dev/null; then
    cp "$tmp/alone.c" "$tmp/alone.cc"
    check "the header compiles as C++" c++ -Wall -Werror -Iinclude -c -o "$tmp/alone_cc.o" "$tmp/alone.cc"
fi
check "the header includes no project header" bash -c "! grep -E '^#include \"' include/switchboard.h"

# Error codes: the header's copy equals core/err.h's table.
grep -oE 'X\([A-Z0-9]+, *-?[0-9]+' src/core/err.h | sed -E 's/X\(([A-Z0-9]+), */SB_E\1 /' | sort >"$tmp/err_internal"
grep -oE 'SB_E[A-Z0-9]+ = -?[0-9]+' include/switchboard.h | sed 's/ = / /' | sort >"$tmp/err_public"
check "error codes in the header match core/err.h" diff "$tmp/err_internal" "$tmp/err_public"
# WebSocket close codes the header names have ws/ws.h's values.
grep -oE 'SB_WS_CLOSE_[A-Z_]+ = [0-9]+' include/switchboard.h | sort >"$tmp/ws_public"
check "WebSocket close codes in the header match ws/ws.h" \
    bash -c "comm -23 '$tmp/ws_public' <(grep -oE 'SB_WS_CLOSE_[A-Z_]+ = [0-9]+' src/ws/ws.h | sort) | grep . && exit 1 || exit 0"
# Log levels: same names in the same order.
check "log levels in the header match core/log.h" bash -c \
    "diff <(grep -oE 'typedef enum \{ SB_LOG[^}]*\}' include/switchboard.h) <(grep -oE 'typedef enum \{ SB_LOG[^}]*\}' src/core/log.h)"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
