/**
 * The central side of a fleet run: instances of the reference management consumer, each in its
 * own child process (central-entry.ts), all storing into one SQLite file. One can be killed
 * (SIGKILL: nothing more stored, its broker session and what is queued in it stay) and started
 * again with the same instance name, so it takes its session back.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { devPkiPaths, issueClientCert } from '../pki/dev-pki.js';
import type { CentralReply, CentralRequest } from './central-entry.js';

export interface CentralSide {
  /** The consumers' shared database. */
  dbPath: string;
  /** Queues a command for a terminal through a running consumer, which publishes it; resolves with its id. */
  sendCommand(terminalId: string): Promise<string>;
  kill(i: number): Promise<void>;
  restart(i: number): Promise<void>;
  pids(): number[];
  /** Messages a consumer refused (logged 'message refused'), with up to 5 of the reasons. */
  refused(): { count: number; examples: string[] };
  stop(): Promise<void>;
}

const entry = fileURLToPath(new URL('./central-entry.js', import.meta.url));

export async function startCentral(o: { url: string; pkiDir: string; dir: string; instances: number }): Promise<CentralSide> {
  mkdirSync(o.dir, { recursive: true });
  const dbPath = join(o.dir, 'central.db');
  const pki = devPkiPaths(o.pkiDir);
  const id = await issueClientCert(o.pkiDir, 'kiosk-central');
  const children: (ChildProcess | undefined)[] = [];
  const waiting = new Map<number, { resolve: (id: string) => void; reject: (e: Error) => void }>();
  let asks = 0;
  const refused = { count: 0, examples: [] as string[] };

  async function launch(i: number): Promise<void> {
    const child = fork(entry, [o.url, dbPath, pki.ca, id.cert, id.key, `fleet-${i + 1}`], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      const text = d.toString();
      err = (err + text).slice(-4000);
      for (const line of text.split('\n').filter((l) => l.includes('message refused'))) {
        refused.count += 1;
        if (refused.examples.length < 5) refused.examples.push(line.trim().slice(0, 300));
      }
    });
    child.on('message', (m: CentralReply) => {
      if (!('ask' in m)) return;
      const w = waiting.get(m.ask);
      waiting.delete(m.ask);
      if ('id' in m) w?.resolve(m.id);
      else w?.reject(new Error(m.error));
    });
    children[i] = child;
    const ready = once(child, 'message');
    const exited = once(child, 'exit').then(() => {
      throw new Error(`consumer ${i + 1} exited at start: ${err}`);
    });
    await Promise.race([ready, exited]);
    exited.catch(() => undefined);
    child.once('exit', () => {
      if (children[i] === child) children[i] = undefined;
    });
  }

  for (let i = 0; i < o.instances; i++) await launch(i);

  const stopChild = async (child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exit = once(child, 'exit');
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exit;
    clearTimeout(timer);
  };

  return {
    dbPath,
    sendCommand(terminalId) {
      // The last instance is never the one killed: it takes every command.
      const child = [...children].reverse().find((c) => c !== undefined);
      if (!child) return Promise.reject(new Error('no consumer running'));
      const ask = ++asks;
      return new Promise((resolve, reject) => {
        waiting.set(ask, { resolve, reject });
        child.send({ ask, terminalId } satisfies CentralRequest);
      });
    },
    async kill(i) {
      await stopChild(children[i], 'SIGKILL');
    },
    async restart(i) {
      if (!children[i]) await launch(i);
    },
    refused: () => refused,
    pids: () => children.flatMap((c) => (c?.pid !== undefined ? [c.pid] : [])),
    async stop() {
      await Promise.all(children.map((c) => stopChild(c, 'SIGTERM')));
    },
  };
}
