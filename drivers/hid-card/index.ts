import { hidSourceFor } from '../transport/hid-device.js';
import type { CardReader, DriverLog } from '../types.js';
import { HidCardReader, type HidReportKind } from './driver.js';

export { HidCardReader, type HidCardReaderOptions, type HidReportKind } from './driver.js';
export { derivePanKey, maskPan, panHash, seal } from './mask.js';
export { TrackError, luhnValid, parseTrack1, parseTrack2, readSwipe, readTracks, splitSwipe, trackLrc, type CardData } from './tracks.js';
export { KeyboardDecoder, keyToChar } from '../keyboard/boot-keyboard.js';
export { VENDOR_REPORT_LENGTH, parseVendorReport } from './vendor.js';
export { hidSourceFor } from '../transport/hid-device.js';

export interface HidCardOptions {
  /**
   * The reader: a hidraw path (`/dev/hidraw3`, best a udev symlink such as `/dev/kiosk/card-reader`),
   * `usb:VVVV:PPPP` (hex USB ids), or `socket:PATH` for the reader emulator.
   */
  device: string;
  /** derivePanKey(terminal secret). */
  panKey: Uint8Array;
  log?: DriverLog;
}

function create(kind: HidReportKind, model: string, opts: HidCardOptions): CardReader {
  return new HidCardReader({ source: hidSourceFor(opts.device), kind, model, panKey: opts.panKey, ...(opts.log ? { log: opts.log } : {}) });
}

/** A keyboard-wedge reader: boot-keyboard reports, US layout, Enter ends a swipe. */
export function createHidKeyboardReader(opts: HidCardOptions): CardReader {
  return create('keyboard', 'hid-keyboard', opts);
}

/** A vendor-report reader with the MagTek-style 337-byte swipe report (see vendor.ts). */
export function createHidVendorReader(opts: HidCardOptions): CardReader {
  return create('vendor', 'hid-vendor', opts);
}
