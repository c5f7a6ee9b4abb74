/**
 * How the ID-003 driver reads the device's statuses: which mean a note is on its way, which end a
 * note's cycle, which end a Reset, which report a power-up, and the health each one means.
 */
import type { BillAtPowerUp, DeviceStatus } from '../types.js';
import type { DeviceStatusReply, Reply } from './codec.js';

/** Statuses in which a note is on its way and must be seen through before a Reset. */
export const NOTE_IN_MOTION = new Set<Reply['kind']>([
  'accepting',
  'escrow',
  'stacking',
  'vend-valid',
  'stacked',
  'rejecting',
  'returning',
]);

/** Statuses after which the current note is finished with (stacked, returned or forgotten by a reset). */
export const NOTE_CYCLE_ENDS = new Set<Reply['kind']>([
  'stacked',
  'idling',
  'accepting',
  'disabled',
  'initialize',
  'rejecting',
  'returning',
  'power-up',
  'power-up-bill-in-acceptor',
  'power-up-bill-in-stacker',
]);

export const RESET_DONE = new Set<Reply['kind']>([
  'initialize',
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
  ['power-up-bill-in-acceptor', 'acceptor'],
  ['power-up-bill-in-stacker', 'stacker'],
] as const);

const READY: DeviceStatus = { health: 'ok', code: 'ok', detail: 'ready' };

export function healthOf(s: DeviceStatusReply): DeviceStatus | undefined {
  switch (s.kind) {
    case 'stacker-full':
      return { health: 'fault', code: 'stacker-full', detail: 'cash box full' };
    case 'stacker-open':
      return { health: 'fault', code: 'stacker-open', detail: 'cash box removed' };
    case 'jam-acceptor':
      return { health: 'fault', code: 'jam-acceptor', detail: 'note jammed in the acceptor' };
    case 'jam-stacker':
      return { health: 'fault', code: 'jam-stacker', detail: 'note jammed in the stacker' };
    case 'failure':
      return { health: 'fault', code: 'failure', detail: `${s.text} (0x${s.code.toString(16).toUpperCase()})` };
    case 'cheated':
      return { health: 'fault', code: 'cheated', detail: 'the device detected a cheat attempt' };
    case 'pause':
      return { health: 'degraded', code: 'pause', detail: 'paused: a second note was inserted' };
    case 'communication-error':
    case 'invalid-command':
      return undefined;
    default:
      return READY;
  }
}
