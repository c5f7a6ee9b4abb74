/**
 * Card authorisation over the business link: the real EnvelopeAdapter against the reference host on
 * a real mutual-TLS link (and a scripted server for answers the host never gives).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { cardRequestBody, EnvelopeAdapter } from '../../src/uplink/link/envelope-adapter.js';
import { ErrorCode, Service } from '../../src/uplink/link/envelope.js';
import { paymentPayloadSchema } from '../../src/uplink/messages.js';
import { UplinkError, type UplinkErrorKind } from '../../src/uplink/errors.js';
import type { CardAuthorisationRequest, OutboxMessage } from '../../src/uplink/adapter.js';
import { readSwipe, type CardData } from '../../drivers/hid-card/tracks.js';
import { seal } from '../../drivers/hid-card/mask.js';
import type { CardRead } from '../../drivers/types.js';
import { TEST_CARDS, track1, track2 } from '../../hw-sim/devices/hid-card/reports.js';
import { TEST_PANS } from '../../hw-sim/host/card-authorisation.js';
import type { RunningHost } from '../../hw-sim/host/server.js';
import { answer, makePki, scriptedServer } from './link-server.js';
import { world } from './world.js';

const VISA = '4111111111111111';
const panOf = (behaviour: string, reason?: string): string =>
  Object.entries(TEST_PANS).find(([, b]) => b.behaviour === behaviour && (reason === undefined || b.reason === reason))![0];
const DECLINED = panOf('decline', 'insufficient-funds');
const TIMEOUT = panOf('timeout');
const DROP = panOf('drop-after-approve');
const BAD_ANSWER = panOf('bad-answer');
const ALL_PANS = [VISA, ...Object.keys(TEST_PANS)];
const KEY = Buffer.alloc(32, 7);

interface Swipe {
  read: CardRead;
  /** The buffers the sealed card owns, kept to check they were zero-filled. */
  data: CardData;
}

/** A real swipe of a test card with this number, both tracks, through the driver's parser and sealing. */
function swipe(pan: string, tracks: 'both' | 'track1' = 'both'): Swipe {
  const card = { ...TEST_CARDS.visa!, pan };
  const data = readSwipe(Buffer.from(tracks === 'both' ? track1(card) + track2(card) : track1(card), 'latin1'));
  return { read: seal(data, KEY), data };
}

function wipedCheck(t: Test, s: Swipe, what: string): void {
  t.ok(s.read.sensitive.wiped, `${what}: the sensitive card is wiped`);
  const buffers = [s.data.pan, s.data.expiry, s.data.track1?.raw, s.data.track2?.raw].filter((b): b is Buffer => b !== undefined);
  t.ok(buffers.every((b) => b.every((x) => x === 0)), `${what}: its buffers are zero-filled`);
}

let n = 0;
function request(over: Partial<CardAuthorisationRequest> = {}): CardAuthorisationRequest {
  n += 1;
  return { requestId: `R${n}`, txnId: `TX${n}`, phone: '13800138000', amount: 5000, ...over };
}

async function failure(p: Promise<unknown>): Promise<{ kind: UplinkErrorKind; message: string }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof UplinkError)) throw new Error(`expected an UplinkError, got ${String(err)}`);
  return { kind: err.kind, message: err.message };
}

interface Logged {
  lines: string[];
}
const logger = (into: Logged) => {
  const add = (...args: unknown[]) => void into.lines.push(JSON.stringify(args));
  return { debug: add, info: add, warn: add };
};

async function cardWorld(t: Test, timeoutMs = 1500) {
  const logs: Logged = { lines: [] };
  const w = await world(t, { host: { log: logger(logs) }, session: { timeoutMs, log: logger(logs) } });
  t.ok(await w.adapter.waitUp(10_000), 'link up');
  return { ...w, logs };
}

const reversal = (requestId: string, txnId: string, amount: number): OutboxMessage => ({
  messageId: `${txnId}:reversal:${requestId}`,
  kind: 'reversal',
  payload: { messageId: `${txnId}:reversal:${requestId}`, txnId, reverses: requestId, amount, currency: 'CNY', reason: 'outcome unknown', createdAt: '2025-01-02T03:04:05.000Z' },
});

const payment = (txnId: string, cardIn: number, card: Record<string, unknown> | undefined, amount = cardIn): OutboxMessage => ({
  messageId: `${txnId}:payment`,
  kind: 'payment',
  payload: {
    messageId: `${txnId}:payment`,
    txnId,
    service: 'pay',
    phone: '13800138000',
    amount,
    currency: 'CNY',
    cashIn: amount - cardIn,
    ...(card ? { cardIn, card } : {}),
    settledAt: '2025-01-02T03:04:05.000Z',
  },
});

