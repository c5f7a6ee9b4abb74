import t from 'tap';
import type { ControlRequest, ControlResponse } from '../../src/control/protocol.js';
import { scryptSync } from 'node:crypto';
import { hashPin, verifyPin } from '../../src/console/pin.js';
import { ConsoleSession } from '../../src/console/session.js';

const ALICE_PIN = '246813';
const BOB_PIN = '135791';
const SALT = Buffer.alloc(16, 7);
// A cheap cost keeps these tests of the console's flow quick; pin.test.ts checks the real one.
const CHEAP = { N: 1024, r: 8, p: 1 };
const engineers = [
  { name: 'alice', pin: hashPin(ALICE_PIN, SALT, CHEAP) },
  { name: 'bob', pin: hashPin(BOB_PIN, SALT, CHEAP) },
];

const TXN_A = '019a0000-aaaa-7000-8000-000000000001';
const TXN_B = '019a0000-bbbb-7000-8000-000000000002';
const NOW = Date.parse('2026-03-01T10:00:00.000Z');

type Audit = { who: string; action: string; ok: boolean };

/** The kiosk service as the console sees it: canned answers shaped like the runtime's. */
class FakeService {
  readonly requests: ControlRequest[] = [];
  down = false;
  outOfService = false;
  /** What the runtime reads from each device after its test, as `device-test` answers it. */
  health: Record<string, { health: string; code: string; detail: string }> = { 'hopper:h100': { health: 'ok', code: 'ok', detail: 'ready' } };

  get audits(): Audit[] {
    return this.requests.filter((r): r is Extract<ControlRequest, { cmd: 'audit' }> => r.cmd === 'audit').map(({ who, action, ok }) => ({ who, action, ok }));
  }

  answer = async (req: ControlRequest): Promise<ControlResponse> => {
    this.requests.push(req);
    if (this.down) throw new Error('cannot reach the kiosk at /run/kiosk/kiosk.sock: connect ENOENT');
    switch (req.cmd) {
      case 'status':
        return {
          ok: true,
          terminal: { state: this.outOfService ? 'outOfService.operator' : 'inService', reason: null, cash: true, online: true, services: ['pay', 'topup', 'lookup'], coins: true, change: true, receipt: false },
          validator: { health: 'ok', code: 'idle', detail: 'idling', accepting: false },
          transaction: null,
          lastTransaction: null,
          outbox: { pending: 2, oldestPendingAt: '2026-03-01T09:55:30.000Z', acked: 17 },
          cashbox: [
            { currency: 'CNY', value: 5000, count: 3 },
            { currency: 'CNY', value: 10000, count: 1 },
          ],
          coinbox: [{ currency: 'CNY', value: 100, count: 7 }],
        };
      case 'hoppers':
        return {
          ok: true,
          hoppers: [
            { name: 'h100', coinValue: 100, level: 180, status: { health: 'ok', code: 'ok', detail: 'ready' } },
            { name: 'h50', coinValue: 50, level: 0, status: { health: 'degraded', code: 'empty', detail: 'hopper empty' } },
          ],
        };
      case 'transactions':
        return {
          ok: true,
          transactions: [TXN_B, TXN_A].slice(0, req.limit ?? 20).map((id, i) => ({
            id,
            service: 'pay',
            phone: '13800138000',
            amountDue: 12350,
            status: 'completed',
            endReason: 'paid',
            cashIn: 15000,
            credited: 12350,
            changePaid: 2600 - i * 100,
            changeOwed: 50 + i * 100,
            claimCode: 'ABCD-EFGH',
            createdAt: '2026-03-01T09:00:00.000Z',
            updatedAt: '2026-03-01T09:01:00.000Z',
          })),
        };
      case 'transaction':
        if (req.id !== TXN_A) return { ok: false, error: `no transaction ${req.id}` };
        return {
          ok: true,
          transaction: {
            id: TXN_A,
            service: 'pay',
            phone: '13800138000',
            amountDue: 5000,
            status: 'completed',
            endReason: 'paid',
            cashIn: 5000,
            credited: 5000,
            changePaid: 0,
            changeOwed: 0,
            claimCode: null,
            createdAt: '2026-03-01T09:00:00.000Z',
            updatedAt: '2026-03-01T09:01:00.000Z',
          },
          events: [
            { seq: 41, txnId: TXN_A, type: 'note.escrowed', data: { note: { value: 5000 } }, at: '2026-03-01T09:00:30.000Z' },
            { seq: 42, txnId: TXN_A, type: 'note.stacked', data: { note: { value: 5000 } }, at: '2026-03-01T09:00:31.000Z' },
          ],
        };
      case 'verify':
        return { ok: true, problems: [] };
      case 'forward-now':
        return { ok: true };
      case 'hopper-refill':
        if (req.name !== 'h100') return { ok: false, error: `no hopper named '${req.name}'` };
        return { ok: true, level: 180 + req.add };
      case 'cash-collection': {
        const expected = { '5000': 3, '10000': 1 };
        const difference = Object.fromEntries(
          ['100', '500', '1000', '2000', '5000', '10000'].map((v) => [v, (req.counted[v] ?? 0) - ((expected as Record<string, number>)[v] ?? 0)]),
        );
        const ok = Object.values(difference).every((d) => d === 0);
        // The runtime spreads the journal's result over ok:true, so a difference arrives as ok:false.
        return { ok, expected, counted: req.counted, difference } as unknown as ControlResponse;
      }
      case 'reprint':
        return { ok: true, id: req.id ?? TXN_B };
      case 'reprint-queue':
        return { ok: true, queue: [TXN_B] };
      case 'out-of-service':
        this.outOfService = true;
        return { ok: true, note: 'out of service' };
      case 'in-service':
        this.outOfService = false;
        return { ok: true };
      case 'device-test':
        if (!this.health[req.device]) return { ok: false, error: `no device '${req.device}' (fitted: validator, hopper:h100)` };
        return { ok: true, device: req.device, identity: { kind: 'coin-hopper', model: 'cctalk' }, status: this.health[req.device] };
      case 'config':
        return { ok: true, config: { terminalId: 'SIM-0001', server: { host: 'billing.example', port: 8480 }, console: { engineers: [{ name: 'alice', pin: '***' }] } } };
      case 'log-tail':
        return {
          ok: true,
          lines: [
            { level: 30, time: Date.parse('2026-03-01T09:59:00.000Z'), pid: 1, hostname: 'k', msg: 'terminal in service', state: 'inService' },
            'not json at all',
          ].slice(0, req.lines ?? 50),
        };
      case 'audit':
        return { ok: true };
      default:
        return { ok: false, error: `unexpected ${req.cmd}` };
    }
  };
}

