/**
 * What the embedded launcher shows at its prompt: one short line per event a person follows (the
 * terminal's placement, each step of a transaction, money in and out, receipts, faults), not the
 * runtime's JSON log, which goes whole into a file. Routine start-up lines are left to the file.
 */

type Entry = Record<string, unknown>;

/** Integer fen as yuan with two decimals. */
export function yuan(fen: unknown): string {
  const n = Number(fen);
  if (!Number.isSafeInteger(n)) return '?';
  return `${Math.trunc(n / 100)}.${String(Math.abs(n % 100)).padStart(2, '0')}`;
}

/** Why a customer's input was refused, as the screen's error codes say it. */
const REFUSALS: Record<string, string> = {
  'nothing-due': 'nothing is due on this number, so there is nothing to pay: type cancel',
  'card-not-offered': 'no card payment is offered here (nothing is due, or no card device is usable)',
  'card-not-after-cash': 'a card cannot pay once cash is in',
  'mobile-not-offered': 'no wallet payment is offered here (nothing is due, the network is down, or that way is not fitted)',
  'mobile-not-after-cash': 'a wallet cannot pay once cash is in',
  'mobile-failed': 'the wallet payment failed: choose again (confirm, card, mobile code, mobile qr) or cancel',
  'mobile-unavailable': 'the wallet payment could not be sent: choose again or cancel',
  'mobile-timeout': 'no code was shown in time: choose again or cancel',
  'mobile-revoked': 'the wallet payment was not confirmed in time: revoked, nothing charged',
  'bad-number': 'that is not a valid phone number (11 digits starting with 1)',
  'unknown-account': 'the server knows no account with that number',
  'lookup-failed': 'the look-up failed: type offline to top up offline, or cancel',
};

/** A refusal in words, for the launcher to answer a customer command the machine did not take. */
export function refusal(code: string): string {
  return `refused: ${REFUSALS[code] ?? code}`;
}

/** Messages that are routine at every start or repeat per retry: the log file has them. */
const QUIET = new Set(['validator reports a power-up', 'id003: device powered up', 'screen listening']);

const STARTING: Record<string, string> = { recovering: 'starting: recovering the journal', selfTest: 'starting: testing the devices' };

/** Keeps state between lines: a link-down repeated at each retry is shown once. */
export class Summariser {
  private linkDown = false;
  private due: number | null = null;
  /** The wallet line shown last: the query loop moves between two states every few seconds. */
  private mobileShown: string | undefined;

  line(e: Entry): string | undefined {
    const msg = String(e.msg ?? '');
    const level = Number(e.level);
    if (QUIET.has(msg)) return undefined;
    if (msg.startsWith('terminal ')) return `terminal ${STARTING[msg.slice('terminal '.length)] ?? msg.slice('terminal '.length)}${services(e)}`;
    if (msg === 'link to the central server is down') {
      if (this.linkDown) return undefined;
      this.linkDown = true;
      return 'the link to the central server is down (retrying quietly; see kiosk.log)';
    }
    if (msg === 'link to the central server is up') {
      const was = this.linkDown;
      this.linkDown = false;
      return was ? 'the link to the central server is up again' : undefined;
    }
    if (msg === 'transaction started') {
      return `transaction started: ${String(e.service)}${e.offline ? ' (offline top-up)' : ''}; enter the phone number: number <phone>`;
    }
    if (msg.startsWith('transaction ') && typeof e.state === 'string') return this.step(e);
    if (msg.startsWith('transaction ') && typeof e.status === 'string') {
      return `transaction ${String(e.status)}${e.endReason ? ` (${String(e.endReason)})` : ''}: cash in ${yuan(e.cashIn)}, credited ${yuan(e.credited)}`;
    }
    if (msg.startsWith('escrow decision: ')) return `note of ${yuan(e.value)} in escrow: ${msg.slice('escrow decision: '.length)}`;
    if (msg === 'note stacked and credited') return `note stacked and credited: ${yuan(e.value)}`;
    if (msg === 'coin accepted and credited') return `coin accepted and credited: ${yuan(e.value)}`;
    if (msg === 'validator rejected a note') return `note rejected: ${String(e.reason)}`;
    if (msg === 'note handed back') return 'note handed back';
    if (msg === 'payout done') return `change paid from ${String(e.hopper)}: ${String(e.paid)} coin(s)${Number(e.unpaid) > 0 ? `, ${String(e.unpaid)} unpaid` : ''}`;
    if (msg === 'receipt printed') return 'receipt printed';
    if (msg === 'wallet charge sent') return `wallet code sent: ${String(e.maskedCode)} (${String(e.wallet)})`;
    if (level >= 40) return `${level >= 50 ? 'ERROR' : 'warning'}: ${msg}${facts(e)}`;
    return undefined;
  }

  private step(e: Entry): string | undefined {
    // The machine's substates (cash.idle) are one step for a person.
    const state = String(e.state).split('.')[0]!;
    const error = typeof e.error === 'string' ? e.error : null;
    if (state !== 'mobile') this.mobileShown = undefined;
    if (error && REFUSALS[error]) return `refused: ${REFUSALS[error]}`;
    if (error) return `refused: ${error}`;
    switch (state) {
      case 'review': {
        this.due = e.amountDue === null || e.amountDue === undefined ? null : Number(e.amountDue);
        if (this.due === null) return 'review: the amount due is not known';
        if (this.due === 0) return 'review: nothing is due on this number; type cancel to end';
        return `review: ${yuan(this.due)} due; confirm to pay in cash, card to pay by card, mobile code or mobile qr to pay with a wallet, cancel to stop`;
      }
      case 'cash':
        return `insert notes or coins (credited ${yuan(e.credited)}${this.due !== null ? ` of ${yuan(this.due)}` : ''}): insert <fen>, coin insert <fen>`;
      case 'card':
        return 'card payment: swipe with card-reader swipe [card]';
      case 'mobile': {
        const line = mobileStep(String(e.state));
        if (line === undefined || line === this.mobileShown) return undefined;
        this.mobileShown = line;
        return line;
      }
      case 'payingChange':
        return 'paying change';
      case 'printing':
        return 'printing the receipt';
      case 'number':
      case 'completed':
      case 'cancelled':
      case 'settleFailed':
      case 'lookup':
      case 'settling':
      case 'finishing':
      case 'cancelling':
      case 'afterChange':
        return undefined;
      default:
        return `transaction ${state}`;
    }
  }
}

/** The wallet's steps a person follows: the scanner on, waiting for the phone, giving up. */
function mobileStep(state: string): string | undefined {
  if (state === 'mobile.scanning') return 'wallet payment: the scanner is on; show a code with scanner show [behaviour]';
  if (state.startsWith('mobile.confirming')) return 'wallet payment: waiting for the customer to confirm on the phone';
  if (state === 'mobile.revoking') return 'wallet payment: not confirmed in time, revoking it';
  return undefined;
}

function services(e: Entry): string {
  const list = Array.isArray(e.services) ? (e.services as string[]) : [];
  const reason = e.reason ? ` (${String(e.reason)})` : '';
  return `${reason}${list.length > 0 ? `: ${list.join(', ')} offered` : ''}`;
}

function facts(e: Entry): string {
  const skip = new Set(['level', 'time', 'msg', 'name', 'pid', 'hostname', 'device', 'part', 'txn']);
  const rest = Object.entries(e).filter(([k]) => !skip.has(k));
  return rest.length === 0 ? '' : `  (${rest.map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ')})`;
}
