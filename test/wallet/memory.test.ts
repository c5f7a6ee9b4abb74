import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimStack } from '../../hw-sim/stack.js';
import { walletCode, type WalletBehaviour } from '../../hw-sim/wallet-codes.js';
import { memoryNeedles, scanProcessMemory } from '../../hw-sim/runner/memory-scan.js';
import { kioskStatus, until } from '../cards/until.js';

// A core dump of the runtime holds what its memory holds: after wallet payments by payment code
// through the real runtime (the scanner emulator in keyboard mode, the reference gateway over TLS),
// the runtime's whole readable memory is searched for each code shown, one byte a character and
// UTF-16. The masked code is the control: it is there (journal, status), so the heap was read.

const PHONES = ['13900139021', '13900139022', '13900139023'];
const SHOWN: WalletBehaviour[] = ['paid', 'failed-insufficient-balance', 'paid-after-confirm'];

type Status = { terminal: { state: string; services: string[] }; transaction: { state: string; error: string | null } | null; lastTransaction: { id: string; status: string } | null };

t.test('after wallet payments by code the runtime holds no payment code anywhere in its memory', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wallet-memory-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const stack = new SimStack({
    dir,
    accounts: PHONES.map((phone) => ({ phone, amountDue: 3300 })),
    fitted: { scanner: 'keyboard' },
    config: { timeouts: { inputMs: 60_000, lookupMs: 10_000, cashMs: 60_000, mobileQueryIntervalMs: 300 } },
  });
  t.teardown(() => stack.stop());
  await stack.start();
  await stack.startRuntime();
  stack.host.wallet.confirmMs = 1000;
  const status = () => kioskStatus<Status>(stack);
  const codes: string[] = [];
  for (const [i, behaviour] of SHOWN.entries()) {
    await until('the kiosk in service', async () => ((await status()).terminal.state === 'inService' ? true : undefined));
    const r = await stack.control({ cmd: 'start', service: 'pay' });
    t.ok(r.ok, `start: ${JSON.stringify(r)}`);
    const id = r.id as string;
    await stack.control({ cmd: 'number', phone: PHONES[i]! });
    await until('the review', async () => ((await status()).transaction?.state === 'review' ? true : undefined));
    t.ok((await stack.control({ cmd: 'mobile', mode: 'code' })).ok);
    await until('the scanner on', async () => ((await status()).transaction?.state.startsWith('mobile.scanning') ? true : undefined));
    const code = walletCode(behaviour);
    codes.push(code);
    stack.scannerEmulator.show(code, behaviour);
    if (behaviour.startsWith('failed')) {
      await until('the refusal', async () => ((await status()).transaction?.error === 'mobile-failed' ? true : undefined));
      await stack.control({ cmd: 'cancel' });
    }
    const last = await until(`transaction ${id} to end`, async () => {
      const s = await status();
      return s.transaction === null && s.lastTransaction?.id === id ? s.lastTransaction : undefined;
    });
    t.equal(last.status, behaviour.startsWith('failed') ? 'cancelled' : 'completed', `${behaviour}: ${last.status}`);
  }
  const masked = `${codes[0]!.slice(0, 2)}${'*'.repeat(12)}${codes[0]!.slice(-4)}`;
  const scan = scanProcessMemory(stack.runtimePid!, [...codes.flatMap((c, i) => memoryNeedles(`code ${SHOWN[i]}`, c)), ...memoryNeedles('masked', masked)]);
  t.ok(scan.bytesRead > 10_000_000, `read ${scan.bytesRead} bytes of the runtime's memory`);
  t.ok(scan.findings.some((f) => f.label.startsWith('masked')), 'the masked code is in its memory');
  t.same(scan.findings.filter((f) => !f.label.startsWith('masked')), [], 'no full payment code');
  await stack.killRuntime('SIGTERM');
});
