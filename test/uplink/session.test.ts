import { join } from 'node:path';
import t, { type Test } from 'tap';
import { UplinkError } from '../../src/uplink/errors.js';
import { ErrorCode, Service } from '../../src/uplink/link/envelope.js';
import { classify, LinkSession, type LinkDown, type SessionOptions } from '../../src/uplink/link/session.js';
import { answer, makePki, scriptedServer, type Pki } from './link-server.js';

const LOOKUP = Service.lookup;

function session(t: Test, pki: Pki, port: number, over: Partial<SessionOptions> = {}): LinkSession {
  const s = new LinkSession({
    host: '127.0.0.1',
    port,
    serverName: 'localhost',
    tls: pki.kiosk,
    timeoutMs: 2000,
    probeIntervalMs: 60_000,
    backoff: { initialMs: 20, maxMs: 200 },
    random: () => 0.5,
    ...over,
  });
  t.teardown(() => s.stop());
  return s;
}

function nextDown(s: LinkSession): Promise<LinkDown> {
  return new Promise((resolve) => s.once('down', resolve));
}

t.test('requests are matched to their answers by sequence number, whatever the order of the answers', async (t) => {
  const pki = await makePki(t.testdir());
  const server = await scriptedServer(t, pki, async (m) => {
    const { wait } = m.body as { wait: number };
    await new Promise((r) => setTimeout(r, wait));
    return { echoed: wait };
  });
  const s = session(t, pki, server.port, { hello: { software: 'test' } });
  const up = new Promise((resolve) => s.once('up', resolve));
  s.start();
  t.same(await up, { server: { terminalId: 'T-0001' } }, 'the server names the terminal by its certificate');
  t.same(server.peers, ['T-0001']);
  t.same(server.requests[0]!.body, { software: 'test' }, 'the hello carries what the kiosk says about itself');
  const answers = await Promise.all([300, 10, 150].map((wait) => s.request(LOOKUP, { wait })));
  t.same(answers, [300, 10, 150].map((wait) => ({ error: 0, body: { echoed: wait } })));
  const seqs = server.requests.slice(1).map((r) => r.seq);
  t.equal(new Set(seqs).size, 3, 'each request has its own sequence number');

  server.handler = () => answer(ErrorCode.unknownAccount, { error: 'unknown-account' });
  t.same(await s.request(LOOKUP, { phone: '1' }), { error: ErrorCode.unknownAccount, body: { error: 'unknown-account' } }, 'error answers are answers');
});

t.test('no answer in time: outcome unknown, and the late answer is ignored', async (t) => {
  const pki = await makePki(t.testdir());
  let release!: () => void;
  const server = await scriptedServer(t, pki, () => new Promise((resolve) => (release = () => resolve({ late: true }))));
  const s = session(t, pki, server.port);
  s.start();
  t.ok(await s.waitUp(10_000));
  const err = await s.request(LOOKUP, {}, 100).catch((e: unknown) => e);
  t.ok(err instanceof UplinkError);
  t.match(err, { kind: 'outcome-unknown', message: /no answer to lookup #\d+ within 100 ms/ });
  release();
  while (s.strayAnswers === 0) await new Promise((r) => setTimeout(r, 10));
  t.equal(s.strayAnswers, 1, 'the late answer matched nothing');
  t.ok(s.up, 'a slow answer does not drop the link');
  server.handler = () => ({ fine: true });
  t.same((await s.request(LOOKUP, {})).body, { fine: true }, 'the link still works');
});

t.test('connection dropped with requests waiting: outcome unknown; the session reconnects by itself', async (t) => {
  const pki = await makePki(t.testdir());
  const server = await scriptedServer(t, pki, (_m, socket) => {
    socket.destroy();
    return undefined;
  });
  const s = session(t, pki, server.port);
  s.start();
  t.ok(await s.waitUp(10_000));
  const down = nextDown(s);
  const err = await s.request(LOOKUP, {}).catch((e: unknown) => e);
  t.match(err, { kind: 'outcome-unknown', message: /connection lost before the answer to lookup/ });
  t.match(await down, { reason: 'closed' });
  t.notOk(s.up);
  t.match(await s.request(LOOKUP, {}).catch((e: unknown) => e), { kind: 'unreachable', message: /business link is down \(closed/ }, 'nothing is sent while down');
  t.ok(await s.waitUp(10_000), 'back up');
  t.equal(server.peers.length, 2, 'on a new connection');
  server.handler = () => ({ again: true });
  t.same((await s.request(LOOKUP, {})).body, { again: true });
});

t.test('server not there: refused, retried with back-off until it listens again', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const first = await scriptedServer(t, pki, () => ({}));
  const port = first.port;
  await first.close();
  const s = session(t, pki, port);
  const downs: LinkDown[] = [];
  s.on('down', (d) => downs.push(d));
  s.start();
  t.notOk(await s.waitUp(300));
  t.match(downs, [{ reason: 'refused', detail: /ECONNREFUSED/ }], 'one down for many refused attempts');
  const second = await scriptedServer(t, pki, () => ({ back: true }), {}, port);
  t.ok(await s.waitUp(10_000));
  t.same((await s.request(LOOKUP, {})).body, { back: true });
  t.equal(second.peers.length, 1);
});

t.test('a server certificate from another CA is refused, and the link never comes up', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(join(dir, 'right'));
  const other = await makePki(join(dir, 'other'));
  // The server trusts the kiosk's CA but presents a certificate of another authority.
  const server = await scriptedServer(t, { ...other, server: { ...other.server, ca: pki.server.ca } }, () => ({}));
  const s = session(t, pki, server.port);
  let up = false;
  s.on('up', () => (up = true));
  const down = nextDown(s);
  s.start();
  const d = await down;
  t.equal(d.reason, 'server-certificate');
  t.notMatch(d.detail, /BEGIN|PRIVATE/, 'no key material in the reason');
  t.equal(s.down?.reason, 'server-certificate');
  t.equal(server.requests.length, 0, 'nothing was sent to it');
  t.notOk(up);
});

t.test('a server that does not trust the kiosk certificate: the link stays down, and says why', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(join(dir, 'right'));
  const other = await makePki(join(dir, 'other'));
  const distrustful = { ...pki, server: { ...pki.server, ca: other.server.ca } };
  // Node's TLS server resets a TLS 1.2 handshake it refuses (other servers send an alert: see classify below).
  const tls12 = await scriptedServer(t, distrustful, () => ({}), { maxVersion: 'TLSv1.2' });
  const s12 = session(t, pki, tls12.port);
  const down12 = nextDown(s12);
  s12.start();
  t.match(await down12, { reason: 'closed', detail: /before secure TLS connection/ });
  // TLS 1.3 finishes the client's handshake first, then the server just closes.
  const tls13 = await scriptedServer(t, distrustful, () => ({}));
  const s13 = session(t, pki, tls13.port);
  const down13 = nextDown(s13);
  s13.start();
  t.match(await down13, { reason: 'closed', detail: /before answering the hello.*certificate/ });
  t.notOk(s12.up || s13.up);
  t.same([tls12.peers, tls13.peers], [[], []], 'neither server accepted the connection');
});

