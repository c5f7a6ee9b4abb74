/** The scenario runner's side of card payments: the reference server's card mode and what it holds. */
import type { AnomalyRecord, CardAuthorisationRecord, CardBalance } from '../host/store.js';
import type { CardMode } from '../host/card-authorisation.js';
import type { SimStack } from '../stack.js';
import { terminalId } from './management.js';
import type { Scenario, Step } from './scenario.js';

/** The card part of the server's GET /_records. */
export interface CardRecords {
  payments: Record<string, unknown>[];
  cardAuthorisations: CardAuthorisationRecord[];
  cardBalance: CardBalance[];
  anomalies: AnomalyRecord[];
}

/** Through the admin endpoint, as an operator's test harness would, for this kiosk only. */
export async function setServerCardMode(stack: SimStack, mode: CardMode): Promise<void> {
  const res = await fetch(`${stack.host.url}/_card`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ mode, terminalId: terminalId(stack) }),
  });
  if (!res.ok) throw new Error(`the reference server refused card mode ${mode}: ${res.status} ${await res.text()}`);
}

export function cardProblems(want: NonNullable<Scenario['expect']['server']>, held: CardRecords): string[] {
  const problems: string[] = [];
  const auths = held.cardAuthorisations.filter((a) => a.outcome !== 'tombstone');
  const approved = auths.filter((a) => a.outcome === 'approved');
  const counts: [string, number | undefined, number][] = [
    ['approved', want.cardApproved, approved.length],
    ['reversed', want.cardReversed, approved.filter((a) => a.reversed).length],
    ['declined', want.cardDeclined, auths.filter((a) => a.outcome === 'declined').length],
  ];
  for (const [what, expected, got] of counts) {
    if (expected !== undefined && got !== expected) problems.push(`the server ${what} ${got} card authorisation(s), expected ${expected}`);
  }
  if (want.cardBalanced) {
    for (const b of held.cardBalance) {
      if (b.approved - b.reversed !== b.paid) {
        problems.push(`transaction ${b.txnId}: the server approved ${b.approved} fen by card, reversed ${b.reversed}, but the payment says the card paid ${b.paid}`);
      }
    }
    const paidWith = new Set(held.payments.map((p) => (p.card as { requestId?: string } | null)?.requestId).filter((id) => id !== undefined));
    for (const a of approved) {
      if (a.reversed && paidWith.has(a.requestId)) problems.push(`authorisation ${a.requestId} (${a.txnId}) is both paid for and reversed`);
    }
  }
  if (want.anomalies) {
    const kinds = held.anomalies.map((a) => a.kind);
    if (kinds.join() !== want.anomalies.join()) {
      problems.push(`the server recorded anomalies [${held.anomalies.map((a) => `${a.kind}: ${a.detail}`).join('; ')}], expected [${want.anomalies.join(', ')}]`);
    }
  }
  return problems;
}

type Wait = Extract<Step, { wait: unknown }>['wait'];

/** Waits for the server to hold card requests; false when the wait is about something else. */
export async function waitForServerCards(stack: SimStack, w: Wait): Promise<boolean> {
  const want = w.serverCardRequests;
  if (want === undefined) return false;
  const deadline = Date.now() + w.timeoutMs;
  let got = 0;
  while (Date.now() < deadline) {
    got = stack.host.records().cardAuthorisations.filter((a) => a.outcome !== 'tombstone').length;
    if (got >= want) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out after ${w.timeoutMs} ms waiting for the server to hold ${want} card request(s) (it holds ${got})`);
}
