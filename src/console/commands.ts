import type { Health } from '../../drivers/types.js';
import type { ControlRequest, ControlResponse } from '../control/protocol.js';
import { healthProblem } from '../diag/health.js';
import { clip, duration, faceValue, flatten, localClock, localTime, shortIds, table, WIDTH, wrapLine, yuan, zoneLabel } from './format.js';

export type Payload = Record<string, unknown>;

/** What a command may do: ask the service, print lines, know who is logged in and the time. */
export interface CommandContext {
  who: string;
  now(): number;
  /** The kiosk's configured IANA time zone: every time shown is in it, and says so. */
  timeZone: string;
  print(line: string): void;
  /** The raw answer, or null when the service could not be reached (already said). */
  request(req: ControlRequest): Promise<ControlResponse | null>;
  /** The answer when it is ok; otherwise the error is printed and the result is null. */
  call(req: ControlRequest): Promise<Payload | null>;
}

export interface Command {
  name: string;
  usage: string;
  help: string;
  /** Resolves whether the command did what was asked (for the audit). */
  run?(ctx: CommandContext, args: string[]): Promise<boolean>;
}

/** A wrong argument: one line saying what was expected. */
export class UsageError extends Error {}

export const COMMANDS: readonly Command[] = [
  { name: 'help', usage: 'help', help: 'this list' },
  { name: 'status', usage: 'status', help: 'terminal state and services, device health, link, outbox backlog', run: status },
  { name: 'counters', usage: 'counters', help: 'cash box by denomination, coin box, hopper levels', run: counters },
  { name: 'transactions', usage: 'transactions [n]', help: 'the last n transactions (default 10)', run: transactions },
  { name: 'transaction', usage: 'transaction <id>', help: 'one transaction and its journal events (an id prefix is enough)', run: transaction },
  { name: 'journal', usage: 'journal verify', help: 'check the journal: money invariant and counters', run: journalVerify },
  { name: 'journal-rollback-accept', usage: 'journal-rollback-accept', help: 'after a journal-rollback alarm for a replaced storage card: accept the journal in use', run: journalRollbackAccept },
  { name: 'outbox', usage: 'outbox', help: 'payments waiting for the central server: how many, the oldest', run: outbox },
  { name: 'forward', usage: 'forward', help: 'send the outbox to the central server now', run: forward },
  { name: 'collect', usage: 'collect', help: 'cash collection: enter the counted notes, compare with the journal' },
  { name: 'refill', usage: 'refill <hopper> <coins>', help: 'record coins put into a hopper', run: refill },
  { name: 'reprint', usage: 'reprint [txn]', help: 'print a receipt again (default: oldest in the reprint queue)', run: reprint },
  { name: 'reprint-queue', usage: 'reprint-queue', help: 'fault slips and receipts waiting to be printed', run: reprintQueue },
  { name: 'out-of-service', usage: 'out-of-service <reason...>', help: 'take the terminal out of service', run: outOfService },
  { name: 'in-service', usage: 'in-service', help: 'put the terminal back in service', run: inService },
  { name: 'test', usage: 'test <device>', help: 'test a device: validator, coin-acceptor, printer, or a hopper name', run: deviceTest },
  { name: 'config', usage: 'config', help: 'the running configuration (secrets masked)', run: config },
  { name: 'log', usage: 'log [n]', help: 'the last n lines the service logged (default 20)', run: log },
  { name: 'logout', usage: 'logout', help: 'end this session' },
  { name: 'exit', usage: 'exit', help: 'end this session' },
];

/** The commands, their text wrapped at spaces under its own column so each fits 80 columns. */
export function helpLines(): string[] {
  const width = Math.max(...COMMANDS.map((c) => c.usage.length));
  const indent = width + 4;
  return ['commands:', ...COMMANDS.flatMap((c) => wrapLine(`  ${c.usage.padEnd(width)}  ${c.help}`, WIDTH, indent))];
}

function noArgs(args: string[], usage: string): void {
  if (args.length > 0) throw new UsageError(`usage: ${usage}`);
}

function count(text: string | undefined, what: string, min: number, max: number, fallback?: number): number {
  if (text === undefined) {
    if (fallback !== undefined) return fallback;
    throw new UsageError(`${what} is missing`);
  }
  if (!/^\d{1,9}$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new UsageError(`${what} must be a whole number from ${min} to ${max}, not '${clip(text, 20)}'`);
  }
  return Number(text);
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isSafeInteger(v) ? v : 0);
const str = (v: unknown, fallback = '-'): string => (typeof v === 'string' && v !== '' ? v : v === null || v === undefined ? fallback : String(v));
const record = (v: unknown): Payload => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Payload) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

