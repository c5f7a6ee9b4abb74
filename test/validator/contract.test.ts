/**
 * The bill validator contract, run for every validator model in the registry against the model's
 * emulator (its fake device) over a socat pseudo-terminal pair: the driver comes from the model's
 * descriptor with its own line settings, the emulator from its emulator descriptor. A new model is
 * checked here by adding its two list lines, without a test of its own.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t, { type Test } from 'tap';
import { VALIDATORS } from '../../drivers/registry.js';
import type { BillValidator, BillValidatorHooks, EscrowDecision, Note } from '../../drivers/types.js';
import { validatorEmulator } from '../../hw-sim/devices/validators.js';

async function until(what: string, check: () => boolean, limitMs = 15_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Rig {
  driver: BillValidator;
  say(command: string): void;
  calls: string[];
  returned: (Note | null)[];
}

async function rig(t: Test, model: string, decide: (n: Note) => EscrowDecision): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), `contract-${model}-`));
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
  output.resume();
  const device = await validatorEmulator(model).run({
    port: devicePath,
    input,
    output,
    timing: { acceptingMs: 100, stackingMs: 200, stackedMs: 100, returningMs: 200 },
  });
  t.teardown(() => device.stop());

  const driver = await VALIDATORS.find((d) => d.model === model)!.create({ port: hostPath, pollIntervalMs: 50 });
  const calls: string[] = [];
  const returned: (Note | null)[] = [];
  driver.on('returned', (n) => returned.push(n));
  const hooks: BillValidatorHooks = {
    escrow: async (n) => {
      calls.push(`escrow ${n.value}`);
      return decide(n);
    },
    credited: async (n) => void calls.push(`credited ${n?.value ?? 'unknown'}`),
  };
  driver.setHooks(hooks);
  t.teardown(() => driver.close());
  await driver.open();
  return { driver, say: (c) => input.write(`${c}\n`), calls, returned };
}

for (const descriptor of VALIDATORS) {
  const model = descriptor.model;

  t.test(`${model}: the descriptor names a bill validator with an options schema and diagnostics`, async (t) => {
    t.equal(descriptor.kind, 'bill-validator');
    t.ok(descriptor.options.safeParse({}).success, 'every model option is optional');
    t.equal(descriptor.diag?.kind, model, 'kiosk diag --kind knows it');
    t.equal(validatorEmulator(model).model, model, 'the simulator has its emulator');
  });

  t.test(`${model}: open, denominations, stack: escrow asked first, then credited once`, async (t) => {
    const r = await rig(t, model, () => 'stack');
    t.equal(r.driver.kind, 'bill-validator');
    t.equal(r.driver.status().health, 'ok');
    const values = r.driver.denominations().map((n) => n.value);
    t.ok(values.length > 0, 'the device reports its notes');
    t.same(values, [...values].sort((a, b) => a - b), 'in ascending value');
    t.ok(r.driver.identity().model.length > 0);
    const note = values.includes(2000) ? 2000 : values[0]!;
    await r.driver.enable([note]);
    r.say(`insert ${note}`);
    await until('credited', () => r.calls.length >= 2);
    await new Promise((resolve) => setTimeout(resolve, 300));
    t.same(r.calls, [`escrow ${note}`, `credited ${note}`]);
    await r.driver.disable();
  });

  t.test(`${model}: return: the note comes back, nothing credited`, async (t) => {
    const r = await rig(t, model, () => 'return');
    const note = r.driver.denominations()[0]!.value;
    await r.driver.enable([note]);
    r.say(`insert ${note}`);
    await until('returned', () => r.returned.length === 1);
    t.equal(r.returned[0]?.value, note);
    t.same(r.calls, [`escrow ${note}`]);
  });

  t.test(`${model}: enable before ready keeps the wish; open needs hooks; close is idempotent`, async (t) => {
    const bare = await descriptor.create({ port: '/nonexistent/validator' });
    await t.rejects(bare.open(), /setHooks\(\) must be called before open\(\)/);
    await t.rejects(bare.enable([1000]), /not ready/);
    await bare.disable();
    await bare.close();
    await bare.close();
    t.equal(bare.status().health, 'offline');
  });
}
