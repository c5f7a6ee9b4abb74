import { createHash } from 'node:crypto';
import type BetterSqlite3 from 'better-sqlite3';
import { chainHash, GENESIS, headMac, readHead } from './chain.js';
import type { Database } from './store.js';

/**
 * What binds the rows that leave the kiosk or decide money to the hash chain. Each outbox row is
 * written in the same commit as an `outbox.queued` event carrying the digest of its payload as
 * stored, so an edited payload (a payment redirected to another phone) no longer matches anything
 * the journal chained; the forwarder refuses to send it and verify() reports it.
 */

/** The digest an `outbox.queued` event keeps of a payload: SHA-256 of the JSON text as stored. */
export function payloadDigest(payload: string): string {
  return createHash('sha256').update(payload, 'utf8').digest('hex');
}

/** Why an outbox row is not the one the journal chained, or null when it is. */
export function outboxMismatch(
  row: { message_id: string; kind: string; payload: string },
  queued: { kind: string; digest: string } | undefined,
): string | null {
  if (!queued) return `outbox message ${row.message_id} has no chained 'outbox.queued' event: it was written around the journal`;
  if (queued.kind !== row.kind) return `outbox message ${row.message_id} is of kind '${row.kind}' but was queued as '${queued.kind}'`;
  if (queued.digest !== payloadDigest(row.payload)) {
    return `outbox message ${row.message_id}: its payload no longer matches the digest chained when it was queued (it was edited)`;
  }
  return null;
}

/** The chained record of one outbox message, looked up by the partial index of migration 6. */
export function queuedStatement(db: Database): BetterSqlite3.Statement {
  return db.prepare(
    `SELECT json_extract(data, '$.kind') AS kind, json_extract(data, '$.digest') AS digest FROM events
     WHERE type = 'outbox.queued' AND json_extract(data, '$.messageId') = ?`,
  );
}

/**
 * Migration 6: rows queued before the binding existed are bound as they stand (the upgrade trusts
 * the file it finds, as the sealing of migration 3 did), each by a chained `outbox.queued` event.
 */
export function bindExistingOutbox(db: Database, key: Buffer | undefined): void {
  bindOutboxRows(db, key, 'migration');
}

/**
 * Binds outbox rows to the chain, each by a chained `outbox.queued` event: every row (the
 * migration), or the rows of the given message ids (a tool that filled the table itself, such as
 * the outbox-drain benchmark). The caller runs it inside its own transaction.
 */
export function bindOutboxRows(db: Database, key: Buffer | undefined, bound: string, messageIds?: ReadonlySet<string>): void {
  const rows = (
    db.prepare('SELECT message_id, txn_id, kind, payload FROM outbox ORDER BY seq').all() as {
      message_id: string;
      txn_id: string | null;
      kind: string;
      payload: string;
    }[]
  ).filter((r) => !messageIds || messageIds.has(r.message_id));
  if (rows.length === 0) return;
  if (key === undefined) throw new Error(`${rows.length} outbox messages must be bound to the chain with the journal key; open it with its key`);
  const at = new Date().toISOString();
  const nextSeq = db.prepare(
    `SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0),
                COALESCE((SELECT MAX(seq) FROM events), 0)) + 1 AS seq`,
  );
  const insert = db.prepare('INSERT INTO events (seq, txn_id, type, data, at, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const move = db.prepare('UPDATE chain_head SET seq = ?, hash = ?, mac = ? WHERE id = 1');
  for (const r of rows) {
    const prev = readHead(db)?.hash ?? GENESIS;
    const { seq } = nextSeq.get() as { seq: number };
    const data = JSON.stringify({ messageId: r.message_id, kind: r.kind, digest: payloadDigest(r.payload), bound });
    const hash = chainHash(key, prev, { seq, txn_id: r.txn_id, type: 'outbox.queued', data, at });
    insert.run(seq, r.txn_id, 'outbox.queued', data, at, prev, hash);
    move.run(seq, hash, headMac(key, { seq, hash }));
  }
}
