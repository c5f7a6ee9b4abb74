import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { clearLine, createInterface, cursorTo, type Interface } from 'node:readline';
import { DEMO_ACCOUNTS, HOST_MODES } from '../host/server.js';
import { Summariser, refusal, yuan } from './summary.js';
import { DEFAULT_TIME_ZONE, formatTime } from '../../drivers/time.js';
import { SimStack } from '../stack.js';
import { startPanel } from '../panel/server.js';
import { WALLET_BEHAVIOURS } from '../wallet-codes.js';
import type { ControlRequest } from '../../src/control/protocol.js';
import { requestFromWords } from '../../src/control/words.js';

const HELP = `
Act as the customer, the device or the network by typing a line:
  customer  pay | topup | lookup        start a transaction of that service
            number <phone>              enter the phone number (try 13800138000, owes 50.00)
            confirm | done | offline    go on / finish a top-up / top up offline after a failed look-up
            card                        pay the amount due by card instead (at the review)
            mobile code | mobile qr     pay it with a wallet: show a code to the scanner, or the kiosk shows a QR
            cancel
  validator insert <fen> | jam | stacker-full | stacker-open | clear | power-cycle | power-cycle-with-bill
  coins     coin insert <fen>                   a coin: 100 (1 yuan), 50 (5 jiao), 10 (1 jiao)
  hoppers   h100 <cmd> | h50 <cmd>              empty, jam, refill <n>, clear, power-cycle, status
  printer   printer <cmd>                       paper-near-end, paper-out, cover-open, clear, status
  card      card-reader swipe [card]            visa, unionpay, declined, insufficient-funds, auth-timeout, drop-after-approve;
            card-reader <fault>                 garbage, missing-sentinel, bad-lrc, too-fast
  wallet    scanner show [behaviour[/wallet]]   a payment code at the 2D scanner: paid, paid-after-confirm, failed-…, no-answer, …;
            scanner <what>                      unknown, twice, partial, garbage, long, commands answer|silent|ignore, help
            phone pay                           the customer's phone pays the kiosk's QR code shown now
  server    server ok | down | slow | garbage | error | drop-after-store | double-ack
  other     status | transactions | verify | reset (fresh demo bills) | help | quit (or Ctrl-C, Ctrl-D)
The full log is in kiosk.log in the files' folder; the prompt shows one line per event.
`;

/** Like systemd's RestartSec= in systemd/kiosk.service. */
const RESTART_DELAY_MS = 2_000;

export interface EmbeddedOptions {
  /** The management link over MQTT: a Mosquitto on a free port, the reference consumer behind it. */
  mqtt?: boolean;
}

