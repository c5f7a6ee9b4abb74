import t from 'tap';
import { faceValue, groupPhone, isMobileNumber, secondsLeft, yuan } from '../../src/ui/format.js';

t.test('amounts in yuan from fen', async (t) => {
  t.equal(yuan(0), '¥0.00');
  t.equal(yuan(5), '¥0.05');
  t.equal(yuan(12350), '¥123.50');
  t.equal(yuan(100000), '¥1000.00');
  t.equal(yuan(-250), '-¥2.50');
  t.equal(faceValue(10000), '¥100');
  t.equal(faceValue(50), '¥0.5');
  t.equal(faceValue(10), '¥0.1');
  t.equal(faceValue(5), '¥0.05');
});

t.test('mainland mobile numbers: 11 digits, 1 then 3 to 9', async (t) => {
  for (const ok of ['13800138000', '19912345678', '15000000000']) t.ok(isMobileNumber(ok), ok);
  for (const bad of ['', '1380013800', '138001380001', '12800138000', '10000000000', '23800138000', '1380013800a', ' 13800138000']) t.notOk(isMobileNumber(bad), JSON.stringify(bad));
  t.equal(groupPhone('13800138000'), '138 0013 8000');
  t.equal(groupPhone('1380'), '138 0');
  t.equal(groupPhone(''), '');
});

t.test('the count-down rounds up and stops at zero', async (t) => {
  t.equal(secondsLeft(10_000, 0), 10);
  t.equal(secondsLeft(10_000, 9_001), 1);
  t.equal(secondsLeft(10_000, 10_000), 0);
  t.equal(secondsLeft(10_000, 20_000), 0);
});
