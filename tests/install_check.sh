#!/usr/bin/env bash
# Installs the library into a scratch prefix and builds every example
# against it with pkg-config only, as an embedding program would.
# Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
pass=0
fail=0
if make --no-print-directory install PREFIX="$prefix" >"$prefix/install.log" 2>&1; then
    pass=$((pass + 1)); echo "ok - make install"
else
    fail=$((fail + 1)); echo "not ok - make install"; tail -20 "$prefix/install.log"
fi
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
for ex in examples/*.c; do
    name=$(basename "$ex" .c)
    if cc -std=c11 -D_GNU_SOURCE -Wall -Werror -o "$prefix/$name" "$ex" \
        $(pkg-config --cflags --libs --static switchboard) 2>"$prefix/$name.log" &&
        "$prefix/$name" --help | grep -q -- '--port'; then
        pass=$((pass + 1)); echo "ok - $name builds against the installed library"
    else
        fail=$((fail + 1)); echo "not ok - $name"; cat "$prefix/$name.log"
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
