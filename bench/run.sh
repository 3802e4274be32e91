#!/usr/bin/env bash
# The side-by-side benchmark (`make bench`): every mode against Switchboard
# and the Node.js peers, interleaved and repeated; medians and ratios go to
# bench/results/latest.{json,md} and bar charts to bench/results/*.svg
# (BENCH_RESULTS_DIR=/tmp/x writes them there instead: test runs must not
# overwrite the committed results). Method and knobs: bench/README.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
RESULTS=${BENCH_RESULTS_DIR:-$HERE/results}
mkdir -p "$RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)
LG=$ROOT/build/bench/loadgen
PEERS=$HERE/peers

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
    REPEAT=${BENCH_REPEAT:-1}
    ECHO_CONNS=${BENCH_ECHO_CONNS:-100}
    FANOUT_SUBS=${BENCH_FANOUT_SUBS:-1000}
    IDLE_CONNS=${BENCH_IDLE_CONNS:-2000}
    DURATION=${BENCH_DURATION:-2}
    FANOUT_BUDGET=${BENCH_FANOUT_BUDGET:-10}
else
    REPEAT=${BENCH_REPEAT:-3}
    ECHO_CONNS=${BENCH_ECHO_CONNS:-100 1000}
    FANOUT_SUBS=${BENCH_FANOUT_SUBS:-1000 10000}
    IDLE_CONNS=${BENCH_IDLE_CONNS:-19000}
    DURATION=${BENCH_DURATION:-4}
    FANOUT_BUDGET=${BENCH_FANOUT_BUDGET:-18}
fi
PAYLOAD=${BENCH_PAYLOAD:-32}
BURST=${BENCH_BURST:-128}
FIXED_DPS=${BENCH_FIXED_DPS:-40000}
# Burst runs at these subscriber counts only: 128 publishes to 10,000
# subscribers is 1.28 M deliveries per burst, ~40 s for the Node.js peers.
BURST_SUBS=${BENCH_BURST_SUBS:-${FANOUT_SUBS%% *}}
CONNECT_CONC=${BENCH_CONNECT_CONC:-32}
IDLE_ROOM_SIZE=${BENCH_IDLE_ROOM_SIZE:-10}
IDLE_HOLD=${BENCH_IDLE_HOLD:-3}
PIN=${BENCH_PIN:-1}
# Raw-WebSocket pub/sub peers for the fanout and burst cases (the issue 4
# baseline): raw uWS.js by default. The `ws` package has no pub/sub (raw.mjs
# loops over a Set), is ~10x slower than uWS.js and would add ~3 minutes, so
# it only runs with BENCH_WS_PUBSUB="uws-raw ws-raw" (or the older
# BENCH_WS_FANOUT=1); BENCH_WS_PUBSUB=none (or BENCH_WS_FANOUT=0) runs neither.
case ${BENCH_WS_FANOUT:-} in
1) WS_PUBSUB_DEFAULT="uws-raw ws-raw" ;;
0) WS_PUBSUB_DEFAULT=none ;;
*) WS_PUBSUB_DEFAULT=uws-raw ;;
esac
WS_PUBSUB=${BENCH_WS_PUBSUB:-$WS_PUBSUB_DEFAULT}
[ "$WS_PUBSUB" = none ] && WS_PUBSUB=
SECRET=bench-secret-$$-0123456789abcdefghijkl
# Which servers to run (space-separated ids; default all that work here).
ONLY=${BENCH_SERVERS:-}

log() { printf '[bench] %s\n' "$*" >&2; }

# ---- processes: every server we start is tracked by PID and always killed ----

# shellcheck source=bench/servers.sh
. "$HERE/servers.sh"

