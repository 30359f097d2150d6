#!/usr/bin/env bash
# Debian tools the tests run for real: promtool and prometheus (rule checks and the
# real-Prometheus gate test), amtool and prometheus-alertmanager (alert routing).
# Installs them when one is missing and this runs as root (CI, a fresh machine);
# otherwise says what to run and goes on: those tests skip on a laptop without the
# tools, and fail in CI (CI=true) when they are missing.
set -euo pipefail
missing=()
for tool in promtool prometheus amtool prometheus-alertmanager; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] && exit 0
packages="prometheus prometheus-alertmanager"
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${packages} (missing: ${missing[*]})" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${packages} >/dev/null
else
  echo "note: ${missing[*]} not found; tests that need them will skip." >&2
  echo "      install them with: sudo apt-get install -y ${packages}" >&2
fi
