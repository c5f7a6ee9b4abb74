import { h } from './dom.js';
import { faceValue, groupPhone, isMobileNumber, maskedPhone, yuan } from './format.js';
import { STRINGS, type Strings } from './strings.js';
import type { Intent, Notice, ScreenView, SlipReason, SlipView } from './view-model.js';

export interface ScreenContext {
  t: Strings;
  send(intent: Intent): void;
  /** The digits typed on the keypad: the screen's only state of its own, lost on reload. */
  digits: string;
  setDigits(digits: string): void;
}

const action = (name: string, label: string, onclick: () => void, cls = '', disabled = false) =>
  h('button', { type: 'button', class: `btn ${cls}`.trim(), 'data-action': name, disabled, click: onclick }, label);

/** The main area of the page for one view. */
export function renderScreen(v: ScreenView, c: ScreenContext): HTMLElement {
  switch (v.screen) {
    case 'starting':
      return message(c.t.starting, 'spinner');
    case 'home':
      return home(v, c);
    case 'number':
      return numberScreen(v, c);
    case 'lookup':
      return h('div', { class: 'stack' }, message(c.t.lookingUp, 'spinner'), action('cancel', c.t.cancel, () => c.send({ type: 'cancel' }), 'secondary'));
    case 'lookupFailed':
      return h(
        'div',
        { class: 'stack' },
        h('p', { class: 'error big', 'data-error': v.error ?? '' }, v.error === 'unknown-account' ? c.t.unknownAccount : c.t.lookupFailed),
        phoneLine(v, c),
        action('cancel', c.t.back, () => c.send({ type: 'cancel' }), 'secondary'),
      );
    case 'review':
      return review(v, c);
    case 'cash':
      return cash(v, c);
    case 'card':
      return card(v, c);
    case 'mobile':
      return mobile(v, c);
    case 'finishing':
      return finishing(v, c);
    case 'result':
      return result(v, c);
    case 'slip':
      return slip(v, c);
    case 'outOfService':
      return h(
        'div',
        { class: 'stack closed' },
        h('h1', {}, c.t.outOfService),
        h('p', { class: 'big', 'data-reason': v.reason ?? '' }, v.reason === 'no-link' ? c.t.reasonNoLink : v.reason === 'boot-failed' ? c.t.reasonBootFailed : c.t.reasonNoCash),
      );
    case 'maintenance':
      return h('div', { class: 'stack closed' }, h('h1', {}, c.t.maintenance), h('p', { class: 'big' }, c.t.maintenanceHint));
  }
}

function message(text: string, cls = ''): HTMLElement {
  return h('div', { class: `message ${cls}`.trim() }, h('p', { class: 'big' }, text));
}

function notices(list: Notice[], t: Strings): HTMLElement | null {
  if (list.length === 0) return null;
  const text: Record<Notice, string> = {
    'no-change': t.noticeNoChange,
    'no-coins': t.noticeNoCoins,
    'no-receipt': t.noticeNoReceipt,
    offline: t.noticeOffline,
  };
  return h('ul', { class: 'notices' }, ...list.map((n) => h('li', { 'data-notice': n }, text[n])));
}

function home(v: ScreenView, c: ScreenContext): HTMLElement {
  const { t } = c;
  const methods = [v.offers.cash && t.methodCash, v.offers.coins && t.methodCoins, v.offers.card && t.methodCard].filter((m): m is string => typeof m === 'string');
  return h(
    'div',
    { class: 'stack' },
    h('h1', {}, t.welcome),
    h(
      'div',
      { class: 'services' },
      v.offers.pay && h('button', { type: 'button', class: 'service', 'data-action': 'start-pay', click: () => c.send({ type: 'start', service: 'pay' }) }, h('strong', {}, t.pay), h('span', {}, t.payHint)),
      v.offers.topup && h('button', { type: 'button', class: 'service', 'data-action': 'start-topup', click: () => c.send({ type: 'start', service: 'topup' }) }, h('strong', {}, t.topup), h('span', {}, t.topupHint)),
    ),
    notices(v.notices, t),
    h('p', { class: 'methods' }, `${t.methods}: `, methods.join(' · '), !v.offers.card && h('span', { class: 'off' }, ` · ${t.methodCard}`)),
  );
}

