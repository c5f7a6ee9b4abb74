/**
 * A minimal eSSP host for the emulator tests, written from protocols.md only: its own CRC (four
 * bits at a time, unlike the driver's table and the emulator's bit loop), its own packet builder and
 * splitter, its own key exchange and encrypted packets. Nothing is imported from drivers/essp or
 * from the emulator.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { Transport } from '../../drivers/transport/types.js';

/** CRC-16/CMS a nibble at a time. */
export function hostCrc(bytes: readonly number[]): number {
  const nibble = (crc: number, n: number): number => {
    let c = ((crc >>> 12) ^ n) << 12;
    for (let i = 0; i < 4; i++) c = c & 0x8000 ? ((c << 1) ^ 0x8005) & 0xffff : (c << 1) & 0xffff;
    return ((crc << 4) & 0xffff) ^ c;
  };
  let crc = 0xffff;
  for (const b of bytes) crc = nibble(nibble(crc, b >>> 4), b & 0x0f);
  return crc;
}

/** STX, then SEQ/ID, LENGTH, DATA and the CRC with every 0x7F doubled. */
export function wirePacket(seqId: number, data: readonly number[]): number[] {
  const body = [seqId, data.length, ...data];
  const crc = hostCrc(body);
  body.push(crc & 0xff, crc >>> 8);
  return [0x7f, ...body.flatMap((b) => (b === 0x7f ? [0x7f, 0x7f] : [b]))];
}

// Worked examples quoted in protocols.md section 2.
export const SYNC = [0x7f, 0x80, 0x01, 0x11, 0x65, 0x82];
export const OK_TO_SYNC = [0x7f, 0x80, 0x01, 0xf0, 0x23, 0x80];
export const VERSION_8 = [0x7f, 0x80, 0x02, 0x06, 0x08, 0x03, 0x94];
export const FAIL = [0x7f, 0x80, 0x01, 0xf8, 0x10, 0x00];

/** The largest 64-bit prime, and the generator of the worked SET GENERATOR example. */
const GENERATOR = 18446744073709551557n;
const MODULUS = 982451653n;
const HOST_SECRET = 0x1234567890abcdn;

function pow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  for (let x = b % m, k = e; k > 0n; k >>= 1n, x = (x * x) % m) if (k & 1n) r = (r * x) % m;
  return r;
}

const le64 = (n: bigint): number[] => Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));
const fromLe = (b: readonly number[]): bigint => b.reduceRight((acc, x) => (acc << 8n) | BigInt(x), 0n);

export interface Reply {
  seqId: number;
  /** DATA, decrypted when it came encrypted. */
  data: number[];
  /** The packet as it came off the line (stuffed). */
  raw: number[];
  encrypted: boolean;
  /** eCOUNT of an encrypted reply. */
  count?: number;
}

export class TestHost {
  badFrames = 0;
  /** Bytes skipped outside packets. */
  skipped = 0;
  /** The flag the next command gets. */
  seq = false;
  key: Buffer | undefined;
  count = 0;
  private bytes: number[] = [];
  private readonly replies: Reply[] = [];
  private waiter: (() => void) | undefined;

  constructor(
    private readonly line: Transport,
    private readonly fixedKey = 0x0123456701234567n,
  ) {
    line.on('data', (chunk) => {
      this.bytes.push(...chunk);
      this.split();
      this.waiter?.();
    });
  }

  /** Raw bytes onto the line. */
  async send(bytes: readonly number[]): Promise<void> {
    await this.line.write(Uint8Array.from(bytes));
  }

  /** Builds the packet for `data` with the next flag (or `seq`), encrypting unless `plain`. */
  build(data: readonly number[], opts: { seq?: boolean; plain?: boolean; count?: number; address?: number } = {}): number[] {
    const seq = opts.seq ?? this.seq;
    if (opts.seq === undefined) this.seq = !this.seq;
    const payload = this.key && !opts.plain ? this.seal(data, opts.count ?? this.count) : [...data];
    return wirePacket((seq ? 0x80 : 0) | (opts.address ?? 0), payload);
  }

  /** Sends one command and waits for one reply. */
  async request(data: readonly number[], opts: { seq?: boolean; plain?: boolean; count?: number } = {}): Promise<Reply> {
    const before = this.replies.length;
    await this.send(this.build(data, opts));
    await this.waitFor(() => this.replies.length > before, `a reply to ${data.map((b) => b.toString(16)).join(' ')}`);
    const reply = this.replies[before]!;
    if (reply.encrypted) {
      const expected = (this.count + 1) >>> 0;
      if (reply.count !== expected) throw new Error(`reply eCOUNT ${reply.count}, expected ${expected}`);
      this.count = expected;
    }
    return reply;
  }

  /** Sends raw bytes and resolves with the replies that arrived within `ms`. */
  async exchangeRaw(bytes: readonly number[], ms = 150): Promise<Reply[]> {
    const before = this.replies.length;
    await this.send(bytes);
    await new Promise((r) => setTimeout(r, ms));
    return this.replies.slice(before);
  }

  async sync(): Promise<Reply> {
    const before = this.replies.length;
    await this.send(SYNC);
    await this.waitFor(() => this.replies.length > before, 'the SYNC reply');
    this.seq = false;
    return this.replies[before]!;
  }

