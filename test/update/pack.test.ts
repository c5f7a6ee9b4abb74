import t from 'tap';
import { productionDependencies } from '../../hw-sim/release/pack.js';

// Issue 19, item 1: a board bundle carries the production dependencies, transitively, and none of
// the development ones. The tree may be given relative to the working folder (`--from .`, the
// command's default), which once cut the first letters off every path.

t.test('the production closure from a relative tree: runtime packages in, development ones out', async (t) => {
  const deps = productionDependencies('.');
  for (const d of ['node_modules/better-sqlite3', 'node_modules/tuf-js', 'node_modules/tar', 'node_modules/zod', 'node_modules/xstate']) t.ok(deps.includes(d), d);
  // better-sqlite3's own dependency, reached transitively.
  t.ok(deps.includes('node_modules/bindings'), 'transitive: bindings');
  for (const d of ['node_modules/tap', 'node_modules/typescript', 'node_modules/@peculiar/x509', 'node_modules/playwright-core']) t.notOk(deps.includes(d), `${d} left out`);
  t.ok(deps.every((d) => d.startsWith('node_modules/')));
  t.same(productionDependencies(process.cwd()), deps, 'the same from an absolute path');
});
