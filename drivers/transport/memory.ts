import { EventEmitter } from 'node:events';
import type { Transport, TransportEvents } from './types.js';

/**
 * One end of an in-memory byte pipe. Bytes written on one end arrive on the other end
 * asynchronously (next macrotask), as they would from a real line.
 */
export class MemoryTransport extends EventEmitter<TransportEvents> implements Transport {
  peer: MemoryTransport | undefined;
  private opened = false;

  constructor(readonly description: string) {
    super();
  }

  get isOpen(): boolean {
    return this.opened;
  }

  async open(): Promise<void> {
    this.opened = true;
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (!this.opened) throw new Error(`${this.description}: write on a closed transport`);
    const peer = this.peer;
    const copy = Buffer.from(bytes);
    setImmediate(() => {
      if (peer?.opened) peer.emit('data', copy);
    });
  }

  async close(): Promise<void> {
    if (!this.opened) return;
    this.opened = false;
    this.emit('close');
  }
}

/** Two linked ends: what `a` writes, `b` reads, and the other way round. */
export function memoryPair(name = 'memory'): [MemoryTransport, MemoryTransport] {
  const a = new MemoryTransport(`${name}:a`);
  const b = new MemoryTransport(`${name}:b`);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