const SUB_STATES: Record<string, string> = {
  operator: 'taken out by an engineer',
  noService: 'no service can be offered',
  bootFailed: 'boot failed',
};

/** 'outOfService.operator' → 'out of service (taken out by an engineer)'. */
export function terminalLabel(state: string): string {
  const [top, sub] = state.split('.');
  if (top === 'inService') return 'in service';
  if (top === 'degraded') return 'degraded';
  if (top === 'outOfService') return `out of service${sub ? ` (${SUB_STATES[sub] ?? sub})` : ''}`;
  return state;
}

const yesNo = (v: unknown) => (v === true ? 'yes' : 'no');

async function status(ctx: CommandContext, args: string[]): Promise<boolean> {
  noArgs(args, 'status');
  const st = await ctx.call({ cmd: 'status' });
  if (!st) return false;
  const term = record(st.terminal);
  const reason = typeof term.reason === 'string' && term.reason !== '' ? ` - ${term.reason}` : '';
  ctx.print(`terminal: ${terminalLabel(str(term.state, 'unknown'))}${reason}`);
  const services = list(term.services).map(String);
  const offered = services.length > 0 ? services.join(', ') : 'none';
  // Out of service, the capabilities say what the devices would allow, not what is offered.
  ctx.print(str(term.state).startsWith('outOfService') ? `services: none offered (the devices allow: ${offered})` : `services: ${offered}`);
  ctx.print(`link to the central server: ${term.online === true ? 'up' : 'down'}`);
  ctx.print(`cash: ${yesNo(term.cash)}  coins: ${yesNo(term.coins)}  change: ${yesNo(term.change)}  receipts: ${yesNo(term.receipt)}`);
  const rows: string[][] = [];
  const devices = record(st.devices);
  if (Object.keys(devices).length > 0) {
    for (const [name, d] of Object.entries(devices)) {
      const s = typeof d === 'string' ? { health: d } : record(d);
      rows.push([name, str(s.health), str(s.code, ''), clip(str(s.detail, ''), 40)]);
    }
  } else {
    const v = record(st.validator);
    rows.push(['validator', str(v.health), str(v.code, ''), clip(`${str(v.detail, '')}${v.accepting === true ? ' (accepting)' : ''}`, 40)]);
    const hoppers = await ctx.request({ cmd: 'hoppers' });
    if (hoppers?.ok) {
      for (const h of list(hoppers.hoppers).map(record)) {
        const s = record(h.status);
        rows.push([`hopper:${str(h.name)}`, str(s.health, 'unknown'), str(s.code, ''), clip(str(s.detail, ''), 40)]);
      }
    }
  }
  for (const line of table(['device', 'health', 'code', 'detail'], rows)) ctx.print(line);
  printOutbox(ctx, record(st.outbox));
  const txn = record(st.transaction);
  ctx.print(Object.keys(txn).length > 0 ? `transaction running: ${str(txn.id)} (${str(txn.state)})` : 'transaction running: none');
  return true;
}

function printOutbox(ctx: CommandContext, box: Payload): void {
  const oldest = typeof box.oldestPendingAt === 'string' ? box.oldestPendingAt : null;
  const age = oldest && !Number.isNaN(Date.parse(oldest)) ? ` (${duration(ctx.now() - Date.parse(oldest))} ago)` : '';
  ctx.print(`outbox: ${num(box.pending)} pending, ${num(box.acked)} delivered`);
  if (oldest) ctx.print(`  oldest pending: ${localTime(oldest, ctx.timeZone)}${age}`);
}

function cashRows(items: unknown[]): { rows: string[][]; pieces: number; total: number } {
  let pieces = 0;
  let total = 0;
  const rows = items.map(record).map((c) => {
    const value = num(c.value);
    const n = num(c.count);
    pieces += n;
    total += value * n;
    return [faceValue(value), String(n), yuan(value * n)];
  });
  return { rows, pieces, total };
}

