/**
 * The terminal's life: boot, recover the journal, self-test, then in service / degraded / out of
 * service, re-evaluated on every device, link or operator change. Pure: `recover` and `selfTest`
 * are injected actors (`terminalMachine.provide({ actors: { ... } })`).
 *
 * State values the runtime reads: 'booting' | 'recovering' | 'selfTest' | 'inService' |
 * 'degraded' | { outOfService: 'noService' | 'operator' | 'bootFailed' }.
 */
import { assign, fromPromise, setup, type SnapshotFrom } from 'xstate';
import type { Health } from '../drivers/types.js';
import { SERVICES, type Service } from '../src/domain/service.js';

export type { Health };
export type TerminalService = Service;

/** The device name whose health decides whether cash can be taken. */
export const VALIDATOR = 'validator';
/** Device names of the optional devices; hoppers are named `hopper:<configured name>`. */
export const COIN_ACCEPTOR = 'coin-acceptor';
export const PRINTER = 'printer';
export const CARD_READER = 'card-reader';
export const PAYMENT_TERMINAL = 'payment-terminal';
/** The 2D code scanner (wallet payment codes): its fault narrows nothing but the mobile payment. */
export const SCANNER = 'scanner';
export const HOPPER_PREFIX = 'hopper:';

const ALL_SERVICES: readonly TerminalService[] = SERVICES;

export interface TerminalContext {
  devices: Record<string, Health>;
  linkUp: boolean;
  operatorOut: { by: string; reason: string } | null;
  /** Why boot failed; null otherwise. */
  reason: string | null;
}

export type TerminalEvent =
  | { type: 'DEVICE'; device: string; health: Health }
  | { type: 'LINK'; up: boolean }
  | { type: 'OUT_OF_SERVICE'; by: string; reason: string }
  | { type: 'IN_SERVICE'; by: string }
  /** The journal is not the one the servers saw (rolled back or forked): the money records cannot be trusted. */
  | { type: 'JOURNAL_ROLLBACK'; reason: string }
  | { type: 'RETRY' };

export interface SelfTestResult {
  devices: Record<string, Health>;
  linkUp: boolean;
}

export interface Capabilities {
  cash: boolean;
  online: boolean;
  services: TerminalService[];
  /** Coins are taken (a coin acceptor is fitted and usable). */
  coins: boolean;
  /** Change can be paid in coins (at least one fitted hopper is usable). */
  change: boolean;
  /** Receipts can be printed. */
  receipt: boolean;
  /**
   * How a card is taken now: the terminal when it is usable (it needs no link of ours), else the
   * stripe reader when it is usable and the link is up (the server authorises); null: cash only.
   */
  card: 'reader' | 'terminal' | null;
}

export function capabilities(ctx: Pick<TerminalContext, 'devices' | 'linkUp'>): Capabilities {
  const validator = ctx.devices[VALIDATOR];
  const cash = validator === 'ok' || validator === 'degraded';
  const online = ctx.linkUp;
  const services: TerminalService[] = [];
  if (cash && online) services.push('pay');
  // Offline top-ups are stored and forwarded, so cash alone is enough.
  if (cash) services.push('topup');
  if (online) services.push('lookup');
  const usable = (h: Health | undefined) => h === 'ok' || h === 'degraded';
  const hoppers = Object.entries(ctx.devices).filter(([name]) => name.startsWith(HOPPER_PREFIX));
  return {
    cash,
    online,
    services,
    coins: cash && usable(ctx.devices[COIN_ACCEPTOR]),
    change: hoppers.some(([, h]) => usable(h)),
    receipt: usable(ctx.devices[PRINTER]),
    card: usable(ctx.devices[PAYMENT_TERMINAL]) ? 'terminal' : online && usable(ctx.devices[CARD_READER]) ? 'reader' : null,
  };
}

type Placement = 'inService' | 'degraded' | 'noService' | 'operator';

