import t, { type Test } from 'tap';
import { WebSocket } from 'ws';
import type { ScreenMessage, ScreenView } from '../../src/ui/view-model.js';
import { createActor } from 'xstate';
import { pino } from 'pino';
import { terminalMachine } from '../../states/terminal.js';
import { ScreenState } from '../../src/api/screen-state.js';
import { startApi } from '../../src/api/server.js';
import type { TransactionDesk } from '../../src/desk/desk.js';
import { startMachinesApi } from './machines-api.js';

const NOTE = { value: 5000, currency: 'CNY', code: 5 };

async function harness(t: Test, opts: { resultMs?: number } = {}) {
  const { api, journal, desk } = await startMachinesApi(t, { ...opts, files: { 'secret.txt': 'no' } });

  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${api.url}api/intent`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  /** A WebSocket client that keeps every view it was sent. */
  const listen = async (headers: Record<string, string> = {}) => {
    const views: ScreenView[] = [];
    const waiters: { pred: (v: ScreenView) => boolean; resolve: (v: ScreenView) => void }[] = [];
    const ws = new WebSocket(`${api.url.replace('http', 'ws')}api/events`, { headers });
    ws.on('message', (data) => {
      const view = (JSON.parse(String(data)) as ScreenMessage).view;
      views.push(view);
      for (const w of waiters.splice(0)) {
        if (w.pred(view)) w.resolve(view);
        else waiters.push(w);
      }
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    t.teardown(() => ws.terminate());
    const next = (pred: (v: ScreenView) => boolean, what: string) =>
      new Promise<ScreenView>((resolve, reject) => {
        const seen = views.find(pred);
        if (seen) return resolve(seen);
        const timer = setTimeout(() => reject(new Error(`no view: ${what}`)), 10_000);
        waiters.push({ pred, resolve: (v) => (clearTimeout(timer), resolve(v)) });
      });
    return { views, next, ws };
  };
  return { api, journal, post, listen, desk };
}

t.test('a customer pays through the API; every change is pushed', async (t) => {
  const { api, journal, post, listen, desk } = await harness(t);
  const events = await listen();
  await events.next((v) => v.screen === 'home', 'home');
  const got = (await (await fetch(`${api.url}api/screen`)).json()) as ScreenMessage;
  t.equal(got.view.screen, 'home');
  t.ok(Math.abs(got.serverTime - Date.now()) < 5000, "the server's clock comes along");

  const started = await post({ type: 'start', service: 'pay' });
  t.equal(started.status, 200);
  const number = await events.next((v) => v.screen === 'number', 'number');
  t.ok(number.deadline && Math.abs(number.deadline.at - (Date.now() + 60_000)) < 5000, 'the count-down comes from the machine timer');
  t.equal((await post({ type: 'start', service: 'pay' })).status, 409, 'one transaction at a time');
  t.equal((await post({ type: 'confirm' })).status, 409, 'confirm means nothing on the number screen');

  t.equal((await post({ type: 'number', phone: '13800138000' })).status, 200);
  const review = await events.next((v) => v.screen === 'review', 'review');
  t.equal(review.amounts?.due, 5000);
  t.equal(review.holder, 'Z* S*', 'masked');
  t.equal((await post({ type: 'confirm' })).status, 200);
  await events.next((v) => v.screen === 'cash', 'cash');

  // The validator stacks a 50 note: the journal credits it, then the machine hears of it.
  const a = desk.active();
  if (!a) throw new Error('no transaction');
  journal.noteStacked(a.id, NOTE);
  a.actor.send({ type: 'NOTE_CREDITED', value: 5000 });
  const result = await events.next((v) => v.screen === 'result', 'result');
  t.same(result.result, { outcome: 'paid', partial: false, receipt: 'none' });
  t.equal(result.amounts?.credited, 5000);

  t.equal((await post({ type: 'done' })).status, 200, 'done closes the summary');
  await events.next((v, i = events.views.indexOf(v)) => v.screen === 'home' && i > events.views.indexOf(result), 'home again');
  t.equal((await post({ type: 'done' })).status, 409, 'nothing left to close');
  t.equal((await post({ type: 'activity' })).status, 200, 'a touch on the start screen is harmless');
});

t.test('a customer who backs out before paying goes straight back to the start', async (t) => {
  const { post, listen } = await harness(t);
  const events = await listen();
  await post({ type: 'start', service: 'topup' });
  await events.next((v) => v.screen === 'number' && v.service === 'topup', 'number');
  t.equal((await post({ type: 'cancel' })).status, 200);
  await events.next((v) => v.screen === 'home' && events.views.some((x) => x.screen === 'number'), 'home');
  t.notOk(events.views.some((v) => v.screen === 'result'), 'no summary of nothing');
});

t.test('the summary goes away by itself', async (t) => {
  const { post, listen, desk, journal } = await harness(t, { resultMs: 300 });
  const events = await listen();
  await post({ type: 'start', service: 'pay' });
  await post({ type: 'number', phone: '13800138000' });
  await events.next((v) => v.screen === 'review', 'review');
  await post({ type: 'confirm' });
  await events.next((v) => v.screen === 'cash', 'cash');
  const a = desk.active();
  if (!a) throw new Error('no transaction');
  journal.noteStacked(a.id, { value: 2000, currency: 'CNY', code: 4 });
  a.actor.send({ type: 'NOTE_CREDITED', value: 2000 });
  await events.next((v) => v.screen === 'cash' && v.amounts?.inserted === 2000, 'inserted 20.00');
  await post({ type: 'cancel' });
  const result = await events.next((v) => v.screen === 'result', 'result');
  t.same(result.result, { outcome: 'cancelled', partial: true, receipt: 'none' });
  t.equal(result.amounts?.credited, 2000);
  await events.next((v) => v.screen === 'home' && events.views.indexOf(v) > events.views.indexOf(result), 'home after the summary time');
});

t.test('bad intents are refused with the reason', async (t) => {
  const { post } = await harness(t);
  t.equal((await post('{not json')).status, 400);
  t.equal((await post({ type: 'pay-everything' })).status, 400);
  t.equal((await post({ type: 'number', phone: '138-0013' })).status, 400, 'digits only');
  t.equal((await post({ type: 'start', service: 'pay', amount: 1 })).status, 400, 'no extra fields');
  t.equal((await post({ type: 'confirm' })).status, 409, 'no transaction');
  t.equal((await post('{"type":"start","service":"pay"}', { 'content-type': 'text/plain' })).status, 415, 'a form post from a page is not JSON');
  t.equal((await post('x'.repeat(10_000))).status, 413, 'a large body');
});

t.test('only the loopback address and the page itself may use it', async (t) => {
  const { api, post, listen } = await harness(t);
  const port = new URL(api.url).port;
  // fetch() will not send a custom Host, so these go through node's http client.
  const { request } = await import('node:http');
  const status = (path: string, headers: Record<string, string>) =>
    new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: Number(port), path, headers }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
  t.equal(await status('/api/screen', { host: `127.0.0.1:${port}` }), 200);
  t.equal(await status('/api/screen', { host: `localhost:${port}` }), 200);
  t.equal(await status('/api/screen', { host: `kiosk.example.com:${port}` }), 403, 'DNS rebinding');
  t.equal(await status('/', { host: `attacker.example:${port}` }), 403);
  t.equal((await post({ type: 'start', service: 'pay' }, { origin: 'http://attacker.example' })).status, 403, 'another site');
  t.equal((await post({ type: 'start', service: 'pay' }, { origin: 'http://127.0.0.1:1' })).status, 403, 'another local server');
  t.equal((await post({ type: 'activity' }, { origin: `http://127.0.0.1:${port}` })).status, 200, 'the page itself');
  await t.rejects(listen({ origin: 'http://attacker.example' }), 'the socket refuses another origin');
  const ws = new WebSocket(`ws://127.0.0.1:${port}/api/other`);
  await t.rejects(new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject))), 'only /api/events');
});

