import t from 'tap';
import { memoryPair } from '../../drivers/transport/memory.js';
import { CctalkBus, CctalkBusError, type CctalkBusOptions } from '../../drivers/cctalk/bus.js';
import { FakeLine, frame, type Answer } from './fake-line.js';

function setUp(opts: CctalkBusOptions = {}, echo = false) {
  const [host, device] = memoryPair('cctalk');
  void device.open();
  // Long enough that a loaded machine does not cause retries the test does not expect; the
  // requests meant to time out pass their own short time-out.
  const bus = new CctalkBus(host, { replyTimeoutMs: 1000, busyRetryDelayMs: 5, ...opts });
  const short = { timeoutMs: 150 };
  const line = new FakeLine(device, { echo });
  return { bus, line, host, device, short };
}

/** Answers from a list, one per request; the last one repeats. */
function script(...answers: Answer[]): () => Answer {
  let i = 0;
  return () => answers[Math.min(i++, answers.length - 1)]!;
}

async function failure(p: Promise<unknown>): Promise<CctalkBusError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CctalkBusError) return err;
    throw err;
  }
  throw new Error('expected a CctalkBusError');
}

t.test('echo: stripped when the line echoes, nothing stripped when it does not', async (t) => {
  for (const [echoMode, lineEchoes] of [
    ['auto', true],
    ['auto', false],
    ['on', true],
    ['off', false],
  ] as const) {
    const { bus, line } = setUp({ echo: echoMode }, lineEchoes);
    line.handlers.set(3, (header) => (header === 166 ? [7, 0, 5, 0] : []));
    const data = await bus.request(3, 166);
    t.same([...data], [7, 0, 5, 0], `echo '${echoMode}', line ${lineEchoes ? 'echoes' : 'does not echo'}`);
    const ack = await bus.request(3, 164, Buffer.of(0xa5));
    t.equal(ack.length, 0, 'an ACK has no data');
    t.equal(line.received.length, 2, 'each request sent once');
    await bus.close();
  }
});

t.test('echo on: a garbled echo is still dropped', async (t) => {
  const { bus, line, device } = setUp({ echo: 'on' });
  line.handlers.set(2, () => {
    device.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff])).catch(() => undefined);
    return [42];
  });
  t.same([...(await bus.request(2, 242))], [42]);
  t.equal(line.received.length, 1);
  await bus.close();
});

t.test('retries on time-out, then gives up', async (t) => {
  const { bus, line, short } = setUp({ retries: 3 });
  line.handlers.set(2, script('silent', 'silent', [9]));
  t.same([...(await bus.request(2, 229, undefined, short))], [9], 'third try answered');
  t.equal(line.count(2, 229), 3);

  line.handlers.set(2, () => 'silent');
  const err = await failure(bus.request(2, 254, undefined, short));
  t.equal(err.reason, 'no-reply');
  t.match(err.message, /no reply to header 254 to address 2/);
  t.equal(line.count(2, 254), 4, 'first try plus three retries');
  await bus.close();
});

t.test('a late answer to the first try does not pass for the next reply', async (t) => {
  const { bus, line } = setUp({ replyTimeoutMs: 200 });
  // The first 245 is answered after the time-out, its re-send at once; 242 takes a while.
  const delays = [300, 10, 150];
  line.handlers.set(2, (header) => {
    line.replyDelayMs = delays.shift() ?? 0;
    return [header];
  });
  t.same([...(await bus.request(2, 245))], [245]);
  t.same([...(await bus.request(2, 242))], [242], 'the late answer to the first 245 was dropped');
  t.equal(line.count(2, 245), 2);
  await bus.close();
});

t.test('retries on a bad checksum', async (t) => {
  const { bus, line, short } = setUp();
  const garbled = frame(1, 2, 0, [5]);
  garbled[garbled.length - 1]! ^= 0x01;
  line.handlers.set(2, script({ raw: garbled }, [5]));
  t.same([...(await bus.request(2, 242, undefined, short))], [5]);
  t.equal(line.count(2, 242), 2);
  t.equal(bus.stats.badChecksum, 1);

  line.handlers.set(3, () => ({ raw: garbled }));
  const err = await failure(bus.request(3, 242, undefined, short));
  t.equal(err.reason, 'garbled', 'nothing but bad frames came back');
  t.equal(line.count(3, 242), 4);
  line.handlers.set(3, () => ({ raw: Buffer.concat([frame(1, 3, 0, [1, 2]).subarray(0, 5), Buffer.of(0)]) }));
  const bad = await failure(bus.request(3, 242, undefined, short));
  t.equal(bad.reason, 'garbled', 'a truncated frame is garbled too');
  await bus.close();
});

