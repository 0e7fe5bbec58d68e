import fetch from 'node-fetch';
import { get, manualClock, post, startReceiver, startSandbox, waitFor, type ManualClock, type Receiver, type RunningSandbox } from '../etc/harness';
import { chinaTime, decodeForm, DOC_TOKEN, form, SANDBOX_MERCHANT_NO, SANDBOX_STORE_NO, sign, signed } from './signer';

const OTHER_TOKEN = 'another-merchant-token-0123456789';

let clock: ManualClock;
let receiver: Receiver;
let running: RunningSandbox;

beforeEach(async () => {
  clock = manualClock();
  receiver = await startReceiver();
  receiver.answer = () => ({ body: 'success' });
  running = await startSandbox({
    clock,
    callbackUrl: () => `${receiver.url}/default`,
    // These tests play a merchant whose IPN URLs are paths of its own server (the API allows only its own).
    allowCallbackTarget: (_provider, url) => url.startsWith(`${receiver.url}/`),
    yuansfer: {
      merchants: {
        [SANDBOX_MERCHANT_NO]: { token: DOC_TOKEN, stores: [SANDBOX_STORE_NO, '300015'] },
        '200099': { token: OTHER_TOKEN, stores: ['399999'] },
      },
    },
  });
});

afterEach(async () => {
  await running.close();
  await receiver.close();
});

const api = (operation: string) => `${running.base}/yuansfer/auto-debit/v3/${operation}`;
const admin = (path: string) => `${running.base}/_admin/yuansfer${path}`;
const merchant = { merchantNo: SANDBOX_MERCHANT_NO, storeNo: SANDBOX_STORE_NO };

type Envelope = { result?: Record<string, unknown>; ret_code: string; ret_msg: string };

/** Posts signed parameters as JSON (as the docs show) and checks the HTTP status that goes with the ret_code. */
async function call(operation: string, params: Record<string, string>, token = DOC_TOKEN): Promise<Envelope> {
  const answer = await post(api(operation), signed(params, token));
  const body = answer.body as Envelope;
  expect(answer.status).toBe(body.ret_code === '000100' ? 200 : 400);
  return body;
}

function consultParams(extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...merchant,
    vendor: 'gcash',
    terminal: 'ONLINE',
    autoReference: 'testAuth2021010801',
    autoRedirectUrl: 'https://shop.example/back',
    autoIpnUrl: `${receiver.url}/ipn`,
    note: 'monthly',
    ...extra,
  };
}

async function consult(extra: Record<string, string> = {}): Promise<string> {
  const envelope = await call('consult', consultParams(extra));
  expect(envelope.ret_code).toBe('000100');
  return envelope.result!.autoDebitNo as string;
}

async function authorized(extra: Record<string, string> = {}): Promise<string> {
  const no = await consult(extra);
  expect((await post(admin(`/auto-debits/${no}/authorize`), {})).status).toBe(200);
  return no;
}

function refusal(ret_code: string, ret_msg: string) {
  return { ret_code, ret_msg };
}

describe('the test signer', () => {
  it('reproduces the doc vectors of docs/providers/yuansfer.md', () => {
    expect(sign({ merchantNo: '200043', storeNo: '300014', autoDebitNo: '298222562856331071', grantType: 'AUTHORIZATION_CODE' })).toBe('edeb2fe1c1be1c4d4763ac7b7c3a4098');
    expect(
      sign({ transactionNo: '305680500880311923', status: 'success', amount: '0.01', currency: 'USD', settleCurrency: 'USD', reference: 'test1666247277861', time: '20221020142817' }),
    ).toBe('435d01c5d5fa88cfe8168fbfbf732519');
  });
});

