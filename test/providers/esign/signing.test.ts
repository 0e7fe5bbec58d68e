import { createHmac } from 'crypto';
import {
  canonicalPathAndQuery,
  contentMd5,
  esignRequestHeaders,
  esignSignature,
  esignStringToSign,
  verifyEsignCallback,
} from '../../../src/providers/esign/signing';

// docs/providers/esign.md self vectors.
const SECRET = 'testAppSecret0123456789';
const FLOW = '/v3/sign-flow/0f0c2112f0000004ed3aea';
const RESCISSION_BODY =
  '{"rescindReason":"1","rescindFileList":["f78dd1a2b3"],' +
  '"rescissionInitiator":{"orgInitiator":{"orgId":"842ec8ce3a","transactor":{"psnId":"7ffcae0b1c"}}}}';

describe('contentMd5', () => {
  it('is Base64(MD5) of the body bytes and empty for no body', () => {
    expect(contentMd5(RESCISSION_BODY)).toBe('VNErkZ8pe7YeOv/yTokR6g==');
    expect(contentMd5(Buffer.from(RESCISSION_BODY, 'utf8'))).toBe('VNErkZ8pe7YeOv/yTokR6g==');
    expect(contentMd5('')).toBe('');
    expect(contentMd5(Buffer.alloc(0))).toBe('');
  });
});

describe('request signing', () => {
  it('reproduces the POST initiate-rescission vector', () => {
    const stringToSign = esignStringToSign({
      method: 'POST',
      contentMd5: contentMd5(RESCISSION_BODY),
      contentType: 'application/json; charset=UTF-8',
      pathAndQuery: `${FLOW}/initiate-rescission`,
    });
    expect(stringToSign).toBe(
      `POST\n*/*\nVNErkZ8pe7YeOv/yTokR6g==\napplication/json; charset=UTF-8\n\n${FLOW}/initiate-rescission`,
    );
    expect(esignSignature(SECRET, stringToSign)).toBe('hU51brDtPGW0kNluFFCnQjIdVdzC2MaVfeJx7xgXEAU=');
  });

  it('reproduces the GET detail vector', () => {
    const stringToSign = esignStringToSign({
      method: 'GET',
      contentMd5: '',
      contentType: '',
      pathAndQuery: `${FLOW}/detail`,
    });
    expect(stringToSign).toBe('GET\n*/*\n\n\n\n/v3/sign-flow/0f0c2112f0000004ed3aea/detail');
    expect(esignSignature(SECRET, stringToSign)).toBe('MaRv3nrQwsIxleDLqnMnmHgPX9sxX8bY2HwGk3LsclQ=');
  });

  it('puts signed headers, sorted, between Date and the path', () => {
    expect(
      esignStringToSign({
        method: 'post',
        accept: 'application/json',
        contentMd5: 'md5',
        contentType: 'ct',
        date: 'd',
        headers: { 'X-Tsign-Open-Ca-Nonce': 'n', 'X-Tsign-Open-App-Id': 'a' },
        pathAndQuery: '/p',
      }),
    ).toBe('POST\napplication/json\nmd5\nct\nd\nX-Tsign-Open-App-Id:a\nX-Tsign-Open-Ca-Nonce:n\n/p');
  });

  it('builds POST headers that carry the vector signature', () => {
    expect(
      esignRequestHeaders({
        appId: 'app-1',
        appSecret: SECRET,
        method: 'POST',
        pathAndQuery: `${FLOW}/initiate-rescission`,
        body: RESCISSION_BODY,
        timestamp: 1700000000123,
      }),
    ).toEqual({
      'X-Tsign-Open-App-Id': 'app-1',
      'X-Tsign-Open-Auth-Mode': 'Signature',
      'X-Tsign-Open-Ca-Timestamp': '1700000000123',
      'X-Tsign-Open-Ca-Signature': 'hU51brDtPGW0kNluFFCnQjIdVdzC2MaVfeJx7xgXEAU=',
      Accept: '*/*',
      'Content-Type': 'application/json; charset=UTF-8',
      'Content-MD5': 'VNErkZ8pe7YeOv/yTokR6g==',
    });
  });

  it('builds GET headers without Content-Type or Content-MD5', () => {
    const headers = esignRequestHeaders({
      appId: 'app-1',
      appSecret: SECRET,
      method: 'GET',
      pathAndQuery: `${FLOW}/detail`,
      timestamp: 1700000000123,
    });
    expect(headers['X-Tsign-Open-Ca-Signature']).toBe('MaRv3nrQwsIxleDLqnMnmHgPX9sxX8bY2HwGk3LsclQ=');
    expect(headers).not.toHaveProperty('Content-Type');
    expect(headers).not.toHaveProperty('Content-MD5');
  });

  it('rejects a timestamp that is not integer milliseconds', () => {
    expect(() =>
      esignRequestHeaders({ appId: 'a', appSecret: 's', method: 'GET', pathAndQuery: '/', timestamp: 1.5 }),
    ).toThrow(RangeError);
  });
});

