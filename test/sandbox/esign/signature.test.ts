import { createHmac } from 'crypto';
import { signEsignCallback, verifyEsignRequest, type EsignRequest } from '../../../src/sandbox/esign/signature';

// docs/providers/esign.md, self vectors.
const APP_ID = '7438000001';
const APP_SECRET = 'testAppSecret0123456789';
const NOW = 1_700_000_000_000;
const FLOW = '0f0c2112f0000004ed3aea';
const RESCIND_BODY =
  '{"rescindReason":"1","rescindFileList":["f78dd1a2b3"],"rescissionInitiator":{"orgInitiator":{"orgId":"842ec8ce3a","transactor":{"psnId":"7ffcae0b1c"}}}}';
const RESCIND_MD5 = 'VNErkZ8pe7YeOv/yTokR6g==';
const RESCIND_SIGNATURE = 'hU51brDtPGW0kNluFFCnQjIdVdzC2MaVfeJx7xgXEAU=';
const DETAIL_SIGNATURE = 'MaRv3nrQwsIxleDLqnMnmHgPX9sxX8bY2HwGk3LsclQ=';

const lookupSecret = (appId: string): string | undefined => (appId === APP_ID ? APP_SECRET : undefined);

function authHeaders(signature: string): Record<string, string> {
  return {
    'x-tsign-open-app-id': APP_ID,
    'x-tsign-open-auth-mode': 'Signature',
    'x-tsign-open-ca-timestamp': String(NOW),
    'x-tsign-open-ca-signature': signature,
  };
}

function rescission(overrides: Partial<EsignRequest> = {}, headers: Record<string, string | undefined> = {}): EsignRequest {
  return {
    method: 'POST',
    pathAndQuery: `/v3/sign-flow/${FLOW}/initiate-rescission`,
    headers: {
      ...authHeaders(RESCIND_SIGNATURE),
      accept: '*/*',
      'content-md5': RESCIND_MD5,
      'content-type': 'application/json; charset=UTF-8',
      ...headers,
    },
    body: RESCIND_BODY,
    now: NOW,
    lookupSecret,
    ...overrides,
  };
}

function detail(overrides: Partial<EsignRequest> = {}, headers: Record<string, string | undefined> = {}): EsignRequest {
  return {
    method: 'GET',
    pathAndQuery: `/v3/sign-flow/${FLOW}/detail`,
    headers: { ...authHeaders(DETAIL_SIGNATURE), accept: '*/*', 'content-md5': '', 'content-type': '', ...headers },
    body: '',
    now: NOW,
    lookupSecret,
    ...overrides,
  };
}

/** Signs a string to sign straight from the §3 recipe, for cases the published vectors do not cover. */
function sign(stringToSign: string): string {
  return createHmac('sha256', APP_SECRET).update(stringToSign, 'utf8').digest('base64');
}

