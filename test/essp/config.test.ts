import t from 'tap';
import { configSchema } from '../../src/config/schema.js';
import { createBillValidator } from '../../drivers/registry.js';
import { EsspValidator } from '../../drivers/essp/driver.js';

const validator = configSchema.shape.validator;

t.test('validator.model essp with its address and fixed key', async (t) => {
  const v = validator.parse({ model: 'essp', port: '/dev/ttyACM0', address: 0, fixedKey: '0123456701234567' });
  t.match(v, { model: 'essp', address: 0, fixedKey: '0123456701234567', pollIntervalMs: 150 });
  t.same(validator.parse({ port: '/dev/ttyUSB0' }).address, undefined, 'both optional');
  t.throws(() => validator.parse({ model: 'essp', port: '/dev/x', fixedKey: '0123' }), /16 hex digits/);
  t.throws(() => validator.parse({ model: 'essp', port: '/dev/x', address: 0x7e }));
});

t.test('the registry builds the eSSP driver by its model name', async (t) => {
  const driver = await createBillValidator('essp', { port: '/dev/essp-config-test', address: 0, fixedKey: '0123456701234567' });
  t.type(driver, EsspValidator);
  t.equal(driver.capabilities.hold, true);
  await driver.close();
});
