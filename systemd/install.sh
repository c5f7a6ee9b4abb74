#!/usr/bin/env bash
# Installs (or updates) the kiosk as a systemd service on a Debian board. Run as root from a built
# checkout (`npm ci && npm run build && npm prune --omit=dev`, see docs/install.md):
#
#   sudo bash systemd/install.sh                  install, enable and start kiosk.service
#   sudo bash systemd/install.sh --console ttyS0  also enable the engineers' console on /dev/ttyS0
#   sudo bash systemd/install.sh --screen         also show the customer's screen full screen on the
#                                                 board's display (Chromium in cage on tty1)
#   bash systemd/install.sh --dry-run             print every step, change nothing (no root needed)
#
# Running it again is safe: files already in place are left alone, an existing
# /etc/kiosk/config.json is never overwritten, and the service is restarted (a graceful stop that
# parks any transaction) only when the application or its unit changed.
set -euo pipefail

usage() {
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
}

dry=0
console_port=''
screen=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry=1 ;;
    --console)
      [ $# -ge 2 ] || { echo "install.sh: --console needs a port name, e.g. ttyS0" >&2; exit 2; }
      console_port=$2
      shift
      ;;
    --screen) screen=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "install.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

src=$(cd "$(dirname "$0")/.." && pwd)
app=/opt/kiosk
etc=/etc/kiosk
config=$etc/config.json
unit_dir=/etc/systemd/system
dropin_dir=$unit_dir/kiosk.service.d
rules=/etc/udev/rules.d/99-kiosk.rules
tmpfiles=/etc/tmpfiles.d/kiosk.conf

step_no=0
step() {
  step_no=$((step_no + 1))
  echo "[$step_no] $*"
}

# Runs a command, or only shows it with --dry-run.
run() {
  if [ "$dry" -eq 1 ]; then
    echo "    would run: $*"
  else
    echo "    + $*"
    "$@"
  fi
}

fail() {
  echo "install.sh: $*" >&2
  exit 1
}

# Installs one file when it is missing or differs; returns 0 when it changed something.
put() {
  local from=$1 to=$2 mode=$3
  if [ -f "$to" ] && cmp -s "$from" "$to"; then
    echo "    $to is up to date"
    return 1
  fi
  run install -D -m "$mode" "$from" "$to"
  return 0
}

