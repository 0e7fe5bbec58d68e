import { createDecipheriv, createHash, createHmac } from 'crypto';
import { contentSignature, encryptCallback, verifyTc3, type Tc3Request } from '../../../src/sandbox/tencent/tc3';

// docs/providers/tencent.md, doc vectors A and B (Tencent Cloud's published TC3 example).
const TIMESTAMP = 1551113065;
const HOST = 'cvm.tencentcloudapi.com';
const CONTENT_TYPE = 'application/json; charset=utf-8';
// Exact bytes: the escapes are literal backslash-u sequences, not the characters they name.
const BODY = '{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}';

const A_SECRET_ID = `AKID${'*'.repeat(32)}`;
const A_SECRET_KEY = '*'.repeat(32);
const A_SIGNATURE = '10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f';

const B_SECRET_ID = 'AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******';
const B_SECRET_KEY = 'Gu5t9xGARNpq86cd98joQYCN3*******';
const B_SIGNATURE = '2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c';

function authorization(secretId: string, signedHeaders: string, signature: string, scope = '2019-02-25/cvm'): string {
  return `TC3-HMAC-SHA256 Credential=${secretId}/${scope}/tc3_request, SignedHeaders=${signedHeaders}, Signature=${signature}`;
}

const secrets: Record<string, string> = { [A_SECRET_ID]: A_SECRET_KEY, [B_SECRET_ID]: B_SECRET_KEY };

function vectorA(overrides: Partial<Tc3Request> = {}, headers: Record<string, string | undefined> = {}): Tc3Request {
  return {
    method: 'POST',
    path: '/',
    headers: {
      authorization: authorization(A_SECRET_ID, 'content-type;host;x-tc-action', A_SIGNATURE),
      'content-type': CONTENT_TYPE,
      host: HOST,
      'x-tc-action': 'DescribeInstances',
      'x-tc-timestamp': String(TIMESTAMP),
      'x-tc-version': '2017-03-12',
      'x-tc-region': 'ap-guangzhou',
      ...headers,
    },
    body: BODY,
    now: TIMESTAMP,
    lookupSecret: (id) => secrets[id],
    service: 'cvm',
    ...overrides,
  };
}

function vectorB(overrides: Partial<Tc3Request> = {}): Tc3Request {
  return vectorA(overrides, { authorization: authorization(B_SECRET_ID, 'content-type;host', B_SIGNATURE) });
}

