import { chinaTime, DOC_TOKEN, form, sign, signed } from '../sandbox/yuansfer/signer';
import { collect, startTestApp, waitFor, type TestApp } from '../support/app';

const START = `mutation ($input: StartAutoDebitInput!) {
  startAutoDebit(input: $input) {
    authUrl
    autoDebit { id autoDebitNo autoReference vendor merchantNo storeNo status }
    userErrors { code field message }
  }
}`;
const REVOKE = `mutation ($input: RevokeAutoDebitInput!) {
  revokeAutoDebit(input: $input) { autoDebit { id autoDebitNo status merchantNo storeNo } userErrors { code field message } }
}`;
const READ = `query ($id: ID!) { autoDebit(id: $id) { id autoDebitNo autoReference vendor merchantNo storeNo status updatedAt } }`;
const EVENTS = `subscription ($ids: [ID!], $after: String) { autoDebitEvents(ids: $ids, after: $after) { id status source occurredAt autoDebit { id status } } }`;

type AutoDebitView = { id: string; autoDebitNo: string; autoReference: string | null; vendor: string | null; merchantNo: string; storeNo: string; status: string };
type UserErrorView = { code: string; field: string[]; message: string };
type StartResult = { startAutoDebit: { authUrl: string | null; autoDebit: AutoDebitView | null; userErrors: UserErrorView[] } };
type RevokeResult = { revokeAutoDebit: { autoDebit: AutoDebitView | null; userErrors: UserErrorView[] } };
type EventMsg = { autoDebitEvents: { id: string; status: string; source: string; occurredAt: string | null; autoDebit: { id: string; status: string } } };
type Delivery = { event: string; subject: string; state: string; body: string; contentType: string; attempts: Array<{ status?: number; response?: string }> };
type LoggedRequest = { operation: string | null; body: Record<string, string>; status: number };

const START_INPUT = { vendor: 'gcash', terminal: 'ONLINE', redirectUrl: 'https://shop.example/after-auth', reference: 'sub-2024-001', note: 'monthly plan' };

async function start(app: TestApp, input: Record<string, unknown> = START_INPUT) {
  return app.gql<StartResult>(START, { input });
}

async function revoke(app: TestApp, input: Record<string, unknown>) {
  return app.gql<RevokeResult>(REVOKE, { input });
}

