#!/usr/bin/env bash
# Installs the kiosk as a systemd service on a Debian board. Run as root from the repository root
# after `npm ci --omit=dev` (which builds dist/).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
id kiosk >/dev/null 2>&1 || useradd --system --home /var/lib/kiosk --shell /usr/sbin/nologin --groups dialout kiosk
mkdir -p /opt/kiosk
cp -a "$here/dist" "$here/node_modules" "$here/package.json" "$here/README.md" /opt/kiosk/
install -D -m 0644 "$here/systemd/kiosk.service" /etc/systemd/system/kiosk.service
install -D -m 0644 "$here/systemd/kiosk.tmpfiles.conf" /etc/tmpfiles.d/kiosk.conf
if [ ! -f /etc/kiosk/config.json ]; then
  install -D -m 0640 -g kiosk "$here/systemd/config.example.json" /etc/kiosk/config.json
  echo "wrote /etc/kiosk/config.json from the example: set validator.port and server.baseUrl"
fi
/usr/bin/node /opt/kiosk/dist/src/cli.js config check /etc/kiosk/config.json >/dev/null
systemd-tmpfiles --create /etc/tmpfiles.d/kiosk.conf
systemctl daemon-reload
systemctl enable --now kiosk.service
