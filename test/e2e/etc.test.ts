import { startTestApp, waitFor, collect, type TestApp } from '../support/app';

const MEMBER = '40eb61714d9e49088bac7a3c56d69d66';
const EVENTS = `subscription ($ids: [ID!], $after: String) { signFlowEvents(ids: $ids, after: $after) { id status providerStatus source flow { id status } } }`;
type EventMsg = { signFlowEvents: { id: string; status: string; providerStatus: string; source: string; flow: { id: string; status: string } } };

async function postCallback(app: TestApp, body: unknown, query = ''): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${app.url}/callbacks/etc${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function eventsOf(app: TestApp, id: string): Promise<Array<{ id: string; status: string; source: string }>> {
  const r = await app.gql<{ signFlow: { events: { edges: Array<{ node: { id: string; status: string; source: string } }> } } }>(
    `query ($id: ID!) { signFlow(id: $id) { events(first: 100) { edges { node { id status source } } } } }`,
    { id },
  );
  return r.data!.signFlow.events.edges.map((e) => e.node);
}

async function gatewayRequests(app: TestApp, apiCode: string): Promise<number> {
  const log = await app.admin<{ requests: Array<{ operation?: string }> }>('/etc/requests');
  return log.requests.filter((r) => r.operation === apiCode).length;
}

describe('ETC end to end over real HTTP', () => {
  let app: TestApp;
  beforeEach(async () => {
    app = await startTestApp();
  });
  afterEach(async () => {
    await app.close();
  });

  it('revokes a signing flow, then refuses to revoke it again with a userError', async () => {
    const { flowId } = await app.admin<{ flowId: string }>('/etc/flows', { status: 'SIGNING' });
    const revoke = `mutation ($id: ID!) { revokeSignFlow(input: { id: $id, etcMemberNo: "${MEMBER}", reason: "合同有误" }) { signFlow { id status providerStatus } userErrors { code field message } } }`;
    const first = await app.gql<{ revokeSignFlow: { signFlow: { status: string; providerStatus: string }; userErrors: unknown[] } }>(revoke, { id: `ETC:${flowId}` });
    expect(first.errors).toBeUndefined();
    expect(first.data!.revokeSignFlow).toEqual({ signFlow: { id: `ETC:${flowId}`, status: 'REVOKED', providerStatus: '3' }, userErrors: [] });

    const log = await app.admin<{ requests: Array<{ operation?: string; body: { params?: Record<string, unknown> } }> }>('/etc/requests');
    const sent = log.requests.find((r) => r.operation === 'esign.signflows.revoke');
    expect(sent?.body.params).toEqual({ flowId, etc_member_no: MEMBER, revokeReason: '合同有误' });

    const second = await app.gql<{ revokeSignFlow: { signFlow: { status: string }; userErrors: Array<{ code: string; field: string[] }> } }>(revoke, { id: `ETC:${flowId}` });
    expect(second.errors).toBeUndefined();
    expect(second.data!.revokeSignFlow.userErrors).toEqual([expect.objectContaining({ code: 'FLOW_NOT_REVOCABLE', field: ['input', 'id'] })]);
    expect(second.data!.revokeSignFlow.signFlow.status).toBe('REVOKED');
  });

  it('answers a provider refusal as FLOW_NOT_REVOCABLE and re-reads the flow', async () => {
    // The store thinks the flow is signing, but the provider completed it and the callback was lost.
    const { flowId } = await app.admin<{ flowId: string }>('/etc/flows', { status: 'SIGNING' });
    await app.gql(`{ signFlow(id: "ETC:${flowId}") { id } }`);
    await app.admin('/faults', { provider: 'etc', kind: 'drop-callback' });
    await app.admin(`/etc/flows/${flowId}/transition`, { status: 'COMPLETED' });
    const r = await app.gql<{ revokeSignFlow: { signFlow: { status: string }; userErrors: Array<{ code: string; message: string }> } }>(
      `mutation { revokeSignFlow(input: { id: "ETC:${flowId}", etcMemberNo: "${MEMBER}" }) { signFlow { status } userErrors { code message } } }`,
    );
    expect(r.data!.revokeSignFlow.userErrors[0].code).toBe('FLOW_NOT_REVOCABLE');
    expect(r.data!.revokeSignFlow.signFlow.status).toBe('COMPLETED');
  });

  it('checks the seed limits before any provider call, naming the field', async () => {
    const { flowId } = await app.admin<{ flowId: string }>('/etc/flows', {});
    const r = await app.gql<{ revokeSignFlow: { signFlow: null; userErrors: Array<{ code: string; field: string[]; message: string }> } }>(
      `mutation ($id: ID!, $reason: String, $member: String) { revokeSignFlow(input: { id: $id, etcMemberNo: $member, reason: $reason }) { signFlow { id } userErrors { code field message } } }`,
      { id: `ETC:${flowId}`, reason: '因'.repeat(65), member: null },
    );
    const errors = r.data!.revokeSignFlow.userErrors;
    expect(errors.map((e) => e.field)).toEqual([['input', 'etcMemberNo'], ['input', 'reason']]);
    expect(errors[1].message).toMatch(/at most 64 characters/);
    const bad = await app.gql<{ revokeSignFlow: { userErrors: Array<{ code: string; field: string[] }> } }>(
      `mutation { revokeSignFlow(input: { id: "not-an-id", etcMemberNo: "${MEMBER}" }) { userErrors { code field } } }`,
    );
    expect(bad.data!.revokeSignFlow.userErrors).toEqual([{ code: 'INVALID_ID', field: ['input', 'id'] }]);
    expect(await gatewayRequests(app, 'esign.signflows.revoke')).toBe(0);
    expect(await gatewayRequests(app, 'esign.signflows.query')).toBe(0);
  });

  it('sends the default reason of seed 000 when none is given', async () => {
    const { flowId } = await app.admin<{ flowId: string }>('/etc/flows', {});
    await app.gql(`mutation { revokeSignFlow(input: { id: "ETC:${flowId}", etcMemberNo: "${MEMBER}" }) { userErrors { code } } }`);
    const log = await app.admin<{ requests: Array<{ operation?: string; body: { params?: Record<string, unknown> } }> }>('/etc/requests');
    expect(log.requests.find((r) => r.operation === 'esign.signflows.revoke')?.body.params?.revokeReason).toBe('撤销');
  });

  it('replays the stored result for the same idempotency key and refuses the key with other input', async () => {
    const { flowId } = await app.admin<{ flowId: string }>('/etc/flows', {});
    const op = `mutation ($reason: String) { revokeSignFlow(input: { id: "ETC:${flowId}", etcMemberNo: "${MEMBER}", reason: $reason, idempotencyKey: "key-1" }) { signFlow { status } userErrors { code field } } }`;
    const first = await app.gql(op, { reason: 'a' });
    const again = await app.gql(op, { reason: 'a' });
    expect(again).toEqual(first);
    expect(first.data).toEqual({ revokeSignFlow: { signFlow: { status: 'REVOKED' }, userErrors: [] } });
    expect(await gatewayRequests(app, 'esign.signflows.revoke')).toBe(1);
    const other = await app.gql<{ revokeSignFlow: { userErrors: Array<{ code: string; field: string[] }> } }>(op, { reason: 'b' });
    expect(other.data!.revokeSignFlow.userErrors).toEqual([{ code: 'IDEMPOTENCY_KEY_REUSED', field: ['input', 'idempotencyKey'] }]);
  });

  it('reads unknown flows through from the provider and pages the known ones', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await app.admin<{ flowId: string }>('/etc/flows', { status: i === 2 ? 'COMPLETED' : 'SIGNING' })).flowId);
    const read = await app.gql<{ a: { status: string; providerStatus: string }; b: { status: string }; c: { status: string }; missing: null }>(
      `{ a: signFlow(id: "ETC:${ids[0]}") { status providerStatus } b: signFlow(id: "ETC:${ids[1]}") { status } c: signFlow(id: "ETC:${ids[2]}") { status } missing: signFlow(id: "ETC:ffffffffffffffffffffffffffffffff") { status } }`,
    );
    expect(read.errors).toBeUndefined();
    expect(read.data).toEqual({ a: { status: 'SIGNING', providerStatus: '1' }, b: { status: 'SIGNING' }, c: { status: 'COMPLETED' }, missing: null });
    const q = `query ($after: String) { signFlows(first: 2, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }`;
    type Page = { signFlows: { edges: Array<{ node: { id: string } }>; pageInfo: { hasNextPage: boolean; endCursor: string } } };
    const p1 = await app.gql<Page>(q);
    expect(p1.data!.signFlows.edges.map((e) => e.node.id)).toEqual([`ETC:${ids[0]}`, `ETC:${ids[1]}`]);
    expect(p1.data!.signFlows.pageInfo.hasNextPage).toBe(true);
    const p2 = await app.gql<Page>(q, { after: p1.data!.signFlows.pageInfo.endCursor });
    expect(p2.data!.signFlows.edges.map((e) => e.node.id)).toEqual([`ETC:${ids[2]}`]);
    expect(p2.data!.signFlows.pageInfo.hasNextPage).toBe(false);
    const completed = await app.gql<Page>(`{ signFlows(status: COMPLETED) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`);
    expect(completed.data!.signFlows.edges.map((e) => e.node.id)).toEqual([`ETC:${ids[2]}`]);
  });

  it('delivers a COMPLETED transition to a graphql-ws subscriber', async () => {
    const { flowId } = await app.admin<{ flowId: string }>('/etc/flows', {});
    const other = (await app.admin<{ flowId: string }>('/etc/flows', {})).flowId;
    const sub = collect<EventMsg>(app.ws(), EVENTS, { ids: [`ETC:${flowId}`] });
    await waitFor(() => app.services.feed.subscriberCount > 0, { what: 'the subscription to register' });
    await app.admin(`/etc/flows/${other}/transition`, { status: 'REJECTED' });
    await app.admin(`/etc/flows/${flowId}/transition`, { status: 'COMPLETED' });
    await waitFor(() => sub.items.length >= 1, { what: 'the COMPLETED event' });
    expect(sub.items[0].signFlowEvents).toMatchObject({ status: 'COMPLETED', providerStatus: '2', source: 'CALLBACK', flow: { id: `ETC:${flowId}`, status: 'COMPLETED' } });
    // The other flow's event was filtered out.
    await waitFor(async () => (await eventsOf(app, `ETC:${other}`)).length === 1);
    expect(sub.items).toHaveLength(1);
    expect(sub.errors).toEqual([]);
  });

  it('stores the same callback delivered three times once', async () => {
    const body = { sign_end_time: '2021-03-22 18:24:29', sign_flow_status: '2', sign_flow_id: '587a2f4738d44391835198df570b6ee6', sign_file_url: 'http://' };
    for (let i = 0; i < 3; i++) expect(await postCallback(app, body)).toEqual({ status: 200, json: { response_code: '000' } });
    const events = await eventsOf(app, 'ETC:587a2f4738d44391835198df570b6ee6');
    expect(events).toEqual([expect.objectContaining({ status: 'COMPLETED', source: 'CALLBACK' })]);
    expect(await app.services.store.receipts.count('ETC')).toBe(1);
    const flow = await app.gql<{ signFlow: { endedAt: string } }>(`{ signFlow(id: "ETC:587a2f4738d44391835198df570b6ee6") { endedAt } }`);
    expect(flow.data!.signFlow.endedAt).toBe('2021-03-22T10:24:29.000Z');
  });

  it('resumes with after: each missed event exactly once, in order, then live', async () => {
    const flows: string[] = [];
    for (let i = 0; i < 4; i++) flows.push((await app.admin<{ flowId: string }>('/etc/flows', {})).flowId);
    const first = collect<EventMsg>(app.ws(), EVENTS);
    await waitFor(() => app.services.feed.subscriberCount > 0);
    await app.admin(`/etc/flows/${flows[0]}/transition`, { status: 'COMPLETED' });
    await waitFor(() => first.items.length === 1);
    first.stop();
    const cursor = first.items[0].signFlowEvents.id;

    // Missed while disconnected.
    await app.admin(`/etc/flows/${flows[1]}/transition`, { status: 'EXPIRED' });
    await app.admin(`/etc/flows/${flows[2]}/transition`, { status: 'REJECTED' });
    await waitFor(async () => (await app.services.store.events.latestId()) >= Number(cursor) + 2);

    const resumed = collect<EventMsg>(app.ws(), EVENTS, { after: cursor });
    await waitFor(() => resumed.items.length === 2, { what: 'the replay' });
    await app.admin(`/etc/flows/${flows[3]}/transition`, { status: 'COMPLETED' });
    await waitFor(() => resumed.items.length === 3, { what: 'the live event after the replay' });
    const seen = resumed.items.map((m) => m.signFlowEvents);
    expect(seen.map((e) => [e.flow.id, e.status])).toEqual([
      [`ETC:${flows[1]}`, 'EXPIRED'],
      [`ETC:${flows[2]}`, 'REJECTED'],
      [`ETC:${flows[3]}`, 'COMPLETED'],
    ]);
    const ids = seen.map((e) => Number(e.id));
    expect(ids[0]).toBeGreaterThan(Number(cursor));
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
  });

  it('refuses a malformed callback with a 4xx naming the field and stores nothing', async () => {
    const good = { sign_end_time: '2021-03-22 18:24:29', sign_flow_status: '2', sign_flow_id: 'abc123', sign_file_url: 'http://' };
    const cases: Array<[unknown, RegExp]> = [
      ['not json', /body is not JSON/],
      [{ ...good, sign_flow_status: 2 }, /sign_flow_status must be a string/],
      [{ ...good, sign_flow_status: '9' }, /sign_flow_status must be one of/],
      [{ ...good, sign_flow_id: undefined }, /sign_flow_id is required/],
      [{ ...good, sign_end_time: 'yesterday' }, /sign_end_time must be "YYYY-MM-DD HH:mm:ss"/],
      [{ ...good, sign_file_url: 'x'.repeat(129) }, /sign_file_url must be at most 128/],
    ];
    for (const [body, message] of cases) {
      const r = await postCallback(app, body);
      expect(r.status).toBe(400);
      expect(r.json.response_code).not.toBe('000');
      expect(String(r.json.message)).toMatch(message);
    }
    expect(await app.services.store.receipts.count()).toBe(0);
    expect(await app.services.store.events.latestId()).toBe(0);
  });

  it('serves the federation SDL, entities and health endpoints', async () => {
    const sdl = await app.gql<{ _service: { sdl: string } }>('{ _service { sdl } }');
    expect(sdl.data!._service.sdl).toContain('@key(fields: "provider providerFlowId")');
    expect(sdl.data!._service.sdl).toContain('specs.apollo.dev/federation/v2.6');
    const { flowId } = await app.admin<{ flowId: string }>('/etc/flows', {});
    const entities = await app.gql<{ _entities: Array<{ id: string; status: string }> }>(
      `query ($r: [_Any!]!) { _entities(representations: $r) { ... on SignFlow { id status } } }`,
      { r: [{ __typename: 'SignFlow', id: `ETC:${flowId}` }, { __typename: 'SignFlow', provider: 'ETC', providerFlowId: flowId }] },
    );
    expect(entities.data!._entities).toEqual([{ id: `ETC:${flowId}`, status: 'SIGNING' }, { id: `ETC:${flowId}`, status: 'SIGNING' }]);
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${app.url}/readyz`);
    expect(ready.status).toBe(200);
  });
});

describe('ETC callback secret', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ env: { ETC_CALLBACK_SECRET: 's3cret-token' } });
  });
  afterAll(() => app.close());

  it('requires ?token= when ETC_CALLBACK_SECRET is set and stores nothing without it', async () => {
    const body = { sign_end_time: '2021-03-22 18:24:29', sign_flow_status: '2', sign_flow_id: 'tok1', sign_file_url: '' };
    expect((await postCallback(app, body)).status).toBe(401);
    expect((await postCallback(app, body, '?token=wrong')).status).toBe(401);
    expect(await app.services.store.receipts.count()).toBe(0);
    expect(await postCallback(app, body, '?token=s3cret-token')).toEqual({ status: 200, json: { response_code: '000' } });
  });

  it('hands the emulator a callback URL carrying the token, so sandbox callbacks are accepted', async () => {
    const { flowId } = await app.admin<{ flowId: string }>('/etc/flows', {});
    await app.admin(`/etc/flows/${flowId}/transition`, { status: 'EXPIRED' });
    await waitFor(async () => (await app.services.store.flows.get(`ETC:${flowId}`))?.status === 'EXPIRED', { what: 'the EXPIRED callback' });
  });
});

describe('ETC provider deadline', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ env: { ETC_TIMEOUT_MS: '300' } });
  });
  afterAll(() => app.close());

  it('surfaces a timed-out provider call as a typed GraphQL error within the deadline', async () => {
    const { flowId } = await app.admin<{ flowId: string }>('/etc/flows', {});
    await app.admin('/faults', { provider: 'etc', kind: 'timeout' });
    const started = Date.now();
    const r = await app.gql(`{ signFlow(id: "ETC:${flowId}") { status } }`);
    const elapsed = Date.now() - started;
    expect(r.errors?.[0].extensions).toMatchObject({ code: 'PROVIDER_TIMEOUT', provider: 'ETC' });
    expect(elapsed).toBeLessThan(300 + 1000);
    const revoke = await app.gql(`mutation { revokeSignFlow(input: { id: "ETC:${flowId}", etcMemberNo: "${MEMBER}" }) { userErrors { code } } }`);
    expect(revoke.errors?.[0].extensions).toMatchObject({ code: 'PROVIDER_TIMEOUT' });
  });

  it('maps gateway error codes to typed GraphQL errors without leaking the body', async () => {
    await fetch(`${app.url}/sandbox/_admin/faults`, { method: 'DELETE' });
    await app.admin('/faults', { provider: 'etc', kind: 'error', code: '401001', message: '验签失败' });
    const r = await app.gql(`{ signFlow(id: "ETC:0123456789abcdef0123456789abcdef") { status } }`);
    expect(r.errors?.[0].extensions).toMatchObject({ code: 'PROVIDER_UNAUTHENTICATED', providerCode: '401001' });
  });
});
