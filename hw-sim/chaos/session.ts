import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ControlRequest } from '../../src/control/protocol.js';
import type { PayingService } from '../../src/domain/service.js';
import type { SimStack } from '../stack.js';
import type { Ledger } from './ledger.js';
import { Interrupted, Lives, quiet, type KillRecord } from './lives.js';
import type { CardOutcome, CardStep, CashStep, MobileStep, Piece, RunPlan, SessionStep } from './plan.js';

/** What happened to one session step, as the customer saw it. */
export interface StepRecord {
  index: number;
  step: SessionStep;
  /** The kiosk's transaction id, once it answered the start. */
  id: string | null;
  /** A start went out: the journal may hold a transaction even without an answer (killed in between). */
  startSent: boolean;
  service: PayingService | null;
  /** What the customer actually put in. */
  inserted: Piece[];
  outcome: string;
}

export interface SessionResult {
  steps: StepRecord[];
  kills: KillRecord[];
  /** Findings while driving: a transaction that never ended, a runtime that exited by itself. */
  problems: string[];
}

/** Generous bounds: they end a stuck step, they measure nothing. */
const PIECE_MS = 15_000;
const STEP_END_MS = 60_000;
const DRAIN_MS = 60_000;
const POLL_MS = 50;
const CARD_OFFER_MS = 10_000;

interface TxnView {
  id: string;
  state: string;
  error?: string | null;
  /** How this transaction takes a card, fixed when it started (null: no card offered then). */
  card?: 'reader' | 'terminal' | null;
  /** The wallet ways this transaction offers, fixed when it started. */
  mobileModes?: ('code' | 'qr')[];
  /** The wallet payment under way (its order's id at the gateway). */
  paymentId?: string | null;
}

/** The reader path: the reference server's test cards (reader emulator names), two per outcome where there are two. */
const READER_CARDS: Readonly<Record<CardOutcome, readonly string[]>> = {
  approve: ['visa', 'unionpay'],
  decline: ['declined', 'insufficient-funds'],
  'auth-timeout': ['auth-timeout'],
  'drop-after-approve': ['drop-after-approve'],
};
/** The terminal path: the ZVT emulator's outcome for the next authorisation. */
const TERMINAL_OUTCOMES: Readonly<Record<CardOutcome, string>> = {
  approve: 'approve',
  decline: 'decline',
  'auth-timeout': 'timeout',
  'drop-after-approve': 'drop-after-approval',
};

/**
 * Drives one run's plan against the stack: the customer's steps through the control socket and
 * the emulators, the fault, the server outage and the kills, restarting the runtime after each
 * death and going on with the session. Ends with the server up, the kiosk idle and the outbox
 * drained (or a problem saying why not), the runtime stopped.
 */
export async function runSession(stack: SimStack, plan: RunPlan, ledger: Ledger, phase: (name: string) => void = () => undefined): Promise<SessionResult> {
  const lives = new Lives(
    stack,
    plan.kills.flatMap((k) => (k.kind === 'crash-after' ? [k.point] : [])),
  );
  const session = new Session(stack, plan, ledger, lives, phase);
  try {
    await session.run();
  } finally {
    await lives.stop();
    phase('runtime stop');
  }
  return { steps: session.records, kills: lives.kills, problems: [...lives.problems, ...session.problems] };
}

