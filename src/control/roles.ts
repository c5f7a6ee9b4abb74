import type { ControlRequest } from './protocol.js';
import type { Peer } from './peer.js';

/**
 * Who may send what. The service's own socket is open to the service's user alone (mode 0600), so
 * whatever arrives there may do anything. The console's socket is open to the console's group:
 * there the kernel names the sender (SO_PEERCRED) and the service's own user and root may still do
 * anything, while any other user gets the engineers' commands: read the state, journal its
 * audit, take the terminal out of service, refill, collect, reprint, test. Driving a customer
 * transaction or setting a hopper level by hand is refused.
 */
export const ENGINEER_COMMANDS: ReadonlySet<ControlRequest['cmd']> = new Set<ControlRequest['cmd']>([
  'status',
  'transactions',
  'transaction',
  'verify',
  'hoppers',
  'reprint-queue',
  'config',
  'log-tail',
  'audit',
  'console-lockout',
  'forward-now',
  'hopper-refill',
  'cash-collection',
  'reprint',
  'out-of-service',
  'in-service',
  'journal-rollback-accept',
  'device-test',
]);

export type Role = 'service' | 'engineer';

export function roleOf(peer: Peer, serviceUid: number): Role {
  return peer.uid === 0 || peer.uid === serviceUid ? 'service' : 'engineer';
}

export function mayRequest(role: Role, cmd: ControlRequest['cmd']): boolean {
  return role === 'service' || ENGINEER_COMMANDS.has(cmd);
}
