import t from 'tap';
import { createActor, fromPromise, waitFor } from 'xstate';
import {
  capabilities,
  COIN_ACCEPTOR,
  HOPPER_PREFIX,
  offeredServices,
  PRINTER,
  CARD_READER,
  PAYMENT_TERMINAL,
  terminalMachine,
  type Health,
  type SelfTestResult,
  type TerminalSnapshot,
  VALIDATOR,
} from '../../states/terminal.js';

const WAIT = { timeout: 5000 };
const HEALTHY: SelfTestResult = { devices: { validator: 'ok', printer: 'ok' }, linkUp: true };

const live: { stop(): unknown }[] = [];
t.afterEach(() => {
  for (const actor of live.splice(0)) actor.stop();
});

interface Options {
  recover?: () => Promise<void>;
  selfTest?: () => Promise<SelfTestResult>;
}

function boot(opts: Options = {}) {
  const calls = { recover: 0, selfTest: 0 };
  const machine = terminalMachine.provide({
    actors: {
      recover: fromPromise<unknown, void>(async () => {
        calls.recover += 1;
        if (opts.recover) await opts.recover();
      }),
      selfTest: fromPromise<SelfTestResult, void>(async () => {
        calls.selfTest += 1;
        return opts.selfTest ? opts.selfTest() : HEALTHY;
      }),
    },
  });
  const actor = createActor(machine);
  live.push(actor);
  actor.start();
  const settled = () =>
    waitFor(actor, (s) => ['inService', 'degraded', 'outOfService'].some((v) => s.matches(v as never)), WAIT);
  const now = () => actor.getSnapshot();
  return { actor, calls, settled, now };
}

const value = (s: TerminalSnapshot) => JSON.stringify(s.value);

t.test('boot, recovery and a healthy self-test put the terminal in service', async (t) => {
  const run = boot();
  t.equal(value(run.now()), '"recovering"', 'booting passes straight to recovery');
  const snap = await run.settled();
  t.equal(value(snap), '"inService"');
  t.same(offeredServices(snap), ['pay', 'topup', 'lookup']);
  t.same(run.calls, { recover: 1, selfTest: 1 });
  t.same(snap.context.devices, HEALTHY.devices);
});

t.test('link down: degraded to cash top-ups; link back: in service', async (t) => {
  const run = boot();
  await run.settled();
  run.actor.send({ type: 'LINK', up: false });
  t.equal(value(run.now()), '"degraded"');
  t.same(offeredServices(run.now()), ['topup']);
  run.actor.send({ type: 'LINK', up: true });
  t.equal(value(run.now()), '"inService"');
});

t.test('validator fault: look-up only; link down too: out of service; validator back: top-up only', async (t) => {
  const run = boot();
  await run.settled();
  run.actor.send({ type: 'DEVICE', device: 'validator', health: 'fault' });
  t.equal(value(run.now()), '"degraded"');
  t.same(offeredServices(run.now()), ['lookup']);
  run.actor.send({ type: 'LINK', up: false });
  t.equal(value(run.now()), '{"outOfService":"noService"}');
  t.same(offeredServices(run.now()), []);
  run.actor.send({ type: 'DEVICE', device: 'validator', health: 'degraded' });
  t.equal(value(run.now()), '"degraded"');
  t.same(offeredServices(run.now()), ['topup']);
  run.actor.send({ type: 'DEVICE', device: 'printer', health: 'offline' });
  t.equal(value(run.now()), '"degraded"', 'the printer does not decide the services');
  t.equal(run.now().context.devices.printer, 'offline');
});

t.test('operator takes the terminal out and puts it back', async (t) => {
  const run = boot();
  await run.settled();
  run.actor.send({ type: 'OUT_OF_SERVICE', by: 'tms', reason: 'cash box change' });
  t.equal(value(run.now()), '{"outOfService":"operator"}');
  t.same(run.now().context.operatorOut, { by: 'tms', reason: 'cash box change' });
  t.same(offeredServices(run.now()), []);
  run.actor.send({ type: 'LINK', up: false });
  run.actor.send({ type: 'LINK', up: true });
  t.equal(value(run.now()), '{"outOfService":"operator"}', 'device changes do not lift the hold');
  run.actor.send({ type: 'IN_SERVICE', by: 'tms' });
  t.equal(value(run.now()), '"inService"');
  t.equal(run.now().context.operatorOut, null);

  run.actor.send({ type: 'DEVICE', device: 'validator', health: 'offline' });
  run.actor.send({ type: 'LINK', up: false });
  run.actor.send({ type: 'OUT_OF_SERVICE', by: 'console', reason: 'repair' });
  run.actor.send({ type: 'IN_SERVICE', by: 'console' });
  t.equal(value(run.now()), '{"outOfService":"noService"}', 'lifting the hold does not invent services');
});

