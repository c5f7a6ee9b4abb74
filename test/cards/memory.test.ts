import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimStack } from '../../hw-sim/stack.js';
import { testCard, track2 } from '../../hw-sim/devices/hid-card/reports.js';
import { memoryNeedles, scanProcessMemory, type MemoryNeedle } from '../../hw-sim/runner/memory-scan.js';
import { cardOffered, kioskStatus, until } from './until.js';

// A core dump of the runtime holds what its memory holds: after card payments through the real
// runtime (keyboard-wedge or vendor-report reader emulator, reference server over TLS), the runtime's whole readable
// memory is searched for each swiped card's full number and track 2, one byte a character and UTF-16.

const PHONES = ['13900139011', '13900139012', '13900139013'];
const DUE = 3300;
const SWIPED = ['visa', 'mastercard', 'declined'] as const;

type Status = {
  transaction: { state: string; cardStage: string | null; error: string | null } | null;
  lastTransaction: { id: string; status: string } | null;
};

function needles(): MemoryNeedle[] {
  return SWIPED.flatMap((name) => {
    const card = testCard(name)!;
    return [...memoryNeedles(`${name} pan`, card.pan), ...memoryNeedles(`${name} track2`, track2(card).slice(1, -1))];
  });
}

t.test('the scan finds a card number a live process holds, as a one-byte and as a two-byte string', async (t) => {
  // Built at run time, so the number is in the heap as strings and not only in the script's source.
  const script = `const p=['4111','1111','1111','1111'].join(''); globalThis.a=p; globalThis.b=[...('\\u4e2d'+p)].join(''); process.stdout.write('ready\\n'); setInterval(()=>{},1000);`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void child.kill('SIGKILL'));
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  const scan = scanProcessMemory(child.pid!, memoryNeedles('visa pan', '4111111111111111'));
  const labels = new Set(scan.findings.map((f) => f.label));
  t.ok(labels.has('visa pan ascii'), 'found as a one-byte string');
  t.ok(labels.has('visa pan utf16le'), 'found as a two-byte string');
  t.ok(scan.bytesRead > 10_000_000, `read ${scan.bytesRead} bytes`);
});

for (const reader of ['keyboard', 'vendor'] as const) t.test(`after card payments with a ${reader} reader the runtime holds no card number and no track 2 anywhere in its memory`, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'card-memory-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const stack = new SimStack({
    dir,
    accounts: PHONES.map((phone) => ({ phone, amountDue: DUE })),
    fitted: { cardReader: reader, printer: true },
    config: { timeouts: { inputMs: 60_000, lookupMs: 10_000, cashMs: 60_000, cardMs: 30_000, cardAuthMs: 30_000 } },
  });
  t.teardown(() => stack.stop());
  await stack.start();
  await stack.startRuntime();
  const status = () => kioskStatus<Status>(stack);

  for (const [i, name] of SWIPED.entries()) {
    await cardOffered(stack, 'reader');
    const r = await stack.control({ cmd: 'start', service: 'pay' });
    t.ok(r.ok, `start: ${JSON.stringify(r)}`);
    const id = r.id as string;
    await stack.control({ cmd: 'number', phone: PHONES[i]! });
    await until('the review', async () => ((await status()).transaction?.state === 'review' ? true : undefined));
    t.ok((await stack.control({ cmd: 'card' })).ok);
    await until('the card screen', async () => ((await status()).transaction?.cardStage === 'present-card' ? true : undefined));
    stack.cardReaderEmulator.swipe(name);
    if (name === 'declined') {
      await until('the decline', async () => ((await status()).transaction?.error === 'card-declined' ? true : undefined));
      await stack.control({ cmd: 'cancel' });
    }
    const last = await until(`transaction ${id} to end`, async () => {
      const s = await status();
      return s.transaction === null && s.lastTransaction?.id === id ? s.lastTransaction : undefined;
    });
    t.equal(last.status, name === 'declined' ? 'cancelled' : 'completed', `${name}: ${last.status}`);
  }
  await until('both payments at the server', async () => {
    const records = (await (await fetch(`${stack.host.url}/_records`)).json()) as { payments: unknown[] };
    return records.payments.length >= 2 ? true : undefined;
  });

  const pid = stack.runtimePid!;
  const scan = scanProcessMemory(pid, [...needles(), ...memoryNeedles('masked', '411111******1111')]);
  t.ok(scan.bytesRead > 10_000_000, `read ${scan.bytesRead} bytes of the runtime's memory`);
  // The control: the masked number is there (the journal, the status), so the heap was read.
  t.ok(scan.findings.some((f) => f.label.startsWith('masked')), 'the masked card number is in its memory');
  const leaks = scan.findings.filter((f) => !f.label.startsWith('masked'));
  t.same(leaks, [], 'no full card number, no track 2');
  await stack.killRuntime('SIGTERM');
});
