#!/usr/bin/env bash
# Distinct users at scale (issue 17): connect and disconnect storms, idle
# memory per connection, filling a large room, chat into a large room.
# Switchboard with default settings (and with --presence-scope all) side by
# side with Node.js socket.io running the seeds' presence logic
# (bench/peers/sio-chat.mjs: io.emit of user:online on every connect) at the
# sizes where it completes. Writes $RESULTS/storm.jsonl and storm.md.
# Called by run.sh (BENCH_STORM=0 skips it); alone: bench/storm.sh.
# Knobs: BENCH_STORM_USERS (19000), BENCH_STORM_IDLE (60 s),
# BENCH_STORM_PEER_SIZES ("2000 5000"), BENCH_ROOM_SIZE (10000),
# BENCH_ROOM_RATES ("10 100" msgs/s), BENCH_PIN (1), BENCH_STORM_CASES
# (which parts run: "storm peers roomfill roomchat", all by default),
# BENCH_STORM_SERVERS (servers of the 19k storm: "sb sb-all").
# Optional, not in the default cases: "roomchat-veth", the room chat with
# the load generator in its own network namespace over a veth pair (needs
# root; see bench/README.md); BENCH_STORM_PERF=1 profiles the server.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
RESULTS=${BENCH_RESULTS_DIR:-$HERE/results}
mkdir -p "$RESULTS"
PEERS=$HERE/peers
USERS=${BENCH_STORM_USERS:-19000}
IDLE=${BENCH_STORM_IDLE:-60}
PEER_SIZES=${BENCH_STORM_PEER_SIZES:-2000 5000}
ROOM=${BENCH_ROOM_SIZE:-10000}
RATES=${BENCH_ROOM_RATES:-10 100}
SECRET=bench-secret-$$-0123456789abcdefghijkl
OUT=$RESULTS/storm.jsonl
log() { printf '[storm] %s\n' "$*" >&2; }

# shellcheck source=bench/servers.sh
. "$HERE/servers.sh"

SERVER_CPU=
LG_CPU=
if [ "${BENCH_PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
    SERVER_CPU="taskset -c 0"
    LG_CPU="taskset -c 1"
fi

BUILD=${BENCH_BUILD_DIR:-build/bench/release}
make -C "$ROOT" -j2 B="$BUILD" "$BUILD/switchboard" >/dev/null
make -C "$HERE" >/dev/null
mkdir -p "$TMP/bin"
cp "$ROOT/$BUILD/switchboard" "$ROOT/build/bench/loadgen" "$TMP/bin/"
LG=$TMP/bin/loadgen
if [ ! -d "$PEERS/node_modules/socket.io" ]; then
    (cd "$PEERS" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi

SB_HOST=127.0.0.1
LG_WRAP=
server_cmd() {
    local sb="$TMP/bin/switchboard --host $SB_HOST --port 0 --log-level warn --events-per-second 0 --jwt-secret $SECRET --data-dir $TMP/data-$RANDOM"
    case $1 in
    sb) echo "$sb" ;;
    sb-all) echo "$sb --presence-scope all" ;;
    sio-chat) echo "node $PEERS/sio-chat.mjs --host 127.0.0.1 --port 0 --jwt-secret $SECRET" ;;
    esac
}

