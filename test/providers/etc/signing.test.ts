import { createPrivateKey, createPublicKey, createVerify } from 'node:crypto';
import { ETC_SANDBOX_PRIVATE_KEY } from '../../../src/config';
import { etcNonce, etcSign, etcStringToSign } from '../../../src/providers/etc/signing';

// docs/providers/etc.md: the published sample key pair and vectors.
const privateKey = createPrivateKey({ key: Buffer.from(ETC_SANDBOX_PRIVATE_KEY, 'base64'), format: 'der', type: 'pkcs8' });
const PUBLIC_KEY =
  'MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCWJp6jtuKcpR+g+PiQbM5+dmVfobLFvu+wmqDbJ6zwlLQ/GVwT0OrYjzIZBciTa0jEVLELYTipUg90Pqz6Y7ABgGvuDoRVLPEdqCvb3o90hfu82dOHCiRvny4xsWuEdm5s1W7m2S/gQJPWNqmtSClezTUu409/DurBMxUQYpNcmwIDAQAB';

describe('ETC SHA1withRSA signing', () => {
  it('reproduces the doc vector', () => {
    const string = etcStringToSign({ appId: 'OIG0AF4DMOK2VC2N', nonce: '123AO9', timestamp: 1604990109987, apiCode: 'test.add', params: { name: '测试' } });
    expect(string).toBe('apiCode=test.add&appId=OIG0AF4DMOK2VC2N&name=测试&nonce=123AO9&timestamp=1604990109987');
    expect(etcSign(string, privateKey)).toBe(
      'CN0XEbwadVuQWHhTPfvPxCzZkd8VqTHH4TtL4Lx42lcvUxE0w5NfidiAi8q3lnsv83mb/Dc+SAZTmWaMfArgcnmCXKA8ChM1XyPPqNhSJd4RIQ/ZAonax32qJsYl2opC7xlYmo27hNtDzLpQPfux2vvXRHx2lswMLgfL23F1ENo=',
    );
  });

  it('reproduces the revoke self vector from seed 000', () => {
    const string = etcStringToSign({
      appId: 'OIG0AF4DMOK2VC2N',
      nonce: '123AO9',
      timestamp: 1604990109987,
      apiCode: 'esign.signflows.revoke',
      params: { flowId: 'c64665aa4f1c45679e65b6fae33cd773', etc_member_no: '40eb61714d9e49088bac7a3c56d69d66', revokeReason: '合同有误' },
    });
    expect(string).toBe(
      'apiCode=esign.signflows.revoke&appId=OIG0AF4DMOK2VC2N&etc_member_no=40eb61714d9e49088bac7a3c56d69d66&flowId=c64665aa4f1c45679e65b6fae33cd773&nonce=123AO9&revokeReason=合同有误&timestamp=1604990109987',
    );
    expect(etcSign(string, privateKey)).toBe(
      'c3Ki4EliH3LtzeuAEGr5bAKru0mkTHXO+iJq+mH9cWYuoU1xEIHgJaT+XKi83YHCB7U6R1BbWvrpdaPRqXt/EfjpxPV+baQyU6kT/yq6WgiwGXlYwvONpEWy3/ADllSLsSQxb6E18UoWa2Hbgw6HITH6TqWP72DqeqcxnPG4kXE=',
    );
  });

  it('leaves objects, arrays and nulls out and prints numbers and booleans plainly', () => {
    const string = etcStringToSign({ appId: 'A', nonce: 'N', timestamp: 1, apiCode: 'x', params: { b: 2.5, a: true, o: { k: 1 }, l: [1], n: null } });
    expect(string).toBe('a=true&apiCode=x&appId=A&b=2.5&nonce=N&timestamp=1');
  });

  it('produces signatures the published public key verifies', () => {
    const publicKey = createPublicKey({ key: Buffer.from(PUBLIC_KEY, 'base64'), format: 'der', type: 'spki' });
    const signature = etcSign('anything', privateKey);
    expect(createVerify('RSA-SHA1').update('anything').verify(publicKey, signature, 'base64')).toBe(true);
  });

  it('draws six-character nonces', () => {
    const nonces = new Set(Array.from({ length: 50 }, etcNonce));
    for (const n of nonces) expect(n).toMatch(/^[A-Z0-9]{6}$/);
    expect(nonces.size).toBeGreaterThan(45);
  });
});
