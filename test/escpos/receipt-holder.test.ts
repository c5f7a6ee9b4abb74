import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import t from 'tap';
import { buildReceipt } from '../../drivers/escpos/receipt.js';
import { Journal } from '../../src/journal/index.js';
import { ReceiptService } from '../../src/runtime/receipts.js';

t.test("the receipt never carries the account holder's name", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kiosk-receipt-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const journal = Journal.open(join(dir, 'journal.db'), { key: Buffer.alloc(32, 3) });
  t.teardown(() => journal.close());
  const id = '019a0000-cccc-7000-8000-000000000003';
  journal.startTransaction(id, 'pay');
  journal.recordLookup(id, { phone: '13800138000', amountDue: 2000, holder: '张四 Zhang Si' });
  journal.settle(id, { endReason: 'looked-up' });
  const receipts = new ReceiptService(journal, undefined, { operator: 'op', terminalId: 'T-1', width: 42 }, pino({ level: 'silent' }));
  const printed = JSON.stringify(buildReceipt(receipts.data(id)));
  t.notMatch(printed, '张四');
  t.notMatch(printed, 'Zhang');
  t.match(printed, '138****8000', 'the phone, masked, is what identifies the account');
});
