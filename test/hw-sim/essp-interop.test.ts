/**
 * An eSSP host written by someone else, the npm package encrypted-smiley-secure-protocol (0.0.11,
 * with its own serialport 9), against `kiosk-sim device essp`'s console over a socat pty pair:
 * SYNC, host protocol version, encryption, setup request, channel inhibits, enable, and the
 * READ_NOTE and CREDIT_NOTE events of an inserted 20 yuan note.
 *
 * A bug in the library, worked around here without touching node_modules: initEncryption() draws
 * its generator, modulus and secret from crypto.createDiffieHellman(16), and OpenSSL 3 (Node 17
 * and later) refuses DH groups that small ("modulus too small"), so the call throws before a byte
 * is sent. The test lends it a createDiffieHellman that returns a 16-bit prime, which is what the
 * library expects of it; everything else (its packets, AES key, counter, parsing) is its own.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { runEsspDevice } from '../../hw-sim/devices/essp/console.js';

const require = createRequire(import.meta.url);

interface SspResult {
  success: boolean;
  status: string;
  info: Record<string, unknown> & { channel?: number };
}
interface SspHost {
  open(port: string, param?: { baudRate?: number }): Promise<void>;
  close(): void;
  command(name: string, args?: object): Promise<SspResult>;
  initEncryption(): Promise<void>;
  enable(): Promise<SspResult>;
  disable(): Promise<SspResult>;
  on(event: string, listener: (info: SspResult['info']) => void): void;
  polling: boolean;
  getPromise: unknown;
}
const SspLib = require('encrypted-smiley-secure-protocol') as new (opts: object) => SspHost;
const nodeCrypto = require('node:crypto') as { createDiffieHellman: (...args: unknown[]) => unknown };

/** 16-bit primes, handed out in turn for the generator, the modulus and the host's secret. */
const SMALL_PRIMES = [65521, 65519, 64891];

async function until(what: string, check: () => boolean, limitMs = 20_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('the library shows the bug it is worked around for', async (t) => {
  t.throws(() => nodeCrypto.createDiffieHellman(16), /modulus too small/);
});

t.test('encrypted-smiley-secure-protocol as the host: sync, encryption, setup, enable, read and credit', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'essp-interop-'));
  const devicePath = join(dir, 'device');
  const hostPath = join(dir, 'host');
  const socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${devicePath}`, `pty,raw,echo=0,link=${hostPath}`], { stdio: 'ignore' });
  t.teardown(() => {
    socat.kill();
    rmSync(dir, { recursive: true, force: true });
  });
  await until('socat links', () => existsSync(devicePath) && existsSync(hostPath));

  const input = new PassThrough();
  const output = new PassThrough();
  const lines: string[] = [];
  output.on('data', (chunk: Buffer) => lines.push(...chunk.toString('utf8').split('\n').filter((l) => l.length > 0)));
  const device = await runEsspDevice({ port: devicePath, input, output });
  t.teardown(() => device.stop());

  const ssp = new SspLib({ id: 0, timeout: 3000, fixedKey: '0123456701234567' });
  t.teardown(() => {
    // The library re-sends forever after a time-out; once the test is over it must not.
    ssp.polling = false;
    ssp.getPromise = () => new Promise(() => undefined);
    ssp.close();
  });
  const events: { name: string; channel: number | undefined }[] = [];
  for (const name of ['READ_NOTE', 'NOTE_STACKING', 'CREDIT_NOTE', 'NOTE_STACKED', 'DISABLED', 'SLAVE_RESET']) {
    ssp.on(name, (info) => events.push({ name, channel: info.channel }));
  }

  await ssp.open(hostPath, { baudRate: 9600 });
  t.equal((await ssp.command('SYNC')).status, 'OK', 'SYNC');
  t.equal((await ssp.command('HOST_PROTOCOL_VERSION', { version: 6 })).status, 'OK', 'host protocol version 6');
  t.ok(lines.includes('host: protocol version 6'));

  const original = nodeCrypto.createDiffieHellman;
  let next = 0;
  nodeCrypto.createDiffieHellman = () => ({
    getPrime: () => {
      const prime = SMALL_PRIMES[next++ % SMALL_PRIMES.length]!;
      return Buffer.from([prime >> 8, prime & 0xff]);
    },
  });
  try {
    await ssp.initEncryption();
  } finally {
    nodeCrypto.createDiffieHellman = original;
  }
  t.ok(lines.includes('host: key exchange done, encryption on (eCOUNT 0)'), 'keys negotiated');

  const serial = await ssp.command('GET_SERIAL_NUMBER');
  t.equal(serial.info.serial_number, 12345678, 'an encrypted command and its encrypted reply');
  const setup = await ssp.command('SETUP_REQUEST');
  t.equal(setup.status, 'OK');
  t.equal(setup.info.unit_type, 'Banknote validator');
  t.equal(setup.info.country_code, 'CNY');
  t.equal(setup.info.protocol_version, 6);
  t.same([...(setup.info.channel_value as Uint8Array)], [1, 5, 10, 20, 50, 100], 'channel values');
  t.same(setup.info.expanded_channel_value, [1, 5, 10, 20, 50, 100]);
  t.same(setup.info.expanded_channel_country_code, ['CNY', 'CNY', 'CNY', 'CNY', 'CNY', 'CNY']);
  t.equal(setup.info.real_value_multiplier, 100, 'to fen');

  t.equal((await ssp.command('SET_CHANNEL_INHIBITS', { channels: [1, 1, 1, 1, 1, 1] })).status, 'OK');
  t.ok(lines.some((l) => l.startsWith('host: channel inhibits 3F 00')));
  t.equal((await ssp.enable()).status, 'OK', 'enable');
  await until('first polls', () => events.some((e) => e.name === 'SLAVE_RESET'));

  input.write('insert 2000\n');
  await until('credit', () => events.some((e) => e.name === 'CREDIT_NOTE'));
  await until('stacked', () => lines.includes('stacked 2000 fen'));
  t.ok(events.some((e) => e.name === 'READ_NOTE' && e.channel === 0), 'READ_NOTE while reading');
  t.ok(events.some((e) => e.name === 'READ_NOTE' && e.channel === 4), 'READ_NOTE with channel 4 (20 yuan) in escrow');
  t.same(events.filter((e) => e.name === 'CREDIT_NOTE'), [{ name: 'CREDIT_NOTE', channel: 4 }], 'CREDIT_NOTE for channel 4, once');
  await until('stacked event', () => events.some((e) => e.name === 'NOTE_STACKED'));
  t.ok(lines.includes('stacking 2000 fen'));

  t.equal((await ssp.disable()).status, 'OK', 'disable');
  t.ok(lines.includes('host: disable (disabled)'));
});