const auth = (host: RunningHost, requestId: string) => host.records().cardAuthorisations.find((a) => a.requestId === requestId);

/** Neither the host's database files nor what was logged hold a full test card number or track data. */
function scanForCardData(t: Test, dbPath: string, logs: Logged): void {
  const files = [dbPath, `${dbPath}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f).toString('latin1'));
  const haystacks = [...files, logs.lines.join('\n')];
  t.ok(files.some((f) => f.includes('411111******1111')), 'the scan reads what the host stored (the masked number is there)');
  for (const pan of ALL_PANS) t.notOk(haystacks.some((h) => h.includes(pan)), `${pan.slice(0, 6)}…: not in the host database nor the logs`);
  t.notOk(haystacks.some((h) => h.includes('=3012101')), 'no track 2 data either');
}

t.test('approve, decline, and the same request id answered as the first time, never approved twice', async (t) => {
  const w = await cardWorld(t);
  const r = request();
  const s = swipe(VISA);
  const ok = await w.adapter.authoriseCard(r, s.read);
  t.match(ok, { outcome: 'approved', authCode: /^\d{6}$/, serverRef: /^C\d{6}$/ });
  wipedCheck(t, s, 'approved');
  t.match(auth(w.host, r.requestId), { txnId: r.txnId, amount: 5000, maskedPan: '411111******1111', outcome: 'approved', reversed: false, terminalId: 'T-0001' });

  const again = swipe(VISA);
  t.same(await w.adapter.authoriseCard(r, again.read), ok, 'a resend of the request id gets the first answer');
  wipedCheck(t, again, 'resent');
  t.equal(auth(w.host, r.requestId)!.duplicates, 1);
  t.equal(w.host.records().cardAuthorisations.filter((a) => a.outcome === 'approved').length, 1, 'one approval');

  const clash = swipe(VISA);
  const conflict = await failure(w.adapter.authoriseCard({ ...r, amount: 9999 }, clash.read));
  t.equal(conflict.kind, 'outcome-unknown', 'the same request id for another amount: refused, and the first may stand');
  wipedCheck(t, clash, 'conflict');
  t.match(w.host.records().anomalies, [{ kind: 'conflicting-authorisation', txnId: r.txnId }]);

  const d = request();
  const declined = swipe(DECLINED);
  t.same(await w.adapter.authoriseCard(d, declined.read), { outcome: 'declined', reason: 'insufficient-funds' });
  wipedCheck(t, declined, 'declined');
  t.match(auth(w.host, d.requestId), { outcome: 'declined', reason: 'insufficient-funds', maskedPan: '400000******9995', authCode: null });
  const declinedAgain = swipe(VISA);
  t.same(await w.adapter.authoriseCard(d, declinedAgain.read), { outcome: 'declined', reason: 'insufficient-funds' }, 'a declined request id stays declined');

  const oneTrack = swipe(VISA, 'track1');
  t.equal((await w.adapter.authoriseCard(request(), oneTrack.read)).outcome, 'approved', 'a card read from track 1 only');
  wipedCheck(t, oneTrack, 'track 1 only');
  scanForCardData(t, join(w.dir, 'host.db'), w.logs);
});

t.test('no answer, a dropped link, an unusable answer: outcome unknown, and the host holds the approval', async (t) => {
  const w = await cardWorld(t, 1000);
  const cases: [string, string][] = [
    [TIMEOUT, 'timeout'],
    [DROP, 'drop-after-approve'],
    [BAD_ANSWER, 'bad-answer'],
  ];
  for (const [pan, behaviour] of cases) {
    t.ok(await w.adapter.waitUp(10_000), `${behaviour}: link up`);
    const r = request();
    const s = swipe(pan);
    const f = await failure(w.adapter.authoriseCard(r, s.read));
    t.equal(f.kind, 'outcome-unknown', `${behaviour}: ${f.message}`);
    wipedCheck(t, s, behaviour);
    t.match(auth(w.host, r.requestId), { outcome: 'approved', behaviour, reversed: false }, `${behaviour}: approved at the host`);
  }
  // The kiosk can confirm the outcome it missed by asking again with the same request id.
  t.ok(await w.adapter.waitUp(10_000));
  const dropped = w.host.records().cardAuthorisations.find((a) => a.behaviour === 'drop-after-approve')!;
  const confirm = swipe(VISA);
  t.match(
    await w.adapter.authoriseCard({ requestId: dropped.requestId, txnId: dropped.txnId, phone: '13800138000', amount: dropped.amount }, confirm.read),
    { outcome: 'approved', serverRef: dropped.serverRef },
    'confirmation by id: the recorded approval, not a second one',
  );
  t.equal(w.host.records().cardAuthorisations.filter((a) => a.outcome === 'approved').length, 3);

  // The host's own fault modes apply to card authorisation too.
  for (const [mode, kind] of [['garbage', 'outcome-unknown'], ['error', 'unreachable']] as const) {
    t.ok(await w.adapter.waitUp(10_000));
    w.host.setMode(mode);
    const r = request();
    const s = swipe(VISA);
    t.equal((await failure(w.adapter.authoriseCard(r, s.read))).kind, kind, `host mode ${mode}: ${kind}`);
    wipedCheck(t, s, `host mode ${mode}`);
    t.equal(auth(w.host, r.requestId), undefined, `host mode ${mode}: nothing recorded`);
    w.host.setMode('ok');
  }
  t.ok(await w.adapter.waitUp(10_000));
  w.host.setMode('slow', 3000);
  const late = request();
  const s = swipe(VISA);
  t.equal((await failure(w.adapter.authoriseCard(late, s.read))).kind, 'outcome-unknown', 'answered after the time-out');
  t.match(auth(w.host, late.requestId), { outcome: 'approved' });
  w.host.setMode('ok');
  scanForCardData(t, join(w.dir, 'host.db'), w.logs);
});

t.test('a terminal card mode set over the admin endpoint wins over the card number', async (t) => {
  const w = await cardWorld(t);
  const post = (body: unknown) => fetch(`${w.host.url}/_card`, { method: 'POST', body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: await r.json() }));
  t.same((await post({ mode: 'decline', terminalId: 'T-0001' })).body, { default: 'by-card', terminals: { 'T-0001': 'decline' } });
  t.same(await w.adapter.authoriseCard(request(), swipe(VISA).read), { outcome: 'declined', reason: 'insufficient-funds' });
  await post({ mode: 'decline', terminalId: 'T-0002' });
  await post({ mode: null, terminalId: 'T-0001' });
  t.equal((await w.adapter.authoriseCard(request(), swipe(VISA).read)).outcome, 'approved', "another terminal's mode does not apply");
  await post({ mode: 'drop-after-approve' });
  t.equal((await failure(w.adapter.authoriseCard(request(), swipe(VISA).read))).kind, 'outcome-unknown', 'the default for every terminal');
  t.same(await fetch(`${w.host.url}/_card`).then((r) => r.json()), { default: 'drop-after-approve', terminals: { 'T-0002': 'decline' } });
  t.equal((await post({ mode: 'sideways' })).status, 400);
  t.equal((await post({ mode: null })).status, 400);
});

t.test('nothing sent: unreachable, and the card is wiped all the same', async (t) => {
  const w = await cardWorld(t);
  const used = swipe(VISA);
  used.read.sensitive.wipe();
  t.equal((await failure(w.adapter.authoriseCard(request(), used.read))).kind, 'unreachable', 'a card already wiped is not sent');
  await w.adapter.stop();
  const s = swipe(VISA);
  t.equal((await failure(w.adapter.authoriseCard(request(), s.read))).kind, 'unreachable', 'link down');
  wipedCheck(t, s, 'link down');
  t.same(w.host.records().cardAuthorisations, []);
});

t.test('reversals: of an approval, and of a request id the host never saw, after which it is declined', async (t) => {
  const w = await cardWorld(t);
  const r = request();
  t.equal((await w.adapter.authoriseCard(r, swipe(VISA).read)).outcome, 'approved');
  const never = request();
  const acks = await w.adapter.deliver([reversal(r.requestId, r.txnId, r.amount), reversal(never.requestId, never.txnId, never.amount)]);
  t.same(acks.map((a) => a.status), ['accepted', 'accepted'], 'both acknowledged');
  t.match(auth(w.host, r.requestId), { outcome: 'approved', reversed: true, reversalMessageId: `${r.txnId}:reversal:${r.requestId}` });
  t.match(auth(w.host, never.requestId), { outcome: 'tombstone', reversed: true, maskedPan: null });
  t.same(await w.adapter.deliver([reversal(never.requestId, never.txnId, never.amount)]).then((a) => a.map((x) => x.status)), ['duplicate']);

  const late = swipe(VISA);
  t.same(await w.adapter.authoriseCard(never, late.read), { outcome: 'declined', reason: 'reversed' }, 'the late authorisation is declined');
  wipedCheck(t, late, 'late');
  t.same(await w.adapter.authoriseCard(r, swipe(VISA).read), { outcome: 'declined', reason: 'reversed' }, 'a reversed approval is not given again');
  t.match(w.host.records().anomalies, [{ kind: 'authorisation-after-reversal', txnId: never.txnId }]);
  t.same(
    w.host.records().cardBalance.filter((b) => [r.txnId, never.txnId].includes(b.txnId)),
    [{ txnId: r.txnId, approved: 5000, reversed: 5000, paid: 0, balanced: true }],
    'approved − reversed = paid; a tombstone alone is no card transaction',
  );
});

t.test('card payments: accepted when an approval backs them, acknowledged with an anomaly otherwise', async (t) => {
  const w = await cardWorld(t);
  const ok = request({ amount: 3000 });
  await w.adapter.authoriseCard(ok, swipe(VISA).read);
  const reversed = request({ amount: 2000 });
  await w.adapter.authoriseCard(reversed, swipe(VISA).read);
  await w.adapter.deliver([reversal(reversed.requestId, reversed.txnId, reversed.amount)]);
  const wrongAmount = request({ amount: 1000 });
  await w.adapter.authoriseCard(wrongAmount, swipe(VISA).read);
  const declined = request({ amount: 1000 });
  await w.adapter.authoriseCard(declined, swipe(DECLINED).read);

  const reader = (requestId: string) => ({ method: 'reader', requestId, maskedPan: '411111******1111' });
  const batch = [
    payment(ok.txnId, 3000, reader(ok.requestId)),
    payment(reversed.txnId, 2000, reader(reversed.requestId)),
    payment(wrongAmount.txnId, 1500, reader(wrongAmount.requestId)),
    payment(declined.txnId, 1000, reader(declined.requestId)),
    payment('NO-AUTH', 700, reader('never-asked')),
    payment('TERMINAL', 4200, { method: 'terminal', receiptNo: 17, maskedPan: '625094******8599' }),
    payment('CASH', 0, undefined, 900),
  ];
  for (const m of batch) t.ok(paymentPayloadSchema.safeParse(m.payload).success, `${m.messageId}: valid as the kiosk's outbox checks it`);
  const acks = await w.adapter.deliver(batch);
  t.same(acks.map((a) => a.status), batch.map(() => 'accepted'), 'every payment is acknowledged');
  t.same(
    w.host.records().anomalies.map((a) => [a.kind, a.txnId]),
    [reversed.txnId, wrongAmount.txnId, declined.txnId, 'NO-AUTH'].map((id) => ['card-payment-unproven', id]),
    'an anomaly for each payment no approval backs',
  );
  t.same((await w.adapter.deliver([batch[1]!])).map((a) => a.status), ['duplicate'], 'a resend is a duplicate, with no second anomaly');
  t.equal(w.host.records().anomalies.length, 4);
  const payments = w.host.records().payments;
  t.match(payments.find((p) => p.txnId === ok.txnId), { cardIn: 3000, cashIn: 0, card: { method: 'reader', requestId: ok.requestId, maskedPan: '411111******1111' } });
  t.match(payments.find((p) => p.txnId === 'TERMINAL'), { cardIn: 4200, card: { method: 'terminal', receiptNo: 17 } });
  t.match(payments.find((p) => p.txnId === 'CASH'), { cardIn: 0, card: null });
  const balance = Object.fromEntries(w.host.records().cardBalance.map((b) => [b.txnId, b]));
  t.same(balance[ok.txnId], { txnId: ok.txnId, approved: 3000, reversed: 0, paid: 3000, balanced: true });
  t.match(balance[reversed.txnId], { approved: 2000, reversed: 2000, paid: 2000, balanced: false });
  t.match(balance[wrongAmount.txnId], { approved: 1000, paid: 1500, balanced: false });
  t.match(balance['NO-AUTH'], { approved: 0, paid: 700, balanced: false });
  t.equal(balance.TERMINAL, undefined, "terminal payments are the acquirer's to balance");
  t.equal(balance.CASH, undefined);

  // Reversing an approval after a payment named it is an anomaly too.
  await w.adapter.deliver([reversal(ok.requestId, ok.txnId, 3000)]);
  t.match(w.host.records().anomalies.at(-1), { kind: 'reversal-of-paid-authorisation', txnId: ok.txnId });
});

