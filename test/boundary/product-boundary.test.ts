import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

// The product (src/, drivers/, states/) never imports the simulator. tsconfig.product.json is a
// composite project listing only the product's folders, so tsc itself refuses any file it would
// pull in from elsewhere (TS6307): the boundary is the compiler's, not a text search.

const repo = process.cwd();
const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
const checkProduct = (root: string) => spawnSync(process.execPath, [tsc, '-p', 'tsconfig.product.json', '--noEmit'], { cwd: root, encoding: 'utf8', timeout: 240_000 });

t.test('the product type-checks on its own, without hw-sim', async (t) => {
  const r = checkProduct(repo);
  t.equal(r.status, 0, r.stdout + r.stderr);
});

t.test('an import of hw-sim planted in the product fails the check', async (t) => {
  const copy = mkdtempSync(join(tmpdir(), 'kiosk-boundary-'));
  t.teardown(() => rmSync(copy, { recursive: true, force: true }));
  for (const entry of ['src', 'drivers', 'states', 'hw-sim', 'package.json', 'tsconfig.json', 'tsconfig.product.json']) {
    cpSync(join(repo, entry), join(copy, entry), { recursive: true });
  }
  symlinkSync(join(repo, 'node_modules'), join(copy, 'node_modules'));
  // One static import and one lazy import, the two forms src/cli.ts used to load the simulator with.
  writeFileSync(join(copy, 'src', 'planted.ts'), "import { SimStack } from '../hw-sim/stack.js';\nexport const planted = SimStack;\n");
  writeFileSync(join(copy, 'drivers', 'planted.ts'), "export const planted = () => import('../hw-sim/chaos/plan.js');\n");

  const r = checkProduct(copy);
  t.not(r.status, 0, 'tsc refuses the product');
  const out = r.stdout + r.stderr;
  t.match(out, /src\/planted\.ts\(1,\d+\): error TS6307: File '.*\/hw-sim\/stack\.ts' is not listed within the file list of project/);
  t.match(out, /drivers\/planted\.ts\(1,\d+\): error TS6307: File '.*\/hw-sim\/chaos\/plan\.ts' is not listed/);
  t.notMatch(out, /error TS(?!6307)\d+/, 'the boundary is the only complaint');
});
