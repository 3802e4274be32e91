#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests: initdb in a temp directory, a free
# loopback port, a database and role `switchboard` (password auth over TCP).
#
#   pg-cluster.sh run CMD [ARGS...]  create a cluster, run CMD with SB_PG_URL,
#                                   SB_PG_DIR and SB_PG_HELPER in its environment,
#                                   destroy the cluster afterwards, also when CMD
#                                   fails or this script gets SIGINT/SIGTERM;
#                                   exits with CMD's status
#   pg-cluster.sh create            create one and print SB_PG_DIR=… and SB_PG_URL=…
#                                   (the caller must call destroy); with
#                                   SB_PG_DURABLE=1 it keeps fsync and full-page
#                                   writes on (benchmarks of durable acks)
#   pg-cluster.sh stop DIR          stop the server (fault tests), keep the data
#   pg-cluster.sh start DIR         start it again on the same port
#   pg-cluster.sh destroy DIR       stop it at once and delete DIR
#
# initdb refuses to run as root, so as root the server runs as `postgres`
# (the Debian package's user) and DIR belongs to it.
set -euo pipefail

PG_BIN=$(pg_config --bindir 2>/dev/null || true)
if [ ! -x "$PG_BIN/initdb" ]; then
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
fi
if [ ! -x "$PG_BIN/initdb" ]; then
    echo "pg-cluster: initdb not found (install postgresql: scripts/install-deps.sh)" >&2
    exit 2
fi

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_start() {
    local dir=$1 port
    port=$(cat "$dir/port")
    # fsync off and a small buffer cache: a test cluster dies with its test;
    # durability tests kill the Switchboard process, not the machine. A
    # durable cluster (the benchmark's) keeps PostgreSQL's defaults (fsync,
    # full-page writes, shared_buffers 128MB): options given here would win
    # over ALTER SYSTEM.
    local tuning="-c fsync=off -c full_page_writes=off -c shared_buffers=16MB"
    [ ! -f "$dir/durable" ] || tuning=""
    as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 $tuning -c max_connections=40" \
        start >/dev/null
}

pg_stop() {
    local dir=$1 mode=${2:-fast}
    [ -f "$dir/data/postmaster.pid" ] || return 0
    as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m "$mode" -w -t 60 stop >/dev/null 2>&1 || true
}

# Fills the empty directory $1 with a running cluster, its port in $1/port.
# On failure the caller's EXIT trap removes the directory.
make_cluster() {
    local dir=$1
    chmod 700 "$dir"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$dir"
    as_owner "$PG_BIN/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C --no-sync \
        --no-instructions --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; return 1; }
    [ "${SB_PG_DURABLE:-0}" != 1 ] || as_owner touch "$dir/durable"
    # Another process may take the free port before the server binds it: retry.
    local try
    for try in 1 2 3 4 5; do
        free_port | as_owner tee "$dir/port" >/dev/null
        pg_start "$dir" && break
        [ "$try" -lt 5 ] || { tail -n 20 "$dir/log" >&2; return 1; }
    done
    as_owner "$PG_BIN/psql" -X -q -h "$dir" -p "$(cat "$dir/port")" -U postgres -d postgres \
        -v ON_ERROR_STOP=1 \
        -c "CREATE ROLE switchboard LOGIN PASSWORD 'switchboard-test'" \
        -c "CREATE DATABASE switchboard OWNER switchboard ENCODING 'UTF8' TEMPLATE template0" \
        >/dev/null
}

url_of() {
    echo "postgres://switchboard:switchboard-test@127.0.0.1:$(cat "$1/port")/switchboard"
}

destroy() {
    local dir=$1
    case "$dir" in "${TMPDIR:-/tmp}"/sb-pg.*) ;; *) echo "pg-cluster: not a test cluster: $dir" >&2; return 2 ;; esac
    pg_stop "$dir" immediate
    rm -rf "$dir"
}

# The directory exists only while a trap will remove it: a failure or a
# signal at any step leaves nothing behind.
create() {
    local dir=""
    trap '[ -z "$dir" ] || destroy "$dir"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    dir=$(mktemp -d "${TMPDIR:-/tmp}/sb-pg.XXXXXX")
    make_cluster "$dir"
    trap - EXIT INT TERM
    echo "SB_PG_DIR=$dir"
    echo "SB_PG_URL=$(url_of "$dir")"
}

run() {
    local dir="" child=0 rc=0
    trap '[ -z "$dir" ] || destroy "$dir"' EXIT
    trap '[ "$child" -eq 0 ] || kill -TERM "$child" 2>/dev/null; exit 130' INT
    trap '[ "$child" -eq 0 ] || kill -TERM "$child" 2>/dev/null; exit 143' TERM
    dir=$(mktemp -d "${TMPDIR:-/tmp}/sb-pg.XXXXXX")
    make_cluster "$dir"
    export SB_PG_DIR=$dir
    export SB_PG_URL=$(url_of "$dir")
    export SB_PG_HELPER=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
    # In the background so that a signal reaches this shell's traps at once.
    "$@" &
    child=$!
    wait "$child" || rc=$?
    child=0
    exit "$rc"
}

cmd=${1:-}
shift || true
case "$cmd" in
    run) [ $# -gt 0 ] || { echo "usage: pg-cluster.sh run CMD [ARGS...]" >&2; exit 2; }; run "$@" ;;
    create) create ;;
    stop) pg_stop "$1" fast ;;
    start) pg_start "$1" ;;
    destroy) destroy "$1" ;;
    *) echo "usage: pg-cluster.sh run CMD... | create | stop DIR | start DIR | destroy DIR" >&2; exit 2 ;;
esac