describe('canonicalPathAndQuery', () => {
  it('returns the bare path without parameters', () => {
    expect(canonicalPathAndQuery(`${FLOW}/detail`)).toBe(`${FLOW}/detail`);
    expect(canonicalPathAndQuery(`${FLOW}/detail`, {})).toBe(`${FLOW}/detail`);
    expect(canonicalPathAndQuery(`${FLOW}/detail`, { a: undefined })).toBe(`${FLOW}/detail`);
  });

  it('sorts by key, drops undefined, keeps only the key of an empty value and percent-encodes', () => {
    expect(
      canonicalPathAndQuery('/v3/sign-flow/sign-flow-list', {
        pageSize: '20',
        orgId: undefined,
        flowName: '合同 A&B',
        pageNum: '1',
        empty: '',
        Zeta: 'z',
      }),
    ).toBe('/v3/sign-flow/sign-flow-list?Zeta=z&empty&flowName=%E5%90%88%E5%90%8C%20A%26B&pageNum=1&pageSize=20');
  });

  it('gives the same string for the same parameters in any order, and signs it', () => {
    const a = canonicalPathAndQuery('/v3/x', { b: '2', a: '1' });
    const b = canonicalPathAndQuery('/v3/x', { a: '1', b: '2' });
    expect(a).toBe('/v3/x?a=1&b=2');
    expect(b).toBe(a);
    expect(esignStringToSign({ method: 'GET', contentMd5: '', contentType: '', pathAndQuery: a })).toBe(
      'GET\n*/*\n\n\n\n/v3/x?a=1&b=2',
    );
  });

  it('refuses a path that already has a query string', () => {
    expect(() => canonicalPathAndQuery('/v3/x?b=2', { a: '1' })).toThrow('path must not contain a query string');
  });
});

