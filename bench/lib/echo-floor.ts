import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { SerialTransport } from '../../drivers/transport/serial.js';
import { byteMs, PacedLine, type LinePacing } from '../../hw-sim/devices/line-pacing.js';
import { repoRoot, startPtyPair } from '../../hw-sim/stack.js';

/** A Node process that answers every `request`-byte frame with `reply` bytes at once, and nothing else. */
const PEER = `
import { SerialPort } from 'serialport';
const [request, reply] = [Number(process.env.ECHO_REQUEST), Number(process.env.ECHO_REPLY)];
const port = new SerialPort({ path: process.env.ECHO_PORT, baudRate: 9600 });
let got = 0;
port.on('data', (chunk) => {
  for (got += chunk.length; got >= request; got -= request) port.write(Buffer.alloc(reply, 0xfc));
});
port.on('open', () => process.stdout.write('ready\\n'));
`;

/**
 * What this box costs any host before it does anything: the paced frame out over a socat pty,
 * a do-nothing Node process answering, its reply back. Measured like the kiosk's reaction: first
 * bit out to the reply's last bit (the reply's wire time added), less both frames' wire time.
 */
export async function echoFloorMs(dir: string, samples: number, pacing: LinePacing, frames: { request: number; reply: number }): Promise<number[]> {
  const device = join(dir, 'echo-device');
  const host = join(dir, 'echo-host');
  const socat = await startPtyPair(host, device);
  let peer: ChildProcess | undefined;
  const transport = new SerialTransport({ path: device, baudRate: pacing.baudRate });
  try {
    peer = spawn(process.execPath, ['--input-type=module', '-e', PEER], {
      cwd: repoRoot(),
      env: { ...process.env, ECHO_PORT: host, ECHO_REQUEST: String(frames.request), ECHO_REPLY: String(frames.reply) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      peer!.once('exit', (code) => reject(new Error(`the echo process exited with ${code}`)));
      createInterface({ input: peer!.stdout! }).once('line', () => resolve());
    });
    await transport.open();
    const line = new PacedLine((b) => transport.write(b), pacing);
    const byte = byteMs(pacing);
    const overheads: number[] = [];
    for (let i = 0; i < samples; i++) {
      let received = 0;
      const answered = new Promise<number>((resolve) => {
        const onData = (chunk: Buffer) => {
          received += chunk.length;
          if (received < frames.reply) return;
          transport.off('data', onData);
          resolve(performance.now());
        };
        transport.on('data', onData);
      });
      let start = 0;
      await line.send(new Uint8Array(frames.request), (firstBitAt) => (start = firstBitAt));
      const at = await answered;
      overheads.push(at - start - frames.request * byte);
      await new Promise((r) => setTimeout(r, 20));
    }
    return overheads;
  } finally {
    await transport.close();
    peer?.kill();
    socat.kill();
  }
}