SERVER_CPU=
LG_CPU=
PINNED=false
if [ "$PIN" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
    SERVER_CPU="taskset -c 0"
    LG_CPU="taskset -c 1"
    PINNED=true
fi
# BENCH_SCHED=nice runs both sides at nice -10 (as root), which helps a little
# when other work shares the box. Real-time policies are not offered: under
# SCHED_FIFO Node's helper threads cannot time-share with its event loop and
# the kernel's RT throttling adds 50 ms stalls, which distorts the comparison.
SCHED=${BENCH_SCHED:-none}
PRIO=
if [ "$SCHED" = nice ] && [ "$(id -u)" = 0 ]; then
    PRIO="nice -n -10"
else
    SCHED=none
fi
SERVER_CPU="$SERVER_CPU $PRIO"
LG_CPU="$LG_CPU $PRIO"
QUIET_WAIT=${BENCH_QUIET_WAIT:-30}

server_cmd() {
    # No per-socket event rate limit: the load generator sends far more than
    # a chat client would, and every server must be measured unthrottled.
    local sb="--host 127.0.0.1 --port 0 --log-level warn --events-per-second 0"
    case $1 in
    sb-echo) echo "$BIN/sio_echo $sb" ;;
    sb-main) echo "$BIN/switchboard $sb --jwt-secret $SECRET --data-dir $TMP/data" ;;
    sb-ws) echo "$BIN/ws_echo $sb" ;;
    sio-echo) echo "node $PEERS/sio-echo.mjs --host 127.0.0.1 --port 0" ;;
    sio-uws-echo) echo "node $PEERS/sio-echo.mjs --host 127.0.0.1 --port 0 --engine uws" ;;
    sio-chat) echo "node $PEERS/sio-chat.mjs --host 127.0.0.1 --port 0 --jwt-secret $SECRET" ;;
    sio-uws-chat) echo "node $PEERS/sio-chat.mjs --host 127.0.0.1 --port 0 --jwt-secret $SECRET --engine uws" ;;
    uws-raw) echo "node $PEERS/raw.mjs --host 127.0.0.1 --port 0 --engine uws" ;;
    ws-raw) echo "node $PEERS/raw.mjs --host 127.0.0.1 --port 0 --engine ws" ;;
    esac
}

# Percent of both CPUs busy over 0.3 s before a run: anything else running
# on the box (builds, fuzzers) skews every number, so it is recorded.
machine_busy() {
    local a b
    read -r _ a1 a2 a3 a4 a5 a6 a7 _ < /proc/stat
    sleep 0.3
    read -r _ b1 b2 b3 b4 b5 b6 b7 _ < /proc/stat
    a=$((a1 + a2 + a3 + a6 + a7)); b=$((b1 + b2 + b3 + b6 + b7))
    local idle=$((b4 + b5 - a4 - a5)) busy=$((b - a))
    echo $((100 * busy / (busy + idle + 1)))
}

# ---- one measurement ----------------------------------------------------------

RAW=$RESULTS/latest.jsonl

# run_case CASE SERVER REP -- loadgen args...
run_case() {
    local case=$1 sid=$2 rep=$3
    shift 4
    local busy line rc=0 waited=0
    busy=$(machine_busy)
    # Other work on the box skews every figure: give it a chance to finish.
    while [ "$busy" -gt 20 ] && [ "$waited" -lt "$QUIET_WAIT" ]; do
        [ "$waited" = 0 ] && log "machine ${busy}% busy with other work; waiting up to ${QUIET_WAIT}s"
        sleep 2
        waited=$((waited + 2))
        busy=$(machine_busy)
    done
    if ! start_server "$sid"; then
        echo "{\"case\":\"$case\",\"server\":\"$sid\",\"rep\":$rep,\"ok\":false,\"error\":\"server did not start\"}" >>"$RAW"
        return 0
    fi
    # shellcheck disable=SC2086
    line=$($LG_CPU "$LG" --port "$SERVER_PORT" --server-pid "$SERVER_PID" --label "$sid" --quiet "$@" \
        2>"$TMP/lg.err") || rc=$?
    stop_server
    grep -v '^loadgen: step' "$TMP/lg.err" | tail -3 | sed 's/^/    /' >&2 || true
    if [ -z "$line" ] || [ "${line:0:1}" != "{" ]; then
        line="{\"ok\":false,\"error\":\"loadgen exit $rc\"}"
    fi
    echo "{\"case\":\"$case\",\"server\":\"$sid\",\"rep\":$rep,\"busy_pct\":$busy,${line#\{}" >>"$RAW"
}