describe('verifyEsignCallback', () => {
  const appSecret = 'callbackSecret';
  const now = 1700000000000;
  const timestamp = String(now - 2000);
  const rawBody = '{"action":"SIGN_FLOW_COMPLETE","signFlowId":"0f0c2112f0000004ed3aea","signFlowStatus":"2"}';
  // notifyUrl = https://api.example/callbacks/esign?tenant=t1&flow=f9 → sorted by key: flow, tenant.
  const callbackQuery = { tenant: 't1', flow: 'f9' };
  const sign = (data: string): string => createHmac('sha256', appSecret).update(data, 'utf8').digest('hex');
  const signature = sign(`${timestamp}f9t1${rawBody}`);
  const base = { rawBody, appSecret, timestampHeader: timestamp, signatureHeader: signature, callbackQuery, now };

  it('accepts a correctly signed callback, body as string or bytes', () => {
    expect(verifyEsignCallback(base)).toEqual({ ok: true });
    expect(verifyEsignCallback({ ...base, rawBody: Buffer.from(rawBody, 'utf8') })).toEqual({ ok: true });
    expect(verifyEsignCallback({ ...base, signatureHeader: signature.toUpperCase() })).toEqual({ ok: true });
  });

  it('accepts a notifyUrl without query parameters', () => {
    const signatureHeader = sign(`${timestamp}${rawBody}`);
    expect(verifyEsignCallback({ ...base, callbackQuery: {}, signatureHeader })).toEqual({ ok: true });
  });

  it('sorts the query values by key, whatever order they arrive in', () => {
    expect(verifyEsignCallback({ ...base, callbackQuery: { flow: 'f9', tenant: 't1' } })).toEqual({ ok: true });
    // A sender that concatenated in URL order (tenant, flow) produced a different signature.
    const unsorted = sign(`${timestamp}t1f9${rawBody}`);
    expect(verifyEsignCallback({ ...base, signatureHeader: unsorted })).toEqual({
      ok: false,
      reason: 'signature mismatch',
    });
  });

  it('concatenates repeated query values in order and skips undefined ones', () => {
    const signatureHeader = sign(`${timestamp}f1f2t1${rawBody}`);
    const callbackQuery = { tenant: 't1', x: undefined, flow: ['f1', 'f2'] };
    expect(verifyEsignCallback({ ...base, callbackQuery, signatureHeader })).toEqual({ ok: true });
  });

  it.each([
    ['a tampered body', { rawBody: rawBody.replace('"2"', '"7"') }, 'signature mismatch'],
    ['a changed query value', { callbackQuery: { tenant: 't2', flow: 'f9' } }, 'signature mismatch'],
    ['a wrong secret', { appSecret: 'other' }, 'signature mismatch'],
    ['a changed timestamp', { timestampHeader: String(now) }, 'signature mismatch'],
    ['no signature header', { signatureHeader: undefined }, 'missing X-Tsign-Open-SIGNATURE header'],
    ['no timestamp header', { timestampHeader: undefined }, 'missing X-Tsign-Open-TIMESTAMP header'],
    [
      'a signature that is not hex',
      { signatureHeader: 'z'.repeat(64) },
      'malformed X-Tsign-Open-SIGNATURE header: expected 64 hex digits',
    ],
    [
      'a base64 signature',
      { signatureHeader: Buffer.from(signature, 'hex').toString('base64') },
      'malformed X-Tsign-Open-SIGNATURE header: expected 64 hex digits',
    ],
    [
      'a timestamp in ISO form',
      { timestampHeader: new Date(now).toISOString() },
      'malformed X-Tsign-Open-TIMESTAMP header: expected milliseconds',
    ],
  ])('rejects %s', (_case, change, reason) => {
    expect(verifyEsignCallback({ ...base, ...change })).toEqual({ ok: false, reason });
  });

  it('rejects a genuine callback outside the tolerance, either side of now', () => {
    const stale = verifyEsignCallback({ ...base, now: Number(timestamp) + 15 * 60 * 1000 + 1 });
    expect(stale).toEqual({ ok: false, reason: 'timestamp outside tolerance' });
    const future = verifyEsignCallback({ ...base, now: Number(timestamp) - 15 * 60 * 1000 - 1 });
    expect(future).toEqual({ ok: false, reason: 'timestamp outside tolerance' });
    expect(verifyEsignCallback({ ...base, now: Number(timestamp) + 15 * 60 * 1000 })).toEqual({ ok: true });
  });

  it('bounds the age separately from the future when maxAgeMs is given', () => {
    const hours = (h: number) => h * 3600_000;
    const at = Number(timestamp);
    expect(verifyEsignCallback({ ...base, now: at + hours(47), maxAgeMs: hours(48) })).toEqual({ ok: true });
    expect(verifyEsignCallback({ ...base, now: at + hours(49), maxAgeMs: hours(48) })).toEqual({ ok: false, reason: 'timestamp outside tolerance' });
    // The future side keeps the 15-minute tolerance.
    expect(verifyEsignCallback({ ...base, now: at - 16 * 60_000, maxAgeMs: hours(48) })).toEqual({ ok: false, reason: 'timestamp outside tolerance' });
    expect(verifyEsignCallback({ ...base, now: at - 14 * 60_000, maxAgeMs: hours(48) })).toEqual({ ok: true });
  });

  it('honours a custom tolerance', () => {
    expect(verifyEsignCallback({ ...base, toleranceMs: 1000 })).toEqual({
      ok: false,
      reason: 'timestamp outside tolerance',
    });
    expect(verifyEsignCallback({ ...base, now: now + 86_400_000, toleranceMs: Infinity })).toEqual({ ok: true });
  });
});
