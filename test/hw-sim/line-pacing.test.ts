import t from 'tap';
import { memoryPair } from '../../drivers/transport/memory.js';
import { Id003Emulator, type FrameTiming } from '../../hw-sim/devices/id003/emulator.js';
import { byteMs, PacedLine } from '../../hw-sim/devices/line-pacing.js';
import { STATUS } from './id003-host.js';

const LINE = { baudRate: 9600, bitsPerByte: 11 };

t.test('a byte takes 11 bits at 9600 baud', async (t) => {
  t.equal(byteMs(LINE), 11000 / 9600);
});

t.test('each byte leaves no earlier than a UART would have sent it, in order, frames back to back', async (t) => {
  const written: { byte: number; at: number }[] = [];
  const line = new PacedLine(async (bytes) => {
    for (const b of bytes) written.push({ byte: b, at: performance.now() });
  }, LINE);
  const starts: number[] = [];
  const first = line.send(Uint8Array.of(1, 2, 3), (at) => starts.push(at));
  const second = line.send(Uint8Array.of(4, 5), (at) => starts.push(at));
  await Promise.all([first, second]);
  t.same(written.map((w) => w.byte), [1, 2, 3, 4, 5]);
  const per = byteMs(LINE);
  const gaps = written.slice(1).map((w, i) => w.at - written[i]!.at);
  // Every byte waits at least its own time on the line after the one before, across frames too.
  gaps.forEach((gap, i) => t.ok(gap >= per - 1e-9, `byte ${i + 2} follows byte ${i + 1} by ${gap.toFixed(3)} ms`));
  t.equal(starts.length, 2);
  t.ok(starts[0]! + 3 * per >= written[2]!.at, "the first frame's reckoned end is not before its last hand-over");
  t.ok(starts[1]! >= starts[0]! + 3 * per, 'the second frame starts after the first has left the line');
  t.ok(starts[1]! + 2 * per >= written[4]!.at);
});

t.test('a failed write rejects the send, and is not left unhandled', async (t) => {
  const line = new PacedLine(() => Promise.reject(new Error('port gone')), LINE);
  await t.rejects(line.send(Uint8Array.of(1, 2)), /port gone/);
});

t.test('the ID-003 emulator reports each frame it reads and sends, paced or not', async (t) => {
  for (const pacing of [undefined, LINE]) {
    const [hostEnd, deviceEnd] = memoryPair('id003');
    await hostEnd.open();
    const emulator = new Id003Emulator({ transport: deviceEnd, ...(pacing ? { pacing } : {}) });
    const frames: FrameTiming[] = [];
    emulator.on('frame', (f) => frames.push(f));
    await emulator.start();
    const received: number[] = [];
    let lastByteAt = 0;
    const replied = new Promise<void>((resolve) =>
      hostEnd.on('data', (chunk: Buffer) => {
        received.push(...chunk);
        lastByteAt = performance.now();
        if (received.length >= 5) resolve();
      }),
    );
    await hostEnd.write(Uint8Array.from(STATUS));
    await replied;
    const [rx, tx] = frames;
    t.match(rx, { direction: 'rx', cmd: 0x11, length: 5 }, 'the status request, as read');
    t.match(tx, { direction: 'tx', cmd: 0x40, length: 5 }, 'the power-up status reply, as sent');
    t.ok(tx!.at >= rx!.at, 'the reply goes out after the request came in');
    if (pacing) t.ok(lastByteAt >= tx!.at + 5 * byteMs(pacing) - 1e-9, 'paced: the reply took at least its wire time');
    await emulator.stop();
    await hostEnd.close();
  }
});
