import t from 'tap';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimStack } from '../../hw-sim/stack.js';
import { Journal, readKey } from '../../src/journal/index.js';
import { scanFolder } from '../../hw-sim/runner/pan-scan.js';
import { cardOffered, kioskStatus, until } from './until.js';

// The real runtime (dist/, built by `npx tsc -p tsconfig.json`) with a ZVT terminal emulator on
// loopback TCP, a printer emulator and the reference server; the customer is played over the
// control socket, one bill after another on the same kiosk.
// One account per bill: a paid bill leaves nothing due on its account.
const PHONES = ['13800138001', '13800138002', '13800138003', '13800138004', '13800138005'];
const DUE = 3000;

type Status = {
  terminal: { state: string; card: string | null };
  transaction: { state: string; error: string | null; cardStage: string | null } | null;
  lastTransaction: { id: string; status: string; endReason: string; cashIn: number; cardIn: number; credited: number } | null;
  devices: Record<string, { health: string }>;
  outbox: { pending: number };
};


t.test('card payments at a ZVT terminal through the real runtime', async (t) => {
  // A short folder: the control socket's path must fit a unix socket address.
  const dir = mkdtempSync(join(tmpdir(), 'card-zvt-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const stack = new SimStack({
    dir,
    accounts: PHONES.map((phone) => ({ phone, amountDue: DUE })),
    fitted: { zvt: true, printer: true },
    config: {
      timeouts: { inputMs: 60_000, lookupMs: 10_000, cashMs: 60_000, cardMs: 30_000, cardAuthMs: 30_000 },
      // Short driver time-outs so that a terminal going silent is noticed within the test.
      paymentTerminal: { transport: 'tcp', host: '127.0.0.1', idleTimeoutMs: 2000, abortWaitMs: 1000, ackTimeoutMs: 2000 },
    },
  });
  t.teardown(() => stack.stop());
  await stack.start();
  await stack.startRuntime();

  const status = () => kioskStatus<Status>(stack);
  const terminalReady = () => cardOffered(stack, 'terminal');
  const startBill = async (phone: string) => {
    await terminalReady();
    const r = await stack.control({ cmd: 'start', service: 'pay' });
    t.ok(r.ok, `start: ${JSON.stringify(r)}`);
    await stack.control({ cmd: 'number', phone });
    await until('the review', async () => ((await status()).transaction?.state === 'review' ? true : undefined));
    return r.id as string;
  };
  const ended = (id: string) =>
    until(`transaction ${id} to end`, async () => {
      const s = await status();
      return s.transaction === null && s.lastTransaction?.id === id ? s.lastTransaction : undefined;
    });
  const net = () => /approved (\d+) fen, reversed (\d+) fen/.exec(stack.zvtEmulator.describe())!.slice(1).map(Number) as [number, number];

  await t.test('approved: paid by card, the server is sent the payment, the receipt says card', async (t) => {
    const id = await startBill(PHONES[0]!);
    const [approved] = net();
    stack.zvtEmulator.choose('approve');
    t.ok((await stack.control({ cmd: 'card' })).ok);
    const txn = await ended(id);
    t.match(txn, { status: 'completed', endReason: 'paid', cashIn: 0, cardIn: DUE, credited: DUE });
    t.same(net(), [approved + DUE, 0]);
    const records = await until('the payment at the server', async () => {
      const r = (await (await fetch(`${stack.host.url}/_records`)).json()) as { payments: { txnId: string; amount: number }[] };
      return r.payments.find((p) => p.txnId === id);
    });
    t.match(records, { amount: DUE });
    const receipt = await until('the receipt', async () => {
      if (!existsSync(stack.receiptsDir)) return undefined;
      const texts = readdirSync(stack.receiptsDir).map((f) => readFileSync(join(stack.receiptsDir, f), 'utf8'));
      return texts.find((x) => x.includes(id.slice(0, 8)) || x.includes('Card'));
    });
    t.match(receipt, /Card/);
  });

  await t.test('declined: back at the review with card-declined, nothing booked, then cancelled', async (t) => {
    const id = await startBill(PHONES[1]!);
    const before = net();
    stack.zvtEmulator.choose('decline');
    await stack.control({ cmd: 'card' });
    const back = await until('the review again', async () => {
      const s = await status();
      return s.transaction?.state === 'review' && s.transaction.error ? s.transaction : undefined;
    });
    t.equal(back.error, 'card-declined');
    await stack.control({ cmd: 'cancel' });
    t.match(await ended(id), { status: 'cancelled', cardIn: 0 });
    t.same(net(), before, 'the decline booked nothing');
  });

  await t.test('link dropped after the approval: the booking is reversed at the terminal, the bill is not paid', async (t) => {
    const id = await startBill(PHONES[2]!);
    const [approved, reversed] = net();
    stack.zvtEmulator.choose('drop-after-approval');
    await stack.control({ cmd: 'card' });
    t.match(await ended(id), { status: 'cancelled', endReason: 'card-unknown', cardIn: 0, credited: 0 });
    await until('the reversal at the terminal', async () => (net()[1] === reversed + DUE ? true : undefined));
    t.same(net(), [approved + DUE, reversed + DUE], 'booked and reversed: the customer is not charged');
    const r = (await (await fetch(`${stack.host.url}/_records`)).json()) as { payments: { txnId: string }[] };
    t.notOk(r.payments.some((p) => p.txnId === id), 'no payment for it reached the server');
  });

  await t.test('silent after the PIN: the outcome is unknown, nothing to reverse by number, an alarm for the operator', async (t) => {
    const id = await startBill(PHONES[3]!);
    const before = net();
    stack.zvtEmulator.choose('silent-after-pin');
    await stack.control({ cmd: 'card' });
    t.match(await ended(id), { status: 'cancelled', endReason: 'card-unknown', cardIn: 0 });
    t.same(net(), before, 'the silent terminal booked nothing');
  });

  await t.test('a terminal that prints the full card number: journalled and printed masked to 6 + 4', async (t) => {
    const id = await startBill(PHONES[4]!);
    // Whole, grouped, and split over two lines.
    stack.zvtEmulator.receiptExtra = ['CARD 4111111111111111', 'PAN 5555 5555', '5555 4444'];
    t.teardown(() => void (stack.zvtEmulator.receiptExtra = []));
    stack.zvtEmulator.choose('approve');
    await stack.control({ cmd: 'card' });
    t.match(await ended(id), { status: 'completed', cardIn: DUE });
    const receipt = await until('the receipt with the terminal lines', async () => {
      if (!existsSync(stack.receiptsDir)) return undefined;
      return readdirSync(stack.receiptsDir)
        .map((f) => readFileSync(join(stack.receiptsDir, f), 'utf8'))
        .find((x) => x.includes('CARD 411111'));
    });
    t.match(receipt, /CARD 411111\*{6}1111/);
    t.match(receipt, /PAN 5555 55\*\*\s+\*{4} 4444/);
  });

  t.same(net(), [3 * DUE, DUE], 'approved minus reversed is what the customer paid for');
  const verify = await stack.control({ cmd: 'verify' });
  t.same(verify.problems, [], 'journal money invariants hold');
  await stack.killRuntime('SIGTERM');
  const j = Journal.open(join(dir, 'journal.db'), { key: readKey(join(dir, 'journal.key')) });
  t.teardown(() => j.close());
  const all = j.listTransactions();
  const unresolved = all.flatMap((x) => j.events(x.id)).filter((e) => e.type === 'alarm.card-unresolved');
  t.equal(unresolved.length, 1, 'the silent terminal left one unresolved request for the operator');
  t.same(j.pendingTerminalReversals(), []);
  t.same(j.verify(), []);
  const receiptEvents = all.flatMap((x) => j.events(x.id)).filter((e) => e.type === 'terminal.receipt');
  t.ok(receiptEvents.some((e) => (e.data.lines as string[]).includes('CARD 411111******1111')), "the terminal's lines are journalled masked");
  // The journal (with its WAL) and the printed receipts hold no card number in any form.
  t.same(scanFolder(dir).findings.filter((f) => !f.file.startsWith('pki/')), [], 'no card number left in the kiosk files');
});
