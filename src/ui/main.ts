import { h } from './dom.js';
import { secondsLeft } from './format.js';
import { renderScreen } from './screens.js';
import { STRINGS, type Lang } from './strings.js';
import type { Intent, ScreenMessage, ScreenView } from './view-model.js';

// Everything shown comes from the server's view model; the page keeps only the language, the
// digits being typed, and the offset between its clock and the server's (for the count-down).
const LANG_KEY = 'kiosk-lang';
/** Screens between customers. */
const IDLE = new Set(['home', 'starting', 'outOfService', 'maintenance']);
/** Below this the count-down becomes a prompt asking whether the customer is still there. */
const PROMPT_BELOW_S = 15;
/** Touches on an input screen reset the machine's inactivity timer at most this often. */
const ACTIVITY_EVERY_MS = 3000;

let view: ScreenView | null = null;
let clockOffset = 0;
let lang: Lang = sessionStorage.getItem(LANG_KEY) === 'en' ? 'en' : 'zh';
let digits = '';
let connected = false;
let lastActivity = 0;

const main = document.getElementById('screen') as HTMLElement;
const langButton = document.getElementById('lang') as HTMLButtonElement;
const title = document.getElementById('title') as HTMLElement;
const banner = document.getElementById('banner') as HTMLElement;
const countdown = document.getElementById('countdown') as HTMLElement;
const prompt = document.getElementById('prompt') as HTMLElement;

langButton.addEventListener('click', () => setLang(lang === 'zh' ? 'en' : 'zh'));

function setLang(next: Lang): void {
  lang = next;
  sessionStorage.setItem(LANG_KEY, next);
  render();
}

async function send(intent: Intent): Promise<void> {
  // Without the runtime nothing a customer presses can be done: the page shows no buttons then.
  if (!connected) return;
  if (intent.type !== 'activity') lastActivity = Date.now();
  try {
    const res = await fetch('/api/intent', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(intent) });
    // A refused intent (a double tap, a stale screen) changes nothing: the next view says what is.
    if (!res.ok) console.warn('intent refused', intent.type, await res.text());
  } catch (e) {
    console.warn('intent not sent', intent.type, e);
  }
  if (!connected) void poll();
}

function receive(msg: ScreenMessage): void {
  const before = view;
  clockOffset = msg.serverTime - Date.now();
  view = msg.view;
  // Typed digits survive pushes while the customer stays on the number screen; a refused number
  // is cleared so the refusal shows.
  const sameEntry = before?.screen === 'number' && view.screen === 'number' && before.txnId === view.txnId;
  if (!sameEntry || (view.error === 'bad-number' && before?.error !== 'bad-number')) digits = '';
  // The next customer starts in Chinese, also when the kiosk goes out of service after a transaction.
  if (IDLE.has(view.screen) && before && !IDLE.has(before.screen) && lang !== 'zh') {
    lang = 'zh';
    sessionStorage.setItem(LANG_KEY, lang);
  }
  render();
}

function render(): void {
  const t = STRINGS[lang];
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  document.title = t.title;
  title.textContent = t.title;
  langButton.textContent = t.switchLang;
  banner.textContent = t.connecting;
  banner.hidden = connected || view !== null;
  if (!view) return;
  if (!connected) {
    // The runtime is gone (stopped, restarting): a page that cannot act shows nothing to press,
    // and no count-down or dialog that would freeze; it comes back by itself with the connection.
    main.dataset.screen = 'disconnected';
    main.replaceChildren(h('div', { class: 'message spinner', 'data-field': 'disconnected' }, h('p', { class: 'big' }, t.disconnected)));
    countdown.hidden = true;
    prompt.hidden = true;
    return;
  }
  main.dataset.screen = view.screen;
  main.replaceChildren(
    renderScreen(view, {
      t,
      send: (i) => void send(i),
      digits,
      setDigits: (d) => {
        digits = d;
        activity();
        render();
      },
    }),
  );
  tick();
}

/** The count-down, redrawn every quarter second from the view's deadline. */
function tick(): void {
  const t = STRINGS[lang];
  const d = view?.deadline;
  if (!d || !connected) {
    countdown.hidden = true;
    prompt.hidden = true;
    return;
  }
  const s = secondsLeft(d.at, Date.now() + clockOffset);
  countdown.hidden = false;
  countdown.textContent = view?.screen === 'result' ? t.backHomeIn(s) : t.timeLeft(s);
  // A wallet's count-down is the code's or the QR's time: nothing a tap would extend.
  const ask = view?.screen !== 'result' && view?.screen !== 'mobile' && s <= Math.min(PROMPT_BELOW_S, d.totalMs / 3000);
  if (ask && prompt.hidden) {
    prompt.replaceChildren(
      h(
        'div',
        { class: 'dialog' },
        h('h2', {}, t.stillThere),
        h('p', { class: 'big', 'data-field': 'prompt-seconds' }, t.endsIn(s)),
        h('button', { type: 'button', class: 'btn primary', 'data-action': 'continue', click: () => void send({ type: 'activity' }) }, t.continue),
      ),
    );
  } else if (ask) {
    const p = prompt.querySelector('[data-field="prompt-seconds"]');
    if (p) p.textContent = t.endsIn(s);
  }
  prompt.hidden = !ask;
}

/** The customer is doing something on this page: tell the machine, but not on every key. */
function activity(): void {
  if (Date.now() - lastActivity < ACTIVITY_EVERY_MS) return;
  lastActivity = Date.now();
  void send({ type: 'activity' });
}

async function poll(): Promise<void> {
  try {
    const res = await fetch('/api/screen', { cache: 'no-store' });
    if (res.ok) receive((await res.json()) as ScreenMessage);
  } catch {
    // The kiosk may be restarting; the socket's reconnect keeps trying.
  }
}

function connect(delay: number): void {
  const ws = new WebSocket(`ws://${location.host}/api/events`);
  ws.onopen = () => {
    connected = true;
    delay = 500;
    render();
  };
  ws.onmessage = (e) => receive(JSON.parse(String(e.data)) as ScreenMessage);
  ws.onclose = () => {
    if (connected) {
      connected = false;
      render();
    }
    setTimeout(() => connect(Math.min(delay * 2, 5000)), delay);
  };
}

render();
void poll();
connect(500);
setInterval(tick, 250);
