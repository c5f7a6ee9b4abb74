import type { Actor } from 'xstate';
import { capabilities, type SelfTestResult, type terminalMachine } from '../../states/terminal.js';
import type { Journal } from '../journal/index.js';
import type { Logger } from '../log.js';
import type { BusinessAdapter } from '../uplink/index.js';
import { fittedDevices, type Devices } from './devices.js';
import type { SystemdNotifier } from './sd-notify.js';

const WORDS: Record<string, string> = {
  inService: 'in service',
  degraded: 'degraded',
  outOfService: 'out of service',
};

/**
 * Reports each new state of the terminal: journalled, logged, and told to systemd (READY=1 the
 * first time the terminal reaches a serving state, STATUS= afterwards).
 */
export class TerminalReport {
  private last = '';
  private readySent = false;

  constructor(
    private readonly terminal: Actor<typeof terminalMachine>,
    private readonly journal: Journal,
    private readonly notifier: SystemdNotifier,
    private readonly log: Logger,
  ) {}

  changed(state: string, reason: string | null): void {
    if (state === this.last) return;
    this.last = state;
    const top = state.split('.')[0] ?? state;
    const caps = capabilities(this.terminal.getSnapshot().context);
    const label = WORDS[top] ?? state;
    this.journal.append(null, 'terminal.state', { state, reason, services: caps.services });
    this.log.info({ state, reason, services: caps.services }, `terminal ${label}`);
    if (top in WORDS && !this.readySent) {
      this.readySent = true;
      this.notifier.ready(`terminal ${label}`);
    } else {
      this.notifier.status(`terminal ${label}`);
    }
  }
}

/** The terminal machine's self-test: every fitted device's health, and the link once its first attempt ended. */
export async function selfTest(devices: Devices, business: BusinessAdapter, linkTimeoutMs: number): Promise<SelfTestResult> {
  await firstLinkOutcome(business, linkTimeoutMs);
  return { devices: Object.fromEntries(fittedDevices(devices).map(([name, d]) => [name, d.status().health])), linkUp: business.up };
}

/** Waits until the first connection to the business server came up or failed, within the time-out. */
function firstLinkOutcome(business: BusinessAdapter, timeoutMs: number): Promise<void> {
  if (business.up || business.down) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      business.off('up', done);
      business.off('down', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    business.once('up', done);
    business.once('down', done);
  });
}