function rig(opts: { maxFailures?: number; lockoutMs?: number; idleMs?: number; timeZone?: string } = {}) {
  const service = new FakeService();
  let now = NOW;
  const out: string[] = [];
  const prompts: { text: string; masked: boolean }[] = [];
  let exits = 0;
  const session = new ConsoleSession({
    settings: { engineers, maxFailures: opts.maxFailures ?? 3, lockoutMs: opts.lockoutMs ?? 300_000, idleMs: opts.idleMs ?? 600_000 },
    request: (req) => service.answer(req),
    output: { line: (l) => out.push(l), prompt: (text, masked) => prompts.push({ text, masked }) },
    terminalId: 'SIM-0001',
    ...(opts.timeZone ? { timeZone: opts.timeZone } : {}),
    now: () => now,
    onExit: () => exits++,
  });
  session.start();
  /** Types a line and returns what the console printed for it. */
  const type = async (line: string): Promise<string[]> => {
    const from = out.length;
    await session.handleLine(line);
    return out.slice(from);
  };
  const login = async (name = 'alice', pin = ALICE_PIN) => {
    await type(name);
    return type(pin);
  };
  return {
    service,
    session,
    out,
    prompts,
    type,
    login,
    exits: () => exits,
    lastPrompt: () => prompts.at(-1),
    advance: (ms: number) => (now += ms),
  };
}

t.test('login: name, masked PIN, welcome; audited', async (t) => {
  const r = rig();
  t.same(r.lastPrompt(), { text: 'SIM-0001 login: ', masked: false });
  t.same(await r.type('alice'), []);
  t.same(r.lastPrompt(), { text: 'PIN: ', masked: true }, 'the PIN is asked masked');
  const said = await r.type(ALICE_PIN);
  t.match(said.join('\n'), /welcome, alice/);
  t.equal(r.session.user, 'alice');
  t.same(r.lastPrompt(), { text: 'alice@SIM-0001> ', masked: false });
  t.same(r.service.audits, [{ who: 'alice', action: 'login', ok: true }]);
  t.notOk(JSON.stringify(r.service.requests).includes(ALICE_PIN), 'the PIN never leaves the console');
});