describe('consult', () => {
  it('answers an authUrl and a new autoDebitNo, and keeps the authorization PENDING', async () => {
    const envelope = await call('consult', consultParams());
    expect(envelope).toEqual({
      result: {
        authUrl: expect.stringMatching(/^https:\/\/yuansfer-sandbox\.invalid\/auto-debit\/authorize\/\d{18}\?authState=\d{18}/),
        autoDebitNo: expect.stringMatching(/^\d{18}$/),
        autoReference: 'testAuth2021010801',
        vendor: 'GCASH',
      },
      ret_code: '000100',
      ret_msg: 'consult success',
    });
    const view = (await get(admin(`/auto-debits/${envelope.result!.autoDebitNo}`))).body;
    expect(view).toMatchObject({ status: 'PENDING', vendor: 'gcash', terminal: 'ONLINE', merchantNo: '200043', storeNo: '300014', note: 'monthly', accessTokenExpiryTime: null });
    expect(receiver.received).toEqual([]);
  });

  it('takes a form-encoded body too', async () => {
    const answer = await fetch(api('consult'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form(signed(consultParams())),
    });
    expect(((await answer.json()) as Envelope).ret_code).toBe('000100');
  });
});

describe('refusals', () => {
  it.each<[string, Record<string, string | undefined>, string, string]>([
    ['a missing required parameter', { autoReference: undefined }, '000020', 'parameter null : autoReference'],
    ['a WAP terminal without osType', { terminal: 'WAP', osVersion: '14.0' }, '000020', 'parameter null : osType'],
    ['an APP terminal without osVersion', { terminal: 'APP', osType: 'IOS' }, '000020', 'parameter null : osVersion'],
    ['an unknown vendor', { vendor: 'paypal' }, '000023', 'parameter value error : vendor'],
    ['an unknown terminal', { terminal: 'KIOSK' }, '000023', 'parameter value error : terminal'],
    ['an unknown osType', { terminal: 'WAP', osType: 'SYMBIAN', osVersion: '1' }, '000023', 'parameter value error : osType'],
    ['a redirect URL that is not http(s)', { autoRedirectUrl: 'javascript:alert(1)' }, '000023', 'parameter value error : autoRedirectUrl'],
    ['a store of another merchant', { storeNo: '399999' }, '000022', 'parameters do not match : storeNo'],
    ['an unknown merchant', { merchantNo: '123456' }, '000030', 'access denied : merchantNo'],
  ])('consult refuses %s', async (_case, change, code, message) => {
    const params = Object.fromEntries(Object.entries({ ...consultParams(), ...change }).filter(([, v]) => v !== undefined)) as Record<string, string>;
    expect(await call('consult', params)).toEqual(refusal(code, message));
  });

  it('refuses a missing verifySign as 000020 and a wrong one as seed 004 shows', async () => {
    const unsigned = await post(api('consult'), consultParams());
    expect(unsigned).toMatchObject({ status: 400, body: refusal('000020', 'parameter null : verifySign') });
    expect(await call('consult', consultParams(), 'not-the-token')).toEqual(refusal('000000', 'data error : verifySign'));
    const tampered = { ...signed(consultParams()), note: 'changed after signing' };
    expect((await post(api('consult'), tampered)).body).toEqual(refusal('000000', 'data error : verifySign'));
    // The other merchant's token does not sign for this one.
    expect(await call('consult', consultParams(), OTHER_TOKEN)).toEqual(refusal('000000', 'data error : verifySign'));
  });

  it('refuses a body that is not one object', async () => {
    expect((await post(api('revoke'), [merchant])).body).toEqual(refusal('000023', 'parameter value error : body must be one JSON object or form'));
    const repeated = await fetch(api('revoke'), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'merchantNo=1&merchantNo=2' });
    expect(((await repeated.json()) as Envelope).ret_code).toBe('000023');
  });

  it('refuses an unknown autoDebitNo with 000021 and one of another store with 000022', async () => {
    for (const operation of ['apply-token', 'revoke']) {
      expect(await call(operation, { ...merchant, autoDebitNo: '298200000000000001', grantType: 'AUTHORIZATION_CODE' })).toEqual(
        refusal('000021', 'no related information : autoDebitNo'),
      );
    }
    const no = await authorized();
    expect(await call('revoke', { ...merchant, storeNo: '300015', autoDebitNo: no })).toEqual(refusal('000022', 'parameters do not match : autoDebitNo'));
    expect((await get(admin(`/auto-debits/${no}`))).body.status).toBe('ACTIVE');
  });

  it('refuses a token before the payer authorized, and anything but a new consult once revoked (000040)', async () => {
    const no = await consult();
    expect(await call('apply-token', { ...merchant, autoDebitNo: no, grantType: 'AUTHORIZATION_CODE' })).toEqual(
      refusal('000040', 'transaction status error : the payer has not authorized yet'),
    );
    expect(await call('apply-token', { ...merchant, autoDebitNo: no, grantType: 'PASSWORD' })).toEqual(refusal('000023', 'parameter value error : grantType'));
    await post(admin(`/auto-debits/${no}/authorize`), {});
    expect(await call('apply-token', { ...merchant, autoDebitNo: no, grantType: 'REFRESH_TOKEN' })).toEqual(refusal('000040', 'transaction status error : no token to refresh'));
    expect((await call('revoke', { ...merchant, autoDebitNo: no })).ret_code).toBe('000100');
    expect(await call('revoke', { ...merchant, autoDebitNo: no })).toEqual(refusal('000040', 'transaction status error : the authorization is already revoked'));
    expect(await call('apply-token', { ...merchant, autoDebitNo: no, grantType: 'AUTHORIZATION_CODE' })).toEqual(
      refusal('000040', 'transaction status error : the authorization is revoked'),
    );
    expect((await call('pay', payParams(no))).ret_code).toBe('000040');
  });
});