/** `npm start`: the whole simulated kiosk in one terminal. */
export async function runEmbedded(dir: string, opts: EmbeddedOptions = {}): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const logPath = join(dir, 'kiosk.log');
  const logFile = createWriteStream(logPath, { flags: 'a' });
  const summary = new Summariser();
  const out = new PromptOutput();
  /** Device output is shown for a moment after a person typed to that device (its answer), else only logged. */
  const listening = new Map<string, number>();
  // The screen's port is chosen once, so the page reconnects to the same address after a restart.
  const apiPort = await freePort();
  const stack = new SimStack({
    dir,
    hostPort: 0,
    // Fresh demo bills at every start: a bill paid in the last run would make the README's session false.
    accounts: [...DEMO_ACCOUNTS],
    fitted: { coins: true, hoppers: true, printer: true, cardReader: 'keyboard', scanner: 'serial' },
    config: { api: { port: apiPort } },
    ...(opts.mqtt ? { managementTransport: 'mqtt' as const } : {}),
    onRuntimeLog: (e) => {
      logFile.write(JSON.stringify(e) + '\n');
      const line = summary.line(e);
      if (line) out.say(`${clock(e.time)} ${line}`);
    },
    onDeviceLine: (device, line) => {
      logFile.write(JSON.stringify({ time: new Date().toISOString(), device, line }) + '\n');
      if ((listening.get(device) ?? 0) > Date.now() || /^(error|cannot|unknown)/i.test(line)) out.say(`         [${device}] ${line}`);
    },
    onRuntimeDied: ({ code, signal }) => void restart(signal ? `killed by ${signal}` : `exit code ${code}`),
  });
  out.say(`kiosk embedded default: files in ${stack.dir}; the full log (JSON lines, UTC) in ${logPath}`);
  out.say(`times at this prompt and on receipts are ${TIME_ZONE} (${formatTime(new Date(), TIME_ZONE).slice(20)})`);
  await stack.start();
  out.say(`reference server on port ${stack.host.port} (admin ${stack.host.url}); demo accounts reset: 13800138000 owes 50.00, 13900139000 owes 123.50, 13700137000 owes nothing`);
  if (stack.broker) out.say(`management link on MQTT: Mosquitto at ${stack.broker.url} (its files in ${join(stack.dir, 'broker')}), the reference consumer behind it`);
  let stopping = false;
  let closePanel = async () => {};
  const stop = async () => {
    stopping = true;
    await closePanel();
    await stack.stop();
    logFile.end();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());

  /** The runtime died: report it, and start it again after a pause, as systemd's Restart=always does. */
  async function restart(how: string): Promise<void> {
    if (stopping) return;
    out.say(`the kiosk runtime died (${how}); restarting it in ${RESTART_DELAY_MS / 1000} s, as systemd would (Restart=always)`);
    await stack.runtimeExited(5_000).catch(() => undefined);
    await new Promise((r) => setTimeout(r, RESTART_DELAY_MS));
    if (stopping) return;
    try {
      await stack.startRuntime();
      out.say('the kiosk runtime was restarted; recovery closes whatever it left open');
    } catch (err) {
      out.say(`the kiosk runtime did not start again: ${(err as Error).message}; see ${logPath}`);
    }
  }

  const screenUrl = `http://127.0.0.1:${apiPort}/`;
  out.say('starting the kiosk runtime...');
  const placed = stack.waitForLog((e) => typeof e.msg === 'string' && /^terminal (in service|degraded|out of service)/.test(e.msg), 60_000);
  await stack.startRuntime();
  await placed.catch(() => out.say('the kiosk has not placed itself yet; type status to see where it stands'));
  const panel = await startPanel({
    port: 0,
    info: { screenUrl, devices: stack.deviceNames, notes: [100, 500, 1000, 2000, 5000, 10000], coins: [10, 50, 100], walletBehaviours: Object.keys(WALLET_BEHAVIOURS) },
    line: async (line) => {
      const output: string[] = [];
      out.say(`[panel] ${line}`);
      try {
        await handleLine(stack, line, (text) => {
          output.push(text);
          out.say(text);
        }, listening);
        return { ok: true, output };
      } catch (e) {
        output.push(`error: ${(e as Error).message}`);
        return { ok: false, output };
      }
    },
  });
  closePanel = panel.close;
  out.say(HELP);
  out.say(`customer screen:  ${screenUrl}`);
  out.say(`simulator panel:  ${panel.url}   (the screen, with buttons for notes, coins, faults and the server)`);
  out.say('to stop: quit (or Ctrl-C); a new start begins with fresh demo bills; reset does it now\n');

  const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: 'kiosk> ' });
  out.attach(rl);
  rl.prompt();
  rl.on('close', () => void stop());
  rl.on('line', (line) => {
    out.busy = true;
    void handleLine(stack, line.trim(), (text) => console.log(text), listening)
      .then((quit) => {
        if (quit) void stop();
      })
      .catch((e: Error) => console.log(`error: ${e.message}`))
      .finally(() => {
        out.busy = false;
        rl.prompt();
      });
  });
}

/**
 * Prints over the prompt: a line that arrives while the prompt waits is written above it and the
 * prompt, with what was typed so far, is drawn again.
 */
class PromptOutput {
  private rl: Interface | undefined;
  /** A command is being handled: its own output comes first, the prompt after it. */
  busy = false;

  attach(rl: Interface): void {
    this.rl = rl;
  }

  say(text: string): void {
    if (!this.rl || this.busy) {
      console.log(text);
      return;
    }
    if (process.stdout.isTTY) {
      clearLine(process.stdout, 0);
      cursorTo(process.stdout, 0);
      console.log(text);
      this.rl.prompt(true);
    } else {
      console.log(text);
    }
  }
}

/** The kiosk's time zone, as on its receipts (the configuration's `timeZone`). */
const TIME_ZONE = DEFAULT_TIME_ZONE;