t.test('wrong PIN and unknown name are refused the same way; audited with who "-"', async (t) => {
  const r = rig();
  t.same(await r.login('alice', '000000'), ['login incorrect']);
  t.same(await r.login('mallory', '2468'), ['login incorrect'], 'an unknown name still asks for a PIN');
  t.equal(r.session.user, null);
  t.same(r.lastPrompt(), { text: 'SIM-0001 login: ', masked: false });
  t.same(r.service.audits, [
    { who: '-', action: 'login refused: wrong PIN (name "alice")', ok: false },
    { who: '-', action: 'login refused: unknown name (name "mallory")', ok: false },
  ]);
  t.same(await r.type('status'), [], 'a command at the login prompt is only a name');
  t.same(r.lastPrompt(), { text: 'PIN: ', masked: true });
});

t.test('locked for lockoutMs after maxFailures in a row, then open again', async (t) => {
  const r = rig({ maxFailures: 3, lockoutMs: 300_000 });
  await r.login('alice', '111111');
  await r.login('alice', '222222');
  const third = await r.login('bob', '333333');
  t.same(third, ['login incorrect', 'too many failed logins: console locked for 5 min 0 s']);
  t.same(r.service.audits.at(-1), { who: '-', action: 'console locked for 5 min 0 s after 3 failed logins', ok: false });

  r.advance(60_000);
  t.same(await r.type('alice'), ['console locked after too many failed logins: try again in 4 min 0 s']);
  t.same(r.lastPrompt(), { text: 'SIM-0001 login: ', masked: false }, 'no PIN is even asked while locked');
  t.same(r.service.audits.at(-1), { who: '-', action: 'login refused: console locked (name "alice")', ok: false });

  r.advance(239_000);
  t.match((await r.type('alice'))[0], /try again in 1 s/, 'still locked one second before the end');

  r.advance(1_000);
  t.match((await r.login('alice', ALICE_PIN)).join('\n'), /welcome, alice/, 'open again after lockoutMs');
  await r.type('logout');
  await r.login('alice', '111111');
  await r.login('alice', '111111');
  t.match((await r.login('alice', ALICE_PIN)).join('\n'), /welcome/, 'a success resets the count: two failures do not lock');
});

t.test('a success between failures resets the count', async (t) => {
  const r = rig({ maxFailures: 2 });
  await r.login('alice', '111111');
  await r.login('alice', ALICE_PIN);
  await r.type('logout');
  t.same(await r.login('alice', '111111'), ['login incorrect'], 'one failure after a success: not locked');
});

t.test('idle logout after idleMs; keystrokes count as activity', async (t) => {
  const r = rig({ idleMs: 300_000 });
  await r.login();
  r.advance(299_000);
  await r.session.checkIdle();
  t.equal(r.session.user, 'alice', 'not yet');
  r.session.touch();
  r.advance(299_000);
  await r.session.checkIdle();
  t.equal(r.session.user, 'alice', 'a keystroke restarted the idle time');
  r.advance(1_000);
  const from = r.out.length;
  await r.session.checkIdle();
  t.equal(r.session.user, null);
  t.match(r.out.slice(from).join('\n'), /logged out after 5 min 0 s without input/);
  t.same(r.service.audits.at(-1), { who: 'alice', action: 'idle logout', ok: true });
  t.same(r.lastPrompt(), { text: 'SIM-0001 login: ', masked: false });
  t.same(await r.type('status'), [], 'the next line is a login name again');

  const p = rig({ idleMs: 300_000 });
  await p.type('alice');
  p.advance(300_000);
  await p.session.checkIdle();
  t.same(p.lastPrompt(), { text: 'SIM-0001 login: ', masked: false }, 'a half-done login goes back to the name');
});

t.test('help lists every command, within 80 columns and a screen at a time', async (t) => {
  const r = rig();
  await r.login();
  const first = await r.type('help');
  t.ok(first.length <= 23, `one screen: ${first.length} lines`);
  t.same(r.lastPrompt(), { text: '--more-- (Enter: next page, q: stop) ', masked: false }, 'the rest waits');
  const lines = [...first, ...(await r.type(''))];
  t.same(r.lastPrompt(), { text: 'alice@SIM-0001> ', masked: false });
  for (const l of lines) t.ok(l.length <= 80, `fits 80 columns: ${l}`);
  for (const c of ['status', 'counters', 'transactions [n]', 'transaction <id>', 'journal verify', 'outbox', 'forward', 'collect', 'refill <hopper> <coins>', 'reprint [txn]', 'reprint-queue', 'out-of-service <reason...>', 'in-service', 'test <device>', 'config', 'log [n]', 'logout', 'exit']) {
    t.equal(lines.filter((l) => l.startsWith(`  ${c} `)).length, 1, c);
  }
  t.same(r.service.audits.at(-1), { who: 'alice', action: 'help', ok: true });
});

