import http from 'node:http';
import os from 'node:os';
import { ETC_SANDBOX_PRIVATE_KEY, loadConfig, sandboxEtcCallbackToken } from '../../src/config';
import { checkAdminAccess, isLoopbackAddress, tokenMatches } from '../../src/sandbox/access';
import { startTestApp, waitFor, type TestApp } from '../support/app';

/** A request from `address` with `headers`, as the guard sees it. */
const from = (address: string, headers: http.IncomingHttpHeaders = {}) => ({ headers, socket: { remoteAddress: address } }) as never;

/** An address of this machine that is not loopback, if it has one: connecting to it makes a non-loopback client. */
function externalAddress(): string | undefined {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const entry of list ?? []) if (entry.family === 'IPv4' && !entry.internal) return entry.address;
  }
  return undefined;
}

async function call(url: string, init: RequestInit = {}): Promise<{ status: number; body: any; type: string | null }> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // HTML
  }
  return { status: res.status, body, type: res.headers.get('content-type') };
}

describe('sandbox admin access: rules', () => {
  it('counts 127.0.0.0/8, ::1 and IPv4-mapped loopback as loopback, nothing else', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) expect(isLoopbackAddress(a)).toBe(true);
    for (const a of ['10.0.0.1', '192.168.1.5', '::ffff:10.0.0.1', 'fe80::1', '', undefined, '128.0.0.1']) expect(isLoopbackAddress(a)).toBe(false);
  });

  it('without a token: loopback only, and a proxied loopback request is not loopback', () => {
    expect(checkAdminAccess(from('127.0.0.1'), {})).toEqual({ ok: true });
    expect(checkAdminAccess(from('10.1.2.3'), {})).toMatchObject({ ok: false, status: 403, error: expect.stringContaining('SANDBOX_ADMIN_TOKEN') });
    expect(checkAdminAccess(from('127.0.0.1', { 'x-forwarded-for': '203.0.113.9' }), {})).toMatchObject({ ok: false, status: 403 });
    expect(checkAdminAccess(from('127.0.0.1', { forwarded: 'for=203.0.113.9' }), {})).toMatchObject({ ok: false, status: 403 });
  });

  it('with a token: the bearer token from any address, loopback included; compared whatever the lengths', () => {
    const token = 'admin-token-0123456789';
    expect(checkAdminAccess(from('10.1.2.3', { authorization: `Bearer ${token}` }), { token })).toEqual({ ok: true });
    expect(checkAdminAccess(from('127.0.0.1'), { token })).toMatchObject({ ok: false, status: 401 });
    expect(checkAdminAccess(from('127.0.0.1', { authorization: `Bearer ${token}x` }), { token })).toMatchObject({ ok: false, status: 401, error: 'sandbox admin API: wrong token' });
    expect(checkAdminAccess(from('127.0.0.1', { authorization: token }), { token })).toMatchObject({ ok: false, status: 401 });
    expect(tokenMatches(token, token)).toBe(true);
    expect(tokenMatches(token, '')).toBe(false);
    expect(tokenMatches(token, token.slice(0, -1))).toBe(false);
  });
});

describe('sandbox configuration', () => {
  it('in production, the sandbox runs only with an explicit SANDBOX=on; with no provider and SANDBOX unset, start-up fails naming the variables', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/^SANDBOX: NODE_ENV=production with no provider configured: .*ETC_GATEWAY_URL.*ESIGN_APP_ID.*YUANSFER_TOKEN.* or SANDBOX=on/);
    // An explicit SANDBOX=off is a choice: it starts with every provider disabled, as outside production.
    const none = loadConfig({ NODE_ENV: 'production', SANDBOX: 'off', AUTH: 'off' });
    expect([none.sandbox, none.etc, none.tencent, none.esign, none.yuansfer]).toEqual([false, undefined, undefined, undefined, undefined]);
    expect(loadConfig({ NODE_ENV: 'production', SANDBOX: 'on', AUTH: 'off' }).sandbox).toBe(true);
    const withEsign = loadConfig({ NODE_ENV: 'production', ESIGN_APP_ID: 'app', ESIGN_APP_SECRET: 'secret', AUTH: 'off' });
    expect(withEsign.sandbox).toBe(false);
    expect(withEsign.etc).toBeUndefined();
    // Outside production the default is unchanged: on when no credentials are set.
    expect(loadConfig({}).sandbox).toBe(true);
  });

  it('refuses a SANDBOX_ADMIN_TOKEN that is short or has whitespace, naming it', () => {
    expect(() => loadConfig({ SANDBOX_ADMIN_TOKEN: 'short' })).toThrow('SANDBOX_ADMIN_TOKEN: must be at least 16 characters with no whitespace');
    expect(() => loadConfig({ SANDBOX_ADMIN_TOKEN: 'sixteen chars ok ok' })).toThrow(/^SANDBOX_ADMIN_TOKEN/);
    expect(loadConfig({ SANDBOX_ADMIN_TOKEN: 'a-long-enough-token' }).sandboxAdminToken).toBe('a-long-enough-token');
  });

  it('never hands configured callback secrets to an emulated provider', () => {
    const config = loadConfig({ ETC_CALLBACK_SECRET: 'real-etc-secret', TENCENT_ESS_CALLBACK_KEY: 'k'.repeat(32), TENCENT_ESS_CALLBACK_TOKEN: 'real-token' });
    expect(config.etc!.sandboxCallbackToken).toBe(sandboxEtcCallbackToken('real-etc-secret'));
    expect(config.etc!.sandboxCallbackToken).not.toContain('real-etc-secret');
    expect(config.tencent!.callbackKey).toBe('0123456789abcdef0123456789abcdef');
    expect(config.tencent!.callbackToken).toBe('sandbox-callback-token');
    // A really configured ETC has no sandbox token: the emulator's callbacks cannot pass its receiver.
    const real = loadConfig({ ETC_GATEWAY_URL: 'https://etc.example', ETC_APP_ID: 'OIG0AF4DMOK2VC2N', ETC_PRIVATE_KEY: ETC_SANDBOX_PRIVATE_KEY, ETC_CALLBACK_SECRET: 's', SANDBOX: 'on' });
    expect(real.etc!.sandboxCallbackToken).toBeUndefined();
  });
});

