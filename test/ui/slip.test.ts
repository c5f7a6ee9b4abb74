import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import t from 'tap';
import { SimStack } from '../../hw-sim/stack.js';
import { firstPage, openBrowser, screenIs, shot } from './browser.js';

// The fault slip on the customer's screen, in a real Chromium against the real runtime: a jam that
// keeps a note, and change the hoppers cannot pay while the printer is out of paper. The subtests
// share one kiosk and run in order. Screenshots go to test-artifacts/screens/.

t.setTimeout(400_000);

const dir = mkdtempSync(join(tmpdir(), 'kiosk-ui-slip-'));
const stack = new SimStack({
  dir,
  fitted: { coins: true, hoppers: true, printer: true },
  accounts: [
    { phone: '13800138070', amountDue: 5000, holder: 'Zhang San' },
    { phone: '13300133000', amountDue: 4950, holder: 'Zhou Ba' },
  ],
  // A slow stack, so that the jam comes while the note is on its way to the cash box.
  emulatorTiming: { stackingMs: 3000 },
  config: { api: { port: 0 }, timeouts: { inputMs: 15_000, lookupMs: 10_000, cashMs: 20_000, slipScreenMs: 120_000 }, receipt: { serviceNumber: '400-800-1234' } },
});
t.teardown(async () => {
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
});

await stack.start();
const screenUrl = await stack.startRuntimeWithScreen();
const page = await firstPage(await openBrowser(t));
await page.goto(screenUrl);

type Status = { terminal: { state: string }; validator: { accepting: boolean }; lastTransaction: Record<string, unknown> | null };

async function until(what: string, pred: (st: Status) => boolean, timeoutMs = 30_000): Promise<Status> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const st = (await stack.control({ cmd: 'status' })) as unknown as Status;
    if (pred(st)) return st;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const amount = (page: Page, name: string) => page.locator(`[data-amount="${name}"] .value`);

async function toCash(page: Page, phone: string): Promise<void> {
  await page.click('[data-action="start-pay"]');
  await screenIs(page, 'number');
  for (const d of phone) await page.click(`[data-key="${d}"]`);
  await page.click('[data-action="ok"]');
  await screenIs(page, 'review');
  await page.click('[data-action="confirm"]');
  await screenIs(page, 'cash');
  await until('the validator open', (st) => st.validator.accepting);
}

await until('the terminal in service', (st) => st.terminal.state === 'inService');
await screenIs(page, 'home');

t.test('a note jams on its way to the cash box: the slip screen, in both languages, with the claim code large', async (t) => {
  await toCash(page, '13800138070');
  stack.deviceCommand('insert 5000');
  await stack.waitForDeviceLine('validator', (l) => l.includes('stacking 5000'), 15_000, { recent: true });
  stack.deviceCommand('jam');
  await screenIs(page, 'slip');
  t.ok(await page.isVisible('[data-reason="note-unresolved"]'), 'says a note was not credited');
  const text = (await page.textContent('main')) ?? '';
  t.match(text, '有纸币未能入账', 'in Chinese');
  t.match(text, 'A note was not credited', 'and in English, on the same screen');
  t.equal(await amount(page, 'unresolved').textContent(), '¥50.00');
  t.equal(await amount(page, 'credited').textContent(), '¥0.00');
  const code = await page.textContent('[data-field="claim-code"]');
  t.match(code, /^[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}$/);
  const size = await page.locator('[data-field="claim-code"]').evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
  t.ok(size >= 48, `the claim code is large enough to photograph (${size}px)`);
  t.match(await page.textContent('[data-field="service-number"]'), '400-800-1234');
  t.match(await page.textContent('[data-field="masked-phone"]'), '138****8070', 'the phone number masked, as on the paper');
  t.ok(await page.locator('[data-action="done"]').isVisible(), 'the whole slip fits the screen');
  const [bottom, mainBottom] = await page.locator('[data-action="done"]').evaluate((el) => [el.getBoundingClientRect().bottom, el.closest('main')!.getBoundingClientRect().bottom]);
  t.ok(bottom! <= mainBottom!, `nothing to scroll to (${bottom}px of ${mainBottom}px)`);
  await page.locator('[data-paper="printed"]').waitFor();
  await shot(page, 'slip-jam');
  const st = await until('the jam recorded', (s) => s.lastTransaction !== null);
  t.match(st.lastTransaction, { status: 'cancelled', cashIn: 0, claimCode: code });
  stack.deviceCommand('clear');
  await page.click('[data-action="done"]');
  await screenIs(page, 'home');
});

t.test('change owed while the printer is out of paper: the screen says the slip waits for a reprint', async (t) => {
  await until('the terminal in service', (st) => st.terminal.state === 'inService');
  stack.deviceCommand('empty', 'h50');
  stack.deviceCommand('paper-out', 'printer');
  await toCash(page, '13300133000');
  // 50.00 for 49.50: the 5-jiao hopper turns out empty and 1-yuan coins cannot make 0.50.
  stack.deviceCommand('insert 5000');
  await screenIs(page, 'slip');
  t.ok(await page.isVisible('[data-reason="change-owed"]'));
  t.equal(await amount(page, 'owed').textContent(), '¥0.50');
  await page.locator('[data-paper="queued"]').waitFor();
  t.match(await page.textContent('[data-paper="queued"]'), 'staff can reprint it');
  const code = await page.textContent('[data-field="claim-code"]');
  await shot(page, 'slip-change-owed-paper-out');
  const st = await until('the claim recorded', (s) => s.lastTransaction?.changeOwed === 50);
  t.equal(st.lastTransaction?.claimCode, code);
  const queue = await stack.control({ cmd: 'reprint-queue' });
  t.match(queue, { ok: true, slips: [st.lastTransaction?.id] }, 'the slip waits in the reprint queue');
  stack.deviceCommand('clear', 'printer');
  await until('the printer back', (s) => s.terminal.state === 'inService' || s.terminal.state === 'degraded');
  t.match(await stack.control({ cmd: 'reprint' }), { ok: true, printed: 'slip' }, 'the fault slip is reprinted first');
  t.match(await stack.control({ cmd: 'reprint-queue' }), { ok: true, slips: [] });
  await page.click('[data-action="done"]');
  await screenIs(page, 'home');
});