t.test('TLS 1.1 is refused, though the server speaks it', async (t) => {
  const pki = await makePki(t.testdir());
  const old = { minVersion: 'TLSv1' as const, maxVersion: 'TLSv1.1' as const, ciphers: 'DEFAULT@SECLEVEL=0' };
  const server = await scriptedServer(t, pki, () => ({}), old);
  const s = session(t, pki, server.port);
  const down = nextDown(s);
  s.start();
  t.match(await down, { reason: 'tls', detail: /PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL/ });
  t.equal(server.peers.length, 0);

  // The control: with the limit lifted, the same server takes a TLS 1.1 client.
  const { connect } = await import('node:tls');
  const protocol = await new Promise<string | null>((resolve, reject) => {
    const c = connect({ host: '127.0.0.1', port: server.port, servername: 'localhost', ...pki.kiosk, ...old }, () => {
      resolve(c.getProtocol());
      c.destroy();
    });
    c.on('error', reject);
  });
  t.equal(protocol, 'TLSv1.1');
});

t.test('a quiet link is probed; a server that stops answering is dropped and reconnected', async (t) => {
  const pki = await makePki(t.testdir());
  const server = await scriptedServer(t, pki, () => ({}));
  const s = session(t, pki, server.port, { probeIntervalMs: 100, timeoutMs: 300 });
  s.start();
  t.ok(await s.waitUp(10_000));
  while (!server.requests.some((r) => r.service === Service.echo)) await new Promise((r) => setTimeout(r, 20));
  t.ok(s.up, 'answered echoes keep it up');
  // From now on the server swallows everything on the existing connection.
  for (const sock of server.sockets) sock.removeAllListeners('data');
  const down = await nextDown(s);
  t.match(down, { reason: 'timeout', detail: /keep-alive not answered/ });
  t.ok(await s.waitUp(10_000), 'a new connection comes up');
});

t.test('stop fails waiting requests as unknown; garbage from the server drops the link', async (t) => {
  const pki = await makePki(t.testdir());
  const server = await scriptedServer(t, pki, (_m, socket) => {
    socket.write('<html>502</html>');
    return undefined;
  });
  const s = session(t, pki, server.port);
  s.start();
  t.ok(await s.waitUp(10_000));
  const down = nextDown(s);
  t.match(await s.request(LOOKUP, {}).catch((e: unknown) => e), { kind: 'outcome-unknown' });
  t.match(await down, { reason: 'protocol', detail: /bad magic/ });

  t.ok(await s.waitUp(10_000));
  server.handler = () => new Promise(() => undefined);
  const waiting = s.request(LOOKUP, {}).catch((e: unknown) => e);
  await new Promise((r) => setTimeout(r, 50));
  await s.stop();
  t.match(await waiting, { kind: 'outcome-unknown', message: /stopped/ });
  t.notOk(s.up);
  t.throws(
    () => new LinkSession({ host: 'x', port: 1, serverName: 'x', tls: { ...pki.kiosk, key: Buffer.from('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n') }, timeoutMs: 1, probeIntervalMs: 1, backoff: { initialMs: 1, maxMs: 1 } }),
    /cannot be used/,
  );
});

t.test('socket errors are sorted into reasons an operator can act on', async (t) => {
  const err = (code: string, message = 'x') => Object.assign(new Error(message), { code });
  const cases: [string, string][] = [
    ['ECONNREFUSED', 'refused'],
    ['ETIMEDOUT', 'timeout'],
    ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'client-certificate'],
    ['ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'client-certificate'],
    ['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'client-certificate'],
    ['ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', 'tls'],
    ['ERR_SSL_UNSUPPORTED_PROTOCOL', 'tls'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'server-certificate'],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'server-certificate'],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'server-certificate'],
    ['CERT_HAS_EXPIRED', 'server-certificate'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'server-certificate'],
    ['ERR_SSL_DECRYPTION_FAILED', 'tls'],
    ['ECONNRESET', 'closed'],
  ];
  for (const [code, reason] of cases) t.equal(classify(err(code))[0], reason, code);
  t.same(classify(new Error('socket hang up')), ['closed', 'socket hang up']);
  t.same(classify(err('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:9')), ['refused', 'ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:9']);
});
