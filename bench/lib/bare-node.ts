import { spawn } from 'node:child_process';

/** Milliseconds from spawning `node -e 0` to its exit: the floor under any Node program's start. */
export function bareNodeStartMs(): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`node -e 0 exited with ${code}`))));
  });
}

/** The resident set of a Node process that loaded nothing, in bytes (as it reports itself). */
export function bareNodeRssBytes(): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    const child = spawn(process.execPath, ['-e', 'process.stdout.write(String(process.memoryUsage().rss))'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(Number(out)) : reject(new Error(`node exited with ${code}`))));
  });
}
