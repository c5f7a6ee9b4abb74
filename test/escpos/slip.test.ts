import t from 'tap';
import { buildSlip, type SlipData } from '../../drivers/escpos/slip.js';

const base: SlipData = {
  operator: '示例电信 自助缴费',
  terminalId: 'KIOSK-0001',
  serviceNumber: '400-800-1234',
  at: new Date('2026-01-01T02:03:04Z'),
  txnId: 'T-1',
  phone: '13800138000',
  cashIn: 0,
  cardIn: 0,
  credited: 0,
  changePaid: 0,
  owed: 0,
  changeCredited: 0,
  unresolved: [],
  cardReversed: 0,
  recovered: false,
};

const text = (d: SlipData) => buildSlip(d, { width: 42 }).lines.map((l) => l.text);

t.test('a jammed note: what went in, nothing credited, the note to claim, the code and the service number', async (t) => {
  const lines = text({ ...base, unresolved: [5000], claimCode: 'ABCD-EFGH' });
  t.ok(lines.includes('异常凭条 FAULT SLIP'));
  t.ok(lines.includes('号码 Account: 138****8000'), 'the phone number masked');
  t.notOk(lines.some((l) => l.includes('13800138000')), 'never the whole number');
  t.ok(lines.includes('时间 Time: 2026-01-01 10:03:04 UTC+08:00'), 'China Standard Time, and it says so');
  t.ok(lines.includes('投入现金 Cash in: ￥50.00'), 'the unresolved note counts as put in');
  t.ok(lines.includes('到账金额 Credited: ￥0.00'));
  t.ok(lines.includes('  ￥50.00 x 1'));
  t.ok(lines.includes('ABCD-EFGH'));
  t.ok(lines.includes('待领取 To claim: ￥50.00'));
  t.ok(lines.includes('客服电话 Service: 400-800-1234'));
  t.equal(buildSlip({ ...base, claimCode: 'ABCD-EFGH' }).qr, 'T-1 ABCD-EFGH', 'the QR carries the transaction and the code');
});

t.test('change owed, change credited, a card reversed, a restart: each says so', async (t) => {
  const owed = text({ ...base, cashIn: 5000, credited: 4500, owed: 500, claimCode: 'ABCD-EFGH' });
  t.ok(owed.includes('欠找零 Change owed') && owed.includes('￥5.00'));
  const credited = text({ ...base, cashIn: 5000, credited: 5000, changeCredited: 500, claimCode: 'ABCD-EFGH' });
  t.ok(credited.includes('找零已充入账户 Change credited'));
  t.notOk(credited.some((l) => l.startsWith('待领取')), 'nothing left to claim');
  const card = text({ ...base, cardReversed: 12350 });
  t.ok(card.includes('未扣款 Not charged: ￥123.50'));
  t.notOk(card.some((l) => l.includes('Claim code')), 'no claim code when nothing is owed');
  t.ok(text({ ...base, cashIn: 2000, credited: 2000, recovered: true }).includes('终端重启后已处理 Closed after a restart'));
  t.ok(text({ ...base, reprint: true, unresolved: [100] }).includes('** 重打 REPRINT **'));
});
