#!/usr/bin/env bash
# What a newcomer's make prints and installs: make run asks only for what
# running needs (scripts/install-deps.sh run), make test for the test tools
# too; build lines are short (make V=1: the commands); make run shows the
# command it runs with its values, no unexpanded ${...}. apt-get and
# dpkg-query are stand-ins on PATH here: nothing is installed.
# Usage: tests/make_check.sh [build/switchboard]. Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
bin=${1:-build/switchboard}
tmp=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
not_ok() { fail=$((fail + 1)); echo "not ok - $1"; }

# Every package missing: what each mode would install.
mkdir -p "$tmp/fake"
printf '#!/bin/sh\nexit 1\n' >"$tmp/fake/dpkg-query"
printf '#!/bin/sh\necho "apt-get $*" >>"%s/apt.log"\n' "$tmp" >"$tmp/fake/apt-get"
chmod +x "$tmp/fake/"*
wants() { : >"$tmp/apt.log"; PATH="$tmp/fake:$PATH" scripts/install-deps.sh "$1" >/dev/null 2>&1; cat "$tmp/apt.log"; }
run_pkgs=$(wants run)
test_pkgs=$(wants test)
if echo "$run_pkgs" | grep -q 'libssl-dev' && ! echo "$run_pkgs" | grep -qE 'clang|python3-socketio|postgresql |chromium'; then
    ok "install-deps.sh run: build and run packages only (npm for the browser client, no test tools)"
else
    not_ok "install-deps.sh run wants: $run_pkgs"
fi
if echo "$test_pkgs" | grep -q clang && echo "$test_pkgs" | grep -q python3-socketio; then
    ok "install-deps.sh test: the test tools too"
else
    not_ok "install-deps.sh test wants: $test_pkgs"
fi
if ! scripts/install-deps.sh bogus >/dev/null 2>&1; then ok "install-deps.sh refuses an unknown mode"; else not_ok "install-deps.sh bogus"; fi
dry_run=$(make -n run 2>&1)
dry_test=$(make -n test 2>&1)
if echo "$dry_run" | grep -q 'install-deps.sh run' && ! echo "$dry_run" | grep -q 'install-deps.sh test'; then
    ok "make run installs with mode run"
else
    not_ok "make run: $(echo "$dry_run" | grep install-deps)"
fi
if echo "$dry_test" | grep -q 'install-deps.sh test'; then ok "make test installs with mode test"; else not_ok "make test"; fi

# Build lines: short by default, whole with V=1.
short=$(make --no-print-directory B="$tmp/b" "$tmp/b/obj/src/core/err.o" 2>&1)
if [ "$short" = "  CC      src/core/err.c" ]; then ok "short build line"; else not_ok "build line: $short"; fi
rm -rf "$tmp/b"
full=$(make --no-print-directory V=1 B="$tmp/b" "$tmp/b/obj/src/core/err.o" 2>&1)
if echo "$full" | grep -q -- '-Wall.*-c src/core/err.c'; then ok "make V=1: the whole command"; else not_ok "V=1: $full"; fi

# make run with a prebuilt binary: the echoed command has its values.
out="$tmp/run.log"
(cd "$tmp" && mkdir -p tree && cp -r "$OLDPWD/Makefile" "$OLDPWD/scripts" "$OLDPWD/include" tree/ && mkdir -p tree/build tree/src &&
    cp "$OLDPWD/$bin" tree/build/switchboard)
(cd "$tmp/tree" && exec env SWITCHBOARD_PORT=0 make --no-print-directory -o all -o run-deps run) >"$out" 2>&1 &
server=$!
for _ in $(seq 100); do grep -q 'listening on' "$out" && break; sleep 0.1; done
if grep -qx 'build/switchboard --port 0 --data-dir ./data --dev' "$out"; then
    ok "make run shows the command it runs"
else
    not_ok "make run printed: $(head -n 3 "$out")"
fi
if ! grep -q '\${' "$out" && grep -q 'listening on 127.0.0.1:' "$out"; then
    ok "make run: no unexpanded \${...}; dev mode on loopback"
else
    not_ok "make run output: $(cat "$out")"
fi
pkill -INT -P "$server" 2>/dev/null
wait "$server" 2>/dev/null
server=
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
