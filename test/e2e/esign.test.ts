import { collect, startTestApp, waitFor, type TestApp } from '../support/app';
import { APP_ID, APP_SECRET, callbackSignature } from '../sandbox/esign/signer';

const RESCIND = `mutation ($input: InitiateRescissionInput!) {
  initiateRescission(input: $input) {
    rescission { id status rescissionFlowId fileIds reason notes createdAt updatedAt signFlow { id status } }
    userErrors { code field message }
  }
}`;
const EVENTS = `subscription ($ids: [ID!]) { signFlowEvents(ids: $ids) { id status providerStatus source flow { id status } } }`;

type RescissionNode = { id: string; status: string; rescissionFlowId: string; fileIds: string[]; reason: string; notes: string | null; signFlow: { id: string; status: string } };
type RescindResult = { initiateRescission: { rescission: RescissionNode | null; userErrors: Array<{ code: string; field: string[]; message: string }> } };
type EventMsg = { signFlowEvents: { id: string; status: string; providerStatus: string; source: string; flow: { id: string; status: string } } };
type Signer = { kind: 'person'; psnId: string } | { kind: 'organization'; orgId: string; transactorPsnId: string };

interface Requests {
  requests: Array<{ operation: string | null; method: string; path: string; body: any }>;
}

async function esignRequests(app: TestApp, operation?: string): Promise<Requests['requests']> {
  const log = await app.admin<Requests>('/esign/requests');
  return operation ? log.requests.filter((r) => r.operation === operation) : log.requests;
}

/** A COMPLETED flow at the emulator with two signers (a person, an organisation) and two files. */
async function completedFlow(app: TestApp, extra: Record<string, unknown> = {}): Promise<{ flowId: string; person: Signer & { kind: 'person' }; org: Signer & { kind: 'organization' } }> {
  const { flowId } = await app.admin<{ flowId: string }>('/esign/flows', { status: 'COMPLETED', signers: 2, fileIds: ['fileA', 'fileB'], ...extra });
  const view = await app.admin<{ signers: Signer[] }>(`/esign/flows/${flowId}`);
  return {
    flowId,
    person: view.signers.find((s) => s.kind === 'person') as Signer & { kind: 'person' },
    org: view.signers.find((s) => s.kind === 'organization') as Signer & { kind: 'organization' },
  };
}

