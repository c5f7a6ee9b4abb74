import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Frame, type Page } from 'playwright-core';
import type { Test } from 'tap';

/** Debian's Chromium; scripts/system-deps.sh installs it for the tests. */
export const CHROMIUM = '/usr/bin/chromium';
export const SCREENS_DIR = join(process.cwd(), 'test-artifacts', 'screens');
/** Generous: the machine running the tests may be busy. */
export const SCREEN_TIMEOUT = 30_000;

/** A headless Chromium with a fresh profile and no network of its own; closed at teardown. */
export async function openBrowser(t: Test, viewport = { width: 1024, height: 768 }): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run 'bash scripts/system-deps.sh tests' (Debian package chromium)`);
  const profile = mkdtempSync(join(tmpdir(), 'kiosk-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  context.setDefaultTimeout(SCREEN_TIMEOUT);
  t.teardown(async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  });
  return context;
}

export async function firstPage(context: BrowserContext): Promise<Page> {
  return context.pages()[0] ?? (await context.newPage());
}

/** Waits until the screen shows `name` (main[data-screen]). */
export async function screenIs(where: Page | Frame, name: string): Promise<void> {
  await where.locator(`main[data-screen="${name}"]`).waitFor({ state: 'attached' });
}

export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENS_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENS_DIR, `${name}.png`) });
}
