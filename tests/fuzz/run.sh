#!/usr/bin/env bash
# Runs libFuzzer targets for a fixed time each. Usage:
#   tests/fuzz/run.sh SECONDS [target...]      (default: every target)
# Each target first replays tests/fuzz/regressions/<target>/ (inputs that once
# crashed it), then fuzzes for SECONDS on a scratch copy of its seed corpus,
# so tests/fuzz/corpus/ never grows. Crash inputs are kept in
# build/fuzz/artifacts/<target>/ and logs in build/fuzz/logs/<target>.log.
# FUZZ_JOBS=N runs N targets at once (default 1). Exit status: 0 when all passed.
set -u
cd "$(dirname "$0")/../.."

SECONDS_EACH=${1:?usage: tests/fuzz/run.sh SECONDS [target...]}
shift
ALL="http_request ws_frame ws_inflate eio_payload sio_packet json jwt cluster_wire events"
TARGETS=${*:-$ALL}
JOBS=${FUZZ_JOBS:-1}
OUT=${FUZZ_OUT:-build/fuzz}

max_len() {
    case $1 in
    ws_frame) echo 2048 ;;
    ws_inflate) echo 8192 ;;
    *) echo 4096 ;;
    esac
}

# Extra libFuzzer flags of a target. events: the in-process server thread
# allocates on its own schedule, so libFuzzer's per-input malloc/free balance
# check would run a full LSan scan after nearly every input (about 6x slower);
# LSan still checks the whole process at exit, after the server shut down.
extra_flags() {
    case $1 in
    events) echo -detect_leaks=0 ;;
    esac
}

# Rebuild a target when its binary is missing or older than any source.
for t in $TARGETS; do
    bin=$OUT/fuzz_$t
    if [ ! -x "$bin" ] || [ -n "$(find src tests/fuzz -name '*.[ch]' -newer "$bin" | head -1)" ]; then
        tests/fuzz/build.sh "$t" || { echo "$t: build failed"; exit 1; }
    fi
done

RES=$(mktemp -d "${TMPDIR:-/tmp}/sb-fuzz-res.XXXXXX")
trap 'rm -rf "$RES"' EXIT

# Writes "<status> <message>" to $RES/<target>; status is pass or fail.
run_one() {
    local t=$1 bin=$OUT/fuzz_$1 log=$OUT/logs/$1.log art=$OUT/artifacts/$1
    local scratch dict=() regs=() rc execs crash
    mkdir -p "$OUT/logs" "$art"
    : >"$log"
    if [ -d "tests/fuzz/regressions/$t" ]; then
        regs=(tests/fuzz/regressions/"$t"/*)
        [ -e "${regs[0]}" ] || regs=()
    fi
    if [ ${#regs[@]} -gt 0 ] && ! "$bin" "${regs[@]}" >>"$log" 2>&1; then
        echo "fail regression replay failed (see $log)" >"$RES/$t"
        return
    fi
    scratch=$(mktemp -d "${TMPDIR:-/tmp}/sb-fuzz-$t.XXXXXX")
    [ -d "tests/fuzz/corpus/$t" ] && cp tests/fuzz/corpus/"$t"/* "$scratch"/ 2>/dev/null
    [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
    # shellcheck disable=SC2046
    "$bin" "${dict[@]}" $(extra_flags "$t") -max_total_time="$SECONDS_EACH" -max_len="$(max_len "$t")" \
        -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$art/" \
        "$scratch" >>"$log" 2>&1
    rc=$?
    rm -rf "$scratch"
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    crash=$(sed -n 's/.*Test unit written to //p' "$log" | tail -1)
    if [ "$rc" -eq 0 ]; then
        echo "pass ${execs:-?} executions, exit 0" >"$RES/$t"
    else
        echo "fail ${execs:-?} executions, exit $rc${crash:+, crash input: $crash} (log: $log)" >"$RES/$t"
    fi
}

running=0
for t in $TARGETS; do
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

pass=0 fail=0
for t in $TARGETS; do
    read -r status msg <"$RES/$t"
    echo "$t: $status: $msg"
    if [ "$status" = pass ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