async function postIpn(app: TestApp, body: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${app.url}/callbacks/yuansfer`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  return { status: res.status, text: await res.text() };
}

async function storedEvents(app: TestApp, id: string) {
  return app.services.store.events.listAfter(0, { kinds: ['autodebit'], subjectIds: [id] }, 100);
}

// The emulator's own records, read in process: the admin API hides verifySign, and these tests check it.
async function requests(app: TestApp, operation?: string): Promise<LoggedRequest[]> {
  const log = app.sandbox!.kit.requests.list('yuansfer') as unknown as LoggedRequest[];
  return operation ? log.filter((r) => r.operation === operation) : [...log];
}

async function deliveries(app: TestApp): Promise<Delivery[]> {
  return app.sandbox!.kit.callbacks.list('yuansfer') as unknown as Delivery[];
}

describe('Yuansfer auto-debit end to end over real HTTP', () => {
  let app: TestApp;
  beforeEach(async () => {
    app = await startTestApp({ env: { YUANSFER_REDIRECT_ORIGINS: 'https://shop.example' } });
  });
  afterEach(async () => {
    await app.close();
  });

  it('consult → authorization IPN → ACTIVE on the subscription → revokeAutoDebit → REVOKED', async () => {
    const started = await start(app);
    expect(started.errors).toBeUndefined();
    const { authUrl, autoDebit, userErrors } = started.data!.startAutoDebit;
    expect(userErrors).toEqual([]);
    expect(authUrl).toMatch(/^https:\/\//);
    expect(autoDebit).toMatchObject({ autoReference: 'sub-2024-001', vendor: 'GCASH', merchantNo: '200043', storeNo: '300014', status: 'PENDING' });
    const no = autoDebit!.autoDebitNo;
    expect(autoDebit!.id).toBe(`YUANSFER:${no}`);

    // What went on the wire: the IPN URL is ours, and the emulator accepted the signature.
    const [consult] = await requests(app, 'consult');
    expect(consult.status).toBe(200);
    expect(consult.body).toMatchObject({ vendor: 'gcash', terminal: 'ONLINE', autoReference: 'sub-2024-001', autoRedirectUrl: START_INPUT.redirectUrl, autoIpnUrl: `${app.url}/callbacks/yuansfer`, merchantNo: '200043', storeNo: '300014' });
    expect(consult.body.verifySign).toBe(sign(consult.body));

    const sub = collect<EventMsg>(app.ws(), EVENTS, { ids: [autoDebit!.id], after: '0' });
    await waitFor(() => sub.items.length >= 1, { what: 'the replayed PENDING event' });
    expect(sub.items[0].autoDebitEvents).toMatchObject({ status: 'PENDING', source: 'MUTATION', autoDebit: { id: autoDebit!.id } });

    // The payer authorizes: the emulator posts the IPN; the API applies for the token, then answers success.
    await app.admin(`/yuansfer/auto-debits/${no}/authorize`, {});
    await waitFor(() => sub.items.length >= 2, { what: 'the ACTIVE event' });
    expect(sub.items[1].autoDebitEvents).toMatchObject({ status: 'ACTIVE', source: 'CALLBACK', autoDebit: { id: autoDebit!.id, status: 'ACTIVE' } });
    expect(sub.items[1].autoDebitEvents.occurredAt).toEqual(expect.any(String));
    const [applyToken] = await requests(app, 'apply-token');
    expect(applyToken.body).toMatchObject({ autoDebitNo: no, grantType: 'AUTHORIZATION_CODE', merchantNo: '200043', storeNo: '300014' });
    expect(applyToken.status).toBe(200);
    const authorized = (await deliveries(app)).find((d) => d.event === 'auto-debit.authorized');
    expect(authorized).toMatchObject({ state: 'acknowledged', attempts: [{ status: 200, response: 'success' }] });
    expect((await app.gql<{ autoDebit: AutoDebitView }>(READ, { id: autoDebit!.id })).data!.autoDebit.status).toBe('ACTIVE');

    const revoked = await revoke(app, { autoDebitNo: no });
    expect(revoked.errors).toBeUndefined();
    expect(revoked.data!.revokeAutoDebit).toEqual({
      autoDebit: { id: autoDebit!.id, autoDebitNo: no, status: 'REVOKED', merchantNo: '200043', storeNo: '300014' },
      userErrors: [],
    });
    await waitFor(() => sub.items.length >= 3, { what: 'the REVOKED event' });
    expect(sub.items[2].autoDebitEvents).toMatchObject({ status: 'REVOKED', autoDebit: { status: 'REVOKED' } });
    expect((await app.admin<{ status: string }>(`/yuansfer/auto-debits/${no}`)).status).toBe('REVOKED');

    // Yuansfer also posts a revocation IPN, which races our own recording of the revoke: whichever is stored first
    // makes the one REVOKED event, the other changes nothing.
    await waitFor(async () => (await deliveries(app)).find((d) => d.event === 'auto-debit.revoked' && d.state === 'acknowledged'), { what: 'the revocation IPN' });
    const events = await storedEvents(app, autoDebit!.id);
    expect(events.map((e) => e.status)).toEqual(['PENDING', 'ACTIVE', 'REVOKED']);
    expect(events.map((e) => e.source).slice(0, 2)).toEqual(['MUTATION', 'CALLBACK']);
    expect(['MUTATION', 'CALLBACK']).toContain(events[2].source);
    expect(await app.services.store.receipts.count('YUANSFER')).toBe(2);
    expect(sub.items).toHaveLength(3);
    expect(sub.errors).toEqual([]);
  });

  it('answers a second revoke with AUTO_DEBIT_ALREADY_REVOKED, without calling Yuansfer again', async () => {
    const { autoDebitNo } = await app.admin<{ autoDebitNo: string }>('/yuansfer/auto-debits', {});
    const first = await revoke(app, { autoDebitNo });
    expect(first.data!.revokeAutoDebit.userErrors).toEqual([]);
    const second = await revoke(app, { autoDebitNo });
    expect(second.errors).toBeUndefined();
    expect(second.data!.revokeAutoDebit).toEqual({
      autoDebit: expect.objectContaining({ id: `YUANSFER:${autoDebitNo}`, status: 'REVOKED' }),
      userErrors: [{ code: 'AUTO_DEBIT_ALREADY_REVOKED', field: ['input', 'autoDebitNo'], message: `the authorization ${autoDebitNo} is already revoked` }],
    });
    expect(await requests(app, 'revoke')).toHaveLength(1);
  });

  it('revokes an authorization the store never saw, with merchantNo and storeNo from the configuration', async () => {
    const { autoDebitNo } = await app.admin<{ autoDebitNo: string }>('/yuansfer/auto-debits', { vendor: 'alipay', autoReference: 'made-elsewhere' });
    expect((await app.gql<{ autoDebit: null }>(READ, { id: `YUANSFER:${autoDebitNo}` })).data!.autoDebit).toBeNull();
    const r = await revoke(app, { autoDebitNo });
    expect(r.data!.revokeAutoDebit).toEqual({
      autoDebit: { id: `YUANSFER:${autoDebitNo}`, autoDebitNo, status: 'REVOKED', merchantNo: '200043', storeNo: '300014' },
      userErrors: [],
    });
    const read = await app.gql<{ autoDebit: AutoDebitView }>(READ, { id: `YUANSFER:${autoDebitNo}` });
    expect(read.data!.autoDebit).toMatchObject({ autoReference: 'made-elsewhere', status: 'REVOKED' });
    // The revoke answer says ALIPAY, the revocation IPN alipay: the provider's own spelling, whichever came last.
    expect(read.data!.autoDebit.vendor?.toLowerCase()).toBe('alipay');
  });

  it('answers an authorization Yuansfer does not know with AUTO_DEBIT_NOT_FOUND, and a store it does not belong to with PROVIDER_REJECTED', async () => {
    const unknown = await revoke(app, { autoDebitNo: '298200000000000001' });
    expect(unknown.data!.revokeAutoDebit).toEqual({
      autoDebit: null,
      userErrors: [{ code: 'AUTO_DEBIT_NOT_FOUND', field: ['input', 'autoDebitNo'], message: 'Yuansfer knows no authorization 298200000000000001 for merchant 200043' }],
    });
    const { autoDebitNo } = await app.admin<{ autoDebitNo: string }>('/yuansfer/auto-debits', {});
    const elsewhere = await revoke(app, { autoDebitNo, storeNo: '300099' });
    expect(elsewhere.data!.revokeAutoDebit.userErrors).toEqual([
      expect.objectContaining({ code: 'PROVIDER_REJECTED', field: ['input', 'storeNo'], message: expect.stringContaining('000022') }),
    ]);
    const bad = await revoke(app, { autoDebitNo: 'not a number', merchantNo: 'x y' });
    expect(bad.data!.revokeAutoDebit.userErrors.map((e) => e.field)).toEqual([['input', 'autoDebitNo'], ['input', 'merchantNo']]);
    expect(await requests(app, 'revoke')).toHaveLength(2);
  });

  it('learns a revocation it missed from the status error of its own revoke', async () => {
    const { autoDebitNo } = await app.admin<{ autoDebitNo: string }>('/yuansfer/auto-debits', { notify: true });
    const id = `YUANSFER:${autoDebitNo}`;
    await waitFor(async () => (await app.gql<{ autoDebit: AutoDebitView | null }>(READ, { id })).data!.autoDebit?.status === 'ACTIVE', { what: 'the authorization IPN' });
    // The payer revokes in their wallet, and the notice is lost.
    await app.admin('/faults', { provider: 'yuansfer', kind: 'drop-callback', match: 'auto-debit.revoked' });
    await app.admin(`/yuansfer/auto-debits/${autoDebitNo}/revoke`, {});
    const r = await revoke(app, { autoDebitNo });
    expect(r.data!.revokeAutoDebit).toEqual({
      autoDebit: expect.objectContaining({ id, status: 'REVOKED' }),
      userErrors: [expect.objectContaining({ code: 'AUTO_DEBIT_ALREADY_REVOKED' })],
    });
    expect((await storedEvents(app, id)).map((e) => [e.status, e.source, e.providerStatus])).toEqual([
      ['ACTIVE', 'CALLBACK', 'authorized'],
      ['REVOKED', 'SYNC', '000040'],
    ]);
  });

  it('refuses a forged IPN and stores nothing', async () => {
    const params = { autoDebitNo: '298222562856331071', autoReference: 'testAuth2021010801', vendor: 'gcash', time: chinaTime(Date.now()) };
    const forgeries = [
      form({ ...params, verifySign: sign(params, 'not-the-merchant-token') }),
      form({ ...signed(params), autoDebitNo: '298222562856331072' }),
      form(params),
      form({ ...signed(params), status: 'revoked' }),
    ];
    for (const body of forgeries) {
      const answer = await postIpn(app, body);
      expect(answer.status).toBe(401);
      expect(answer.text).not.toBe('success');
      expect(JSON.parse(answer.text)).toMatchObject({ code: 'UNAUTHENTICATED', message: expect.stringMatching(/^verifySign: /) });
    }
    expect(await app.services.store.receipts.count('YUANSFER')).toBe(0);
    expect(await app.services.store.events.latestId()).toBe(0);
    expect((await app.gql<{ autoDebit: null }>(READ, { id: 'YUANSFER:298222562856331071' })).data!.autoDebit).toBeNull();
    expect(await requests(app, 'apply-token')).toHaveLength(0);
  });

  it('makes one event of an IPN delivered three times, and creates an authorization it never saw', async () => {
    const { autoDebitNo } = await app.admin<{ autoDebitNo: string }>('/yuansfer/auto-debits', {});
    // A recent time: older notices are replays (src/callbacks/yuansfer.ts, YUANSFER_IPN_MAX_AGE_MS).
    const at = Math.floor(Date.now() / 1000) * 1000 - 3600_000;
    const body = form(signed({ autoDebitNo, autoReference: 'ref-1', vendor: 'alipay', time: chinaTime(at), note: 'first month' }));
    for (let i = 0; i < 3; i++) expect(await postIpn(app, body)).toEqual({ status: 200, text: 'success' });
    const events = await storedEvents(app, `YUANSFER:${autoDebitNo}`);
    expect(events.map((e) => [e.status, e.source])).toEqual([['ACTIVE', 'CALLBACK']]);
    expect(events[0].occurredAt?.toISOString()).toBe(new Date(at).toISOString());
    expect(await app.services.store.receipts.count('YUANSFER')).toBe(1);
    expect(await requests(app, 'apply-token')).toHaveLength(1);
    const read = await app.gql<{ autoDebit: AutoDebitView }>(READ, { id: `YUANSFER:${autoDebitNo}` });
    expect(read.data!.autoDebit).toMatchObject({ autoReference: 'ref-1', vendor: 'alipay', merchantNo: '200043', storeNo: '300014', status: 'ACTIVE' });
  });

  it("answers no success while the token cannot be applied for, so Yuansfer's resend makes the authorization ACTIVE once", async () => {
    const started = (await start(app)).data!.startAutoDebit.autoDebit!;
    // apply-token is idempotent, so the client itself tries 1 + PROVIDER_MAX_RETRIES (2) times before giving up.
    await app.admin('/faults', { provider: 'yuansfer', kind: 'error', match: 'apply-token', code: '000080', message: 'supplier system error', count: 3 });
    await app.admin(`/yuansfer/auto-debits/${started.autoDebitNo}/authorize`, {});
    const delivery = await waitFor(async () => (await deliveries(app)).find((d) => d.event === 'auto-debit.authorized' && d.state === 'acknowledged'), {
      what: 'the resent IPN to be acknowledged',
    });
    expect(delivery.attempts.map((a) => [a.status, a.response])).toEqual([
      [502, JSON.stringify({ code: 'NOT_STORED', message: 'not stored, please resend' })],
      [200, 'success'],
    ]);
    expect((await storedEvents(app, started.id)).map((e) => e.status)).toEqual(['PENDING', 'ACTIVE']);
    expect(await app.services.store.receipts.count('YUANSFER')).toBe(1);
    expect((await requests(app, 'apply-token')).map((r) => r.status)).toEqual([400, 400, 400, 200]);
  });

  it('takes the revocation IPN of a payer who revokes in their wallet', async () => {
    const { autoDebitNo } = await app.admin<{ autoDebitNo: string }>('/yuansfer/auto-debits', { notify: true });
    const id = `YUANSFER:${autoDebitNo}`;
    const sub = collect<EventMsg>(app.ws(), EVENTS, { ids: [id], after: '0' });
    await waitFor(() => sub.items.length >= 1, { what: 'the ACTIVE event' });
    await app.admin(`/yuansfer/auto-debits/${autoDebitNo}/revoke`, {});
    await waitFor(() => sub.items.length >= 2, { what: 'the REVOKED event' });
    expect(sub.items.map((i) => [i.autoDebitEvents.status, i.autoDebitEvents.source, i.autoDebitEvents.autoDebit.status])).toEqual([
      ['ACTIVE', 'CALLBACK', 'ACTIVE'],
      ['REVOKED', 'CALLBACK', 'REVOKED'],
    ]);
    // A late resend of the authorization notice cannot bring it back.
    const late = (await deliveries(app)).find((d) => d.event === 'auto-debit.authorized')!;
    expect(await postIpn(app, late.body)).toEqual({ status: 200, text: 'success' });
    expect((await app.gql<{ autoDebit: AutoDebitView }>(READ, { id })).data!.autoDebit.status).toBe('REVOKED');
    expect(await storedEvents(app, id)).toHaveLength(2);
  });

  it('resumes autoDebitEvents after a cursor: each missed event once, in order, then live', async () => {
    const a = (await start(app)).data!.startAutoDebit.autoDebit!;
    const b = (await start(app, { ...START_INPUT, reference: 'other' })).data!.startAutoDebit.autoDebit!;
    const first = await storedEvents(app, a.id);
    await app.admin(`/yuansfer/auto-debits/${a.autoDebitNo}/authorize`, {});
    await app.admin(`/yuansfer/auto-debits/${b.autoDebitNo}/authorize`, {});
    await waitFor(async () => (await storedEvents(app, b.id)).length === 2, { what: 'both authorizations to be ACTIVE' });
    const sub = collect<EventMsg>(app.ws(), EVENTS, { after: first[0].id.toString() });
    await waitFor(() => sub.items.length >= 3, { what: 'the replay' });
    expect(sub.items.map((i) => [i.autoDebitEvents.autoDebit.id, i.autoDebitEvents.status])).toEqual([
      [b.id, 'PENDING'],
      [a.id, 'ACTIVE'],
      [b.id, 'ACTIVE'],
    ]);
    await revoke(app, { autoDebitNo: a.autoDebitNo });
    await waitFor(() => sub.items.length >= 4, { what: 'the live REVOKED event' });
    expect(sub.items[3].autoDebitEvents).toMatchObject({ status: 'REVOKED', autoDebit: { id: a.id } });
    const ids = sub.items.map((i) => Number(i.autoDebitEvents.id));
    expect([...ids].sort((x, y) => x - y)).toEqual(ids);
  });

  it('replays startAutoDebit for the same idempotency key and refuses the key with other input', async () => {
    const input = { ...START_INPUT, idempotencyKey: 'start-1' };
    const first = await start(app, input);
    const again = await start(app, input);
    expect(again).toEqual(first);
    expect(first.data!.startAutoDebit.userErrors).toEqual([]);
    expect(await requests(app, 'consult')).toHaveLength(1);
    const other = await start(app, { ...input, note: 'another plan' });
    expect(other.data!.startAutoDebit).toEqual({
      authUrl: null,
      autoDebit: null,
      userErrors: [expect.objectContaining({ code: 'IDEMPOTENCY_KEY_REUSED', field: ['input', 'idempotencyKey'] })],
    });
    const { autoDebitNo } = await app.admin<{ autoDebitNo: string }>('/yuansfer/auto-debits', {});
    const revokeOnce = { autoDebitNo, idempotencyKey: 'revoke-1' };
    expect(await revoke(app, revokeOnce)).toEqual(await revoke(app, revokeOnce));
    expect((await revoke(app, revokeOnce)).data!.revokeAutoDebit.userErrors).toEqual([]);
    expect(await requests(app, 'revoke')).toHaveLength(1);
  });

  it('checks the input before any call, naming the field', async () => {
    const r = await start(app, { vendor: 'paypal', terminal: 'WAP', redirectUrl: 'ftp://x', reference: 'has space', note: 'n'.repeat(256), merchantNo: '2000-43' });
    expect(r.errors).toBeUndefined();
    expect(r.data!.startAutoDebit.autoDebit).toBeNull();
    expect(r.data!.startAutoDebit.userErrors.map((e) => [e.code, e.field])).toEqual([
      ['INVALID_INPUT', ['input', 'vendor']],
      ['INVALID_INPUT', ['input', 'osType']],
      ['INVALID_INPUT', ['input', 'osVersion']],
      ['INVALID_INPUT', ['input', 'redirectUrl']],
      ['INVALID_INPUT', ['input', 'reference']],
      ['INVALID_INPUT', ['input', 'note']],
      ['INVALID_INPUT', ['input', 'merchantNo']],
    ]);
    expect(r.data!.startAutoDebit.userErrors[1].message).toBe('osType is required when the terminal is WAP');
    expect(await requests(app)).toEqual([]);
    const app2 = await start(app, { ...START_INPUT, terminal: 'APP', osType: 'IOS', osVersion: '17.2', reference: null });
    expect(app2.data!.startAutoDebit.userErrors).toEqual([]);
    const [consult] = await requests(app, 'consult');
    expect(consult.body).toMatchObject({ terminal: 'APP', osType: 'IOS', osVersion: '17.2', autoReference: expect.stringMatching(/^ad_[0-9a-f]{32}$/) });
  });

  it('maps Yuansfer failures to GraphQL errors with extensions.code', async () => {
    await app.admin('/faults', { provider: 'yuansfer', kind: 'error', code: '000000', message: 'data error : verifySign', count: 1 });
    const unauthenticated = await start(app);
    expect(unauthenticated.errors?.[0].extensions).toMatchObject({ code: 'PROVIDER_UNAUTHENTICATED', provider: 'YUANSFER', providerCode: '000000' });
    await app.admin('/faults', { provider: 'yuansfer', kind: 'rate-limit', count: 5 });
    const limited = await revoke(app, { autoDebitNo: '298200000000000001' });
    expect(limited.errors?.[0].extensions).toMatchObject({ code: 'PROVIDER_RATE_LIMITED', provider: 'YUANSFER' });
    expect(JSON.stringify(limited)).not.toContain(DOC_TOKEN);
  });
});

describe('Yuansfer not configured', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ env: { SANDBOX: 'off', AUTH: 'off', YUANSFER_REDIRECT_ORIGINS: 'https://shop.example' } });
  });
  afterAll(async () => {
    await app.close();
  });

  it('answers PROVIDER_NOT_CONFIGURED and refuses IPNs it cannot verify', async () => {
    const r = await start(app);
    expect(r.errors?.[0].extensions).toMatchObject({ code: 'PROVIDER_NOT_CONFIGURED', provider: 'YUANSFER' });
    const ipn = await postIpn(app, form(signed({ autoDebitNo: '1', time: chinaTime(Date.now()) })));
    expect(ipn.status).toBe(503);
    expect(await app.services.store.receipts.count('YUANSFER')).toBe(0);
  });
});
