import { h } from './dom.js';
import { faceValue } from './format.js';

interface PanelInfo {
  screenUrl: string;
  devices: string[];
  notes: number[];
  coins: number[];
  walletBehaviours?: string[];
}

type Button = { label: string; line: string; kind?: 'money' | 'fault' };

const log = document.getElementById('log') as HTMLElement;

async function type(line: string): Promise<void> {
  log.textContent = `> ${line}`;
  try {
    const res = await fetch('/panel/line', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ line }) });
    const body = (await res.json()) as { ok: boolean; output?: string[]; error?: string };
    log.textContent = [`> ${line}`, ...(body.output ?? []), ...(body.error ? [`error: ${body.error}`] : [])].join('\n');
  } catch (e) {
    log.textContent = `> ${line}\nthe launcher does not answer (${String(e)})`;
  }
}

function group(title: string, buttons: Button[]): HTMLElement {
  return h(
    'section',
    {},
    h('h2', {}, title),
    h('div', { class: 'buttons' }, ...buttons.map((b) => h('button', { type: 'button', class: b.kind ?? '', 'data-line': b.line, click: () => void type(b.line) }, b.label))),
  );
}

const faults = (device: string, words: string[]): Button[] => words.map((w) => ({ label: w, line: `${device} ${w}`, kind: w === 'clear' || w.startsWith('refill') ? undefined : 'fault' }));

async function start(): Promise<void> {
  const info = (await (await fetch('/panel/info')).json()) as PanelInfo;
  (document.getElementById('screen') as HTMLIFrameElement).src = info.screenUrl;
  const groups = document.getElementById('groups') as HTMLElement;
  const has = (d: string) => info.devices.includes(d);
  groups.append(
    group('Banknotes 纸币', info.notes.map((n) => ({ label: faceValue(n), line: `insert ${n}`, kind: 'money' }))),
    ...(has('coin') ? [group('Coins 硬币', info.coins.map((n) => ({ label: faceValue(n), line: `coin insert ${n}`, kind: 'money' })))] : []),
    group('Bill validator 纸币器', ['jam', 'stacker-open', 'stacker-full', 'power-cycle', 'clear'].map((w) => ({ label: w, line: w, kind: w === 'clear' ? undefined : 'fault' }))),
    ...info.devices.filter((d) => /^h\d+$/.test(d)).map((d) => group(`Hopper ${d} 找零器`, faults(d, ['empty', 'jam', 'refill 200', 'clear']))),
    ...(has('printer') ? [group('Printer 打印机', faults('printer', ['paper-near-end', 'paper-out', 'cover-open', 'clear']))] : []),
    group('Central server 服务器', ['ok', 'down', 'slow', 'garbage'].map((m) => ({ label: m, line: `server ${m}`, kind: m === 'ok' ? undefined : 'fault' }))),
    ...(has('card-reader')
      ? [
          group('Card reader 刷卡器', [
            ...['visa', 'unionpay', 'declined', 'auth-timeout', 'drop-after-approve'].map((c): Button => ({ label: `swipe ${c}`, line: `card-reader swipe ${c}`, kind: 'money' })),
            ...faults('card-reader', ['garbage', 'too-fast']),
          ]),
        ]
      : []),
    ...(has('scanner')
      ? [
          group('Wallet code 付款码', [
            ...(info.walletBehaviours ?? ['paid']).map((b): Button => ({ label: b, line: `scanner show ${b}`, kind: 'money' })),
            { label: 'unknown wallet', line: 'scanner unknown', kind: 'fault' },
            ...faults('scanner', ['garbage', 'partial']),
          ]),
        ]
      : []),
    ...(has('zvt') ? [group('Payment terminal 支付终端', faults('zvt', ['approve', 'decline', 'timeout', 'silent-after-pin']).map((b) => (b.line === 'zvt approve' ? { ...b, kind: undefined } : b)))] : []),
  );
}

void start();
