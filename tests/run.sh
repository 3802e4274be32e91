#!/usr/bin/env bash
# Runs every suite against each build directory given (default: build):
# the C unit tests, then the end-to-end tests with real clients. Prints one
# closing line "N passed, N failed" for everything.
set -u
cd "$(dirname "$0")/.."
builds=("$@")
[ ${#builds[@]} -gt 0 ] || builds=(build)

total_pass=0
total_fail=0
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

# Adds the "N passed, N failed" line of a suite's output to the totals; a
# suite that crashed before printing it counts as one failure.
count() {
    local name=$1 out=$2 rc=$3
    local line
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
    if [ -z "$line" ]; then
        echo "FAIL $name: exited $rc without a result line"
        tail -n 30 "$out"
        total_fail=$((total_fail + 1))
        return
    fi
    local p f
    p=$(echo "$line" | awk '{print $1}')
    f=$(echo "$line" | awk '{print $3}')
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    if [ "$f" -gt 0 ] || [ "$rc" -ne 0 ]; then
        echo "FAIL $name: $line (exit $rc)"
        grep -E '^not ok|CHECK|failed|Error' "$out" | head -n 40
        [ "$f" -gt 0 ] || total_fail=$((total_fail + 1))
    else
        echo "ok   $name: $line"
    fi
}

echo "== repository checks"
for check in tests/docs_check.sh tests/install_check.sh tests/packaging_check.sh tests/symbols_check.sh tests/make_check.sh tests/cycles_check.sh tests/format_check.sh; do
    out="$log/$(basename "$check").$RANDOM"
    timeout 600 "$check" "${builds[0]}/switchboard" >"$out" 2>&1
    count "$(basename "$check")" "$out" $?
done

echo "== benchmark smoke (correctness counters of the load generator only)"
out="$log/bench.$RANDOM"
timeout 300 bench/smoke.sh "${builds[0]}" >"$out" 2>&1
count "bench smoke" "$out" $?

echo "== fuzz smoke (each target ${FUZZ_SMOKE_SECONDS:-10} s, regressions replayed)"
out="$log/fuzz.$RANDOM"
FUZZ_JOBS=2 timeout 600 tests/fuzz/run.sh "${FUZZ_SMOKE_SECONDS:-10}" >"$out" 2>&1
count "fuzz smoke" "$out" $?

# The end-to-end files run a second time on the PostgreSQL store, all but
# these (each with its reason):
#   storage_faults: SQLite file faults (a deleted WAL, chattr +i, a full disk);
#     what applies to PostgreSQL has its twin in pg_store (writes refused by
#     the database, reads still served; few log lines) and test_pg_store
#   pg_store, pg_cluster, cluster_pg: start PostgreSQL clusters of their own
#     already (every server there gets --database-url)
#   conformance, examples, protocol, python, raw: only echo servers and
#     examples without a store (no switchboard or chat_plus server)
#   cli: runs the binary by hand with its own settings (exit codes, --help)
#   balancers: tests HAProxy's and nginx's stickiness, not the store
PG_E2E_SKIP=" storage_faults pg_store pg_cluster cluster_pg conformance examples protocol python raw cli balancers "
PG_E2E_FILES=()
for f in tests/e2e/*.test.mjs; do
    n=$(basename "$f" .test.mjs)
    case "$PG_E2E_SKIP" in *" $n "*) ;; *) PG_E2E_FILES+=("$f") ;; esac
done

# Runs the given e2e files on a throwaway PostgreSQL cluster and counts them
# as the suite named $1 (build $2).
e2e_on_postgres() {
    local name=$1 b=$2 out rc p f
    shift 2
    out="$log/e2e-pg.$RANDOM"
    SB_BUILD_DIR="$b" timeout 1200 tests/lib/pg-cluster.sh run bash -c \
        'SB_E2E_PG_URL=$SB_PG_URL exec node --test --test-concurrency=1 --test-reporter=tap "$@"' _ \
        "$@" >"$out" 2>&1
    rc=$?
    p=$(grep -E '^# pass ' "$out" | awk '{print $3}')
    f=$(grep -E '^# fail ' "$out" | awk '{print $3}')
    echo "${p:-0} passed, ${f:-1} failed" >>"$out"
    count "$name" "$out" $rc
}

for b in "${builds[@]}"; do
    echo "== unit tests ($b)"
    for t in "$b"/tests/test_*; do
        [ -x "$t" ] || continue
        out="$log/$(basename "$t").$RANDOM"
        # test_pg_*: against a throwaway PostgreSQL cluster of their own.
        wrap=()
        case "$(basename "$t")" in test_pg_*) wrap=(tests/lib/pg-cluster.sh run) ;; esac
        timeout 300 "${wrap[@]}" "$t" >"$out" 2>&1
        count "$(basename "$t") [$b]" "$out" $?
    done

    echo "== end-to-end tests ($b)"
    out="$log/e2e.$RANDOM"
    SB_BUILD_DIR="$b" timeout 1200 node --test --test-concurrency=1 --test-reporter=tap \
        tests/e2e/ >"$out" 2>&1
    rc=$?
    p=$(grep -E '^# pass ' "$out" | awk '{print $3}')
    f=$(grep -E '^# fail ' "$out" | awk '{print $3}')
    echo "${p:-0} passed, ${f:-1} failed" >>"$out"
    count "e2e [$b]" "$out" $rc

    # The whole suite but PG_E2E_SKIP again on the PostgreSQL store (a
    # throwaway cluster; each server's data directory gets its own schema),
    # in both builds: under ASan+UBSan it takes about 4-5 min.
    echo "== end-to-end tests on PostgreSQL ($b)"
    e2e_on_postgres "e2e on PostgreSQL [$b]" "$b" "${PG_E2E_FILES[@]}"

    echo "== soak, short ($b)"
    out="$log/soak.$RANDOM"
    timeout 300 node tests/e2e/soak.mjs --clients 200 --seconds 8 --build "$b" >"$out" 2>&1
    count "soak [$b]" "$out" $?

    echo "== delivery chaos, short ($b)"
    out="$log/chaos.$RANDOM"
    timeout 300 node tests/e2e/chaos.mjs --users 60 --devices 3 --senders 12 --seconds 6 --upgrade --build "$b" >"$out" 2>&1
    rc=$?
    grep -E '^chaos' "$out"
    count "chaos [$b]" "$out" $rc
done

echo "${total_pass} passed, ${total_fail} failed"
[ "$total_fail" -eq 0 ]
