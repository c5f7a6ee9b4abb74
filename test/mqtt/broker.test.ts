/**
 * The broker harness itself: TLS with the certificate as identity, the ACL by terminal id (a kiosk
 * refused on another kiosk's topics, with real publishes and subscriptions), and persistence across
 * a restart.
 */
import t from 'tap';
import { DEFAULT_CENTRAL_USER, KIOSK_A, KIOSK_B, brokerWorld } from './broker-fixture.js';

const waitFor = async (what: string, ok: () => boolean, ms = 10_000): Promise<void> => {
  const until = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

t.test('a kiosk is refused on another kiosk topics, and served on its own', async (t) => {
  const w = await brokerWorld(t);
  const a = await w.client(KIOSK_A);
  const b = await w.client(KIOSK_B);
  const central = await w.client(DEFAULT_CENTRAL_USER);
  const centralGot: string[] = [];
  central.on('message', (topic, payload) => centralGot.push(`${topic} ${payload.toString()}`));
  await central.subscribeAsync('kiosk/+/alarm', { qos: 1 });

  // Publish as A on B's alarm topic: MQTT 5 PUBACK with 0x87 (not authorised), and nothing arrives.
  const refused = await a.publishAsync(`kiosk/${KIOSK_B}/alarm`, '{"forged":true}', { qos: 1 }).then(
    () => undefined,
    (e: Error & { code?: number }) => e.code,
  );
  t.equal(refused, 0x87, 'PUBACK reason: not authorised');
  // A's own topic goes through, which also shows the forged one was not merely slow.
  await a.publishAsync(`kiosk/${KIOSK_A}/alarm`, '{"own":true}', { qos: 1 });
  await waitFor('A own alarm', () => centralGot.length >= 1);
  t.same(centralGot, [`kiosk/${KIOSK_A}/alarm {"own":true}`], 'only the own-topic alarm reached the central side');

  // Subscribe as A to B's command topic: the broker delivers nothing of B's to A.
  const aGot: string[] = [];
  a.on('message', (topic, payload) => aGot.push(`${topic} ${payload.toString()}`));
  await a.subscribeAsync([`kiosk/${KIOSK_B}/cmd`, `kiosk/${KIOSK_A}/cmd`], { qos: 1 });
  const bGot: string[] = [];
  b.on('message', (topic, payload) => bGot.push(`${topic} ${payload.toString()}`));
  await b.subscribeAsync(`kiosk/${KIOSK_B}/cmd`, { qos: 1 });
  await central.publishAsync(`kiosk/${KIOSK_B}/cmd`, 'for-b', { qos: 1 });
  await central.publishAsync(`kiosk/${KIOSK_A}/cmd`, 'for-a', { qos: 1 });
  await waitFor('both commands delivered', () => aGot.length >= 1 && bGot.length >= 1);
  t.same(bGot, [`kiosk/${KIOSK_B}/cmd for-b`], 'B gets its command');
  t.same(aGot, [`kiosk/${KIOSK_A}/cmd for-a`], "A gets its own command and not B's");

  // The central consumer cannot speak for a kiosk either.
  const spoof = await central.publishAsync(`kiosk/${KIOSK_A}/alarm`, 'x', { qos: 1 }).then(
    () => undefined,
    (e: Error & { code?: number }) => e.code,
  );
  t.equal(spoof, 0x87, "the central identity may not write a kiosk's alarm topic");
});

t.test('a client without a certificate from the CA is not let in', async (t) => {
  const w = await brokerWorld(t);
  const mqtt = (await import('mqtt')).default;
  const err = await mqtt
    .connectAsync(w.broker.url, { protocolVersion: 5, rejectUnauthorized: false, reconnectPeriod: 0, connectTimeout: 3000 })
    .then(
      (c) => (c.end(true), 'connected'),
      (e: Error) => e.message,
    );
  t.not(err, 'connected', `refused: ${err}`);
});

t.test('a broker restart keeps a persistent session and the QoS 1 messages queued for it', async (t) => {
  const w = await brokerWorld(t);
  const session = { clientId: KIOSK_A, clean: false, properties: { sessionExpiryInterval: 3600 } };
  const a = await w.client(KIOSK_A, session);
  await a.subscribeAsync(`kiosk/${KIOSK_A}/cmd`, { qos: 1 });
  await a.endAsync();
  const central = await w.client(DEFAULT_CENTRAL_USER, { reconnectPeriod: 200 });
  await central.publishAsync(`kiosk/${KIOSK_A}/cmd`, 'queued while offline', { qos: 1 });

  await w.broker.restart();
  const got: string[] = [];
  await w.client(KIOSK_A, session, (_topic, payload) => got.push(payload.toString()));
  await waitFor('the queued command', () => got.length >= 1);
  t.same(got, ['queued while offline'], 'delivered from the session the restarted broker kept');
});

t.test("with the kiosks' own listener, a client cannot take over another kiosk's session by its client id", async (t) => {
  const w = await brokerWorld(t, KIOSK_A, { centralListener: true });
  t.not(w.broker.centralPort, w.broker.port, 'the central consumers have a listener of their own');
  let bClosed = false;
  const b = await w.client(KIOSK_B, { clientId: KIOSK_B });
  b.on('close', () => (bClosed = true));
  // A's certificate, B's client id: the broker replaces the id by A's name, so B stays connected.
  const a = await w.client(KIOSK_A, { clientId: KIOSK_B });
  await a.publishAsync(`kiosk/${KIOSK_A}/heartbeat`, '{}', { qos: 1 });
  await waitFor('a moment for a takeover to show', () => bClosed, 500).catch(() => undefined);
  t.equal(bClosed, false, 'B was not disconnected');
  if (!bClosed) await b.publishAsync(`kiosk/${KIOSK_B}/heartbeat`, '{}', { qos: 1 });
  t.match(w.broker.log, new RegExp(`as ${KIOSK_A} \\(p5`), "A is known by its certificate's name");
  // And the central consumers, several under one name, still connect side by side on theirs.
  const c1 = await w.client(DEFAULT_CENTRAL_USER, { clientId: 'kiosk-central-1' });
  const c2 = await w.client(DEFAULT_CENTRAL_USER, { clientId: 'kiosk-central-2' });
  await c1.publishAsync(`kiosk/${KIOSK_A}/cmd`, 'x', { qos: 1 });
  t.ok(c1.connected && c2.connected, 'two consumer instances connected at once');
});
