import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Journal } from '../../src/journal/index.js';
import { RemoteCommands, type RemoteCommand } from '../../src/management/commands.js';
import { configInput, kioskSide, LogCapture, pki, referenceServer, TERMINAL, until } from './fixture.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function remoteEvents(journal: Journal): Record<string, unknown>[] {
  return journal.management
    .lastEvents(Number.MAX_SAFE_INTEGER)
    .filter((e) => e.type.startsWith('remote.'))
    .map((e) => ({ event: e.type, ...e.data }));
}

t.test('out-of-service: the running transaction finishes first, then the command is acknowledged; in-service', async (t) => {
  const dir = t.testdir();
  const files = await pki(dir);
  const server = await referenceServer(t, dir, files);
  const k = kioskSide(t, dir, configInput(dir, files, server.port), new LogCapture().logger());
  k.terminal.transaction = { id: 'T-RUN', state: 'cash' };
  k.link.start();
  const out = server.queueCommand({ terminalId: TERMINAL, type: 'out-of-service', args: { reason: 'cash box full' }, by: 'ops-alice' });
  await until('the control request', () => k.terminal.requests.length > 0);
  t.same(k.terminal.requests, [{ cmd: 'out-of-service', by: 'management:ops-alice', reason: 'cash box full' }], 'through the control path');
  await sleep(800);
  t.equal(server.records().commands[0]!.ackedAt, null, 'not acknowledged while the transaction runs');
  t.ok(server.records().commands[0]!.sent >= 2, 'the server kept offering it');
  t.equal(k.terminal.requests.length, 1, 'and it was still run only once');

  k.terminal.transaction = null;
  const acked = await until('the acknowledgement', () => server.records().commands.find((c) => c.id === out.id && c.ackedAt !== null));
  t.equal(acked.ok, true);
  t.same(acked.result, { state: 'outOfService.operator', waitedFor: 'T-RUN' });
  t.equal(acked.acks, 1);
  t.same(remoteEvents(k.journal), [
    { event: 'remote.command', id: out.id, type: 'out-of-service', by: 'ops-alice', args: { reason: 'cash box full' } },
    { event: 'remote.command.done', id: out.id, type: 'out-of-service', by: 'ops-alice', ok: true, result: { state: 'outOfService.operator', waitedFor: 'T-RUN' } },
  ]);

  const back = server.queueCommand({ terminalId: TERMINAL, type: 'in-service', by: 'ops-bob' });
  const ackedBack = await until('in-service acknowledged', () => server.records().commands.find((c) => c.id === back.id && c.ackedAt !== null));
  t.same(ackedBack.result, { state: 'inService' });
  t.same(k.terminal.requests.at(-1), { cmd: 'in-service', by: 'management:ops-bob' });

  const other = server.queueCommand({ terminalId: 'K-SOMEONE-ELSE', type: 'in-service' });
  await sleep(500);
  t.equal(server.records().commands.find((c) => c.id === other.id)!.sent, 0, "another terminal's command is never handed to this one");
});