describe('verifyTc3', () => {
  it('accepts doc vector A (content-type;host;x-tc-action, action value lower-cased in the signature)', () => {
    expect(verifyTc3(vectorA())).toEqual({ ok: true, secretId: A_SECRET_ID });
  });

  it('accepts doc vector A with the body as a Buffer', () => {
    expect(verifyTc3(vectorA({ body: Buffer.from(BODY, 'utf8') }))).toEqual({ ok: true, secretId: A_SECRET_ID });
  });

  it('accepts doc vector B (content-type;host)', () => {
    expect(verifyTc3(vectorB())).toEqual({ ok: true, secretId: B_SECRET_ID });
  });

  it('accepts a signature over the x-tc-action value as sent, not lower-cased', () => {
    // Sign the as-sent spelling independently of the verifier, straight from the §2 recipe.
    const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
    const canonical = `POST\n/\n\ncontent-type:${CONTENT_TYPE}\nhost:${HOST}\nx-tc-action:DescribeInstances\n\ncontent-type;host;x-tc-action\n${sha(BODY)}`;
    const sts = `TC3-HMAC-SHA256\n${TIMESTAMP}\n2019-02-25/cvm/tc3_request\n${sha(canonical)}`;
    const h = (k: Buffer | string, m: string): Buffer => createHmac('sha256', k).update(m).digest();
    const key = h(h(h(`TC3${A_SECRET_KEY}`, '2019-02-25'), 'cvm'), 'tc3_request');
    const signature = createHmac('sha256', key).update(sts).digest('hex');
    expect(signature).not.toBe(A_SIGNATURE);
    const req = vectorA({}, { authorization: authorization(A_SECRET_ID, 'content-type;host;x-tc-action', signature) });
    expect(verifyTc3(req)).toEqual({ ok: true, secretId: A_SECRET_ID });
  });

  it('accepts a timestamp exactly 300 s away, either side', () => {
    expect(verifyTc3(vectorA({ now: TIMESTAMP + 300 })).ok).toBe(true);
    expect(verifyTc3(vectorA({ now: TIMESTAMP - 300 })).ok).toBe(true);
  });

  it('refuses a tampered body with AuthFailure.SignatureFailure', () => {
    const result = verifyTc3(vectorA({ body: BODY.replace('"Limit": 1', '"Limit": 2') }));
    expect(result).toEqual({
      ok: false,
      code: 'AuthFailure.SignatureFailure',
      message: 'The provided credentials could not be validated. Please check your signature is correct.',
    });
  });

  it('refuses a changed signed header (host) with AuthFailure.SignatureFailure', () => {
    expect(verifyTc3(vectorB({ headers: { ...vectorB().headers, host: 'cvm.ap-shanghai.tencentcloudapi.com' } }))).toMatchObject({
      ok: false,
      code: 'AuthFailure.SignatureFailure',
    });
  });

  it('refuses the right signature under the wrong key with AuthFailure.SignatureFailure', () => {
    expect(verifyTc3(vectorA({ lookupSecret: () => B_SECRET_KEY }))).toMatchObject({
      ok: false,
      code: 'AuthFailure.SignatureFailure',
    });
  });

  it('refuses a timestamp 301 s old with AuthFailure.SignatureExpire', () => {
    const result = verifyTc3(vectorA({ now: TIMESTAMP + 301 }));
    expect(result).toEqual({
      ok: false,
      code: 'AuthFailure.SignatureExpire',
      message:
        'Signature expired. Timestamp is 1551113065, server time is 1551113366; they must not differ by more than 300 seconds.',
    });
  });

  it('refuses a timestamp 301 s in the future and a non-numeric one with AuthFailure.SignatureExpire', () => {
    expect(verifyTc3(vectorA({ now: TIMESTAMP - 301 }))).toMatchObject({ code: 'AuthFailure.SignatureExpire' });
    expect(verifyTc3(vectorA({}, { 'x-tc-timestamp': 'soon' }))).toMatchObject({ code: 'AuthFailure.SignatureExpire' });
  });

  it('refuses an unknown SecretId with AuthFailure.SecretIdNotFound', () => {
    expect(verifyTc3(vectorA({ lookupSecret: () => undefined }))).toEqual({
      ok: false,
      code: 'AuthFailure.SecretIdNotFound',
      message: 'The SecretId is not found, please ensure that your SecretId is correct.',
    });
  });

  it('refuses a credential date that is not the timestamp UTC date', () => {
    const req = vectorA({}, { authorization: authorization(A_SECRET_ID, 'content-type;host;x-tc-action', A_SIGNATURE, '2019-02-26/cvm') });
    const result = verifyTc3(req);
    expect(result).toMatchObject({ ok: false, code: 'AuthFailure.SignatureFailure' });
    expect(!result.ok && result.message).toContain('credential date 2019-02-26 is not the UTC date of X-TC-Timestamp (2019-02-25)');
  });

  it('refuses a credential for another service (essbasic by default)', () => {
    const result = verifyTc3(vectorA({ service: undefined }));
    expect(result).toMatchObject({ ok: false, code: 'AuthFailure.InvalidAuthorization' });
    expect(!result.ok && result.message).toContain('service `cvm`, expected `essbasic`');
  });

  const credential = `Credential=${A_SECRET_ID}/2019-02-25/cvm/tc3_request`;
  it.each([
    [
      'another algorithm',
      `HMAC-SHA256 ${credential}, SignedHeaders=content-type;host, Signature=${A_SIGNATURE}`,
      'the algorithm must be TC3-HMAC-SHA256',
    ],
    ['the algorithm alone', 'TC3-HMAC-SHA256', 'is not a key=value pair'],
    [
      'no Signature',
      `TC3-HMAC-SHA256 ${credential}, SignedHeaders=content-type;host`,
      'must carry Credential, SignedHeaders and Signature',
    ],
    [
      'a short credential scope',
      `TC3-HMAC-SHA256 Credential=${A_SECRET_ID}/2019-02-25/cvm, SignedHeaders=content-type;host, Signature=${A_SIGNATURE}`,
      'Credential must be',
    ],
    ['unsorted SignedHeaders', authorization(A_SECRET_ID, 'host;content-type', A_SIGNATURE), 'must be sorted'],
    [
      'upper-case SignedHeaders',
      authorization(A_SECRET_ID, 'Content-Type;Host', A_SIGNATURE),
      'not a lower-case header name',
    ],
    [
      'SignedHeaders without host',
      authorization(A_SECRET_ID, 'content-type;x-tc-action', A_SIGNATURE),
      'must include content-type and host',
    ],
  ])('refuses a malformed Authorization header (%s) with AuthFailure.InvalidAuthorization', (_name, header, reason) => {
    const result = verifyTc3(vectorA({}, { authorization: header }));
    expect(result).toMatchObject({ ok: false, code: 'AuthFailure.InvalidAuthorization' });
    expect(!result.ok && result.message).toContain(reason);
  });

  it('refuses a signature that is not lower-case hex with AuthFailure.SignatureFailure', () => {
    const req = vectorA({}, { authorization: authorization(A_SECRET_ID, 'content-type;host;x-tc-action', A_SIGNATURE.toUpperCase()) });
    expect(verifyTc3(req)).toMatchObject({ ok: false, code: 'AuthFailure.SignatureFailure' });
  });

  it('refuses a request without Authorization or X-TC-Timestamp with MissingParameter', () => {
    expect(verifyTc3(vectorA({}, { authorization: undefined }))).toEqual({
      ok: false,
      code: 'MissingParameter',
      message: 'The request is missing a required parameter `Authorization`.',
    });
    expect(verifyTc3(vectorA({}, { 'x-tc-timestamp': undefined }))).toEqual({
      ok: false,
      code: 'MissingParameter',
      message: 'The request is missing a required parameter `X-TC-Timestamp`.',
    });
  });
});