# BENCH_STORM_PERF=1: perf record -g of the server during each run (a room
# chat: from the end of its setup, the measured part), into
# $RESULTS/perf-CASE-SERVER.data, and where its CPU went (bench/perf_split.py:
# our code, libraries, system calls, softirq) into perf-CASE-SERVER.txt.
PERF_PID=
PERF_OUT=
perf_start() { # NAME [wait]
    [ "${BENCH_STORM_PERF:-0}" = 1 ] || return 0
    PERF_OUT=$RESULTS/perf-$1
    (
        if [ -n "${2:-}" ]; then
            for _ in $(seq 6000); do
                grep -q '^loadgen: setup done' "$TMP/lg.err" 2>/dev/null && break
                sleep 0.1
            done
        fi
        exec perf record -q -F "${BENCH_STORM_PERF_HZ:-999}" -g -p "$SERVER_PID" -o "$PERF_OUT.data"
    ) >/dev/null 2>&1 &
    PERF_PID=$!
    [ -n "${2:-}" ] || sleep 0.5
}
perf_stop() {
    [ -n "$PERF_PID" ] || return 0
    kill -INT "$PERF_PID" 2>/dev/null || true
    wait "$PERF_PID" 2>/dev/null || true
    PERF_PID=
    perf script -F tid,ip,sym,dso -i "$PERF_OUT.data" 2>/dev/null | python3 "$HERE/perf_split.py" \
        >"$PERF_OUT.txt" || true
    sed 's/^/    /' "$PERF_OUT.txt" >&2
}

# The load generator in its own network namespace, over a veth pair with
# private addresses inside this machine: each side's receive processing can
# then run on its own CPU (RPS), where on loopback the sender does the
# receiver's TCP work and is billed for it. Removed on exit.
NETNS=
VETH=
netns_up() {
    NETNS=sbstorm$$
    VETH=sbst$$
    local ns="ip netns exec $NETNS"
    ip netns add "$NETNS"
    ip link add "${VETH}a" type veth peer name "${VETH}b"
    ip link set "${VETH}b" netns "$NETNS"
    ip addr add 10.231.0.1/24 dev "${VETH}a"
    ip link set "${VETH}a" up
    $ns ip addr add 10.231.0.2/24 dev "${VETH}b"
    $ns ip link set "${VETH}b" up
    $ns ip link set lo up
    # BENCH_STORM_RPS=0 leaves each side's receive work to whoever sends
    if [ -n "$SERVER_CPU" ] && [ "${BENCH_STORM_RPS:-1}" = 1 ]; then # the server's: CPU 0, the client's: CPU 1
        echo 1 >"/sys/class/net/${VETH}a/queues/rx-0/rps_cpus"
        $ns sh -c "echo 2 >/sys/class/net/${VETH}b/queues/rx-0/rps_cpus"
    fi
    SB_HOST=10.231.0.1
    LG_WRAP="ip netns exec $NETNS"
}
netns_down() {
    [ -n "$NETNS" ] || return 0
    ip netns del "$NETNS" 2>/dev/null || true # takes the veth pair with it
    NETNS=
    SB_HOST=127.0.0.1
    LG_WRAP=
}
trap 'netns_down; cleanup' EXIT

# run CASE SERVER -- loadgen args
run() {
    local case=$1 sid=$2 line rc=0
    shift 3
    start_server "$sid" || return 0
    : >"$TMP/lg.err"
    local wait=
    [[ " $* " == *" --mode fanout "* ]] && wait=1
    perf_start "$case-$sid" $wait
    # shellcheck disable=SC2086
    line=$($LG_WRAP $LG_CPU "$LG" --host "$SB_HOST" --port "$SERVER_PORT" --server-pid "$SERVER_PID" --label "$sid" --jwt-secret "$SECRET" \
        --max-time 600 --setup-timeout 300 "$@" 2>"$TMP/lg.err") || rc=$?
    perf_stop
    stop_server
    grep -v '^loadgen: step\|^loadgen: setup done' "$TMP/lg.err" | tail -2 | sed 's/^/    /' >&2 || true
    [ -n "$line" ] && [ "${line:0:1}" = "{" ] || line="{\"ok\":false,\"error\":\"loadgen exit $rc\"}"
    echo "{\"case\":\"$case\",\"server\":\"$sid\",${line#\{}" >>"$OUT"
}

procs() { echo $((($1 + 9999) / 10000)); }
CASES=" ${BENCH_STORM_CASES:-storm peers roomfill roomchat} "
want() { [[ $CASES == *" $1 "* ]]; }

