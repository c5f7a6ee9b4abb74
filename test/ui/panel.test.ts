import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import t from 'tap';
import { controlOnce } from '../../src/control/client.js';
import { firstPage, openBrowser, shot } from './browser.js';
import { WALLET_BEHAVIOURS } from '../../hw-sim/wallet-codes.js';

// `kiosk-sim start` (what `npm start` runs) as a newcomer uses it: it prints the screen's and the
// panel's addresses, and a payment can be made in the browser alone, the panel's buttons
// standing in for the customer's hand at the validator.

const dir = mkdtempSync(join(tmpdir(), 'kiosk-panel-'));
const child = spawn(process.execPath, ['dist/hw-sim/cli.js', 'start', '--dir', dir], { stdio: ['pipe', 'pipe', 'inherit'] });
const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
t.teardown(async () => {
  if (child.exitCode === null) {
    child.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

const lines: string[] = [];
const waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
createInterface({ input: child.stdout! }).on('line', (line) => {
  lines.push(line);
  for (const w of waiters.splice(0)) {
    const m = line.match(w.re);
    if (m) w.resolve(m);
    else waiters.push(w);
  }
});
function printed(re: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
  for (const line of lines) {
    const m = line.match(re);
    if (m) return Promise.resolve(m);
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kiosk-sim start never printed ${re}`)), timeoutMs);
    waiters.push({ re, resolve: (m) => (clearTimeout(timer), resolve(m)) });
  });
}

const screenUrl = (await printed(/^customer screen:\s+(http:\/\/127\.0\.0\.1:\d+\/)/))[1]!;
const panelUrl = (await printed(/^simulator panel:\s+(http:\/\/127\.0\.0\.1:\d+\/)/))[1]!;
await printed(/terminal in service/);

const page = await firstPage(await openBrowser(t, { width: 1400, height: 800 }));
const screen = page.frameLocator('#screen');
const onScreen = (name: string) => screen.locator(`main[data-screen="${name}"]`).waitFor({ state: 'attached' });

t.test('the panel shows the screen and pays a bill with its buttons', async (t) => {
  await page.goto(panelUrl);
  // The panel's script sets the frame's address once it has asked the simulator for it.
  await page.waitForSelector('#screen[src]', { state: 'attached' });
  t.equal(await page.getAttribute('#screen', 'src'), screenUrl, 'the screen printed by kiosk-sim start');
  await onScreen('home');
  await screen.locator('[data-action="start-pay"]').click();
  for (const d of '13800138000') await screen.locator(`[data-key="${d}"]`).click();
  await screen.locator('[data-action="ok"]').click();
  await onScreen('review');
  await screen.locator('[data-action="confirm"]').click();
  await onScreen('cash');
  const deadline = Date.now() + 30_000;
  for (;;) {
    const st = await controlOnce(join(dir, 'kiosk.sock'), { cmd: 'status' });
    if (st.ok && (st.validator as { accepting: boolean }).accepting) break;
    if (Date.now() > deadline) throw new Error('the validator never opened');
    await new Promise((r) => setTimeout(r, 100));
  }
  await page.click('button[data-line="insert 5000"]');
  await onScreen('result');
  t.equal(await screen.locator('h1').getAttribute('data-outcome'), 'paid');
  t.match(await page.textContent('#log'), '> insert 5000');
  await shot(page, 'panel');
  await screen.locator('[data-action="done"]').click();
  await onScreen('home');
});

t.test('the panel injects a validator fault and clears it', async (t) => {
  await page.click('button[data-line="stacker-open"]');
  await onScreen('outOfService');
  await page.click('button[data-line="clear"]');
  await onScreen('home');
  t.ok(await page.isVisible('text=swipe visa'), 'the card reader can be swiped from the panel');
});

t.test('the panel pays a bill by card: the reader is swiped from its button', async (t) => {
  await screen.locator('[data-action="start-pay"]').click();
  await onScreen('number');
  for (const d of '13900139000') await screen.locator(`[data-key="${d}"]`).click();
  await screen.locator('[data-action="ok"]').click();
  await onScreen('review');
  await screen.locator('[data-action="card"]').click();
  await onScreen('card');
  await screen.locator('[data-card-stage="present"]').waitFor();
  await page.click('button[data-line="card-reader swipe visa"]');
  await onScreen('result');
  t.equal(await screen.locator('h1').getAttribute('data-outcome'), 'paid');
  t.match(await screen.locator('[data-amount="card"]').textContent(), '123.50', 'the amount paid by card');
  await shot(page, 'panel-card');
  await screen.locator('[data-action="done"]').click();
  await onScreen('home');
});

t.test('the panel pays a bill with a wallet code: the wallet chosen on the screen, the code shown from its button', async (t) => {
  child.stdin!.write('reset\n');
  await printed(/demo bills reset/);
  await screen.locator('[data-action="start-pay"]').click();
  await onScreen('number');
  for (const d of '13800138000') await screen.locator(`[data-key="${d}"]`).click();
  await screen.locator('[data-action="ok"]').click();
  await onScreen('review');
  await screen.locator('[data-action="mobile-code"]').click();
  await onScreen('mobile');
  await screen.locator('[data-mobile-stage="show-code"]').waitFor();
  await page.click('button[data-line="scanner show paid"]');
  await onScreen('result');
  t.equal(await screen.locator('h1').getAttribute('data-outcome'), 'paid');
  t.match(await screen.locator('[data-amount="mobile"]').textContent(), '50.00', 'the amount paid by the wallet');
  await shot(page, 'panel-wallet');
  await screen.locator('[data-action="done"]').click();
  await onScreen('home');
});

t.test('the panel shows a wallet code of each behaviour through the scanner emulator, never a whole code in the log', async (t) => {
  const want = [...Object.keys(WALLET_BEHAVIOURS).map((b) => `scanner show ${b}`), 'scanner unknown', 'scanner garbage', 'scanner partial'];
  const lines = await page.locator('section:has(h2:text("Wallet code")) button').evaluateAll((bs) => bs.map((b) => b.getAttribute('data-line')));
  t.same(lines, want, 'one button per gateway behaviour, then unknown wallet, garbage and partial');
  const log = join(dir, 'kiosk.log');
  const scannerLines = () =>
    readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"device":"scanner"'));
  const before = scannerLines().length;
  await page.click('button[data-line="scanner show paid-after-confirm"]');
  await page.click('button[data-line="scanner unknown"]');
  t.match(await page.textContent('#log'), '> scanner unknown');
  // No payment wants a code now: the serial scanner was told to stop reading, so it holds the codes and gives up.
  const deadline = Date.now() + 20_000;
  while (scannerLines().slice(before).filter((l) => l.includes('not read: ')).length < 2) {
    if (Date.now() > deadline) throw new Error(`the scanner emulator never reported the codes: ${scannerLines().slice(before).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const said = scannerLines().slice(before).join('\n');
  t.match(said, /13\*{12}\d{4} \(paid-after-confirm, wechat\)/, 'the code of that behaviour and wallet, masked');
  t.match(said, /99\*{12}\d{4} \(paid, unknown\)/, 'the code of an unknown wallet, masked');
  const leaks = readFileSync(log, 'utf8').match(/(?<!\d)(1[0-5]|2[5-9]|30|62|99)\d{16}(?!\d)/g) ?? [];
  t.same(leaks, [], 'no 18-digit code anywhere in the launcher log');
});

t.test('the panel cannot stop the kiosk, and only loopback pages may use it', async (t) => {
  const post = (line: string, headers: Record<string, string> = {}) =>
    fetch(`${panelUrl}panel/line`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ line }) });
  t.equal((await post('quit')).status, 403);
  t.equal((await post('server ok', { origin: 'http://attacker.example' })).status, 403);
  const ok = await post('server ok');
  t.equal(ok.status, 200);
  t.same(await ok.json(), { ok: true, output: ['reference server is now ok'] });
  t.equal(child.exitCode, null, 'still running');
});

t.test('quit at the terminal stops everything', async (t) => {
  child.stdin!.write('quit\n');
  t.equal(await exited, 0);
});