function numberScreen(v: ScreenView, c: ScreenContext): HTMLElement {
  const { t } = c;
  const valid = isMobileNumber(c.digits);
  const press = (key: string) => {
    if (key === 'clear') c.setDigits('');
    else if (key === 'back') c.setDigits(c.digits.slice(0, -1));
    else if (c.digits.length < 11) c.setDigits(c.digits + key);
  };
  const keys = ['1', '2', '3', '4', '5', '6', '7', '8', '9', 'clear', '0', 'back'];
  const label = (k: string) => (k === 'clear' ? t.clear : k === 'back' ? t.backspace : k);
  const complete = c.digits.length === 11;
  const hint = v.error === 'bad-number' && c.digits === '' ? t.badNumber : complete && !valid ? t.badFormat : t.numberHint;
  return h(
    'div',
    { class: 'number-layout' },
    h(
      'div',
      { class: 'stack' },
      h('h1', {}, t.enterNumber),
      h('output', { class: 'phone-entry', 'data-field': 'phone' }, groupPhone(c.digits) || '\u00a0'),
      h('p', { class: hint === t.numberHint ? 'hint' : 'error', 'data-field': 'phone-hint' }, hint),
      h(
        'div',
        { class: 'actions' },
        action('cancel', t.cancel, () => c.send({ type: 'cancel' }), 'secondary'),
        action('ok', t.ok, () => c.send({ type: 'number', phone: c.digits }), 'primary', !valid),
      ),
    ),
    h('div', { class: 'keypad' }, ...keys.map((k) => h('button', { type: 'button', class: `key key-${k}`, 'data-key': k, click: () => press(k) }, label(k)))),
  );
}

function phoneLine(v: ScreenView, c: ScreenContext): HTMLElement | null {
  if (!v.phone) return null;
  return h('p', { class: 'account' }, `${c.t.phone}: ${groupPhone(v.phone)}`, v.holder ? ` · ${c.t.accountOf}: ${v.holder}` : '');
}

function amountRow(name: string, label: string, fen: number, cls = ''): HTMLElement {
  return h('div', { class: `amount ${cls}`.trim(), 'data-amount': name }, h('span', { class: 'label' }, label), h('span', { class: 'value' }, yuan(fen)));
}

function review(v: ScreenView, c: ScreenContext): HTMLElement {
  const { t } = c;
  const due = v.amounts?.due ?? null;
  const nothingDue = v.service === 'pay' && due === 0;
  const byCard = v.service === 'pay' && !nothingDue && v.offers.card;
  const cardErrors: Record<string, string> = {
    'card-declined': t.cardDeclined,
    'card-unavailable': t.cardUnavailable,
    'mobile-failed': t.mobileFailed,
    'mobile-unavailable': t.mobileUnavailable,
    'mobile-timeout': t.mobileTimeout,
  };
  const cardError = cardErrors[v.error ?? ''];
  const reasons: Record<string, string> = { 'insufficient-balance': t.mobileReasonBalance, 'code-expired': t.mobileReasonExpired, 'code-used': t.mobileReasonUsed };
  const reason = v.errorReason ? reasons[v.errorReason] : undefined;
  const wallet = nothingDue ? [] : v.offers.mobile;
  return h(
    'div',
    { class: 'stack' },
    phoneLine(v, c),
    due !== null && h('div', { class: 'amounts' }, amountRow('due', t.due, due, 'main')),
    nothingDue && h('p', { class: 'big', 'data-error': 'nothing-due' }, t.nothingDue),
    cardError && h('p', { class: 'error big', 'data-error': v.error ?? '' }, cardError),
    reason && h('p', { class: 'error', 'data-field': 'mobile-reason' }, reason),
    notices(v.notices, t),
    h(
      'div',
      { class: 'actions' },
      action('cancel', nothingDue ? t.back : t.cancel, () => c.send({ type: 'cancel' }), 'secondary'),
      !nothingDue &&
        action('confirm', v.service === 'topup' ? t.confirmTopup : byCard || wallet.length > 0 ? t.payByCash : t.confirmPay, () => c.send({ type: 'confirm' }), 'primary'),
      byCard && action('card', t.payByCard, () => c.send({ type: 'card' }), 'primary'),
      wallet.includes('code') && action('mobile-code', t.payByMobile, () => c.send({ type: 'mobile', mode: 'code' }), 'primary'),
      wallet.includes('qr') && action('mobile-qr', t.payByQr, () => c.send({ type: 'mobile', mode: 'qr' }), 'primary'),
    ),
  );
}

