import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import t from 'tap';
import { SimStack } from '../../hw-sim/stack.js';
import { firstPage, openBrowser, screenIs, shot } from './browser.js';

// The customer's screen in a real Chromium against the real runtime process, its emulated devices
// on socat ptys and the reference server, with short time-outs. The subtests share one kiosk and
// run in order; each leaves it on the start screen. Screenshots go to test-artifacts/screens/.

const INPUT_MS = 15_000;
// The subtests sit out real time-outs, and a busy machine slows every step: more than tap's 300 s.
t.setTimeout(600_000);

const dir = mkdtempSync(join(tmpdir(), 'kiosk-ui-'));
const stack = new SimStack({
  dir,
  fitted: { coins: true, hoppers: true, printer: true, cardReader: 'keyboard' },
  // One account per subtest that pays: a paid bill owes nothing afterwards.
  accounts: [
    { phone: '13900139000', amountDue: 12350, holder: 'Li Si' },
    { phone: '13800138000', amountDue: 5000, holder: 'Zhang San' },
    { phone: '13600136000', amountDue: 5000, holder: 'Zhao Liu' },
    { phone: '13500135000', amountDue: 2350, holder: 'Sun Qi' },
    { phone: '13300133000', amountDue: 4950, holder: 'Zhou Ba' },
    { phone: '13200132000', amountDue: 8800, holder: 'Wu Jiu' },
  ],
  config: { api: { port: 0 }, timeouts: { inputMs: INPUT_MS, lookupMs: 10_000, cashMs: 20_000 } },
});
t.teardown(async () => {
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
});

await stack.start();
const screenUrl = await stack.startRuntimeWithScreen();
const page = await firstPage(await openBrowser(t));
await page.goto(screenUrl);

type Status = { terminal: { state: string }; validator: { accepting: boolean }; transaction: { state: string } | null; lastTransaction: Record<string, unknown> | null };

async function status(): Promise<Status> {
  const st = await stack.control({ cmd: 'status' });
  if (!st.ok) throw new Error(st.error);
  return st as unknown as Status;
}

async function until(what: string, pred: (st: Status) => boolean, timeoutMs = 30_000): Promise<Status> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const st = await status();
    if (pred(st)) return st;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const amount = (page: Page, name: string) => page.locator(`[data-amount="${name}"] .value`);

async function typeNumber(page: Page, phone: string): Promise<void> {
  for (const d of phone) await page.click(`[data-key="${d}"]`);
}

/** From the start screen to the cash screen for `phone`, with the validator open. */
async function toCash(page: Page, phone: string): Promise<void> {
  await page.click('[data-action="start-pay"]');
  await screenIs(page, 'number');
  await typeNumber(page, phone);
  await page.click('[data-action="ok"]');
  await screenIs(page, 'review');
  await page.click('[data-action="confirm"]');
  await screenIs(page, 'cash');
  await until('the validator open', (st) => st.validator.accepting);
}

async function insert(page: Page, fen: number, insertedText: string): Promise<void> {
  stack.deviceCommand(`insert ${fen}`);
  await amount(page, 'inserted').filter({ hasText: insertedText }).waitFor();
}

await until('the terminal in service', (st) => st.terminal.state === 'inService');
await screenIs(page, 'home');

t.test('Chinese by default, English on request, Chinese again for the next customer', async (t) => {
  t.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
  t.match(await page.textContent('[data-action="start-pay"]'), '缴纳话费');
  await shot(page, 'home-zh');
  await page.click('[data-action="lang"]');
  t.match(await page.textContent('[data-action="start-pay"]'), 'Pay a phone bill');
  t.equal(await page.getAttribute('html', 'lang'), 'en');
  await shot(page, 'home-en');
  await page.reload();
  await screenIs(page, 'home');
  t.match(await page.textContent('[data-action="start-pay"]'), 'Pay a phone bill', 'a reload keeps the choice');
  await page.click('[data-action="start-pay"]');
  await screenIs(page, 'number');
  t.match(await page.textContent('h1'), 'Enter the mobile number');
  await page.click('[data-action="cancel"]');
  await screenIs(page, 'home');
  t.match(await page.textContent('[data-action="start-pay"]'), '缴纳话费', 'the next customer starts in Chinese');
});