t.test('each command runs once by id; a resent command is acknowledged again from the record', async (t) => {
  const dir = t.testdir();
  const journal = Journal.open(join(dir, 'journal.db'), { key: Buffer.alloc(32, 1) });
  t.teardown(() => journal.close());
  let runs = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const finished: string[] = [];
  const executors = {
    slow: async () => {
      runs++;
      await gate;
      return { done: true };
    },
  };
  const commands = new RemoteCommands(journal, executors, new LogCapture().logger(), () => finished.push('x'));
  const c: RemoteCommand = { id: 'C-1', type: 'slow', args: {}, by: 'ops' };
  commands.receive([c]);
  commands.receive([c]);
  t.equal(runs, 1, 'a command under way is not started again');
  t.same(commands.unacknowledged(), [], 'nothing to acknowledge before it finished');
  release();
  await until('the command finished', () => finished.length > 0);
  t.same(commands.unacknowledged(), [{ id: 'C-1', ok: true, result: { done: true } }]);
  commands.acknowledged('C-1');
  t.same(commands.unacknowledged(), []);

  // The acknowledgement was lost: the server hands the command out again.
  commands.receive([c]);
  t.equal(runs, 1, 'never run twice');
  t.same(commands.unacknowledged(), [{ id: 'C-1', ok: true, result: { done: true } }], 'acknowledged again');

  commands.receive([{ id: 'C-2', type: 'format-disk', args: {}, by: 'ops' }]);
  await until('the unknown command answered', () => commands.unacknowledged().some((a) => a.id === 'C-2'));
  t.match(commands.unacknowledged().find((a) => a.id === 'C-2'), { ok: false, result: { error: /unknown command type 'format-disk'/ } });
  t.same(
    remoteEvents(journal).map((e) => [e.event, e.id, e.ok]),
    [
      ['remote.command', 'C-1', undefined],
      ['remote.command.done', 'C-1', true],
      ['remote.command', 'C-2', undefined],
      ['remote.command.done', 'C-2', false],
    ],
  );
});

t.test('a command cut short by a stop runs again after the restart', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'journal.db');
  const key = Buffer.alloc(32, 2);
  const c: RemoteCommand = { id: 'C-W', type: 'wait', args: {}, by: 'ops' };
  const first = Journal.open(path, { key });
  const waiting = new RemoteCommands(
    first,
    { wait: (_c, stopping) => new Promise((_, reject) => stopping.addEventListener('abort', () => reject(new Error('stopping')))) },
    new LogCapture().logger(),
    () => undefined,
  );
  waiting.receive([c]);
  await waiting.stop(2000);
  t.same(waiting.unacknowledged(), [], 'no result recorded for the interrupted command');
  first.close();

  const second = Journal.open(path, { key });
  t.teardown(() => second.close());
  let ran = 0;
  const resumed = new RemoteCommands(second, { wait: async () => ({ ran: ++ran }) }, new LogCapture().logger(), () => undefined);
  resumed.receive([c]);
  await until('the command done', () => resumed.unacknowledged().length === 1);
  t.equal(ran, 1);
  t.same(
    remoteEvents(second).map((e) => [e.event, e.resumed]),
    [
      ['remote.command', undefined],
      ['remote.command', true],
      ['remote.command.done', undefined],
    ],
  );
});

t.test('reload-configuration: run-time sections applied, the rest named for a restart; a bad file changes nothing', async (t) => {
  const dir = t.testdir();
  const files = await pki(dir);
  const server = await referenceServer(t, dir, files);
  const configPath = join(dir, 'config.json');
  const input = configInput(dir, files, server.port);
  writeFileSync(configPath, JSON.stringify(input));
  const log = new LogCapture().logger();
  const k = kioskSide(t, dir, input, log, configPath);
  k.link.start();

  const m = input.management!;
  writeFileSync(
    configPath,
    JSON.stringify({ ...input, terminalId: 'K-RENAMED', limits: { maxNote: 5000 }, log: { level: 'debug' }, management: { ...m, heartbeatMs: 200 } }),
  );
  const good = server.queueCommand({ terminalId: TERMINAL, type: 'reload-configuration', by: 'ops' });
  const acked = await until('reload acknowledged', () => server.records().commands.find((c) => c.id === good.id && c.ackedAt !== null));
  t.equal(acked.ok, true);
  t.same(acked.result, { applied: ['limits', 'log', 'management'], needsRestart: ['terminalId'] });
  t.equal(k.config.limits.maxNote, 5000, 'limits applied');
  t.equal(k.config.limits.maxTopup, 50_000, 'the rest of the section as the file says (default)');
  t.equal(k.config.management!.heartbeatMs, 200, 'management interval applied');
  t.equal(log.level, 'debug', 'log level applied');
  t.equal(k.config.terminalId, TERMINAL, 'a section that needs a restart is left as it runs');

  writeFileSync(configPath, JSON.stringify({ ...input, limits: { maxNote: -1 }, bogus: true }));
  const bad = server.queueCommand({ terminalId: TERMINAL, type: 'reload-configuration', by: 'ops' });
  const refused = await until('bad reload acknowledged', () => server.records().commands.find((c) => c.id === bad.id && c.ackedAt !== null));
  t.equal(refused.ok, false);
  t.match(refused.result, { error: /refused; nothing changed/ });
  const problems = (refused.result as { problems: string[] }).problems;
  t.ok(problems.some((p) => p.startsWith('limits.maxNote')), 'names the bad key');
  t.ok(problems.some((p) => p.includes('bogus')), 'names the unknown key');
  t.equal(k.config.limits.maxNote, 5000, 'nothing changed');
  t.equal(log.level, 'debug');

  writeFileSync(configPath, '{ not json');
  const broken = server.queueCommand({ terminalId: TERMINAL, type: 'reload-configuration', by: 'ops' });
  const refusedAgain = await until('broken reload acknowledged', () => server.records().commands.find((c) => c.id === broken.id && c.ackedAt !== null));
  t.equal(refusedAgain.ok, false);
  t.match((refusedAgain.result as { problems: string[] }).problems, [/not valid JSON/]);
});