t.test("the kiosk's payment schema: card fields optional, never a full card number", async (t) => {
  const base = payment('P', 0, undefined, 500).payload;
  t.ok(paymentPayloadSchema.safeParse(base).success, 'a cash payment is unchanged');
  const bad: [string, Record<string, unknown>][] = [
    ['full card number', { cardIn: 500, card: { method: 'reader', requestId: 'R', maskedPan: VISA } }],
    ['reader without its request id', { cardIn: 500, card: { method: 'reader' } }],
    ['cardIn without a card', { cardIn: 500 }],
    ['a card without cardIn', { card: { method: 'terminal', receiptNo: 1 } }],
    ['unknown method', { cardIn: 500, card: { method: 'magic' } }],
  ];
  for (const [what, over] of bad) t.notOk(paymentPayloadSchema.safeParse({ ...base, cashIn: 0, ...over }).success, what);
});

t.test('what the kiosk sends, and answers the host never gives', async (t) => {
  const pki = await makePki(t.testdir());
  const server = await scriptedServer(t, pki, () => undefined);
  const logs: Logged = { lines: [] };
  const adapter = new EnvelopeAdapter({
    host: '127.0.0.1',
    port: server.port,
    serverName: 'localhost',
    tls: pki.kiosk,
    timeoutMs: 2000,
    probeIntervalMs: 60_000,
    backoff: { initialMs: 10, maxMs: 40 },
    log: logger(logs),
  });
  t.teardown(() => adapter.stop());
  adapter.start();
  t.ok(await adapter.waitUp(10_000));
  const say = (error: number, body: unknown) => (server.handler = () => answer(error, body));

  say(0, { requestId: 'A1', outcome: 'approved', authCode: '123456', serverRef: 'S1' });
  t.same(await adapter.authoriseCard({ requestId: 'A1', txnId: 'T1', phone: '13800138000', amount: 100 }, swipe(VISA).read), { outcome: 'approved', authCode: '123456', serverRef: 'S1' });
  const sent = server.requests.at(-1)!;
  t.equal(sent.service, Service.authoriseCard);
  const card = TEST_CARDS.visa!;
  t.same(sent.body, {
    requestId: 'A1',
    txnId: 'T1',
    phone: '13800138000',
    amount: 100,
    currency: 'CNY',
    card: { pan: VISA, expiry: card.expiry, track2: track2({ ...card, pan: VISA }) },
  }, 'request id, transaction, amount in CNY fen, and the card: number, expiry, track 2 (never track 1)');

  const cases: [string, number, unknown, UplinkErrorKind][] = [
    ['an answer for another request id', 0, { requestId: 'other', outcome: 'approved', authCode: '1', serverRef: 'S' }, 'outcome-unknown'],
    ['an approval without its code', 0, { requestId: 'A2', outcome: 'approved' }, 'outcome-unknown'],
    ['an outcome it does not know', 0, { requestId: 'A2', outcome: 'maybe' }, 'outcome-unknown'],
    ['a refusal (a conflicting request id)', ErrorCode.refused, { error: 'conflict' }, 'outcome-unknown'],
    ['an error code it does not know', 77, {}, 'outcome-unknown'],
    ['busy', ErrorCode.busy, { error: 'busy' }, 'unreachable'],
    ['a bad request', ErrorCode.badRequest, { error: 'invalid-body' }, 'rejected'],
    ['an old server without the service', ErrorCode.unknownService, { error: 'unknown-service' }, 'rejected'],
  ];
  for (const [what, error, body, kind] of cases) {
    say(error, body);
    const s = swipe(VISA);
    t.equal((await failure(adapter.authoriseCard({ requestId: 'A2', txnId: 'T2', phone: '13800138000', amount: 100 }, s.read))).kind, kind, what);
    wipedCheck(t, s, what);
  }
  t.notOk(logs.lines.some((l) => l.includes(VISA)), 'the card number is never logged');
});


t.test('the request body is JSON bytes assembled around the card bytes, the same document as before', async (t) => {
  const s = swipe(VISA);
  const r = request();
  const body = await s.read.sensitive.consume((card) => cardRequestBody(r, card));
  t.same(JSON.parse(body.toString('utf8')), {
    ...r,
    currency: 'CNY',
    card: { pan: VISA, expiry: TEST_CARDS.visa!.expiry, track2: track2({ ...TEST_CARDS.visa!, pan: VISA }) },
  });
  // A body of its own, not a slice of Node's shared pool: zeroing it leaves no copy behind.
  t.equal(body.byteOffset, 0);
  t.equal(body.buffer.byteLength, body.length);
  const odd = await swipe(VISA).read.sensitive.consume((card) =>
    (() => {
      card.pan[3] = 0x22; // a quote would need escaping: refused, not quoted
      try {
        cardRequestBody(r, card);
        return 'built';
      } catch (e) {
        return (e as Error).message;
      }
    })(),
  );
  t.equal(odd, 'card data with a character JSON would escape');
});
