import type { CoinAcceptor, CoinHopper, DriverLog } from '../types.js';
import { getSharedBus } from './bus.js';
import { CctalkCoinAcceptor, type CoinChannel } from './coin-acceptor.js';
import { CctalkHopper, type HopperSecurityMode } from './hopper.js';

export { crc16Xmodem, simpleChecksum } from '../checksum/crc16.js';
export { frameCrc16 } from './checksum.js';
export * from './headers.js';
export {
  FRAME_OVERHEAD,
  FrameError,
  FrameSplitter,
  MAX_DATA_LENGTH,
  decodeFrame,
  encodeFrame,
  type ChecksumMode,
  type Frame,
  type FrameFields,
  type SplitterOptions,
  type SplitterStats,
} from './codec.js';
export {
  CctalkBus,
  CctalkBusError,
  getSharedBus,
  openCctalkBus,
  type BusFailure,
  type CctalkBusOptions,
  type EchoMode,
  type RequestOptions,
} from './bus.js';
export { WrongDeviceError, type Backoff } from './device.js';
export {
  CctalkCoinAcceptor,
  counterDelta,
  inhibitMask,
  parseCoinId,
  type CctalkCoinAcceptorOptions,
  type CoinChannel,
} from './coin-acceptor.js';
export {
  CctalkHopper,
  DispenseNotAcceptedError,
  DispenseOutcomeUnknownError,
  nextEvent,
  parseHopperStatus,
  type CctalkHopperOptions,
  type HopperSecurityMode,
} from './hopper.js';

/** A ccTalk coin acceptor (default address 2) on a serial port shared with the other ccTalk devices on it. */
export function createCctalkCoinAcceptor(opts: {
  port: string;
  address?: number;
  coins?: readonly CoinChannel[];
  log?: DriverLog;
}): CoinAcceptor {
  const { port, ...rest } = opts;
  return new CctalkCoinAcceptor({ bus: getSharedBus(port, { log: opts.log }), ...rest });
}

/** A ccTalk coin hopper (default address 3) on a serial port shared with the other ccTalk devices on it. */
export function createCctalkHopper(opts: {
  port: string;
  address?: number;
  coinValue: number;
  name: string;
  securityMode?: HopperSecurityMode;
  log?: DriverLog;
}): CoinHopper {
  const { port, ...rest } = opts;
  return new CctalkHopper({ bus: getSharedBus(port, { log: opts.log }), ...rest });
}