async function counters(ctx: CommandContext, args: string[]): Promise<boolean> {
  noArgs(args, 'counters');
  const st = await ctx.call({ cmd: 'status' });
  if (!st) return false;
  for (const [title, key] of [
    ['cash box (notes)', 'cashbox'],
    ['coin box', 'coinbox'],
  ] as const) {
    if (!Array.isArray(st[key])) {
      ctx.print(`${title}: not reported by the service`);
      continue;
    }
    const { rows, pieces, total } = cashRows(st[key]);
    ctx.print(`${title}:`);
    for (const line of table(['value', 'count', 'amount'], [...rows, ['total', String(pieces), yuan(total)]], ['left', 'right', 'right'])) {
      ctx.print(`  ${line}`);
    }
  }
  const hoppers = await ctx.call({ cmd: 'hoppers' });
  if (!hoppers) return false;
  const hs = list(hoppers.hoppers).map(record);
  if (hs.length === 0) {
    ctx.print('hoppers: none fitted');
    return true;
  }
  ctx.print('hoppers (estimated levels):');
  const rows = hs.map((h) => [str(h.name), faceValue(num(h.coinValue)), String(num(h.level)), yuan(num(h.level) * num(h.coinValue)), str(record(h.status).health, 'unknown')]);
  for (const line of table(['hopper', 'coin', 'level', 'amount', 'health'], rows, ['left', 'left', 'right', 'right'])) ctx.print(`  ${line}`);
  return true;
}

async function transactions(ctx: CommandContext, args: string[]): Promise<boolean> {
  if (args.length > 1) throw new UsageError('usage: transactions [n]');
  const limit = count(args[0], 'n', 1, 500, 10);
  const res = await ctx.call({ cmd: 'transactions', limit });
  if (!res) return false;
  const txns = list(res.transactions).map(record);
  if (txns.length === 0) {
    ctx.print('no transactions yet');
    return true;
  }
  // One row per transaction within 80 columns: the id as its shortest unique prefix, the time
  // without the date when all are of one day, and how each ended (not only that it did).
  const short = shortIds(txns.map((x) => str(x.id)), 7);
  const clock = (x: Payload) => localClock(x.createdAt, ctx.timeZone);
  const days = new Set(txns.map((x) => clock(x).slice(0, 10)));
  const oneDay = days.size === 1;
  const rows = txns.map((x) => [
    oneDay ? clock(x).slice(11, 16) : clock(x).slice(5, 16),
    short.get(str(x.id)) ?? str(x.id),
    str(x.service),
    outcome(x),
    x.amountDue === null || x.amountDue === undefined ? '-' : yuan(num(x.amountDue)),
    yuan(num(x.cashIn)),
    yuan(num(x.credited)),
    yuan(num(x.changePaid)),
    yuan(num(x.changeOwed)),
  ]);
  const headers = [oneDay ? 'time' : 'date time', 'id', 'svc', 'end', 'due', 'in', 'credit', 'change', 'owed'];
  const right: ('left' | 'right')[] = ['left', 'left', 'left', 'left', 'right', 'right', 'right', 'right', 'right'];
  // The end reason gives way when the row would not fit.
  const others = headers.map((h, i) => (i === 3 ? 0 : Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))).reduce((a, b) => a + b, 0);
  const room = Math.max(8, WIDTH - others - 2 * (headers.length - 1));
  for (const r of rows) r[3] = clip(r[3] ?? '', room);
  const zone = zoneLabel(ctx.timeZone, txns[0]?.createdAt);
  ctx.print(oneDay ? `transactions of ${[...days][0]} (times ${zone}; newest first):` : `transactions, newest first (times ${zone}):`);
  for (const line of table(headers, rows, right)) ctx.print(line);
  return true;
}

/**
 * How a transaction ended: its end reason (a jammed, partly paid payment is not just "completed"),
 * `-partial` shortened to `-part` so the reason keeps its point within 80 columns.
 */
function outcome(x: Payload): string {
  const status = str(x.status);
  if (status !== 'completed' && status !== 'cancelled') return status;
  return typeof x.endReason === 'string' && x.endReason !== '' ? x.endReason.replace(/-partial$/, '-part') : status;
}

/** The engineer types a few characters of an id; the service wants the whole one. */
async function resolveId(ctx: CommandContext, given: string): Promise<string | null> {
  if (given.length >= 36) return given;
  const res = await ctx.call({ cmd: 'transactions', limit: 500 });
  if (!res) return null;
  const matches = list(res.transactions)
    .map((x) => str(record(x).id))
    .filter((id) => id.startsWith(given));
  if (matches.length === 1) return matches[0] ?? null;
  ctx.print(matches.length === 0 ? `error: no transaction starts with '${given}'` : `error: '${given}' matches ${matches.length} transactions: type more of the id`);
  return null;
}

