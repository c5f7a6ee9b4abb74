import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import t from 'tap';
import { SimStack } from '../../hw-sim/stack.js';
import { firstPage, openBrowser, screenIs, shot } from './browser.js';

// Issue 21, the customer's items, in a real Chromium against the real runtime: the screen at
// 800×600 and the other supported sizes, a card payment's printing screen, a validator jam's
// result and the language after it, what a swipe reader asks for, and the page while the runtime
// is gone. The subtests share one kiosk and run in order.

t.setTimeout(600_000);

const SIZES = [
  { width: 800, height: 600 },
  { width: 1024, height: 768 },
  { width: 768, height: 1024 },
  { width: 1280, height: 800 },
  { width: 1080, height: 1920 },
];

const freePort = () =>
  new Promise<number>((resolvePort) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolvePort(port));
    });
  });

const dir = mkdtempSync(join(tmpdir(), 'kiosk-ui-day-'));
// A fixed screen port: the page must find the runtime again after it was killed and restarted.
const apiPort = await freePort();
const sizeAccounts = SIZES.map((_, i) => ({ phone: `1350013500${i}`, amountDue: 1000, holder: `Size ${i}` }));
const stack = new SimStack({
  dir,
  fitted: { coins: true, hoppers: true, printer: true, cardReader: 'keyboard' },
  accounts: [...sizeAccounts, { phone: '13800138000', amountDue: 5000, holder: 'Zhang San' }, { phone: '13200132000', amountDue: 8800, holder: 'Wu Jiu' }],
  config: { api: { port: apiPort }, timeouts: { inputMs: 30_000, lookupMs: 10_000, cashMs: 30_000 } },
});
t.teardown(async () => {
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
});
await stack.start();
await stack.startRuntime();
const screenUrl = `http://127.0.0.1:${apiPort}/`;
const page = await firstPage(await openBrowser(t));
await page.goto(screenUrl);

