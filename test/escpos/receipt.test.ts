import t from 'tap';
import { buildReceipt, formatFen, formatTime, maskPhone, summarizeCash, type ReceiptData } from '../../drivers/escpos/receipt.js';

const base: ReceiptData = {
  operator: '示例电信 自助缴费',
  terminalId: 'K-0042',
  at: new Date('2024-05-01T06:03:09Z'),
  txnId: 'TXN-20240501-0007',
  service: '话费缴费 Bill payment',
  phone: '13800138000',
  amountDue: 4350,
  notes: [2000, 5000, 2000],
  coins: [100, 100, 50],
  credited: 4350,
  changePaid: 5000,
  changeOwed: 0,
};

const texts = (d: ReceiptData) => buildReceipt(d).lines.map((l) => l.text);

t.test('money from integer fen', async (t) => {
  t.equal(formatFen(0), '￥0.00');
  t.equal(formatFen(5), '￥0.05');
  t.equal(formatFen(50), '￥0.50');
  t.equal(formatFen(5000), '￥50.00');
  t.equal(formatFen(123456), '￥1234.56');
  t.equal(formatFen(Number.MAX_SAFE_INTEGER), '￥90071992547409.91', 'no float rounding on huge values');
  t.equal(formatFen(5000).codePointAt(0), 0xffe5, 'full-width yen');
  t.throws(() => formatFen(12.5), RangeError);
  t.throws(() => formatFen(-1), RangeError);
  t.throws(() => formatFen(Number.NaN), RangeError);
});

t.test('phone masking', async (t) => {
  t.equal(maskPhone('13800138000'), '138****8000');
  t.equal(maskPhone('138 0013 8000'), '138****8000');
  t.equal(maskPhone('87654321'), '****4321');
  t.equal(maskPhone('123'), '***');
  t.equal(maskPhone(''), '');
});

t.test('time at China Standard Time whatever the host zone', async (t) => {
  t.equal(formatTime(new Date('2024-05-01T06:03:09Z')), '2024-05-01 14:03:09 UTC+08:00');
  t.equal(formatTime(new Date('2024-12-31T16:00:00Z')), '2025-01-01 00:00:00 UTC+08:00', 'crosses the year');
  t.equal(formatTime(new Date('2024-05-01T06:03:09Z'), 'UTC'), '2024-05-01 06:03:09 UTC+00:00');
  t.equal(formatTime(new Date('2024-07-01T12:00:00Z'), 'Europe/Berlin'), '2024-07-01 14:00:00 UTC+02:00', 'summer time of the zone');
});

t.test('cash summarised by value and count, highest first', async (t) => {
  t.same(summarizeCash([2000, 5000, 2000]), ['￥50.00 x 1', '￥20.00 x 2']);
  t.same(summarizeCash([]), []);
  t.throws(() => summarizeCash([1.5]), RangeError);
});

t.test('the receipt', async (t) => {
  const r = buildReceipt(base);
  const lines = r.lines.map((l) => l.text);
  t.equal(r.qr, 'TXN-20240501-0007', 'QR carries the transaction id');
  t.match(r.lines[0], { text: '示例电信 自助缴费', align: 'center', emphasis: true });
  t.ok(lines.includes('终端 Terminal: K-0042'));
  t.ok(lines.includes('时间 Time: 2024-05-01 14:03:09 UTC+08:00'), 'local time, saying which');
  t.ok(lines.includes('流水号 Txn:'));
  t.ok(lines.includes('TXN-20240501-0007'), 'the id on a line of its own');
  t.ok(lines.includes('业务 Service: 话费缴费 Bill payment'));
  t.ok(lines.includes('号码 Account: 138****8000'));
  t.notOk(lines.some((l) => l.includes('13800138000')), 'the full number is never printed');
  t.ok(lines.includes('应缴 Amount due: ￥43.50'));
  const notes = lines.indexOf('纸币 Notes:');
  t.same(lines.slice(notes, notes + 3), ['纸币 Notes:', '  ￥50.00 x 1', '  ￥20.00 x 2']);
  const coins = lines.indexOf('硬币 Coins:');
  t.same(lines.slice(coins, coins + 3), ['硬币 Coins:', '  ￥1.00 x 2', '  ￥0.50 x 1']);
  t.ok(lines.includes('投入合计 Cash in: ￥92.50'));
  const credited = r.lines.findIndex((l) => l.text === '到账金额 Credited');
  t.match(r.lines[credited + 1], { text: '￥43.50', large: true });
  t.ok(lines.includes('已找零 Change paid: ￥50.00'));
  t.notOk(lines.some((l) => l.includes('Change owed') || l.includes('RECOVERED') || l.includes('REPRINT')));
  t.notOk(lines.some((l) => l.includes('\u00a5')), 'never the half-width yen');
});