async function transaction(ctx: CommandContext, args: string[]): Promise<boolean> {
  if (args.length !== 1 || !/^[0-9a-zA-Z-]{1,64}$/.test(args[0] ?? '')) throw new UsageError('usage: transaction <id>');
  const id = await resolveId(ctx, args[0] as string);
  if (!id) return false;
  const res = await ctx.call({ cmd: 'transaction', id });
  if (!res) return false;
  const x = record(res.transaction);
  ctx.print(`transaction ${str(x.id)}`);
  ctx.print(`  service ${str(x.service)}, phone ${str(x.phone)}, status ${str(x.status)}${x.endReason ? ` (${str(x.endReason)})` : ''}`);
  ctx.print(`  due ${x.amountDue === null || x.amountDue === undefined ? '-' : yuan(num(x.amountDue))}, cash in ${yuan(num(x.cashIn))}, credited ${yuan(num(x.credited))}`);
  ctx.print(`  change paid ${yuan(num(x.changePaid))}, change owed ${yuan(num(x.changeOwed))}${x.claimCode ? `, claim code ${str(x.claimCode)}` : ''}`);
  ctx.print(`  created ${localTime(x.createdAt, ctx.timeZone)} (${ctx.timeZone})`);
  ctx.print(`  updated ${localTime(x.updatedAt, ctx.timeZone)}`);
  const events = list(res.events).map(record);
  ctx.print(`journal events (${events.length}), times ${zoneLabel(ctx.timeZone, events[0]?.at)}:`);
  // seq, time and type in columns; the data after them, wrapped under its own column.
  const rows = events.map((e) => [String(num(e.seq)), localClock(e.at, ctx.timeZone).slice(11), str(e.type)]);
  const lines = table(['seq', 'time', 'event'], rows, ['right']);
  const dataAt = Math.max(...lines.map((l) => l.length)) + 4;
  ctx.print(`  ${(lines[0] ?? '').padEnd(dataAt - 2)}data`);
  ctx.print(`  ${lines[1] ?? ''}`);
  events.forEach((e, i) => {
    const data = JSON.stringify(e.data ?? {});
    const row = `  ${(lines[i + 2] ?? '').padEnd(dataAt - 2)}${data}`;
    for (const part of wrapLine(row, WIDTH, dataAt)) ctx.print(part);
  });
  return true;
}

async function journalVerify(ctx: CommandContext, args: string[]): Promise<boolean> {
  if (args.length !== 1 || args[0] !== 'verify') throw new UsageError('usage: journal verify');
  const res = await ctx.call({ cmd: 'verify' });
  if (!res) return false;
  const problems = list(res.problems).map(String);
  if (problems.length === 0) {
    ctx.print('journal verified: no problems found');
    return true;
  }
  ctx.print(`journal verification found ${problems.length} problem(s):`);
  for (const p of problems) ctx.print(`  - ${p}`);
  return false;
}