t.test('status, counters, outbox', async (t) => {
  const r = rig();
  await r.login();
  const status = (await r.type('status')).join('\n');
  t.match(status, /^terminal: in service$/m);
  t.match(status, /^services: pay, topup, lookup$/m);
  t.match(status, /^link to the central server: up$/m);
  t.match(status, /receipts: no/);
  t.match(status, /^validator\s+ok\s+idle\s+idling$/m);
  t.match(status, /^hopper:h50\s+degraded\s+empty\s+hopper empty$/m);
  t.match(status, /^outbox: 2 pending, 17 delivered\n  oldest pending: 2026-03-01 17:55:30 UTC\+08:00 \(4 min 30 s ago\)$/m);
  t.match(status, /^transaction running: none$/m);

  const counters = await r.type('counters');
  t.same(counters, [
    'cash box (notes):',
    '  value     count  amount',
    '  --------  -----  ------',
    '  50 yuan       3  150.00',
    '  100 yuan      1  100.00',
    '  total         4  250.00',
    'coin box:',
    '  value   count  amount',
    '  ------  -----  ------',
    '  1 yuan      7    7.00',
    '  total       7    7.00',
    'hoppers (estimated levels):',
    '  hopper  coin    level  amount  health',
    '  ------  ------  -----  ------  --------',
    '  h100    1 yuan    180  180.00  ok',
    '  h50     5 jiao      0    0.00  degraded',
  ]);
  t.same(await r.type('outbox'), ['outbox: 2 pending, 17 delivered', '  oldest pending: 2026-03-01 17:55:30 UTC+08:00 (4 min 30 s ago)']);
  t.same(r.service.audits.slice(-3).map((a) => [a.action, a.ok]), [
    ['status', true],
    ['counters', true],
    ['outbox', true],
  ]);
});

t.test('transactions, transaction by id prefix, journal verify, forward', async (t) => {
  const r = rig();
  await r.login();
  const list = await r.type('transactions 2');
  t.equal(list.length, 5, 'the day, header, rule, two rows');
  t.equal(list[0], 'transactions of 2026-03-01 (times Asia/Shanghai, UTC+08:00; newest first):');
  t.match(list[1], /^time\s+id\s+svc\s+end\s+due\s+in\s+credit\s+change\s+owed$/);
  t.match(list[3], /^17:00  019a0000-b  pay\s+paid\s+123.50\s+150.00\s+123.50\s+26.00\s+0.50$/);
  t.same(r.service.requests.find((q) => q.cmd === 'transactions'), { cmd: 'transactions', limit: 2 });

  const one = (await r.type('transaction 019a0000-aaaa')).join('\n');
  t.match(one, `transaction ${TXN_A}`);
  t.match(one, /due 50.00, cash in 50.00, credited 50.00/);
  t.match(one, /^  created 2026-03-01 17:00:00 UTC\+08:00 \(Asia\/Shanghai\)\n  updated 2026-03-01 17:01:00 UTC\+08:00$/m);
  t.match(one, /journal events \(2\), times Asia\/Shanghai, UTC\+08:00:/);
  t.match(one, /41\s+17:00:30\s+note.escrowed\s+\{"note":\{"value":5000\}\}/);
  t.same(await r.type('transaction 019a0000'), ["error: '019a0000' matches 2 transactions: type more of the id"]);
  t.same(await r.type('transaction ffff'), ["error: no transaction starts with 'ffff'"]);
  t.same(await r.type('transaction'), ['error: usage: transaction <id>']);
  t.same(r.service.audits.slice(-3).map((a) => a.ok), [false, false, false]);

  t.same(await r.type('journal verify'), ['journal verified: no problems found']);
  t.same(await r.type('journal'), ['error: usage: journal verify']);
  const fwd = await r.type('forward');
  t.equal(fwd[0], 'forwarding the outbox now');
  t.ok(r.service.requests.some((q) => q.cmd === 'forward-now'));
  t.same(await r.type('transactions 0'), ["error: n must be a whole number from 1 to 500, not '0'"]);
  t.same(await r.type('transactions many'), ["error: n must be a whole number from 1 to 500, not 'many'"]);
});

