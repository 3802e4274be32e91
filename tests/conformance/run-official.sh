#!/usr/bin/env bash
# Runs the official Engine.IO and Socket.IO protocol test suites
# (test-suite/ of github.com/socketio/engine.io-protocol and
# github.com/socketio/socket.io-protocol) against examples/conformance.c.
# Not part of `make test`: the suites are fetched separately (see
# docs/compatibility.md).
#
#   tests/conformance/run-official.sh ENGINE_IO_PROTOCOL_DIR SOCKET_IO_PROTOCOL_DIR [RUNS]
#
# Each DIR is a checkout of one protocol repository; its test-suite/ gets
# `npm ci` the first time. The suites hard-code http://localhost:3000: the
# script runs a copy of each suite file pointed at a free loopback port.
# Prints one line per run and suite and a total; exits non-zero when any
# test failed. SB_BUILD_DIR (default build) picks the build to test;
# SB_OFFICIAL_TARGET=ref runs the suites against the Node reference instead
# (tests/conformance/reference.mjs, socket.io from tests/e2e/node_modules).
set -euo pipefail

usage() { echo "usage: $0 ENGINE_IO_PROTOCOL_DIR SOCKET_IO_PROTOCOL_DIR [RUNS]" >&2; exit 2; }
[ $# -ge 2 ] || usage
EIO_DIR=$(cd "$1" && pwd)/test-suite
SIO_DIR=$(cd "$2" && pwd)/test-suite
RUNS=${3:-1}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${SB_BUILD_DIR:-build}
[ -f "$EIO_DIR/test-suite.js" ] && [ -f "$SIO_DIR/test-suite.js" ] || usage

if [ "${SB_OFFICIAL_TARGET:-}" = ref ]; then
    SERVER=(node "$ROOT/tests/conformance/reference.mjs")
else
    make -C "$ROOT" --no-print-directory B="$BUILD" "$BUILD/examples/conformance" >/dev/null
    SERVER=("$ROOT/$BUILD/examples/conformance" --host 127.0.0.1 --ping-interval 300 --ping-timeout 200
            --connect-timeout 1000 --max-http-buffer-size 1000000 --cors-origins '*' --log-level warn)
fi
for d in "$EIO_DIR" "$SIO_DIR"; do
    [ -d "$d/node_modules" ] || (cd "$d" && npm ci --no-audit --no-fund >/dev/null)
done

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

SERVER_PID=
COPIES=()
LOG=$(mktemp)
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    rm -f "${COPIES[@]}" "$LOG"
}
trap cleanup EXIT

start_server() {
    local port=$1
    "${SERVER[@]}" --port "$port" 2>>"$LOG" &
    SERVER_PID=$!
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "conformance server did not start; its log:" >&2
    cat "$LOG" >&2
    exit 1
}

# run_suite DIR PORT -> prints "passing failing"
run_suite() {
    local dir=$1 port=$2 copy out
    copy="$dir/.sb-run-$$-$port.js"
    COPIES+=("$copy")
    sed "s#http://localhost:3000#http://127.0.0.1:$port#" "$dir/test-suite.js" >"$copy"
    out=$(cd "$dir" && npx --no-install mocha --reporter dot "$copy" 2>&1 || true)
    rm -f "$copy"
    local pass fail
    pass=$(grep -oE '[0-9]+ passing' <<<"$out" | grep -oE '[0-9]+' || echo 0)
    fail=$(grep -oE '[0-9]+ failing' <<<"$out" | grep -oE '[0-9]+' || echo 0)
    if [ "$fail" != 0 ] || [ "$pass" = 0 ]; then
        echo "$out" | sed -n '/failing/,$p' | head -60 >&2
    fi
    echo "$pass $fail"
}

total_pass=0 total_fail=0
for run in $(seq "$RUNS"); do
    port=$(free_port)
    start_server "$port"
    read -r ep ef < <(run_suite "$EIO_DIR" "$port")
    read -r sp sf < <(run_suite "$SIO_DIR" "$port")
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
    if grep -qE 'Sanitizer|runtime error:' "$LOG"; then # an ASan/UBSan build reported an error
        grep -E -A20 'Sanitizer|runtime error:' "$LOG" | head -40 >&2
        ef=$((ef + 1))
    fi
    : >"$LOG"
    echo "run $run: engine.io $ep passed $ef failed; socket.io $sp passed $sf failed;" \
         "$((ep + sp))/$((ep + ef + sp + sf)) (load $(cut -d' ' -f1-3 /proc/loadavg))"
    total_pass=$((total_pass + ep + sp)) total_fail=$((total_fail + ef + sf))
done
echo "official suites: $total_pass passed, $total_fail failed over $RUNS run(s)"
[ "$total_fail" = 0 ]