t.test('an operator hold given during boot applies once booted', async (t) => {
  let release!: () => void;
  const run = boot({ recover: () => new Promise<void>((r) => (release = r)) });
  run.actor.send({ type: 'OUT_OF_SERVICE', by: 'tms', reason: 'audit' });
  release();
  const snap = await run.settled();
  t.equal(value(snap), '{"outOfService":"operator"}');
});

t.test('recovery failing: out of service with the reason until RETRY succeeds', async (t) => {
  let failures = 1;
  const run = boot({
    recover: async () => {
      if (failures-- > 0) throw new Error('journal unreadable');
    },
  });
  const snap = await run.settled();
  t.equal(value(snap), '{"outOfService":"bootFailed"}');
  t.equal(snap.context.reason, 'recovery failed: journal unreadable');
  t.equal(run.calls.selfTest, 0, 'no self-test on an unrecovered journal');
  run.actor.send({ type: 'DEVICE', device: 'validator', health: 'ok' });
  run.actor.send({ type: 'LINK', up: true });
  t.equal(value(run.now()), '{"outOfService":"bootFailed"}', 'healthy devices do not skip recovery');
  run.actor.send({ type: 'RETRY' });
  const again = await waitFor(run.actor, (s) => s.matches('inService'), WAIT);
  t.equal(again.context.reason, null);
  t.same(run.calls, { recover: 2, selfTest: 1 });
});

t.test('self-test failing: out of service with the reason', async (t) => {
  const run = boot({ selfTest: () => Promise.reject(new Error('no validator port')) });
  const snap = await run.settled();
  t.equal(value(snap), '{"outOfService":"bootFailed"}');
  t.equal(snap.context.reason, 'self-test failed: no validator port');
});

t.test('a self-test with a degraded validator and no link starts degraded', async (t) => {
  const run = boot({ selfTest: async () => ({ devices: { validator: 'degraded' }, linkUp: false }) });
  const snap = await run.settled();
  t.equal(value(snap), '"degraded"');
  t.same(offeredServices(snap), ['topup']);
});

t.test('RETRY is ignored outside a failed boot', async (t) => {
  const run = boot();
  await run.settled();
  run.actor.send({ type: 'RETRY' });
  t.equal(value(run.now()), '"inService"');
  t.equal(run.calls.recover, 1);
});

t.test('capabilities over every validator health and link state', async (t) => {
  const healths: (Health | undefined)[] = ['ok', 'degraded', 'fault', 'offline', undefined];
  for (const health of healths) {
    for (const linkUp of [true, false]) {
      const devices: Record<string, Health> = health ? { validator: health } : {};
      const caps = capabilities({ devices, linkUp });
      const cash = health === 'ok' || health === 'degraded';
      const want = [
        ...(cash && linkUp ? ['pay'] : []),
        ...(cash ? ['topup'] : []),
        ...(linkUp ? ['lookup'] : []),
      ];
      t.same(
        caps,
        { cash, online: linkUp, services: want, coins: false, change: false, receipt: false, card: null },
        `validator ${health ?? 'absent'}, link ${linkUp}`,
      );
    }
  }
  t.same(capabilities({ devices: { printer: 'ok', coins: 'ok' }, linkUp: true }).services, ['lookup']);
});

// The optional devices: a coin acceptor, hoppers named `hopper:<name>`, a receipt printer.
const FULL: SelfTestResult = {
  devices: {
    validator: 'ok',
    'coin-acceptor': 'ok',
    'hopper:h100': 'ok',
    'hopper:h50': 'ok',
    printer: 'ok',
  },
  linkUp: true,
};
const HEALTHS: (Health | undefined)[] = ['ok', 'degraded', 'fault', 'offline', undefined];
const usable = (h: Health | undefined) => h === 'ok' || h === 'degraded';

t.test('capabilities: coins need a usable coin acceptor and a usable validator', async (t) => {
  for (const validator of HEALTHS) {
    for (const acceptor of HEALTHS) {
      const devices: Record<string, Health> = {};
      if (validator) devices[VALIDATOR] = validator;
      if (acceptor) devices[COIN_ACCEPTOR] = acceptor;
      const caps = capabilities({ devices, linkUp: true });
      t.equal(caps.coins, usable(validator) && usable(acceptor), `validator ${validator ?? 'absent'}, acceptor ${acceptor ?? 'absent'}`);
      t.equal(caps.cash, usable(validator), 'the coin acceptor alone does not make cash');
    }
  }
});