describe('sandbox admin API and console over HTTP, no token configured', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ env: { HOST: '0.0.0.0', ETC_CALLBACK_SECRET: 'etc-secret-value-42' } });
  });
  afterAll(() => app.close());

  it('answers loopback clients', async () => {
    expect((await call(`${app.url}/sandbox/_admin/faults`)).status).toBe(200);
    const page = await call(`${app.url}/sandbox`);
    expect(page.status).toBe(200);
    expect(page.type).toMatch(/^text\/html/);
  });

  it('refuses a loopback request that came through a proxy, with a JSON 403', async () => {
    const answer = await call(`${app.url}/sandbox/_admin/faults`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(answer).toMatchObject({ status: 403, body: { error: expect.stringContaining('loopback clients only') } });
    const created = await call(`${app.url}/sandbox/_admin/etc/flows`, { method: 'POST', headers: { 'x-forwarded-for': '203.0.113.9' }, body: '{}' });
    expect(created.status).toBe(403);
    expect((await call(`${app.url}/sandbox`, { headers: { forwarded: 'for=203.0.113.9' } })).status).toBe(403);
  });

  const external = externalAddress();
  (external ? it : it.skip)(`refuses a client on another address (${external ?? 'none on this machine'}), admin API and console alike`, async () => {
    const base = `http://${external}:${app.port}`;
    expect(await call(`${base}/sandbox/_admin/etc/flows`, { method: 'POST', body: '{}' })).toMatchObject({ status: 403, body: { error: expect.any(String) } });
    expect((await call(`${base}/sandbox/_admin/etc/requests`)).status).toBe(403);
    expect((await call(`${base}/sandbox`)).status).toBe(403);
    // The emulators themselves still answer (they check their provider's own signatures), and so does the API.
    expect((await call(`${base}/healthz`)).status).toBe(200);
  });

  it('shows no secret in the request log or the callback records: no callback secret, signature or ?token=', async () => {
    const { flowId } = await app.admin<{ flowId: string }>('/etc/flows', {});
    await app.gql(`mutation { revokeSignFlow(input: { id: "ETC:${flowId}", etcMemberNo: "m1" }) { userErrors { code } } }`);
    await waitFor(async () => (await app.services.store.flows.get(`ETC:${flowId}`))?.status === 'REVOKED', { what: 'the revoke callback stored' });
    await app.gql(`{ signFlow(id: "TENCENT_ESS:yDwnothere") { status } }`);
    const requests = JSON.stringify([await app.admin('/etc/requests'), await app.admin('/tencent/requests')]);
    const callbacks = JSON.stringify(await app.admin('/callbacks'));
    const delivered = (await app.admin<{ callbacks: Array<{ url: string; state: string }> }>('/etc/callbacks')).callbacks;
    expect(delivered.map((c) => c.state)).toEqual(['acknowledged']);
    for (const text of [requests, callbacks]) {
      expect(text).not.toContain('etc-secret-value-42');
      expect(text).not.toContain(sandboxEtcCallbackToken('etc-secret-value-42'));
      expect(text).not.toMatch(/"sign":"[A-Za-z0-9+/=]{40,}"/);
      expect(text).not.toMatch(/TC3-HMAC-SHA256 Credential/);
    }
    expect(delivered[0].url).toMatch(/\/callbacks\/etc\?token=\[redacted\]$/);
    // The ETC request log still shows what was asked, only its signature hidden.
    expect(requests).toContain('"sign":"[redacted]"');
  });

  it('the emulator never carries ETC_CALLBACK_SECRET: its callbacks use the sandbox token, which the receiver accepts', async () => {
    const url = app.sandbox!.kit.callbackUrl('etc');
    expect(url).not.toContain('etc-secret-value-42');
    expect(new URL(url).searchParams.get('token')).toBe(sandboxEtcCallbackToken('etc-secret-value-42'));
  });
});

describe('sandbox admin API with SANDBOX_ADMIN_TOKEN', () => {
  const token = 'console-token-7c1f2a9b';
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ env: { HOST: '0.0.0.0', SANDBOX_ADMIN_TOKEN: token } });
  });
  afterAll(() => app.close());

  it('requires the bearer token, loopback or not, with JSON 401s', async () => {
    const none = await call(`${app.url}/sandbox/_admin/faults`);
    expect(none).toMatchObject({ status: 401, body: { error: expect.stringContaining('Bearer') } });
    expect((await call(`${app.url}/sandbox/_admin/faults`, { headers: { authorization: 'Bearer wrong-token-000000' } })).status).toBe(401);
    expect((await call(`${app.url}/sandbox/_admin/faults`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    const external = externalAddress();
    if (external) {
      expect((await call(`http://${external}:${app.port}/sandbox/_admin/faults`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
      expect((await call(`http://${external}:${app.port}/sandbox/_admin/faults`)).status).toBe(401);
    }
  });

  it('serves the console page to anyone (it holds no data) with a field for the token', async () => {
    const page = await call(`${app.url}/sandbox`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(page.status).toBe(200);
    expect(page.body).toContain('id="token"');
    expect(page.body).not.toContain(token);
  });
});
