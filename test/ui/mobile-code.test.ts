import t from 'tap';
import { screenIs, shot } from './browser.js';
import { toReview, walletScreen } from './wallet-screen.js';

// The payment-code screens in a real Chromium against the real runtime process, the scanner
// emulator in keyboard mode and the reference gateway: show your code (with where the scanner
// is), confirm on your phone, paid; a refused code back at the review with its reason.
// Screenshots go to test-artifacts/screens/.

t.setTimeout(400_000);

const { stack, page } = await walletScreen(t, { name: 'code', fitted: { scanner: 'keyboard' }, timeouts: { mobileQueryLimitMs: 20_000 } });

t.test('show your code, confirm on your phone, paid', async (t) => {
  stack.host.wallet.confirmMs = 2500;
  await toReview(page, '13800138000');
  await page.click('[data-action="mobile-code"]');
  await screenIs(page, 'mobile');
  await page.locator('[data-mobile-stage="show-code"]').waitFor();
  t.ok(await page.locator('img[data-field="scanner-picture"]').isVisible(), 'a picture of where the scanner is');
  await shot(page, 'mobile-show-code-zh');
  stack.deviceCommand('show paid-after-confirm', 'scanner');
  await page.locator('[data-mobile-stage="confirming"]').waitFor();
  t.match(await page.locator('[data-field="masked-code"]').textContent(), /^13\*{12}\d{4}$/, 'the masked code only');
  await shot(page, 'mobile-confirming-zh');
  await screenIs(page, 'result');
  t.equal(await page.locator('[data-outcome]').getAttribute('data-outcome'), 'paid');
  t.match(await page.locator('[data-amount="mobile"] .value').textContent(), /50\.00/);
  await shot(page, 'mobile-code-paid');
  await page.click('[data-action="done"]');
});

t.test('a refused code: back at the review with the reason, in English too', async (t) => {
  await toReview(page, '13300133000');
  await page.click('#lang');
  await page.click('[data-action="mobile-code"]');
  await page.locator('[data-mobile-stage="show-code"]', { hasText: 'payment code' }).waitFor();
  await shot(page, 'mobile-show-code-en');
  stack.deviceCommand('show failed-insufficient-balance', 'scanner');
  await screenIs(page, 'review');
  t.equal(await page.locator('[data-error]').getAttribute('data-error'), 'mobile-failed');
  t.match(await page.locator('[data-field="mobile-reason"]').textContent(), /Insufficient balance/);
  await shot(page, 'mobile-failed-en');
  await page.click('[data-action="cancel"]');
  await page.click('#lang');
});
