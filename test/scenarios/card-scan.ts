import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { scanFolder } from '../../hw-sim/runner/pan-scan.js';
import { scenarioDir } from './group.js';

/**
 * After a card scenario: every file it left (journal and its -wal/-shm, the runtime's log, the
 * printed receipts, the reference server's database) holds no test card's full number or track
 * data, and no whole wallet payment code (hw-sim/runner/pan-scan.ts; its positive control is
 * test/cards/pan-scan.test.ts).
 */
export function noCardData(t: Test, folder: string, file: string): void {
  const { files, findings } = scanFolder(folder);
  t.ok(files.includes('journal.db'), 'the journal was scanned');
  t.ok(files.includes('host.db'), "the reference server's database was scanned");
  t.ok(files.includes('runtime.log'), "the runtime's log was scanned");
  const fit = (JSON.parse(readFileSync(join(scenarioDir, file), 'utf8')) as { fit?: { printer?: boolean } }).fit;
  if (fit?.printer) t.ok(files.some((f) => f.startsWith('receipts/')), 'the printed receipts were scanned');
  t.same(findings, [], `no full card number or track data in ${files.length} files`);
}