t.test('static files: the page, nothing outside its folder', async (t) => {
  const { api } = await harness(t);
  const index = await fetch(api.url);
  t.equal(index.status, 200);
  t.match(index.headers.get('content-type'), /text\/html/);
  t.match(index.headers.get('content-security-policy'), /default-src 'self'/);
  t.match(await index.text(), /<title>screen/);
  t.match((await fetch(`${api.url}main.js`)).headers.get('content-type'), /javascript/);
  t.equal((await fetch(`${api.url}%2e%2e/secret.txt`)).status, 404, 'no way up');
  t.equal((await fetch(`${api.url}nothing.js`)).status, 404);
  t.equal((await fetch(`${api.url}%E0%A4%A`)).status, 404, 'a malformed path');
});

t.test('a port already taken is an error, not a silent screen-less kiosk', async (t) => {
  const { api } = await harness(t);
  const desk: TransactionDesk = { active: () => null, lastId: () => null, accepting: () => false, start: () => '', customer: () => ({ ok: true }) };
  const screen = new ScreenState({
    terminal: createActor(terminalMachine),
    transactions: desk,
    journal: { transaction: () => undefined, events: () => [] },
    fitted: { coins: false, printer: false },
    resultMs: 1000,
  });
  t.teardown(() => screen.close());
  await t.rejects(startApi({ port: Number(new URL(api.url).port), screen, transactions: desk, log: pino({ level: 'silent' }) }), { code: 'EADDRINUSE' });
});

