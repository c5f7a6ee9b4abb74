import type { SimStack } from '../stack.js';

/**
 * A fault the simulated world can inject: what the emulator's console (or the stack, for cables and
 * the server) is told to start it, and to end it when it can end. Faults that cannot be cleared
 * (a power cycle) are over as soon as they happened.
 */
export interface Fault {
  id: string;
  label: string;
  /** How the runtime names the device in its status log lines; null for the server. */
  runtimeDevice: string | null;
  inject(stack: SimStack): Promise<void>;
  clear: ((stack: SimStack) => Promise<void>) | null;
}

/** A line typed to an emulator's console. */
function typed(device: string, line: string): (stack: SimStack) => Promise<void> {
  return async (stack) => stack.deviceCommand(line, device);
}

function consoleFault(id: string, label: string, device: string, runtimeDevice: string, line: string, clear: string | null = 'clear'): Fault {
  return { id, label, runtimeDevice, inject: typed(device, line), clear: clear === null ? null : typed(device, clear) };
}

/** The hopper the faults are aimed at: the one yuan hopper pays most of the change. */
const HOPPER = 'h100';

/**
 * Every fault the emulators' consoles and the stack can inject, in table order. The first fifteen
 * are the ones issue 8 names; the rest are the other console commands that put a device in a
 * wrong state.
 */
export const FAULTS: readonly Fault[] = [
  consoleFault('validator-jam', 'validator jam', 'validator', 'validator', 'jam'),
  consoleFault('stacker-full', 'stacker full', 'validator', 'validator', 'stacker-full'),
  consoleFault('stacker-open', 'stacker open (cash box removed)', 'validator', 'validator', 'stacker-open'),
  consoleFault('validator-silent', 'validator silent', 'validator', 'validator', 'silent'),
  {
    id: 'validator-unplugged',
    label: 'validator unplugged and back',
    runtimeDevice: 'validator',
    inject: (stack) => stack.unplug('validator'),
    clear: (stack) => stack.replug('validator'),
  },
  consoleFault('validator-power-cycle', 'validator power cycle', 'validator', 'validator', 'power-cycle', null),
  {
    id: 'hopper-empty',
    label: 'hopper empty (1 yuan)',
    runtimeDevice: `hopper:${HOPPER}`,
    inject: typed(HOPPER, 'empty'),
    // The technician refills it and tells the kiosk how many coins it now holds.
    clear: async (stack) => {
      const filled = stack.waitForDeviceLine(HOPPER, (l) => l.startsWith('refill:'), 10_000);
      stack.deviceCommand('refill 200', HOPPER);
      await filled;
      const r = await stack.control({ cmd: 'hopper-level', name: HOPPER, level: 200 });
      if (!r.ok) throw new Error(`cannot set the level of ${HOPPER}: ${r.error}`);
    },
  },
  consoleFault('hopper-jam', 'hopper jam (1 yuan)', HOPPER, `hopper:${HOPPER}`, 'jam'),
  consoleFault('hopper-power-cycle', 'hopper power cycle (1 yuan)', HOPPER, `hopper:${HOPPER}`, 'power-cycle', null),
  consoleFault('coin-silent', 'coin acceptor silent', 'coin', 'coin-acceptor', 'silent'),
  consoleFault('printer-paper-out', 'printer paper out', 'printer', 'printer', 'paper-out'),
  consoleFault('printer-cover-open', 'printer cover open', 'printer', 'printer', 'cover-open'),
  consoleFault('printer-silent', 'printer silent', 'printer', 'printer', 'silent'),
  {
    id: 'server-down',
    label: 'server down',
    runtimeDevice: null,
    inject: async (stack) => stack.host.setMode('down'),
    clear: async (stack) => stack.host.setMode('ok'),
  },
  consoleFault('hopper-silent', 'hopper silent (1 yuan)', HOPPER, `hopper:${HOPPER}`, 'silent'),
  consoleFault('coin-jam', 'coin acceptor jam', 'coin', 'coin-acceptor', 'jam'),
  consoleFault('coin-power-cycle', 'coin acceptor power cycle', 'coin', 'coin-acceptor', 'power-cycle', null),
  consoleFault('printer-cutter-error', 'printer cutter jam', 'printer', 'printer', 'cutter-error'),
  consoleFault('printer-power-cycle', 'printer power cycle', 'printer', 'printer', 'power-cycle', null),
  consoleFault('validator-power-cycle-with-bill', 'validator power cycle holding the note', 'validator', 'validator', 'power-cycle-with-bill', null),
];

export function faultById(id: string): Fault {
  const f = FAULTS.find((x) => x.id === id);
  if (!f) throw new Error(`unknown fault '${id}' (known: ${FAULTS.map((x) => x.id).join(', ')})`);
  return f;
}
