import t from 'tap';
import { existsSync, mkdtempSync, lstatSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimStack } from '../../hw-sim/stack.js';
import { SERVER_TEST_CARDS, TEST_CARDS } from '../../hw-sim/devices/hid-card/reports.js';
import type { CardAuthorisationRecord } from '../../hw-sim/host/store.js';
import { cardOffered, kioskStatus, until } from './until.js';

// The real runtime (dist/) with a keyboard-wedge stripe reader emulator and the reference server,
// which authorises the card data the kiosk sends over the TLS link. The customer is played over
// the control socket.
const PHONES = ['13900139001', '13900139002', '13900139003', '13900139004', '13900139005'];
const DUE = 4500;

type Txn = { id: string; status: string; endReason: string; cashIn: number; cardIn: number; credited: number };
type Status = {
  terminal: { state: string; card: string | null };
  transaction: { state: string; error: string | null; cardStage: string | null; maskedPan: string | null } | null;
  lastTransaction: Txn | null;
};
type Records = { payments: { txnId: string; amount: number; card?: { requestId?: string } | null }[]; cardAuthorisations: CardAuthorisationRecord[] };


t.test('card payments with a stripe reader through the real runtime, and no card data left behind', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'card-hid-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const logs: string[] = [];
  const stack = new SimStack({
    dir,
    accounts: PHONES.map((phone) => ({ phone, amountDue: DUE })),
    fitted: { cardReader: 'keyboard', printer: true },
    config: { timeouts: { inputMs: 60_000, lookupMs: 10_000, cashMs: 60_000, cardMs: 30_000, cardAuthMs: 30_000 } },
    onRuntimeLog: (e) => logs.push(JSON.stringify(e)),
    onDeviceLine: (device, line) => logs.push(`${device}: ${line}`),
  });
  t.teardown(() => stack.stop());
  await stack.start();
  await stack.startRuntime();

  const status = () => kioskStatus<Status>(stack);
  const records = async () => (await (await fetch(`${stack.host.url}/_records`)).json()) as Records;
  const startBill = async (phone: string) => {
    await cardOffered(stack, 'reader');
    const r = await stack.control({ cmd: 'start', service: 'pay' });
    t.ok(r.ok, `start: ${JSON.stringify(r)}`);
    await stack.control({ cmd: 'number', phone });
    await until('the review', async () => ((await status()).transaction?.state === 'review' ? true : undefined));
    t.ok((await stack.control({ cmd: 'card' })).ok);
    await until('the card screen', async () => ((await status()).transaction?.cardStage === 'present-card' ? true : undefined));
    return r.id as string;
  };
  const ended = (id: string) =>
    until(`transaction ${id} to end`, async () => {
      const s = await status();
      return s.transaction === null && s.lastTransaction?.id === id ? s.lastTransaction : undefined;
    });
  const authOf = async (id: string) => (await records()).cardAuthorisations.filter((a) => a.txnId === id && a.outcome !== 'tombstone');
  const reversedAtServer = (id: string) =>
    until(`the server to hold ${id}'s authorisation reversed`, async () => {
      const a = await authOf(id);
      return a.length === 1 && a[0]!.reversed ? a[0] : undefined;
    });

  await t.test('approved: the bill is paid by card, the server holds one approval and the payment', async (t) => {
    const id = await startBill(PHONES[0]!);
    stack.cardReaderEmulator.swipe('visa');
    t.match(await ended(id), { status: 'completed', endReason: 'paid', cashIn: 0, cardIn: DUE, credited: DUE });
    const payment = await until('the payment at the server', async () => (await records()).payments.find((p) => p.txnId === id));
    t.match(payment, { amount: DUE });
    const auths = await authOf(id);
    t.match(auths, [{ outcome: 'approved', amount: DUE, maskedPan: '411111******1111' }]);
    t.notOk(auths[0]!.reversed);
  });

  await t.test('a garbage swipe is a read error on the screen; then a declined card goes back to the review', async (t) => {
    const id = await startBill(PHONES[1]!);
    stack.cardReaderEmulator.swipe('visa', 'garbage');
    await until('the read error', async () => ((await status()).transaction?.cardStage === 'read-error' ? true : undefined));
    stack.cardReaderEmulator.swipe('declined');
    const back = await until('the review again', async () => {
      const s = await status();
      return s.transaction?.state === 'review' && s.transaction.error ? s.transaction : undefined;
    });
    t.equal(back.error, 'card-declined');
    await stack.control({ cmd: 'cancel' });
    t.match(await ended(id), { status: 'cancelled', cardIn: 0 });
    t.match(await authOf(id), [{ outcome: 'declined' }]);
  });

  await t.test('link dropped after the server approved: reversed by id, never paid', async (t) => {
    const id = await startBill(PHONES[2]!);
    stack.cardReaderEmulator.swipe('drop-after-approve');
    t.match(await ended(id), { status: 'cancelled', endReason: 'card-unknown', cardIn: 0 });
    await reversedAtServer(id);
    t.notOk((await records()).payments.some((p) => p.txnId === id), 'no payment for it');
  });

  await t.test('no answer from the server: the outcome is unknown and the approval is reversed', async (t) => {
    const id = await startBill(PHONES[3]!);
    stack.cardReaderEmulator.swipe('auth-timeout');
    t.match(await ended(id), { status: 'cancelled', endReason: 'card-unknown', cardIn: 0 });
    await reversedAtServer(id);
  });

  await t.test('SIGKILL during the authorisation: recovery reverses it and never completes the payment', async (t) => {
    const id = await startBill(PHONES[4]!);
    stack.cardReaderEmulator.swipe('auth-timeout');
    // The server has approved and recorded it, and will never answer: kill the kiosk now.
    await until('the server to hold the request', async () => ((await authOf(id)).length === 1 ? true : undefined));
    await stack.killRuntime('SIGKILL');
    await stack.startRuntime();
    const txn = await until('recovery to close it', async () => {
      const r = await stack.control({ cmd: 'transaction', id });
      const x = r.ok ? (r.transaction as Txn) : undefined;
      return x && x.status !== 'open' ? x : undefined;
    });
    t.match(txn, { status: 'cancelled', cardIn: 0, credited: 0 });
    await reversedAtServer(id);
    t.notOk((await records()).payments.some((p) => p.txnId === id));
  });

  const verify = await stack.control({ cmd: 'verify' });
  t.same(verify.problems, [], 'journal money invariants hold');
  const r = await records();
  for (const a of r.cardAuthorisations.filter((x) => x.outcome === 'approved')) {
    const paid = r.payments.some((p) => p.card?.requestId === a.requestId);
    t.ok(paid !== a.reversed, `authorisation ${a.requestId}: paid or reversed, never both nor neither`);
  }
  await stack.killRuntime('SIGTERM');

  // What the kiosk wrote: its journal (with the WAL), receipts, configuration and every log line.
  const kioskFiles = (folder: string): string[] =>
    readdirSync(folder).flatMap((f) => {
      const p = join(folder, f);
      const st = lstatSync(p);
      if (st.isDirectory()) return f === 'pki' ? [] : kioskFiles(p);
      // Regular files only: the ptys and sockets of the emulators are not the kiosk's.
      return st.isFile() && !f.startsWith('host.db') ? [p] : [];
    });
  const texts = [...kioskFiles(dir).map((p) => readFileSync(p).toString('latin1')), logs.join('\n')];
  t.ok(existsSync(join(dir, 'journal.db')));
  const secrets = [...Object.values(TEST_CARDS), ...Object.values(SERVER_TEST_CARDS)].flatMap((c) => [c.pan, `${c.pan}=`, c.name]);
  for (const secret of secrets) {
    t.notOk(texts.some((x) => x.includes(secret)), `${secret.replace(/\d(?=\d{4})/g, '*')} appears nowhere in the kiosk's files or logs`);
  }
});
