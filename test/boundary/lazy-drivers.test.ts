// Issue 20: the device lists load no driver; building one loads its model's code and no other's.
import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
import t from 'tap';

const loaded = new Set<string>();
const { port1, port2 } = new MessageChannel();
port1.on('message', (url: string) => loaded.add(url));
port1.unref();
// A load hook that reports every module URL this process loads from here on.
const hooks = `
let port;
export function initialize(data) { port = data.port; }
export async function load(url, context, next) { port.postMessage(url); return next(url, context); }
`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`, { data: { port: port2 }, transferList: [port2] });

/** Waits until the hook thread's reports of the loads so far have arrived. */
const settled = () => new Promise((resolve) => setTimeout(resolve, 200));
const driverFolders = () => new Set([...loaded].flatMap((u) => /\/drivers\/([a-z0-9-]+)\/(?!model\.)[^/]+$/.exec(u)?.[1] ?? []));
const packages = () => new Set([...loaded].flatMap((u) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1] ?? []));

t.test('reading the registry loads no driver; an ID-003 validator loads the ID-003 driver only', async (t) => {
  const registry = await import('../../drivers/registry.js');
  await settled();
  t.ok([...loaded].some((u) => u.includes('/drivers/registry.')), 'the hook sees the loads');
  t.same([...driverFolders()].filter((f) => !['transport', 'checksum', 'validator', 'line', 'keyboard'].includes(f)), [], 'no model folder beyond its descriptor');
  t.notOk(packages().has('@point-of-sale/receipt-printer-encoder'), 'no printer encoder');

  const validator = await registry.createBillValidator('id003', { port: '/dev/lazy-drivers-test' });
  t.equal(validator.kind, 'bill-validator');
  await settled();
  const folders = driverFolders();
  t.ok(folders.has('id003'), 'the ID-003 driver is loaded');
  for (const other of ['essp', 'ccnet', 'zvt', 'hid-card', 'escpos', 'cctalk', 'scanner']) t.notOk(folders.has(other), `${other} is not loaded`);
  for (const pkg of ['@point-of-sale/receipt-printer-encoder', 'iconv-lite', 'node-hid', 'usb']) t.notOk(packages().has(pkg), `${pkg} is not loaded`);

  const printer = await registry.createPrinter('escpos', { transport: 'serial', port: '/dev/lazy-drivers-test-printer' });
  t.equal(printer.kind, 'printer');
  await settled();
  t.ok(driverFolders().has('escpos'), 'a fitted printer loads its driver');
  t.ok(packages().has('@point-of-sale/receipt-printer-encoder'), 'and its encoder');
});
