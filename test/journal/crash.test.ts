import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Journal } from '../../src/journal/index.js';
import { testKey } from './keys.js';

// The child runs the compiled journal (npm test compiles into dist/ first), so it is the same
// code as in production, without a TypeScript loader in the way.
const compiled = new URL('../../dist/src/journal/index.js', import.meta.url);
const compiledCrash = new URL('../../dist/hw-sim/crash-seam.js', import.meta.url);

/** Runs a child that writes through a Journal whose commit observer is armed with `crashAfter`; returns how it ended. */
function runChild(dir: string, file: string, crashAfter: string, body: string) {
  const script = join(dir, 'child.mjs');
  writeFileSync(
    script,
    `import { Journal } from ${JSON.stringify(compiled.href)};
import { crashAfter as crashAfterObserver } from ${JSON.stringify(compiledCrash.href)};
const crash = crashAfterObserver(${JSON.stringify(crashAfter)});
const j = Journal.open(${JSON.stringify(file)}, { key: Buffer.from(${JSON.stringify(testKey.toString("hex"))}, "hex"), onCommit: (events) => events.forEach(crash) });
const note = (value, code) => ({ value, currency: 'CNY', code });
const coin = (value, code) => ({ value, currency: 'CNY', code });
${body}
console.log('survived');
`,
  );
  return spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 30_000 });
}

t.test('the compiled journal exists (run `npx tsc -p tsconfig.json` first)', async (t) => {
  t.ok(existsSync(fileURLToPath(compiled)), fileURLToPath(compiled));
});

t.test('SIGKILL right after a stacked note: the note is on disk, the transaction still open', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'journal.db');
  const child = runChild(
    dir,
    file,
    'note.stacked',
    `j.startTransaction('crash-1', 'pay');
j.noteEscrowed('crash-1', note(10000, 0x67));
j.noteStacked('crash-1', note(10000, 0x67), 'vend-valid');
j.settle('crash-1', { endReason: 'paid' });`,
  );
  t.equal(child.signal, 'SIGKILL', child.stderr);
  t.notMatch(child.stdout, /survived/);

  const j = Journal.open(file, { key: testKey });
  t.teardown(() => j.close());
  t.match(j.transaction('crash-1'), { status: 'open', cashIn: 10000, credited: 10000 });
  t.same(j.openTransactions().map((r) => r.id), ['crash-1']);
  t.same(
    j.events('crash-1').map((e) => e.type),
    ['txn.started', 'note.escrowed', 'note.stacked'],
  );
  const note = { value: 10000, currency: 'CNY', code: 0x67 };
  t.same(j.lastNoteEvent(), { txnId: 'crash-1', type: 'note.stacked', note });
  t.equal(j.pendingEscrow('crash-1'), null);
  t.same(j.cashbox(), [{ currency: 'CNY', value: 10000, count: 1 }]);
  t.equal(j.outboxStats().pending, 0, 'the settle after the crash point never ran');
  t.same(j.verify(), []);
});

t.test('type#n crashes after the n-th event of that type only', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'journal.db');
  const child = runChild(
    dir,
    file,
    'note.stacked#2',
    `j.startTransaction('crash-2', 'topup');
j.noteStacked('crash-2', note(2000, 0x65));
j.noteStacked('crash-2', note(5000, 0x66));
j.noteStacked('crash-2', note(10000, 0x67));`,
  );
  t.equal(child.signal, 'SIGKILL', child.stderr);

  const j = Journal.open(file, { key: testKey });
  t.teardown(() => j.close());
  t.match(j.transaction('crash-2'), { status: 'open', cashIn: 7000 });
  t.equal(j.cashboxTotal(), 7000);
  t.same(j.verify(), []);
});

t.test('without a matching event the child runs to the end', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'journal.db');
  const child = runChild(
    dir,
    file,
    'txn.cancelled',
    `j.startTransaction('calm', 'pay');
j.noteStacked('calm', note(2000, 0x65));
j.settle('calm', { endReason: 'paid' });
j.close();`,
  );
  t.equal(child.status, 0, child.stderr);
  t.match(child.stdout, /survived/);
  const j = Journal.open(file, { key: testKey });
  t.teardown(() => j.close());
  t.match(j.transaction('calm'), { status: 'completed', credited: 2000 });
});

t.test('SIGKILL between a payout intent and the dispense: the intent is on disk, nothing paid', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'journal.db');
  const child = runChild(
    dir,
    file,
    'payout.intended',
    `j.setHopperLevel('hopper-100', 100, 20, 'filled');
j.startTransaction('crash-p', 'pay');
j.noteStacked('crash-p', note(2000, 0x65));
j.coinAccepted('crash-p', coin(100, 3));
j.settle('crash-p', { endReason: 'paid', changeDue: 300, claimCode: 'CP-1' });
const seq = j.payoutIntended('crash-p', { hopper: 'hopper-100', coinValue: 100, count: 3, eventBefore: 41 });
// Stands for the dispense command and what follows it; none of it may run.
j.payoutStarted(seq, { event: 42 });
j.payoutDone(seq, { paid: 3, unpaid: 0, via: 'await-payout' });`,
  );
  t.equal(child.signal, 'SIGKILL', child.stderr);
  t.notMatch(child.stdout, /survived/);

  const j = Journal.open(file, { key: testKey });
  t.teardown(() => j.close());
  t.match(j.transaction('crash-p'), {
    status: 'completed',
    cashIn: 2100,
    credited: 1800,
    changePaid: 0,
    changeOwed: 300,
    claimCode: 'CP-1',
  });
  const types = j.events('crash-p').map((e) => e.type);
  t.same(types.slice(-3), ['txn.settled', 'outbox.queued', 'payout.intended']);
  t.notOk(types.includes('payout.started'));
  t.notOk(types.includes('payout.done'));
  const pending = j.pendingPayouts();
  t.match(pending, [
    { txnId: 'crash-p', hopper: 'hopper-100', count: 3, eventBefore: 41, event: null, status: 'intended' },
  ]);
  t.same(j.hopperLevels(), [{ name: 'hopper-100', coinValue: 100, level: 20 }]);
  t.same(j.verify(), []);

  // What recovery then does once the hopper's counters say two coins went out.
  j.payoutDone(pending[0]!.seq, { paid: 2, unpaid: 1, via: 'recovery-status' });
  t.match(j.transaction('crash-p'), { changePaid: 200, changeOwed: 100 });
  t.same(j.hopperLevels(), [{ name: 'hopper-100', coinValue: 100, level: 18 }]);
  t.same(j.pendingPayouts(), []);
  t.same(j.verify(), []);
});