t.test('a complete cash payment with change from the hoppers', async (t) => {
  await page.click('[data-action="start-pay"]');
  await screenIs(page, 'number');
  await typeNumber(page, '1290013');
  t.equal(await page.textContent('[data-field="phone"]'), '129 0013');
  t.ok(await page.isDisabled('[data-action="ok"]'), 'no OK before 11 digits');
  await typeNumber(page, '9000');
  t.match(await page.textContent('[data-field="phone-hint"]'), '号码格式不正确', '12… is not a mobile number');
  t.ok(await page.isDisabled('[data-action="ok"]'));
  for (let i = 0; i < 11; i++) await page.click('[data-key="back"]');
  await typeNumber(page, '13900139000');
  t.ok(await page.isEnabled('[data-action="ok"]'));
  await shot(page, 'number');
  await page.click('[data-action="ok"]');
  await screenIs(page, 'review');
  t.equal(await amount(page, 'due').textContent(), '¥123.50');
  // Whoever typed the number sees the holder masked; the full name is nowhere in the page.
  t.match(await page.textContent('p.account'), 'L* S*');
  t.notMatch(await page.content(), 'Li Si', 'not in the page');
  await shot(page, 'review');
  await page.click('[data-action="confirm"]');
  await screenIs(page, 'cash');
  await until('the validator open', (st) => st.validator.accepting);
  await insert(page, 10000, '¥100.00');
  t.equal(await amount(page, 'remaining').textContent(), '¥23.50');
  t.match(await page.textContent('[data-accepts="notes"]'), '¥50', 'a 50 note still fits: its change can be paid');
  await shot(page, 'cash');
  // 150.00 for 123.50: 26.50 change, 26 one-yuan coins and one 5-jiao coin.
  stack.deviceCommand('insert 5000');
  await screenIs(page, 'result');
  t.equal(await page.getAttribute('h1', 'data-outcome'), 'paid');
  t.equal(await amount(page, 'credited').textContent(), '¥123.50');
  t.equal(await amount(page, 'change-paid').textContent(), '¥26.50');
  t.equal(await page.locator('[data-field="claim-code"]').count(), 0, 'no change owed, no claim code');
  await page.locator('[data-receipt="printed"]').waitFor();
  await shot(page, 'result-paid');
  const st = await status();
  t.match(st.lastTransaction, { status: 'completed', endReason: 'paid', credited: 12350, changePaid: 2650, changeOwed: 0 });
  t.equal(stack.coinsPaid.get('h100'), 26);
  t.equal(stack.coinsPaid.get('h50'), 1);
  await page.click('[data-action="done"]');
  await screenIs(page, 'home');
});

t.test('a reload in the middle of a payment shows the same payment', async (t) => {
  await toCash(page, '13800138000');
  await insert(page, 2000, '¥20.00');
  await page.reload();
  await screenIs(page, 'cash');
  t.equal(await amount(page, 'inserted').textContent(), '¥20.00', 'the amount comes from the kiosk, not the page');
  t.equal(await amount(page, 'remaining').textContent(), '¥30.00');
  await shot(page, 'cash-after-reload');
  await insert(page, 2000, '¥40.00');
  stack.deviceCommand('insert 1000');
  await screenIs(page, 'result');
  t.equal(await page.getAttribute('h1', 'data-outcome'), 'paid');
  t.equal(await amount(page, 'credited').textContent(), '¥50.00');
  await page.click('[data-action="done"]');
  await screenIs(page, 'home');
});

t.test('a cancel with a note already stacked credits the note', async (t) => {
  await toCash(page, '13600136000');
  await insert(page, 2000, '¥20.00');
  await page.click('[data-action="cancel"]');
  await screenIs(page, 'result');
  t.equal(await page.getAttribute('h1', 'data-outcome'), 'cancelled');
  t.equal(await amount(page, 'credited').textContent(), '¥20.00');
  await shot(page, 'result-cancelled');
  const st = await status();
  t.match(st.lastTransaction, { status: 'completed', endReason: 'customer-cancel-partial', cashIn: 2000, credited: 2000 });
  await page.click('[data-action="done"]');
  await screenIs(page, 'home');
});

t.test('an idle customer is asked, then timed out, then the start screen returns', async (t) => {
  await page.click('[data-action="start-pay"]');
  await screenIs(page, 'number');
  t.match(await page.textContent('#countdown'), /剩余 \d+ 秒/);
  await page.locator('#prompt [data-action="continue"]').waitFor({ state: 'visible', timeout: INPUT_MS + 10_000 });
  await shot(page, 'timeout-prompt');
  await screenIs(page, 'result');
  t.equal(await page.getAttribute('h1', 'data-outcome'), 'timeout');
  await shot(page, 'result-timeout');
  t.match((await status()).lastTransaction, { status: 'cancelled', endReason: 'timeout' });
  // The summary clears itself after the input time-out.
  await page.locator('main[data-screen="home"]').waitFor({ state: 'attached', timeout: INPUT_MS + 15_000 });
});

