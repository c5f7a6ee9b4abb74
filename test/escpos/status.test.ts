import t from 'tap';
import {
  StatusByteError,
  blockingCode,
  decodeErrorCause,
  decodeOfflineCause,
  decodePaperSensor,
  decodePrinterStatus,
  decodeStatus,
  isStatusByte,
  statusRequest,
  summarize,
} from '../../drivers/escpos/status.js';

t.test('DLE EOT n request bytes', async (t) => {
  t.same([...statusRequest(1)], [0x10, 0x04, 0x01]);
  t.same([...statusRequest(4)], [0x10, 0x04, 0x04]);
});

t.test('n = 1 printer status', async (t) => {
  t.same(decodePrinterStatus(0x12), { offline: false, drawerPin3: false });
  t.same(decodePrinterStatus(0x1a), { offline: true, drawerPin3: false });
  t.same(decodePrinterStatus(0x16), { offline: false, drawerPin3: true });
});

t.test('n = 2 offline cause', async (t) => {
  t.same(decodeOfflineCause(0x12), { coverOpen: false, feedButton: false, paperEndStop: false, error: false });
  t.same(decodeOfflineCause(0x16), { coverOpen: true, feedButton: false, paperEndStop: false, error: false });
  t.same(decodeOfflineCause(0x1a), { coverOpen: false, feedButton: true, paperEndStop: false, error: false });
  t.same(decodeOfflineCause(0x32), { coverOpen: false, feedButton: false, paperEndStop: true, error: false });
  t.same(decodeOfflineCause(0x52), { coverOpen: false, feedButton: false, paperEndStop: false, error: true });
});

t.test('n = 3 error cause', async (t) => {
  t.same(decodeErrorCause(0x12), { cutterError: false, unrecoverable: false, autoRecoverable: false });
  t.same(decodeErrorCause(0x1a), { cutterError: true, unrecoverable: false, autoRecoverable: false });
  t.same(decodeErrorCause(0x32), { cutterError: false, unrecoverable: true, autoRecoverable: false });
  t.same(decodeErrorCause(0x52), { cutterError: false, unrecoverable: false, autoRecoverable: true });
});

t.test('n = 4 paper sensor', async (t) => {
  t.same(decodePaperSensor(0x12), { paperNearEnd: false, paperEnd: false });
  t.same(decodePaperSensor(0x1e), { paperNearEnd: true, paperEnd: false });
  t.same(decodePaperSensor(0x72), { paperNearEnd: false, paperEnd: true });
  t.same(decodePaperSensor(0x7e), { paperNearEnd: true, paperEnd: true });
  // a printer with one sensor bit of the pair
  t.same(decodePaperSensor(0x16), { paperNearEnd: true, paperEnd: false });
  t.same(decodePaperSensor(0x32), { paperNearEnd: false, paperEnd: true });
});

t.test('bytes that break the fixed bits are refused', async (t) => {
  for (const b of [0x00, 0x13, 0x92, 0x10, 0x02, 0xff, 0x5f, 0x30]) {
    t.notOk(isStatusByte(b), `0x${b.toString(16)}`);
    t.throws(() => decodePrinterStatus(b), StatusByteError);
    t.throws(() => decodePaperSensor(b), StatusByteError);
  }
  t.notOk(isStatusByte(0x112), 'more than a byte');
  t.notOk(isStatusByte(-1));
  t.throws(() => decodeStatus([0x12, 0x12, 0x12, 0x13]), /DLE EOT 4 .*0x13/);
});

t.test('summarize', async (t) => {
  const s = (b: [number, number, number, number]) => summarize(decodeStatus(b));
  t.same(s([0x12, 0x12, 0x12, 0x12]), { health: 'ok', code: 'ok', detail: 'ready' });
  t.match(s([0x12, 0x12, 0x12, 0x1e]), { health: 'degraded', code: 'paper-near-end' });
  // paper end: offline, stopped by paper end, both sensor bits
  t.match(s([0x1a, 0x32, 0x12, 0x72]), { health: 'fault', code: 'paper-out' });
  t.match(s([0x12, 0x12, 0x12, 0x7e]), { health: 'fault', code: 'paper-out' }, 'paper end wins over near end');
  t.match(s([0x1a, 0x16, 0x12, 0x12]), { health: 'fault', code: 'cover-open' });
  t.match(s([0x1a, 0x52, 0x1a, 0x12]), { health: 'fault', code: 'cutter-error' });
  t.match(s([0x1a, 0x52, 0x32, 0x12]), { health: 'fault', code: 'unrecoverable-error' });
  t.match(s([0x1a, 0x52, 0x52, 0x12]), { health: 'fault', code: 'auto-recoverable-error' });
  t.match(s([0x1a, 0x52, 0x12, 0x12]), { health: 'fault', code: 'error' });
  t.match(s([0x1a, 0x1a, 0x12, 0x12]), { health: 'fault', code: 'offline', detail: /feed button/ });
});

t.test('blockingCode maps a status to the PrinterError code', async (t) => {
  t.equal(blockingCode({ health: 'ok', code: 'ok', detail: '' }), undefined);
  t.equal(blockingCode({ health: 'degraded', code: 'paper-near-end', detail: '' }), undefined);
  t.equal(blockingCode({ health: 'fault', code: 'paper-out', detail: '' }), 'paper-out');
  t.equal(blockingCode({ health: 'fault', code: 'cover-open', detail: '' }), 'cover-open');
  t.equal(blockingCode({ health: 'fault', code: 'offline', detail: '' }), 'offline');
  t.equal(blockingCode({ health: 'fault', code: 'cutter-error', detail: '' }), 'error');
  t.equal(blockingCode({ health: 'offline', code: 'no-answer', detail: '' }), 'offline');
});
