/**
 * How the CCNET driver reads the validator's states: which mean a note is on its way, which end a
 * note's cycle, which end a RESET, which report a power-up, and the health each one means.
 */
import type { BillAtPowerUp, DeviceStatus } from '../types.js';
import type { PollState, Reply } from './codec.js';

/** States in which a note is on its way and must be seen through before a RESET. */
export const NOTE_IN_MOTION = new Set<Reply['kind']>([
  'accepting',
  'escrow',
  'holding',
  'stacking',
  'stacked',
  'returning',
  'returned',
  'rejecting',
  'busy',
]);

/** States after which the current note is finished with (or forgotten by a reset or power cut). */
export const NOTE_CYCLE_ENDS = new Set<Reply['kind']>([
  'idling',
  'disabled',
  'accepting',
  'initialize',
  'rejecting',
  'power-up',
  'power-up-bill-in-validator',
  'power-up-bill-in-stacker',
]);

export const RESET_DONE = new Set<Reply['kind']>([
  'pause',
  'disabled',
  'idling',
  'stacker-full',
  'stacker-open',
  'jam-acceptor',
  'jam-stacker',
  'cheated',
  'failure',
]);

export const POWER_UP: ReadonlyMap<Reply['kind'], BillAtPowerUp> = new Map([
  ['power-up', 'none'],
  ['power-up-bill-in-validator', 'acceptor'],
  ['power-up-bill-in-stacker', 'stacker'],
] as const);

const READY: DeviceStatus = { health: 'ok', code: 'ok', detail: 'ready' };

/** The same codes as the ID-003 driver where the meaning is the same. */
export function healthOf(s: PollState): DeviceStatus | undefined {
  switch (s.kind) {
    case 'stacker-full':
      return { health: 'fault', code: 'stacker-full', detail: 'cash box full' };
    case 'stacker-open':
      return { health: 'fault', code: 'stacker-open', detail: 'cash box removed or out of position' };
    case 'jam-acceptor':
      return { health: 'fault', code: 'jam-acceptor', detail: 'note jammed in the validator' };
    case 'jam-stacker':
      return { health: 'fault', code: 'jam-stacker', detail: 'note jammed in the cash box' };
    case 'failure':
      return { health: 'fault', code: 'failure', detail: `${s.text} (0x${s.code.toString(16).toUpperCase()})` };
    case 'cheated':
      return { health: 'fault', code: 'cheated', detail: 'the device detected a cheat attempt' };
    case 'pause':
      return { health: 'degraded', code: 'pause', detail: 'paused: a second note was inserted' };
    case 'busy':
    case 'illegal-command':
      return undefined;
    default:
      return READY;
  }
}