step "check the prerequisites"
if [ "$dry" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
  fail "run as root (or with --dry-run to see the steps)"
fi
node_bin=$(command -v node || true)
[ -n "$node_bin" ] || fail "node is not installed: install Node.js 20 first (see docs/install.md)"
node_major=$("$node_bin" -p 'process.versions.node.split(".")[0]')
[ "$node_major" = 20 ] || fail "node $("$node_bin" -v) found at $node_bin; the kiosk needs Node.js 20"
[ -f "$src/dist/src/cli.js" ] || fail "$src/dist is missing: run 'npm ci && npm run build && npm prune --omit=dev' first"
[ -d "$src/node_modules/better-sqlite3" ] || fail "$src/node_modules is missing: run 'npm ci' first"
command -v systemd-notify >/dev/null || fail "systemd-notify is missing: install the Debian package systemd"
if [ "$screen" -eq 1 ]; then
  for tool in cage chromium; do
    command -v "$tool" >/dev/null || fail "$tool is missing for --screen: apt-get install cage chromium fonts-wqy-zenhei"
  done
fi
echo "    node $("$node_bin" -v) at $node_bin, application in $src"

step "the kiosk user, in dialout (serial ports), plugdev and lp (printers)"
for group in dialout plugdev lp; do
  getent group "$group" >/dev/null || run groupadd --system "$group"
done
if id kiosk >/dev/null 2>&1; then
  echo "    user kiosk exists"
else
  run useradd --system --user-group --home-dir /var/lib/kiosk --no-create-home --shell /usr/sbin/nologin kiosk
fi
missing_groups=()
for group in dialout plugdev lp; do
  id -nG kiosk 2>/dev/null | tr ' ' '\n' | grep -qx "$group" || missing_groups+=("$group")
done
if [ ${#missing_groups[@]} -gt 0 ]; then
  run usermod --append --groups "$(IFS=,; echo "${missing_groups[*]}")" kiosk
else
  echo "    kiosk is in dialout, plugdev and lp"
fi

step "the console user kiosk-console (the engineers' console; not the runtime's user)"
# The console runs as its own user: it cannot read journal.key or the TLS key, and reaches the
# runtime only through /run/kiosk-console/console.sock, where the runtime asks the kernel who
# connected and allows that user only the engineers' commands.
if id kiosk-console >/dev/null 2>&1; then
  echo "    user kiosk-console exists"
else
  run useradd --system --user-group --groups dialout --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin kiosk-console
fi

step "install the release into the A/B layout: $app/releases/<version>, $app/current"
# Releases side by side (docs/updates.md): this one goes to releases/<version> and `current` is
# renamed onto it; the release it replaces stays as `previous` for a rollback. Later releases
# arrive as signed bundles through the management link's `update` command.
app_changed=0
version=$("$node_bin" -p "require('$src/package.json').version")
release=$app/releases/$version
parts=(dist node_modules package.json package-lock.json README.md LICENSE docs systemd)
installed_copy_matches() {
  [ -d "$release" ] || return 1
  local p
  for p in "${parts[@]}"; do
    [ -e "$src/$p" ] || continue
    diff -rq --no-dereference "$src/$p" "$release/$p" >/dev/null 2>&1 || return 1
  done
}
if [ "$src" = "$release" ]; then
  echo "    running from $release itself: nothing to copy"
elif installed_copy_matches; then
  echo "    $release is up to date"
else
  # Copied beside the releases and renamed into place, so a failed copy leaves no half release.
  run mkdir -p "$app/releases"
  run rm -rf "$release.new"
  run mkdir -p "$release.new"
  for p in "${parts[@]}"; do
    [ -e "$src/$p" ] && run cp -a "$src/$p" "$release.new/"
  done
  run rm -rf "$release"
  run mv "$release.new" "$release"
  app_changed=1
fi
old_current=$(readlink "$app/current" 2>/dev/null || true)
if [ "$old_current" != "releases/$version" ]; then
  [ -n "$old_current" ] && run ln -sfn "$old_current" "$app/previous.tmp" && run mv -T "$app/previous.tmp" "$app/previous"
  run ln -sfn "releases/$version" "$app/current.tmp"
  run mv -T "$app/current.tmp" "$app/current"
  app_changed=1
fi
# The flat layout of earlier installs (dist/ directly under $app) is no longer used.
for p in "${parts[@]}"; do
  if [ -e "$app/$p" ] && [ ! -L "$app/$p" ]; then run rm -rf "${app:?}/$p"; fi
done
run install -D -m 0755 "$src/systemd/rollback-check" "$app/bin/rollback-check"
# The service writes new releases and renames the links; the code in them is checked (TUF) first.
run chown kiosk:kiosk "$app" "$app/releases"
[ -e "$app/update-state.json" ] && run chown kiosk:kiosk "$app/update-state.json"

step "systemd units in $unit_dir"
unit_changed=0
rendered=$(mktemp -d)
trap 'rm -rf "$rendered"' EXIT
for unit in kiosk.service kiosk-console@.service kiosk-screen.service kiosk-rollback.service kiosk-update-check.service kiosk-update-check.timer; do
  # The units name /usr/bin/node; a Node.js 20 installed elsewhere (e.g. /usr/local/bin) is used instead.
  sed "s|/usr/bin/node |$node_bin |" "$src/systemd/$unit" >"$rendered/$unit"
  if put "$rendered/$unit" "$unit_dir/$unit" 0644; then unit_changed=1; fi
done

step "udev rules: /dev/kiosk/bill-validator, /dev/kiosk/coin-bus, /dev/kiosk/printer, /dev/kiosk/card-reader"
if put "$src/systemd/99-kiosk.rules" "$rules" 0644; then
  run udevadm control --reload
  run udevadm trigger --action=add --subsystem-match=tty --subsystem-match=usbmisc --subsystem-match=usb --subsystem-match=hidraw --subsystem-match=input
fi

step "tmpfiles: /var/lib/kiosk, /run/kiosk and /run/kiosk-console"
put "$src/systemd/kiosk.tmpfiles.conf" "$tmpfiles" 0644 || true
run systemd-tmpfiles --create "$tmpfiles"

step "configuration $config"
run install -d -m 0750 -o root -g kiosk "$etc"
if [ -f "$config" ]; then
  echo "    $config exists: left as it is"
  check_file=$config
else
  run install -m 0640 -o root -g kiosk "$src/systemd/config.example.json" "$config"
  echo "    wrote $config from the example: set server.host, server.port and the tls files, and check the /dev/kiosk/* devices"
  check_file=$config
  [ "$dry" -eq 1 ] && check_file=$src/systemd/config.example.json
fi

step "check the configuration with 'kiosk config check'"
if [ "$dry" -eq 1 ]; then
  # Nothing is installed yet: check the file that would be used, with the checkout's build.
  echo "    checking $check_file"
  "$node_bin" "$src/dist/src/cli.js" config check "$check_file" >/dev/null || fail "$check_file is not a valid configuration"
  echo "    would run: runuser -u kiosk -- $node_bin $app/dist/src/cli.js config check $config"
else
  # As the service's user, so an unreadable file fails here rather than at boot.
  echo "    + runuser -u kiosk -- $node_bin $app/dist/src/cli.js config check $config"
  runuser -u kiosk -- "$node_bin" "$app/dist/src/cli.js" config check "$config" >/dev/null ||
    fail "$config is not valid (the errors are above): fix it, then run this script again"
fi

step "the addresses kiosk.service may reach: $dropin_dir/ip-allow.conf"
# The unit allows loopback only (IPAddressDeny=any); the servers of the configuration and the name
# servers are added here, resolved now (systemd filters by address, not by name).
ip_warning=''
"$node_bin" "$src/systemd/ip-allow.mjs" "$check_file" >"$rendered/ip-allow.conf" || ip_warning=1
sed -n 's/^IPAddressAllow=/    allow /p' "$rendered/ip-allow.conf"
[ -n "$ip_warning" ] && echo "    warning: a configured host did not resolve (above): the kiosk cannot reach it until this script runs again"
if put "$rendered/ip-allow.conf" "$dropin_dir/ip-allow.conf" 0644; then unit_changed=1; fi

step "enable and start kiosk.service"
[ "$unit_changed" -eq 1 ] && run systemctl daemon-reload
run systemctl enable kiosk.service kiosk-update-check.timer
[ "$dry" -eq 0 ] && run systemctl start kiosk-update-check.timer
if [ "$dry" -eq 0 ] && systemctl is-active --quiet kiosk.service; then
  if [ "$app_changed" -eq 1 ] || [ "$unit_changed" -eq 1 ]; then
    run systemctl restart kiosk.service
  else
    echo "    kiosk.service is running and nothing changed"
  fi
else
  run systemctl start kiosk.service
fi

if [ "$screen" -eq 1 ]; then
  step "the customer's screen: user kiosk-screen, kiosk-screen.service on tty1"
  # video and render for the display; not input: logind hands the session's input devices to cage,
  # and a member of input could read every keyboard, the card reader's keystrokes included.
  for group in video render; do
    getent group "$group" >/dev/null || run groupadd --system "$group"
  done
  if id kiosk-screen >/dev/null 2>&1; then
    echo "    user kiosk-screen exists"
  else
    run useradd --system --user-group --groups video,render --home-dir /var/lib/kiosk-screen --no-create-home --shell /usr/sbin/nologin kiosk-screen
  fi
  # Installed by an earlier version with the input group: it leaves it.
  if id -nG kiosk-screen 2>/dev/null | tr ' ' '\n' | grep -qx input; then
    run gpasswd --delete kiosk-screen input
  else
    echo "    kiosk-screen is not in the input group"
  fi
  grep -q '"api"' "$check_file" 2>/dev/null || echo "    warning: $config has no \"api\" section, so no page is served: add \"api\": { \"port\": 8400 }"
  run systemctl enable kiosk-screen.service
  if [ "$dry" -eq 0 ] && [ "$unit_changed" -eq 1 ]; then
    run systemctl restart kiosk-screen.service
  else
    run systemctl start kiosk-screen.service
  fi
fi

if [ -n "$console_port" ]; then
  step "enable the engineers' console on /dev/$console_port"
  instance="kiosk-console@$(systemd-escape "$console_port").service"
  run systemctl enable "$instance"
  if [ "$dry" -eq 0 ] && [ "$unit_changed" -eq 1 ]; then
    run systemctl restart "$instance"
  else
    run systemctl start "$instance"
  fi
fi

if [ "$dry" -eq 1 ]; then
  echo "dry run: nothing was changed"
else
  echo "done: 'systemctl status kiosk' shows the service, 'journalctl -u kiosk -f' its log"
fi
