import { checkRequestSign, computeVerifySign } from '../../../src/sandbox/yuansfer/verify-sign';

// docs/providers/yuansfer.md, doc vectors.
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

describe('computeVerifySign', () => {
  it('reproduces doc vector 1 (secure-pay parameters)', () => {
    expect(computeVerifySign(SECURE_PAY, TOKEN)).toBe('b6bfd66531ae7c9499115c7480a2c8aa');
  });

  it('reproduces doc vector 2 (apply-token, keys not in sorted order)', () => {
    expect(computeVerifySign(APPLY_TOKEN, TOKEN)).toBe('edeb2fe1c1be1c4d4763ac7b7c3a4098');
  });

  it('reproduces doc vector 3 (IPN)', () => {
    expect(computeVerifySign(IPN, TOKEN)).toBe('435d01c5d5fa88cfe8168fbfbf732519');
  });

  it('ignores verifySign itself and empty values', () => {
    const noisy = { ...APPLY_TOKEN, verifySign: 'whatever', note: '', osType: null, osVersion: undefined };
    expect(computeVerifySign(noisy, TOKEN)).toBe('edeb2fe1c1be1c4d4763ac7b7c3a4098');
  });

  it('writes numbers as on the wire', () => {
    expect(computeVerifySign({ ...SECURE_PAY, timeout: 120 }, TOKEN)).toBe('b6bfd66531ae7c9499115c7480a2c8aa');
  });
});

describe('checkRequestSign', () => {
  it('accepts a request carrying the right verifySign', () => {
    expect(checkRequestSign({ ...APPLY_TOKEN, verifySign: 'edeb2fe1c1be1c4d4763ac7b7c3a4098' }, TOKEN)).toEqual({ ok: true });
  });

  it('refuses a mismatch as seed 004 shows: 000000 "data error : verifySign"', () => {
    expect(checkRequestSign({ ...APPLY_TOKEN, storeNo: '300015', verifySign: 'edeb2fe1c1be1c4d4763ac7b7c3a4098' }, TOKEN)).toEqual({
      ok: false,
      ret_code: '000000',
      ret_msg: 'data error : verifySign',
    });
    expect(checkRequestSign({ ...APPLY_TOKEN, verifySign: 'short' }, TOKEN)).toMatchObject({ ok: false, ret_code: '000000' });
    expect(checkRequestSign({ ...APPLY_TOKEN, verifySign: 42 }, TOKEN)).toMatchObject({ ok: false, ret_code: '000000' });
  });

  it('refuses a request under another token', () => {
    expect(checkRequestSign({ ...IPN, verifySign: '435d01c5d5fa88cfe8168fbfbf732519' }, 'another-token')).toMatchObject({
      ok: false,
      ret_code: '000000',
    });
  });

  it.each([undefined, null, ''])('refuses a missing verifySign (%p) as 000020 parameter null', (verifySign) => {
    expect(checkRequestSign({ ...APPLY_TOKEN, verifySign }, TOKEN)).toEqual({
      ok: false,
      ret_code: '000020',
      ret_msg: 'parameter null : verifySign',
    });
  });
});
