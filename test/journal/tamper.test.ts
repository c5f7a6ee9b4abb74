import t, { type Test } from 'tap';
import { copyFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import BetterSqlite3 from 'better-sqlite3';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { Journal, journalVerifyCommand, loadOrCreateKey } from '../../src/journal/index.js';

// Attacks on the journal file by someone with write access to it but not to the key (issue 15,
// items 2 and 3), each on a real SQLite file, checked with `kiosk journal verify` (the command)
// and Journal.verify() (what `kiosk ctl verify` answers).

const PHONE = '13800138000';
const THIEF = '13999999999';
const note = { value: 10000, currency: 'CNY', code: 0x67 } as const;

function setup(t: Test): { config: Config; open: () => Journal } {
  const dir = t.testdir();
  const config = parseConfig({ dataDir: dir, validator: { port: '/dev/null' }, server: { host: '127.0.0.1', port: 9 } }, 'test', dir);
  let tick = 0;
  const open = () => {
    const j = Journal.open(config.journal.path, { key: loadOrCreateKey(config.journal.keyFile), now: () => new Date(Date.UTC(2025, 0, 1, 8, 0, tick++)) });
    t.teardown(() => j.close());
    return j;
  };
  return { config, open };
}

function verifyCommand(config: Config): { ok: boolean; text: string } {
  let text = '';
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { ok: journalVerifyCommand({ config, json: false, out }), text };
}

/** Someone with the file but not the key: the triggers that keep events append-only are dropped first. */
function attacker(t: Test, path: string): BetterSqlite3.Database {
  const db = new BetterSqlite3(path);
  t.teardown(() => db.close());
  db.exec('DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete; DROP TRIGGER events_chained;');
  return db;
}

function pay(j: Journal, id: string, phone = PHONE): void {
  j.startTransaction(id, 'pay');
  j.recordLookup(id, { phone, amountDue: 10000 });
  j.noteStacked(id, note);
  j.settle(id, { endReason: 'paid' });
}

t.test('item 2: the end of the journal cut off and the sequence and chain head moved back', async (t) => {
  const { config, open } = setup(t);
  const j = open();
  pay(j, 'a');
  const keep = j.events('a').at(-1)!.seq;
  pay(j, 'b');
  t.same(j.verify(), [], 'sound before the attack');
  j.close();

  const db = attacker(t, config.journal.path);
  const kept = db.prepare('SELECT seq, hash FROM events WHERE seq = ?').get(keep) as { seq: number; hash: string };
  db.exec(`DELETE FROM events WHERE seq > ${keep}; DELETE FROM outbox WHERE txn_id = 'b'; DELETE FROM transactions WHERE id = 'b';
           DELETE FROM cashbox; INSERT INTO cashbox (currency, value, count) VALUES ('CNY', 10000, 1);`);
  db.prepare(`UPDATE sqlite_sequence SET seq = ? WHERE name = 'events'`).run(keep);
  db.prepare('UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1').run(kept.seq, kept.hash);
  db.close();

  const r = verifyCommand(config);
  t.equal(r.ok, false, r.text);
  t.match(r.text, /hash chain: BROKEN/);
  t.match(r.text, /does not carry the journal's seal/);
  const again = open();
  t.match(again.verifyChain(), { ok: false, problem: 'deleted', seq: keep + 1 });
});

t.test('item 2: an older copy put back whole is sound by itself; its head is what the servers compare', async (t) => {
  const { config, open } = setup(t);
  const first = open();
  pay(first, 'a');
  const old = first.chainHead();
  first.close();
  copyFileSync(config.journal.path, `${config.journal.path}.copy`);
  const j = open();
  pay(j, 'b');
  const later = j.chainHead();
  t.ok(later.seq > old.seq);
  t.equal(j.hashAt(old.seq), old.hash, 'the later journal holds the older head in its chain');
  j.close();
  copyFileSync(`${config.journal.path}.copy`, config.journal.path);
  const back = open();
  t.same(back.chainHead(), old, 'what the kiosk reports after the rollback');
  t.equal(back.hashAt(later.seq), undefined, 'and it cannot show the head a server saw: rollback');
});

t.test('item 3: a waiting payment redirected by editing its outbox payload', async (t) => {
  const { config, open } = setup(t);
  const j = open();
  pay(j, 'a');
  t.same(j.verify(), []);
  const db = attacker(t, config.journal.path);
  db.prepare(`UPDATE outbox SET payload = json_set(payload, '$.phone', ?) WHERE message_id = 'a:payment'`).run(THIEF);

  const problems = j.verify();
  t.match(problems, [/outbox message a:payment: its payload no longer matches the digest/], 'ctl verify reports it');
  const r = verifyCommand(config);
  t.equal(r.ok, false, 'journal verify reports it');
  t.match(r.text, /a:payment: its payload no longer matches/);
  t.match(j.outboxPending(10), [{ messageId: 'a:payment', tampered: /no longer matches/ }], 'the forwarder is told not to send it');

  // Deleting the row instead (the payment would never reach the server) is reported too.
  db.prepare(`DELETE FROM outbox WHERE message_id = 'a:payment'`).run();
  t.match(j.verify(), [/1 payment messages|0 payment messages/, /a:payment \(queued by event \d+\) is missing from the outbox/]);

  // A row slipped into the outbox without its chained event is not sent either.
  db.prepare(`INSERT INTO outbox (message_id, txn_id, kind, payload, created_at) VALUES ('x:payment', 'a', 'payment', '{}', 'now')`).run();
  t.match(j.outboxPending(10), [{ messageId: 'x:payment', tampered: /no chained 'outbox.queued' event/ }]);
});

t.test('item 3: transaction rows edited: the payment follows the events, verify names the field', async (t) => {
  const { config, open } = setup(t);
  const j = open();
  j.startTransaction('a', 'pay');
  j.recordLookup('a', { phone: PHONE, amountDue: 10000 });
  j.noteStacked('a', note);
  const db = attacker(t, config.journal.path);
  db.prepare(`UPDATE transactions SET phone = ?, service = 'topup' WHERE id = 'a'`).run(THIEF);
  j.settle('a', { endReason: 'paid' });
  t.match(j.outboxPending(10), [{ payload: { phone: PHONE, service: 'pay' } }], 'the payment goes to the number the customer typed');
  const problems = j.verify();
  t.ok(problems.some((p) => p.includes(`phone "${THIEF}" in its row, but "${PHONE}" in its events`)), problems.join('\n'));
  t.ok(problems.some((p) => p.includes('service "topup" in its row, but "pay" in its events')), problems.join('\n'));

  pay(j, 'b');
  db.prepare(`UPDATE transactions SET credited = 9000, change_owed = 1000, claim_code = 'FAKE-CODE' WHERE id = 'b'`).run();
  const after = j.verify();
  t.ok(after.some((p) => p.includes('transaction "b": credited 9000 in its row, but 10000 in its events')), after.join('\n'));
  t.ok(after.some((p) => p.includes('transaction "b": claim code "FAKE-CODE"')), after.join('\n'));
  t.equal(verifyCommand(config).ok, false);
});
