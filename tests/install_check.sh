#!/usr/bin/env bash
# Installs the library into a scratch root (make install DESTDIR=...) and
# builds every example against the installed copy with pkg-config only, as
# an embedding program would; checks that only the public header is
# installed. Usage: tests/install_check.sh [build/switchboard] (its folder
# is the build to install). Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
build=$(dirname "${1:-build/switchboard}")
mode=release
[ "$build" = build/asan ] && mode=asan
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
prefix=/usr/local
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
not_ok() { fail=$((fail + 1)); echo "not ok - $1"; }

if make --no-print-directory install B="$build" MODE="$mode" DESTDIR="$root" PREFIX="$prefix" \
    >"$root/install.log" 2>&1; then
    ok "make install DESTDIR=..."
else
    not_ok "make install DESTDIR=..."; tail -20 "$root/install.log"
fi
headers=$(cd "$root$prefix" && find include -type f | sort | tr '\n' ' ')
if [ "$headers" = "include/switchboard.h " ]; then
    ok "only include/switchboard.h is installed"
else
    not_ok "installed headers: $headers"
fi

export PKG_CONFIG_PATH="$root$prefix/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$root"
want=$(sed -n 's/^#define SB_VERSION_STRING "\(.*\)"/\1/p' include/switchboard.h)
if [ "$(pkg-config --modversion switchboard)" = "$want" ]; then
    ok "pkg-config knows switchboard $want"
else
    not_ok "pkg-config --modversion switchboard: $(pkg-config --modversion switchboard 2>&1)"
fi
sanitize=
[ "$mode" = asan ] && sanitize=-fsanitize=address,undefined
for ex in examples/*.c; do
    name=$(basename "$ex" .c)
    # No -I of the tree: the installed header is all an example may see.
    if cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Werror $sanitize \
        -o "$root/$name" "$ex" $(pkg-config --cflags --libs --static switchboard) \
        2>"$root/$name.log" &&
        "$root/$name" --help | grep -q -- '--port'; then
        ok "$name builds against the installed library"
    else
        not_ok "$name"; cat "$root/$name.log"
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