t.test('no amount due, no coins', async (t) => {
  const lines = texts({ ...base, amountDue: null, coins: [] });
  t.notOk(lines.some((l) => l.startsWith('应缴')));
  t.notOk(lines.includes('硬币 Coins:'));
  t.ok(lines.includes('投入合计 Cash in: ￥90.00'));
});

t.test('change owed shows the amount and the claim code, large', async (t) => {
  const r = buildReceipt({ ...base, changePaid: 4950, changeOwed: 50, claimCode: '731904' });
  const owed = r.lines.findIndex((l) => l.text === '欠找零 Change owed');
  t.ok(owed > 0);
  t.match(r.lines[owed + 1], { text: '￥0.50', large: true });
  const code = r.lines.findIndex((l) => l.text === '领取码 Claim code');
  t.ok(code > owed);
  t.match(r.lines[code + 1], { text: '731904', large: true, align: 'center' });
  const without = texts({ ...base, changePaid: 4950, changeOwed: 50 });
  t.ok(without.some((l) => l.includes('Contact service')), 'no code: told where to go');
});

t.test('recovered and reprint markers', async (t) => {
  t.ok(texts({ ...base, recovered: true }).some((l) => l.includes('RECOVERED RECEIPT')));
  t.ok(texts({ ...base, reprint: true }).some((l) => l.includes('REPRINT')));
});

t.test('rules follow the paper width', async (t) => {
  t.ok(buildReceipt(base, { width: 48 }).lines.some((l) => l.text === '-'.repeat(48)));
  t.ok(buildReceipt(base).lines.some((l) => l.text === '-'.repeat(32)));
});

t.test('amounts that are not integer fen are refused', async (t) => {
  t.throws(() => buildReceipt({ ...base, credited: 43.5 }), RangeError);
  t.throws(() => buildReceipt({ ...base, notes: [20.0, 0.5] }), RangeError);
});

t.test('a transaction id never breaks across lines, at any paper width', async (t) => {
  const id = '01a24e24-8a21-757a-bdf2-0858f9f063cc';
  for (const width of [32, 42, 48] as const) {
    const r = buildReceipt({ ...base, txnId: id }, { width });
    const line = r.lines.find((l) => l.text.replace(/-/g, '') === id.replace(/-/g, ''));
    t.ok(line, `width ${width}: the id is one line`);
    t.ok(line!.text.length <= width, `width ${width}: ${line!.text.length} characters fit`);
  }
  t.equal(buildReceipt({ ...base, txnId: id }, { width: 48 }).lines.some((l) => l.text === id), true, 'with its hyphens where they fit');
});

t.test('a wallet payment: the wallet, the masked code and the gateway reference, no cash line', async (t) => {
  const lines = texts({ ...base, notes: [], coins: [], changePaid: 0, mobile: { amount: 4350, wallet: 'wechat', maskedCode: '13************1234', gatewayRef: 'G-1' } });
  t.ok(lines.includes('微信支付 WeChat Pay: ￥43.50'));
  t.ok(lines.includes('  付款码 Code: 13************1234'));
  t.ok(lines.includes('  交易号 Ref: G-1'));
  t.notOk(lines.some((l) => l.startsWith('投入合计')), 'no "cash in ￥0.00"');
  const qr = texts({ ...base, notes: [], coins: [], changePaid: 0, mobile: { amount: 4350, wallet: 'any' } });
  t.ok(qr.includes('手机支付 Mobile: ￥43.50'), 'the kiosk QR names no wallet');
});
