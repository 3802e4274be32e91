#!/usr/bin/env bash
# The cluster benchmark (issue 12): N Switchboard processes on one port
# (`sio_echo --reuse-port --redis-url`) against N Node.js socket.io
# processes with @socket.io/redis-adapter (bench/peers/sio-cluster.mjs),
# both over one redis-server started here on a free port. The load
# generator's fanout mode: S subscribers (spread over the processes by the
# kernel, or by node:cluster's round robin) join one room, 2 publishers
# relay to it; every delivery is counted at the subscribers (lost,
# duplicated, out of order must be 0).
#
# Writes bench/results/cluster.jsonl (one line per run) and cluster.md.
# Settings: BENCH_CLUSTER_PROCS ("2 6"), BENCH_CLUSTER_SUBS ("1000 10000"),
# BENCH_FANOUT_BUDGET (seconds per run, 12), BENCH_PAYLOAD (32).
# Figures per run: peak deliveries/s (the loadgen's best 1 s step), server
# CPU per delivery over the whole run (connects included; every server
# process, the node:cluster primary too, and redis-server apart), and peak
# RSS of all server processes together per connection (less their RSS
# before the run).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
RESULTS=${BENCH_RESULTS_DIR:-$HERE/results}
PROCS=${BENCH_CLUSTER_PROCS:-2 6}
SUBS=${BENCH_CLUSTER_SUBS:-1000 10000}
BUDGET=${BENCH_FANOUT_BUDGET:-12}
PAYLOAD=${BENCH_PAYLOAD:-32}
log() { echo "cluster-bench: $*" >&2; }
# shellcheck source=bench/servers.sh
source "$HERE/servers.sh"

# shellcheck source=bench/cluster-lib.sh
source "$HERE/cluster-lib.sh"
cluster_build examples/sio_echo
start_redis

# start_group KIND N PORT: N processes of KIND on PORT; their PIDs in GROUP.
start_group() {
    local kind=$1 n=$2 port=$3 i
    GROUP=()
    : >"$TMP/group.log"
    if [ "$kind" = sb ]; then
        for i in $(seq "$n"); do
            "$BIN/sio_echo" --host 127.0.0.1 --port "$port" --reuse-port --handoff-dir "$TMP/handoff" \
                --redis-url "$REDIS_URL" --events-per-second 0 --log-level warn --log-connections false 2>>"$TMP/group.log" >/dev/null &
            GROUP+=($!)
        done
    else
        node "$HERE/peers/sio-cluster.mjs" --host 127.0.0.1 --port "$port" --workers "$n" \
            --redis "$REDIS_URL" 2>>"$TMP/group.log" >/dev/null &
        GROUP+=($!)
    fi
    PIDS+=("${GROUP[@]}")
    group_started "$n" "$kind"
    sleep 1 # every process subscribed to Redis
}

mkdir -p "$RESULTS"
OUT=$RESULTS/cluster.jsonl
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$OUT"
HZ=$(getconf CLK_TCK)
for n in $PROCS; do
    for s in $SUBS; do
        for kind in sb node; do
            port=$(free_port)
            log "procs=$n subscribers=$s $kind"
            start_group "$kind" "$n" "$port"
            rss0=$(rss_kb "${GROUP[@]}")
            c0=$(ticks "${GROUP[@]}")
            r0=$(ticks "$REDIS_PID")
            (peak=0; while :; do v=$(rss_kb "${GROUP[@]}"); [ "$v" -gt "$peak" ] && peak=$v && echo "$peak" >"$TMP/rss.peak"; sleep 0.25; done) &
            sampler=$!
            echo "$rss0" >"$TMP/rss.peak"
            line=$(timeout $((BUDGET + 120)) "$BIN/loadgen" --port "$port" --label "$kind-$n" --quiet \
                --mode fanout --conns "$s" --publishers 2 --payload "$PAYLOAD" --duration "$BUDGET" \
                --step-ms 1000 2>"$TMP/lg.err") || line='{"ok":false}'
            c1=$(ticks "${GROUP[@]}")
            r1=$(ticks "$REDIS_PID")
            kill "$sampler" 2>/dev/null || true
            wait "$sampler" 2>/dev/null || true
            peak=$(cat "$TMP/rss.peak")
            stop_group
            echo "{\"server\":\"$kind\",\"procs\":$n,\"server_cpu_ms\":$(((c1 - c0) * 1000 / HZ)),\"redis_cpu_ms\":$(((r1 - r0) * 1000 / HZ)),\"rss_before_kb\":$rss0,\"rss_peak_kb\":$peak,${line#\{}" >>"$OUT"
            tail -1 "$OUT" >&2
        done
    done
done

node - "$OUT" >"$RESULTS/cluster.md" <<'EOF'
const fs = require('node:fs');
const rows = fs.readFileSync(process.argv[2], 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const out = ['| processes | subscribers | server | peak deliveries/s | server CPU µs per delivery (whole run) | Redis CPU ms | peak RSS per connection, all processes | lost | dup | out of order | undelivered | ok |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|'];
for (const r of rows) {
  const perDel = r.deliveries ? (r.server_cpu_ms * 1000 / r.deliveries).toFixed(3) : '-';
  const rss = r.conns ? `${((r.rss_peak_kb - r.rss_before_kb) / r.conns).toFixed(2)} KiB` : '-';
  const name = r.server === 'sb' ? 'Switchboard (sio_echo --reuse-port)' : 'Node.js socket.io + redis-adapter';
  out.push(`| ${r.procs} | ${r.conns ?? '-'} | ${name} | ${Math.round(r.peak_deliveries_per_s ?? 0)} | ${perDel} | ${r.redis_cpu_ms} | ${rss} | ${r.lost ?? '-'} | ${r.dup ?? '-'} | ${r.out_of_order ?? '-'} | ${r.undelivered ?? '-'} | ${r.ok} |`);
}
console.log(out.join('\n'));
EOF
echo "
$(nproc) cores; load average at the start: $LOAD_AT_START (other work on the machine shares the cores)." >>"$RESULTS/cluster.md"
cat "$RESULTS/cluster.md"
