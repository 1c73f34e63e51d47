#!/usr/bin/env bash
# Quick start, part two: install everything the tests need, then lint, typecheck, unit,
# integration (each file starts its own lab), build, and end-to-end tests in Debian Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
bash scripts/install.sh
rm -rf test-results/summary && mkdir -p test-results/summary
status=0
npm test || status=$?
node scripts/test-summary.mjs test-results/summary || true
exit $status
