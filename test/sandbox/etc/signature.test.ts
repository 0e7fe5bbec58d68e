import { generateKeyPairSync } from 'crypto';
import {
  ETC_SAMPLE_APP_ID,
  ETC_SAMPLE_PUBLIC_KEY,
  canonicalString,
  parsePublicKey,
  verifySignature,
} from '../../../src/sandbox/etc/signature';
import { signString } from './signer';

// docs/providers/etc.md.
const DOC_STRING = 'apiCode=test.add&appId=OIG0AF4DMOK2VC2N&name=测试&nonce=123AO9&timestamp=1604990109987';
const DOC_SIGNATURE =
  'CN0XEbwadVuQWHhTPfvPxCzZkd8VqTHH4TtL4Lx42lcvUxE0w5NfidiAi8q3lnsv83mb/Dc+SAZTmWaMfArgcnmCXKA8ChM1XyPPqNhSJd4RIQ/ZAonax32qJsYl2opC7xlYmo27hNtDzLpQPfux2vvXRHx2lswMLgfL23F1ENo=';
const REVOKE_STRING =
  'apiCode=esign.signflows.revoke&appId=OIG0AF4DMOK2VC2N&etc_member_no=40eb61714d9e49088bac7a3c56d69d66&flowId=c64665aa4f1c45679e65b6fae33cd773&nonce=123AO9&revokeReason=合同有误&timestamp=1604990109987';
const REVOKE_SIGNATURE =
  'c3Ki4EliH3LtzeuAEGr5bAKru0mkTHXO+iJq+mH9cWYuoU1xEIHgJaT+XKi83YHCB7U6R1BbWvrpdaPRqXt/EfjpxPV+baQyU6kT/yq6WgiwGXlYwvONpEWy3/ADllSLsSQxb6E18UoWa2Hbgw6HITH6TqWP72DqeqcxnPG4kXE=';

const sampleKey = parsePublicKey(ETC_SAMPLE_PUBLIC_KEY);

describe('ETC gateway signature', () => {
  it('builds the doc vector string from a request', () => {
    expect(
      canonicalString({
        appId: ETC_SAMPLE_APP_ID,
        nonce: '123AO9',
        timestamp: 1604990109987,
        apiCode: 'test.add',
        params: { name: '测试' },
      }),
    ).toBe(DOC_STRING);
  });

  it('accepts the doc signature and rejects a changed one', () => {
    expect(verifySignature(DOC_STRING, DOC_SIGNATURE, sampleKey)).toBe(true);
    const flipped = (DOC_SIGNATURE[0] === 'C' ? 'D' : 'C') + DOC_SIGNATURE.slice(1);
    expect(verifySignature(DOC_STRING, flipped, sampleKey)).toBe(false);
    expect(verifySignature(DOC_STRING.replace('测试', '测验'), DOC_SIGNATURE, sampleKey)).toBe(false);
  });

  it('reproduces the doc signature with the sample private key (test signer agrees)', () => {
    expect(signString(DOC_STRING)).toBe(DOC_SIGNATURE);
  });

  it('matches the self vector of the seed 000 revoke example', () => {
    expect(
      canonicalString({
        appId: ETC_SAMPLE_APP_ID,
        nonce: '123AO9',
        timestamp: 1604990109987,
        apiCode: 'esign.signflows.revoke',
        params: {
          flowId: 'c64665aa4f1c45679e65b6fae33cd773',
          etc_member_no: '40eb61714d9e49088bac7a3c56d69d66',
          revokeReason: '合同有误',
        },
      }),
    ).toBe(REVOKE_STRING);
    expect(verifySignature(REVOKE_STRING, REVOKE_SIGNATURE, sampleKey)).toBe(true);
  });

  it('leaves objects, arrays and null out, prints numbers and booleans plainly', () => {
    expect(
      canonicalString({
        appId: 'A',
        nonce: 'N',
        timestamp: '1604990109987',
        apiCode: 'x',
        params: { nested: { a: 1 }, list: [1, 2], none: null, count: 3, ok: true, amount: 1.5, empty: '' },
      }),
    ).toBe('amount=1.5&apiCode=x&appId=A&count=3&empty=&nonce=N&ok=true&timestamp=1604990109987');
  });

  it('does not let params repeat a top-level field', () => {
    expect(
      canonicalString({ appId: 'A', nonce: 'N', timestamp: 1, apiCode: 'x', params: { appId: 'B' } }),
    ).toBe('apiCode=x&appId=A&nonce=N&timestamp=1');
  });

  it('rejects a signature by another key and malformed Base64', () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const der = other.privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
    expect(verifySignature(DOC_STRING, signString(DOC_STRING, der), sampleKey)).toBe(false);
    expect(verifySignature(DOC_STRING, 'not base64!', sampleKey)).toBe(false);
    expect(verifySignature(DOC_STRING, '', sampleKey)).toBe(false);
  });
});
