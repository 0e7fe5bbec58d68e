import { createCipheriv, createHmac } from 'crypto';
import { ConfigError, loadConfig } from '../../src/config';
import { collect, startTestApp, waitFor, type TestApp } from '../support/app';

const KEY = '0123456789abcdef0123456789abcdef';
const TOKEN = 'sandbox-callback-token';

type Request = { operation?: string; body: Record<string, unknown>; response: { Response: Record<string, unknown> } };

async function requests(app: TestApp, action: string): Promise<Request[]> {
  const log = await app.admin<{ requests: Request[] }>('/tencent/requests');
  return log.requests.filter((r) => r.operation === action);
}

async function createFlow(app: TestApp, status = 'SIGNING'): Promise<string> {
  return (await app.admin<{ flowId: string }>('/tencent/flows', { status })).flowId;
}

async function postCallback(app: TestApp, body: string, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${app.url}/callbacks/tencent-ess`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const sign = (body: string, token = TOKEN) => `sha256=${createHmac('sha256', token).update(body).digest('hex')}`;

describe('Tencent end to end over real HTTP', () => {
  let app: TestApp;
  beforeEach(async () => {
    app = await startTestApp();
  });
  afterEach(async () => {
    await app.close();
  });

  it('revokes one signing flow with ChannelCancelFlow, then refuses to revoke it again', async () => {
    const flowId = await createFlow(app);
    const op = `mutation ($id: ID!) { revokeSignFlow(input: { id: $id, reason: "合同有误", cancelMessageFormat: INITIATOR_ONLY }) { signFlow { id status providerStatus } userErrors { code field message } } }`;
    const first = await app.gql<{ revokeSignFlow: unknown }>(op, { id: `TENCENT_ESS:${flowId}` });
    expect(first.errors).toBeUndefined();
    expect(first.data!.revokeSignFlow).toEqual({ signFlow: { id: `TENCENT_ESS:${flowId}`, status: 'REVOKED', providerStatus: 'CANCEL' }, userErrors: [] });
    const [sent] = await requests(app, 'ChannelCancelFlow');
    expect(sent.body).toMatchObject({ FlowId: flowId, CancelMessage: '合同有误', CancelMessageFormat: 1, Agent: { AppId: expect.any(String), ProxyOrganizationOpenId: expect.any(String), ProxyOperator: { OpenId: expect.any(String) } } });
    expect(app.sandbox!.tencent.getFlow(flowId)?.status).toBe('CANCEL');

    const again = await app.gql<{ revokeSignFlow: { userErrors: Array<{ code: string }> } }>(op, { id: `TENCENT_ESS:${flowId}` });
    expect(again.data!.revokeSignFlow.userErrors).toEqual([expect.objectContaining({ code: 'FLOW_NOT_REVOCABLE' })]);
    expect(await requests(app, 'ChannelCancelFlow')).toHaveLength(1);
  });

  it('reads an unknown finished flow through and refuses it without a cancel call; validates before any call', async () => {
    const done = await createFlow(app, 'COMPLETED');
    const r = await app.gql<{ revokeSignFlow: { signFlow: { status: string }; userErrors: Array<{ code: string }> } }>(
      `mutation { revokeSignFlow(input: { id: "TENCENT_ESS:${done}" }) { signFlow { status } userErrors { code } } }`,
    );
    expect(r.data!.revokeSignFlow).toEqual({ signFlow: { status: 'COMPLETED' }, userErrors: [{ code: 'FLOW_NOT_REVOCABLE' }] });

    const open = await createFlow(app);
    const bad = await app.gql<{ revokeSignFlow: { signFlow: null; userErrors: Array<{ code: string; field: string[]; message: string }> } }>(
      `mutation ($reason: String) { revokeSignFlow(input: { id: "TENCENT_ESS:${open}", reason: $reason, etcMemberNo: "m" }) { signFlow { status } userErrors { code field message } } }`,
      { reason: '合同内容错误,需要修正' },
    );
    expect(bad.data!.revokeSignFlow.userErrors).toEqual([
      { code: 'INVALID_INPUT', field: ['input', 'reason'], message: 'reason may contain only Chinese characters, letters, digits and underscore (found ",") for a Tencent flow' },
      { code: 'INVALID_INPUT', field: ['input', 'etcMemberNo'], message: 'etcMemberNo applies to ETC flows only' },
    ]);
    expect(await requests(app, 'ChannelCancelFlow')).toHaveLength(0);
  });

  it('reads three unknown flows in one query with one DescribeFlowDetailInfo call', async () => {
    const ids = [await createFlow(app), await createFlow(app, 'REJECTED'), await createFlow(app, 'EXPIRED')];
    const missing = 'yDwNOTKNOWN000000000000000000000';
    const r = await app.gql<Record<string, { status: string; providerStatus: string } | null>>(
      `{ a: signFlow(id: "TENCENT_ESS:${ids[0]}") { status providerStatus } b: signFlow(id: "TENCENT_ESS:${ids[1]}") { status providerStatus }
         c: signFlow(id: "TENCENT_ESS:${ids[2]}") { status providerStatus } d: signFlow(id: "TENCENT_ESS:${missing}") { status providerStatus } }`,
    );
    expect(r.errors).toBeUndefined();
    expect(r.data).toEqual({
      a: { status: 'SIGNING', providerStatus: 'INIT' },
      b: { status: 'REJECTED', providerStatus: 'REJECT' },
      c: { status: 'EXPIRED', providerStatus: 'DEADLINE' },
      d: null,
    });
    const calls = await requests(app, 'DescribeFlowDetailInfo');
    expect(calls).toHaveLength(1);
    expect(calls[0].body.FlowIds).toEqual([...ids, missing]);
    // Known now: a second read asks nobody.
    await app.gql(`{ signFlow(id: "TENCENT_ESS:${ids[0]}") { status } }`);
    expect(await requests(app, 'DescribeFlowDetailInfo')).toHaveLength(1);
  });

  it('turns a FlowStatusChange callback into one event, once per MsgId', async () => {
    const flowId = await createFlow(app);
    const sub = collect<{ signFlowEvents: { status: string; providerStatus: string; source: string } }>(
      app.ws(),
      `subscription ($ids: [ID!]) { signFlowEvents(ids: $ids) { status providerStatus source } }`,
      { ids: [`TENCENT_ESS:${flowId}`] },
    );
    await waitFor(() => app.services.feed.subscriberCount > 0, { what: 'the subscription' });
    await app.admin(`/tencent/flows/${flowId}/transition`, { status: 'COMPLETED' });
    await waitFor(() => sub.items.length === 1, { what: 'the COMPLETED event' });
    expect(sub.items[0].signFlowEvents).toEqual({ status: 'COMPLETED', providerStatus: 'ALL', source: 'CALLBACK' });

    // Tencent retries: the very same delivery again changes nothing.
    const [delivery] = await waitFor(async () => {
      // In process: the admin API hides the Content-Signature this replay needs.
      const list = [...app.sandbox!.kit.callbacks.list('tencent')];
      return list.length === 1 && list[0].state === 'acknowledged' ? list : undefined;
    });
    const body = JSON.stringify(delivery.body);
    expect(await postCallback(app, body, { 'content-signature': delivery.headers['Content-Signature'] })).toEqual({ status: 200, json: { code: 0, message: 'ok' } });
    const events = await app.gql<{ signFlow: { events: { edges: unknown[] } } }>(`{ signFlow(id: "TENCENT_ESS:${flowId}") { events { edges { cursor } } } }`);
    expect(events.data!.signFlow.events.edges).toHaveLength(1);
    expect(await app.services.store.receipts.count('TENCENT_ESS')).toBe(1);
    expect(sub.items).toHaveLength(1);
  });

  it('refuses a forged callback and stores nothing; answers the probe', async () => {
    const message = JSON.stringify({ MsgId: 'forged-1', MsgType: 'FlowStatusChange', MsgData: { FlowId: 'yDwFORGED', FlowCallbackStatus: 4 } });
    const key = Buffer.from(KEY, 'utf8');
    const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
    const body = JSON.stringify({ encrypt: Buffer.concat([cipher.update(message, 'utf8'), cipher.final()]).toString('base64') });

    const forged = await postCallback(app, body, { 'content-signature': sign(body, 'guessed-token') });
    expect(forged).toEqual({ status: 401, json: { code: 'UNAUTHENTICATED', error: 'Content-Signature: does not match sha256=HMAC-SHA256(TENCENT_ESS_CALLBACK_TOKEN, body)' } });
    expect((await postCallback(app, body)).status).toBe(401);
    const garbage = JSON.stringify({ encrypt: 'AAAAAAAAAAAAAAAAAAAAAA==' });
    expect(await postCallback(app, garbage, { 'content-signature': sign(garbage) })).toEqual({ status: 400, json: { code: 'BAD_REQUEST', error: 'encrypt: decryption failed: bad padding or wrong key' } });
    expect(await app.services.store.receipts.count()).toBe(0);
    expect(await app.services.store.events.latestId()).toBe(0);
    expect(await app.services.store.flows.get('TENCENT_ESS:yDwFORGED')).toBeUndefined();

    expect(await postCallback(app, '{}')).toEqual({ status: 200, json: { code: 0, message: 'ok' } });
    // The genuine article, signed with the configured token, is taken.
    expect((await postCallback(app, body, { 'content-signature': sign(body) })).status).toBe(200);
    expect((await app.services.store.flows.get('TENCENT_ESS:yDwFORGED'))?.status).toBe('COMPLETED');
  });

  it('maps Tencent refusals to GraphQL errors with the provider code', async () => {
    await app.admin('/faults', { provider: 'tencent', kind: 'error', code: 'AuthFailure.SignatureFailure', message: 'bad', count: 1 });
    const r = await app.gql(`{ signFlow(id: "TENCENT_ESS:yDwAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") { status } }`);
    expect(r.errors?.[0].extensions).toMatchObject({ code: 'PROVIDER_UNAUTHENTICATED', provider: 'TENCENT_ESS', providerCode: 'AuthFailure.SignatureFailure' });
  });
});

describe('Tencent configuration', () => {
  const full = {
    AUTH: 'off',
    TENCENT_SECRET_ID: 'AKIDx',
    TENCENT_SECRET_KEY: 'k',
    TENCENT_ESS_APP_ID: 'app',
    TENCENT_ESS_PROXY_ORG_OPEN_ID: 'org',
    TENCENT_ESS_PROXY_OPERATOR_OPEN_ID: 'op',
  };

  it('reads the Agent and the secrets, defaulting the endpoint', () => {
    const config = loadConfig({ ...full, TENCENT_ESS_CALLBACK_KEY: KEY, TENCENT_ESS_CALLBACK_TOKEN: 't' });
    expect(config.sandbox).toBe(false);
    expect(config.tencent).toMatchObject({ endpoint: 'https://essbasic.tencentcloudapi.com', appId: 'app', proxyOrganizationOpenId: 'org', proxyOperatorOpenId: 'op', callbackKey: KEY, ratePerSecond: 20 });
  });

  it('names the missing or malformed variable', () => {
    expect(() => loadConfig({ ...full, TENCENT_ESS_APP_ID: '' })).toThrow(new ConfigError('TENCENT_ESS_APP_ID', 'is required when TENCENT_SECRET_ID, TENCENT_SECRET_KEY, TENCENT_ESS_PROXY_ORG_OPEN_ID, TENCENT_ESS_PROXY_OPERATOR_OPEN_ID are set'));
    expect(() => loadConfig({ ...full, TENCENT_ESS_CALLBACK_KEY: 'short' })).toThrow('TENCENT_ESS_CALLBACK_KEY: must be the 32-byte CallbackKey, got 5 bytes');
    expect(() => loadConfig({ ...full, TENCENT_ESS_ENDPOINT: 'ftp://x' })).toThrow('TENCENT_ESS_ENDPOINT');
  });

  it('leaves Tencent unconfigured without its variables when the sandbox is off', () => {
    expect(loadConfig({ SANDBOX: 'off', AUTH: 'off' }).tencent).toBeUndefined();
    expect(loadConfig({ SANDBOX: 'on' }).tencent?.callbackKey).toBe(KEY);
  });
});
