import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Frame, type Page } from 'playwright-core';
import type { Test } from 'tap';
import { CHROMIUM, CHROMIUM_ARGS, sharedBrowserFile } from './chromium.mjs';

export { CHROMIUM };
export const SCREENS_DIR = join(process.cwd(), 'test-artifacts', 'screens');
/** Generous: the machine running the tests may be busy. */
export const SCREEN_TIMEOUT = 30_000;

/** The endpoint of the Chromium this tap run shares (test/run-before.mjs), if there is one. */
function sharedEndpoint(): string | undefined {
  const file = sharedBrowserFile(process.cwd(), process.ppid);
  if (!existsSync(file)) return undefined;
  return (JSON.parse(readFileSync(file, 'utf8')) as { wsEndpoint: string }).wsEndpoint;
}

/**
 * A headless Chromium context with a fresh profile and no network of its own; closed at teardown.
 * Under `tap` it is a new context in the run's shared browser (starting Chromium once per run, not
 * once per file); a file run on its own, or a shared browser that does not answer, launches its own.
 */
export async function openBrowser(t: Test, viewport = { width: 1024, height: 768 }): Promise<BrowserContext> {
  const endpoint = sharedEndpoint();
  if (endpoint) {
    const browser = await chromium.connect(endpoint, { timeout: SCREEN_TIMEOUT }).catch(() => undefined);
    if (browser) {
      const context = await browser.newContext({ viewport });
      context.setDefaultTimeout(SCREEN_TIMEOUT);
      // Closing a connected browser closes its contexts and disconnects; the server goes on.
      t.teardown(() => browser.close());
      return context;
    }
  }
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run 'bash scripts/system-deps.sh tests' (Debian package chromium)`);
  const profile = mkdtempSync(join(tmpdir(), 'kiosk-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: CHROMIUM_ARGS,
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
