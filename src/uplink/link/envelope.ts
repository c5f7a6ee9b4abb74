/**
 * The business link's message envelope: a fixed 16-byte header and a JSON body. Pure code, no I/O.
 *
 *   offset size  field
 *   0      2     magic 0x4B 0x4C ("KL")
 *   2      1     version, 1
 *   3      1     flags: bit 0 end of message, bit 1 response; the other bits are 0
 *   4      4     sequence number, uint32 big-endian (a response carries its request's)
 *   8      2     service type, uint16 big-endian
 *   10     2     error code, uint16 big-endian (0 in requests; 0 = done in responses)
 *   12     4     length of this part's body, uint32 big-endian
 *   16     n     body part
 *
 * A body longer than one part is carried by several parts with the same sequence number, service
 * and error code; only the last has the end-of-message flag. The joined body is UTF-8 JSON.
 */

export const MAGIC = 0x4b4c;
export const VERSION = 1;
export const HEADER_BYTES = 16;
export const FLAG_END = 0x01;
export const FLAG_RESPONSE = 0x02;
const KNOWN_FLAGS = FLAG_END | FLAG_RESPONSE;
export const MAX_SEQ = 0xffff_ffff;

/**
 * Messages whose last part has not come yet. Each costs bookkeeping even with an empty body, so
 * their number is bounded as well as their bytes; a peer has only a few requests outstanding.
 */
export const MAX_OPEN_MESSAGES = 64;

/** Largest body of one part, and of a whole message once its parts are joined. */
export const DEFAULT_LIMITS = { maxPartBytes: 64 * 1024, maxMessageBytes: 1024 * 1024 } as const;
export interface EnvelopeLimits {
  maxPartBytes: number;
  maxMessageBytes: number;
}

/** Service types. Codes below 0x0100 belong to the link itself; the rest are business services. */
export const Service = {
  hello: 0x0001,
  echo: 0x0002,
  lookup: 0x0101,
  deliver: 0x0102,
  /** One online card authorisation (card-reader path); carries card data, so it is never logged. */
  authoriseCard: 0x0103,
  /** Charge a wallet payment code (issue 17); carries the code, so it is never logged. */
  chargeByCode: 0x0110,
  /** The state of a wallet payment or order the kiosk asked for. */
  queryMobile: 0x0111,
  /** A wallet order the customer pays by scanning the kiosk's QR code. */
  createOrder: 0x0112,
} as const;

/** Error codes of a response. */
export const ErrorCode = {
  none: 0,
  /** The request could not be understood (bad body, wrong shape). Resending it will not help. */
  badRequest: 1,
  unknownService: 2,
  unknownAccount: 3,
  /** The server understood and refuses. */
  refused: 4,
  /** The server cannot serve now (billing down, overloaded); worth retrying later. */
  busy: 5,
} as const;

export interface EnvelopeMessage {
  seq: number;
  service: number;
  error: number;
  response: boolean;
  body: unknown;
}

export type EnvelopeErrorKind = 'bad-magic' | 'bad-version' | 'bad-flags' | 'oversize' | 'truncated' | 'mismatch' | 'bad-body';

export class EnvelopeError extends Error {
  override readonly name = 'EnvelopeError';
  constructor(
    readonly kind: EnvelopeErrorKind,
    message: string,
  ) {
    super(message);
  }
}

function checkUint(name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`envelope: ${name} must be an integer from 0 to ${max}, got ${v}`);
}

/** The bytes of one message: one part, or several when the body is longer than maxPartBytes. */
export function encodeMessage(m: EnvelopeMessage, limits: EnvelopeLimits = DEFAULT_LIMITS): Buffer {
  const json = JSON.stringify(m.body);
  if (json === undefined) throw new TypeError('envelope: the body must be a JSON value');
  return encodeFrames(m, Buffer.from(json, 'utf8'), limits);
}

/**
 * The bytes of one message whose body is already encoded (UTF-8 JSON), in one buffer of its own
 * (never a slice of Node's shared pool), so that a caller can zero it: the card authorisation's
 * body holds card data that must never become a string.
 */
export function encodeFrames(m: Omit<EnvelopeMessage, 'body'>, body: Buffer, limits: EnvelopeLimits = DEFAULT_LIMITS): Buffer {
  checkUint('seq', m.seq, MAX_SEQ);
  checkUint('service', m.service, 0xffff);
  checkUint('error', m.error, 0xffff);
  if (body.length > limits.maxMessageBytes) {
    throw new EnvelopeError('oversize', `body of ${body.length} bytes exceeds the ${limits.maxMessageBytes}-byte message limit`);
  }
  const parts = Math.max(1, Math.ceil(body.length / limits.maxPartBytes));
  const frames = Buffer.alloc(parts * HEADER_BYTES + body.length);
  let out = 0;
  for (let at = 0; at < body.length || out === 0; at += limits.maxPartBytes) {
    const length = Math.min(limits.maxPartBytes, body.length - at);
    const last = at + limits.maxPartBytes >= body.length;
    frames.writeUInt16BE(MAGIC, out);
    frames.writeUInt8(VERSION, out + 2);
    frames.writeUInt8((last ? FLAG_END : 0) | (m.response ? FLAG_RESPONSE : 0), out + 3);
    frames.writeUInt32BE(m.seq, out + 4);
    frames.writeUInt16BE(m.service, out + 8);
    frames.writeUInt16BE(m.error, out + 10);
    frames.writeUInt32BE(length, out + 12);
    body.copy(frames, out + HEADER_BYTES, at, at + length);
    out += HEADER_BYTES + length;
  }
  return frames;
}

