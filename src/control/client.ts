import { connect, type Socket } from 'node:net';
import type { ControlRequest, ControlResponse } from './protocol.js';

/** A connection to a running kiosk's control socket. Requests are answered in order. */
export class ControlClient {
  private buffered = '';
  private waiting: { resolve: (r: ControlResponse) => void; reject: (e: Error) => void }[] = [];

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffered += chunk;
      let nl: number;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        let answer: ControlResponse;
        try {
          answer = JSON.parse(line) as ControlResponse;
        } catch {
          answer = { ok: false, error: 'the service answered something that is not JSON' };
        }
        this.waiting.shift()?.resolve(answer);
      }
    });
    const fail = (e: Error) => {
      for (const w of this.waiting.splice(0)) w.reject(e);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('control connection closed')));
  }

  static connect(path: string): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      socket.once('connect', () => resolve(new ControlClient(socket)));
      socket.once('error', (e) => reject(new Error(`cannot reach the kiosk at ${path}: ${e.message}`)));
    });
  }

  request(req: ControlRequest): Promise<ControlResponse> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.socket.write(JSON.stringify(req) + '\n');
    });
  }

  close(): void {
    this.socket.end();
  }
}

/** One request on a fresh connection. */
export async function controlOnce(path: string, req: ControlRequest): Promise<ControlResponse> {
  const client = await ControlClient.connect(path);
  try {
    return await client.request(req);
  } finally {
    client.close();
  }
}
