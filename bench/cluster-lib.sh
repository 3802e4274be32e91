# What the cluster benchmarks share (sourced by cluster.sh and
# cluster100k.sh after servers.sh, which owns TMP, PIDS and the cleanup):
# the build, one redis-server on a free port, a group of server processes
# and /proc readings of them. The caller defines log and HERE, ROOT.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# cluster_build TARGET: builds TARGET (relative to the build directory) and
# the load generator, copies both into $BIN so another make cannot change
# them mid-run; checks redis-server and the Node.js peers' packages.
cluster_build() {
    local build=${BENCH_BUILD_DIR:-build/bench/release}
    command -v redis-server >/dev/null || { log "redis-server is missing (scripts/install-deps.sh)"; exit 1; }
    [ -d "$HERE/peers/node_modules/@socket.io/redis-adapter" ] ||
        (cd "$HERE/peers" && npm ci --no-audit --no-fund >/dev/null)
    log "building $1 (B=$build) and the load generator"
    make -C "$ROOT" -j2 B="$build" "$build/$1" >/dev/null
    make -C "$HERE" >/dev/null
    BIN=$TMP/bin
    mkdir -p "$BIN"
    cp "$ROOT/$build/$1" "$ROOT/build/bench/loadgen" "$BIN/"
}

# start_redis: a throwaway redis-server; sets REDIS_PID, RPORT, REDIS_URL.
start_redis() {
    RPORT=$(free_port)
    redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
        --protected-mode no --loglevel warning >"$TMP/redis.log" 2>&1 &
    REDIS_PID=$!
    PIDS+=("$REDIS_PID")
    for _ in $(seq 50); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
    REDIS_URL=redis://127.0.0.1:$RPORT
}

# CPU ticks (user + system) of the given processes.
ticks() {
    local p t=0 f
    for p in "$@"; do
        f=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null) || continue
        t=$((t + ${f% *} + ${f#* }))
    done
    echo "$t"
}

# VmRSS of the given processes together, KiB.
rss_kb() {
    local p t=0 v
    for p in "$@"; do
        v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null) || continue
        t=$((t + ${v:-0}))
    done
    echo "$t"
}

GROUP=()
# group_started N KIND: waits for N "listening on" lines in $TMP/group.log;
# for a node:cluster primary (KIND node) adds its workers to GROUP.
group_started() {
    for _ in $(seq 300); do
        [ "$(grep -c 'listening on' "$TMP/group.log")" -ge "$1" ] && break
        sleep 0.1
    done
    if [ "$2" = node ]; then
        GROUP+=($(pgrep -P "${GROUP[0]}" | tr '\n' ' '))
        PIDS+=("${GROUP[@]:1}")
    fi
}

stop_group() {
    local p
    for p in "${GROUP[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${GROUP[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    GROUP=()
}
