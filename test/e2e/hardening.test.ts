import { createCipheriv, createHmac } from 'node:crypto';
import { startTestApp, waitFor, type TestApp } from '../support/app';
import { capturingLogger, parseMetrics, valueOf } from '../support/observability';
import { APP_ID, APP_SECRET, callbackSignature } from '../sandbox/esign/signer';
import { chinaTime, form, signed } from '../sandbox/yuansfer/signer';

/**
 * The attacks of docs/security.md "Hardening: attacks tried and their answers", each replayed against the real
 * server (in-process, real HTTP, the real emulators) and answered as documented: refused, and nothing stored.
 */

const ETC_SECRET = 'etc-callback-secret-for-hardening';
const TENCENT_KEY = '0123456789abcdef0123456789abcdef';
const TENCENT_TOKEN = 'sandbox-callback-token';

const START = `mutation ($input: StartAutoDebitInput!) { startAutoDebit(input: $input) { autoDebit { id } authUrl userErrors { code field message } } }`;
const RESCIND = `mutation ($input: InitiateRescissionInput!) { initiateRescission(input: $input) { rescission { id } userErrors { code field message } } }`;
type UserErrors = Array<{ code: string; field: string[]; message: string }>;

async function post(url: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; contentType: string | null; text: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: res.status, contentType: res.headers.get('content-type'), text: await res.text() };
}

const etcBody = (flowId: string, fileUrl: string) => JSON.stringify({ sign_end_time: '2021-03-22 18:24:29', sign_flow_status: '2', sign_flow_id: flowId, sign_file_url: fileUrl });

function tencentEncrypt(message: object): string {
  const key = Buffer.from(TENCENT_KEY, 'utf8');
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
  return JSON.stringify({ encrypt: Buffer.concat([cipher.update(JSON.stringify(message), 'utf8'), cipher.final()]).toString('base64') });
}
const contentSignature = (body: string | Buffer) => `sha256=${createHmac('sha256', TENCENT_TOKEN).update(body).digest('hex')}`;