t.test('refill, reprint, reprint-queue, out-of-service, in-service, test, config, log', async (t) => {
  const r = rig();
  await r.login();
  t.same(await r.type('refill h100 50'), ['h100: 50 coins added, level now 230']);
  t.same(r.service.requests.find((q) => q.cmd === 'hopper-refill'), { cmd: 'hopper-refill', name: 'h100', add: 50, by: 'alice' });
  t.same(await r.type('refill h999 5'), ["error: no hopper named 'h999'"]);
  t.same(await r.type('refill h100 -5'), ["error: coins must be a whole number from 1 to 100000, not '-5'"]);
  t.same(await r.type('refill h100'), ['error: usage: refill <hopper> <coins>']);
  t.same(r.service.audits.slice(-4).map((a) => [a.action, a.ok]), [
    ['refill h100 50', true],
    ['refill h999 5', false],
    ['refill h100 -5', false],
    ['refill h100', false],
  ]);

  t.same(await r.type('reprint'), [`receipt of ${TXN_B} printed again`]);
  t.same(await r.type(`reprint ${TXN_A}`), [`receipt of ${TXN_A} printed again`]);
  t.same(await r.type('reprint-queue'), ['1 receipt(s) waiting, oldest first:', `  ${TXN_B}`]);

  t.same(await r.type('out-of-service'), ['error: usage: out-of-service <reason...> (say why, for the journal)']);
  t.same(await r.type('out-of-service   validator   jammed'), ['out of service', 'terminal: out of service (taken out by an engineer)']);
  const st = await r.type('status');
  t.equal(st[1], 'services: none offered (the devices allow: pay, topup, lookup)');
  t.same(r.service.requests.find((q) => q.cmd === 'out-of-service'), { cmd: 'out-of-service', by: 'alice', reason: 'validator jammed' });
  t.same(await r.type('in-service'), ['terminal: in service']);
  t.same(r.service.requests.find((q) => q.cmd === 'in-service'), { cmd: 'in-service', by: 'alice' });

  const test = await r.type('test h100');
  t.equal(test[0], 'testing hopper:h100...');
  t.ok(test.includes('  identity.kind = coin-hopper'));
  t.equal(test.at(-1), 'hopper:h100: test passed');
  t.same((await r.type('test printer')).slice(1), ["error: no device 'printer' (fitted: validator, hopper:h100)"]);

  const config = await r.type('config');
  t.ok(config.includes('terminalId = SIM-0001'));
  t.ok(config.includes('console.engineers[0].pin = ***'));

  const log = await r.type('log 5');
  t.same(log, ['times Asia/Shanghai, UTC+08:00:', '2026-03-01 17:59:00 INFO  terminal in service {"state":"inService"}', 'not json at all']);
  t.same(r.service.requests.find((q) => q.cmd === 'log-tail'), { cmd: 'log-tail', lines: 5 });
  t.same(await r.type('log 5000'), ["error: n must be a whole number from 1 to 1000, not '5000'"]);
});

t.test('cash collection: counts asked in turn, totals, confirm, the comparison', async (t) => {
  const r = rig();
  await r.login();
  t.match((await r.type('collect'))[0], /cash collection/);
  t.same(r.lastPrompt(), { text: 'notes of 1 yuan: ', masked: false });
  for (const [n, next] of [
    ['0', 'notes of 5 yuan: '],
    ['0', 'notes of 10 yuan: '],
    ['0', 'notes of 20 yuan: '],
    ['0', 'notes of 50 yuan: '],
  ] as const) {
    await r.type(n);
    t.equal(r.lastPrompt()?.text, next);
  }
  t.same(await r.type('three'), ['error: type the number of 50 yuan notes, 0 if none']);
  t.equal(r.lastPrompt()?.text, 'notes of 50 yuan: ', 'asked again');
  await r.type('3');
  const totals = await r.type('1');
  t.same(totals.slice(-3), ['50 yuan       3  150.00', '100 yuan      1  100.00', 'total         4  250.00']);
  t.equal(r.lastPrompt()?.text, 'confirm this collection? (y/n) ');
  t.notOk(r.service.requests.some((q) => q.cmd === 'cash-collection'), 'nothing sent before the confirmation');
  t.same(await r.type('maybe'), ["error: answer 'y' to send the counts or 'n' to cancel"]);
  const result = await r.type('y');
  t.same(r.service.requests.find((q) => q.cmd === 'cash-collection'), {
    cmd: 'cash-collection',
    by: 'alice',
    counted: { '100': 0, '500': 0, '1000': 0, '2000': 0, '5000': 3, '10000': 1 },
  });
  t.equal(result[0], 'the service says: the counted notes agree with the journal');
  t.ok(result.includes('  total: journal 250.00, counted 250.00, difference 0.00 yuan'));
  t.same(r.service.audits.at(-1), { who: 'alice', action: 'collect 1:0 5:0 10:0 20:0 50:3 100:1 (agrees)', ok: true });
  t.equal(r.lastPrompt()?.text, 'alice@SIM-0001> ');

  await r.type('collect');
  for (const n of ['0', '0', '0', '0', '2']) await r.type(n);
  await r.type('1');
  const diff = await r.type('yes');
  t.equal(diff[0], 'the service says: DIFFERENCE between the counted notes and the journal');
  t.ok(diff.some((l) => /^\s+50 yuan\s+3\s+2\s+-1$/.test(l)), 'the 50 yuan row shows one note missing');
  t.ok(diff.includes('  total: journal 250.00, counted 200.00, difference -50.00 yuan'));
  t.same(r.service.audits.at(-1), { who: 'alice', action: 'collect 1:0 5:0 10:0 20:0 50:2 100:1 (difference)', ok: false });

  await r.type('collect');
  await r.type('4');
  await r.session.interrupt();
  t.equal(r.out.at(-1), 'cash collection cancelled: nothing was recorded');
  t.equal(r.lastPrompt()?.text, 'alice@SIM-0001> ');
  await r.type('collect');
  for (const n of ['0', '0', '0', '0', '0', '0']) await r.type(n);
  await r.type('n');
  t.equal(r.out.at(-1), 'cash collection cancelled: nothing was recorded');
  t.equal(r.service.requests.filter((q) => q.cmd === 'cash-collection').length, 2, 'the cancelled ones sent nothing');
});