t.test('capabilities: change needs at least one usable hopper', async (t) => {
  const change = (devices: Record<string, Health>) => capabilities({ devices: { validator: 'ok', ...devices }, linkUp: true }).change;
  t.equal(change({}), false, 'no hoppers fitted');
  t.equal(change({ 'hopper:h100': 'ok' }), true);
  t.equal(change({ 'hopper:h100': 'degraded' }), true, 'a low hopper still pays');
  t.equal(change({ 'hopper:h100': 'fault', 'hopper:h50': 'offline' }), false, 'every hopper down');
  t.equal(change({ 'hopper:h100': 'fault', 'hopper:h50': 'degraded' }), true, 'one of two is enough');
  t.equal(change({ hopper: 'ok', 'hopper-h100': 'ok', h100: 'ok' }), false, 'only `hopper:` names are hoppers');
  for (const health of HEALTHS) {
    const devices: Record<string, Health> = health ? { [`${HOPPER_PREFIX}h50`]: health } : {};
    t.equal(capabilities({ devices, linkUp: false }).change, usable(health), `hopper ${health ?? 'absent'}, link down`);
  }
});

t.test('capabilities: receipts need a usable printer', async (t) => {
  for (const health of HEALTHS) {
    const devices: Record<string, Health> = { validator: 'ok', ...(health ? { [PRINTER]: health } : {}) };
    t.equal(capabilities({ devices, linkUp: true }).receipt, usable(health), `printer ${health ?? 'absent'}`);
  }
});

t.test('capabilities: card by terminal when it is usable, by reader only when online too, else cash only', async (t) => {
  const card = (devices: Record<string, Health>, linkUp: boolean) => capabilities({ devices: { validator: 'ok', ...devices }, linkUp }).card;
  for (const health of HEALTHS) {
    const fine = usable(health);
    t.equal(card(health ? { [PAYMENT_TERMINAL]: health } : {}, false), fine ? 'terminal' : null, `terminal ${health ?? 'absent'}, link down`);
    t.equal(card(health ? { [CARD_READER]: health } : {}, true), fine ? 'reader' : null, `reader ${health ?? 'absent'}, link up`);
    t.equal(card(health ? { [CARD_READER]: health } : {}, false), null, `reader ${health ?? 'absent'}, link down: no card`);
  }
  t.equal(card({ [CARD_READER]: 'ok', [PAYMENT_TERMINAL]: 'fault' }, true), 'reader', 'a terminal fault falls back to a usable reader');
});

t.test('the optional devices never change the services offered', async (t) => {
  for (const health of ['ok', 'degraded', 'fault', 'offline'] as const) {
    const devices: Record<string, Health> = { validator: 'ok', 'coin-acceptor': health, 'hopper:h50': health, printer: health };
    t.same(capabilities({ devices, linkUp: true }).services, ['pay', 'topup', 'lookup'], health);
    t.same(capabilities({ devices: { ...devices, validator: 'fault' }, linkUp: false }).services, [], health);
  }
});

t.test('every fitted device healthy: in service with coins, change and receipts', async (t) => {
  const run = boot({ selfTest: async () => FULL });
  const snap = await run.settled();
  t.equal(value(snap), '"inService"');
  t.same(offeredServices(snap), ['pay', 'topup', 'lookup']);
  t.same(capabilities(snap.context), { cash: true, online: true, services: ['pay', 'topup', 'lookup'], coins: true, change: true, receipt: true, card: null });
});

t.test('an optional device not fully well: degraded with every service still offered, back when well', async (t) => {
  const cases: [string, Health, Partial<Record<'coins' | 'change' | 'receipt', boolean>>][] = [
    ['hopper:h50', 'degraded', {}],
    ['hopper:h50', 'fault', {}],
    ['printer', 'degraded', {}],
    ['printer', 'fault', { receipt: false }],
    ['printer', 'offline', { receipt: false }],
    ['coin-acceptor', 'degraded', {}],
    ['coin-acceptor', 'offline', { coins: false }],
    ['validator', 'degraded', {}],
  ];
  for (const [device, health, lost] of cases) {
    const name = `${device} ${health}`;
    const run = boot({ selfTest: async () => FULL });
    await run.settled();
    run.actor.send({ type: 'DEVICE', device, health });
    t.equal(value(run.now()), '"degraded"', name);
    t.same(offeredServices(run.now()), ['pay', 'topup', 'lookup'], name);
    const caps = capabilities(run.now().context);
    t.same({ coins: caps.coins, change: caps.change, receipt: caps.receipt }, { coins: true, change: true, receipt: true, ...lost }, name);
    run.actor.send({ type: 'DEVICE', device, health: 'ok' });
    t.equal(value(run.now()), '"inService"', `${name}, then ok`);
  }
});

