import t from 'tap';
import { createCctalkCoinAcceptor, createCctalkHopper, getSharedBus } from '../../drivers/cctalk/index.js';

t.test('factories: one shared bus per port, a clear error when the port is missing', async (t) => {
  const port = '/dev/cctalk-test-missing-port';
  t.equal(getSharedBus(port), getSharedBus(port), 'the same bus for the same port');
  t.not(getSharedBus(port), getSharedBus(`${port}-2`));
  const acceptor = createCctalkCoinAcceptor({ port, coins: [{ channel: 1, value: 100 }] });
  const hopper = createCctalkHopper({ port, address: 4, coinValue: 50, name: 'hopper-50' });
  t.equal(acceptor.kind, 'coin-acceptor');
  t.same(acceptor.coins(), [{ value: 100, currency: 'CNY', code: 1 }], 'configured coins known before open');
  t.equal(hopper.kind, 'coin-hopper');
  t.equal(hopper.coinValue, 50);
  await t.rejects(acceptor.open(), new RegExp(`cannot open.*${port}`));
  t.equal(acceptor.status().health, 'offline');
  await t.rejects(hopper.open(), /cctalk hopper 'hopper-50'@4/);
  await acceptor.close();
  await hopper.close();
  t.equal(hopper.status().code, 'closed');
  t.throws(() => createCctalkHopper({ port, coinValue: 0.5, name: 'bad' }), /coinValue must be a positive integer/);
});
