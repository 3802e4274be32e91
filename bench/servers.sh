# Server processes for the benchmark scripts (sourced by run.sh and
# storm.sh): every server we start is tracked by PID and always killed. The
# caller defines log, server_cmd ID and SERVER_CPU before it starts one.

PIDS=()
TMP=$(mktemp -d /tmp/sb-bench.XXXXXX)
cleanup() {
    local p
    for p in "${PIDS[@]:-}"; do
        [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true
    done
    sleep 0.3
    for p in "${PIDS[@]:-}"; do
        [ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SERVER_PID=
SERVER_PORT=
# start_server ID: starts it on a free port (--port 0) and waits for "listening on".
start_server() {
    local id=$1 logf=$TMP/$1.log cmd
    cmd=$(server_cmd "$id")
    : >"$logf"
    # shellcheck disable=SC2086
    $SERVER_CPU $cmd 2>"$logf" >/dev/null &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    local i
    for i in $(seq 150); do
        if grep -q 'listening on' "$logf"; then
            SERVER_PORT=$(grep -o 'listening on [0-9.]*:[0-9]*' "$logf" | head -1 | sed 's/.*://')
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    log "server $id did not start: $(tail -3 "$logf" | tr '\n' ' ')"
    stop_server
    return 1
}

stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    local i
    for i in $(seq 30); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

