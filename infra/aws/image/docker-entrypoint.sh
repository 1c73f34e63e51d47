#!/bin/sh
# The console image's entry point (Dockerfile), also what CI runs on this machine's Node
# (scripts/standalone-smoke.ts): the environments file from LINKBOX_CONFIG_JSON (the ECS task passes
# the file's contents, infra/aws) written to the writable tmp, then Next's standalone server.
# The root filesystem may be read-only: only $TMPDIR (default /tmp) is written to.
set -eu

if [ -n "${LINKBOX_CONFIG_JSON:-}" ]; then
  config="${TMPDIR:-/tmp}/linkbox.config.json"
  (umask 077 && printf '%s' "$LINKBOX_CONFIG_JSON" > "$config")
  export LINKBOX_CONFIG="$config"
  unset LINKBOX_CONFIG_JSON
fi

# server.js changes into its own directory; it listens on $HOSTNAME:$PORT.
exec node "$(dirname "$0")/server.js"