// docs/providers/tencent.md, self vector (callback).
const CALLBACK_KEY = '0123456789abcdef0123456789abcdef';
const CALLBACK_TOKEN = 'testtoken';
const CALLBACK_PLAINTEXT =
  '{"MsgId":"yDtestMsgId0000000000000000000001","MsgType":"CancelFlows","MsgVersion":"ThirdPartyApp","MsgData":{"TaskId":"yDCVWUUckpwkjgiuUWGW8cRAzd84BVQa"}}';
const CALLBACK_ENCRYPT =
  'STziKTBEqcl+QCNrq6wcfhtk0oee2igKT4wkzW4PijM0K2fB2VqOwZedZ14P2iBM9N+nk2TQGUQvMrENrM0n26ZrnUYnH3PGy/KlMucf/xafDu7bTdhCfmEV/6i6jG7LslrKRiVaJ5Ffxwn4vaMXcAuJp77CvnmuLR3A1nvL5yfVXwpyYyHS7/MdoDmtO0uzEnpOBryy/qdMzHKQ6beVMA==';

describe('encryptCallback', () => {
  it('reproduces the self vector', () => {
    expect(encryptCallback(CALLBACK_PLAINTEXT, CALLBACK_KEY)).toBe(CALLBACK_ENCRYPT);
  });

  it('decrypts back to the message with the receiver recipe (key, IV = first 16 bytes)', () => {
    const key = Buffer.from(CALLBACK_KEY, 'utf8');
    const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16));
    const plain = Buffer.concat([decipher.update(CALLBACK_ENCRYPT, 'base64'), decipher.final()]).toString('utf8');
    expect(plain).toBe(CALLBACK_PLAINTEXT);
  });

  it('refuses a key that is not 32 bytes', () => {
    expect(() => encryptCallback('{}', 'short')).toThrow(new RangeError('The Tencent callback key must be 32 bytes, got 5'));
  });
});

describe('contentSignature', () => {
  it('reproduces the self vector over {"encrypt":…}', () => {
    expect(contentSignature(`{"encrypt":"${CALLBACK_ENCRYPT}"}`, CALLBACK_TOKEN)).toBe(
      'sha256=f684b1dc9e713a1427217a07e1ce203035296db7ccc119ef647b688080f2da25',
    );
  });
});