/** HH:MM:SS of a log line, in the kiosk's time zone. */
function clock(time: unknown): string {
  return typeof time === 'string' ? formatTime(new Date(time), TIME_ZONE).slice(11, 19) : '        ';
}

/** A free loopback TCP port, chosen once for the screen. */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}

const DEVICE_WORDS = new Set(['insert', 'jam', 'stacker-full', 'stacker-open', 'clear', 'power-cycle', 'power-cycle-with-bill', 'silent', 'garbage', 'failure', 'cheated', 'pause']);

/** One line typed at the prompt or by the panel; true when it asks to quit. */
async function handleLine(stack: SimStack, line: string, print: (text: string) => void, listening: Map<string, number>): Promise<boolean> {
  if (line === '') return false;
  const [word = '', arg] = line.split(/\s+/, 2);
  if (word === 'quit' || word === 'exit') return true;
  if (word === 'help') {
    print(HELP);
    return false;
  }
  if (word === 'reset') {
    await resetDemo(stack);
    print('demo bills reset: 13800138000 owes 50.00, 13900139000 owes 123.50, 13700137000 owes nothing');
    return false;
  }
  if (DEVICE_WORDS.has(word)) {
    stack.deviceCommand(line);
    return false;
  }
  if (stack.deviceNames.includes(word) && word !== 'validator') {
    if (!arg) throw new Error(`${word} needs a command (try '${word} help')`);
    // Its answer to status or help is what was asked for; anything else the runtime's summary says.
    if (arg === 'status' || arg === 'help') listening.set(word, Date.now() + DEVICE_ECHO_MS);
    stack.deviceCommand(line.slice(word.length).trim(), word);
    return false;
  }
  if (word === 'phone') {
    // The customer's phone scans the kiosk's QR and pays the order shown now.
    if (arg !== 'pay') throw new Error("phone needs 'pay' (pays the kiosk's QR code shown now)");
    const order = stack.host.wallet.payments().findLast((p) => p.mode === 'qr' && p.status === 'open');
    if (!order) throw new Error("no QR code of the kiosk's is waiting to be paid (mobile qr at the review shows one)");
    stack.host.wallet.payOrder(order.paymentId);
    print(`the phone paid the kiosk's QR: ${yuan(order.amount)}`);
    return false;
  }
  if (word === 'server') {
    const mode = HOST_MODES.find((m) => m === arg);
    if (!mode) throw new Error(`server needs one of ${HOST_MODES.join(', ')}`);
    stack.host.setMode(mode, 8000);
    print(`reference server is now ${mode}`);
    return false;
  }
  const req = customerRequest(word, arg);
  const res = await stack.control(req);
  if (!res.ok) print(`refused: ${res.error}`);
  else if (word === 'status' || word === 'transactions' || word === 'verify') print(JSON.stringify(res, null, 2));
  else if (STAYING_WORDS.has(word)) {
    // A press the machine refuses leaves it where it was, with the reason in its context: say it.
    const now = await stack.control({ cmd: 'status' });
    const error = now.ok ? (now.transaction as { error?: string | null } | null)?.error : undefined;
    if (error) print(refusal(error));
  }
  return false;
}

/** Customer presses the machine may refuse by staying where it is. */
const STAYING_WORDS = new Set(['confirm', 'card', 'mobile', 'done', 'offline', 'number']);

/** How long a device's own lines are shown after a person typed to it. */
const DEVICE_ECHO_MS = 1_500;

/** Every demo account back to its bill, through the reference server's admin endpoint. */
async function resetDemo(stack: SimStack): Promise<void> {
  for (const account of DEMO_ACCOUNTS) {
    const res = await fetch(`${stack.host.url}/_accounts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(account),
    });
    if (!res.ok) throw new Error(`the reference server refused the reset of ${account.phone}: ${res.status}`);
  }
}

/** The launcher's short words for the customer, on top of the control vocabulary. */
function customerRequest(word: string, arg: string | undefined): ControlRequest {
  if (word === 'pay' || word === 'topup' || word === 'lookup') return requestFromWords('start', word);
  if (word === 'offline') return requestFromWords('topup-offline', undefined);
  return requestFromWords(word, word === 'transactions' ? (arg ?? '10') : arg);
}
