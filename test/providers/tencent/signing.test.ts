import { createCipheriv, createHmac } from 'crypto';
import {
  CallbackCryptoError,
  decryptCallback,
  tc3Sign,
  verifyContentSignature,
} from '../../../src/providers/tencent/signing';

// docs/providers/tencent.md. The body holds literal backslash-u escapes (the bytes `\u672a`), not the Chinese characters.
const DOC_BODY = String.raw`{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}`;
const DOC_COMMON = {
  service: 'cvm',
  host: 'cvm.tencentcloudapi.com',
  action: 'DescribeInstances',
  timestamp: 1551113065,
  contentType: 'application/json; charset=utf-8',
  body: DOC_BODY,
} as const;

describe('tc3Sign', () => {
  it('reproduces doc vector A (content-type;host;x-tc-action)', () => {
    const secretId = `AKID${'*'.repeat(32)}`;
    const result = tc3Sign({
      ...DOC_COMMON,
      secretId,
      secretKey: '*'.repeat(32),
      signedHeaders: ['content-type', 'host', 'x-tc-action'],
    });
    expect(result.date).toBe('2019-02-25');
    expect(result.bodyHash).toBe('35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064');
    expect(result.canonicalRequest).toBe(
      'POST\n/\n\n' +
        'content-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\nx-tc-action:describeinstances\n' +
        '\ncontent-type;host;x-tc-action\n35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064',
    );
    expect(result.canonicalRequestHash).toBe('7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84');
    expect(result.stringToSign).toBe(
      'TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n' +
        '7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84',
    );
    expect(result.signature).toBe('10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f');
    expect(result.authorization).toBe(
      `TC3-HMAC-SHA256 Credential=${secretId}/2019-02-25/cvm/tc3_request, ` +
        'SignedHeaders=content-type;host;x-tc-action, ' +
        'Signature=10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f',
    );
  });

  it('reproduces doc vector B (content-type;host, the default)', () => {
    const result = tc3Sign({ ...DOC_COMMON, secretId: 'AKIDexample', secretKey: 'Gu5t9xGARNpq86cd98joQYCN3*******' });
    expect(result.canonicalRequestHash).toBe('5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031');
    expect(result.signature).toBe('2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c');
    expect(result.authorization).toContain('SignedHeaders=content-type;host, ');
  });

  it('sorts and de-duplicates signed headers given in any order', () => {
    const keys = { ...DOC_COMMON, secretId: 'a', secretKey: 'b' };
    const sorted = tc3Sign({ ...keys, signedHeaders: ['content-type', 'host', 'x-tc-action'] });
    const shuffled = tc3Sign({ ...keys, signedHeaders: ['x-tc-action', 'host', 'content-type', 'host'] });
    expect(shuffled.signature).toBe(sorted.signature);
  });

  it('uses the UTC date, not the local one', () => {
    // 2019-02-25T23:59:59Z and one second later fall on different UTC days.
    expect(tc3Sign({ ...DOC_COMMON, secretId: 'a', secretKey: 'b', timestamp: 1551139199 }).date).toBe('2019-02-25');
    expect(tc3Sign({ ...DOC_COMMON, secretId: 'a', secretKey: 'b', timestamp: 1551139200 }).date).toBe('2019-02-26');
  });

  it('rejects signed headers without content-type and host, and a non-integer timestamp', () => {
    expect(() => tc3Sign({ ...DOC_COMMON, secretId: 'a', secretKey: 'b', signedHeaders: ['host'] })).toThrow(
      'signedHeaders must include content-type and host',
    );
    expect(() => tc3Sign({ ...DOC_COMMON, secretId: 'a', secretKey: 'b', timestamp: 1551113065.5 })).toThrow(
      RangeError,
    );
  });
});

// docs/providers/tencent.md "self vector (callback)".
const KEY = '0123456789abcdef0123456789abcdef';
const TOKEN = 'testtoken';
const PLAINTEXT =
  '{"MsgId":"yDtestMsgId0000000000000000000001","MsgType":"CancelFlows","MsgVersion":"ThirdPartyApp",' +
  '"MsgData":{"TaskId":"yDCVWUUckpwkjgiuUWGW8cRAzd84BVQa"}}';
