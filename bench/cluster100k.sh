#!/usr/bin/env bash
# Issue 12's cluster benchmark at scale: N authenticated Socket.IO
# connections (100,000 by default, distinct users, each in 2 rooms) held by
# several load-generator processes (each under the 20,000 open files a
# process may have) against P `switchboard --reuse-port --redis-url`
# processes on one port (6 by default) over one redis-server started here;
# then the same against P Node.js socket.io processes with
# @socket.io/redis-adapter (bench/peers/sio-chat-cluster.mjs), bounded in
# memory and time; then, in the same run, bench/cluster.sh's fanout to 1,000
# and 10,000 subscribers on P processes of each kind.
#
# Per 100k run (loadgen --mode bcast, bench/lg_bcast.c): the servers' RSS
# summed before the first connection and after an idle hold with heartbeats
# on, per connection; then broadcasts one at a time through POST /api/emit
# (a fresh HTTP connection each, so they start on any node) to a room of
# --wide-size members spread over the nodes, then to everyone: p50/p99 of the
# time until the last member got one, and every delivery counted.
#
# Writes $RESULTS/cluster-100k.jsonl and cluster-100k.md. Knobs:
# BENCH_C100K_CONNS (100000), BENCH_C100K_PROCS (6), BENCH_C100K_IDLE (30 s
# idle hold), BENCH_C100K_BROADCASTS (200 to the room), BENCH_C100K_ALL (10
# to everyone), BENCH_C100K_WIDE (100 members in the broadcast room),
# BENCH_C100K_NODE ("1": also the Node.js cluster at the same size; "0"
# skips it), BENCH_C100K_SERVERS ("sb node": which 100k runs), BENCH_C100K_NODE_SETUP (240 s to connect before it is
# stopped), BENCH_C100K_NODE_MAX_MB (8192: the Node.js cluster is stopped
# past this RSS), BENCH_C100K_FANOUT_SUBS ("1000 10000"; "" skips the
# fanout), BENCH_FANOUT_BUDGET (12 s per fanout run).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
RESULTS=${BENCH_RESULTS_DIR:-$HERE/results}
CONNS=${BENCH_C100K_CONNS:-100000}
PROCS=${BENCH_C100K_PROCS:-6}
IDLE=${BENCH_C100K_IDLE:-30}
BCASTS=${BENCH_C100K_BROADCASTS:-200}
BALL=${BENCH_C100K_ALL:-10}
WIDE=${BENCH_C100K_WIDE:-100}
NODE_RUN=${BENCH_C100K_NODE:-1}
SERVERS=${BENCH_C100K_SERVERS:-sb node}
NODE_SETUP=${BENCH_C100K_NODE_SETUP:-240}
NODE_MAX_MB=${BENCH_C100K_NODE_MAX_MB:-8192}
FANOUT_SUBS=${BENCH_C100K_FANOUT_SUBS-1000 10000}
SECRET=bench-secret-$$-0123456789abcdefghijkl
KEY=bench-key-$$
log() { echo "cluster-100k: $*" >&2; }
# shellcheck source=bench/servers.sh
source "$HERE/servers.sh"

# shellcheck source=bench/cluster-lib.sh
source "$HERE/cluster-lib.sh"
cluster_build switchboard
start_redis
mkdir -p "$RESULTS"
HZ=$(getconf CLK_TCK)

# start_group sb|node PORT: P processes on PORT, their PIDs in GROUP.
start_group() {
    local kind=$1 port=$2 i
    GROUP=()
    : >"$TMP/group.log"
    if [ "$kind" = sb ]; then
        for i in $(seq "$PROCS"); do
            "$BIN/switchboard" --host 127.0.0.1 --port "$port" --reuse-port --handoff-dir "$TMP/handoff" \
                --redis-url "$REDIS_URL" --jwt-secret "$SECRET" --api-key "$KEY" --data-dir "$TMP/data-$i" \
                --events-per-second 0 --log-level warn 2>>"$TMP/group.log" >/dev/null &
            GROUP+=($!)
        done
    else
        node "$HERE/peers/sio-chat-cluster.mjs" --host 127.0.0.1 --port "$port" --workers "$PROCS" \
            --redis "$REDIS_URL" --jwt-secret "$SECRET" --api-key "$KEY" 2>>"$TMP/group.log" >/dev/null &
        GROUP+=($!)
    fi
    PIDS+=("${GROUP[@]}")
    group_started "$PROCS" "$kind"
    sleep 2 # every process subscribed to Redis, its first heartbeat written
}

