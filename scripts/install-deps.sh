#!/usr/bin/env bash
# Installs what Switchboard needs on Debian 12, only what is missing; safe
# to re-run. Modes:
#   run   what building and running the server needs (make run), with the
#         Socket.IO browser client the binary serves (npm, pinned)
#   test  that plus the test tools: clang, clang-format, PostgreSQL, Redis,
#         Python and npm clients, Chromium for the browser tests, nginx and
#         HAProxy (the sticky balancer tests start their own instances on
#         free loopback ports) (make test, make deps; the default)
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-test}
case $mode in
run | test) ;;
*) echo "usage: $0 [run|test]" >&2; exit 2 ;;
esac

APT_PKGS=(build-essential pkg-config libssl-dev zlib1g-dev libjansson-dev libsqlite3-dev libpq-dev
          libhiredis-dev libmsgpack-dev libcurl4-openssl-dev)
[ "$mode" = run ] || APT_PKGS+=(postgresql python3 python3-socketio python3-websocket python3-requests
                                redis-server nginx haproxy
                                clang clang-format curl procps man-db chromium)

missing=()
for p in "${APT_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js may come from Debian or from an image's own build that bundles npm.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The browser client compiled into the binary, pinned by its package-lock.json.
if [ ! -f scripts/browser-client/node_modules/socket.io-client/dist/socket.io.min.js ] ||
   [ scripts/browser-client/package-lock.json -nt scripts/browser-client/node_modules/.sb-stamp ]; then
    echo "install-deps: npm ci (scripts/browser-client)"
    (cd scripts/browser-client && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    touch scripts/browser-client/node_modules/.sb-stamp
fi

[ "$mode" = test ] || exit 0

# npm clients for the end-to-end tests, pinned by tests/e2e/package-lock.json.
if [ ! -d tests/e2e/node_modules/socket.io-client ] ||
   [ tests/e2e/package.json -nt tests/e2e/node_modules/.sb-stamp ]; then
    echo "install-deps: npm install (tests/e2e)"
    (cd tests/e2e && npm install --no-audit --no-fund --loglevel=error >/dev/null)
    touch tests/e2e/node_modules/.sb-stamp
fi
