import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { configSchema, type Config, type ConfigInput } from './schema.js';

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`invalid configuration (${source}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Validates a configuration object; paths relative to `baseDir`. Throws ConfigError naming each bad key. */
export function parseConfig(input: unknown, source: string, baseDir: string): Config {
  const result = configSchema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const key = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
      return `${key}: ${issue.message}`;
    });
    throw new ConfigError(source, problems);
  }
  const c = result.data;
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const dataDir = abs(c.dataDir);
  return {
    ...c,
    dataDir,
    server: { ...c.server, serverName: c.server.serverName ?? c.server.host },
    journal: {
      path: abs(c.journal.path ?? join(dataDir, 'journal.db')),
      keyFile: abs(c.journal.keyFile ?? join(dataDir, 'journal.key')),
    },
    control: {
      ...c.control,
      socket: abs(c.control.socket ?? join(dataDir, 'kiosk.sock')),
      consoleSocket: abs(c.control.consoleSocket ?? join(dataDir, 'console.sock')),
    },
    tls: {
      ca: abs(c.tls.ca ?? join(dataDir, 'pki', 'ca.crt')),
      cert: abs(c.tls.cert ?? join(dataDir, 'pki', 'kiosk.crt')),
      key: abs(c.tls.key ?? join(dataDir, 'pki', 'kiosk.key')),
    },
    ...(c.update ? { update: { ...c.update, trustedRoot: abs(c.update.trustedRoot) } } : {}),
  };
}

/** Reads and validates a JSON configuration file; relative paths in it are relative to the file. */
export function loadConfigFile(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(path, [`cannot read the file: ${(e as Error).message}`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(path, [`not valid JSON: ${(e as Error).message}`]);
  }
  return parseConfig(json, path, dirname(resolve(path)));
}

/** For commands: a bad configuration is reported on stderr and the process exits 2, before anything else. */
export function loadConfigOrExit(path: string): Config {
  try {
    return loadConfigFile(path);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      process.exit(2);
    }
    throw e;
  }
}

export type { Config, ConfigInput };
