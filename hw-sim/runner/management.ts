/** The scenario runner's side of the management link: remote commands, its fault mode, what it holds. */
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { ManagementRecords } from '../host/management-store.js';
import type { RunningManagement } from '../host/management.js';
import type { SimStack } from '../stack.js';
import type { Scenario, Step } from './scenario.js';

type ManagementStep = Extract<Step, { management: string }>;
type Wait = Extract<Step, { wait: unknown }>['wait'];

function server(stack: SimStack): RunningManagement {
  const m = stack.host.management;
  if (!m) throw new Error('the reference server runs no management side');
  return m;
}

/** The simulated kiosk's name, which is also its certificate's common name. */
export function terminalId(stack: SimStack): string {
  return (JSON.parse(readFileSync(stack.configPath, 'utf8')) as { terminalId: string }).terminalId;
}

export function queueRemoteCommand(stack: SimStack, step: ManagementStep): void {
  server(stack).queueCommand({ terminalId: terminalId(stack), type: step.management, by: step.by ?? 'scenario', ...(step.args ? { args: step.args } : {}) });
}

/** Waits for what the management server holds; false when the wait is about something else. */
export async function waitForManagement(stack: SimStack, w: Wait): Promise<boolean> {
  const { alarm, alarmCleared, acked } = w;
  if (alarm === undefined && alarmCleared === undefined && acked === undefined) return false;
  const deadline = Date.now() + w.timeoutMs;
  while (Date.now() < deadline) {
    const r = server(stack).records();
    const has = (kind: string | undefined, action: 'raise' | 'clear') => kind === undefined || r.alarms.some((a) => a.kind === kind && a.action === action);
    const ackedOk = acked === undefined || r.commands.some((c) => c.type === acked && c.ackedAt !== null);
    if (has(alarm, 'raise') && has(alarmCleared, 'clear') && ackedOk) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const what = [alarm && `the raise of alarm ${alarm}`, alarmCleared && `the clearing of alarm ${alarmCleared}`, acked && `the acknowledgement of ${acked}`].filter(Boolean);
  throw new Error(`timed out after ${w.timeoutMs} ms waiting for the management server to hold ${what.join(' and ')}`);
}

export function managementProblems(want: NonNullable<Scenario['expect']['management']>, held: ManagementRecords | undefined): string[] {
  if (!held) return ['the reference server runs no management side'];
  const problems: string[] = [];
  for (const a of want.alarms ?? []) {
    const n = held.alarms.filter((h) => h.kind === a.kind && h.action === a.action && (a.source === undefined || h.source === a.source)).length;
    const what = `${a.action} of alarm ${a.kind}${a.source ? ` (${a.source})` : ''}`;
    if (n !== a.count) problems.push(`the management server holds ${n} ${what}, expected ${a.count}`);
  }
  for (const c of want.commands ?? []) {
    const got = held.commands.find((h) => h.type === c.type);
    if (!got) problems.push(`no remote command ${c.type} was queued`);
    else if (got.ackedAt === null) problems.push(`remote command ${c.type} was not acknowledged`);
    else if (got.ok !== c.ok) problems.push(`remote command ${c.type} acknowledged ok=${String(got.ok)}, expected ${String(c.ok)}: ${JSON.stringify(got.result)}`);
    else {
      for (const [k, v] of Object.entries(c.result ?? {})) {
        if (JSON.stringify(got.result?.[k]) !== JSON.stringify(v)) problems.push(`remote command ${c.type}: result.${k} is ${JSON.stringify(got.result?.[k])}, expected ${JSON.stringify(v)}`);
      }
    }
  }
  return problems;
}

/** The event types in `want` appear in this order across the whole journal. */
export function journalOrderProblems(journalPath: string, want: readonly string[]): string[] {
  const db = new Database(journalPath, { readonly: true });
  let types: string[];
  try {
    types = (db.prepare('SELECT type FROM events ORDER BY seq').all() as { type: string }[]).map((r) => r.type);
  } finally {
    db.close();
  }
  let i = 0;
  for (const t of types) if (t === want[i]) i++;
  return i === want.length ? [] : [`the journal does not hold [${want.join(', ')}] in this order (stopped at ${want[i]})`];
}
