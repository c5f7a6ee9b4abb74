import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { z } from 'zod';
import { configSchema } from '../../src/config/schema.js';
// @ts-expect-error: a plain ES module script without type declarations
import { PAGE, renderConfigReference } from '../../scripts/config-reference.mjs';

type Render = (schema: unknown) => { markdown: string; unusedNotes: string[] };

t.test('docs/configuration.md is what the generator makes of the schema today', async (t) => {
  const { markdown } = (renderConfigReference as Render)(configSchema);
  const committed = readFileSync(PAGE as string, 'utf8');
  t.equal(committed, markdown, 'docs/configuration.md is out of date: run `npm run build && npm run docs:config`');
});

t.test("every hand-written note still names a key of the schema", async (t) => {
  const { unusedNotes } = (renderConfigReference as Render)(configSchema);
  t.same(unusedNotes, [], 'notes for keys the schema no longer has: move or delete them in scripts/config-reference.mjs');
});

t.test('every key of the schema is in the page, with its default', async (t) => {
  const { markdown } = (renderConfigReference as Render)(configSchema);
  for (const key of ['terminalId', 'validator.port', 'hoppers[].coinValue', 'console.engineers[].pin', 'timeouts.cardAuthMs', 'api.port']) {
    t.match(markdown, `\`${key}\``, key);
  }
  t.match(markdown, /\| `forwarder\.batchSize` \| integer \| `20` \| 1–1000 \|/);
});

t.test('npm run docs:config -- --check agrees, on the built schema', async (t) => {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  if (!existsSync(join(root, 'dist/src/config/schema.js'))) return t.skip('no build (npm run build)');
  const run = spawnSync(process.execPath, [join(root, 'scripts/config-reference.mjs'), '--check'], { encoding: 'utf8' });
  t.equal(run.status, 0, run.stderr);
  t.match(run.stdout, 'up to date');
});

t.test('the generator walks whatever the schema becomes: device forms chosen by model, shared parts, maps', async (t) => {
  const port = z.string().min(1).meta({ id: 'devicePort', description: 'a serial device' });
  const schema = z
    .object({
      validator: z
        .discriminatedUnion('model', [
          z.object({ model: z.literal('id003'), port }).strict(),
          z.object({ model: z.literal('essp'), port, fixedKey: z.string().optional() }).strict(),
        ])
        .describe('the bill validator'),
      hoppers: z.array(z.discriminatedUnion('model', [z.object({ model: z.literal('cctalk'), name: z.string() }), z.object({ model: z.literal('other'), name: z.string() })])).default([]),
      tags: z.record(z.string(), z.number()).optional(),
    })
    .strict();
  const { markdown, unusedNotes } = (renderConfigReference as (s: unknown, n: Record<string, string>) => { markdown: string; unusedNotes: string[] })(schema, {
    'validator.fixedKey': 'the fixed half of the key',
    'hoppers[].name': 'its name',
    gone: 'a key the schema no longer has',
  });
  t.match(markdown, '### `validator` with `model: "essp"`');
  t.match(markdown, '| `validator.port` | string | *required* | not empty | a serial device |', 'a shared part ($ref) is resolved');
  t.match(markdown, '| `validator.fixedKey` | string | — |  | the fixed half of the key |', 'a note fills in where the schema has no description');
  t.match(markdown, '### `hoppers[]` with `model: "other"`');
  t.match(markdown, '| `hoppers[].name` | string | *required* |  | its name |');
  t.match(markdown, '| `tags` | map of number |');
  t.same(unusedNotes, ['gone']);
});