function cash(v: ScreenView, c: ScreenContext): HTMLElement {
  const { t } = c;
  const a = v.amounts;
  const inserted = a?.inserted ?? 0;
  const notes = v.accepts?.notes ?? [];
  const coins = v.accepts?.coins ?? [];
  return h(
    'div',
    { class: 'stack' },
    phoneLine(v, c),
    h(
      'div',
      { class: 'amounts' },
      a && a.due !== null && amountRow('due', t.due, a.due),
      amountRow('inserted', t.inserted, inserted, 'live'),
      a && a.remaining !== null && amountRow('remaining', t.remaining, a.remaining, 'main'),
    ),
    h('p', { class: 'big insert' }, notes.length + coins.length > 0 ? t.insert : t.noMoreCash),
    notes.length > 0 && h('p', { class: 'accepts', 'data-accepts': 'notes' }, `${t.acceptsNotes}: `, ...notes.map((n) => h('span', { class: 'chip' }, faceValue(n)))),
    coins.length > 0 && h('p', { class: 'accepts', 'data-accepts': 'coins' }, `${t.acceptsCoins}: `, ...coins.map((n) => h('span', { class: 'chip coin' }, faceValue(n)))),
    notices(v.notices, t),
    h(
      'div',
      { class: 'actions' },
      action('cancel', inserted > 0 ? t.cancelWithMoney : t.cancelTxn, () => c.send({ type: 'cancel' }), 'secondary'),
      v.service === 'topup' && action('done', t.finishTopup, () => c.send({ type: 'done' }), 'primary', inserted === 0),
    ),
  );
}

function card(v: ScreenView, c: ScreenContext): HTMLElement {
  const { t } = c;
  const stage = v.card?.stage ?? 'present';
  const present = v.card?.via === 'terminal' ? t.cardPresentTerminal : t.cardPresent;
  const text = { present, 'read-error': t.cardReadError, authorising: t.cardAuthorising, pin: t.cardPin, wait: t.cardWait, remove: t.cardRemove }[stage];
  const busy = stage === 'authorising' || stage === 'wait';
  return h(
    'div',
    { class: 'stack' },
    h('h1', {}, t.cardTitle),
    phoneLine(v, c),
    v.amounts?.due != null && h('div', { class: 'amounts' }, amountRow('due', t.due, v.amounts.due, 'main')),
    h('p', { class: `big ${stage === 'read-error' ? 'error' : ''} ${busy ? 'spinner' : ''}`.trim(), 'data-card-stage': stage }, text),
    v.card?.maskedPan && h('p', { class: 'account', 'data-field': 'masked-pan' }, v.card.maskedPan),
    // Once the card is with the authoriser a cancel only asks; the outcome still decides.
    h('div', { class: 'actions' }, action('cancel', t.cancel, () => c.send({ type: 'cancel' }), 'secondary')),
  );
}

/**
 * Where the scanner is: the kiosk's front with its scanner window at the bottom right and a phone
 * held to it. Drawn once as an image, so the page needs no SVG of its own.
 */
const SCANNER_PICTURE =
  'data:image/svg+xml;base64,' +
  btoa(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 160">' +
      '<rect x="20" y="8" width="120" height="144" rx="8" fill="#e8eef5" stroke="#345" stroke-width="3"/>' +
      '<rect x="34" y="20" width="92" height="58" rx="3" fill="#fff" stroke="#345" stroke-width="2"/>' +
      '<rect x="92" y="112" width="40" height="28" rx="4" fill="#1b6" stroke="#052" stroke-width="2"/>' +
      '<path d="M98 126h28" stroke="#d22" stroke-width="3"/>' +
      '<rect x="150" y="70" width="34" height="60" rx="6" fill="#234" transform="rotate(-20 167 100)"/>' +
      '<rect x="155" y="78" width="24" height="40" fill="#fff" transform="rotate(-20 167 100)"/>' +
      '<path d="M150 118 L136 126" stroke="#d22" stroke-width="3" marker-end="url(#a)"/>' +
      '<defs><marker id="a" markerWidth="6" markerHeight="6" refX="3" refY="3" orient="auto"><path d="M0 0L6 3L0 6z" fill="#d22"/></marker></defs>' +
      '</svg>',
  );

