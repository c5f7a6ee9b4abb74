// kiosk diag against every fault each emulator can be told to show (issue 21, item 1): a device
// that is not ready must never pass. One stack per validator protocol, and one with the coin
// acceptor, the hoppers and the printer; each fault is typed into the emulator, as a technician
// would, then diag checks that one device by --port and --kind and must fail, naming the fault.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { SimStack } from '../../hw-sim/stack.js';
import type { DeviceReport } from '../../src/diag/checks.js';
import { runDiag, type DiagOptions } from '../../src/diag/run.js';

async function diag(opts: Partial<DiagOptions>): Promise<{ ok: boolean; report: DeviceReport; text: string }> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const ok = await runDiag({ json: true, payout: false, print: false, isTTY: false, out, timeoutMs: 6000, ...opts });
  const text = Buffer.concat(chunks).toString('utf8');
  const { devices } = JSON.parse(text) as { devices: DeviceReport[] };
  return { ok, report: devices[0]!, text };
}

function failures(report: DeviceReport): string {
  return report.steps
    .filter((s) => s.outcome === 'failed')
    .map((s) => `${s.name}: ${s.detail}`)
    .join('; ');
}

/** Each emulator's faults (its `help`), and what the failed check must say. */
const VALIDATOR_FAULTS: Record<string, [string, RegExp][]> = {
  id003: [
    ['stacker-open', /stacker-open/],
    ['jam', /jam-acceptor/],
    ['stacker-full', /stacker-full/],
    ['cheated', /cheated/],
    ['pause', /not ready \(pause\)/],
    ['failure A2', /failure/],
    ['silent', /no answer/],
  ],
  essp: [
    ['stacker-open', /stacker-open/],
    ['jam', /jam-acceptor/],
    ['safe-jam', /jam-stacker/],
    ['stacker-full', /stacker-full/],
    ['path-open', /path-open/],
    ['silent', /no answer/],
  ],
  ccnet: [
    ['stacker-open', /stacker-open/],
    ['jam', /jam-acceptor/],
    ['jam-stacker', /jam-stacker/],
    ['stacker-full', /stacker-full/],
    ['cheated', /cheated/],
    ['pause', /not ready \(pause\)/],
    ['failure 41', /failure/],
    ['silent', /no answer/],
  ],
};

async function startStack(t: { teardown(fn: () => Promise<void>): void }, opts: Omit<ConstructorParameters<typeof SimStack>[0], 'dir'>): Promise<SimStack> {
  const dir = mkdtempSync(join(tmpdir(), 'kiosk-diag-faults-'));
  const stack = new SimStack({ dir, ...opts });
  await stack.start();
  t.teardown(async () => {
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return stack;
}

for (const [model, faults] of Object.entries(VALIDATOR_FAULTS)) {
  t.test(`${model} validator: every fault fails diag, and exits non-zero`, async (t) => {
    const stack = await startStack(t, { validatorModel: model as 'id003' });
    const port = stack.hostPort('validator');
    const healthy = await diag({ port, kind: model });
    t.ok(healthy.ok, `a ready ${model} passes: ${failures(healthy.report)}`);
    for (const [fault, says] of faults) {
      stack.deviceCommand(fault);
      const r = await diag({ port, kind: model });
      t.notOk(r.ok, `${fault}: diag fails`);
      t.match(failures(r.report), says, `${fault}: the report names it: ${failures(r.report)}`);
      stack.deviceCommand('clear');
    }
    const again = await diag({ port, kind: model });
    t.ok(again.ok, `after clear it passes again: ${failures(again.report)}`);
  });
}

t.test('coin acceptor, hoppers and printer: every fault fails diag', async (t) => {
  const stack = await startStack(t, { fitted: { coins: true, hoppers: true, printer: true } });
  const cases: { device: string; kind: string; address?: number; fault: string; says: RegExp; payout?: boolean }[] = [
    { device: 'coin', kind: 'cctalk-coin', address: 2, fault: 'jam', says: /.+/ },
    { device: 'coin', kind: 'cctalk-coin', address: 2, fault: 'silent', says: /no answer/ },
    { device: 'h100', kind: 'cctalk-hopper', address: 3, fault: 'jam', says: /.+/, payout: true },
    { device: 'h100', kind: 'cctalk-hopper', address: 3, fault: 'empty', says: /.+/, payout: true },
    { device: 'h100', kind: 'cctalk-hopper', address: 3, fault: 'silent', says: /no answer/ },
    { device: 'printer', kind: 'escpos', fault: 'paper-near-end', says: /near/ },
    { device: 'printer', kind: 'escpos', fault: 'paper-out', says: /paper out/ },
    { device: 'printer', kind: 'escpos', fault: 'cover-open', says: /cover open/ },
    { device: 'printer', kind: 'escpos', fault: 'cutter-error', says: /cutter/ },
    { device: 'printer', kind: 'escpos', fault: 'head-hot', says: /.+/ },
    { device: 'printer', kind: 'escpos', fault: 'silent', says: /no answer/ },
  ];
  for (const c of cases) {
    const base = { port: stack.hostPort(c.device), kind: c.kind, ...(c.address !== undefined ? { address: c.address } : {}) };
    stack.deviceCommand(c.fault, c.device);
    const r = await diag({ ...base, payout: c.payout ?? false });
    t.notOk(r.ok, `${c.device} ${c.fault}: diag fails`);
    t.match(failures(r.report), c.says, `${c.device} ${c.fault}: ${failures(r.report)}`);
    stack.deviceCommand(c.fault === 'empty' ? 'refill 100' : 'clear', c.device);
    // A hopper keeps its test flags (a jam seen, a payout that ran dry) until it is reset.
    if (c.device === 'h100') stack.deviceCommand('power-cycle', c.device);
  }
  for (const [device, kind, address] of [['coin', 'cctalk-coin', 2], ['h100', 'cctalk-hopper', 3], ['printer', 'escpos', undefined]] as const) {
    const r = await diag({ port: stack.hostPort(device), kind, ...(address !== undefined ? { address } : {}) });
    t.ok(r.ok, `${device} passes again once cleared: ${failures(r.report)}`);
  }
});