  /** SET GENERATOR, SET MODULUS, REQUEST KEY EXCHANGE in the clear; then every command is encrypted. */
  async negotiate(): Promise<void> {
    this.key = undefined;
    const ok = (r: Reply, what: string) => {
      if (r.data[0] !== 0xf0) throw new Error(`${what} answered ${r.data[0]?.toString(16)}`);
    };
    ok(await this.request([0x4a, ...le64(GENERATOR)]), 'set generator');
    ok(await this.request([0x4b, ...le64(MODULUS)]), 'set modulus');
    const reply = await this.request([0x4c, ...le64(pow(GENERATOR, HOST_SECRET, MODULUS))]);
    ok(reply, 'key exchange');
    const shared = pow(fromLe(reply.data.slice(1, 9)), HOST_SECRET, MODULUS);
    this.key = Buffer.from([...le64(this.fixedKey), ...le64(shared)]);
    this.count = 0;
  }

  /** POLL (0x07) or POLL WITH ACK (0x56): the event bytes after the OK. */
  async poll(withAck = false): Promise<number[]> {
    const r = await this.request([withAck ? 0x56 : 0x07]);
    if (r.data[0] !== 0xf0) throw new Error(`poll answered ${r.data[0]?.toString(16)}`);
    return r.data.slice(1);
  }

  /** Polls until `until` holds for the events of one reply; returns every reply's events. */
  async pollUntil(until: (events: number[]) => boolean, withAck = false, limitMs = 5000): Promise<number[][]> {
    const seen: number[][] = [];
    const deadline = Date.now() + limitMs;
    for (;;) {
      const events = await this.poll(withAck);
      seen.push(events);
      if (until(events)) return seen;
      if (Date.now() > deadline) throw new Error(`poll condition not met; last events ${JSON.stringify(seen.slice(-3))}`);
      await new Promise((r) => setTimeout(r, 15));
    }
  }

  /** Whether nothing came back to `bytes` within `ms`. */
  async unanswered(bytes: readonly number[], ms = 150): Promise<boolean> {
    return (await this.exchangeRaw(bytes, ms)).length === 0;
  }

  private seal(data: readonly number[], count: number): number[] {
    const inner = [data.length, count & 0xff, (count >>> 8) & 0xff, (count >>> 16) & 0xff, count >>> 24, ...data];
    while ((inner.length + 2) % 16 !== 0) inner.push(0xa5);
    const crc = hostCrc(inner);
    inner.push(crc & 0xff, crc >>> 8);
    const c = createCipheriv('aes-128-ecb', this.key!, null).setAutoPadding(false);
    return [0x7e, ...c.update(Buffer.from(inner)), ...c.final()];
  }

  /** Undefined when the reply fails decryption. */
  private open(data: number[]): { count: number; data: number[] } | undefined {
    const d = createDecipheriv('aes-128-ecb', this.key!, null).setAutoPadding(false);
    const plain = [...d.update(Buffer.from(data.slice(1))), ...d.final()];
    const crc = hostCrc(plain.slice(0, -2));
    if (plain.at(-2) !== (crc & 0xff) || plain.at(-1) !== crc >>> 8) return undefined;
    return { count: Number(fromLe(plain.slice(1, 5))), data: plain.slice(5, 5 + plain[0]!) };
  }

  private split(): void {
    for (;;) {
      const start = this.bytes.indexOf(0x7f);
      if (start < 0) {
        this.skipped += this.bytes.length;
        this.bytes = [];
        return;
      }
      this.skipped += start;
      this.bytes = this.bytes.slice(start);
      const body: number[] = [];
      let at = 1;
      let restart = -1;
      while (at < this.bytes.length && (body.length < 2 || body.length < body[1]! + 4)) {
        const b = this.bytes[at]!;
        if (b === 0x7f) {
          if (at + 1 >= this.bytes.length) return;
          if (this.bytes[at + 1] !== 0x7f) {
            restart = at;
            break;
          }
          at++;
        }
        body.push(b);
        at++;
      }
      if (restart >= 0) {
        this.skipped += restart;
        this.bytes = this.bytes.slice(restart);
        continue;
      }
      if (body.length < 2 || body.length < body[1]! + 4) return;
      const raw = this.bytes.slice(0, at);
      this.bytes = this.bytes.slice(at);
      const n = body[1]!;
      const crc = hostCrc(body.slice(0, n + 2));
      if (body[n + 2] !== (crc & 0xff) || body[n + 3] !== crc >>> 8) {
        this.badFrames++;
        continue;
      }
      const data = body.slice(2, 2 + n);
      const opened = data[0] === 0x7e && this.key !== undefined ? this.open(data) : undefined;
      if (data[0] === 0x7e && !opened) {
        this.badFrames++;
        continue;
      }
      this.replies.push(
        opened ? { seqId: body[0]!, data: opened.data, raw, encrypted: true, count: opened.count } : { seqId: body[0]!, data, raw, encrypted: false },
      );
    }
  }

  private async waitFor(check: () => boolean, what: string, limitMs = 3000): Promise<void> {
    const deadline = Date.now() + limitMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`no ${what} within ${limitMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 20);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.waiter = undefined;
  }
}