t.test('unknown commands, service down, logout and exit', async (t) => {
  const r = rig();
  await r.login();
  t.same(await r.type('frobnicate now'), ["error: unknown command 'frobnicate' (type help)"]);
  t.same(r.service.audits.at(-1), { who: 'alice', action: 'frobnicate now', ok: false });
  t.same(await r.type('status extra'), ['error: usage: status']);

  r.service.down = true;
  // Past 80 columns a line goes on, indented, on the next row: cut at a space, not mid-word.
  const unreachable = ['service not reachable: cannot reach the kiosk at /run/kiosk/kiosk.sock: connect', '  ENOENT'];
  t.same(await r.type('status'), unreachable);
  t.same(await r.type('counters'), unreachable);
  t.equal(r.lastPrompt()?.text, 'alice@SIM-0001> ', 'the console stays up');
  await r.type('collect');
  for (const n of ['0', '0', '0', '0', '1', '0']) await r.type(n);
  const notSent = await r.type('y');
  t.same(notSent, [
    ...unreachable,
    'the collection was NOT recorded: run collect again once the service answers',
  ]);
  r.service.down = false;

  t.same(await r.type('logout'), ['logged out']);
  t.equal(r.session.user, null);
  t.same(r.service.audits.at(-1), { who: 'alice', action: 'logout', ok: true });
  await r.login('bob', BOB_PIN);
  t.same(await r.type('exit'), ['logged out']);
  t.equal(r.exits(), 1);
  t.same(r.service.audits.at(-1), { who: 'bob', action: 'exit', ok: true });
});

t.test('lines are handled one after the other even when the service is slow', async (t) => {
  const r = rig();
  await r.login();
  const slow = r.service.answer;
  r.service.answer = async (req) => {
    await new Promise((res) => setTimeout(res, req.cmd === 'status' ? 30 : 0));
    return slow(req);
  };
  const session = new ConsoleSession({
    settings: { engineers, maxFailures: 3, lockoutMs: 1000, idleMs: 1000 },
    request: (req) => r.service.answer(req),
    output: { line: (l) => r.out.push(l), prompt: () => undefined },
  });
  await session.handleLine('alice');
  await session.handleLine(ALICE_PIN);
  const from = r.out.length;
  await Promise.all([session.handleLine('outbox'), session.handleLine('journal verify')]);
  const said = r.out.slice(from);
  t.match(said[0], /^outbox:/);
  t.equal(said.at(-1), 'journal verified: no problems found');
});

