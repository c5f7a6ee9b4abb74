import { createHmac } from 'node:crypto';
import type BetterSqlite3 from 'better-sqlite3';
import { KEY_BYTES } from './key.js';

/**
 * The tamper-evident hash chain over the events table. Each event's hash is an HMAC, keyed with
 * the terminal secret, over the previous event's hash and the event itself, so nobody without the
 * key can edit, remove, add or move an event without breaking the chain from that event on.
 *
 * The chain head (the last event's seq and hash) carries its own keyed seal, so cutting events off
 * the end and moving the head back to an earlier event is caught too.
 *
 * What it cannot show: someone holding an older copy of the file (or cutting the WAL) can put back
 * an earlier, genuine state whole. That is caught by whoever saw a later head: the kiosk reports
 * its head to both servers, which keep the highest they saw (see chain-heads.ts).
 */

type Database = BetterSqlite3.Database;

/** What the first event chains to. */
export const GENESIS = '0'.repeat(64);

export type ChainProblem = 'edited' | 'deleted' | 'inserted' | 'reordered';

export type ChainResult = { ok: true; events: number } | ChainBreak;

export interface ChainBreak {
  ok: false;
  seq: number;
  problem: ChainProblem;
  detail: string;
  /** The row now at `seq`, when there is one (a deleted event has none). */
  event?: { type: string; txnId: string | null; at: string };
}

/** The columns an event's hash covers, as stored. */
export interface ChainedFields {
  seq: number;
  txn_id: string | null;
  type: string;
  /** The JSON text exactly as stored, so that no re-serialisation can change what is hashed. */
  data: string;
  at: string;
}

interface ChainRow extends ChainedFields {
  prev_hash: string | null;
  hash: string | null;
}

const CHAIN_ROWS = 'SELECT seq, txn_id, type, data, at, prev_hash, hash FROM events';

function chainRows(db: Database, where = ''): IterableIterator<ChainRow> {
  return db.prepare(`${CHAIN_ROWS} ${where} ORDER BY seq`).iterate() as IterableIterator<ChainRow>;
}

export function requireKey(key: unknown): asserts key is Buffer {
  if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) {
    const got = Buffer.isBuffer(key) ? `${key.length} bytes` : typeof key;
    throw new Error(`journal: the key must be a Buffer of ${KEY_BYTES} bytes (see loadOrCreateKey), got ${got}`);
  }
}

export function chainHash(key: Buffer, prevHash: string, e: ChainedFields): string {
  const canonical = JSON.stringify([e.seq, e.txn_id, e.type, e.data, e.at]);
  return createHmac('sha256', key).update(prevHash).update('\n').update(canonical).digest('hex');
}

/** The keyed seal of the chain head: without the key, nobody can point the head at another event. */
export function headMac(key: Buffer, head: { seq: number; hash: string }): string {
  return createHmac('sha256', key).update(`chain-head\n${head.seq}\n${head.hash}`).digest('hex');
}

/**
 * Walks the chain from the first event and reports the first broken link. Event seqs are
 * AUTOINCREMENT from 1 and events are never deleted, so they must run 1, 2, 3 … with no gap, and
 * the highest seq ever issued (sqlite_sequence, and the chain head kept by the writer) must be the
 * last row's.
 */
