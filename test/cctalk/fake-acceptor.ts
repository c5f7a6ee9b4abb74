import type { Answer } from './fake-line.js';

/** A coin acceptor reduced to what the driver asks: identity, inhibits and the 229 event ring. */
export class FakeAcceptor {
  category = 'Coin Acceptor';
  serial = [0x39, 0x30, 0x00];
  counter = 0;
  /** Newest first, at most 5. */
  ring: [number, number][] = [];
  master = 0;
  mask = '0000';
  silent = false;
  coinIds: Record<number, string> = {};

  handle = (header: number, data: Buffer): Answer => {
    if (this.silent) return 'silent';
    switch (header) {
      case 254:
        return [];
      case 245:
        return [...Buffer.from(this.category)];
      case 242:
        return this.serial;
      case 228:
        this.master = data[0]!;
        return [];
      case 231:
        this.mask = data.toString('hex');
        return [];
      case 229: {
        const flat = this.ring.flat();
        return [this.counter, ...flat, ...new Array(10 - flat.length).fill(0)];
      }
      case 184:
        return [...Buffer.from(this.coinIds[data[0]!] ?? '......')];
      default:
        return 'silent';
    }
  };

  event(a: number, b: number): void {
    this.counter = this.counter >= 255 ? 1 : this.counter + 1;
    this.ring.unshift([a, b]);
    this.ring.length = Math.min(this.ring.length, 5);
  }
}