t.test('a flood of lines at a locked console is journalled once per window, with a count', async (t) => {
  const r = rig({ maxFailures: 2, lockoutMs: 600_000 });
  await r.login('alice', '111111');
  await r.login('alice', '222222');
  const before = r.service.audits.length;
  // 11,000 lines typed in 10 s while the console is locked.
  for (let i = 0; i < 11_000; i++) {
    await r.session.handleLine(`line${i}`);
    if (i % 1100 === 0) r.advance(1_000);
  }
  const flood = r.service.audits.slice(before);
  t.ok(flood.length <= 2, `11,000 refused lines made ${flood.length} audit events`);
  t.match(flood[0]?.action, /^login refused: console locked/);
  r.advance(60_000);
  await r.session.handleLine('again');
  const summary = r.service.audits.at(-1)?.action ?? '';
  t.match(summary, /10999 more refused lines not recorded one by one/, 'the next window says how many were left out');
  t.equal(r.service.audits.length - before, flood.length + 1);
});

t.test('a PIN typed at the login prompt is not journalled as the refused name', async (t) => {
  const r = rig();
  await r.login('246813', '246813');
  await r.login('24 68 13', '000000');
  const actions = r.service.audits.map((a) => a.action).join('\n');
  t.notMatch(actions, /2468/, 'the digits never reach the journal');
  t.match(actions, /unknown name \(name of digits only, not recorded\)/);
});

t.test('each lock is longer than the one before; a login clears the escalation', async (t) => {
  const r = rig({ maxFailures: 2, lockoutMs: 60_000 });
  await r.login('alice', '111111');
  t.match((await r.login('alice', '111111')).join('\n'), /console locked for 1 min 0 s/);
  r.advance(60_000);
  await r.login('alice', '111111');
  t.match((await r.login('alice', '111111')).join('\n'), /console locked for 2 min 0 s/);
  r.advance(120_000);
  await r.login('alice', '111111');
  t.match((await r.login('alice', '111111')).join('\n'), /console locked for 4 min 0 s/);
  r.advance(240_000);
  await r.login();
  await r.type('logout');
  await r.login('alice', '111111');
  t.match((await r.login('alice', '111111')).join('\n'), /console locked for 1 min 0 s/, 'back to the first length after a good login');
});

t.test('a PIN shorter than six digits never logs in, even when its old hash matches', async (t) => {
  // A hash made before the 6-digit rule, of the 4-digit PIN 2468.
  const old = ['scrypt', 1024, 8, 1, SALT.toString('base64'), scryptSync('2468', SALT, 32, { N: 1024, r: 8, p: 1 }).toString('base64')].join('$');
  t.ok(verifyPin('2468', old), 'the old hash itself still verifies');
  const out: string[] = [];
  const session = new ConsoleSession({
    settings: { engineers: [{ name: 'carol', pin: old }], maxFailures: 3, lockoutMs: 1000, idleMs: 100_000 },
    request: new FakeService().answer,
    output: { line: (l) => out.push(l), prompt: () => undefined },
  });
  await session.handleLine('carol');
  await session.handleLine('2468');
  t.equal(session.user, null);
  t.same(out, ['login incorrect'], 'too short: refused like a wrong PIN');
});

t.test('Ctrl-C, Ctrl-D and exit leave the login prompt', async (t) => {
  // On a terminal (onExit given): the console ends.
  for (const leave of [(r: ReturnType<typeof rig>) => r.session.interrupt(), (r: ReturnType<typeof rig>) => r.session.endOfInput(), (r: ReturnType<typeof rig>) => r.session.handleLine('exit')]) {
    const r = rig();
    await leave(r);
    t.equal(r.exits(), 1, 'at the name');
    const p = rig();
    await p.type('alice');
    await leave(p);
    t.equal(p.exits(), 1, 'at the PIN');
  }
  // On a serial line (no onExit): a fresh login prompt.
  const out: string[] = [];
  const prompts: string[] = [];
  const serial = new ConsoleSession({
    settings: { engineers, maxFailures: 3, lockoutMs: 1000, idleMs: 100_000 },
    request: new FakeService().answer,
    output: { line: (l) => out.push(l), prompt: (text) => prompts.push(text) },
    terminalId: 'SIM-0001',
  });
  serial.start();
  await serial.handleLine('alice');
  t.equal(prompts.at(-1), 'PIN: ');
  await serial.endOfInput();
  t.equal(prompts.at(-1), 'SIM-0001 login: ');
  await serial.handleLine('alice');
  await serial.interrupt();
  t.equal(prompts.at(-1), 'SIM-0001 login: ');
  await serial.handleLine(ALICE_PIN);
  t.equal(prompts.at(-1), 'PIN: ', 'a fresh login: the next line is a name again');
});

