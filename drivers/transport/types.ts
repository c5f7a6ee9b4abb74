import type { EventEmitter } from 'node:events';

export interface TransportEvents {
  data: [Buffer];
  /** The link went away (cable pulled, pty closed). The transport may be opened again. */
  close: [];
  error: [Error];
}

/**
 * A byte pipe to one device. Protocol-free: framing belongs to the codec, timing to the driver.
 * `open()` rejects with a clear Error (naming the path) when the link cannot be opened.
 */
export interface Transport extends EventEmitter<TransportEvents> {
  readonly description: string;
  readonly isOpen: boolean;
  open(): Promise<void>;
  write(bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

export interface SerialSettings {
  path: string;
  baudRate: number;
  dataBits?: 7 | 8;
  parity?: 'none' | 'even' | 'odd';
  stopBits?: 1 | 2;
}