function mobile(v: ScreenView, c: ScreenContext): HTMLElement {
  const { t } = c;
  const m = v.mobile;
  const stage = m?.stage ?? 'show-code';
  const text = {
    'show-code': t.mobileShowCode,
    'unknown-wallet': t.mobileUnknownWallet,
    requesting: t.mobileRequesting,
    confirming: t.mobileConfirming,
    revoking: t.mobileRevoking,
    'scan-qr': m?.qrImage ? t.mobileScanQr : t.mobileQrWait,
  }[stage];
  const busy = stage === 'requesting' || stage === 'revoking' || (stage === 'scan-qr' && !m?.qrImage);
  const scanning = stage === 'show-code' || stage === 'unknown-wallet';
  return h(
    'div',
    { class: 'stack' },
    h('h1', {}, t.mobileTitle),
    phoneLine(v, c),
    v.amounts?.due != null && h('div', { class: 'amounts' }, amountRow('due', t.due, v.amounts.due, 'main')),
    m?.qrImage && h('img', { class: 'qr', src: m.qrImage, alt: t.mobileScanQr, 'data-field': 'qr' }),
    scanning && h('figure', { class: 'scanner-picture' }, h('img', { src: SCANNER_PICTURE, alt: t.mobileScanner, 'data-field': 'scanner-picture' }), h('figcaption', {}, t.mobileScanner)),
    h('p', { class: `big ${stage === 'unknown-wallet' ? 'error' : ''} ${busy ? 'spinner' : ''}`.trim(), 'data-mobile-stage': stage }, text),
    m?.maskedCode && h('p', { class: 'account', 'data-field': 'masked-code' }, m.maskedCode),
    // Once the code is sent a cancel gives the payment up (it is revoked); while revoking there is nothing to cancel.
    stage !== 'revoking' && stage !== 'requesting' && h('div', { class: 'actions' }, action('cancel', t.cancel, () => c.send({ type: 'cancel' }), 'secondary')),
  );
}

function finishing(v: ScreenView, c: ScreenContext): HTMLElement {
  const { t } = c;
  const a = v.amounts;
  const text = { settling: t.settling, change: t.payingChange, printing: t.printing, cancelling: t.cancelling }[v.phase ?? 'settling'];
  return h(
    'div',
    { class: 'stack' },
    message(text, 'spinner'),
    // Paid by card: say so, rather than "inserted ¥0.00".
    a &&
      h(
        'div',
        { class: 'amounts' },
        paidBy(a, t),
        a.change > 0 && amountRow('change', t.changeLabel, a.change, 'main'),
      ),
  );
}

function result(v: ScreenView, c: ScreenContext): HTMLElement {
  const { t } = c;
  const r = v.result;
  const a = v.amounts;
  if (!r || !a) return message(t.settling);
  const titles = {
    paid: t.paid,
    'topped-up': t.toppedUp,
    cancelled: t.cancelled,
    timeout: t.timedOut,
    fault: t.fault,
    pending: t.pending,
    'card-reversed': t.cardUnknown,
    'mobile-revoked': t.mobileRevoked,
  };
  const receipt = { printed: t.receiptPrinted, failed: t.receiptFailed, none: t.receiptNone }[r.receipt];
  const ok = r.outcome === 'paid' || r.outcome === 'topped-up';
  // A bill left part-paid (a fault, a time-out, a cancel with money in): what is still owed, and what to do.
  const stillOwed = !ok && a.due !== null && a.inserted + a.card + a.mobile > 0 ? Math.max(0, a.due - a.credited) : 0;
  return h(
    'div',
    { class: 'stack result' },
    h('h1', { class: ok ? 'ok' : 'warn', 'data-outcome': r.outcome }, titles[r.outcome]),
    r.partial && h('p', { class: 'big' }, t.partial),
    phoneLine(v, c),
    h(
      'div',
      { class: 'amounts summary' },
      a.due !== null && amountRow('due', t.due, a.due),
      paidBy(a, t),
      amountRow('credited', t.credited, a.credited),
      a.changePaid > 0 && amountRow('change-paid', t.changePaid, a.changePaid),
      a.owed > 0 && amountRow('owed', t.changeOwed, a.owed, 'warn'),
      stillOwed > 0 && amountRow('still-owed', t.stillOwed, stillOwed, 'warn'),
    ),
    stillOwed > 0 && h('p', { class: 'hint', 'data-field': 'still-owed-hint' }, t.stillOwedHint),
    v.claimCode && h('div', { class: 'claim' }, h('span', { class: 'label' }, t.claimTitle), h('strong', { 'data-field': 'claim-code' }, v.claimCode), h('p', {}, t.claimHint)),
    a.inserted + a.card + a.mobile > 0 && h('p', { class: 'receipt', 'data-receipt': r.receipt }, receipt),
    h('div', { class: 'actions' }, action('done', t.done, () => c.send({ type: 'done' }), 'primary')),
  );
}