describe('hardening: attacks and their answers', () => {
  let app: TestApp;
  let lines: () => Array<Record<string, unknown>>;
  beforeAll(async () => {
    const captured = capturingLogger('info');
    lines = captured.lines;
    app = await startTestApp({ logger: captured.logger, env: { ETC_CALLBACK_SECRET: ETC_SECRET, YUANSFER_REDIRECT_ORIGINS: 'https://shop.example.com', ESIGN_NOTIFY_ORIGINS: 'https://hooks.example.com' } });
  });
  afterAll(() => app.close());

  const nothingStored = async () => {
    expect(await app.services.store.receipts.count()).toBe(0);
    expect(await app.services.store.events.latestId()).toBe(0);
  };

  describe('forged and oversized callbacks', () => {
    it('ETC: a callback without the URL token is refused (401) and stores nothing', async () => {
      for (const query of ['', '?token=guess', `?token=${ETC_SECRET}x`, `?token=${ETC_SECRET}&token=${ETC_SECRET}`]) {
        const r = await post(`${app.url}/callbacks/etc${query}`, etcBody('forgedflow0001', 'https://files.example/ok.pdf'));
        expect(r.status).toBe(401);
        expect(JSON.parse(r.text)).toMatchObject({ response_code: '401' });
      }
      await nothingStored();
      expect(await app.services.store.flows.get('ETC:forgedflow0001')).toBeUndefined();
    });

    it.each([
      ['/callbacks/etc', 8 * 1024],
      ['/callbacks/tencent-ess', 256 * 1024],
      ['/callbacks/esign', 64 * 1024],
      ['/callbacks/yuansfer', 16 * 1024],
    ])('%s: a body over its limit (%d bytes) is answered 413 JSON before anything is read', async (path, limit) => {
      const body = Buffer.alloc(limit + 1, 'a');
      const r = await post(`${app.url}${path}?token=${ETC_SECRET}`, body);
      expect(r.status).toBe(413);
      expect(r.contentType).toMatch(/^application\/json/);
      expect(JSON.parse(r.text)).toEqual({ code: 'PAYLOAD_TOO_LARGE', message: expect.stringMatching(/^the body is larger than \d+ KB/) });
      await nothingStored();
    });

    it('counts every oversized callback as refused in callbacks_total', async () => {
      const samples = parseMetrics(await (await fetch(`${app.url}/metrics`)).text());
      for (const provider of ['ETC', 'TENCENT_ESS', 'ESIGN', 'YUANSFER']) {
        expect(valueOf(samples, 'callbacks_total', { provider, outcome: 'refused' })).toBeGreaterThanOrEqual(1);
      }
      expect(valueOf(samples, 'callbacks_total', { outcome: 'failed' })).toBe(0);
    });

    it('Tencent: an unsigned 1 MB post is refused 413, an unsigned small one 401; neither is stored', async () => {
      const message = { MsgId: 'forged-msg-1', MsgType: 'FlowStatusChange', MsgVersion: 'ThirdPartyApp', MsgData: { FlowId: 'yDwFORGED', FlowCallbackStatus: 4 } };
      const padded = JSON.stringify({ ...message, padding: 'x'.repeat(1024 * 1024) });
      expect((await post(`${app.url}/callbacks/tencent-ess`, padded)).status).toBe(413);
      const small = tencentEncrypt(message);
      const unsigned = await post(`${app.url}/callbacks/tencent-ess`, small);
      expect(unsigned.status).toBe(401);
      expect(JSON.parse(unsigned.text)).toMatchObject({ code: 'UNAUTHENTICATED' });
      const plain = JSON.stringify(message);
      const signedPlain = await post(`${app.url}/callbacks/tencent-ess`, plain, { 'content-signature': contentSignature(plain) });
      // Signed, but not encrypted while a CallbackKey is configured: refused as well.
      expect(signedPlain.status).toBe(400);
      await nothingStored();
      expect(await app.services.store.flows.get('TENCENT_ESS:yDwFORGED')).toBeUndefined();
    });

    it('e签宝: a genuinely signed callback whose timestamp is outside the window is refused and stores nothing', async () => {
      const raw = JSON.stringify({ action: 'SIGN_FLOW_COMPLETE', timestamp: Date.now(), signFlowId: 'staleflow0001', signFlowStatus: '2' });
      for (const timestamp of [Date.now() - 49 * 3600_000, Date.now() + 20 * 60_000]) {
        const r = await post(`${app.url}/callbacks/esign`, raw, {
          'X-Tsign-Open-App-Id': APP_ID,
          'X-Tsign-Open-SIGNATURE-ALGORITHM': 'hmac-sha256',
          'X-Tsign-Open-TIMESTAMP': String(timestamp),
          'X-Tsign-Open-SIGNATURE': callbackSignature(APP_SECRET, String(timestamp), `${app.url}/callbacks/esign`, raw),
        });
        expect(r.status).toBe(401);
      }
      await nothingStored();
    });

    it('Yuansfer: a genuinely signed notice whose time is a day old (a replay) or far ahead is refused and stores nothing', async () => {
      for (const time of [Date.now() - 25 * 3600_000, Date.now() + 60 * 60_000]) {
        const body = form(signed({ autoDebitNo: '298222562856339999', autoReference: 'replayed', vendor: 'gcash', time: chinaTime(time) }));
        const r = await post(`${app.url}/callbacks/yuansfer`, body, { 'content-type': 'application/x-www-form-urlencoded' });
        expect(r.status).toBe(401);
        expect(JSON.parse(r.text)).toEqual({ code: 'UNAUTHENTICATED', message: expect.stringMatching(/^time: time is more than/) });
      }
      await nothingStored();
    });
  });

  describe('URLs taken from callbacks', () => {
    it('ETC: a fileUrl that is not http(s) is dropped and logged; the status is still stored', async () => {
      for (const [flowId, fileUrl] of [
        ['jsflow0001', 'javascript:alert(document.cookie)'],
        ['dataflow001', 'data:text/html,<script>alert(1)</script>'],
        ['okflow00001', 'https://files.example.com/signed.pdf'],
      ]) {
        const r = await post(`${app.url}/callbacks/etc?token=${ETC_SECRET}`, etcBody(flowId!, fileUrl!));
        expect(r).toMatchObject({ status: 200, text: '{"response_code":"000"}' });
      }
      const read = async (id: string) => (await app.gql<{ signFlow: { status: string; fileUrl: string | null } }>(`{ signFlow(id: "ETC:${id}") { status fileUrl } }`)).data!.signFlow;
      expect(await read('jsflow0001')).toEqual({ status: 'COMPLETED', fileUrl: null });
      expect(await read('dataflow001')).toEqual({ status: 'COMPLETED', fileUrl: null });
      expect(await read('okflow00001')).toEqual({ status: 'COMPLETED', fileUrl: 'https://files.example.com/signed.pdf' });
      const warnings = lines().filter((l) => typeof l.msg === 'string' && /sign_file_url is not an http\(s\) URL/.test(l.msg));
      expect(warnings.map((l) => l.flow).sort()).toEqual(['dataflow001', 'jsflow0001']);
      // The log says what was dropped, not the value itself.
      expect(JSON.stringify(warnings)).not.toMatch(/javascript:|<script>/);
    });
  });
});