describe('apply-token', () => {
  it('issues the token once the payer authorized, answering its expiry times on Yuansfer\'s clock', async () => {
    const no = await authorized();
    const envelope = await call('apply-token', { ...merchant, autoDebitNo: no, grantType: 'AUTHORIZATION_CODE' });
    // manualClock starts at 2024-01-15T02:30:00Z, 10:30 in UTC+8.
    expect(envelope).toEqual({
      result: {
        accessTokenExpiryTime: '2024-07-13T10:30:00+08:00',
        autoDebitNo: no,
        autoReference: 'testAuth2021010801',
        vendor: 'GCASH',
        refreshTokenExpiryTime: '2025-01-14T10:30:00+08:00',
      },
      ret_code: '000100',
      ret_msg: 'apply success',
    });
    clock.advance(86_400_000);
    const again = await call('apply-token', { ...merchant, autoDebitNo: no, grantType: 'AUTHORIZATION_CODE' });
    expect(again.result!.accessTokenExpiryTime).toBe('2024-07-13T10:30:00+08:00');
    const refreshed = await call('apply-token', { ...merchant, autoDebitNo: no, grantType: 'REFRESH_TOKEN' });
    expect(refreshed.result!.accessTokenExpiryTime).toBe('2024-07-14T10:30:00+08:00');
  });
});

function payParams(autoDebitNo: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...merchant,
    vendor: 'gcash',
    autoDebitNo,
    amount: '100',
    currency: 'PHP',
    settleCurrency: 'USD',
    reference: 'test2021010801',
    ipnUrl: `${receiver.url}/pay`,
    ...extra,
  };
}

