import t from 'tap';
import { EscrowCycle, newCycle, type NoteCycle } from '../../drivers/validator/escrow-cycle.js';
import type { BillValidatorHooks, EscrowDecision, Note } from '../../drivers/types.js';

const NOTE_100: Note = { value: 10_000, currency: 'CNY', code: 7 };

/** A protocol adapter that records what the driver would put on the line, in order. */
function harness(hooks: Partial<BillValidatorHooks> = {}) {
  const line: string[] = [];
  const logs: { level: string; msg: string }[] = [];
  let running = true;
  const all: BillValidatorHooks = {
    escrow: hooks.escrow ?? (() => 'stack'),
    credited: hooks.credited ?? (() => undefined),
  };
  const cycles: EscrowCycle<NoteCycle> = new EscrowCycle<NoteCycle>(
    {
      label: 'fake',
      log: (level, msg) => logs.push({ level, msg }),
      hooks: () => all,
      running: () => running,
      codeFields: (code) => ({ code }),
      unknownNote: 'code not in the table',
    },
    {
      decided: (cycle) =>
        cycles.sendDecision(
          cycle,
          (d) => (d === 'stack' ? 1 : 2),
          async (cmd) => void line.push(cmd === 1 ? 'stack' : 'return'),
        ),
      credited: (cycle) => {
        if (cycles.current === cycle) line.push('ack');
      },
    },
  );
  return { cycles, line, logs, stop: () => (running = false) };
}

const settle = () => new Promise((r) => setImmediate(r));

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

t.test('the device is told to stack only after the escrow hook resolved', async (t) => {
  const decision = deferred<EscrowDecision>();
  const order: string[] = [];
  const h = harness({ escrow: (n) => (order.push(`hook ${n.value}`), decision.promise) });
  h.cycles.escrow(newCycle(7, NOTE_100, 'asking', {}));
  await settle();
  t.same(h.line, [], 'nothing on the line while the hook decides');
  t.same(order, ['hook 10000']);
  decision.resolve('stack');
  await settle();
  t.same(h.line, ['stack']);
  t.equal(h.cycles.current?.decisionAcked, true);
});

t.test('a failing hook, an unknown answer and an unknown note all mean return', async (t) => {
  const failing = harness({ escrow: () => Promise.reject(new Error('journal down')) });
  failing.cycles.escrow(newCycle(7, NOTE_100, 'asking', {}));
  await settle();
  t.same(failing.line, ['return']);
  t.ok(failing.logs.some((l) => /escrow hook failed; returning the note/.test(l.msg)));

  const odd = harness({ escrow: () => 'keep' as unknown as EscrowDecision });
  odd.cycles.escrow(newCycle(7, NOTE_100, 'asking', {}));
  await settle();
  t.same(odd.line, ['return']);

  let asked = false;
  const unknown = harness({ escrow: () => ((asked = true), 'stack') });
  unknown.cycles.escrow(newCycle(99, null, 'asking', {}));
  t.same(unknown.line, ['return'], 'returned at once');
  t.notOk(asked, 'the hook is not asked about a note the device table does not know');
  t.ok(unknown.logs.some((l) => /code not in the table; returning the note/.test(l.msg)));
});

t.test('a decision that arrives after the note was replaced or the driver stopped is not sent', async (t) => {
  const first = deferred<EscrowDecision>();
  const h = harness({ escrow: () => first.promise });
  h.cycles.escrow(newCycle(7, NOTE_100, 'asking', {}));
  h.cycles.end();
  first.resolve('stack');
  await settle();
  t.same(h.line, []);

  const late = deferred<EscrowDecision>();
  const s = harness({ escrow: () => late.promise });
  s.cycles.escrow(newCycle(7, NOTE_100, 'asking', {}));
  s.stop();
  late.resolve('stack');
  await settle();
  t.same(s.line, []);
});

t.test('a decision not acknowledged by the device is sent again, one at a time', async (t) => {
  const h = harness();
  const sent: number[] = [];
  let fail = true;
  const cycle = newCycle(7, NOTE_100, 'stack', {});
  const send = async (cmd: number) => {
    sent.push(cmd);
    if (fail) throw new Error('no ACK');
  };
  h.cycles.sendDecision(cycle, () => 1, send);
  h.cycles.sendDecision(cycle, () => 1, send);
  t.same(sent, [1], 'not twice while on its way');
  await settle();
  t.notOk(cycle.decisionAcked);
  t.ok(h.logs.some((l) => /will resend while in escrow/.test(l.msg)));
  fail = false;
  h.cycles.sendDecision(cycle, () => 1, send);
  await settle();
  t.same(sent, [1, 1]);
  t.ok(cycle.decisionAcked);
  h.cycles.sendDecision(newCycle(7, NOTE_100, 'asking', {}), () => 1, send);
  t.same(sent, [1, 1], 'nothing while the hook is still asked');
});

t.test('the credit is acknowledged only after credited resolved; a failure asks again, never twice', async (t) => {
  const durable = deferred<void>();
  let calls = 0;
  const h = harness({
    credited: () => {
      calls++;
      if (calls === 1) return Promise.reject(new Error('disk full'));
      return durable.promise;
    },
  });
  const cycle = newCycle(7, NOTE_100, 'stack', {});
  h.cycles.current = cycle;
  h.cycles.credit(cycle);
  await settle();
  t.same(h.line, [], 'no acknowledgement after a failed credit');
  t.equal(cycle.credit, 'none');
  t.ok(h.logs.some((l) => l.level === 'error' && /credit hook failed/.test(l.msg)));

  h.cycles.credit(cycle);
  h.cycles.credit(cycle);
  await settle();
  t.equal(calls, 2, 'asked again once, not again while asking');
  t.same(h.line, []);
  durable.resolve();
  await settle();
  t.same(h.line, ['ack']);
  t.equal(cycle.credit, 'done');

  // The device did not get our acknowledgement and reports the credit again.
  h.cycles.credit(cycle);
  await settle();
  t.equal(calls, 2, 'a credit already recorded is never recorded twice');
});

t.test('after a restart, a credit whose escrow was not seen is recorded with note null', async (t) => {
  const credited: (Note | null)[] = [];
  const h = harness({ credited: (n) => void credited.push(n) });
  const unseen = newCycle(undefined, null, 'stack', {});
  unseen.decisionAcked = true;
  h.cycles.current = unseen;
  h.cycles.credit(unseen);
  await settle();
  t.same(credited, [null]);
  t.same(h.line, ['ack']);
});
