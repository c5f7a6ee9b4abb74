import t from 'tap';
import { maskWalletCode, MASKED_CODE_PATTERN, walletByPrefix, walletOf } from '../../src/domain/wallet.js';

const b = (s: string) => Buffer.from(s, 'latin1');

t.test('the wallet by the code prefix: 10–15 WeChat, 25–30 Alipay, 62 UnionPay, anything else none', async (t) => {
  t.equal(walletOf(b('100000000000000000')), 'wechat');
  t.equal(walletOf(b('150000000000000000')), 'wechat');
  t.equal(walletOf(b('250000000000000000')), 'alipay');
  t.equal(walletOf(b('300000000000000000')), 'alipay');
  t.equal(walletOf(b('6200000000000000000')), 'unionpay');
  for (const prefix of ['09', '16', '24', '31', '61', '63', '99']) t.equal(walletOf(b(`${prefix}0000000000000000`)), null, prefix);
  t.equal(walletOf(b('13000000000000')), null, 'too short');
  t.equal(walletOf(b('1'.repeat(25))), null, 'too long');
  t.equal(walletOf(b('13000000000000000x')), null, 'not digits');
  t.equal(walletByPrefix('13', 18), 'wechat', 'the prefix and the length are enough');
  t.equal(walletByPrefix('1*', 18), null);
});

t.test('the masked code keeps the first 2 and last 4 digits only, and the journal pattern accepts only that', async (t) => {
  t.equal(maskWalletCode('13************1234', 18), '13************1234');
  t.equal(maskWalletCode('13############1234', 18), '13************1234', 'whatever the scanner masked with');
  t.equal(maskWalletCode('1300**********1234', 18), '13************1234', 'more than 2 leading digits shown: 2 kept');
  t.equal(maskWalletCode('13**', 18), '13****************', 'a short read keeps its length masked');
  t.ok(MASKED_CODE_PATTERN.test(maskWalletCode('62*************4567', 19)));
  t.ok(MASKED_CODE_PATTERN.test('13************1234'));
  t.notOk(MASKED_CODE_PATTERN.test('130012345678901234'), 'a full code');
  t.notOk(MASKED_CODE_PATTERN.test('1300**********1234'), 'four leading digits');
  t.notOk(MASKED_CODE_PATTERN.test('13*****1234'), 'too little masked');
});
