#!/usr/bin/env bash
# Debian packages the kiosk's simulators and tests need. Installs only what is missing.
#   socat: pseudo-terminal pairs that stand in for serial cables between the kiosk and the emulators.
#   systemd: systemd-notify (readiness and watchdog) and systemd-analyze (unit checks in the tests).
set -euo pipefail
missing=()
command -v socat >/dev/null 2>&1 || missing+=(socat)
command -v systemd-notify >/dev/null 2>&1 || missing+=(systemd)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
