import { createInterface } from 'node:readline';
import { HOST_MODES } from '../host/server.js';
import { SimStack } from '../stack.js';
import { startPanel } from '../panel/server.js';
import type { ControlRequest } from '../../src/control/protocol.js';
import { requestFromWords } from '../../src/control/words.js';

const HELP = `
Act as the customer, the device or the network by typing a line:
  customer  pay | topup | lookup        start a transaction of that service
            number <phone>              enter the phone number (try 13800138000, owes 50.00)
            confirm | done | offline    go on / finish a top-up / top up offline after a failed look-up
            card                        pay the amount due by card instead (at the review)
            cancel
  validator insert <fen> | jam | stacker-full | stacker-open | clear | power-cycle | power-cycle-with-bill
  coins     coin insert <fen>                   a coin: 100 (1 yuan), 50 (5 jiao), 10 (1 jiao)
  hoppers   h100 <cmd> | h50 <cmd>              empty, jam, refill <n>, clear, power-cycle, status
  printer   printer <cmd>                       paper-near-end, paper-out, cover-open, clear, status
  card      card-reader swipe [card]            visa, unionpay, declined, insufficient-funds, auth-timeout, drop-after-approve;
            card-reader <fault>                 garbage, missing-sentinel, bad-lrc, too-fast
  server    server ok | down | slow | garbage | error | drop-after-store | double-ack
  other     status | transactions | verify | help | quit
`;

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };

/** `npm start`: the whole simulated kiosk in one terminal. */
export async function runEmbedded(dir: string): Promise<void> {
  const stack = new SimStack({
    dir,
    hostPort: 0,
    fitted: { coins: true, hoppers: true, printer: true, cardReader: 'keyboard' },
    config: { api: { port: 0 } },
    onRuntimeLog: (e) => {
      const time = typeof e.time === 'string' ? e.time.slice(11, 19) : '';
      console.log(`${time} ${LEVELS[Number(e.level)] ?? '     '} kiosk      ${String(e.msg)}${detail(e)}`);
    },
    // The printer answers a status poll every few seconds; those lines would bury everything else.
    onDeviceLine: (device, line) => {
      if (!line.startsWith('status request')) console.log(`         [${device}] ${line}`);
    },
  });
  console.log(`kiosk embedded default: files in ${stack.dir}`);
  await stack.start();
  console.log(`reference server: business link (mutual TLS, certificates in ${stack.pkiDir}) on port ${stack.host.port}, admin on ${stack.host.url}; devices: ${stack.deviceNames.join(', ')}; receipts in ${stack.receiptsDir}`);
  let closePanel = async () => {};
  const stop = async () => {
    await closePanel();
    await stack.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  let screenUrl = '';
  const screenUp = stack.waitForLog((e) => {
    if (e.msg !== 'screen listening') return false;
    screenUrl = String(e.url);
    return true;
  }, 30_000);
  await stack.startRuntime();
  await screenUp;
  const panel = await startPanel({
    port: 0,
    info: { screenUrl, devices: stack.deviceNames, notes: [100, 500, 1000, 2000, 5000, 10000], coins: [10, 50, 100] },
    line: async (line) => {
      const output: string[] = [];
      console.log(`[panel] ${line}`);
      try {
        await handleLine(stack, line, (text) => {
          output.push(text);
          console.log(text);
        });
        return { ok: true, output };
      } catch (e) {
        output.push(`error: ${(e as Error).message}`);
        return { ok: false, output };
      }
    },
  });
  closePanel = panel.close;
  console.log(HELP);
  console.log(`customer screen:  ${screenUrl}`);
  console.log(`simulator panel:  ${panel.url}   (the screen, with buttons for notes, coins, faults and the server)\n`);

  const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: 'kiosk> ' });
  rl.prompt();
  rl.on('line', (line) => {
    void handleLine(stack, line.trim(), (text) => console.log(text))
      .then((quit) => {
        if (quit) void stop();
        else rl.prompt();
      })
      .catch((e: Error) => {
        console.log(`error: ${e.message}`);
        rl.prompt();
      });
  });
}

const DEVICE_WORDS = new Set(['insert', 'jam', 'stacker-full', 'stacker-open', 'clear', 'power-cycle', 'power-cycle-with-bill', 'silent', 'garbage', 'failure', 'cheated', 'pause']);

/** One line typed at the prompt or by the panel; true when it asks to quit. */
async function handleLine(stack: SimStack, line: string, print: (text: string) => void): Promise<boolean> {
  if (line === '') return false;
  const [word = '', arg] = line.split(/\s+/, 2);
  if (word === 'quit' || word === 'exit') return true;
  if (word === 'help') {
    print(HELP);
    return false;
  }
  if (DEVICE_WORDS.has(word)) {
    stack.deviceCommand(line);
    return false;
  }
  if (stack.deviceNames.includes(word) && word !== 'validator') {
    if (!arg) throw new Error(`${word} needs a command (try '${word} help')`);
    stack.deviceCommand(line.slice(word.length).trim(), word);
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
  return false;
}

/** The launcher's short words for the customer, on top of the control vocabulary. */
function customerRequest(word: string, arg: string | undefined): ControlRequest {
  if (word === 'pay' || word === 'topup' || word === 'lookup') return requestFromWords('start', word);
  if (word === 'offline') return requestFromWords('topup-offline', undefined);
  return requestFromWords(word, word === 'transactions' ? (arg ?? '10') : arg);
}

function detail(e: Record<string, unknown>): string {
  const skip = new Set(['level', 'time', 'msg', 'name', 'pid', 'hostname', 'device', 'part']);
  const rest = Object.entries(e).filter(([k]) => !skip.has(k));
  return rest.length === 0 ? '' : `  ${rest.map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ')}`;
}
