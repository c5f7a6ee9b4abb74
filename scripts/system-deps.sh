#!/usr/bin/env bash
# Debian packages the kiosk's simulators and tests need. Installs only what is missing.
#   socat: pseudo-terminal pairs that stand in for serial cables between the kiosk and the emulators.
#   systemd: systemd-notify (readiness and watchdog) and systemd-analyze (unit checks in the tests).
#   mosquitto: the MQTT broker of the management link (`kiosk-sim start --mqtt`, the fleet tests),
#              with mosquitto-clients for the broker's own throughput baseline in the benchmarks.
# With the argument `tests` (npm test, .ci/run), also what only the tests need, so `npm start`
# never downloads a browser:
#   chromium: the browser tests of the customer's screen (driven by playwright-core).
#   fonts-wqy-zenhei: a CJK font, so the Chinese screen renders (and its screenshots show) text.
#   cage: the Wayland kiosk compositor systemd/kiosk-screen.service starts; systemd-analyze
#         verify checks that the unit's command exists.
#   openssl: an RSA server certificate for the weak-suite TLS tests (test/uplink/tls-ciphers.test.ts).
#   udev: udevadm, which parses systemd/99-kiosk.rules in test/systemd/hardening.test.ts.
set -euo pipefail
missing=()
command -v socat >/dev/null 2>&1 || missing+=(socat)
command -v systemd-notify >/dev/null 2>&1 || missing+=(systemd)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
command -v mosquitto_pub >/dev/null 2>&1 || missing+=(mosquitto-clients)
if [ "${1:-}" = tests ]; then
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  dpkg -s fonts-wqy-zenhei >/dev/null 2>&1 || missing+=(fonts-wqy-zenhei)
  command -v cage >/dev/null 2>&1 || missing+=(cage)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  command -v udevadm >/dev/null 2>&1 || missing+=(udev)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