/** Paid by card or by a wallet: say so, rather than "inserted ¥0.00". */
function paidBy(a: NonNullable<ScreenView['amounts']>, t: Strings): HTMLElement {
  if (a.card > 0) return amountRow('card', t.cardPaid, a.card);
  if (a.mobile > 0) return amountRow('mobile', t.mobilePaid, a.mobile);
  return amountRow('inserted', t.inserted, a.inserted);
}

/** One line in both languages: the customer may read either, and a photo keeps both. */
function both(key: keyof Strings, cls = '', attrs: Record<string, string> = {}): HTMLElement {
  return h('p', { class: `both ${cls}`.trim(), ...attrs }, h('span', { lang: 'zh' }, STRINGS.zh[key] as string), h('span', { lang: 'en', class: 'en' }, STRINGS.en[key] as string));
}

function bothRow(name: string, key: keyof Strings, fen: number, cls = ''): HTMLElement {
  return h(
    'div',
    { class: `amount ${cls}`.trim(), 'data-amount': name },
    h('span', { class: 'label' }, `${STRINGS.zh[key] as string} ${STRINGS.en[key] as string}`),
    h('span', { class: 'value' }, yuan(fen)),
  );
}

const REASON_TEXT: Record<SlipReason, keyof Strings> = {
  'note-unresolved': 'slipNoteUnresolved',
  'change-owed': 'slipChangeOwed',
  'change-credited': 'slipChangeCredited',
  'card-reversed': 'slipCardReversed',
  recovered: 'slipRecovered',
};

function slip(v: ScreenView, c: ScreenContext): HTMLElement {
  const s: SlipView | null = v.slip;
  if (!s) return message(c.t.settling);
  const paper = { printed: 'slipPrinted', queued: 'slipQueued', printing: 'slipPrinting', 'no-printer': s.claimCode ? 'slipNoPrinter' : 'slipNoPrinterNoCode' } as const;
  return h(
    'div',
    { class: 'stack slip' },
    h('h1', { class: 'warn' }, STRINGS.zh.slipTitle, h('br', {}), h('span', { class: 'en' }, STRINGS.en.slipTitle)),
    ...s.reasons.map((r) => both(REASON_TEXT[r], 'reason', { 'data-reason': r })),
    v.phone && h('p', { class: 'account', 'data-field': 'masked-phone' }, `${STRINGS.zh.phone} ${STRINGS.en.phone}: ${maskedPhone(v.phone)}`),
    h(
      'div',
      { class: 'amounts summary' },
      s.inserted > 0 && bothRow('inserted', 'slipInserted', s.inserted),
      s.card > 0 && bothRow('card', 'slipCard', s.card),
      bothRow('credited', 'credited', s.credited),
      s.changePaid > 0 && bothRow('change-paid', 'changePaid', s.changePaid),
      s.unresolved > 0 && bothRow('unresolved', 'slipUnresolved', s.unresolved, 'warn'),
      s.owed > 0 && bothRow('owed', 'slipOwed', s.owed, 'warn'),
      s.changeCredited > 0 && bothRow('change-credited', 'slipCreditedChange', s.changeCredited),
    ),
    s.claimCode &&
      h(
        'div',
        { class: 'claim claim-large' },
        h('span', { class: 'label' }, `${STRINGS.zh.claimTitle} ${STRINGS.en.claimTitle}`),
        h('strong', { 'data-field': 'claim-code' }, s.claimCode),
        both('slipClaimHint'),
      ),
    h('p', { class: 'service-number', 'data-field': 'service-number' }, `${STRINGS.zh.slipService} ${STRINGS.en.slipService}: `, h('strong', {}, s.serviceNumber)),
    both(paper[s.paper], `paper ${s.paper === 'queued' ? 'error' : ''}`.trim(), { 'data-paper': s.paper }),
    h('div', { class: 'actions' }, action('done', c.t.done, () => c.send({ type: 'done' }), 'primary')),
  );
}
