#!/usr/bin/env bash
# Keeps docs true: docs/configuration.md must match `switchboard --help`,
# and every doc the README links must exist. Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
bin=${1:-build/switchboard}
pass=0; fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cp docs/configuration.md "$tmp/before.md"
# The generator also rewrites the man page (packaging_check.sh judges it):
# put it back so a check run never leaves the tree changed.
cp docs/switchboard.1 "$tmp/before.1"
scripts/gen-config-doc.sh "$bin"
cp "$tmp/before.1" docs/switchboard.1
if diff -u "$tmp/before.md" docs/configuration.md; then
    pass=$((pass + 1)); echo "ok - docs/configuration.md matches --help"
else
    fail=$((fail + 1)); echo "not ok - docs/configuration.md is stale: run scripts/gen-config-doc.sh"
    cp "$tmp/before.md" docs/configuration.md
fi
for link in $(grep -oE '\]\((docs/[^)#]+)' README.md | sed 's/](//' | sort -u); do
    if [ -f "$link" ]; then pass=$((pass + 1)); echo "ok - $link exists"
    else fail=$((fail + 1)); echo "not ok - README links $link, which is missing"; fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