export function checkChain(db: Database, key: Buffer): ChainResult {
  requireKey(key);
  let prev = GENESIS;
  let expected = 1;
  let broken: { row: ChainRow; kind: 'gap' | 'early' | 'unhashed' | 'link' | 'hash' } | undefined;
  for (const row of chainRows(db)) {
    if (row.seq > expected) broken = { row, kind: 'gap' };
    else if (row.seq < expected) broken = { row, kind: 'early' };
    else if (row.hash === null || row.prev_hash === null) broken = { row, kind: 'unhashed' };
    else if (row.prev_hash !== prev) broken = { row, kind: 'link' };
    else if (chainHash(key, prev, row) !== row.hash) broken = { row, kind: 'hash' };
    if (broken) break;
    prev = row.hash as string;
    expected += 1;
  }
  const last = expected - 1;

  if (!broken) return checkTail(db, key, last, prev);
  const { row, kind } = broken;
  const event = { type: row.type, txnId: row.txn_id, at: row.at };
  switch (kind) {
    case 'gap':
      return {
        ok: false,
        seq: expected,
        problem: 'deleted',
        detail:
          `${describeSeqs(expected, row.seq - 1)} missing: the chain goes from ` +
          `${last === 0 ? 'its start' : `event ${last}`} straight to event ${row.seq} (${describe(row)})`,
      };
    case 'early':
      return {
        ok: false,
        seq: row.seq,
        problem: 'inserted',
        detail: `event ${row.seq} (${describe(row)}) has a seq the journal never issues`,
        event,
      };
    case 'unhashed':
      return {
        ok: false,
        seq: row.seq,
        problem: 'inserted',
        detail: `event ${row.seq} (${describe(row)}) carries no chain hash: it was written around the journal`,
        event,
      };
    case 'link':
      return { ...classifyLink(db, key, row, last), event };
    case 'hash':
      return { ...classifyHash(db, key, row, last), event };
  }
}

/** The row does not chain to its predecessor. */
function classifyLink(db: Database, key: Buffer, row: ChainRow, last: number): ChainBreak {
  const after = last === 0 ? 'the start of the chain' : `event ${last}`;
  const home = db.prepare('SELECT seq FROM events WHERE hash = ? AND seq <> ?').get(row.prev_hash, row.seq) as
    | { seq: number }
    | undefined;
  if (home) {
    return {
      ok: false,
      seq: row.seq,
      problem: 'reordered',
      detail:
        `event ${row.seq} (${describe(row)}) was written after the event now at ${home.seq}, ` +
        `not after ${after}: events were moved`,
    };
  }
  if (chainHash(key, row.prev_hash as string, row) === row.hash) {
    return {
      ok: false,
      seq: row.seq,
      problem: 'deleted',
      detail:
        `event ${row.seq} (${describe(row)}) is genuine but chains to an event no longer in the journal, ` +
        `not to ${after}`,
    };
  }
  return {
    ok: false,
    seq: row.seq,
    problem: 'inserted',
    detail: `event ${row.seq} (${describe(row)}) neither chains to ${after} nor carries a hash made with this key`,
  };
}

/**
 * The row chains to its predecessor but its hash does not match its content. If the journal went
 * on writing after it (the next event, or the chain head, holds its hash), the journal wrote that
 * hash and the content changed since; otherwise the row was slipped in with a made-up hash.
 */
function classifyHash(db: Database, key: Buffer, row: ChainRow, last: number): ChainBreak {
  const next = db.prepare('SELECT prev_hash FROM events WHERE seq > ? ORDER BY seq LIMIT 1').get(row.seq) as
    | { prev_hash: string | null }
    | undefined;
  const head = readHead(db);
  const vouched = next ? next.prev_hash === row.hash : head?.seq === row.seq && head.hash === row.hash;
  const hint = anyVerifies(db, key)
    ? ''
    : '; no event in the journal verifies with this key, so the key may be the wrong one';
  if (vouched) {
    return {
      ok: false,
      seq: row.seq,
      problem: 'edited',
      detail:
        `event ${row.seq} (${describe(row)}) no longer matches its hash: ` +
        `its type, data, transaction or time was changed${hint}`,
    };
  }
  return {
    ok: false,
    seq: row.seq,
    problem: 'inserted',
    detail:
      `event ${row.seq} (${describe(row)}) follows event ${last} but its hash was not made by the journal ` +
      `and nothing the journal wrote later chains to it${hint}`,
  };
}

/**
 * Events removed from the end leave the issued seqs (and the chain head) ahead of the last row;
 * moving them back too breaks the head's seal.
 */