t.test('every hopper down: no change, degraded; one back: change again', async (t) => {
  const run = boot({ selfTest: async () => FULL });
  await run.settled();
  run.actor.send({ type: 'DEVICE', device: 'hopper:h100', health: 'fault' });
  t.equal(capabilities(run.now().context).change, true, 'h50 still pays');
  run.actor.send({ type: 'DEVICE', device: 'hopper:h50', health: 'offline' });
  t.equal(value(run.now()), '"degraded"');
  t.equal(capabilities(run.now().context).change, false);
  run.actor.send({ type: 'DEVICE', device: 'hopper:h100', health: 'degraded' });
  t.equal(value(run.now()), '"degraded"', 'a low hopper keeps the terminal degraded');
  t.equal(capabilities(run.now().context).change, true);
  run.actor.send({ type: 'DEVICE', device: 'hopper:h100', health: 'ok' });
  run.actor.send({ type: 'DEVICE', device: 'hopper:h50', health: 'ok' });
  t.equal(value(run.now()), '"inService"');
});

t.test('healthy optional devices do not make up for a missing service', async (t) => {
  const run = boot({ selfTest: async () => ({ ...FULL, linkUp: false }) });
  const snap = await run.settled();
  t.equal(value(snap), '"degraded"', 'link down: top-ups only');
  t.same(offeredServices(snap), ['topup']);
  run.actor.send({ type: 'DEVICE', device: 'validator', health: 'fault' });
  t.equal(value(run.now()), '{"outOfService":"noService"}');
  t.same(capabilities(run.now().context), { cash: false, online: false, services: [], coins: false, change: true, receipt: true, card: null });
  t.same(offeredServices(run.now()), []);
  run.actor.send({ type: 'OUT_OF_SERVICE', by: 'tms', reason: 'refill' });
  run.actor.send({ type: 'DEVICE', device: 'validator', health: 'ok' });
  run.actor.send({ type: 'LINK', up: true });
  t.equal(value(run.now()), '{"outOfService":"operator"}', 'healthy devices do not lift an operator hold');
  run.actor.send({ type: 'IN_SERVICE', by: 'tms' });
  t.equal(value(run.now()), '"inService"');
});

t.test('JOURNAL_ROLLBACK: out of service in bootFailed with the reason, from any state, until a new recovery', async (t) => {
  let rolledBack = false;
  const run = boot({
    recover: async () => {
      if (rolledBack) throw new Error('journal rolled back');
    },
  });
  await run.settled();
  t.equal(value(run.now()), '"inService"');
  rolledBack = true;
  run.actor.send({ type: 'JOURNAL_ROLLBACK', reason: 'journal rolled back: the management server saw event 80' });
  let snap = run.now();
  t.equal(value(snap), '{"outOfService":"bootFailed"}');
  t.equal(snap.context.reason, 'journal rolled back: the management server saw event 80');
  t.same(offeredServices(snap), [], 'no service is offered');

  // Neither the devices, the link nor an engineer's in-service put it back in service.
  run.actor.send({ type: 'DEVICE', device: 'validator', health: 'ok' });
  run.actor.send({ type: 'LINK', up: true });
  run.actor.send({ type: 'IN_SERVICE', by: 'engineer' });
  t.equal(value(run.now()), '{"outOfService":"bootFailed"}');

  // A retry recovers again, which checks the journal again: still rolled back, still out.
  run.actor.send({ type: 'RETRY' });
  snap = await waitFor(run.actor, (s) => s.matches({ outOfService: 'bootFailed' }) && run.calls.recover === 2, WAIT);
  t.equal(snap.context.reason, 'recovery failed: journal rolled back');

  // Accepted by an engineer: the next recovery passes and the terminal serves again.
  rolledBack = false;
  run.actor.send({ type: 'RETRY' });
  snap = await waitFor(run.actor, (s) => s.matches('inService'), WAIT);
  t.equal(snap.context.reason, null);
});

t.test('JOURNAL_ROLLBACK during an operator out-of-service or while recovering ends in bootFailed too', async (t) => {
  let release!: () => void;
  const run = boot({ recover: () => new Promise<void>((r) => (release = r)) });
  t.equal(value(run.now()), '"recovering"');
  run.actor.send({ type: 'JOURNAL_ROLLBACK', reason: 'journal forked' });
  t.equal(value(run.now()), '{"outOfService":"bootFailed"}', 'the recovery under way no longer decides');
  release();
  await new Promise((r) => setTimeout(r, 20));
  t.equal(value(run.now()), '{"outOfService":"bootFailed"}');
  t.equal(run.now().context.reason, 'journal forked');

  const other = boot();
  await other.settled();
  other.actor.send({ type: 'OUT_OF_SERVICE', by: 'engineer', reason: 'cash collection' });
  t.equal(value(other.now()), '{"outOfService":"operator"}');
  other.actor.send({ type: 'JOURNAL_ROLLBACK', reason: 'journal rolled back' });
  t.equal(value(other.now()), '{"outOfService":"bootFailed"}');
});
