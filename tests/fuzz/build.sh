#!/bin/sh
# Builds every libFuzzer target into build/fuzz/ (or $FUZZ_OUT): one binary per
# tests/fuzz/fuzz_<target>.c, linked straight against the codec sources it
# needs, with ASan + UBSan. The `events` target runs the whole server in
# process, so it links every library source, compiled once into
# $OUT/obj-events/ with libFuzzer coverage. Usage: tests/fuzz/build.sh [target...]
set -eu
cd "$(dirname "$0")/../.."
CC=${FUZZ_CC:-clang}
OUT=${FUZZ_OUT:-build/fuzz}
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
 -Isrc -Itests/fuzz -Wall -Wextra -Wshadow -Wvla -Wno-unused-parameter"
LIBS="-lcrypto -lz -ljansson -lmsgpackc"

# The sources each target links (src/core/err.c goes to all of them).
srcs() {
    case $1 in
    http_request) echo src/http/parser.c ;;
    ws_frame) echo src/ws/frame.c src/ws/utf8.c ;;
    ws_inflate) echo src/ws/deflate.c ;;
    eio_payload) echo src/engineio/packet.c src/core/json.c src/core/base64.c ;;
    sio_packet) echo src/socketio/packet.c src/core/json.c ;;
    json) echo src/core/json.c src/ws/utf8.c ;;
    jwt) echo src/auth/jwt.c src/core/base64.c src/core/sha256.c src/core/md64.c ;;
    cluster_wire) echo src/cluster/wire.c ;;
    events) ;; # build_events
    *) echo "build.sh: unknown target $1" >&2; return 1 ;;
    esac
}

ALL="http_request ws_frame ws_inflate eio_payload sio_packet json jwt cluster_wire events"
TARGETS=${*:-$ALL}

if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){(void)d;(void)n;return 0;}' |
    $CC -x c - -fsanitize=fuzzer,address,undefined -o /dev/null 2>/dev/null; then
    echo "build.sh: $CC cannot link -fsanitize=fuzzer (install libclang-rt-14-dev)" >&2
    exit 1
fi

# The whole library (all of src/ but main.c) with coverage but without the
# libFuzzer main, then the driver. An object is rebuilt when it is older than
# its source or than any header (simple, never stale).
build_events() {
    obj=$OUT/obj-events
    # SB_DEBUG: SB_ASSERT and the validators after every packet (the
    # Engine.IO session, the Socket.IO client and its sockets) run per input.
    cflags="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -pthread -DSB_DEBUG \
 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
 -Isrc -Iinclude -Wall -Wextra -Wshadow -Wvla -Wno-unused-parameter \
 $(pkg-config --cflags openssl zlib jansson sqlite3 hiredis msgpack libpq libcurl 2>/dev/null)"
    libs=$(pkg-config --libs openssl zlib jansson sqlite3 hiredis msgpack libpq libcurl 2>/dev/null ||
        echo -lssl -lcrypto -lz -ljansson -lsqlite3 -lhiredis -lmsgpackc -lpq -lcurl)
    # Objects built with other flags are stale too.
    mkdir -p "$obj"
    if [ "$(cat "$obj/flags" 2>/dev/null)" != "$cflags" ]; then
        rm -rf "$obj/src"
        printf '%s' "$cflags" >"$obj/flags"
    fi
    newest_h=$(find src -name '*.h' -exec ls -t {} + | head -1)
    echo "  FUZZ  $OUT/fuzz_events (library objects in $obj/)"
    srcs_ev=$(find src -name '*.c' ! -path src/main.c | sort)
    objs=$(echo "$srcs_ev" | sed "s|^\(.*\)\.c\$|$obj/\1.o|")
    # shellcheck disable=SC2016 # $1.. expand in the sh -c, one source each
    for c in $srcs_ev; do
        o=$obj/${c%.c}.o
        if [ ! -f "$o" ] || [ -n "$(find "$c" "$newest_h" -newer "$o")" ]; then
            echo "$c"
        fi
    done | xargs -r -P "$(nproc)" -n 1 sh -c \
        'o=$1/${3%.c}.o; mkdir -p "${o%/*}" && $0 $2 -c "$3" -o "$o"' "$CC" "$obj" "$cflags"
    # shellcheck disable=SC2086
    $CC $cflags -fsanitize=fuzzer -Itests/fuzz tests/fuzz/fuzz_events.c $objs \
        -o "$OUT/fuzz_events" $libs -pthread -lm
}

mkdir -p "$OUT"
for t in $TARGETS; do
    if [ "$t" = events ]; then
        build_events
        continue
    fi
    s=$(srcs "$t")
    echo "  FUZZ  $OUT/fuzz_$t"
    # shellcheck disable=SC2086
    $CC $CFLAGS tests/fuzz/fuzz_$t.c $s src/core/err.c -o "$OUT/fuzz_$t" $LIBS
done