interface Partial {
  service: number;
  error: number;
  /** The parts so far, joined as they come: one buffer, whatever the number of parts. */
  data: Buffer;
  bytes: number;
}

/**
 * Turns a byte stream into messages, whatever the chunking. Parts of different messages may
 * interleave; what is held for unfinished messages never exceeds maxMessageBytes. The first error
 * is final: the stream has lost its framing, so the connection must be closed.
 */
export class EnvelopeDecoder {
  private buffer: Buffer = Buffer.alloc(0);
  private readonly partial = new Map<string, Partial>();
  private held = 0;
  private failed: EnvelopeError | undefined;

  constructor(private readonly limits: EnvelopeLimits = DEFAULT_LIMITS) {}

  /** The complete messages this chunk finishes, in stream order. */
  push(chunk: Buffer): EnvelopeMessage[] {
    if (this.failed) throw this.failed;
    try {
      return this.decode(chunk);
    } catch (e) {
      if (e instanceof EnvelopeError) this.failed = e;
      throw e;
    }
  }

  /** The stream ended: anything still held is a cut-off message. */
  end(): void {
    if (this.failed) throw this.failed;
    if (this.buffer.length > 0) {
      this.failed = new EnvelopeError('truncated', `stream ended inside a part (${this.buffer.length} bytes of it received)`);
      throw this.failed;
    }
    if (this.partial.size > 0) {
      const [key] = this.partial.keys();
      this.failed = new EnvelopeError('truncated', `stream ended before the last part of message ${key}`);
      throw this.failed;
    }
  }

  /** Bytes waiting to become a message: the unparsed tail plus the bodies of unfinished messages. */
  get pendingBytes(): number {
    return this.buffer.length + this.held;
  }

  private decode(chunk: Buffer): EnvelopeMessage[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const out: EnvelopeMessage[] = [];
    let at = 0;
    while (this.buffer.length - at >= 2) {
      const b = this.buffer;
      // Checked as soon as the bytes are there, so a stream of garbage fails on its first bytes.
      if (b.readUInt16BE(at) !== MAGIC) throw new EnvelopeError('bad-magic', `bad magic 0x${b.readUInt16BE(at).toString(16).padStart(4, '0')}`);
      if (b.length - at >= 3 && b[at + 2] !== VERSION) throw new EnvelopeError('bad-version', `unsupported version ${b[at + 2]}`);
      if (b.length - at >= 4 && (b[at + 3]! & ~KNOWN_FLAGS) !== 0) throw new EnvelopeError('bad-flags', `unknown flags 0x${b[at + 3]!.toString(16)}`);
      if (b.length - at < HEADER_BYTES) break;
      const length = b.readUInt32BE(at + 12);
      if (length > this.limits.maxPartBytes) {
        throw new EnvelopeError('oversize', `part of ${length} bytes exceeds the ${this.limits.maxPartBytes}-byte part limit`);
      }
      if (b.length - at < HEADER_BYTES + length) break;
      const flags = b[at + 3]!;
      const seq = b.readUInt32BE(at + 4);
      const service = b.readUInt16BE(at + 8);
      const error = b.readUInt16BE(at + 10);
      const body = b.subarray(at + HEADER_BYTES, at + HEADER_BYTES + length);
      at += HEADER_BYTES + length;
      const message = this.join((flags & FLAG_RESPONSE) !== 0, seq, service, error, (flags & FLAG_END) !== 0, body);
      if (message) out.push(message);
    }
    // Copied so a large chunk is not kept alive by the few bytes left of it.
    this.buffer = at === 0 ? this.buffer : Buffer.from(this.buffer.subarray(at));
    return out;
  }

  private join(response: boolean, seq: number, service: number, error: number, end: boolean, body: Buffer): EnvelopeMessage | undefined {
    const key = `${response ? 'response' : 'request'} ${seq}`;
    let p = this.partial.get(key);
    if (p && (p.service !== service || p.error !== error)) {
      throw new EnvelopeError('mismatch', `a part of ${key} changes its service or error code`);
    }
    if (this.held + body.length > this.limits.maxMessageBytes) {
      throw new EnvelopeError('oversize', `message ${key} exceeds the ${this.limits.maxMessageBytes}-byte message limit`);
    }
    if (!end) {
      if (!p) {
        if (this.partial.size >= MAX_OPEN_MESSAGES) {
          throw new EnvelopeError('oversize', `more than ${MAX_OPEN_MESSAGES} messages unfinished at once`);
        }
        p = { service, error, data: Buffer.alloc(0), bytes: 0 };
        this.partial.set(key, p);
      }
      this.append(p, body);
      return undefined;
    }
    let whole = body;
    if (p) {
      this.partial.delete(key);
      this.held -= p.bytes;
      whole = Buffer.concat([p.data.subarray(0, p.bytes), body]);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(whole.toString('utf8'));
    } catch {
      throw new EnvelopeError('bad-body', `the body of ${key} is not JSON`);
    }
    return { seq, service, error, response, body: parsed };
  }

  /**
   * Copies a part's body after the ones before it (the part lives in a buffer about to be reused).
   * The room doubles as it fills, so many small parts cost linear time and no per-part memory.
   */
  private append(p: Partial, body: Buffer): void {
    if (p.bytes + body.length > p.data.length) {
      const room = Buffer.allocUnsafe(Math.min(this.limits.maxMessageBytes, Math.max(2 * p.data.length, p.bytes + body.length, 256)));
      p.data.copy(room, 0, 0, p.bytes);
      p.data = room;
    }
    body.copy(p.data, p.bytes);
    p.bytes += body.length;
    this.held += body.length;
  }
}