/** After a replaced storage card: the journal in use stands, whatever head the servers saw before. */
async function journalRollbackAccept(ctx: CommandContext, args: string[]): Promise<boolean> {
  noArgs(args, 'journal-rollback-accept');
  const res = await ctx.call({ cmd: 'journal-rollback-accept', by: ctx.who });
  if (!res) return false;
  const accepted = list(res.accepted).map((h) => record(h));
  ctx.print(accepted.length === 0 ? 'no rollback was waiting; the journal is accepted as it is' : `accepted: ${accepted.map((h) => `${str(h.server, '?')} server's event ${String(h.seq)}`).join(', ')}`);
  ctx.print('reset the terminal\'s head on both servers too (see docs/operations.md)');
  await printTerminalState(ctx);
  return true;
}

async function outbox(ctx: CommandContext, args: string[]): Promise<boolean> {
  noArgs(args, 'outbox');
  const st = await ctx.call({ cmd: 'status' });
  if (!st) return false;
  printOutbox(ctx, record(st.outbox));
  return true;
}

async function forward(ctx: CommandContext, args: string[]): Promise<boolean> {
  noArgs(args, 'forward');
  if (!(await ctx.call({ cmd: 'forward-now' }))) return false;
  ctx.print('forwarding the outbox now');
  const st = await ctx.call({ cmd: 'status' });
  if (st) printOutbox(ctx, record(st.outbox));
  return true;
}

async function refill(ctx: CommandContext, args: string[]): Promise<boolean> {
  if (args.length !== 2 || !/^[a-z0-9-]{1,32}$/.test(args[0] ?? '')) throw new UsageError('usage: refill <hopper> <coins>');
  const name = args[0] as string;
  const add = count(args[1], 'coins', 1, 100_000);
  const res = await ctx.call({ cmd: 'hopper-refill', name, add, by: ctx.who });
  if (!res) return false;
  ctx.print(`${name}: ${add} coins added${typeof res.level === 'number' ? `, level now ${res.level}` : ''}`);
  return true;
}

async function reprint(ctx: CommandContext, args: string[]): Promise<boolean> {
  if (args.length > 1) throw new UsageError('usage: reprint [txn]');
  let id: string | undefined;
  if (args[0] !== undefined) {
    if (!/^[0-9a-zA-Z-]{1,64}$/.test(args[0])) throw new UsageError('usage: reprint [txn]');
    id = (await resolveId(ctx, args[0])) ?? undefined;
    if (!id) return false;
  }
  const res = await ctx.call(id ? { cmd: 'reprint', id } : { cmd: 'reprint' });
  if (!res) return false;
  ctx.print(`${res.printed === 'slip' ? 'fault slip' : 'receipt'} of ${str(res.id ?? id)} printed again`);
  return true;
}

async function reprintQueue(ctx: CommandContext, args: string[]): Promise<boolean> {
  noArgs(args, 'reprint-queue');
  const res = await ctx.call({ cmd: 'reprint-queue' });
  if (!res) return false;
  const queue = list(res.queue).map(String);
  const slips = list(res.slips).map(String);
  if (queue.length + slips.length === 0) ctx.print('the reprint queue is empty');
  if (slips.length > 0) {
    ctx.print(`${slips.length} fault slip(s) waiting, oldest first (printed first):`);
    for (const id of slips) ctx.print(`  ${id}`);
  }
  if (queue.length > 0) {
    ctx.print(`${queue.length} receipt(s) waiting, oldest first:`);
    for (const id of queue) ctx.print(`  ${id}`);
  }
  return true;
}

async function printTerminalState(ctx: CommandContext): Promise<void> {
  const st = await ctx.call({ cmd: 'status' });
  if (st) ctx.print(`terminal: ${terminalLabel(str(record(st.terminal).state, 'unknown'))}`);
}

async function outOfService(ctx: CommandContext, args: string[]): Promise<boolean> {
  const reason = args.join(' ');
  if (reason === '') throw new UsageError('usage: out-of-service <reason...> (say why, for the journal)');
  if (reason.length > 200) throw new UsageError('the reason is longer than 200 characters');
  const res = await ctx.call({ cmd: 'out-of-service', by: ctx.who, reason });
  if (!res) return false;
  if (typeof res.note === 'string') ctx.print(res.note);
  await printTerminalState(ctx);
  return true;
}

async function inService(ctx: CommandContext, args: string[]): Promise<boolean> {
  noArgs(args, 'in-service');
  if (!(await ctx.call({ cmd: 'in-service', by: ctx.who }))) return false;
  await printTerminalState(ctx);
  return true;
}

const DEVICE_ALIASES: Record<string, string> = { coin: 'coin-acceptor', coins: 'coin-acceptor', bill: 'validator', notes: 'validator' };

async function deviceTest(ctx: CommandContext, args: string[]): Promise<boolean> {
  if (args.length !== 1 || !/^[a-z0-9:-]{1,64}$/.test(args[0] ?? '')) throw new UsageError('usage: test <device> (validator, coin-acceptor, printer, or a hopper name)');
  const given = args[0] as string;
  const known = ['validator', 'coin-acceptor', 'printer'];
  const device = DEVICE_ALIASES[given] ?? (known.includes(given) || given.includes(':') ? given : `hopper:${given}`);
  ctx.print(`testing ${device}...`);
  const res = await ctx.call({ cmd: 'device-test', device });
  if (!res) return false;
  const { ok: _ok, ...rest } = res;
  for (const line of flatten(rest)) ctx.print(`  ${clip(line, 120)}`);
  // The service answers with the health after the test; anything short of ready fails, as in diag.
  const status = record(res.status);
  const wrong = typeof status.health === 'string' ? healthProblem({ health: status.health as Health, code: str(status.code), detail: str(status.detail) }) : 'the service reported no health after the test';
  if (wrong) {
    ctx.print(`${device}: test FAILED: ${wrong}`);
    return false;
  }
  ctx.print(`${device}: test passed`);
  return true;
}

async function config(ctx: CommandContext, args: string[]): Promise<boolean> {
  noArgs(args, 'config');
  const res = await ctx.call({ cmd: 'config' });
  if (!res) return false;
  for (const line of flatten(res.config)) ctx.print(line);
  return true;
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const LOG_NOISE = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'v']);

