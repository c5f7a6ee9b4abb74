import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import t from 'tap';
import { configInput, kioskSide, LogCapture, pki, referenceServer, until } from './fixture.js';

/** The base64 body of a PEM file, as it would appear if it leaked into a log. */
function pemBody(path: string): string {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('-----'))
    .join('');
}

t.test("a server certificate not from the pinned CA is refused, with an alarm; no secret reaches the log", async (t) => {
  const dir = t.testdir({ real: {}, impostor: {} });
  const real = await pki(join(dir, 'real'));
  const impostor = await pki(join(dir, 'impostor'));
  // The impostor's server, with the kiosk's own certificate accepted: only the server's certificate is wrong.
  const server = await referenceServer(t, join(dir, 'impostor'), { ...impostor, ca: real.ca });
  const capture = new LogCapture();
  const k = kioskSide(t, dir, configInput(dir, real, server.port), capture.logger());
  k.link.start();
  await until('the certificate alarm', () => k.alarms.active().find((a) => a.kind === 'server-certificate'));
  t.equal(k.link.linkUp, false);
  t.match(k.alarms.active(), [{ kind: 'server-certificate', source: 'management-link', severity: 'critical', detail: /certificate is refused/ }]);
  t.same(server.records().heartbeats, [], 'nothing was sent to it');
  const journalled = k.journal.eventsOfType('alarm.raised');
  t.match(journalled[0]!.data, { kind: 'server-certificate' });

  await k.close();
  t.match(capture.text, /management link down/);
  t.notMatch(capture.text, /PRIVATE KEY/);
  for (const secret of [real.clientKey, impostor.serverKey]) t.notOk(capture.text.includes(pemBody(secret).slice(0, 40)), `no part of ${basename(secret)}`);
});

t.test('a kiosk certificate from another CA is refused by the server', async (t) => {
  const dir = t.testdir({ real: {}, stranger: {} });
  const real = await pki(join(dir, 'real'));
  const stranger = await pki(join(dir, 'stranger'));
  const server = await referenceServer(t, join(dir, 'real'), real);
  // Trusts the right server, but presents a certificate the server's CA never signed.
  const files = { ...real, clientCert: stranger.clientCert, clientKey: stranger.clientKey };
  const capture = new LogCapture();
  const k = kioskSide(t, dir, configInput(dir, files, server.port), capture.logger());
  k.link.start();
  await until('the link seen down', () => k.link.linkUp === false);
  await new Promise((r) => setTimeout(r, 400));
  t.same(server.records().heartbeats, [], 'the server took nothing');
  t.same(k.alarms.active(), [], "not the server certificate's fault");
  await k.close();
  t.notMatch(capture.text, /PRIVATE KEY/);
  t.notOk(capture.text.includes(pemBody(stranger.clientKey).slice(0, 40)));
});

t.test('the right CA after a refused one: the alarm clears once the link is up', async (t) => {
  const dir = t.testdir({ real: {}, impostor: {} });
  const real = await pki(join(dir, 'real'));
  const impostor = await pki(join(dir, 'impostor'));
  const server = await referenceServer(t, join(dir, 'real'), real);
  const wrong = kioskSide(t, dir, configInput(dir, { ...real, ca: impostor.ca }, server.port), new LogCapture().logger());
  wrong.link.start();
  await until('the certificate alarm', () => wrong.alarms.active().length === 1);
  await wrong.close();

  const right = kioskSide(t, dir, configInput(dir, real, server.port), new LogCapture().logger());
  right.link.start();
  await until('the alarm cleared', () => right.alarms.active().length === 0);
  await until('raise and clear delivered', () => server.records().alarms.length === 2);
  t.same(
    server.records().alarms.map((a) => [a.action, a.kind]),
    [
      ['raise', 'server-certificate'],
      ['clear', 'server-certificate'],
    ],
    'the raise waited in the journal and went out with its clear',
  );
});
