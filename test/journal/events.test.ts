import t from 'tap';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import ts from 'typescript';
import { CARD_CRASH_POINTS, CRASH_POINTS } from '../../hw-sim/chaos/plan.js';
import { APPEND_TYPES, EVENT_TYPES, Journal, isEventType } from '../../src/journal/index.js';
import { testKey } from './keys.js';

const here = fileURLToPath(import.meta.url);

/**
 * Never called: each marked line must fail to compile, and the test below compiles this file to
 * prove it (an expect-error directive with no error is itself an error).
 */
export function wrongShapes(j: Journal): void {
  // @ts-expect-error a type outside the catalogue
  j.append(null, 'operator.note', {});
  // @ts-expect-error a payload missing a field of its type
  j.append(null, 'device.status', { device: 'validator', health: 'ok' });
  // @ts-expect-error a field of the wrong type
  j.append(null, 'alarm.coin-events-lost', { count: 'three' });
  // @ts-expect-error a value outside its enumeration
  j.append(null, 'device.status', { device: 'validator', health: 'fine', code: 'ok', detail: '' });
  // @ts-expect-error a money type belongs to its own method
  j.append('t', 'note.stacked', { note: { value: 100, currency: 'CNY', code: 1 } });
  const [stacked] = j.eventsOf('t', 'note.stacked');
  // @ts-expect-error a reader gets the payload of its type, not any field it likes
  void stacked?.data.coin;
  const value: number | undefined = stacked?.data.note.value;
  void value;
}

t.test('a wrong event type or payload shape does not compile', async (t) => {
  const config = ts.getParsedCommandLineOfConfigFile(join(here, '../../../tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  const program = ts.createProgram([here], { ...config!.options, noEmit: true, noUnusedLocals: false });
  const problems = ts
    .getPreEmitDiagnostics(program, program.getSourceFile(here))
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  t.same(problems, [], 'every marked line is an error, and nothing else is');
});

t.test('reading validates: a stored payload of the wrong shape is refused', async (t) => {
  const file = join(t.testdir(), 'journal.db');
  const j = Journal.open(file, { key: testKey });
  j.startTransaction('t', 'pay');
  j.noteStacked('t', { value: 10000, currency: 'CNY', code: 3 });
  j.append(null, 'operator.in-service', { by: 'li' });
  t.same(j.eventsOf('t', 'note.stacked')[0]!.data.note, { value: 10000, currency: 'CNY', code: 3 });
  t.same(j.eventsOfType('operator.in-service').map((e) => e.data), [{ by: 'li' }]);
  j.close();

  const raw = new BetterSqlite3(file);
  raw.exec('DROP TRIGGER events_no_update');
  raw.prepare(`UPDATE events SET data = '{"note":{"value":"a lot","currency":"CNY","code":3}}' WHERE type = 'note.stacked'`).run();
  raw.prepare(`UPDATE events SET data = '{"who":"li"}' WHERE type = 'operator.in-service'`).run();
  raw.close();

  const again = Journal.open(file, { key: testKey });
  t.teardown(() => again.close());
  t.throws(() => again.eventsOf('t', 'note.stacked'), /event "note.stacked" \(event \d+\) does not fit its schema at note.value/);
  t.throws(() => again.eventsOfType('operator.in-service'), /event "operator.in-service" \(event \d+\) does not fit its schema at by/);
  t.throws(() => again.pendingEscrow('t') ?? again.lastNoteEvent(), /does not fit its schema/);
});

t.test('the crash campaign draws its points from the catalogue', async (t) => {
  for (const p of [...CRASH_POINTS, ...CARD_CRASH_POINTS]) t.ok(isEventType(p), p);
  t.ok(APPEND_TYPES.every((a) => EVENT_TYPES.includes(a)));
  t.equal(new Set(EVENT_TYPES).size, EVENT_TYPES.length);
});
