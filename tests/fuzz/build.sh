#!/bin/sh
# Builds every libFuzzer target into build/fuzz/ (or $FUZZ_OUT): one binary per
# tests/fuzz/fuzz_<target>.c, linked straight against the codec sources it
# needs, with ASan + UBSan. Usage: tests/fuzz/build.sh [target...]
set -eu
cd "$(dirname "$0")/../.."
CC=${FUZZ_CC:-clang}
OUT=${FUZZ_OUT:-build/fuzz}
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
 -Isrc -Itests/fuzz -Wall -Wextra -Wshadow -Wvla -Wno-unused-parameter"
LIBS="-lcrypto -lz -ljansson"

# The sources each target links (src/core/err.c goes to all of them).
srcs() {
    case $1 in
    http_request) echo src/http/parser.c ;;
    ws_frame) echo src/ws/frame.c src/ws/utf8.c ;;
    ws_inflate) echo src/ws/deflate.c ;;
    eio_payload) echo src/engineio/packet.c src/core/json.c ;;
    sio_packet) echo src/socketio/packet.c src/core/json.c ;;
    json) echo src/core/json.c src/ws/utf8.c ;;
    jwt) echo src/auth/jwt.c ;;
    *) echo "build.sh: unknown target $1" >&2; return 1 ;;
    esac
}

ALL="http_request ws_frame ws_inflate eio_payload sio_packet json jwt"
TARGETS=${*:-$ALL}

if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){(void)d;(void)n;return 0;}' |
    $CC -x c - -fsanitize=fuzzer,address,undefined -o /dev/null 2>/dev/null; then
    echo "build.sh: $CC cannot link -fsanitize=fuzzer (install libclang-rt-14-dev)" >&2
    exit 1
fi

mkdir -p "$OUT"
for t in $TARGETS; do
    s=$(srcs "$t")
    echo "  FUZZ  $OUT/fuzz_$t"
    # shellcheck disable=SC2086
    $CC $CFLAGS tests/fuzz/fuzz_$t.c $s src/core/err.c -o "$OUT/fuzz_$t" $LIBS
done
