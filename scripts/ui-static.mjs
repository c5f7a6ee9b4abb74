// Copies the static files (HTML, CSS, icons) of the customer screen and of the simulator panel next
// to their compiled scripts: dist/ui (served by the runtime) and dist/panel (served by the
// simulator's panel, which also serves dist/ui for the screen's modules it shares).
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { extname, join } from 'node:path';

for (const [from, to] of [
  ['src/ui', 'dist/ui'],
  ['hw-sim/panel/ui', 'dist/panel'],
]) {
  // A board's build of the product alone (npm run build:product) may come without the simulator.
  if (!existsSync(from)) continue;
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    if (['.html', '.css', '.svg', '.png'].includes(extname(name))) copyFileSync(join(from, name), join(to, name));
  }
}
