import type { DeviceStatus } from '../../drivers/types.js';

/**
 * What is wrong with a device's health, or null when it is ready: anything short of ready counts,
 * so a technician never signs off a device that is faulty, silent or still not ready. diag and the
 * engineers' console `test` judge a device by this one rule.
 */
export function healthProblem(s: DeviceStatus): string | null {
  if (s.health === 'ok') return null;
  if (s.health === 'offline') return `no answer: ${s.detail}`;
  if (s.health === 'fault') return `fault (${s.code}): ${s.detail}`;
  return `not ready (${s.code}): ${s.detail}`;
}
