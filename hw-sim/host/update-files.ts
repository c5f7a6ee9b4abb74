/**
 * The update repository as the reference management server serves it: GET /v1/updates/<path> from
 * a folder made by `kiosk-sim release publish` (metadata/ and targets/), over the same mutual TLS as
 * the rest of the management link, with HTTP Range so a kiosk resumes a dropped download. A test
 * fault cuts the connection after some bytes of a target, once per setting.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, normalize, sep } from 'node:path';

export interface UpdateFileFaults {
  /** Cut the connection after this many bytes of the next target download. */
  dropAfterBytes?: number;
}

export class UpdateFiles {
  private faults: UpdateFileFaults = {};
  /** Target requests seen: how many, and the Range each asked for (tests read it). */
  readonly requests: { path: string; range: string | null }[] = [];

  constructor(private readonly dir: string) {}

  setFaults(f: UpdateFileFaults): void {
    this.faults = { ...f };
  }

  /** Serves `rest` (the path after /v1/updates/); false when there is no such file. */
  serve(req: IncomingMessage, res: ServerResponse, rest: string): boolean {
    const path = normalize(join(this.dir, rest));
    if (!path.startsWith(this.dir + sep) || !existsSync(path) || !statSync(path).isFile()) return false;
    const size = statSync(path).size;
    const isTarget = rest.startsWith('targets/');
    if (isTarget) this.requests.push({ path: rest, range: req.headers.range ?? null });
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m && isTarget) {
      start = Number(m[1]);
      if (start >= size) {
        res.writeHead(416, { 'content-range': `bytes */${size}` });
        res.end();
        return true;
      }
      res.writeHead(206, { 'content-length': size - start, 'content-range': `bytes ${start}-${size - 1}/${size}`, 'accept-ranges': 'bytes' });
    } else {
      res.writeHead(200, { 'content-length': size, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' });
    }
    const drop = isTarget ? this.faults.dropAfterBytes : undefined;
    if (drop !== undefined) this.faults = {};
    const end = drop !== undefined ? Math.min(size, start + drop) - 1 : size - 1;
    const stream = createReadStream(path, { start, end });
    stream.pipe(res, { end: drop === undefined });
    if (drop !== undefined) stream.on('end', () => setTimeout(() => req.socket.destroy(), 20));
    return true;
  }
}
