/**
 * Downloads for tuf-js over the management server's mutual TLS. A target (the bundle) is written to
 * a part file that outlives the process: a dropped connection, or a restart of the kiosk, goes on
 * from the bytes already there with an HTTP Range request. The rate is capped so an update does not
 * crowd out the payments sharing a slow line. tuf-js checks the length and the hashes afterwards.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { request } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { DownloadHTTPError } from 'tuf-js/dist/error.js';
import { clientTlsOptions, type TlsMaterial } from '../tls/material.js';

export interface LinkFetcherOptions {
  tls: TlsMaterial;
  /** The name the server's certificate must carry. */
  serverName: string;
  /** Where the part files of downloads under way are kept. */
  partDir: string;
  /** Bytes per second; absent: as fast as the line goes. */
  bytesPerSec?: number | undefined;
  timeoutMs: number;
  /** Reconnections after a dropped connection before the download fails (it resumes at the next attempt). */
  retries: number;
  onProgress?: (bytes: number, total: number) => void;
  signal?: AbortSignal;
}

/** The shape tuf-js's Updater takes as its `fetcher`. */
export interface Fetcher {
  downloadFile<T>(url: string, maxLength: number, handler: (file: string) => Promise<T>): Promise<T>;
  downloadBytes(url: string, maxLength: number): Promise<Buffer>;
}

export class DownloadError extends Error {
  override readonly name = 'DownloadError';
}

export class LinkFetcher implements Fetcher {
  constructor(private readonly o: LinkFetcherOptions) {
    mkdirSync(o.partDir, { recursive: true });
  }

  /** The part file of a URL: stable, so a restarted kiosk finds what it had. */
  partFile(url: string): string {
    return join(this.o.partDir, `${createHash('sha256').update(url).digest('hex').slice(0, 32)}.part`);
  }

  async downloadBytes(url: string, maxLength: number): Promise<Buffer> {
    const res = await this.get(url, 0);
    if (res.statusCode !== 200) {
      res.resume();
      // tuf-js's own class: a 404 for the next root version is how it learns there is none.
      throw new DownloadHTTPError(`${url}: HTTP ${res.statusCode}`, res.statusCode ?? 0);
    }
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const chunk of res as AsyncIterable<Buffer>) {
      n += chunk.length;
      if (n > maxLength) {
        res.destroy();
        throw new DownloadError(`${url}: longer than the ${maxLength} bytes allowed`);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  }

  async downloadFile<T>(url: string, maxLength: number, handler: (file: string) => Promise<T>): Promise<T> {
    const part = this.partFile(url);
    let failures = 0;
    for (;;) {
      this.o.signal?.throwIfAborted();
      const have = existsSync(part) ? statSync(part).size : 0;
      if (have > maxLength) truncateSync(part, 0);
      if (have === maxLength) break;
      try {
        await this.fetchInto(url, part, have, maxLength);
        if (statSync(part).size === maxLength) break;
      } catch (e) {
        if (e instanceof DownloadError || this.o.signal?.aborted || ++failures > this.o.retries) throw e;
        await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** failures, 5000)));
      }
    }
    try {
      return await handler(part);
    } finally {
      // Whether it verified or not, these bytes are done with: a bad file is fetched afresh.
      rmSync(part, { force: true });
    }
  }

  private async fetchInto(url: string, part: string, from: number, maxLength: number): Promise<void> {
    const res = await this.get(url, from);
    if (res.statusCode === 416) {
      res.resume();
      truncateSync(part, 0);
      return;
    }
    if (res.statusCode !== 200 && res.statusCode !== 206) {
      res.resume();
      throw new DownloadError(`${url}: HTTP ${res.statusCode}`);
    }
    // A server that ignores Range sends it all again from the start.
    const start = res.statusCode === 206 ? from : 0;
    const out = createWriteStream(part, { flags: start === 0 ? 'w' : 'a' });
    const began = Date.now();
    let got = 0;
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        if (start + got + chunk.length > maxLength) throw new DownloadError(`${url}: longer than the ${maxLength} bytes the signed metadata gives`);
        await new Promise<void>((resolve, reject) => out.write(chunk, (e) => (e ? reject(e) : resolve())));
        got += chunk.length;
        this.o.onProgress?.(start + got, maxLength);
        await this.pace(got, began);
      }
      if (!res.complete) throw new Error('connection closed before the end of the answer');
    } finally {
      await new Promise<void>((resolve) => out.end(resolve));
    }
  }

  /** Sleeps while the bytes received run ahead of the cap. */
  private async pace(bytes: number, began: number): Promise<void> {
    const rate = this.o.bytesPerSec;
    if (!rate) return;
    const ahead = (bytes / rate) * 1000 - (Date.now() - began);
    if (ahead > 5) await new Promise((r) => setTimeout(r, ahead));
  }

  private get(url: string, from: number): Promise<IncomingMessage> {
    const u = new URL(url);
    if (u.protocol !== 'https:') return Promise.reject(new DownloadError(`${url}: only https is used for updates`));
    return new Promise((resolve, reject) => {
      const req = request(
        {
          ...clientTlsOptions(this.o.tls, this.o.serverName),
          host: u.hostname,
          port: u.port || 443,
          path: u.pathname + u.search,
          method: 'GET',
          agent: false,
          headers: from > 0 ? { range: `bytes=${from}-` } : {},
          ...(this.o.signal ? { signal: this.o.signal } : {}),
        },
        resolve,
      );
      req.setTimeout(this.o.timeoutMs, () => req.destroy(new Error(`no answer within ${this.o.timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
  }
}
