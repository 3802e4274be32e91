#!/usr/bin/env bash
# Benchmark smoke test for `make test` (~20 s): builds the load generator,
# runs each mode briefly against build/examples/sio_echo, build/examples/ws_echo
# and build/switchboard (and the raw pub/sub peer bench/peers/raw.mjs when its
# Node.js packages are installed), and checks the load generator's correctness counters
# (no errors, no loss, no duplicates, in order, at least one message per
# connection). It asserts correctness only, never a speed.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
B=${1:-$ROOT/build}
LG=$ROOT/build/bench/loadgen
SECRET=smoke-secret-$$-0123456789abcdefghijkl
APIKEY=smoke-api-key-$$
TMP=$(mktemp -d /tmp/sb-bench-smoke.XXXXXX)
PIDS=()
pass=0
fail=0

cleanup() {
    local p
    for p in "${PIDS[@]:-}"; do
        [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]:-}"; do
        [ -n "$p" ] && wait "$p" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

if ! make -C "$HERE" >"$TMP/build.log" 2>&1; then
    cat "$TMP/build.log"
    echo "bench smoke: loadgen build failed"
    echo "0 passed, 1 failed"
    exit 1
fi
for bin in "$B/examples/sio_echo" "$B/examples/ws_echo" "$B/switchboard"; do
    [ -x "$bin" ] || make -C "$ROOT" -j2 >/dev/null
done

# start NAME CMD...: starts a server on a free port; sets PORT_<NAME>, PID_<NAME>.
# The Switchboard servers run without a per-socket event rate limit (the load
# generator is no chat client); the Node.js peer ignores flags it does not know.
start() {
    local name=$1 logf=$TMP/$1.log i
    shift
    : >"$logf" # exists before the first grep below, whoever wins the race
    "$@" --host 127.0.0.1 --port 0 --log-level warn --events-per-second 0 2>"$logf" >/dev/null &
    local pid=$!
    PIDS+=("$pid")
    for i in $(seq 100); do
        grep -q 'listening on' "$logf" && break
        sleep 0.05
    done
    printf -v "PID_$name" '%s' "$pid"
    printf -v "PORT_$name" '%s' "$(grep -o 'listening on [0-9.]*:[0-9]*' "$logf" | head -1 | sed 's/.*://')"
}

field() { grep -o "\"$2\":[^,}]*" <<<"$1" | head -1 | cut -d: -f2 | tr -d '"'; }

# check NAME JSON CONDITION...: each condition is "field op value".
check() {
    local name=$1 json=$2 ok=1 cond f op v got
    shift 2
    if [ -z "$json" ]; then
        ok=0
        echo "  $name: no result from the load generator"
    fi
    for cond in "$@"; do
        [ "$ok" = 1 ] || break
        read -r f op v <<<"$cond"
        got=$(field "$json" "$f")
        got=${got%%.*}
        if [ -z "$got" ] || ! [ "$got" "$op" "$v" ]; then
            ok=0
            echo "  $name: expected $f $op $v, got '${got}'"
        fi
    done
    if [ "$ok" = 1 ]; then
        pass=$((pass + 1))
        echo "ok   $name"
    else
        fail=$((fail + 1))
        echo "FAIL $name: $json"
    fi
}

lg() { "$LG" --quiet --max-time 20 "$@" 2>>"$TMP/lg.err"; }

start echo "$B/examples/sio_echo" --events-per-second 0
start ws "$B/examples/ws_echo"
start main "$B/switchboard" --events-per-second 0 --jwt-secret "$SECRET" --data-dir "$TMP/data" \
    --api-key "$APIKEY"

clean=("errors -eq 0" "bad -eq 0" "ok = true")

r=$(lg --port "$PORT_echo" --server-pid "$PID_echo" --mode echo --conns 20 --duration 2 --warmup 0.5)
check "echo sio 20 conns" "$r" "${clean[@]}" "connected -eq 20" "min_per_conn -ge 1" "msgs -gt 0"

r=$(lg --port "$PORT_ws" --server-pid "$PID_ws" --mode echo --proto ws --conns 20 --duration 1 --warmup 0.5)
check "echo ws 20 conns" "$r" "${clean[@]}" "connected -eq 20" "min_per_conn -ge 1" "msgs -gt 0"

r=$(lg --port "$PORT_echo" --server-pid "$PID_echo" --mode fanout --conns 50 --publishers 2 --rate 200 \
    --step-ms 2000 --duration 2)
check "fanout sio 50 subscribers" "$r" "${clean[@]}" "subscribers_joined -eq 50" "lost -eq 0" "dup -eq 0" \
    "out_of_order -eq 0" "min_per_conn -ge 1" "published -gt 0"
pub=$(field "$r" published)
check "fanout delivered every publish to every subscriber" "$r" "deliveries -eq $((${pub:-0} * 50))"

r=$(lg --port "$PORT_echo" --server-pid "$PID_echo" --mode burst --conns 50 --burst 64 --duration 1 --warmup 0.5)
check "burst sio 50 subscribers x 64" "$r" "${clean[@]}" "lost -eq 0" "dup -eq 0" "out_of_order -eq 0" \
    "min_per_conn -ge 64"

r=$(lg --port "$PORT_main" --server-pid "$PID_main" --mode connect --conns 8 --jwt-secret "$SECRET" --duration 2 \
    --warmup 0.5)
check "connect with JWT" "$r" "${clean[@]}" "handshake_failures -eq 0" "msgs -gt 0"

r=$(lg --port "$PORT_main" --server-pid "$PID_main" --mode idle --conns 200 --rooms 20 --procs 2 \
    --jwt-secret "$SECRET" --duration 1)
