#!/usr/bin/env bash
# Installs what the tests need from Debian (Chromium for Playwright, AWS CLI v2 for the seed's
# commands, openssl for the lab's TLS certificates, promtool from prometheus for the alert rules and
# the metrics format) when it is missing, and checks the preinstalled moto_server, psql and cfn-lint.
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/aws ] || missing+=(awscli)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing from Debian: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  # Only promtool is wanted: where systemd started the Prometheus server the package brings, stop it.
  if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null 2>&1; then
    $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
fi

if ! command -v moto_server >/dev/null 2>&1; then
  echo 'moto_server is not on PATH: the lab needs it. Install it with: pip install "moto[server]"' >&2
  exit 1
fi
# The deployment's templates are linted with it (npm run infra:check); Debian does not package it.
if ! command -v cfn-lint >/dev/null 2>&1; then
  echo 'cfn-lint is not on PATH: npm run infra:check needs it. Install it with: pip install cfn-lint' >&2
  exit 1
fi
# The two-replica test gives each replica a host name of its own (unshare --uts, util-linux).
command -v unshare >/dev/null 2>&1 || { echo 'unshare (util-linux) is not on PATH: the replica test needs it' >&2; exit 1; }
