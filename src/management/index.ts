import type { Config } from '../config/schema.js';
import type { Journal } from '../journal/index.js';
import type { Logger } from '../log.js';
import type { HeadWitness } from './link.js';
import { loadTlsMaterial } from '../tls/material.js';
import { AlarmBook } from './alarms.js';
import { ManagementLink, type ManagedTerminal } from './link.js';
import type { SectionApplier } from './reload.js';

export type { Alarm, AlarmSeverity, AlarmSink } from '../alarms/sink.js';
export { AlarmBook, deviceAlarms, type ActiveAlarm, type AlarmMessage } from './alarms.js';
export { ManagementLink, createTransport, type HeadWitness, type ManagedTerminal, type ManagementLinkOptions } from './link.js';
export { managementTarget, type ManagementTransport, type ManagementTarget } from './transport.js';
export { HttpsTransport } from './https-transport.js';
export { MqttTransport, type MqttSession } from './mqtt-transport.js';
export { topic, parseTopic, KIOSK_TO_CENTRAL, CENTRAL_TO_KIOSK } from './mqtt-topics.js';
export { ChainWitness } from './chain-witness.js';
export { reloadConfiguration, type ReloadOutcome, type SectionApplier } from './reload.js';

/**
 * Raises (or clears) the alarm for a broken journal hash chain: the result of `journal verify`'s
 * chain check, run once at every start.
 */
export function journalChainAlarm(journal: Journal, alarms: AlarmBook): void {
  const chain = journal.verifyChain();
  if (chain.ok) alarms.clear('journal-chain', 'journal');
  else alarms.raise({ kind: 'journal-chain', source: 'journal', severity: 'critical', detail: `hash chain broken at event ${chain.seq} (${chain.problem})` });
}

/**
 * The sections of a reloaded configuration that a running kiosk takes as they are: limits and
 * time-outs for the next decisions and transactions, and the log level.
 */
export function runtimeAppliers(config: Config, log: Logger): Record<string, SectionApplier> {
  return {
    limits: (next) => (Object.assign(config.limits, next.limits), true),
    timeouts: (next) => (Object.assign(config.timeouts, next.timeouts), true),
    log: (next) => {
      log.level = next.log.level;
      Object.assign(config.log, next.log);
      return true;
    },
  };
}

export interface ManagementDeps {
  config: Config;
  configPath: string | undefined;
  journal: Journal;
  alarms: AlarmBook;
  terminal: ManagedTerminal;
  /** Sections besides limits, time-outs, log and management that the runtime can apply. */
  appliers?: Record<string, SectionApplier>;
  log: Logger;
  witness?: HeadWitness;
}

/**
 * The management link for this configuration, or undefined when it has no `management` section.
 * Certificates that cannot be read leave the kiosk running without the link, with an alarm that
 * waits in the journal.
 */
export function createManagementLink(d: ManagementDeps): ManagementLink | undefined {
  const management = d.config.management;
  if (!management) return undefined;
  let tls;
  try {
    tls = loadTlsMaterial(d.config.tls);
  } catch (e) {
    d.log.error({ err: (e as Error).message }, 'management link not started: its certificates cannot be read');
    d.alarms.raise({ kind: 'tls-setup', source: 'management-link', severity: 'critical', detail: (e as Error).message });
    return undefined;
  }
  d.alarms.clear('tls-setup', 'management-link');
  return new ManagementLink({
    config: d.config as Config & { management: typeof management },
    configPath: d.configPath,
    journal: d.journal,
    alarms: d.alarms,
    terminal: d.terminal,
    appliers: { ...runtimeAppliers(d.config, d.log), ...d.appliers },
    tls,
    log: d.log.child({ part: 'management' }),
    ...(d.witness ? { witness: d.witness } : {}),
  });
}