function placement(ctx: TerminalContext): Placement {
  if (ctx.operatorOut !== null) return 'operator';
  const { services } = capabilities(ctx);
  if (services.length === 0) return 'noService';
  // A fitted device that is not fully well (hopper empty, printer near paper end, coin acceptor
  // down) narrows what is offered: the terminal says so by being degraded.
  const allWell = Object.values(ctx.devices).every((h) => h === 'ok');
  return services.length === ALL_SERVICES.length && allWell ? 'inService' : 'degraded';
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const notProvided = (name: string) => () => Promise.reject(new Error(`${name} actor not provided`));

export const terminalMachine = setup({
  types: {
    context: {} as TerminalContext,
    events: {} as TerminalEvent,
  },
  actors: {
    recover: fromPromise<unknown, void>(notProvided('recover')),
    selfTest: fromPromise<SelfTestResult, void>(notProvided('selfTest')),
  },
  guards: {
    placedElsewhere: ({ context }, params: { here: Placement }) => placement(context) !== params.here,
    placedIn: ({ context }, params: { here: Placement }) => placement(context) === params.here,
  },
}).createMachine({
  id: 'terminal',
  initial: 'booting',
  context: { devices: {}, linkUp: false, operatorOut: null, reason: null },
  // Facts are recorded in every state; only the service states act on them at once, through
  // their eventless re-evaluation below.
  on: {
    DEVICE: {
      actions: assign({ devices: ({ context, event }) => ({ ...context.devices, [event.device]: event.health }) }),
    },
    LINK: { actions: assign({ linkUp: ({ event }) => event.up }) },
    OUT_OF_SERVICE: { actions: assign({ operatorOut: ({ event }) => ({ by: event.by, reason: event.reason }) }) },
    IN_SERVICE: { actions: assign({ operatorOut: null }) },
    // Like a failed recovery: only a new recovery run (which checks the journal again) may leave it.
    JOURNAL_ROLLBACK: { target: '.outOfService.bootFailed', actions: assign({ reason: ({ event }) => event.reason }) },
  },
  states: {
    booting: { always: 'recovering' },
    recovering: {
      entry: assign({ reason: null }),
      invoke: {
        src: 'recover',
        onDone: 'selfTest',
        onError: {
          target: 'outOfService.bootFailed',
          actions: assign({ reason: ({ event }) => `recovery failed: ${errorText(event.error)}` }),
        },
      },
    },
    selfTest: {
      invoke: {
        src: 'selfTest',
        onDone: {
          target: 'evaluating',
          actions: assign({
            devices: ({ event }) => ({ ...event.output.devices }),
            linkUp: ({ event }) => event.output.linkUp,
          }),
        },
        onError: {
          target: 'outOfService.bootFailed',
          actions: assign({ reason: ({ event }) => `self-test failed: ${errorText(event.error)}` }),
        },
      },
    },
    evaluating: {
      always: [
        { guard: { type: 'placedIn', params: { here: 'inService' } }, target: 'inService' },
        { guard: { type: 'placedIn', params: { here: 'degraded' } }, target: 'degraded' },
        { guard: { type: 'placedIn', params: { here: 'operator' } }, target: 'outOfService.operator' },
        { target: 'outOfService.noService' },
      ],
    },
    inService: {
      always: { guard: { type: 'placedElsewhere', params: { here: 'inService' } }, target: 'evaluating' },
    },
    degraded: {
      always: { guard: { type: 'placedElsewhere', params: { here: 'degraded' } }, target: 'evaluating' },
    },
    outOfService: {
      initial: 'noService',
      states: {
        noService: {
          always: { guard: { type: 'placedElsewhere', params: { here: 'noService' } }, target: '#terminal.evaluating' },
        },
        operator: {
          always: { guard: { type: 'placedElsewhere', params: { here: 'operator' } }, target: '#terminal.evaluating' },
        },
        // The money records may be inconsistent: no device or link change puts the terminal back
        // in service, only a new recovery run.
        bootFailed: {
          on: { RETRY: '#terminal.recovering' },
        },
      },
    },
  },
});

export type TerminalMachine = typeof terminalMachine;
export type TerminalSnapshot = SnapshotFrom<TerminalMachine>;

/** The services to offer a customer now: none while booting or out of service. */
export function offeredServices(snapshot: TerminalSnapshot): TerminalService[] {
  if (snapshot.matches('inService') || snapshot.matches('degraded')) return capabilities(snapshot.context).services;
  return [];
}