OUT=$RESULTS/cluster-100k.jsonl
: >"$OUT"
LG_PROCS=$(((CONNS + 14999) / 15000))

# run_100k sb|node: the bcast run against a fresh group; one line in $OUT.
run_100k() {
    local kind=$1 port line setup=300 r0 r1 load at watchdog=
    port=$(free_port)
    redis-cli -p "$RPORT" flushall >/dev/null
    log "$kind: $PROCS processes, $CONNS connections from $LG_PROCS load generators"
    start_group "$kind" "$port"
    if [ "$kind" = node ]; then
        setup=$NODE_SETUP
        # Past the memory bound the Node.js cluster is stopped: the loadgen
        # then reports what it reached.
        (while sleep 1; do
            [ "$(rss_kb "${GROUP[@]}")" -le $((NODE_MAX_MB * 1024)) ] && continue
            echo "over $NODE_MAX_MB MiB" >"$TMP/node.capped"
            for p in "${GROUP[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
            break
        done) &
        watchdog=$!
        PIDS+=("$watchdog")
    fi
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    at=$(date -u +%H:%M:%S)
    r0=$(ticks "$REDIS_PID")
    line=$(timeout $((setup + IDLE + 600)) "$BIN/loadgen" --port "$port" --mode bcast --label "$kind" --quiet \
        --server-pid "$(IFS=,; echo "${GROUP[*]}")" --jwt-secret "$SECRET" --api-key "$KEY" \
        --conns "$CONNS" --users "$CONNS" --procs "$LG_PROCS" --room-size 10 --wide-size "$WIDE" \
        --broadcasts "$BCASTS" --broadcasts-all "$BALL" --duration "$IDLE" \
        --setup-timeout "$setup" --max-time $((setup + IDLE + 500)) 2>"$TMP/lg.err") || true
    r1=$(ticks "$REDIS_PID")
    if [ -n "$watchdog" ]; then
        kill "$watchdog" 2>/dev/null || true
        wait "$watchdog" 2>/dev/null || true
    fi
    tail -3 "$TMP/lg.err" | sed 's/^/    /' >&2
    stop_group
    [ "${line:0:1}" = "{" ] || line='{"ok":false}'
    local capped=false
    [ -f "$TMP/node.capped" ] && [ "$kind" = node ] && capped=true
    echo "{\"kind\":\"$kind\",\"at\":\"$at\",\"load_avg\":\"$load\",\"redis_cpu_ms\":$(((r1 - r0) * 1000 / HZ)),\"memory_capped\":$capped,${line#\{}" >>"$OUT"
    tail -1 "$OUT" >&2
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for kind in $SERVERS; do
    [ "$kind" = node ] && [ "$NODE_RUN" = 0 ] && continue
    run_100k "$kind"
done

FANOUT=$TMP/fanout
if [ -n "$FANOUT_SUBS" ]; then
    log "fanout to $FANOUT_SUBS subscribers on $PROCS processes of each kind (bench/cluster.sh)"
    BENCH_RESULTS_DIR=$FANOUT BENCH_CLUSTER_PROCS=$PROCS BENCH_CLUSTER_SUBS=$FANOUT_SUBS \
        "$HERE/cluster.sh" >/dev/null || log "the fanout runs failed"
    [ -f "$FANOUT/cluster.jsonl" ] && cp "$FANOUT/cluster.jsonl" "$RESULTS/cluster-100k-fanout.jsonl"
fi

node "$HERE/cluster100k-report.mjs" "$OUT" "$RESULTS/cluster-100k-fanout.jsonl" "$STARTED" "$LOAD_START" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" >"$RESULTS/cluster-100k.md"
cat "$RESULTS/cluster-100k.md"
