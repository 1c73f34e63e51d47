#!/usr/bin/env bash
# Quick start, part one: install, build, and run the console against the embedded lab.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
if ! command -v moto_server >/dev/null 2>&1; then
  echo 'moto_server is not on PATH: the lab needs it. Install it with: pip install "moto[server]"' >&2
  exit 1
fi
dist="${NEXT_DIST_DIR:-.next}"
if [ ! -f "$dist/BUILD_ID" ] || [ -n "$(find app components lib proxy.ts instrumentation.ts -newer "$dist/BUILD_ID" -print -quit 2>/dev/null)" ]; then
  npx next build
fi
exec npx tsx scripts/start.ts
