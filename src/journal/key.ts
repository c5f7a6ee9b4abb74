import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** The terminal secret that keys the journal's hash chain. */
export const KEY_BYTES = 32;

/**
 * Reads the journal key, creating it (mode 0600) when the file does not exist yet. The new key is
 * written under a temporary name, synced, then linked into place, so a power cut never leaves a
 * short key behind and two processes racing to create it end up with the same key.
 */
export function loadOrCreateKey(path: string): Buffer {
  const file = resolve(path);
  const existing = tryRead(file);
  if (existing) return existing;

  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new Error(`journal key ${file}: cannot create its folder: ${messageOf(err)}`, { cause: err });
  }
  const temp = `${file}.${process.pid}.new`;
  try {
    const fd = openSync(temp, 'wx', 0o600);
    try {
      writeSync(fd, randomBytes(KEY_BYTES));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(temp, file);
    } catch (err) {
      // Another process created the key first: its key is the one in use.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    syncFolder(dirname(file));
  } catch (err) {
    throw new Error(`journal key ${file}: cannot create it: ${messageOf(err)}`, { cause: err });
  } finally {
    try {
      unlinkSync(temp);
    } catch {
      // Already gone or never made; the key file itself is what matters.
    }
  }
  return readKey(file);
}

/** Reads an existing journal key; never creates one (for read-only tools). */
export function readKey(path: string): Buffer {
  const file = resolve(path);
  const key = tryRead(file);
  if (!key) {
    throw new Error(`journal key ${file} does not exist: without the terminal's key the hash chain cannot be checked`);
  }
  return key;
}

function tryRead(file: string): Buffer | null {
  let key: Buffer;
  try {
    key = readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`journal key ${file}: cannot read it: ${messageOf(err)}`, { cause: err });
  }
  if (key.length !== KEY_BYTES) {
    throw new Error(`journal key ${file} holds ${key.length} bytes, expected ${KEY_BYTES}: it is damaged or not a key`);
  }
  return key;
}

function syncFolder(folder: string): void {
  const fd = openSync(folder, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