t.test('upload-journal: the last N events or a time range, sent over the link with their hashes', async (t) => {
  const dir = t.testdir();
  const files = await pki(dir);
  const server = await referenceServer(t, dir, files);
  const k = kioskSide(t, dir, configInput(dir, files, server.port), new LogCapture().logger());
  for (let i = 0; i < 6; i++) k.journal.append(null, 'operator.in-service', { by: `test ${i}` });
  const all = k.journal.management.lastEvents(Number.MAX_SAFE_INTEGER);
  k.link.start();

  const last = server.queueCommand({ terminalId: TERMINAL, type: 'upload-journal', args: { last: 3 }, by: 'auditor' });
  const ackLast = await until('last-3 acknowledged', () => server.records().commands.find((c) => c.id === last.id && c.ackedAt !== null));
  const extract = server.records().extracts.find((e) => e.commandId === last.id)!;
  t.equal(extract.terminalId, TERMINAL);
  t.equal(extract.events, 3);
  const sent = (extract.body as { events: { seq: number; hash: string; type: string }[] }).events;
  // The newest three when the command ran: the last two test events and the command's own record.
  const before = all.slice(-2);
  t.same(
    sent.slice(0, 2).map((e) => [e.seq, e.hash]),
    before.map((e) => [e.seq, e.hash]),
    'oldest first, with their chain hashes',
  );
  t.equal(sent[2]!.type, 'remote.command');
  t.same(ackLast.result, { events: 3, firstSeq: before[0]!.seq, lastSeq: sent[2]!.seq, truncated: false });

  const from = all[2]!.at;
  const range = server.queueCommand({ terminalId: TERMINAL, type: 'upload-journal', args: { from, to: '2999-01-01T00:00:00Z' }, by: 'auditor' });
  const ackRange = await until('range acknowledged', () => server.records().commands.find((c) => c.id === range.id && c.ackedAt !== null));
  t.equal(ackRange.ok, true);
  t.ok((ackRange.result as { events: number }).events >= all.length - 2, 'every event from then on (and the remote command events since)');
  t.equal((ackRange.result as { firstSeq: number }).firstSeq <= all[2]!.seq, true);

  const bad = server.queueCommand({ terminalId: TERMINAL, type: 'upload-journal', args: { last: 0 }, by: 'auditor' });
  const ackBad = await until('bad upload acknowledged', () => server.records().commands.find((c) => c.id === bad.id && c.ackedAt !== null));
  t.equal(ackBad.ok, false);
  t.match(ackBad.result, { error: /bad arguments/ });
  t.notOk(server.records().extracts.some((e) => e.commandId === bad.id), 'nothing uploaded');
});