# ---- preparation -----------------------------------------------------------------

# A private release build (B=build/bench/release), copied to $TMP: other work
# on the tree (a `make clean`, a rebuild) cannot swap a binary mid-run.
BUILD=${BENCH_BUILD_DIR:-build/bench/release}
log "building the servers (make -C $ROOT -j2 B=$BUILD) and the load generator"
make -C "$ROOT" -j2 B="$BUILD" "$BUILD/switchboard" "$BUILD/examples/sio_echo" "$BUILD/examples/ws_echo" >/dev/null
make -C "$HERE" >/dev/null
BIN=$TMP/bin
mkdir -p "$BIN"
cp "$ROOT/$BUILD/switchboard" "$ROOT/$BUILD/examples/sio_echo" "$ROOT/$BUILD/examples/ws_echo" "$LG" "$BIN/"
LG=$BIN/loadgen

if [ ! -d "$PEERS/node_modules/socket.io" ] || [ "$PEERS/package.json" -nt "$PEERS/node_modules" ]; then
    log "installing the Node.js peers (npm install in bench/peers)"
    (cd "$PEERS" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi
UWS_OK=1
if ! (cd "$PEERS" && node -e "const u=require('@trufflesuite/uws-js-unofficial'); process.exit(typeof u.SSLApp==='function'?0:3)") 2>/dev/null; then
    UWS_OK=0
    log "uWebSockets.js native build not usable with $(node --version): skipping the uWS peers"
fi

if ! command -v gnuplot >/dev/null; then
    log "installing gnuplot-nox for the charts"
    (apt-get install -y -qq gnuplot-nox >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq gnuplot-nox >/dev/null 2>&1; }) || log "gnuplot not available: no charts"
fi

: >"$RAW"

SIO_ECHO="sb-echo sio-echo"
SIO_CHAT="sb-main sio-chat"
RAW_WS="sb-ws ws-raw"
if [ "$UWS_OK" = 1 ]; then
    SIO_ECHO="$SIO_ECHO sio-uws-echo"
    SIO_CHAT="$SIO_CHAT sio-uws-chat"
    RAW_WS="sb-ws uws-raw ws-raw"
