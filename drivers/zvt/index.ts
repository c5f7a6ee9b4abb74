import { SerialTransport } from '../transport/serial.js';
import { TcpTransport } from '../transport/tcp.js';
import type { DriverLog, PaymentTerminal } from '../types.js';
import { DEFAULT_TCP_PORT } from './constants.js';
import { ZvtTerminal, type ZvtOptions } from './driver.js';
import { SerialApduLink, TcpApduLink } from './link.js';

export { ZvtTerminal, type ZvtOptions } from './driver.js';
export { SerialApduLink, TcpApduLink, LinkError, type ApduLink } from './link.js';

export interface ZvtTerminalOptions {
  /** `tcp`: host and tcpPort (default 20007); `serial`: port, 9600 8N2 unless baudRate says otherwise. */
  transport: 'tcp' | 'serial';
  host?: string;
  tcpPort?: number;
  port?: string;
  baudRate?: number;
  password?: string;
  currency?: number;
  timeouts?: Pick<ZvtOptions, 'ackTimeoutMs' | 'idleTimeoutMs' | 'commandTimeoutMs' | 'abortWaitMs' | 'healthIntervalMs'>;
  log?: DriverLog;
}

export function createZvtTerminal(opts: ZvtTerminalOptions): PaymentTerminal {
  let link;
  if (opts.transport === 'tcp') {
    if (!opts.host) throw new Error('zvt over tcp needs a host');
    link = new TcpApduLink(new TcpTransport({ host: opts.host, port: opts.tcpPort ?? DEFAULT_TCP_PORT }));
  } else {
    if (!opts.port) throw new Error('zvt over serial needs a port');
    link = new SerialApduLink(new SerialTransport({ path: opts.port, baudRate: opts.baudRate ?? 9600, dataBits: 8, parity: 'none', stopBits: 2 }));
  }
  return new ZvtTerminal({
    link,
    ...(opts.password !== undefined ? { password: opts.password } : {}),
    ...(opts.currency !== undefined ? { currency: opts.currency } : {}),
    ...opts.timeouts,
    ...(opts.log ? { log: opts.log } : {}),
  });
}
