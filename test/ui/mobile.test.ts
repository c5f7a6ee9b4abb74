import t from 'tap';
import { screenIs, shot } from './browser.js';
import { toReview, walletScreen } from './wallet-screen.js';

// The wallet screens in a real Chromium against the real runtime process and the reference
// gateway: the kiosk's QR code shown with its count-down, paid by the phone; one left to expire.
// The subtests share one kiosk and run in order. Screenshots go to test-artifacts/screens/.
// The payment-code screens are in mobile-code.test.ts.

t.setTimeout(400_000);

const { stack, page } = await walletScreen(t, { name: 'mobile', fitted: {}, timeouts: { mobileQrMs: 8000 } });

function openOrder(txnWithPhoneAmount: number): string {
  const order = stack.host.wallet.payments().find((p) => p.mode === 'qr' && p.status === 'open' && p.amount === txnWithPhoneAmount);
  if (!order) throw new Error('no open order');
  return order.paymentId;
}

t.test('the kiosk QR: shown with a count-down, paid by the phone, the result says paid by wallet', async (t) => {
  await toReview(page, '13800138000');
  t.equal(await page.locator('[data-action="mobile-qr"]').count(), 1, 'the QR is offered at the review');
  t.equal(await page.locator('[data-action="mobile-code"]').count(), 0, 'no scanner fitted: no payment code offered');
  await page.click('[data-action="mobile-qr"]');
  await screenIs(page, 'mobile');
  const qr = page.locator('img[data-field="qr"]');
  await qr.waitFor();
  t.match(await qr.getAttribute('src'), /^data:image\/svg\+xml;base64,/);
  t.ok(await page.locator('#countdown').isVisible(), 'the count-down runs');
  t.match(await page.locator('[data-mobile-stage="scan-qr"]').textContent(), /扫描二维码/);
  await shot(page, 'mobile-qr-zh');
  await page.click('#lang');
  await page.locator('[data-mobile-stage="scan-qr"]', { hasText: 'Scan this QR code' }).waitFor();
  await shot(page, 'mobile-qr-en');
  stack.host.wallet.payOrder(openOrder(5000));
  await screenIs(page, 'result');
  t.equal(await page.locator('[data-outcome]').getAttribute('data-outcome'), 'paid');
  t.match(await page.locator('[data-amount="mobile"] .value').textContent(), /50\.00/);
  await shot(page, 'mobile-qr-paid');
  await page.click('[data-action="done"]');
  t.ok(stack.host.wallet.balance().every((b) => b.ok), 'the gateway balance holds');
});

t.test('the kiosk QR left to expire: the order is closed and nothing is charged', async (t) => {
  await toReview(page, '13300133000');
  await page.click('[data-action="mobile-qr"]');
  await page.locator('img[data-field="qr"]').waitFor();
  await screenIs(page, 'result');
  t.equal(await page.locator('[data-outcome]').getAttribute('data-outcome'), 'mobile-revoked');
  await shot(page, 'mobile-qr-expired');
  await page.click('[data-action="done"]');
});