describe('verifyEsignRequest', () => {
  it('accepts the POST initiate-rescission self vector', () => {
    expect(verifyEsignRequest(rescission())).toEqual({ ok: true, appId: APP_ID });
  });

  it('accepts the POST self vector with the body as a Buffer', () => {
    expect(verifyEsignRequest(rescission({ body: Buffer.from(RESCIND_BODY, 'utf8') }))).toEqual({ ok: true, appId: APP_ID });
  });

  it('accepts the GET detail self vector with empty Content-MD5 and Content-Type', () => {
    expect(verifyEsignRequest(detail())).toEqual({ ok: true, appId: APP_ID });
  });

  it('accepts the GET self vector when the empty headers are absent altogether', () => {
    expect(verifyEsignRequest(detail({}, { 'content-md5': undefined, 'content-type': undefined }))).toEqual({
      ok: true,
      appId: APP_ID,
    });
  });

  it('accepts a request without X-Tsign-Open-Auth-Mode (Signature is the mode verified)', () => {
    expect(verifyEsignRequest(detail({}, { 'x-tsign-open-auth-mode': undefined })).ok).toBe(true);
  });

  it('sorts query parameters by key: sent as ?b=2&a=1, signed over ?a=1&b=2', () => {
    const signature = sign(`GET\n*/*\n\n\n\n/v3/sign-flow/${FLOW}/detail?a=1&b=2`);
    expect(signature).toBe('bL5sxbAQb3zpaCsR0yN1v/zWqb30dPWYnyNgH3tQ970=');
    const req = detail({ pathAndQuery: `/v3/sign-flow/${FLOW}/detail?b=2&a=1` }, { 'x-tsign-open-ca-signature': signature });
    expect(verifyEsignRequest(req)).toEqual({ ok: true, appId: APP_ID });
  });

  it('accepts either spelling of an empty query value (k= and bare k)', () => {
    for (const signed of ['?a=&b=2', '?a&b=2']) {
      const signature = sign(`GET\n*/*\n\n\n\n/v3/sign-flow/${FLOW}/detail${signed}`);
      const req = detail({ pathAndQuery: `/v3/sign-flow/${FLOW}/detail?b=2&a=` }, { 'x-tsign-open-ca-signature': signature });
      expect(verifyEsignRequest(req).ok).toBe(true);
    }
  });

  it('includes the headers listed in X-Tsign-Open-Ca-Signature-Headers as sorted key:value lines', () => {
    const stringToSign =
      `GET\n*/*\n\n\n\nX-Tsign-Open-A:alpha\nX-Tsign-Open-B:beta\n/v3/sign-flow/${FLOW}/detail`;
    const headers = {
      'x-tsign-open-ca-signature-headers': 'X-Tsign-Open-B,X-Tsign-Open-A',
      'x-tsign-open-a': 'alpha',
      'x-tsign-open-b': 'beta',
      'x-tsign-open-ca-signature': sign(stringToSign),
    };
    expect(verifyEsignRequest(detail({}, headers)).ok).toBe(true);
    expect(verifyEsignRequest(detail({}, { ...headers, 'x-tsign-open-b': 'changed' }))).toMatchObject({
      ok: false,
      code: 401,
      message: '签名验证失败: INVALID_SIGNATURE',
    });
  });

  it('refuses a body that does not match Content-MD5', () => {
    expect(verifyEsignRequest(rescission({ body: RESCIND_BODY.replace('"1"', '"2"') }))).toEqual({
      ok: false,
      httpStatus: 400,
      code: 400,
      message: 'Content-MD5 与请求体不一致: INVALID_CONTENT_MD5',
    });
  });

  it('refuses a body sent without Content-MD5', () => {
    expect(verifyEsignRequest(rescission({}, { 'content-md5': undefined }))).toMatchObject({ ok: false, code: 400 });
  });

  it('refuses a timestamp more than 15 minutes off, either side, or not a number', () => {
    const expired = { ok: false, httpStatus: 401, code: 401, message: '请求时间戳已过期: INVALID_TIMESTAMP' };
    expect(verifyEsignRequest(rescission({ now: NOW + 15 * 60 * 1000 + 1 }))).toEqual(expired);
    expect(verifyEsignRequest(rescission({ now: NOW - 15 * 60 * 1000 - 1 }))).toEqual(expired);
    expect(verifyEsignRequest(rescission({}, { 'x-tsign-open-ca-timestamp': 'yesterday' }))).toEqual(expired);
    expect(verifyEsignRequest(rescission({ now: NOW + 15 * 60 * 1000 })).ok).toBe(true);
  });

  it('refuses a wrong signature', () => {
    expect(verifyEsignRequest(rescission({}, { 'x-tsign-open-ca-signature': DETAIL_SIGNATURE }))).toEqual({
      ok: false,
      httpStatus: 401,
      code: 401,
      message: '签名验证失败: INVALID_SIGNATURE',
    });
  });

  it('refuses a request to another path under the same signature', () => {
    expect(verifyEsignRequest(detail({ pathAndQuery: `/v3/sign-flow/${FLOW}/detail?x=1` }))).toMatchObject({
      ok: false,
      message: '签名验证失败: INVALID_SIGNATURE',
    });
  });

  it('refuses an unknown app id', () => {
    expect(verifyEsignRequest(rescission({ lookupSecret: () => undefined }))).toEqual({
      ok: false,
      httpStatus: 401,
      code: 401,
      message: '应用ID不存在或未启用: INVALID_APP_ID',
    });
  });

  it.each(['X-Tsign-Open-App-Id', 'X-Tsign-Open-Ca-Timestamp', 'X-Tsign-Open-Ca-Signature'])(
    'refuses a request without %s',
    (name) => {
      expect(verifyEsignRequest(rescission({}, { [name.toLowerCase()]: undefined }))).toEqual({
        ok: false,
        httpStatus: 401,
        code: 401,
        message: `缺少请求头 ${name}: MISSING_HEADER`,
      });
    },
  );

  it('refuses another auth mode', () => {
    expect(verifyEsignRequest(rescission({}, { 'x-tsign-open-auth-mode': 'token' }))).toMatchObject({
      ok: false,
      code: 401,
      message: '不支持的鉴权模式 token: INVALID_AUTH_MODE',
    });
  });
});

describe('signEsignCallback', () => {
  const rawBody = `{"action":"SIGN_FLOW_COMPLETE","signFlowId":"${FLOW}","signFlowStatus":"2"}`;

  it('signs timestamp + notifyUrl query values sorted by key + raw body', () => {
    // By hand: keys a, m, z → values "first", "mid", "last".
    const byHand = createHmac('sha256', APP_SECRET)
      .update(`1700000000000firstmidlast${rawBody}`, 'utf8')
      .digest('hex');
    expect(byHand).toBe('af2807199ab4d4831a0bc1d956e3a805e58ca079d928d91ba09dea106c33d325');
    const signature = signEsignCallback({
      appSecret: APP_SECRET,
      timestamp: '1700000000000',
      notifyUrl: 'https://app.example.com/callbacks/esign?z=last&a=first&m=mid',
      rawBody,
    });
    expect(signature).toBe(byHand);
  });

  it('signs timestamp + raw body when the notifyUrl has no query', () => {
    const signature = signEsignCallback({
      appSecret: APP_SECRET,
      timestamp: '1700000000000',
      notifyUrl: 'http://127.0.0.1:4000/callbacks/esign',
      rawBody: '{}',
    });
    expect(signature).toBe('dc07a893c3d1e31e00c0740897e2fe0df82e68525573a5f414484020cdeff262');
  });
});