t.test('a touch on "continue" keeps the customer in', async (t) => {
  await page.click('[data-action="start-pay"]');
  await screenIs(page, 'number');
  await page.locator('#prompt [data-action="continue"]').click({ timeout: INPUT_MS + 10_000 });
  await page.locator('#prompt').waitFor({ state: 'hidden' });
  t.equal(await page.getAttribute('main', 'data-screen'), 'number');
  t.equal((await status()).transaction?.state, 'number', 'the machine restarted its timer');
  await page.click('[data-action="cancel"]');
  await screenIs(page, 'home');
});

t.test('the out-of-service screen when the validator faults, maintenance when an engineer says so', async (t) => {
  stack.deviceCommand('stacker-open');
  await screenIs(page, 'outOfService');
  t.equal(await page.getAttribute('[data-reason]', 'data-reason'), 'no-cash');
  await shot(page, 'out-of-service');
  stack.deviceCommand('clear');
  await screenIs(page, 'home');

  const out = await stack.control({ cmd: 'out-of-service', by: 'engineer', reason: 'cash collection' });
  t.ok(out.ok);
  await screenIs(page, 'maintenance');
  await shot(page, 'maintenance');
  await stack.control({ cmd: 'in-service', by: 'engineer' });
  await screenIs(page, 'home');
});

t.test('a card is declined, the customer tries again and the card pays', async (t) => {
  await page.click('[data-action="start-pay"]');
  await screenIs(page, 'number');
  await typeNumber(page, '13200132000');
  await page.click('[data-action="ok"]');
  await screenIs(page, 'review');
  t.ok(await page.isVisible('[data-action="card"]'), 'the card is offered next to cash');
  await page.click('[data-action="card"]');
  await screenIs(page, 'card');
  await page.locator('[data-card-stage="present"]').waitFor();
  await shot(page, 'card');
  stack.deviceCommand('swipe declined', 'card-reader');
  await screenIs(page, 'review');
  t.equal(await page.getAttribute('[data-error]', 'data-error'), 'card-declined', 'back at the review, told why');
  await shot(page, 'review-card-declined');
  await page.click('[data-action="card"]');
  await screenIs(page, 'card');
  stack.deviceCommand('swipe visa', 'card-reader');
  await screenIs(page, 'result');
  t.equal(await page.getAttribute('h1', 'data-outcome'), 'paid');
  t.equal(await amount(page, 'card').textContent(), '¥88.00');
  t.equal(await page.locator('[data-amount="inserted"]').count(), 0, 'no cash line for a card payment');
  await shot(page, 'result-card');
  t.match((await status()).lastTransaction, { cardIn: 8800, cashIn: 0, credited: 8800 });
  await page.click('[data-action="done"]');
  await screenIs(page, 'home');
});

t.test('no change and no receipt are told before the customer pays', async (t) => {
  stack.deviceCommand('silent', 'h100');
  stack.deviceCommand('silent', 'h50');
  stack.deviceCommand('paper-out', 'printer');
  await page.locator('[data-notice="no-change"]').waitFor();
  await page.locator('[data-notice="no-receipt"]').waitFor();
  await page.click('[data-action="start-pay"]');
  await screenIs(page, 'number');
  await typeNumber(page, '13500135000');
  await page.click('[data-action="ok"]');
  await screenIs(page, 'review');
  t.ok(await page.isVisible('[data-notice="no-change"]'), 'before confirming');
  t.ok(await page.isVisible('[data-notice="no-receipt"]'));
  await shot(page, 'review-no-change');
  await page.click('[data-action="confirm"]');
  await screenIs(page, 'cash');
  t.ok(await page.isVisible('[data-notice="no-change"]'), 'and while paying');
  await page.click('[data-action="cancel"]');
  await screenIs(page, 'home');
  for (const device of ['h100', 'h50', 'printer']) stack.deviceCommand('clear', device);
  await page.locator('[data-notice]').first().waitFor({ state: 'detached' });
  t.equal(await page.locator('[data-notice]').count(), 0, 'all well again');
});

// Last: the empty hopper stays faulted for the rest of this kiosk's life.
t.test('change the hoppers cannot pay is owed, with a claim code on the fault slip screen', async (t) => {
  stack.deviceCommand('empty', 'h50');
  await toCash(page, '13300133000');
  // 50.00 for 49.50: the 5-jiao hopper turns out empty and 1-yuan coins cannot make 0.50.
  stack.deviceCommand('insert 5000');
  await screenIs(page, 'slip');
  t.ok(await page.isVisible('[data-reason="change-owed"]'));
  t.equal(await amount(page, 'owed').textContent(), '¥0.50');
  const code = await page.textContent('[data-field="claim-code"]');
  t.match(code, /^[A-Z2-9]{4}-[A-Z2-9]{4}$/);
  await shot(page, 'result-claim-code');
  t.match((await status()).lastTransaction, { changeOwed: 50, claimCode: code });
  await page.click('[data-action="done"]');
  await screenIs(page, 'home');
});