class Session {
  readonly records: StepRecord[] = [];
  readonly problems: string[] = [];
  private serverDown = false;
  private downTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly stack: SimStack,
    private readonly plan: RunPlan,
    private readonly ledger: Ledger,
    private readonly lives: Lives,
    private readonly phase: (name: string) => void,
  ) {}

  async run(): Promise<void> {
    const { plan, lives } = this;
    await lives.boot();
    this.phase('first boot');
    for (const [i, step] of plan.steps.entries()) {
      this.ledger.current = i;
      lives.step = i;
      for (const k of plan.kills) if (k.kind === 'timed' && k.step === i) lives.killLater(k.delayMs, `${k.delayMs} ms into step ${i + 1}`);
      this.beforeStep(i);
      const record: StepRecord = { index: i, step, id: null, startSent: false, service: null, inserted: [], outcome: 'not begun' };
      this.records.push(record);
      try {
        if (!lives.running) await lives.boot();
        record.outcome = await this.runStep(step, record);
      } catch (e) {
        // A refusal or a wait that ran out is the customer giving up, not a finding by itself: the
        // checks at the end judge what the kiosk made of it.
        record.outcome = e instanceof Interrupted ? 'interrupted by a kill' : `gave up: ${(e as Error).message}`;
      }
      await this.afterStep(i, record);
      this.phase(`step ${i + 1} (${step.kind})`);
    }
    lives.step = plan.steps.length - 1;
    if (this.serverDown || this.downTimer) this.serverUp();
    if (lives.kills.length === 0) {
      // Every run kills at least once: none of its planned kills came, so one comes now.
      await lives.killNow('final', 'after the last step');
    }
    await this.untilIdle(-1);
    await this.drain();
    this.phase('final kill, idle, drain');
  }

  // ------------------------------------------------------------------ faults and outage

  private beforeStep(i: number): void {
    const f = this.plan.fault;
    if (f.step === i && f.kind === 'hopper-empty') this.stack.deviceCommand('empty', f.hopper);
    if (f.step === i && f.kind === 'paper-out') this.stack.deviceCommand('paper-out', 'printer');
    const o = this.plan.outage;
    if (o.downAt === i) {
      this.downTimer = setTimeout(() => {
        this.downTimer = undefined;
        this.serverDown = true;
        this.stack.host.setMode('down');
      }, o.delayMs);
    }
  }

  private async afterStep(i: number, record: StepRecord): Promise<void> {
    const f = this.plan.fault;
    if (f.kind === 'validator-jam' && f.step === i) {
      // The engineer takes the jammed note out and clears the fault.
      const cleared = this.deviceLine('validator', (l) => l.startsWith('cleared:'));
      this.stack.deviceCommand('clear', 'validator');
      await cleared.catch(() => this.problems.push(`step ${i + 1}: the validator did not report the jam cleared`));
    }
    await this.untilIdle(i, record);
    if (f.kind === 'paper-out' && f.clearAfter === i) this.stack.deviceCommand('clear', 'printer');
    if (this.plan.outage.upAfter === i) this.serverUp();
  }

  private serverUp(): void {
    if (this.downTimer) {
      // The step ended before the outage was due: it happens now, short.
      clearTimeout(this.downTimer);
      this.downTimer = undefined;
      this.stack.host.setMode('down');
    }
    this.serverDown = false;
    this.stack.host.setMode('ok');
  }

  // ------------------------------------------------------------------ one step

  private async runStep(step: SessionStep, record: StepRecord): Promise<string> {
    switch (step.kind) {
      case 'cash':
        return this.cash(step, record);
      case 'card':
        return this.card(step, record);
      case 'mobile':
        return this.mobile(step, record);
    }
  }

  /**
   * The kiosk's QR code at the review: paid with the phone, left, or let run out. Back at the review
   * (no wallet offered: the link is down) the customer pays the bill in cash instead.
   */
  private async mobile(step: MobileStep, record: StepRecord): Promise<string> {
    const begun = await this.begin(step.cash, record);
    if (typeof begun === 'string') return begun;
    const id = begun.id;
    const view = await this.waitTxn(id, (t) => /^(review|lookupFailed|cash)/.test(t.state), PIECE_MS);
    if (!view) return 'ended before the wallet';
    const modes = view.mobileModes ?? [];
    if (!view.state.startsWith('review') || modes.length === 0) {
      return `no wallet (${view.state}), cash: ${await this.payCash(id, step.cash, record)}`;
    }
    if (step.mode === 'code' && modes.includes('code')) return this.walletCode(id, step, record);
    if (!modes.includes('qr')) return `no QR offered, cash: ${await this.payCash(id, step.cash, record)}`;
    await this.control({ cmd: 'mobile', mode: 'qr' });
    for (const k of this.plan.kills) {
      if (k.kind === 'mobile-timed' && k.step === record.index) this.lives.killLater(k.delayMs, `${k.delayMs} ms after the QR in step ${record.index + 1}`);
    }
    const shown = await this.waitTxn(id, (t) => t.state.startsWith('mobile.confirming') || t.state.startsWith('review'), PIECE_MS);
    if (!shown) return 'wallet: ended before the QR was shown';
    if (shown.state.startsWith('review')) return `wallet: back at the review (${String(shown.error)}), cash: ${await this.payCash(id, step.cash, record)}`;
    if (step.outcome === 'pay' && shown.paymentId) this.stack.host.wallet.payOrder(shown.paymentId);
    if (step.outcome === 'leave') await this.control({ cmd: 'cancel' });
    const back = await this.waitTxn(id, (t) => t.state.startsWith('review'), STEP_END_MS);
    if (!back) return `wallet qr ${step.outcome}: ended`;
    return `wallet qr ${step.outcome}: back at ${back.state} (${String(back.error)}), cash: ${await this.payCash(id, step.cash, record)}`;
  }

  /** The customer's payment code of the step's behaviour, shown to the scanner emulator. */
  private async walletCode(id: string, step: MobileStep, record: StepRecord): Promise<string> {
    const what = `wallet code ${step.behaviour ?? 'paid'} ${step.outcome}`;
    await this.control({ cmd: 'mobile', mode: 'code' });
    if (!(await this.waitTxn(id, (t) => t.state.startsWith('mobile.scanning'), PIECE_MS))) return `${what}: ended before the scanner was on`;
    this.stack.deviceCommand(`show ${step.behaviour ?? 'paid'}`, 'scanner');
    for (const k of this.plan.kills) {
      if (k.kind === 'mobile-timed' && k.step === record.index) this.lives.killLater(k.delayMs, `${k.delayMs} ms after the code in step ${record.index + 1}`);
    }
    if (step.outcome === 'leave') {
      const confirming = await this.waitTxn(id, (t) => t.state.startsWith('mobile.confirming') || t.state.startsWith('review'), PIECE_MS);
      if (confirming?.state.startsWith('mobile.confirming')) await this.control({ cmd: 'cancel' });
    }
    // Refused (or not sent: the link is down) comes back to the review; anything else ends the transaction.
    const back = await this.waitTxn(id, (t) => t.state.startsWith('review'), STEP_END_MS);
    if (!back) return `${what}: ended`;
    return `${what}: back at ${back.state} (${String(back.error)}), cash: ${await this.payCash(id, step.cash, record)}`;
  }

  /** Starts the transaction and gives the number; a string when the kiosk takes no customer now. */
  private async begin(step: CashStep, record: StepRecord): Promise<{ id: string } | string> {
    await this.setBill(step.phone, step.amountDue);
    const st = await this.control({ cmd: 'status' });
    const services = (st.terminal as { services: string[] }).services;
    const service = services.includes('pay') ? 'pay' : services.includes('topup') ? 'topup' : null;
    if (!service) return `refused: terminal ${(st.terminal as { state: string }).state}`;
    record.service = service;
    record.startSent = true;
    const id = String((await this.control({ cmd: 'start', service })).id);
    record.id = id;
    await this.control({ cmd: 'number', phone: step.phone });
    return { id };
  }

  private async cash(step: CashStep, record: StepRecord): Promise<string> {
    const begun = await this.begin(step, record);
    return typeof begun === 'string' ? begun : this.payCash(begun.id, step, record);
  }

  /**
   * The card at the review: the terminal's outcome chosen, or the server's test card swiped, then
   * whatever the kiosk makes of it. Back at the review (declined, or no card offered: the reader
   * needs the server) the customer pays the bill in cash instead.
   */
  private async card(step: CardStep, record: StepRecord): Promise<string> {
    await this.untilCardOffered();
    const begun = await this.begin(step.cash, record);
    if (typeof begun === 'string') return begun;
    const id = begun.id;
    const view = await this.waitTxn(id, (t) => /^(review|lookupFailed|cash)/.test(t.state), PIECE_MS);
    if (!view) return 'ended before the card';
    const offered = view.card ?? null;
    if (!view.state.startsWith('review') || offered === null) {
      return `no card (${view.state}, card ${String(offered)}), cash: ${await this.payCash(id, step.cash, record)}`;
    }
    if (offered === 'terminal') this.stack.deviceCommand(TERMINAL_OUTCOMES[step.outcome], 'zvt');
    await this.control({ cmd: 'card' });
    if (offered === 'reader') {
      if (!(await this.waitTxn(id, (t) => t.state.startsWith('card.customer'), PIECE_MS))) return 'ended before the card was swiped';
      const cards = READER_CARDS[step.outcome];
      this.stack.deviceCommand(`swipe ${cards[record.index % cards.length]!}`, 'card-reader');
    }
    for (const k of this.plan.kills) {
      if (k.kind === 'card-timed' && k.step === record.index) this.lives.killLater(k.delayMs, `${k.delayMs} ms after the card in step ${record.index + 1}`);
    }
    // Declined (or the card unavailable) comes back to the review; anything else ends the transaction.
    const back = await this.waitTxn(id, (t) => t.state.startsWith('review'), STEP_END_MS);
    if (!back) return `card ${step.outcome} by ${offered}: ended`;
    return `card ${step.outcome} by ${offered}: back at ${back.state} (${String(back.error)}), cash: ${await this.payCash(id, step.cash, record)}`;
  }

  /**
   * A customer who means to pay by card waits a little for the kiosk to offer it: after an outage
   * the reader comes back only once the link is up again. Without it in time, they start anyway.
   */
  private async untilCardOffered(): Promise<void> {
    const deadline = Date.now() + CARD_OFFER_MS;
    while (Date.now() < deadline) {
      const terminal = (await this.control({ cmd: 'status' })).terminal as { services: string[]; card: string | null };
      if (terminal.card !== null && terminal.services.includes('pay')) return;
      await this.lives.guard(sleep(POLL_MS * 4));
    }
  }

  /** The cash part, from the review (or the look-up's failure) on. */
  private async payCash(id: string, step: CashStep, record: StepRecord): Promise<string> {
    const ending = step.ending;
    const leaving = ending.kind !== 'pay';
    let view = await this.waitTxn(id, (t) => /^(review|lookupFailed|cash)/.test(t.state), PIECE_MS);
    if (!view) return 'ended before the cash';
    if (/^(review|lookupFailed)/.test(view.state)) {
      if (leaving && ending.atReview) return this.leave(ending.kind);
      if (view.state.startsWith('lookupFailed')) record.service = 'topup';
      const coinsOn = this.coinsEnabled(step);
      await this.control({ cmd: view.state.startsWith('review') ? 'confirm' : 'topup-offline' });
      await coinsOn;
    }
    view = await this.waitTxn(id, (t, accepting) => t.state.startsWith('cash') && accepting, PIECE_MS);
    if (!view) return 'ended before the cash';

    const jam = this.plan.fault.kind === 'validator-jam' && this.plan.fault.step === record.index;
    let jammed = false;
    for (const [i, piece] of step.pieces.entries()) {
      if (leaving && i === ending.after) return this.leave(ending.kind);
      if (!(await this.waitTxn(id, (t) => t.state.startsWith('cash'), PIECE_MS))) break;
      if (jam && !jammed && piece.device === 'validator') {
        let line = '';
        const moved = this.deviceLine('validator', (l) => {
          line = l;
          return new RegExp(`^(stacking|returned|gave back rejected) ${piece.value} fen`).test(l);
        });
        this.insert(piece, record);
        await this.lives.guard(moved);
        // A note the kiosk sent back never reaches the stacker: the jam waits for the next note.
        if (!line.startsWith('stacking')) continue;
        this.stack.deviceCommand('jam', 'validator');
        jammed = true;
        break;
      }
      const taken =
        piece.device === 'coin'
          ? this.deviceLine('coin', (l) => new RegExp(`^coin ${piece.value} fen (accepted|rejected)`).test(l))
          : this.deviceLine('validator', (l) => new RegExp(`^(stacked|returned|gave back rejected) ${piece.value} fen|note lost in the path`).test(l));
      this.insert(piece, record);
      await this.lives.guard(taken).catch((e: Error) => {
        if (e instanceof Interrupted) throw e;
        this.problems.push(`step ${record.index + 1}: the ${piece.device} never settled the ${piece.value} fen put in`);
      });
    }
    if (!leaving && record.service === 'topup' && (await this.waitTxn(id, (t) => t.state.startsWith('cash'), PIECE_MS))) {
      await this.control({ cmd: 'done' });
    }
    return jammed ? 'validator jammed' : leaving ? `${ending.kind} after all pieces` : 'paid';
  }

  private async leave(how: 'cancel' | 'walk-away'): Promise<string> {
    if (how === 'cancel') await this.control({ cmd: 'cancel' });
    return how === 'cancel' ? 'cancelled by the customer' : 'walked away';
  }

  private insert(piece: Piece, record: StepRecord): void {
    record.inserted.push(piece);
    this.stack.deviceCommand(`insert ${piece.value}`, piece.device);
  }

  /** Coins are enabled only when the machine can take one; a coin put in earlier comes straight back. */
  private coinsEnabled(step: CashStep): Promise<void> {
    if (!step.pieces.some((p) => p.device === 'coin')) return Promise.resolve();
    return quiet(this.stack.waitForDeviceLine('coin', (l) => l.includes('master enabled'), 3_000)).catch(() => undefined);
  }

  private deviceLine(device: string, match: (line: string) => boolean): Promise<void> {
    return quiet(this.stack.waitForDeviceLine(device, match, PIECE_MS));
  }

  // ------------------------------------------------------------------ waiting on the kiosk

  /**
   * Polls until the running transaction `id` matches, or resolves null once it is no longer the
   * running one (it ended). A death of the runtime ends the wait with Interrupted.
   */
  private async waitTxn(id: string, match: (t: TxnView, accepting: boolean) => boolean, timeoutMs: number): Promise<TxnView | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const st = await this.control({ cmd: 'status' });
      const t = st.transaction as TxnView | null;
      if (!t || t.id !== id) return null;
      if (match(t, (st.validator as { accepting: boolean }).accepting)) return t;
      if (Date.now() > deadline) throw new Error(`transaction ${id} stayed in ${t.state} for ${timeoutMs} ms`);
      await this.lives.guard(sleep(POLL_MS));
    }
  }

  /** Until no transaction runs, restarting the runtime as often as it dies meanwhile. */
  private async untilIdle(step: number, record?: StepRecord): Promise<void> {
    const deadline = Date.now() + STEP_END_MS;
    for (;;) {
      try {
        if (!this.lives.running) await this.lives.boot();
        const st = await this.control({ cmd: 'status' });
        if (st.transaction === null) return;
        if (Date.now() > deadline) {
          const t = st.transaction as TxnView;
          this.problems.push(`step ${step + 1}: transaction ${t.id} still ${t.state} ${STEP_END_MS / 1000} s after the customer's last action`);
          if (record) record.outcome += ', never ended';
          return;
        }
        await this.lives.guard(sleep(POLL_MS * 2));
      } catch (e) {
        if (!(e instanceof Interrupted)) throw e;
      }
    }
  }

  private async drain(): Promise<void> {
    const deadline = Date.now() + DRAIN_MS;
    for (;;) {
      try {
        if (!this.lives.running) await this.lives.boot();
        const st = await this.control({ cmd: 'status' });
        const pending = (st.outbox as { pending: number }).pending;
        const reversals = this.pendingTerminalReversals();
        if (pending === 0 && reversals === 0) return;
        if (Date.now() > deadline) {
          if (pending > 0) this.problems.push(`the outbox still held ${pending} message(s) ${DRAIN_MS / 1000} s after the last step, the server up`);
          if (reversals > 0) this.problems.push(`${reversals} terminal reversal(s) still pending ${DRAIN_MS / 1000} s after the last step`);
          return;
        }
        await this.lives.guard(sleep(POLL_MS * 2));
      } catch (e) {
        if (!(e instanceof Interrupted)) throw e;
      }
    }
  }

  /** The terminal's reversals are not in the outbox: the journal's own table says what is still to send. */
  private pendingTerminalReversals(): number {
    const db = new Database(join(this.stack.dir, 'journal.db'), { readonly: true, fileMustExist: true });
    try {
      return (db.prepare(`SELECT COUNT(*) AS n FROM terminal_reversals WHERE status = 'pending'`).get() as { n: number }).n;
    } finally {
      db.close();
    }
  }

  private async control(req: ControlRequest): Promise<Record<string, unknown>> {
    try {
      const res = await this.lives.guard(this.stack.control(req));
      if (!res.ok) throw new Error(`the kiosk refused ${req.cmd}: ${res.error}`);
      return res;
    } catch (e) {
      // A control socket that stopped answering means the runtime is dying: the death decides.
      if (!(e instanceof Interrupted) && !this.lives.running) throw new Interrupted();
      if (!(e instanceof Interrupted) && /ECONNREFUSED|ENOENT|ECONNRESET|EPIPE|closed/.test((e as Error).message)) {
        await this.lives.guard(sleep(2_000));
      }
      throw e;
    }
  }

  private async setBill(phone: string, amountDue: number): Promise<void> {
    const res = await fetch(`${this.stack.host.url}/_accounts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ phone, amountDue }),
    });
    if (!res.ok) throw new Error(`the reference server refused the account ${phone}: ${res.status} ${await res.text()}`);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
