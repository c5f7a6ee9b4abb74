/**
 * Pure decoding of the vendor-report kind of reader. The layout supported is the MagTek USB HID swipe
 * reader's input report, 337 bytes, which other vendors copy:
 *
 *   offset  size  field
 *   0       1     track 1 decode status (0 = read, anything else = the track could not be decoded)
 *   1       1     track 2 decode status
 *   2       1     track 3 decode status
 *   3       1     track 1 length (0..110)
 *   4       1     track 2 length
 *   5       1     track 3 length
 *   6       1     card encode type (0 ISO/ABA, 1 AAMVA, 2 CADL, 3 blank, 4 other, 5 undetermined, 6 none)
 *   7       110   track 1 data (ASCII, sentinels included), zero-padded
 *   117     110   track 2 data
 *   227     110   track 3 data
 *
 * A report that does not have this size, or a length over 110, is not a swipe of this layout.
 */
import { TrackError } from './tracks.js';

export const VENDOR_REPORT_LENGTH = 337;
export const TRACK_FIELD_LENGTH = 110;
const STATUS_AT = 0;
const LENGTH_AT = 3;
const ENCODE_TYPE_AT = 6;
const DATA_AT = 7;

export const ENCODE_TYPES = ['iso-aba', 'aamva', 'cadl', 'blank', 'other', 'undetermined', 'none'] as const;
export type EncodeType = (typeof ENCODE_TYPES)[number] | 'unknown';

export class VendorReportError extends Error {}

/** What a vendor report says of one track: its bytes (views into the report), or why there are none. */
export type VendorTrack = Uint8Array | TrackError | undefined;

export interface VendorSwipe {
  encodeType: EncodeType;
  track1: VendorTrack;
  track2: VendorTrack;
  track3: VendorTrack;
}

/**
 * Splits one report into its tracks. A track with a non-zero status is a TrackError ('device-error');
 * a track of length 0 with status 0 is absent. Throws VendorReportError on a report of another layout.
 */
export function parseVendorReport(report: Uint8Array): VendorSwipe {
  if (report.length !== VENDOR_REPORT_LENGTH) {
    throw new VendorReportError(`vendor report of ${report.length} bytes, expected ${VENDOR_REPORT_LENGTH}`);
  }
  const track = (n: 0 | 1 | 2): VendorTrack => {
    const status = report[STATUS_AT + n]!;
    const length = report[LENGTH_AT + n]!;
    if (length > TRACK_FIELD_LENGTH) throw new VendorReportError(`track ${n + 1} length ${length} over ${TRACK_FIELD_LENGTH}`);
    if (status !== 0) return new TrackError('device-error', `track ${n + 1}: the reader could not decode it (status ${status})`);
    if (length === 0) return undefined;
    const at = DATA_AT + n * TRACK_FIELD_LENGTH;
    return report.subarray(at, at + length);
  };
  const type = report[ENCODE_TYPE_AT]!;
  return {
    encodeType: ENCODE_TYPES[type] ?? 'unknown',
    track1: track(0),
    track2: track(1),
    track3: track(2),
  };
}