: >"$OUT"
if want storm; then
    log "connect/disconnect storm, $USERS distinct users in 2 rooms of 10, ${IDLE} s idle"
    for s in ${BENCH_STORM_SERVERS:-sb sb-all}; do
        idle=$IDLE
        [ "$s" = sb ] || idle=5
        run "storm-$USERS" "$s" -- --mode storm --conns "$USERS" --users "$USERS" --procs "$(procs "$USERS")" --duration "$idle"
    done
fi
want peers || PEER_SIZES=
for n in $PEER_SIZES; do
    for s in sb sb-all sio-chat; do
        log "storm $n users $s"
        run "storm-$n" "$s" -- --mode storm --conns "$n" --users "$n" --duration 5
    done
done
if want roomfill; then
    log "room fill: $ROOM distinct users join one room"
    run "roomfill-$ROOM" sb -- --mode storm --conns "$ROOM" --users "$ROOM" --procs "$(procs "$ROOM")" \
        --room-size "$ROOM" --rooms-per-conn 1 --duration 2
fi
for n in ${PEER_SIZES%% *}; do
    run "roomfill-$n" sb -- --mode storm --conns "$n" --users "$n" --room-size "$n" --rooms-per-conn 1 --duration 2
    run "roomfill-$n" sio-chat -- --mode storm --conns "$n" --users "$n" --room-size "$n" --rooms-per-conn 1 --duration 2
done
want roomchat || RATES=
for r in $RATES; do
    log "chat into a $ROOM-member room at $r msgs/s"
    run "roomchat-$ROOM-$r" sb -- --mode fanout --chat --conns "$ROOM" --users "$ROOM" --room "bench-room" \
        --rate "$r" --step-ms 5000 --duration 5
done

if want roomchat-veth; then
    netns_up
    for r in ${BENCH_ROOM_RATES:-10 100}; do
        log "chat into a $ROOM-member room at $r msgs/s, load generator behind a veth pair"
        run "roomchat-veth-$ROOM-$r" sb -- --mode fanout --chat --conns "$ROOM" --users "$ROOM" \
            --room "bench-room" --rate "$r" --step-ms 5000 --duration 5
    done
    netns_down
fi

node - "$OUT" >"$RESULTS/storm.md" <<'EOF'
const fs = require('fs');
const rows = fs.readFileSync(process.argv[2], 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const f = (v, d = 0) => (typeof v === 'number' && v >= 0 ? v.toFixed(d) : '—');
const out = ['# Distinct users at scale (bench/storm.sh)', ''];
out.push('| case | server | connect wall s | connect CPU ms | CPU ms / 1k connects | idle KiB/conn | idle s | disconnect CPU ms | RSS idle → disconnect peak MiB | events received | ok |');
out.push('|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows.filter((x) => x.mode === 'storm')) {
  out.push(`| ${r.case} | ${r.server} | ${f(r.connect_wall_s, 2)} | ${f(r.connect_cpu_ms)} | ${f(r.connect_cpu_ms_per_1k)} | ${f(r.kb_per_conn_idle, 2)} | ${f(r.idle_s)} | ${f(r.disconnect_cpu_ms)} | ${f(r.rss_idle_kb / 1024, 1)} → ${f(r.rss_disconnect_peak_kb / 1024, 1)} | ${r.events_received ?? '—'} | ${r.ok ? 'yes' : 'no: ' + (r.error || r.aborted || '')} |`);
}
out.push('', '| case | server | deliveries/s | server CPU % | CPU ms / 1k deliveries | p50 ms | p99 ms | lost | ok |', '|---|---|---|---|---|---|---|---|---|');
for (const r of rows.filter((x) => x.mode === 'fanout')) {
  out.push(`| ${r.case} | ${r.server} | ${f(r.peak_deliveries_per_s)} | ${f(r.server_cpu_pct)} | ${f(r.cpu_ms_per_1k, 2)} | ${f(r.p50_us / 1000, 1)} | ${f(r.p99_us / 1000, 1)} | ${r.lost ?? '—'} | ${r.ok ? 'yes' : 'no'} |`);
}
console.log(out.join('\n'));
EOF
cat "$RESULTS/storm.md"