else
    WS_PUBSUB=${WS_PUBSUB//uws-raw/}
fi
pick() {
    local s out=
    for s in $1; do
        if [ -z "$ONLY" ] || [[ " $ONLY " == *" $s "* ]]; then out="$out $s"; fi
    done
    echo "$out"
}

common=(--payload "$PAYLOAD" --duration "$DURATION" --warmup 1)
idle_procs=$(((IDLE_CONNS + 9999) / 10000))
idle_rooms=$(((IDLE_CONNS + IDLE_ROOM_SIZE - 1) / IDLE_ROOM_SIZE))
start=$(date +%s)
log "matrix: repeat=$REPEAT echo=[$ECHO_CONNS] fanout=[$FANOUT_SUBS] burst=[$BURST_SUBS] ws-pubsub=[$(pick "$WS_PUBSUB")] idle=$IDLE_CONNS payload=$PAYLOAD duration=${DURATION}s pinned=$PINNED sched=$SCHED"

for rep in $(seq "$REPEAT"); do
    log "---- repetition $rep of $REPEAT ($(($(date +%s) - start)) s so far)"
    for n in $ECHO_CONNS; do
        for s in $(pick "$SIO_ECHO"); do
            log "echo sio conns=$n $s"
            run_case "echo-sio-$n" "$s" "$rep" -- --mode echo --conns "$n" "${common[@]}"
        done
        for s in $(pick "$RAW_WS"); do
            log "echo ws conns=$n $s"
            run_case "echo-ws-$n" "$s" "$rep" -- --mode echo --proto ws --conns "$n" "${common[@]}"
        done
    done
    for n in $FANOUT_SUBS; do
        fanout_args=(--mode fanout --conns "$n" --publishers 2 --payload "$PAYLOAD" --duration "$FANOUT_BUDGET" --step-ms 1000)
        for s in $(pick "$SIO_ECHO"); do
            log "fanout sio subscribers=$n $s"
            run_case "fanout-sio-$n" "$s" "$rep" -- "${fanout_args[@]}"
        done
        # The raw pub/sub baseline (same ramp, same publishers, raw WebSocket
        # "pub"/"sub" text messages to bench/peers/raw.mjs): report.mjs puts
        # it next to the Socket.IO servers in the fanout-sio-N table.
        for s in $(pick "$WS_PUBSUB"); do
            log "fanout ws subscribers=$n $s"
            run_case "fanout-ws-$n" "$s" "$rep" -- "${fanout_args[@]}" --proto ws
        done
        # The same load for every server (below the slowest one's capacity):
        # latency and CPU per delivery compared like for like.
        for s in $(pick "$SIO_ECHO"); do
            log "fanout sio subscribers=$n fixed ${FIXED_DPS} deliveries/s $s"
            run_case "fixedrate-sio-$n" "$s" "$rep" -- --mode fanout --conns "$n" --publishers 2 \
                --payload "$PAYLOAD" --rate "$(awk -v d="$FIXED_DPS" -v n="$n" 'BEGIN{printf "%.3f", d/n}')" \
                --step-ms "$((DURATION * 1000))" --duration "$DURATION"
        done
        if [[ " $BURST_SUBS " == *" $n "* ]]; then
            for s in $(pick "$SIO_ECHO"); do
                log "burst sio subscribers=$n burst=$BURST $s"
                run_case "burst-sio-$n" "$s" "$rep" -- --mode burst --conns "$n" --burst "$BURST" "${common[@]}"
            done
            for s in $(pick "$WS_PUBSUB"); do
                log "burst ws subscribers=$n burst=$BURST $s"
                run_case "burst-ws-$n" "$s" "$rep" -- --mode burst --proto ws --conns "$n" --burst "$BURST" "${common[@]}"
            done
        fi
    done
    for s in $(pick "$SIO_CHAT"); do
        log "connect sio concurrency=$CONNECT_CONC $s"
        run_case "connect-sio-$CONNECT_CONC" "$s" "$rep" -- --mode connect --conns "$CONNECT_CONC" \
            --jwt-secret "$SECRET" "${common[@]}"
    done
    for s in $(pick "$SIO_CHAT"); do
        log "idle sio conns=$IDLE_CONNS rooms=$idle_rooms $s"
        run_case "idle-sio-$IDLE_CONNS" "$s" "$rep" -- --mode idle --conns "$IDLE_CONNS" --rooms "$idle_rooms" \
            --procs "$idle_procs" --jwt-secret "$SECRET" --duration "$IDLE_HOLD" --setup-timeout 120
    done
done

log "done in $(($(date +%s) - start)) s; writing the report"
node "$HERE/report.mjs" "$RAW" "$RESULTS" \
    "{\"repeat\":$REPEAT,\"quick\":$QUICK,\"payload\":$PAYLOAD,\"duration_s\":$DURATION,\"burst\":$BURST,\"pinned\":$PINNED,\"node\":\"$(node --version)\",\"uws\":$([ "$UWS_OK" = 1 ] && echo true || echo false),\"idle_room_size\":$IDLE_ROOM_SIZE,\"connect_concurrency\":$CONNECT_CONC,\"sched\":\"$SCHED\",\"ws_pubsub\":\"$(pick "$WS_PUBSUB" | xargs)\"}"
cat "$RESULTS/latest.md"
if [ "${BENCH_STORM:-1}" = 1 ] && [ "$QUICK" != 1 ]; then
    log "distinct users at scale: bench/storm.sh"
    BENCH_RESULTS_DIR=$RESULTS BENCH_BUILD_DIR=$BUILD "$HERE/storm.sh"
fi
