import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { notLocal, readJson, sendJson, serveStatic, uiDir } from '../../src/api/http.js';

/** What the panel page needs to draw its buttons. */
export interface PanelInfo {
  screenUrl: string;
  /** Emulated devices by the launcher's names: validator, coin, h100, h50, printer. */
  devices: string[];
  notes: number[];
  coins: number[];
  /** The reference gateway's behaviours a test wallet code can ask for (hw-sim/wallet-codes.ts), when a scanner is fitted. */
  walletBehaviours?: string[];
}

export interface PanelOptions {
  port: number;
  info: PanelInfo;
  /** Runs one launcher line (as typed at the kiosk> prompt); resolves with what it printed. */
  line: (line: string) => Promise<{ ok: boolean; output: string[] }>;
  /** The built panel page (panel.html, panel.js, …); dist/panel of this checkout by default. */
  staticDir?: string;
}

const lineBody = z.object({ line: z.string().min(1).max(200) }).strict();

/**
 * The simulator panel of the embedded default, on 127.0.0.1: the customer's screen in a frame and
 * buttons that act as the devices and the network by typing the launcher's own lines.
 */
export async function startPanel(opts: PanelOptions): Promise<{ url: string; close(): Promise<void> }> {
  const dir = opts.staticDir ?? join(dirname(uiDir()), 'panel');
  // The page imports the screen's own modules (dom.js, format.js) as its neighbours, as its
  // tsconfig's rootDirs does when type-checking; the screen's folder fills in what the panel's lacks.
  const shared = uiDir();
  const server = createServer((req, res) => {
    handle(req, res).catch((e: Error) => {
      if (!res.headersSent) sendJson(res, 500, { ok: false, error: e.message });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const refused = notLocal(req);
    if (refused) return sendJson(res, 403, { ok: false, error: refused });
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/panel/info' && req.method === 'GET') return sendJson(res, 200, opts.info);
    if (path === '/panel/line' && req.method === 'POST') {
      if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) return sendJson(res, 415, { ok: false, error: 'send application/json' });
      const parsed = lineBody.safeParse(await readJson(req).catch(() => null));
      if (!parsed.success) return sendJson(res, 400, { ok: false, error: 'send { line }' });
      const line = parsed.data.line.trim();
      // The browser may act as every device and the customer, but stopping the kiosk stays with
      // the person at the terminal.
      if (/^(quit|exit)\b/.test(line)) return sendJson(res, 403, { ok: false, error: 'quit only from the terminal' });
      return sendJson(res, 200, await opts.line(line));
    }
    const frame = `frame-src ${new URL(opts.info.screenUrl).origin}`;
    const headers = { 'content-security-policy': `default-src 'self'; ${frame}; base-uri 'none'; form-action 'none'` };
    if (req.method === 'GET' && (serveStatic(res, dir, path, 'panel.html', headers) || serveStatic(res, shared, path, 'panel.html', headers))) return;
    sendJson(res, 404, { ok: false, error: `nothing at ${path}` });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
