import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, loadConfig, type YuansferConfig } from '../../../src/config';
import {
  ProviderAuthenticationError,
  ProviderBusinessError,
  ProviderError,
  ProviderInvalidRequestError,
  ProviderNotFoundError,
  ProviderPermissionError,
  ProviderRateLimitError,
  ProviderResponseError,
  ProviderServerError,
} from '../../../src/providers/errors';
import { readEnvelope, YuansferClient } from '../../../src/providers/yuansfer/client';
import { startSandbox, type RunningSandbox } from '../../sandbox/etc/harness';

const DOC_TOKEN = '5cbfb079f15b150122261c8537086d77a';

function answer(text: string, status = 400) {
  return { status, headers: {}, text };
}

function failure(fn: () => unknown): ProviderError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ProviderError) return error;
    throw error;
  }
  throw new Error('no error thrown');
}

describe('readEnvelope', () => {
  it('returns the result of a 000100 answer', () => {
    expect(readEnvelope(answer('{"result":{"autoDebitNo":"1"},"ret_code":"000100","ret_msg":"ok"}', 200))).toEqual({ autoDebitNo: '1' });
  });

  it.each<[string, string, new (...args: never[]) => ProviderError, string]>([
    ['000000', 'data error : verifySign', ProviderAuthenticationError, 'authentication'],
    ['000000', 'system error', ProviderServerError, 'server'],
    ['000010', 'api version error', ProviderInvalidRequestError, 'invalid_request'],
    ['000020', 'parameter null : autoDebitNo', ProviderInvalidRequestError, 'invalid_request'],
    ['000021', 'no related information', ProviderNotFoundError, 'not_found'],
    ['000022', 'parameters do not match', ProviderBusinessError, 'business'],
    ['000023', 'parameter value error', ProviderBusinessError, 'business'],
    ['000030', 'access denied', ProviderPermissionError, 'permission'],
    ['000040', 'transaction status error', ProviderBusinessError, 'business'],
    ['000080', 'supplier system error', ProviderServerError, 'server'],
    ['000099', 'something new', ProviderResponseError, 'response'],
  ])('maps ret_code %s (%s)', (code, message, type, kind) => {
    const error = failure(() => readEnvelope(answer(JSON.stringify({ ret_code: code, ret_msg: message }))));
    expect(error).toBeInstanceOf(type);
    expect(error).toMatchObject({ kind, code, provider: 'YUANSFER', httpStatus: 400 });
    expect(error.message).toContain(`Yuansfer ${code}: ${message}`);
  });

  it('reads the retMsg spelling of the seed', () => {
    const error = failure(() => readEnvelope(answer('{"ret_code":"000000","retMsg":"data error : verifySign"}')));
    expect(error).toBeInstanceOf(ProviderAuthenticationError);
    expect(error.message).toMatch(/^Yuansfer 000000: data error : verifySign \(signature check failed: YUANSFER_TOKEN/);
  });

  it.each<[string, ReturnType<typeof answer>, new (...args: never[]) => ProviderError, RegExp]>([
    ['HTTP 429', answer('{"ret_code":"000000","ret_msg":"busy"}', 429), ProviderRateLimitError, /HTTP 429/],
    ['an HTML 502', answer('<html>bad gateway</html>', 502), ProviderServerError, /HTTP 502/],
    ['a 200 that is not JSON', answer('success', 200), ProviderResponseError, /without a JSON envelope carrying a ret_code string/],
    ['a numeric ret_code', answer('{"ret_code":100}', 200), ProviderResponseError, /ret_code string/],
    ['success without result', answer('{"ret_code":"000100","ret_msg":"ok"}', 200), ProviderResponseError, /without a result object/],
  ])('refuses %s with a typed error', (_case, response, type, message) => {
    const error = failure(() => readEnvelope(response));
    expect(error).toBeInstanceOf(type);
    expect(error.message).toMatch(message);
  });
});

function config(baseUrl: string, token = DOC_TOKEN): YuansferConfig {
  return { baseUrl, token, merchantNo: '200043', storeNo: '300014', timeoutMs: 2000, maxRetries: 0, breakerThreshold: 5, breakerResetMs: 1000 };
}

describe('YuansferClient against the emulator', () => {
  let running: RunningSandbox;
  let client: YuansferClient;
  beforeEach(async () => {
    running = await startSandbox({ callbackUrl: () => 'http://127.0.0.1:9/' });
    client = new YuansferClient(config(`${running.base}/yuansfer`));
  });
  afterEach(async () => {
    client.close();
    await running.close();
  });

  const ref = (autoDebitNo: string) => ({ merchantNo: '200043', storeNo: '300014', autoDebitNo });

  it('consults, applies for the token and revokes, each request signed as the emulator checks it', async () => {
    const consulted = await client.consult({
      merchantNo: '200043',
      storeNo: '300014',
      vendor: 'gcash',
      terminal: 'ONLINE',
      autoReference: 'r-1',
      autoRedirectUrl: 'https://shop.example/back',
      autoIpnUrl: 'https://api.example/callbacks/yuansfer',
      note: null,
    });
    expect(consulted).toEqual({ authUrl: expect.stringMatching(/^https:\/\//), autoDebitNo: expect.stringMatching(/^\d{18}$/), autoReference: 'r-1', vendor: 'GCASH' });
    await expect(client.applyToken(ref(consulted.autoDebitNo))).rejects.toMatchObject({ kind: 'business', code: '000040' });
    running.sandbox.yuansfer.authorize(consulted.autoDebitNo);
    const token = await client.applyToken(ref(consulted.autoDebitNo));
    expect(token.accessTokenExpiryTime).toBeInstanceOf(Date);
    expect(token.refreshTokenExpiryTime!.getTime()).toBeGreaterThan(token.accessTokenExpiryTime!.getTime());
    expect(await client.revoke(ref(consulted.autoDebitNo))).toEqual({ autoDebitNo: consulted.autoDebitNo, autoReference: 'r-1', vendor: 'GCASH' });
    await expect(client.revoke(ref(consulted.autoDebitNo))).rejects.toMatchObject({ kind: 'business', code: '000040' });
    const sent = running.sandbox.kit.requests.list('yuansfer').map((r) => r.body as Record<string, unknown>);
    expect(sent[0]).not.toHaveProperty('note');
    expect(sent.every((body) => typeof body.verifySign === 'string')).toBe(true);
  });

  it('fails with PROVIDER_UNAUTHENTICATED when the token is not the merchant\'s', async () => {
    const wrong = new YuansferClient(config(`${running.base}/yuansfer`, 'wrong-token'));
    try {
      await expect(wrong.revoke(ref('298200000000000001'))).rejects.toBeInstanceOf(ProviderAuthenticationError);
    } finally {
      wrong.close();
    }
  });
});

describe('YuansferClient reading answers', () => {
  let server: http.Server;
  let reply: string;
  let client: YuansferClient;
  beforeAll(async () => {
    server = http.createServer((_req, res) => res.end(reply));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    client = new YuansferClient(config(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
  afterAll(async () => {
    client.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('reads the channel from customerBelongsTo, as the seed\'s second revoke example names it', async () => {
    reply = '{"result":{"autoDebitNo":"298222562856331071","autoReference":"testAuth2021010801","customerBelongsTo":"GCASH"},"ret_code":"000100","ret_msg":"revoke success"}';
    expect(await client.revoke({ merchantNo: '200043', storeNo: '300014', autoDebitNo: '298222562856331071' })).toEqual({
      autoDebitNo: '298222562856331071',
      autoReference: 'testAuth2021010801',
      vendor: 'GCASH',
    });
  });

  it('reads apply-token times with their +08:00 offset, as the docs print them', async () => {
    reply =
      '{"result":{"accessTokenExpiryTime":"2021-07-07T03:17:31+08:00","autoDebitNo":"298222562856331071","autoReference":"testAuth2021010801","vendor":"GCASH","refreshTokenExpiryTime":"2022-01-08T03:17:31+08:00"},"ret_code":"000100","ret_msg":"apply success"}';
    const token = await client.applyToken({ merchantNo: '200043', storeNo: '300014', autoDebitNo: '298222562856331071' });
    expect(token.accessTokenExpiryTime?.toISOString()).toBe('2021-07-06T19:17:31.000Z');
    expect(token.refreshTokenExpiryTime?.toISOString()).toBe('2022-01-07T19:17:31.000Z');
  });

  it('refuses a consult answer without a usable authUrl, naming the field', async () => {
    const request = { merchantNo: '1', storeNo: '2', vendor: 'gcash', terminal: 'ONLINE' as const, autoReference: 'r', autoRedirectUrl: 'https://x', autoIpnUrl: 'https://y' };
    reply = '{"result":{"autoDebitNo":"1"},"ret_code":"000100","ret_msg":"ok"}';
    await expect(client.consult(request)).rejects.toThrow('Yuansfer consult answered without result.authUrl');
    reply = '{"result":{"authUrl":"javascript:alert(1)","autoDebitNo":"1"},"ret_code":"000100","ret_msg":"ok"}';
    await expect(client.consult(request)).rejects.toThrow('not an http(s) URL');
    reply = '{"result":{"authUrl":"https://a","autoDebitNo":7},"ret_code":"000100","ret_msg":"ok"}';
    await expect(client.consult(request)).rejects.toThrow('result.autoDebitNo that is not a string');
    reply = '{"result":{"authUrl":"https://a","autoDebitNo":"1:2"},"ret_code":"000100","ret_msg":"ok"}';
    await expect(client.consult(request)).rejects.toThrow('an autoDebitNo that cannot be an id');
  });
});

describe('YUANSFER_* configuration', () => {
  const full = { YUANSFER_TOKEN: 'tok', YUANSFER_MERCHANT_NO: '200043', YUANSFER_STORE_NO: '300014', AUTH: 'off' };

  it('reads the real merchant, defaulting the base URL to production', () => {
    const yuansfer = loadConfig({ ...full }).yuansfer;
    expect(yuansfer).toMatchObject({ baseUrl: 'https://mapi.yuansfer.com', token: 'tok', merchantNo: '200043', storeNo: '300014' });
    expect(loadConfig({ ...full, YUANSFER_BASE_URL: 'https://mapi.yuansfer.yunkeguan.com/' }).yuansfer?.baseUrl).toBe('https://mapi.yuansfer.yunkeguan.com');
  });

  it('points at the emulator in sandbox mode and is absent without variables otherwise', () => {
    const sandbox = loadConfig({ SANDBOX: 'on' }, () => 'http://127.0.0.1:1/sandbox').yuansfer!;
    expect(typeof sandbox.baseUrl === 'function' ? sandbox.baseUrl() : sandbox.baseUrl).toBe('http://127.0.0.1:1/sandbox/yuansfer');
    expect(sandbox).toMatchObject({ merchantNo: '200043', storeNo: '300014', token: DOC_TOKEN });
    expect(loadConfig({ SANDBOX: 'off', AUTH: 'off' }).yuansfer).toBeUndefined();
    expect(loadConfig({ ...full }).sandbox).toBe(false);
  });

  it.each<[Record<string, string>, string, string]>([
    [{ YUANSFER_TOKEN: 'tok' }, 'YUANSFER_MERCHANT_NO', 'is required when YUANSFER_TOKEN is set'],
    [{ YUANSFER_BASE_URL: 'https://x' }, 'YUANSFER_TOKEN', 'is required when YUANSFER_BASE_URL is set'],
    [{ ...full, YUANSFER_BASE_URL: 'ftp://x' }, 'YUANSFER_BASE_URL', 'must start with http:// or https://'],
    [{ ...full, YUANSFER_STORE_NO: '300 014' }, 'YUANSFER_STORE_NO', 'must be 1 to 32 letters or digits'],
    [{ ...full, YUANSFER_TOKEN: 'a b' }, 'YUANSFER_TOKEN', 'must not contain whitespace'],
  ])('refuses %p naming the variable', (env, variable, message) => {
    let caught: unknown;
    try {
      loadConfig(env);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect(caught).toMatchObject({ variable, message: `${variable}: ${message}` });
    expect(String((caught as Error).message)).not.toContain('tok');
  });
});