const ENCRYPT =
  'STziKTBEqcl+QCNrq6wcfhtk0oee2igKT4wkzW4PijM0K2fB2VqOwZedZ14P2iBM9N+nk2TQGUQvMrENrM0n26ZrnUYnH3PGy/KlMucf/xafD' +
  'u7bTdhCfmEV/6i6jG7LslrKRiVaJ5Ffxwn4vaMXcAuJp77CvnmuLR3A1nvL5yfVXwpyYyHS7/MdoDmtO0uzEnpOBryy/qdMzHKQ6beVMA==';
const BODY = `{"encrypt":"${ENCRYPT}"}`;
const SIGNATURE_HEADER = 'sha256=f684b1dc9e713a1427217a07e1ce203035296db7ccc119ef647b688080f2da25';

describe('decryptCallback', () => {
  it('decrypts the self vector', () => {
    expect(decryptCallback(ENCRYPT, KEY)).toBe(PLAINTEXT);
  });

  it('round-trips non-ASCII plaintext', () => {
    const message = '{"CancelMessage":"自动撤销(通过接口实现)"}';
    const key = Buffer.from(KEY, 'utf8');
    const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
    const encrypt = Buffer.concat([cipher.update(message, 'utf8'), cipher.final()]).toString('base64');
    expect(decryptCallback(encrypt, KEY)).toBe(message);
  });

  it.each([
    ['a key of the wrong length', ENCRYPT, 'short-key', 'callback key must be 32 bytes, got 9'],
    ['characters outside base64', 'not base64!', KEY, 'encrypt is not valid base64'],
    ['an empty string', '', KEY, 'encrypt is not valid base64'],
    ['a truncated ciphertext', ENCRYPT.slice(0, 20), KEY, 'ciphertext length 15 is not a multiple of 16'],
    ['the wrong key', ENCRYPT, 'fedcba9876543210fedcba9876543210', 'decryption failed: bad padding or wrong key'],
  ])('throws CallbackCryptoError for %s', (_case, encrypt, key, message) => {
    let caught: unknown;
    try {
      decryptCallback(encrypt, key);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CallbackCryptoError);
    expect((caught as CallbackCryptoError).message).toBe(message);
    expect((caught as CallbackCryptoError).name).toBe('CallbackCryptoError');
  });
});

describe('verifyContentSignature', () => {
  it('accepts the self vector over the exact body, as a string or as bytes', () => {
    expect(verifyContentSignature(BODY, TOKEN, SIGNATURE_HEADER)).toBe(true);
    expect(verifyContentSignature(Buffer.from(BODY, 'utf8'), TOKEN, SIGNATURE_HEADER)).toBe(true);
  });

  it('rejects a tampered body and a wrong token', () => {
    expect(verifyContentSignature(BODY.replace('STzi', 'STzj'), TOKEN, SIGNATURE_HEADER)).toBe(false);
    expect(verifyContentSignature(`${BODY} `, TOKEN, SIGNATURE_HEADER)).toBe(false);
    expect(verifyContentSignature(BODY, 'othertoken', SIGNATURE_HEADER)).toBe(false);
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['without the sha256= prefix', SIGNATURE_HEADER.slice('sha256='.length)],
    ['with another algorithm', SIGNATURE_HEADER.replace('sha256=', 'sha1=')],
    ['truncated', SIGNATURE_HEADER.slice(0, -2)],
    ['not hex', `sha256=${'z'.repeat(64)}`],
  ])('returns false for a header that is %s', (_case, header) => {
    expect(verifyContentSignature(BODY, TOKEN, header)).toBe(false);
  });

  it('accepts the probe body {} when signed with the token', () => {
    const header = `sha256=${createHmac('sha256', TOKEN).update('{}').digest('hex')}`;
    expect(verifyContentSignature('{}', TOKEN, header)).toBe(true);
  });
});