async function log(ctx: CommandContext, args: string[]): Promise<boolean> {
  if (args.length > 1) throw new UsageError('usage: log [n]');
  const lines = count(args[0], 'n', 1, 1000, 20);
  const res = await ctx.call({ cmd: 'log-tail', lines });
  if (!res) return false;
  const entries = list(res.lines);
  if (entries.length === 0) ctx.print('the service has no log lines to show');
  else ctx.print(`times ${zoneLabel(ctx.timeZone, ctx.now())}:`);
  for (const entry of entries) {
    if (typeof entry === 'string') {
      ctx.print(clip(entry, 200));
      continue;
    }
    const e = record(entry);
    const time = localClock(e.time, ctx.timeZone);
    const level = typeof e.level === 'number' ? (LEVELS[e.level] ?? String(e.level)) : str(e.level);
    const extra = Object.fromEntries(Object.entries(e).filter(([k]) => !LOG_NOISE.has(k)));
    const rest = Object.keys(extra).length > 0 ? ` ${JSON.stringify(extra)}` : '';
    ctx.print(clip(`${time} ${level.padEnd(5)} ${str(e.msg, '')}${rest}`, 200));
  }
  return true;
}

/** Cash collection: the denominations asked in turn, in fen. */
export const COLLECT_NOTES = [100, 500, 1000, 2000, 5000, 10_000] as const;

/** The counted notes as a table with the total. */
export function collectionLines(counts: readonly number[]): string[] {
  const items = COLLECT_NOTES.map((value, i) => ({ value, count: counts[i] ?? 0 }));
  const { rows, pieces, total } = cashRows(items);
  return table(['note', 'count', 'amount'], [...rows, ['total', String(pieces), yuan(total)]], ['left', 'right', 'right']);
}

/**
 * The service's comparison of a collection: `expected` (journal), `counted` and `difference`
 * (counted minus expected), each mapping a note value in fen to a number of notes. When the
 * counts differ the answer comes back with ok:false and the comparison instead of an error line,
 * so both shapes are read.
 */
export function collectionResult(res: ControlResponse): { agreed: boolean; lines: string[] } {
  const answer = res as Payload;
  if (answer.ok !== true && typeof answer.error === 'string') return { agreed: false, lines: [`error: ${answer.error}`] };
  const expected = counts(answer.expected);
  const counted = counts(answer.counted);
  const difference = counts(answer.difference);
  const values = [...new Set([...expected.keys(), ...counted.keys(), ...difference.keys()])].sort((a, b) => a - b);
  const agreed = answer.ok === true && values.every((v) => (difference.get(v) ?? 0) === 0);
  const lines = [agreed ? 'the service says: the counted notes agree with the journal' : 'the service says: DIFFERENCE between the counted notes and the journal'];
  let expectedTotal = 0;
  let countedTotal = 0;
  const rows = values.map((v) => {
    const e = expected.get(v) ?? 0;
    const c = counted.get(v) ?? 0;
    expectedTotal += v * e;
    countedTotal += v * c;
    const d = difference.get(v) ?? c - e;
    return [faceValue(v), String(e), String(c), d === 0 ? '0' : `${d > 0 ? '+' : ''}${d}`];
  });
  lines.push(...table(['note', 'journal', 'counted', 'difference'], rows, ['left', 'right', 'right', 'right']).map((l) => `  ${l}`));
  lines.push(`  total: journal ${yuan(expectedTotal)}, counted ${yuan(countedTotal)}, difference ${yuan(countedTotal - expectedTotal)} yuan`);
  for (const c of list(answer.confirmed) as Payload[]) {
    lines.push(`claim ${str(c.claimCode)} (transaction ${str(c.txnId)}): its ${faceValue(Number(c.value))} note was found; the claim is confirmed`);
  }
  if (!agreed) lines.push('a difference the claims do not explain is journalled as an alarm; the cash box counters now start again at zero');
  return { agreed, lines };
}

/** { "5000": 3 } → Map 5000 → 3, keeping only whole numbers. */
function counts(v: unknown): Map<number, number> {
  const out = new Map<number, number>();
  for (const [k, n] of Object.entries(record(v))) {
    if (/^\d{1,9}$/.test(k) && typeof n === 'number' && Number.isSafeInteger(n)) out.set(Number(k), n);
  }
  return out;
}