/** Posts a callback signed as e签宝 signs it (or as a forger would, with `secret`). */
async function postCallback(
  app: TestApp,
  body: unknown,
  {
    timestamp = Date.now(),
    secret = APP_SECRET,
    query = '',
    signedQuery = query,
    headers = {},
  }: { timestamp?: number; secret?: string; query?: string; signedQuery?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const url = `${app.url}/callbacks/esign${query}`;
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'X-Tsign-Open-App-Id': APP_ID,
      'X-Tsign-Open-SIGNATURE-ALGORITHM': 'hmac-sha256',
      'X-Tsign-Open-TIMESTAMP': String(timestamp),
      'X-Tsign-Open-SIGNATURE': callbackSignature(secret, String(timestamp), `${app.url}/callbacks/esign${signedQuery}`, raw),
      ...headers,
    },
    body: raw,
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function flowEvents(app: TestApp, id: string): Promise<Array<{ status: string; source: string; providerStatus: string }>> {
  const r = await app.gql<{ signFlow: { events: { edges: Array<{ node: { status: string; source: string; providerStatus: string } }> } } | null }>(
    `query ($id: ID!) { signFlow(id: $id) { events(first: 100) { edges { node { status source providerStatus } } } } }`,
    { id },
  );
  return r.data?.signFlow?.events.edges.map((e) => e.node) ?? [];
}

describe('e签宝 rescission end to end over real HTTP', () => {
  let app: TestApp;
  beforeEach(async () => {
    app = await startTestApp({ env: { ESIGN_NOTIFY_ORIGINS: 'https://hooks.example.com' } });
  });
  afterEach(async () => {
    await app.close();
  });

  it('rescinds a completed two-signer flow: INITIATED, then RESCINDED on the subscription once the agreement is signed', async () => {
    const { flowId, person } = await completedFlow(app);
    const id = `ESIGN:${flowId}`;
    const sub = collect<EventMsg>(app.ws(), EVENTS, { ids: [id] });
    await waitFor(() => app.services.feed.subscriberCount > 0, { what: 'the subscription to register' });

    const r = await app.gql<RescindResult>(RESCIND, {
      input: { signFlowId: id, fileIds: ['fileA', 'fileB'], reason: 'WRONG_TERMS', notes: '条款有误', initiator: { person: { psnId: person.psnId } } },
    });
    expect(r.errors).toBeUndefined();
    const { rescission, userErrors } = r.data!.initiateRescission;
    expect(userErrors).toEqual([]);
    expect(rescission).toMatchObject({
      status: 'INITIATED',
      fileIds: ['fileA', 'fileB'],
      reason: 'WRONG_TERMS',
      notes: '条款有误',
      signFlow: { id, status: 'COMPLETED' },
    });
    expect(rescission!.id).toBe(`ESIGN:${rescission!.rescissionFlowId}`);

    const [sent] = await esignRequests(app, 'initiate-rescission');
    expect(sent.path).toBe(`/v3/sign-flow/${flowId}/initiate-rescission`);
    expect(sent.body).toEqual({
      rescindFileList: ['fileA', 'fileB'],
      rescindReason: '1',
      rescindReasonNotes: '条款有误',
      rescissionInitiator: { psnInitiator: { psnId: person.psnId } },
      signFlowConfig: { notifyUrl: `${app.url}/callbacks/esign` },
    });

    // e签宝's SIGN_FILE_RESCISSION_INITIATE arrives too; it is the same rescission, not a second one.
    await waitFor(async () => {
      const list = await app.admin<{ callbacks: Array<{ event: string; state: string }> }>('/esign/callbacks');
      return list.callbacks.some((c) => c.event === 'SIGN_FILE_RESCISSION_INITIATE' && c.state === 'acknowledged');
    }, { what: 'the initiation callback to be acknowledged' });
    const listed = await app.gql<{ signFlow: { status: string; rescissions: Array<{ id: string; status: string }> } }>(
      `query ($id: ID!) { signFlow(id: $id) { status rescissions { id status } } }`,
      { id },
    );
    expect(listed.data!.signFlow).toEqual({ status: 'COMPLETED', rescissions: [{ id: rescission!.id, status: 'INITIATED' }] });
    expect(await app.services.store.events.listAfter(0, { kinds: ['rescission'] }, 10)).toHaveLength(1);

    // The parties sign the rescission agreement.
    await app.admin(`/esign/flows/${rescission!.rescissionFlowId}/transition`, { status: 'COMPLETED' });
    await waitFor(() => sub.items.some((m) => m.signFlowEvents.status === 'RESCINDED'), { what: 'RESCINDED on the subscription' });
    expect(sub.items.map((m) => m.signFlowEvents)).toEqual([
      expect.objectContaining({ status: 'COMPLETED', source: 'SYNC', providerStatus: '2' }),
      expect.objectContaining({ status: 'RESCINDED', source: 'CALLBACK', providerStatus: 'rescission:3', flow: expect.objectContaining({ id }) }),
    ]);
    expect(sub.errors).toEqual([]);

    const after = await app.gql<{ rescission: RescissionNode & { signFlow: { rescissions: Array<{ status: string }> } } }>(
      `query ($id: ID!) { rescission(id: $id) { id status signFlow { id status rescissions { status } } } }`,
      { id: rescission!.id },
    );
    expect(after.data!.rescission).toEqual({ id: rescission!.id, status: 'RESCINDED', signFlow: { id, status: 'RESCINDED', rescissions: [{ status: 'RESCINDED' }] } });
  });

  it('keeps the original flow COMPLETED while only some of its files are rescinded', async () => {
    const { flowId, org } = await completedFlow(app);
    const id = `ESIGN:${flowId}`;
    const r = await app.gql<RescindResult>(RESCIND, {
      input: { signFlowId: id, fileIds: ['fileA'], reason: 'OTHER', initiator: { organization: { orgId: org.orgId, transactorPsnId: org.transactorPsnId } } },
    });
    const rescission = r.data!.initiateRescission.rescission!;
    await app.admin(`/esign/flows/${rescission.rescissionFlowId}/transition`, { status: 'COMPLETED' });
    await waitFor(async () => (await app.services.rescissions.get(rescission.id))?.status === 'RESCINDED', { what: 'the rescission to be RESCINDED' });
    expect((await app.services.store.flows.get(id))?.status).toBe('COMPLETED');
  });

  it('asks e签宝 for the file list when the flow was only heard of through a callback', async () => {
    const { flowId: id0 } = await app.admin<{ flowId: string }>('/esign/flows', { status: 'SIGNING', signers: 2, fileIds: ['only'] });
    const flowId = `ESIGN:${id0}`;
    await app.admin(`/esign/flows/${id0}/transition`, { status: 'COMPLETED' });
    await waitFor(async () => (await app.services.store.flows.get(flowId))?.status === 'COMPLETED', { what: 'the COMPLETED callback' });
    expect((await app.services.store.flows.get(flowId))?.data).toBeNull();
    const person = (await app.admin<{ signers: Signer[] }>(`/esign/flows/${id0}`)).signers.find((s) => s.kind === 'person') as Signer & { kind: 'person' };
    const r = await app.gql<RescindResult>(RESCIND, { input: { signFlowId: flowId, fileIds: ['only'], reason: 'OTHER', initiator: { person: { psnId: person.psnId } } } });
    const rescission = r.data!.initiateRescission.rescission!;
    const detailsBefore = (await esignRequests(app, 'detail')).length;
    await app.admin(`/esign/flows/${rescission.rescissionFlowId}/transition`, { status: 'COMPLETED' });
    await waitFor(async () => (await app.services.store.flows.get(flowId))?.status === 'RESCINDED', { what: 'the flow to be RESCINDED' });
    expect((await esignRequests(app, 'detail')).length).toBe(detailsBefore + 1);
    expect((await app.services.store.flows.get(flowId))?.data).toMatchObject({ fileIds: ['only'], rescissionStatus: 3 });
  });

  it('records a rescission whose agreement is rejected as FAILED', async () => {
    const { flowId, person } = await completedFlow(app);
    const r = await app.gql<RescindResult>(RESCIND, {
      input: { signFlowId: `ESIGN:${flowId}`, fileIds: ['fileA'], reason: 'COOPERATION_ENDED', initiator: { person: { psnId: person.psnId } } },
    });
    const rescission = r.data!.initiateRescission.rescission!;
    await app.admin(`/esign/flows/${rescission.rescissionFlowId}/transition`, { status: 'REJECTED' });
    await waitFor(async () => (await app.services.rescissions.get(rescission.id))?.status === 'FAILED', { what: 'the rescission to fail' });
    expect((await app.services.store.flows.get(`ESIGN:${flowId}`))?.status).toBe('COMPLETED');
  });

  it('checks the input before any e签宝 call, each failure a userError naming the field', async () => {
    const { flowId, person, org } = await completedFlow(app);
    const id = `ESIGN:${flowId}`;
    const base = { signFlowId: id, fileIds: ['fileA'], reason: 'WRONG_SEAL', initiator: { person: { psnId: person.psnId } } };
    const cases: Array<[Record<string, unknown>, string, string[], RegExp]> = [
      [{ signFlowId: 'ETC:c64665aa4f1c45679e65b6fae33cd773' }, 'RESCISSION_NOT_SUPPORTED', ['input', 'signFlowId'], /e签宝 \(ESIGN\) feature/],
      [{ signFlowId: 'not an id' }, 'INVALID_ID', ['input', 'signFlowId'], /ESIGN:<e签宝 flow id>/],
      [{ fileIds: [] }, 'INVALID_INPUT', ['input', 'fileIds'], /1 to 10 files/],
      [{ fileIds: Array.from({ length: 11 }, (_, i) => `f${i}`) }, 'INVALID_INPUT', ['input', 'fileIds'], /1 to 10 files .*got 11/],
      [{ notes: '因'.repeat(201) }, 'INVALID_INPUT', ['input', 'notes'], /at most 200 characters/],
      [{ initiator: {} }, 'INVALID_INPUT', ['input', 'initiator'], /exactly one of person or organization/],
      [
        { initiator: { person: { psnId: person.psnId }, organization: { orgId: org.orgId, transactorPsnId: org.transactorPsnId } } },
        'INVALID_INPUT',
        ['input', 'initiator'],
        /exactly one of person or organization/,
      ],
      [
        { autoSignOrg: [{ orgId: org.orgId, sealId: 'seal-1' }], orgSignerTransactor: [{ orgId: org.orgId, transactorInfo: { psnId: org.transactorPsnId } }] },
        'INVALID_INPUT',
        ['input', 'orgSignerTransactor', '0'],
        /in autoSignOrg too/,
      ],
      [{ signFlowConfig: { charge: { mode: 'INITIATOR_ORGANIZATION' } } }, 'INVALID_INPUT', ['input', 'signFlowConfig', 'charge', 'mode'], /organization initiator/],
      [{ signFlowConfig: { expireTime: '2020-01-01T00:00:00Z' } }, 'INVALID_INPUT', ['input', 'signFlowConfig', 'expireTime'], /in the future/],
      [{ notifyUrl: 'ftp://example.com/cb' }, 'INVALID_INPUT', ['input', 'notifyUrl'], /http\(s\) URL/],
    ];
    for (const [change, code, field, message] of cases) {
      const r = await app.gql<RescindResult>(RESCIND, { input: { ...base, ...change } });
      expect(r.errors).toBeUndefined();
      expect(r.data!.initiateRescission.rescission).toBeNull();
      expect(r.data!.initiateRescission.userErrors).toEqual([{ code, field, message: expect.stringMatching(message) }]);
    }
    expect(await esignRequests(app)).toEqual([]);

    // Known to the store (read once), then refused from what the store knows.
    const { flowId: signing } = await app.admin<{ flowId: string }>('/esign/flows', { status: 'SIGNING', signers: 2, fileIds: ['fileA'] });
    await app.gql(`{ a: signFlow(id: "ESIGN:${signing}") { id } b: signFlow(id: "${id}") { id } }`);
    const before = (await esignRequests(app)).length;
    const notCompleted = await app.gql<RescindResult>(RESCIND, { input: { ...base, signFlowId: `ESIGN:${signing}` } });
    expect(notCompleted.data!.initiateRescission.userErrors).toEqual([
      { code: 'FLOW_NOT_COMPLETED', field: ['input', 'signFlowId'], message: 'the flow is SIGNING; only a COMPLETED flow can be rescinded' },
    ]);
    const foreign = await app.gql<RescindResult>(RESCIND, { input: { ...base, fileIds: ['fileA', 'nope'] } });
    expect(foreign.data!.initiateRescission.userErrors).toEqual([
      { code: 'FILE_NOT_IN_FLOW', field: ['input', 'fileIds', '1'], message: 'nope is not a file of the flow (its files: fileA, fileB)' },
    ]);
    expect(await esignRequests(app)).toHaveLength(before);
  });

  it("answers e签宝's refusal of a flow created with rescission disallowed as RESCISSION_REFUSED", async () => {
    const { flowId, person } = await completedFlow(app, { rescissionAllowed: false });
    const r = await app.gql<RescindResult>(RESCIND, {
      input: { signFlowId: `ESIGN:${flowId}`, fileIds: ['fileA'], reason: 'OTHER', initiator: { person: { psnId: person.psnId } } },
    });
    expect(r.errors).toBeUndefined();
    expect(r.data!.initiateRescission).toEqual({
      rescission: null,
      userErrors: [{ code: 'RESCISSION_REFUSED', field: ['input', 'signFlowId'], message: expect.stringContaining('该流程不支持解约!') }],
    });
  });

  it('honours idempotencyKey: one e签宝 call, the same answer, and the key refused for other input', async () => {
    const { flowId, person } = await completedFlow(app);
    const input = { signFlowId: `ESIGN:${flowId}`, fileIds: ['fileA'], reason: 'WRONG_TERMS', initiator: { person: { psnId: person.psnId } }, idempotencyKey: 'resc-1' };
    const first = await app.gql<RescindResult>(RESCIND, { input });
    const again = await app.gql<RescindResult>(RESCIND, { input });
    expect(first.data!.initiateRescission.userErrors).toEqual([]);
    expect(again.data!.initiateRescission.rescission!.id).toBe(first.data!.initiateRescission.rescission!.id);
    expect(await esignRequests(app, 'initiate-rescission')).toHaveLength(1);
    const other = await app.gql<RescindResult>(RESCIND, { input: { ...input, fileIds: ['fileB'] } });
    expect(other.data!.initiateRescission.userErrors).toEqual([expect.objectContaining({ code: 'IDEMPOTENCY_KEY_REUSED', field: ['input', 'idempotencyKey'] })]);
  });

  it('passes a notifyUrl and every optional part of the seed-003 request through', async () => {
    const { flowId, org } = await completedFlow(app);
    const r = await app.gql<RescindResult>(RESCIND, {
      input: {
        signFlowId: `ESIGN:${flowId}`,
        fileIds: ['fileB'],
        reason: 'WRONG_SIGNER_INFO',
        initiator: { organization: { orgId: org.orgId, transactorPsnId: org.transactorPsnId } },
        notifyUrl: 'https://hooks.example.com/esign?tenant=t1',
        signFlowConfig: {
          expireTime: '2099-01-01T00:00:00.000Z',
          charge: { mode: 'INITIATOR_ORGANIZATION', orderType: 'DISTRIBUTION' },
          sign: { availableSignClientTypes: ['WEB'], psnSealStyles: ['HANDWRITING', 'NAME_SEAL'] },
          notice: { noticeTypes: ['SMS', 'EMAIL'], examineNotice: true },
        },
        autoSignOrg: [{ orgId: org.orgId, sealId: 'seal-1' }],
        orgSignerTransactor: [{ orgName: '另一家公司', transactorInfo: { psnAccount: '15300000000', psnName: '张三' } }],
      },
    });
    expect(r.data!.initiateRescission.userErrors).toEqual([]);
    const [sent] = await esignRequests(app, 'initiate-rescission');
    expect(sent.body).toEqual({
      rescindFileList: ['fileB'],
      rescindReason: '3',
      rescissionInitiator: { orgInitiator: { orgId: org.orgId, transactor: { psnId: org.transactorPsnId } } },
      signFlowConfig: {
        signFlowExpireTime: Date.parse('2099-01-01T00:00:00.000Z'),
        chargeConfig: { chargeMode: 1, orderType: 'DISTRIBUTION' },
        signConfig: { availableSignClientTypes: '1', psnSealStyles: '0,1' },
        noticeConfig: { noticeTypes: '1,2', examineNotice: true },
        notifyUrl: 'https://hooks.example.com/esign?tenant=t1',
      },
      autoSignOrg: [{ orgId: org.orgId, sealId: 'seal-1' }],
      orgSignerTransactor: [{ orgName: '另一家公司', transactorInfo: { psnAccount: '15300000000', psnName: '张三' } }],
    });
  });
});

describe('e签宝 sign flows end to end', () => {
  let app: TestApp;
  beforeEach(async () => {
    app = await startTestApp();
  });
  afterEach(async () => {
    await app.close();
  });

  it('revokes a signing ESIGN flow, then refuses to revoke it again', async () => {
    const { flowId } = await app.admin<{ flowId: string }>('/esign/flows', { status: 'SIGNING', signers: 2 });
    const revoke = `mutation ($id: ID!, $reason: String) { revokeSignFlow(input: { id: $id, reason: $reason }) { signFlow { id status providerStatus } userErrors { code field message } } }`;
    type Revoke = { revokeSignFlow: { signFlow: { id: string; status: string; providerStatus: string } | null; userErrors: Array<{ code: string; field: string[] }> } };
    const tooLong = await app.gql<Revoke>(revoke, { id: `ESIGN:${flowId}`, reason: '因'.repeat(51) });
    expect(tooLong.data!.revokeSignFlow.userErrors).toEqual([expect.objectContaining({ code: 'INVALID_INPUT', field: ['input', 'reason'] })]);
    expect(await esignRequests(app)).toEqual([]);

    const first = await app.gql<Revoke>(revoke, { id: `ESIGN:${flowId}`, reason: '信息有误' });
    expect(first.errors).toBeUndefined();
    expect(first.data!.revokeSignFlow).toEqual({ signFlow: { id: `ESIGN:${flowId}`, status: 'REVOKED', providerStatus: '3' }, userErrors: [] });
    const [sent] = await esignRequests(app, 'revoke');
    expect(sent).toMatchObject({ method: 'POST', path: `/v3/sign-flow/${flowId}/revoke`, body: { revokeReason: '信息有误' } });
    expect((await app.admin<{ status: number }>(`/esign/flows/${flowId}`)).status).toBe(3);

    const second = await app.gql<Revoke>(revoke, { id: `ESIGN:${flowId}` });
    expect(second.data!.revokeSignFlow.userErrors).toEqual([expect.objectContaining({ code: 'FLOW_NOT_REVOCABLE', field: ['input', 'id'] })]);
    // e签宝's own SIGN_FLOW_COMPLETE "3" arrives as well and changes nothing.
    await waitFor(async () => (await app.services.store.receipts.count('ESIGN')) === 1, { what: 'the revoke callback' });
    expect((await flowEvents(app, `ESIGN:${flowId}`)).map((e) => [e.status, e.source])).toEqual([
      ['SIGNING', 'SYNC'],
      ['REVOKED', 'MUTATION'],
    ]);
  });

  it('reads unknown ESIGN flows through the detail query', async () => {
    const { flowId: signing } = await app.admin<{ flowId: string }>('/esign/flows', { status: 'SIGNING' });
    const { flowId: rejected } = await app.admin<{ flowId: string }>('/esign/flows', { status: 'REJECTED' });
    const r = await app.gql<{ a: { status: string; providerStatus: string; rescissions: unknown[] }; b: { status: string; endedAt: string | null }; c: null }>(
      `{ a: signFlow(id: "ESIGN:${signing}") { status providerStatus rescissions { id } } b: signFlow(id: "ESIGN:${rejected}") { status endedAt } c: signFlow(id: "ESIGN:ffffffffffffffffffffffffffffffff") { status } }`,
    );
    expect(r.errors).toBeUndefined();
    expect(r.data).toEqual({ a: { status: 'SIGNING', providerStatus: '1', rescissions: [] }, b: { status: 'REJECTED', endedAt: expect.any(String) }, c: null });
    expect((await esignRequests(app, 'detail')).map((q) => q.method)).toEqual(['GET', 'GET', 'GET']);
  });

  it('delivers SIGN_FLOW_COMPLETE from the emulator to a subscriber', async () => {
    const { flowId } = await app.admin<{ flowId: string }>('/esign/flows', { status: 'SIGNING' });
    const sub = collect<EventMsg>(app.ws(), EVENTS, { ids: [`ESIGN:${flowId}`] });
    await waitFor(() => app.services.feed.subscriberCount > 0);
    await app.admin(`/esign/flows/${flowId}/transition`, { status: 'COMPLETED' });
    await waitFor(() => sub.items.length === 1, { what: 'the COMPLETED event' });
    expect(sub.items[0].signFlowEvents).toMatchObject({ status: 'COMPLETED', providerStatus: '2', source: 'CALLBACK', flow: { id: `ESIGN:${flowId}` } });
  });

  it('surfaces an e签宝 authentication refusal as a typed GraphQL error', async () => {
    await app.admin('/faults', { provider: 'esign', kind: 'error', code: '401', message: '签名验证失败: INVALID_SIGNATURE' });
    const r = await app.gql(`{ signFlow(id: "ESIGN:0123456789abcdef0123456789abcdef") { status } }`);
    expect(r.errors?.[0].extensions).toMatchObject({ code: 'PROVIDER_UNAUTHENTICATED', provider: 'ESIGN', providerCode: '401' });
  });
});

describe('POST /callbacks/esign', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());

  const complete = (flowId: string, timestamp: number) => ({
    action: 'SIGN_FLOW_COMPLETE',
    timestamp,
    signFlowId: flowId,
    signFlowTitle: '合同',
    signFlowStatus: '2',
    statusDescription: '完成',
    signFlowFinishTime: timestamp,
  });

  it('refuses a forged callback with 401 and stores nothing', async () => {
    const body = complete('forged00000000000000000000000001', Date.now());
    const cases: Array<Parameters<typeof postCallback>[2]> = [
      { secret: 'not-our-secret' },
      { headers: { 'X-Tsign-Open-SIGNATURE': '' } },
      { headers: { 'X-Tsign-Open-App-Id': 'someone-else' } },
      { headers: { 'X-Tsign-Open-SIGNATURE-ALGORITHM': 'md5' } },
      // Signed for another URL: the query values are part of the signature.
      { query: '?tenant=t1', signedQuery: '?tenant=t2' },
      // Genuine, but three days old: outside even the retry horizon.
      { timestamp: Date.now() - 3 * 86_400_000 },
    ];
    for (const options of cases) {
      const r = await postCallback(app, body, options);
      expect(r).toEqual({ status: 401, json: { code: '401', msg: 'signature check failed' } });
    }
    expect(await app.services.store.receipts.count('ESIGN')).toBe(0);
    expect(await app.services.store.events.latestId()).toBe(0);
  });

  it('stores a signed callback once, however often e签宝 retries it, and accepts a retry hours later', async () => {
    const at = Date.now() - 5 * 3600_000;
    const body = complete('cbflow0000000000000000000000001', at);
    expect(await postCallback(app, body, { query: '?tenant=t1&b=2' })).toEqual({ status: 200, json: { code: '200', msg: 'success' } });
    expect(await postCallback(app, body)).toEqual({ status: 200, json: { code: '200', msg: 'success' } });
    // A retry whose header timestamp is as old as the event itself.
    expect((await postCallback(app, body, { timestamp: at })).status).toBe(200);
    expect(await flowEvents(app, 'ESIGN:cbflow0000000000000000000000001')).toEqual([{ status: 'COMPLETED', source: 'CALLBACK', providerStatus: '2' }]);
    expect(await app.services.store.receipts.count('ESIGN')).toBe(1);
  });

  it('refuses a signed but malformed callback with 400 naming the field', async () => {
    const cases: Array<[unknown, RegExp]> = [
      ['not json', /body is not JSON/],
      [{ action: 'SIGN_FLOW_COMPLETE', timestamp: 'now', signFlowId: 'x1', signFlowStatus: '2' }, /timestamp must be milliseconds/],
      [{ ...complete('x1', Date.now()), signFlowStatus: '1' }, /signFlowStatus must be one of "2", "3", "5", "7"/],
      [{ ...complete('x1', Date.now()), signFlowId: 'a/b' }, /signFlowId must be 1 to 64/],
      [{ action: 'SIGN_FILE_RESCINDED', timestamp: Date.now(), signFlowId: 'x1', rescissionSignFlowId: 'r1', rescissionFileIds: [] }, /rescissionFileIds must be a non-empty list/],
    ];
    const before = await app.services.store.events.latestId();
    for (const [body, message] of cases) {
      const r = await postCallback(app, body);
      expect(r.status).toBe(400);
      expect(String(r.json.msg)).toMatch(message);
    }
    expect(await app.services.store.events.latestId()).toBe(before);
  });

  it('acknowledges actions it does not use without storing them', async () => {
    const before = await app.services.store.events.latestId();
    const r = await postCallback(app, { action: 'SIGN_MISSON_COMPLETE', timestamp: Date.now(), signFlowId: 'x1', signResult: 2 });
    expect(r.status).toBe(200);
    expect(await app.services.store.events.latestId()).toBe(before);
  });
});