t.test('retries on NAK and BUSY; the last answer is the error', async (t) => {
  const { bus, line } = setUp();
  line.handlers.set(2, script('nak', 'busy', []));
  t.same([...(await bus.request(2, 228, Buffer.of(1)))], []);
  t.equal(line.count(2, 228), 3);

  line.handlers.set(2, () => 'busy');
  const err = await failure(bus.request(2, 228, Buffer.of(1)));
  t.equal(err.reason, 'busy');
  t.equal(line.count(2, 228), 7);
  await bus.close();
});

t.test('retry: false sends once, whatever happens', async (t) => {
  const { bus, line, short } = setUp();
  line.handlers.set(3, () => 'silent');
  const lost = await failure(bus.request(3, 167, Buffer.of(1, 2, 3, 4), { retry: false, ...short }));
  t.equal(lost.reason, 'no-reply');
  t.equal(line.count(3, 167), 1);

  line.handlers.set(3, () => 'nak');
  const refused = await failure(bus.request(3, 167, Buffer.of(1, 2, 3, 4), { retry: false }));
  t.equal(refused.reason, 'nak');
  t.equal(line.count(3, 167), 2);

  const garbled = frame(1, 3, 0, [8]);
  garbled[4] = 9;
  line.handlers.set(3, () => ({ raw: garbled }));
  const bad = await failure(bus.request(3, 167, Buffer.of(1, 2, 3, 4), { retry: false, ...short }));
  t.equal(bad.reason, 'garbled');
  t.equal(line.count(3, 167), 3);
  await bus.close();
});

t.test('two addresses on one bus: one request at a time, each answered in order', async (t) => {
  const { bus, line } = setUp({}, true);
  line.replyDelayMs = 5;
  line.handlers.set(2, (header) => [2, header]);
  line.handlers.set(3, (header) => [3, header]);
  const results = await Promise.all([
    bus.request(2, 229),
    bus.request(3, 166),
    bus.request(2, 245),
    bus.request(3, 242),
  ]);
  t.same(results.map((d) => [...d]), [
    [2, 229],
    [3, 166],
    [2, 245],
    [3, 242],
  ]);
  t.same(
    line.received.map((r) => `${r.dest}:${r.header}`),
    ['2:229', '3:166', '2:245', '3:242'],
  );
  t.equal(line.overlaps, 0, 'no request while another was unanswered');
  await bus.close();
});

t.test('a reply from another address or of the wrong length is not the reply', async (t) => {
  const { bus, line, short } = setUp();
  line.handlers.set(3, script({ raw: Buffer.concat([frame(1, 4, 0, [1, 2, 3, 4]), frame(1, 3, 0, [8])]) }, [1, 2, 3, 4]));
  t.same([...(await bus.request(3, 166, undefined, { replyLength: 4, ...short }))], [1, 2, 3, 4]);
  t.equal(line.count(3, 166), 2, 'the stray frames were ignored and the request retried');
  await bus.close();
});

t.test('garbage that looks like a long frame is given up after the gap', async (t) => {
  const { bus, line } = setUp({ replyTimeoutMs: 2000 });
  // 0x01 0xF0 reads as the start of a 245-byte frame to the host; the real reply hides behind it.
  line.handlers.set(2, () => ({ raw: Buffer.concat([Buffer.of(0x01, 0xf0), frame(1, 2, 0, [77])]) }));
  t.same([...(await bus.request(2, 242))], [77]);
  t.equal(line.count(2, 242), 1, 'no retry was needed');
  t.equal(bus.stats.abandoned, 1);
  await bus.close();
});

t.test('CRC-16 mode: the spec example', async (t) => {
  const [host, device] = memoryPair('cctalk-crc');
  await device.open();
  const bus = new CctalkBus(host, { checksum: 'crc16', replyTimeoutMs: 200 });
  const sent: string[] = [];
  device.on('data', (b) => {
    sent.push(b.toString('hex'));
    void device.write(Buffer.from([1, 0, 48, 0, 55]));
  });
  t.equal((await bus.request(40, 254)).length, 0, 'RX [1][0][48][0][55] is the ACK');
  t.same(sent, ['2800b6fe21'], 'TX [40][0][182][254][33]');
  await bus.close();
});

t.test('link failures', async (t) => {
  const { bus, host } = setUp();
  host.peer = undefined;
  const lost = await failure(bus.request(2, 254, undefined, { retry: false, timeoutMs: 20 }));
  t.equal(lost.reason, 'no-reply', 'a dead line is silence');
  const closing = bus.request(2, 254);
  setTimeout(() => void host.close(), 10);
  const closed = await failure(closing);
  t.equal(closed.reason, 'link');
  t.match(closed.message, /closed during header 254/);
  t.rejects(bus.request(2, 256), /header out of range/);
  await bus.close();
});
