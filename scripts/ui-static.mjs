// Copies the screen's and the panel's static files (HTML, CSS) next to their compiled scripts in
// dist/ui, which the runtime and the embedded launcher serve.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { extname, join } from 'node:path';

const from = 'src/ui';
const to = 'dist/ui';
mkdirSync(to, { recursive: true });
for (const name of readdirSync(from)) {
  if (['.html', '.css', '.svg', '.png'].includes(extname(name))) copyFileSync(join(from, name), join(to, name));
}
