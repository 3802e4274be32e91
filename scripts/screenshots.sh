#!/usr/bin/env bash
# Retakes the README's pictures (docs/img/chat.png, docs/img/admin.png) with
# the browser tests, which take them as they go. Usage: scripts/screenshots.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
SB_SCREENSHOT_DIR=docs/img SB_BUILD_DIR=${1:-build} \
    node --test --test-concurrency=1 tests/e2e/browser.test.mjs
