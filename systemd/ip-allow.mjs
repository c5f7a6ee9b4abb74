#!/usr/bin/env node
// Prints the drop-in that lets kiosk.service reach the hosts its configuration names, for
// install.sh to write to /etc/systemd/system/kiosk.service.d/ip-allow.conf. The unit itself allows
// loopback only (IPAddressDeny=any): systemd filters by address, so host names are resolved here,
// at install time, with the name servers of /etc/resolv.conf added so that the kiosk can resolve
// them again. A host that does not resolve is named on stderr and left out.
//
//   node systemd/ip-allow.mjs /etc/kiosk/config.json [resolv.conf]
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

const [configPath, resolvPath = '/etc/resolv.conf'] = process.argv.slice(2);
if (!configPath) {
  console.error('ip-allow: give the configuration file');
  process.exit(2);
}

let config;
try {
  config = JSON.parse(readFileSync(configPath, 'utf8'));
} catch (e) {
  console.error(`ip-allow: cannot read ${configPath}: ${e.message}`);
  process.exit(2);
}

/** [what, host] of every server the runtime connects to. */
const targets = [['server.host', config.server?.host]];
if (config.management) targets.push(['management.host', config.management.host ?? config.server?.host]);
if (config.paymentTerminal?.transport === 'tcp') targets.push(['paymentTerminal.host', config.paymentTerminal.host]);

const isLoopback = (a) => a === '::1' || a.startsWith('127.');
const allowed = new Map();
let unresolved = 0;
for (const [what, host] of targets) {
  if (typeof host !== 'string' || host === '') continue;
  let addresses;
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await lookup(host, { all: true })).map((a) => a.address);
    } catch (e) {
      console.error(`ip-allow: ${what} ${host} does not resolve (${e.code ?? e.message}): the kiosk cannot reach it until this is run again`);
      unresolved++;
      continue;
    }
  }
  for (const a of addresses) if (!isLoopback(a)) allowed.set(a, `${what} ${host}`);
}

let resolv = '';
try {
  resolv = readFileSync(resolvPath, 'utf8');
} catch {
  // No resolver file: only addresses given as such can be reached.
}
for (const line of resolv.split('\n')) {
  const m = /^\s*nameserver\s+(\S+)/.exec(line);
  if (m && isIP(m[1]) && !isLoopback(m[1]) && !allowed.has(m[1])) allowed.set(m[1], 'name server');
}

const lines = [
  `# Written by install.sh from ${configPath}: the addresses kiosk.service may reach besides loopback.`,
  '# Run install.sh again (or edit this file, then systemctl daemon-reload) when one of them changes.',
  '[Service]',
];
for (const [address, why] of allowed) lines.push(`# ${why}`, `IPAddressAllow=${address}`);
process.stdout.write(lines.join('\n') + '\n');
process.exitCode = unresolved > 0 ? 1 : 0;