type Status = { terminal: { state: string }; validator: { accepting: boolean }; lastTransaction: Record<string, unknown> | null };
async function until(what: string, pred: (st: Status) => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const st = await stack.control({ cmd: 'status' }).catch(() => ({ ok: false as const, error: 'down' }));
    if (st.ok && pred(st as unknown as Status)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
const amount = (p: Page, name: string) => p.locator(`[data-amount="${name}"] .value`);
async function typeNumber(p: Page, phone: string): Promise<void> {
  for (const d of phone) await p.click(`[data-key="${d}"]`);
}

/** Each element is inside the viewport once scrolled to, and nothing sticks out sideways. */
async function nothingCutOff(t: Tap.Test, p: Page, label: string, selectors: string[]): Promise<void> {
  const { width, height } = p.viewportSize()!;
  const wide = await p.evaluate(() => {
    const main = document.querySelector('main')!;
    return { page: document.documentElement.scrollWidth, main: main.scrollWidth - main.clientWidth };
  });
  t.ok(wide.page <= width && wide.main <= 0, `${label}: no horizontal overflow (page ${wide.page}px in ${width}px)`);
  for (const sel of selectors) {
    const el = p.locator(sel).first();
    await el.scrollIntoViewIfNeeded();
    const box = await el.boundingBox();
    t.ok(
      box && box.x >= 0 && box.y >= 0 && box.x + box.width <= width + 0.5 && box.y + box.height <= height + 0.5,
      `${label}: ${sel} inside ${width}×${height} (${box ? `${Math.round(box.x)},${Math.round(box.y)} ${Math.round(box.width)}×${Math.round(box.height)}` : 'not shown'})`,
    );
  }
}

await until('the terminal in service', (st) => st.terminal.state === 'inService');
await screenIs(page, 'home');

for (const [i, size] of SIZES.entries()) {
  t.test(`${size.width}×${size.height}: every screen of a payment fits or scrolls, nothing cut off`, async (t) => {
    await page.setViewportSize(size);
    const label = `${size.width}x${size.height}`;
    await screenIs(page, 'home');
    await nothingCutOff(t, page, `${label} home`, ['header .title', '[data-action="lang"]', 'h1', '[data-action="start-pay"]', '[data-action="start-topup"]', '.methods']);
    await shot(page, `day-${label}-home`);
    await page.click('[data-action="start-pay"]');
    await screenIs(page, 'number');
    await typeNumber(page, sizeAccounts[i]!.phone);
    await nothingCutOff(t, page, `${label} number`, ['h1', '[data-field="phone"]', '[data-key="1"]', '[data-key="back"]', '[data-action="cancel"]', '[data-action="ok"]']);
    await shot(page, `day-${label}-number`);
    await page.click('[data-action="ok"]');
    await screenIs(page, 'review');
    await nothingCutOff(t, page, `${label} review`, ['.account', '[data-amount="due"]', '[data-action="cancel"]', '[data-action="confirm"]']);
    await page.click('[data-action="confirm"]');
    await screenIs(page, 'cash');
    await until('the validator open', (st) => st.validator.accepting);
    await nothingCutOff(t, page, `${label} cash`, ['[data-amount="due"]', '[data-amount="inserted"]', '[data-amount="remaining"]', '[data-accepts="notes"]', '[data-action="cancel"]']);
    await shot(page, `day-${label}-cash`);
    stack.deviceCommand('insert 1000');
    await screenIs(page, 'result');
    await page.locator('[data-receipt]').waitFor();
    await nothingCutOff(t, page, `${label} result`, ['h1', '[data-amount="credited"]', '[data-receipt]', '[data-action="done"]']);
    await shot(page, `day-${label}-result`);
    await page.click('[data-action="done"]');
    await screenIs(page, 'home');
  });
}

t.test('a swipe reader asks for a swipe only; the printing screen after a card payment shows the card', async (t) => {
  await page.setViewportSize({ width: 1024, height: 768 });
  await page.click('[data-action="start-pay"]');
  await screenIs(page, 'number');
  await typeNumber(page, '13200132000');
  await page.click('[data-action="ok"]');
  await screenIs(page, 'review');
  await page.click('[data-action="card"]');
  await screenIs(page, 'card');
  const asked = await page.locator('[data-card-stage="present"]').textContent();
  t.equal(asked, '请刷卡', 'a swipe reader: swipe, not insert');
  // A printer that does not answer keeps the printing screen up long enough to read it.
  stack.deviceCommand('silent', 'printer');
  t.teardown(() => stack.deviceCommand('clear', 'printer'));
  stack.deviceCommand('swipe visa', 'card-reader');
  await page.locator('main[data-screen="finishing"] [data-amount="card"]').waitFor();
  t.equal(await amount(page, 'card').textContent(), '¥88.00', 'what was paid, and that it was by card');
  t.equal(await page.locator('main[data-screen="finishing"] [data-amount="inserted"]').count(), 0, 'no "inserted ¥0.00"');
  await shot(page, 'day-printing-card');
  await screenIs(page, 'result');
  stack.deviceCommand('clear', 'printer');
  await page.click('[data-action="done"]');
  await screenIs(page, 'home');
});

t.test('after a jam: what is still owed and what to do; the out-of-service page is in Chinese', async (t) => {
  await page.click('[data-action="lang"]');
  await page.click('[data-action="start-pay"]');
  await screenIs(page, 'number');
  await typeNumber(page, '13800138000');
  await page.click('[data-action="ok"]');
  await screenIs(page, 'review');
  await page.click('[data-action="confirm"]');
  await screenIs(page, 'cash');
  await until('the validator open', (st) => st.validator.accepting);
  stack.deviceCommand('insert 1000');
  await amount(page, 'inserted').filter({ hasText: '¥10.00' }).waitFor();
  stack.deviceCommand('jam');
  t.teardown(() => stack.deviceCommand('clear'));
  await screenIs(page, 'result');
  t.equal(await page.getAttribute('h1', 'data-outcome'), 'fault');
  t.equal(await amount(page, 'still-owed').textContent(), '¥40.00', 'what is still owed');
  t.match(await page.textContent('[data-field="still-owed-hint"]'), /pay the rest/, 'and what to do');
  await shot(page, 'day-jam-result-en');
  await page.click('[data-action="done"]');
  await screenIs(page, 'outOfService');
  t.equal(await page.getAttribute('html', 'lang'), 'zh-CN', 'the next customer starts in Chinese');
  t.match(await page.textContent('main h1'), '暂停服务');
  stack.deviceCommand('clear');
  await screenIs(page, 'home');
});

t.test('the runtime killed: a "please wait" page that takes no taps, then back by itself', async (t) => {
  await screenIs(page, 'home');
  await stack.killRuntime('SIGKILL');
  await screenIs(page, 'disconnected');
  t.equal(await page.locator('main [data-action], main button').count(), 0, 'nothing to press');
  t.ok(await page.isHidden('#prompt'), 'no inactivity dialog');
  t.ok(await page.isHidden('#countdown'), 'no count-down to freeze');
  t.match(await page.textContent('[data-field="disconnected"]'), '请稍候');
  await shot(page, 'day-disconnected');
  await page.mouse.click(400, 300);
  await stack.startRuntime();
  await screenIs(page, 'home');
  t.pass('the page came back on its own');
  await until('the terminal in service', (st) => st.terminal.state === 'inService');
});
