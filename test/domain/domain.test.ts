import t from 'tap';
import { CURRENCY, isMobileNumber, isPhoneNumber, PAYING_SERVICES, SERVICES, yuan, yuanSign } from '../../src/domain/index.js';
import * as ui from '../../src/ui/format.js';

t.test('services: pay, top-up and look-up; only the first two move money', async (t) => {
  t.same([...SERVICES], ['pay', 'topup', 'lookup']);
  t.same([...PAYING_SERVICES], ['pay', 'topup']);
  for (const s of PAYING_SERVICES) t.ok((SERVICES as readonly string[]).includes(s));
});

t.test('phone numbers: the wide rule and the keypad rule', async (t) => {
  for (const ok of ['13800138000', '19912345678', '15000000000']) {
    t.ok(isPhoneNumber(ok), ok);
    t.ok(isMobileNumber(ok), ok);
  }
  for (const wideOnly of ['12800138000', '10000000000', '11111111111']) {
    t.ok(isPhoneNumber(wideOnly), `${wideOnly} passes the wide rule`);
    t.notOk(isMobileNumber(wideOnly), `${wideOnly} is not a mobile number`);
  }
  for (const bad of ['', '1380013800', '138001380001', '23800138000', '1380013800a', ' 13800138000', '13800138000 ']) {
    t.notOk(isPhoneNumber(bad), JSON.stringify(bad));
    t.notOk(isMobileNumber(bad), JSON.stringify(bad));
  }
});

t.test('money: fen as yuan by digits', async (t) => {
  t.equal(CURRENCY, 'CNY');
  const cases: [number, string, string][] = [
    [0, '0.00', '¥0.00'],
    [5, '0.05', '¥0.05'],
    [50, '0.50', '¥0.50'],
    [100, '1.00', '¥1.00'],
    [1250, '12.50', '¥12.50'],
    [12350, '123.50', '¥123.50'],
    [-5, '-0.05', '-¥0.05'],
    [-150, '-1.50', '-¥1.50'],
    [Number.MAX_SAFE_INTEGER, '90071992547409.91', '¥90071992547409.91'],
  ];
  for (const [fen, plain, signed] of cases) {
    t.equal(yuan(fen), plain, `${fen}`);
    t.equal(yuanSign(fen), signed, `${fen} with the sign`);
  }
  for (const bad of [1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) t.equal(yuan(bad), '?', `${bad}`);
});

// The screen is compiled on its own (src/ui/tsconfig.json) and served from dist/ui, so it keeps
// copies of these rules; this keeps them equal to the source of truth.
t.test('the screen’s copies agree with the domain', async (t) => {
  const differ: number[] = [];
  for (let fen = -1000; fen <= 100_000; fen += 7) if (ui.yuan(fen) !== yuanSign(fen)) differ.push(fen);
  t.same(differ, [], 'yuan with the sign');
  for (const s of ['13800138000', '12800138000', '10000000000', '19912345678', '1380013800', '', '23800138000', '1380013800a']) {
    t.equal(ui.isMobileNumber(s), isMobileNumber(s), s);
  }
});