describe('hardening: URLs callers give the API', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ env: { YUANSFER_REDIRECT_ORIGINS: 'https://shop.example.com', ESIGN_NOTIFY_ORIGINS: 'https://hooks.example.com' } });
  });
  afterAll(() => app.close());

  const start = async (redirectUrl: string) => (await app.gql<{ startAutoDebit: { autoDebit: { id: string } | null; userErrors: UserErrors } }>(START, { input: { vendor: 'gcash', terminal: 'ONLINE', redirectUrl } })).data!.startAutoDebit;

  it('startAutoDebit: a redirectUrl outside YUANSFER_REDIRECT_ORIGINS is URL_NOT_ALLOWED, naming the field; no consult is sent', async () => {
    for (const redirectUrl of ['https://evil.example/phish', 'https://shop.example.com.evil.example/x', 'http://shop.example.com/x', 'https://shop.example.com@evil.example/', 'https://user:pw@shop.example.com/']) {
      const r = await start(redirectUrl);
      expect(r.autoDebit).toBeNull();
      expect(r.userErrors).toEqual([{ code: 'URL_NOT_ALLOWED', field: ['input', 'redirectUrl'], message: expect.stringMatching(/^redirectUrl must/) }]);
    }
    const notHttp = await start('javascript:alert(1)');
    expect(notHttp.userErrors).toEqual([{ code: 'INVALID_INPUT', field: ['input', 'redirectUrl'], message: expect.stringMatching(/http\(s\) URL/) }]);
    const log = await app.admin<{ requests: unknown[] }>('/yuansfer/requests');
    expect(log.requests).toEqual([]);
  });

  it('startAutoDebit: a listed origin and (sandbox mode) loopback are allowed', async () => {
    expect((await start('https://shop.example.com/after-auth?plan=1')).userErrors).toEqual([]);
    expect((await start('http://127.0.0.1:3000/back')).userErrors).toEqual([]);
    expect((await start('http://localhost:5173/back')).userErrors).toEqual([]);
  });

  it('initiateRescission: a notifyUrl outside ESIGN_NOTIFY_ORIGINS is URL_NOT_ALLOWED; this API\'s own callback URL and listed origins are not', async () => {
    const { flowId } = await app.admin<{ flowId: string }>('/esign/flows', { status: 'COMPLETED', signers: 2, fileIds: ['fileA'] });
    const view = await app.admin<{ signers: Array<{ kind: string; psnId?: string }> }>(`/esign/flows/${flowId}`);
    const psnId = view.signers.find((s) => s.kind === 'person')!.psnId!;
    const rescind = async (notifyUrl: string) =>
      (await app.gql<{ initiateRescission: { rescission: { id: string } | null; userErrors: UserErrors } }>(RESCIND, {
        input: { signFlowId: `ESIGN:${flowId}`, fileIds: ['fileA'], reason: 'OTHER', initiator: { person: { psnId } }, notifyUrl },
      })).data!.initiateRescission;
    for (const notifyUrl of ['https://collector.evil.example/steal', 'http://169.254.169.254/latest/meta-data']) {
      const r = await rescind(notifyUrl);
      expect(r.rescission).toBeNull();
      expect(r.userErrors).toEqual([{ code: 'URL_NOT_ALLOWED', field: ['input', 'notifyUrl'], message: expect.stringMatching(/^notifyUrl must point at one of the origins in ESIGN_NOTIFY_ORIGINS/) }]);
    }
    const requests = await app.admin<{ requests: Array<{ operation: string | null }> }>('/esign/requests');
    expect(requests.requests.filter((r) => r.operation === 'initiate-rescission')).toEqual([]);
    const own = await rescind(`${app.url}/callbacks/esign?tenant=t1`);
    expect(own.userErrors).toEqual([]);
    expect(own.rescission).not.toBeNull();
  });
});

