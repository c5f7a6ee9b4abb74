// What the wallet screens' browser tests share: one kiosk (the real runtime process with the
// reference gateway) whose screen is open in a real Chromium, and the way to its review.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { Test } from 'tap';
import { SimStack, type Fitted } from '../../hw-sim/stack.js';
import { firstPage, openBrowser, screenIs } from './browser.js';

export async function walletScreen(
  t: Test,
  o: { name: string; fitted: Partial<Fitted>; timeouts: Record<string, number> },
): Promise<{ stack: SimStack; page: Page }> {
  const dir = mkdtempSync(join(tmpdir(), `kiosk-ui-${o.name}-`));
  const stack = new SimStack({
    dir,
    fitted: o.fitted,
    accounts: [
      { phone: '13800138000', amountDue: 5000, holder: 'Zhang San' },
      { phone: '13300133000', amountDue: 4950, holder: 'Zhou Ba' },
    ],
    config: { api: { port: 0 }, timeouts: { inputMs: 30_000, lookupMs: 10_000, cashMs: 20_000, mobileQueryIntervalMs: 500, ...o.timeouts } },
  });
  t.teardown(async () => {
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await stack.start();
  const screenUrl = await stack.startRuntimeWithScreen();
  const page = await firstPage(await openBrowser(t));
  await page.goto(screenUrl);
  return { stack, page };
}

export async function toReview(page: Page, phone: string): Promise<void> {
  await screenIs(page, 'home');
  await page.click('[data-action="start-pay"]');
  await screenIs(page, 'number');
  for (const d of phone) await page.click(`[data-key="${d}"]`);
  await page.click('[data-action="ok"]');
  await screenIs(page, 'review');
}