function checkTail(db: Database, key: Buffer, last: number, lastHash: string): ChainResult {
  const issued = db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'events'`).get() as
    | { seq: number }
    | undefined;
  const head = readHead(db);
  const highest = Math.max(issued?.seq ?? 0, head?.seq ?? 0);
  if (highest > last) {
    return {
      ok: false,
      seq: last + 1,
      problem: 'deleted',
      detail: `${describeSeqs(last + 1, highest)} missing from the end: the journal had written up to event ${highest}`,
    };
  }
  if (!head) {
    return { ok: false, seq: last + 1, problem: 'deleted', detail: 'the chain head record is missing' };
  }
  // A journal created without a key (tests of the store alone) has an empty chain and no seal yet.
  const unsealedEmpty = head.mac === null && head.seq === 0 && last === 0;
  if (!unsealedEmpty && (head.seq !== last || head.hash !== lastHash || head.mac !== headMac(key, head))) {
    return {
      ok: false,
      seq: last + 1,
      problem: 'deleted',
      detail:
        `the chain head (event ${head.seq}) does not carry the journal's seal: it was moved, ` +
        `so events after event ${last} may have been cut from the end`,
    };
  }
  return { ok: true, events: last };
}

/** True when at least one event's hash was made with this key. */
function anyVerifies(db: Database, key: Buffer): boolean {
  for (const row of chainRows(db, 'WHERE hash IS NOT NULL')) {
    if (row.prev_hash !== null && chainHash(key, row.prev_hash, row) === row.hash) return true;
  }
  return false;
}

export interface ChainHead {
  seq: number;
  hash: string;
  /** headMac of seq and hash; null only before migration 6 sealed it. */
  mac: string | null;
}

export function readHead(db: Database): ChainHead | undefined {
  const cols = db.prepare(`SELECT name FROM pragma_table_info('chain_head') WHERE name = 'mac'`).get() ? 'seq, hash, mac' : 'seq, hash, NULL AS mac';
  return db.prepare(`SELECT ${cols} FROM chain_head WHERE id = 1`).get() as ChainHead | undefined;
}

/** Migration 6: seals the chain head as it stands (a journal without events needs no key yet). */
export function sealHead(db: Database, key: Buffer | undefined): void {
  const head = readHead(db);
  if (!head) throw new Error('the chain head record is missing');
  if (key === undefined) {
    if (head.seq === 0) return;
    throw new Error('the chain head must be sealed with the journal key; open it with its key');
  }
  requireKey(key);
  db.prepare('UPDATE chain_head SET mac = ? WHERE id = 1').run(headMac(key, head));
}

function describe(row: ChainedFields): string {
  return `${row.type} at ${row.at}${row.txn_id === null ? '' : `, transaction "${row.txn_id}"`}`;
}

function describeSeqs(from: number, to: number): string {
  return from === to ? `event ${from} is` : `events ${from} to ${to} are`;
}

/**
 * Seals events written before the chain existed (schema version 3): they are hashed as they stand,
 * in seq order from GENESIS, and the chain head is set to the last of them.
 */
export function sealHistory(db: Database, key: Buffer | undefined): void {
  const { n } = db.prepare('SELECT COUNT(*) AS n FROM events WHERE hash IS NULL').get() as { n: number };
  let prev = GENESIS;
  let last = 0;
  if (n > 0) {
    if (key === undefined) {
      throw new Error(
        `${n} events written before the hash chain existed must be sealed with the journal key; open it with its key`,
      );
    }
    requireKey(key);
    const page = db.prepare('SELECT seq, txn_id, type, data, at FROM events WHERE seq > ? ORDER BY seq LIMIT 500');
    const seal = db.prepare('UPDATE events SET prev_hash = ?, hash = ? WHERE seq = ?');
    for (let rows = page.all(last) as ChainedFields[]; rows.length > 0; rows = page.all(last) as ChainedFields[]) {
      for (const row of rows) {
        const hash = chainHash(key, prev, row);
        seal.run(prev, hash, row.seq);
        prev = hash;
        last = row.seq;
      }
    }
  }
  db.prepare('INSERT INTO chain_head (id, seq, hash) VALUES (1, ?, ?)').run(last, prev);
}