check "idle 200 conns joined with JWT" "$r" "${clean[@]}" "joined -eq 200" "rss_after_kb -gt 0"

# The server's store requests: one append per message, one per confirmed delivery.
store_requests() {
    curl -s -H "authorization: Bearer $APIKEY" "http://127.0.0.1:$PORT_main/metrics" |
        sed -n 's/^switchboard_store_requests_total //p'
}
req0=$(store_requests)
r=$(lg --port "$PORT_main" --server-pid "$PID_main" --mode send --conns 20 --jwt-secret "$SECRET" --duration 1 \
    --warmup 0.5)
check "send: 20 senders, stored and acknowledged (bench/store.mjs)" "$r" "${clean[@]}" "ack_errors -eq 0" \
    "min_per_conn -ge 1" "msgs -gt 0" "confirmed -gt 0"
# The receivers' confirmations reach the server (they once went out as
# Engine.IO pongs, and the bench measured no confirmation at all): more
# store requests than acknowledged messages by at least half the confirmations.
sleep 0.3 # the last confirmations' batch
confirms=$(($(store_requests) - req0 - $(field "$r" acked_total)))
check "send: the receivers' confirmations are store requests" "{\"confirms\":$confirms}" \
    "confirms -ge $(($(field "$r" confirmed) / 2))"

r=$(lg --port "$PORT_main" --mode send --conns 2 --payload 200000 --jwt-secret "$SECRET" --duration 1 --warmup 0)
check "send: refused messages are counted as error answers, not as acked" "$r" "ack_errors -gt 0" "msgs -eq 0"

r=$(lg --port "$PORT_main" --mode connect --conns 2 --jwt-secret wrong-secret --duration 1 --warmup 0)
check "a bad JWT is refused (the loadgen counts it)" "$r" "handshake_failures -gt 0" "msgs -eq 0"

# The 100k cluster mode (bench/cluster100k.sh) in miniature: two
# switchboard processes sharing a port over a real redis-server, 200
# authenticated connections in 2 rooms from 2 load-generator processes,
# broadcasts through /api/emit to a room spread over both and to everyone:
# every delivery counted, none to a non-member.
if command -v redis-server >/dev/null; then
    rport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --protected-mode no \
        --loglevel warning >"$TMP/redis.log" 2>&1 &
    PIDS+=("$!")
    for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
    cport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    cpids=
    for i in 1 2; do
        : >"$TMP/node$i.log"
        "$B/switchboard" --host 127.0.0.1 --port "$cport" --reuse-port --handoff-dir "$TMP/handoff" \
            --redis-url "redis://127.0.0.1:$rport" --jwt-secret "$SECRET" --api-key smoke-key \
            --data-dir "$TMP/node$i" --events-per-second 0 --log-level warn 2>"$TMP/node$i.log" >/dev/null &
        PIDS+=("$!")
        cpids=${cpids:+$cpids,}$!
        for _ in $(seq 100); do grep -q 'listening on' "$TMP/node$i.log" && break; sleep 0.05; done
    done
    sleep 0.5 # both subscribed to Redis
    r=$(lg --port "$cport" --server-pid "$cpids" --mode bcast --conns 200 --users 200 --procs 2 \
        --wide-size 50 --broadcasts 5 --broadcasts-all 1 --jwt-secret "$SECRET" --api-key smoke-key \
        --duration 0.5)
    check "bcast: 200 users on 2 clustered processes, broadcasts to a room and to all" "$r" \
        "errors -eq 0" "bad -eq 0" "ok = true" "joined -eq 200" "room_complete -eq 5" "all_complete -eq 1" \
        "lost -eq 0" "dup -eq 0" "deliveries -eq 450" "kb_per_conn_idle -ge 0"
else
    echo "skip bcast (redis-server missing)"
fi

# The raw pub/sub peer that make bench compares fanout and bursts against
# (uWebSockets.js when its native build loads, else the `ws` package): the
# load generator's raw-WebSocket "sub"/"pub" path must count every delivery.
PEERS=$HERE/peers
if command -v node >/dev/null && [ -d "$PEERS/node_modules/ws" ]; then
    engine=ws
    (cd "$PEERS" && node -e "process.exit(typeof require('@trufflesuite/uws-js-unofficial').SSLApp==='function'?0:3)") \
        2>/dev/null && engine=uws
    start raw node "$PEERS/raw.mjs" --engine "$engine"
    r=$(lg --port "$PORT_raw" --server-pid "$PID_raw" --mode fanout --proto ws --conns 50 --publishers 2 --rate 200 \
        --step-ms 2000 --duration 2)
    check "fanout ws 50 subscribers (raw $engine pub/sub)" "$r" "${clean[@]}" "subscribers_joined -eq 50" "lost -eq 0" \
        "dup -eq 0" "out_of_order -eq 0" "min_per_conn -ge 1" "published -gt 0"
    pub=$(field "$r" published)
    check "fanout ws delivered every publish to every subscriber" "$r" "deliveries -eq $((${pub:-0} * 50))"
    r=$(lg --port "$PORT_raw" --server-pid "$PID_raw" --mode burst --proto ws --conns 50 --burst 64 --duration 1 \
        --warmup 0.5)
    check "burst ws 50 subscribers x 64 (raw $engine pub/sub)" "$r" "${clean[@]}" "lost -eq 0" "dup -eq 0" \
        "out_of_order -eq 0" "min_per_conn -ge 64"
else
    echo "skip raw pub/sub peer (node or bench/peers/node_modules missing)"
fi

if [ "$fail" -gt 0 ] && [ -s "$TMP/lg.err" ]; then
    echo "load generator messages:"
    head -20 "$TMP/lg.err"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
