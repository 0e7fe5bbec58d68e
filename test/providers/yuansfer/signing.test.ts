import { createHash } from 'crypto';
import { checkVerifySign, verifySign } from '../../../src/providers/yuansfer/signing';

// docs/providers/yuansfer.md doc vectors.
const TOKEN = '5cbfb079f15b150122261c8537086d77a';

const SECURE_PAY = {
  amount: '1.00',
  callbackUrl: 'https://wx.yuansfer.yunkeguan.com/wx',
  currency: 'USD',
  goodsInfo: '[{"goods_name":"Yuansfer","quantity":"1"}]',
  ipnUrl: 'https://wx.yuansfer.yunkeguan.com/wx',
  merchantNo: '200043',
  reference: 'seq_1525922323',
  storeNo: '300014',
  terminal: 'ONLINE',
  timeout: '120',
  vendor: 'alipay',
};
const APPLY_TOKEN = {
  merchantNo: '200043',
  storeNo: '300014',
  autoDebitNo: '298222562856331071',
  grantType: 'AUTHORIZATION_CODE',
};
const IPN = {
  transactionNo: '305680500880311923',
  status: 'success',
  amount: '0.01',
  currency: 'USD',
  settleCurrency: 'USD',
  reference: 'test1666247277861',
  time: '20221020142817',
};

describe('verifySign', () => {
  it('uses the documented MD5 of the token', () => {
    expect(createHash('md5').update(TOKEN).digest('hex')).toBe('186abea4b8610d7ff03768255588597a');
  });

  it.each([
    ['the secure-pay request', SECURE_PAY, 'b6bfd66531ae7c9499115c7480a2c8aa'],
    ['the apply-token request', APPLY_TOKEN, 'edeb2fe1c1be1c4d4763ac7b7c3a4098'],
    ['the IPN', IPN, '435d01c5d5fa88cfe8168fbfbf732519'],
  ])('reproduces the doc vector for %s', (_case, params, expected) => {
    expect(verifySign(params, TOKEN)).toBe(expected);
  });

  it('matches the documented joined string for the secure-pay request', () => {
    const joined =
      'amount=1.00&callbackUrl=https://wx.yuansfer.yunkeguan.com/wx&currency=USD' +
      '&goodsInfo=[{"goods_name":"Yuansfer","quantity":"1"}]&ipnUrl=https://wx.yuansfer.yunkeguan.com/wx' +
      '&merchantNo=200043&reference=seq_1525922323&storeNo=300014&terminal=ONLINE&timeout=120&vendor=alipay';
    const expected = createHash('md5').update(`${joined}&186abea4b8610d7ff03768255588597a`).digest('hex');
    expect(expected).toBe('b6bfd66531ae7c9499115c7480a2c8aa');
  });

  it('ignores verifySign and empty values, and does not depend on insertion order', () => {
    const noisy = {
      verifySign: 'deadbeefdeadbeefdeadbeefdeadbeef',
      note: '',
      osType: undefined,
      osVersion: null,
      ...Object.fromEntries(Object.entries(APPLY_TOKEN).reverse()),
    };
    expect(verifySign(noisy, TOKEN)).toBe('edeb2fe1c1be1c4d4763ac7b7c3a4098');
  });

  it('signs numbers and booleans by their string form, keeping zero and false', () => {
    expect(verifySign({ timeout: 120, amount: '1.00', flag: false, n: 0 }, TOKEN)).toBe(
      verifySign({ timeout: '120', amount: '1.00', flag: 'false', n: '0' }, TOKEN),
    );
    expect(verifySign({ n: 0 }, TOKEN)).not.toBe(verifySign({}, TOKEN));
  });

  it('signs UTF-8 bytes of non-ASCII values', () => {
    const joined = `note=测试&${createHash('md5').update(TOKEN).digest('hex')}`;
    expect(verifySign({ note: '测试' }, TOKEN)).toBe(createHash('md5').update(Buffer.from(joined, 'utf8')).digest('hex'));
  });
});

describe('checkVerifySign', () => {
  const signedIpn = { ...IPN, verifySign: '435d01c5d5fa88cfe8168fbfbf732519' };

  it('accepts the signed doc IPN, in either hex case', () => {
    expect(checkVerifySign(signedIpn, TOKEN)).toBe(true);
    expect(checkVerifySign({ ...signedIpn, verifySign: signedIpn.verifySign.toUpperCase() }, TOKEN)).toBe(true);
    expect(checkVerifySign({ ...signedIpn, note: '' }, TOKEN)).toBe(true);
  });

  it.each([
    ['a changed amount', { ...signedIpn, amount: '100.00' }],
    ['a changed status', { ...signedIpn, status: 'failed' }],
    ['an added parameter', { ...signedIpn, extra: '1' }],
    ['a removed parameter', { ...signedIpn, time: undefined }],
    ['a wrong token', signedIpn, 'wrong-token'],
    ['a missing verifySign', { ...IPN }],
    ['a verifySign that is not a string', { ...IPN, verifySign: 435 }],
    ['a verifySign that is not 32 hex digits', { ...signedIpn, verifySign: 'z'.repeat(32) }],
    ['a truncated verifySign', { ...signedIpn, verifySign: signedIpn.verifySign.slice(0, 30) }],
    ['an array value (repeated form field)', { ...signedIpn, status: ['success', 'success'] }],
    ['an object value', { ...signedIpn, amount: { value: '0.01' } }],
  ])('rejects %s', (_case, params: Record<string, unknown>, token = TOKEN) => {
    expect(checkVerifySign(params, token)).toBe(false);
  });
});