describe('pay', () => {
  it('debits an authorization with a token and sends the payment IPN', async () => {
    const no = await authorized();
    expect((await call('pay', payParams(no))).ret_code).toBe('000040');
    await call('apply-token', { ...merchant, autoDebitNo: no, grantType: 'AUTHORIZATION_CODE' });
    const envelope = await call('pay', payParams(no));
    expect(envelope).toEqual({
      result: { amount: 100, autoDebitNo: no, currency: 'PHP', settleCurrency: 'USD', reference: 'test2021010801', transactionNo: expect.stringMatching(/^\d{18}$/) },
      ret_code: '000100',
      ret_msg: 'pay success',
    });
    const ipn = await waitFor(() => receiver.received.find((r) => r.url === '/callbacks/pay'), 'the payment IPN');
    const params = decodeForm(ipn.body);
    expect(params).toEqual({
      transactionNo: envelope.result!.transactionNo,
      status: 'success',
      amount: '100',
      currency: 'PHP',
      settleCurrency: 'USD',
      reference: 'test2021010801',
      time: chinaTime(clock.now()),
      verifySign: sign(params),
    });
  });

  it.each<[string, Record<string, string>, string, string]>([
    ['a zero amount', { amount: '0.00' }, '000023', 'parameter value error : amount'],
    ['three decimals', { amount: '1.005' }, '000023', 'parameter value error : amount'],
    ['an undocumented currency', { currency: 'EUR' }, '000023', 'parameter value error : currency'],
    ['another vendor than authorized', { vendor: 'dana' }, '000022', 'parameters do not match : vendor'],
  ])('refuses %s', async (_case, change, code, message) => {
    const { body } = await post(admin('/auto-debits'), { vendor: 'gcash' });
    expect(await call('pay', payParams(body.autoDebitNo, change))).toEqual(refusal(code, message));
  });
});

describe('IPNs', () => {
  it('sends the authorization IPN form-encoded with verifySign to the autoIpnUrl', async () => {
    const no = await consult();
    const { body } = await post(admin(`/auto-debits/${no}/authorize`), {});
    expect(body).toEqual({ autoDebitNo: no, status: 'ACTIVE', callbackId: expect.stringMatching(/^cb_/) });
    await waitFor(() => receiver.received.length === 1, 'the IPN');
    const [ipn] = receiver.received;
    expect(ipn.url).toBe('/callbacks/ipn');
    expect(ipn.headers['content-type']).toBe('application/x-www-form-urlencoded; charset=utf-8');
    const params = decodeForm(ipn.body);
    expect(params).toEqual({ autoDebitNo: no, autoReference: 'testAuth2021010801', vendor: 'gcash', time: '20240115103000', note: 'monthly', verifySign: sign(params) });
    expect(sign(params, OTHER_TOKEN)).not.toBe(params.verifySign);
  });

  it('sends the revocation IPN (status=revoked) after a revoke', async () => {
    const no = await authorized();
    await waitFor(() => receiver.received.length === 1, 'the authorization IPN');
    clock.advance(60_000);
    expect((await call('revoke', { ...merchant, autoDebitNo: no })).result).toEqual({ autoDebitNo: no, autoReference: 'testAuth2021010801', vendor: 'GCASH' });
    await waitFor(() => receiver.received.length === 2, 'the revocation IPN');
    const params = decodeForm(receiver.received[1].body);
    expect(params).toEqual({ autoDebitNo: no, autoReference: 'testAuth2021010801', vendor: 'gcash', time: '20240115103100', note: 'monthly', status: 'revoked', verifySign: sign(params) });
  });

  it('resends the same bytes while the answer is not the plain string success', async () => {
    const answers = [{ status: 500, body: 'success' }, { body: '{"result":"success"}' }, { body: 'SUCCESS' }, { body: 'success\n' }];
    receiver.answer = (n) => answers[n];
    await authorized();
    const delivery = await waitFor(async () => {
      const list = (await get(admin('/callbacks'))).body.callbacks as Array<{ state: string; attempts: unknown[] }>;
      return list[0]?.state === 'acknowledged' ? list[0] : undefined;
    }, 'the acknowledgement');
    expect(delivery.attempts).toHaveLength(4);
    expect(new Set(receiver.received.map((r) => r.body)).size).toBe(1);
  });

  it('gives up after 8 resends', async () => {
    receiver.answer = () => ({ body: 'fail' });
    await authorized();
    const delivery = await waitFor(async () => {
      const list = (await get(admin('/callbacks'))).body.callbacks as Array<{ state: string; attempts: unknown[] }>;
      return list[0]?.state === 'failed' ? list[0] : undefined;
    }, 'the delivery to fail');
    expect(delivery.attempts).toHaveLength(9);
  });
});