t.test('a client that misbehaves on the socket is dropped; the server stays', async (t) => {
  const { api, listen } = await harness(t);
  const rude = await listen();
  const closed = new Promise<number>((resolve) => rude.ws.once('close', (code) => resolve(code)));
  rude.ws.send('x'.repeat(5000));
  t.not(await closed, 1000, 'cut off: the message is over the 1 KiB limit');
  const polite = await listen();
  await polite.next(() => true, 'a view');
  t.equal((await fetch(`${api.url}api/screen`)).status, 200);
});

/**
 * A real HTTP client sending `total` bytes as fast as the server takes them: how many it could
 * write before the answer came, and the answer.
 */
async function hugeBody(url: string, total: number, announce: boolean): Promise<{ status: number | null; written: number; error?: string }> {
  const { request } = await import('node:http');
  return new Promise((resolve) => {
    let written = 0;
    let done = false;
    const headers: Record<string, string | number> = { 'content-type': 'application/json', host: new URL(url).host };
    if (announce) headers['content-length'] = total;
    const req = request(`${url}api/intent`, { method: 'POST', headers });
    const finish = (r: { status: number | null; error?: string }) => {
      if (done) return;
      done = true;
      req.destroy();
      resolve({ ...r, written });
    };
    req.on('response', (res) => {
      res.resume();
      finish({ status: res.statusCode ?? null });
    });
    req.on('error', (e) => finish({ status: null, error: e.message }));
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const pump = () => {
      while (!done && written < total) {
        written += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (!done) req.end();
    };
    pump();
  });
}

t.test('a 200 MB body is answered 413 and not read to its end', async (t) => {
  const { api, post } = await harness(t);
  const total = 200 * 1024 * 1024;
  for (const announce of [true, false]) {
    const started = Date.now();
    const r = await hugeBody(api.url, total, announce);
    t.equal(r.status, 413, `${announce ? 'announced' : 'chunked'}: 413 (${r.error ?? 'answered'})`);
    // What the client could push is what the socket buffers hold after the server stopped
    // reading: a few megabytes, not the 200.
    t.ok(r.written < 32 * 1024 * 1024, `${announce ? 'announced' : 'chunked'}: the client could send ${(r.written / 1048576).toFixed(1)} MB of 200 in ${Date.now() - started} ms`);
  }
  t.equal((await post({ type: 'cancel' })).status < 500, true, 'the server still answers');
});

t.test('connections beyond the cap are closed as they arrive', async (t) => {
  const { api } = await harness(t);
  const { connect } = await import('node:net');
  const { MAX_CONNECTIONS } = await import('../../src/api/server.js');
  const open = async () =>
    new Promise<{ closed: Promise<boolean>; end: () => void }>((resolve) => {
      const s = connect(api.port, '127.0.0.1');
      const closed = new Promise<boolean>((res) => {
        s.on('close', () => res(true));
        setTimeout(() => res(false), 1000).unref();
      });
      s.on('error', () => undefined);
      s.on('connect', () => resolve({ closed, end: () => s.destroy() }));
    });
  const held = [];
  for (let i = 0; i < MAX_CONNECTIONS; i++) held.push(await open());
  const extra = await open();
  t.equal(await extra.closed, true, 'one more is closed by the server');
  t.equal(await held[0]!.closed, false, 'those within the cap stay open');
  for (const h of held) h.end();
  await new Promise((r) => setTimeout(r, 100));
  const res = await fetch(`${api.url}api/screen`);
  t.equal(res.status, 200, 'once they are gone the screen is served again');
});