describe('hardening: URLs callers give the API, outside sandbox mode', () => {
  let app: TestApp;
  beforeAll(async () => {
    // Yuansfer configured against an address nothing listens on: the refusal must come before any call.
    app = await startTestApp({
      env: { SANDBOX: 'off', AUTH: 'off', YUANSFER_BASE_URL: 'http://127.0.0.1:9', YUANSFER_TOKEN: 'token-for-tests', YUANSFER_MERCHANT_NO: '200043', YUANSFER_STORE_NO: '300014' },
    });
  });
  afterAll(() => app.close());

  it('allows no redirectUrl at all without YUANSFER_REDIRECT_ORIGINS, loopback included', async () => {
    for (const redirectUrl of ['https://shop.example.com/back', 'http://127.0.0.1:3000/back']) {
      const r = await app.gql<{ startAutoDebit: { userErrors: UserErrors } }>(START, { input: { vendor: 'gcash', terminal: 'ONLINE', redirectUrl } });
      expect(r.errors).toBeUndefined();
      expect(r.data!.startAutoDebit.userErrors).toEqual([
        { code: 'URL_NOT_ALLOWED', field: ['input', 'redirectUrl'], message: expect.stringMatching(/^redirectUrl must point at one of the origins in YUANSFER_REDIRECT_ORIGINS; /) },
      ]);
    }
  });
});

describe('hardening: every answer is JSON', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());

  const neverHtml = (r: { contentType: string | null; text: string }) => {
    expect(r.contentType).toMatch(/^application\/json/);
    expect(r.text).not.toMatch(/<!DOCTYPE|<html|<pre>|\bat [\w.<>]+ \(|node_modules|\/work\//i);
    return JSON.parse(r.text) as Record<string, unknown>;
  };

  it.each([
    ['a truncated JSON body', '{"query": "{ __typename }"', {}, 400, 'BAD_REQUEST'],
    ['a body that is not JSON at all', 'query { __typename }', {}, 400, 'BAD_REQUEST'],
    ['a JSON scalar', '"{ __typename }"', {}, 400, 'BAD_REQUEST'],
    ['an unsupported charset', '{}', { 'content-type': 'application/json; charset=latin1' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['an unknown Content-Encoding', '{}', { 'content-encoding': 'zstd-fake' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
  ])('/graphql answers %s with a GraphQL-shaped JSON error', async (_what, body, headers, status, code) => {
    const r = await post(app.graphqlUrl, body, headers as Record<string, string>);
    expect(r.status).toBe(status);
    expect(neverHtml(r)).toEqual({ errors: [{ message: expect.any(String), extensions: { code } }] });
  });

  it('/graphql answers an oversized body 413 in the same shape', async () => {
    const r = await post(app.graphqlUrl, JSON.stringify({ query: `{ __typename } # ${'x'.repeat(1024 * 1024)}` }));
    expect(r.status).toBe(413);
    expect(neverHtml(r)).toEqual({ errors: [{ message: expect.stringMatching(/larger than 1 MB/), extensions: { code: 'PAYLOAD_TOO_LARGE' } }] });
  });

  it('answers unknown routes and methods 404 JSON with a code', async () => {
    for (const [method, path] of [['GET', '/nothing-here'], ['POST', '/healthz'], ['GET', '/callbacks/etc'], ['DELETE', '/readyz'], ['GET', '/%E0%A4%A']]) {
      const res = await fetch(`${app.url}${path}`, { method });
      const r = { contentType: res.headers.get('content-type'), text: await res.text() };
      expect(res.status).toBe(404);
      expect(neverHtml(r)).toEqual({ code: 'NOT_FOUND', message: expect.stringMatching(/^nothing is served at /) });
    }
  });

  it('answers malformed callback bodies with JSON carrying a code', async () => {
    const answers = [
      await post(`${app.url}/callbacks/etc`, '{not json'),
      await post(`${app.url}/callbacks/tencent-ess`, '{not json'),
      await post(`${app.url}/callbacks/esign`, '{not json'),
      await post(`${app.url}/callbacks/yuansfer`, '%%%', { 'content-type': 'application/x-www-form-urlencoded' }),
    ];
    for (const r of answers) {
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      const json = neverHtml(r);
      expect(typeof (json.code ?? json.response_code)).toBe('string');
    }
  });

  it('stays healthy afterwards', async () => {
    expect(await (await fetch(`${app.url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect((await app.gql('{ __typename }')).data).toEqual({ __typename: 'Query' });
    await waitFor(async () => (await fetch(`${app.url}/readyz`)).ok, { what: 'readiness' });
  });
});