describe('admin API', () => {
  it('creates an active authorization with its token, ready to pay, and optionally notifies', async () => {
    const created = await post(admin('/auto-debits'), {});
    expect(created).toMatchObject({ status: 201, body: { autoDebitNo: expect.stringMatching(/^\d{18}$/) } });
    const no = created.body.autoDebitNo as string;
    expect((await get(admin(`/auto-debits/${no}`))).body).toMatchObject({ status: 'ACTIVE', merchantNo: '200043', storeNo: '300014', vendor: 'alipay', accessTokenExpiryTime: '2024-07-13T10:30:00+08:00' });
    expect((await call('pay', payParams(no, { vendor: 'alipay' }))).ret_code).toBe('000100');
    expect(receiver.received.filter((r) => r.url === '/callbacks/default')).toEqual([]);

    const notified = await post(admin('/auto-debits'), { autoDebitNo: 'AD-1', storeNo: '300015', vendor: 'tng', autoReference: 'r1', notify: true });
    expect(notified.body).toEqual({ autoDebitNo: 'AD-1', callbackId: expect.stringMatching(/^cb_/) });
    const ipn = await waitFor(() => receiver.received.find((r) => r.url === '/callbacks/default'), 'the IPN to the default URL');
    expect(decodeForm(ipn.body)).toMatchObject({ autoDebitNo: 'AD-1', autoReference: 'r1', vendor: 'tng' });
  });

  it('refuses bad admin input, naming the field', async () => {
    expect((await post(admin('/auto-debits'), { vendr: 'x' })).body).toEqual({
      error: 'unknown field "vendr"; allowed: autoDebitNo, merchantNo, storeNo, vendor, autoReference, note, autoIpnUrl, notify',
      field: 'vendr',
    });
    expect((await post(admin('/auto-debits'), { merchantNo: '1' })).body).toEqual({ error: 'merchantNo "1" is not a merchant of this sandbox', field: 'merchantNo' });
    expect((await post(admin('/auto-debits'), { storeNo: '399999' })).body).toEqual({ error: 'storeNo "399999" is not a store of merchant 200043', field: 'storeNo' });
    expect((await post(admin('/auto-debits'), { notify: 'yes' })).status).toBe(400);
    await post(admin('/auto-debits'), { autoDebitNo: 'AD-1' });
    expect((await post(admin('/auto-debits'), { autoDebitNo: 'AD-1' })).status).toBe(409);
    expect((await get(admin('/auto-debits/nope'))).status).toBe(404);
    expect((await post(admin('/auto-debits/nope/authorize'), {})).status).toBe(404);
    await post(admin('/auto-debits/AD-1/revoke'), {});
    expect((await post(admin('/auto-debits/AD-1/authorize'), {})).status).toBe(409);
    expect((await post(admin('/auto-debits/AD-1/revoke'), {})).status).toBe(409);
  });

  it('answers faults in the Yuansfer envelope and forgets everything on reset', async () => {
    await post(`${running.base}/_admin/faults`, { provider: 'yuansfer', kind: 'error', match: 'revoke', code: '000080', count: 1 });
    await post(`${running.base}/_admin/faults`, { provider: 'yuansfer', kind: 'rate-limit', match: 'consult', count: 1 });
    expect(await post(api('revoke'), {})).toMatchObject({ status: 400, body: { ret_code: '000080', ret_msg: 'system error' } });
    expect(await post(api('consult'), {})).toMatchObject({ status: 429, body: { ret_code: '000000' } });
    const no = await consult();
    const log = (await get(admin('/requests'))).body.requests as Array<{ operation: string; status: number }>;
    expect(log.map((r) => [r.operation, r.status])).toEqual([
      ['revoke', 400],
      ['consult', 429],
      ['consult', 200],
    ]);
    await post(`${running.base}/_admin/reset`, {});
    expect((await get(admin(`/auto-debits/${no}`))).status).toBe(404);
  });
});
