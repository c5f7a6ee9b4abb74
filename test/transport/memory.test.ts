import t from 'tap';
import { memoryPair } from '../../drivers/transport/memory.js';

t.test('bytes written on one end arrive on the other, in order', async (t) => {
  const [a, b] = memoryPair('t');
  await a.open();
  await b.open();
  const got: Buffer[] = [];
  b.on('data', (d) => got.push(d));
  await a.write(Uint8Array.of(0xfc, 0x05));
  await a.write(Uint8Array.of(0x11, 0x27, 0x56));
  await new Promise((r) => setImmediate(r));
  t.same(Buffer.concat(got), Buffer.from([0xfc, 0x05, 0x11, 0x27, 0x56]));
});

t.test('writing on a closed end is an error, and close is reported', async (t) => {
  const [a] = memoryPair('t');
  await t.rejects(a.write(Uint8Array.of(1)), /closed/);
  await a.open();
  let closed = false;
  a.on('close', () => (closed = true));
  await a.close();
  t.ok(closed);
});