t.test('transactions: a jammed, partly paid payment shows how it ended, in one 80-column row', async (t) => {
  const service = new FakeService();
  const answer = async (req: ControlRequest): Promise<ControlResponse> => {
    const res = await service.answer(req);
    if (req.cmd !== 'transactions' || !res.ok) return res;
    const [first] = res.transactions as Record<string, unknown>[];
    return { ok: true, transactions: [{ ...first, amountDue: 123450, cashIn: 100000, credited: 100000, changePaid: 0, changeOwed: 0, endReason: 'device-fault-partial' }] };
  };
  const out: string[] = [];
  const session = new ConsoleSession({
    settings: { engineers, maxFailures: 3, lockoutMs: 1000, idleMs: 100_000 },
    request: answer,
    output: { line: (l) => out.push(l), prompt: () => undefined },
  });
  await session.handleLine('alice');
  await session.handleLine(ALICE_PIN);
  const from = out.length;
  await session.handleLine('transactions');
  const list = out.slice(from);
  for (const l of list) t.ok(l.length <= 80, `${l.length} columns: ${l}`);
  t.match(list[3], /device-fault-part\s+1234\.50\s+1000\.00/);
  t.notMatch(list[3], /completed/);
});

t.test('test: a device that ends its test faulty, offline or not ready FAILS, named, as diag judges it', async (t) => {
  const r = rig();
  await r.login();
  r.service.health.validator = { health: 'fault', code: 'stacker-open', detail: 'stacker open' };
  const fault = await r.type('test validator');
  t.equal(fault.at(-1), 'validator: test FAILED: fault (stacker-open): stacker open');
  t.notOk(fault.some((l) => /passed/.test(l)), 'never "passed"');
  r.service.health['hopper:h100'] = { health: 'degraded', code: 'empty', detail: 'hopper empty' };
  t.equal((await r.type('test h100')).at(-1), 'hopper:h100: test FAILED: not ready (empty): hopper empty');
  r.service.health['hopper:h100'] = { health: 'offline', code: 'no-answer', detail: 'no reply in 3 polls' };
  t.equal((await r.type('test h100')).at(-1), 'hopper:h100: test FAILED: no answer: no reply in 3 polls');
  t.same(r.service.audits.slice(-3).map((a) => [a.action, a.ok]), [
    ['test validator', false],
    ['test h100', false],
    ['test h100', false],
  ]);
  r.service.health['hopper:h100'] = { health: 'ok', code: 'ok', detail: 'ready' };
  t.equal((await r.type('test h100')).at(-1), 'hopper:h100: test passed');
  t.equal(r.service.audits.at(-1)?.ok, true);
});

t.test("times are shown in the kiosk's configured zone, and the zone is named", async (t) => {
  const r = rig({ timeZone: 'America/New_York' });
  await r.login();
  // 09:00 UTC on 1 March is 04:00 in New York (UTC-05:00, before summer time).
  const list = await r.type('transactions 2');
  t.equal(list[0], 'transactions of 2026-03-01 (times America/New_York, UTC-05:00; newest first):');
  t.match(list[3], /^04:00  019a0000-b/);
  const one = (await r.type(`transaction ${TXN_A}`)).join('\n');
  t.match(one, /^  created 2026-03-01 04:00:00 UTC-05:00 \(America\/New_York\)\n  updated 2026-03-01 04:01:00 UTC-05:00$/m);
  t.match(one, /journal events \(2\), times America\/New_York, UTC-05:00:/);
  t.match(one, /41\s+04:00:30\s+note.escrowed/);
  t.equal((await r.type('outbox'))[1], '  oldest pending: 2026-03-01 04:55:30 UTC-05:00 (4 min 30 s ago)');
  t.equal((await r.type('log 1'))[1], '2026-03-01 04:59:00 INFO  terminal in service {"state":"inService"}');

  // Rows of two local days: the date is shown in each row, and the zone still named.
  const shanghai = rig();
  await shanghai.login();
  const base = shanghai.service.answer;
  shanghai.service.answer = async (req) => {
    const res = await base(req);
    if (req.cmd !== 'transactions' || !res.ok) return res;
    const [b, a] = res.transactions as Record<string, unknown>[];
    // 15:59:59 and 16:00:00 UTC are either side of midnight in Shanghai.
    return { ...res, transactions: [{ ...b, createdAt: '2026-03-01T16:00:00.000Z' }, { ...a, createdAt: '2026-03-01T15:59:59.000Z' }] };
  };
  const two = await shanghai.type('transactions 2');
  t.equal(two[0], 'transactions, newest first (times Asia/Shanghai, UTC+08:00):');
  t.match(two[3], /^03-02 00:00  /);
  t.match(two[4], /^03-01 23:59  /);
});
