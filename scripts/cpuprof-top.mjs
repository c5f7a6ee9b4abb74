#!/usr/bin/env node
// Prints the functions with the most self time in a V8 .cpuprofile (as `node --cpu-prof` writes it),
// so a profile can be compared before and after a change as plain text.
//
//   node scripts/cpuprof-top.mjs FILE.cpuprofile [--top 25] [--by function|file] [--callers NAME]
//
// --callers NAME: whose calls the self time of the functions named NAME was spent in (3 frames up).
//
// Self time is the time of the samples taken while the function itself was on top of the stack.
// "(idle)" is the event loop waiting; shares are given of the busy time (everything else).
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' }, by: { type: 'string', default: 'function' }, callers: { type: 'string' } },
});
if (positionals.length !== 1 || !['function', 'file'].includes(values.by)) {
  console.error('usage: cpuprof-top.mjs FILE.cpuprofile [--top N] [--by function|file]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(positionals[0], 'utf8'));
const top = Number(values.top);
const root = process.cwd();

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
const selfUs = new Map();
// timeDeltas[i] is the time before sample i; it is charged to the sample it leads to.
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, profile.timeDeltas[i] ?? 0));
}

function where(frame) {
  if (!frame.url) return '';
  let file = frame.url;
  try {
    if (file.startsWith('file://')) file = relative(root, fileURLToPath(file));
  } catch {
    // an unusual URL stays as it is
  }
  return values.by === 'file' ? file : `${file}:${frame.lineNumber + 1}`;
}

const rows = new Map();
let busyUs = 0;
let idleUs = 0;
for (const [id, us] of selfUs) {
  const frame = byId.get(id).callFrame;
  const name = frame.functionName || '(anonymous)';
  if (name === '(idle)') {
    idleUs += us;
    continue;
  }
  busyUs += us;
  const key = values.by === 'file' ? where(frame) || name : `${name}  ${where(frame)}`.trim();
  rows.set(key, (rows.get(key) ?? 0) + us);
}

const wallMs = (profile.endTime - profile.startTime) / 1000;
const ms = (us) => (us / 1000).toFixed(1).padStart(9);
console.log(`profile ${positionals[0]}`);
console.log(`wall ${wallMs.toFixed(0)} ms, busy ${(busyUs / 1000).toFixed(0)} ms, idle ${(idleUs / 1000).toFixed(0)} ms, ${profile.samples.length} samples`);
console.log(`top ${top} by self time (${values.by}), share of busy time:`);
const sorted = [...rows].sort((a, b) => b[1] - a[1]).slice(0, top);
for (const [key, us] of sorted) console.log(`${ms(us)} ms ${((100 * us) / busyUs).toFixed(1).padStart(5)} %  ${key}`);

if (values.callers) {
  const stacks = new Map();
  let total = 0;
  for (const [id, us] of selfUs) {
    if (byId.get(id).callFrame.functionName !== values.callers) continue;
    total += us;
    const up = [];
    for (let p = parentOf.get(id); p !== undefined && up.length < Number(process.env.DEPTH ?? 3); p = parentOf.get(p)) {
      const f = byId.get(p).callFrame;
      up.push(`${f.functionName || '(anonymous)'} ${where(f)}`.trim());
    }
    const key = up.join(' < ');
    stacks.set(key, (stacks.get(key) ?? 0) + us);
  }
  console.log(`\ncallers of ${values.callers} (${(total / 1000).toFixed(1)} ms self):`);
  for (const [key, us] of [...stacks].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${ms(us)} ms  ${key}`);
}
