import http from 'http';
import type { AddressInfo } from 'net';
import type { TencentConfig } from '../../../src/config';
import {
  ProviderAuthenticationError,
  ProviderBusinessError,
  ProviderConnectionError,
  ProviderInvalidRequestError,
  ProviderNotFoundError,
  ProviderPermissionError,
  ProviderRateLimitError,
  ProviderResponseError,
  ProviderServerError,
} from '../../../src/providers/errors';
import { TencentClient } from '../../../src/providers/tencent/client';
import { tencentError } from '../../../src/providers/tencent/mapping';
import { cancelMessageProblem } from '../../../src/providers/tencent/wire';
import { manualClock, post, startSandbox, type ManualClock, type RunningSandbox } from '../../sandbox/etc/harness';

const SANDBOX_ACCOUNT = {
  secretId: 'AKIDsandboxEssbasic0000000000000000',
  secretKey: 'sandboxSecretKeyEssbasic000000000',
  appId: 'yDRSRUUgygj6qnwfUuO4zjEwc193c2hH',
  proxyOrganizationOpenId: 'org_dianziqian',
  proxyOperatorOpenId: 'n9527',
};

function config(endpoint: string, overrides: Partial<TencentConfig> = {}): TencentConfig {
  return { endpoint, ...SANDBOX_ACCOUNT, ratePerSecond: 1000, timeoutMs: 5000, maxRetries: 2, breakerThreshold: 100, breakerResetMs: 0, ...overrides };
}

describe('tencentError', () => {
  it.each([
    ['AuthFailure.SignatureFailure', ProviderAuthenticationError],
    ['AuthFailure.SignatureExpire', ProviderAuthenticationError],
    ['AuthFailure.SecretIdNotFound', ProviderAuthenticationError],
    ['AuthFailure.UnauthorizedOperation', ProviderPermissionError],
    ['UnauthorizedOperation.NoPermissionFeature', ProviderPermissionError],
    ['OperationDenied.UserNotInOrganization', ProviderPermissionError],
    ['ResourceNotFound.Application', ProviderAuthenticationError],
    ['ResourceNotFound.Flow', ProviderNotFoundError],
    ['ResourceNotFound', ProviderNotFoundError],
    ['RequestLimitExceeded', ProviderRateLimitError],
    ['InternalError', ProviderServerError],
    ['InvalidParameter.ParamError', ProviderInvalidRequestError],
    ['MissingParameter', ProviderInvalidRequestError],
    ['InvalidParameter.Status', ProviderBusinessError],
    ['InvalidParameter.DupTask', ProviderBusinessError],
    ['OperationDenied.FlowHasTerminated', ProviderBusinessError],
    ['FailedOperation', ProviderBusinessError],
  ])('maps %s', (code, type) => {
    const error = tencentError(code, 'msg', 'req-1');
    expect(error).toBeInstanceOf(type);
    expect(error).toMatchObject({ provider: 'TENCENT_ESS', code, requestId: 'req-1' });
  });

  it('marks only throttling safe to repeat', () => {
    expect(tencentError('RequestLimitExceeded', 'x').retryable).toBe(true);
    expect(tencentError('AuthFailure.SignatureExpire', 'x').retryable).toBe(false);
    expect(tencentError('InvalidParameter', 'x').retryable).toBe(false);
  });
});

describe('cancelMessageProblem (seed 002: ≤200 of Chinese, letters, digits, underscore)', () => {
  it('accepts the allowed alphabet up to 200 characters', () => {
    expect(cancelMessageProblem('合同有误_Wrong_2')).toBeUndefined();
    expect(cancelMessageProblem('撤'.repeat(200))).toBeUndefined();
  });
  it.each([
    ['撤'.repeat(201), 'must be at most 200 characters, got 201'],
    ['合同内容错误,需要修正', 'may contain only Chinese characters, letters, digits and underscore (found ",")'],
    ['自动撤销(通过接口实现)', '(found "(")'],
    ['a b', '(found " ")'],
    ['合同，有误', '(found "，")'],
  ])('refuses %j', (message, problem) => {
    expect(cancelMessageProblem(message)).toContain(problem);
  });
});

describe('TencentClient against the emulator', () => {
  let clock: ManualClock;
  let running: RunningSandbox;
  let client: TencentClient;

  beforeEach(async () => {
    clock = manualClock(Date.now());
    running = await startSandbox({ clock, callbackUrl: () => 'http://127.0.0.1:9/unused' });
    client = new TencentClient(config(`${running.base}/tencent`), { now: () => clock.now() });
  });
  afterEach(async () => {
    await client.close();
    await running.close();
  });

  const requests = () => running.sandbox.kit.requests.list('tencent');
  const flow = (status = 'SIGNING') => running.sandbox.tencent.createFlow({ status: status as 'SIGNING' }).flowId;

  it('sends the common headers and the Agent, signed, and reads the answer', async () => {
    const a = flow();
    const b = flow('COMPLETED');
    const found = await client.fetchFlows([a, b, 'yDunknown']);
    expect([...found.keys()]).toEqual([a, b]);
    expect(found.get(a)).toMatchObject({ providerFlowId: a, status: 'SIGNING', providerStatus: 'INIT' });
    expect(found.get(b)).toMatchObject({ status: 'COMPLETED', providerStatus: 'ALL' });
    const [sent] = requests();
    expect(sent.headers).toMatchObject({
      'x-tc-action': 'DescribeFlowDetailInfo',
      'x-tc-version': '2021-05-26',
      'x-tc-timestamp': String(Math.floor(clock.now() / 1000)),
      'content-type': 'application/json; charset=utf-8',
      authorization: expect.stringMatching(/^TC3-HMAC-SHA256 Credential=AKIDsandboxEssbasic0000000000000000\/\d{4}-\d{2}-\d{2}\/essbasic\/tc3_request, SignedHeaders=content-type;host, Signature=[0-9a-f]{64}$/),
    });
    expect(sent.body).toEqual({ Agent: { AppId: SANDBOX_ACCOUNT.appId, ProxyOrganizationOpenId: 'org_dianziqian', ProxyOperator: { OpenId: 'n9527' } }, FlowIds: [a, b, 'yDunknown'] });
  });

  it('reads both forms of FailMessages into one aligned list', async () => {
    const open = [flow(), flow()];
    const all = await client.cancelBatch(open, { reason: '合同有误', cancelMessageFormat: 2 });
    expect(all.failures).toEqual([null, null]);
    expect(requests().at(-1)?.response).toMatchObject({ Response: { FailMessages: [] } });
    expect(requests().at(-1)?.body).toMatchObject({ CancelMessage: '合同有误', CancelMessageFormat: 2 });

    const done = flow('COMPLETED');
    const mixed = await client.cancelBatch([flow(), done], {});
    expect(mixed.failures).toEqual([null, `合同流程Id:${done},无法撤回,错误信息:合同当前状态不支持撤销`]);
    expect(mixed.providerTaskId).toMatch(/^[A-Za-z0-9]{32}$/);
    // No reason: CancelMessage is left out so Tencent applies its default.
    expect(requests().at(-1)?.body).not.toHaveProperty('CancelMessage');
  });

  it('never retries an authentication error', async () => {
    const wrong = new TencentClient(config(`${running.base}/tencent`, { secretKey: 'wrong' }), { now: () => clock.now() });
    await expect(wrong.fetchFlows(['x'])).rejects.toMatchObject({ kind: 'authentication', code: 'AuthFailure.SignatureFailure' });
    const skewed = new TencentClient(config(`${running.base}/tencent`), { now: () => clock.now() - 301_000 });
    await expect(skewed.fetchFlows(['x'])).rejects.toMatchObject({ kind: 'authentication', code: 'AuthFailure.SignatureExpire' });
    const unknown = new TencentClient(config(`${running.base}/tencent`, { secretId: 'AKIDnobody' }), { now: () => clock.now() });
    await expect(unknown.fetchFlows(['x'])).rejects.toMatchObject({ kind: 'authentication', code: 'AuthFailure.SecretIdNotFound' });
    expect(requests()).toHaveLength(3);
    await Promise.all([wrong.close(), skewed.close(), unknown.close()]);
  });

  it('never retries a parameter error', async () => {
    await expect(client.cancelBatch([flow()], { reason: 'not allowed!' })).rejects.toBeInstanceOf(ProviderInvalidRequestError);
    expect(requests()).toHaveLength(1);
  });

  it('retries RequestLimitExceeded with backoff, even for a cancel, and re-signs each attempt', async () => {
    await post(`${running.base}/_admin/faults`, { provider: 'tencent', kind: 'rate-limit', match: 'ChannelCancelFlow', count: 2 });
    const id = flow();
    await expect(client.revoke({ providerFlowId: id })).resolves.toEqual({ status: 'REVOKED', providerStatus: 'CANCEL' });
    const attempts = requests().filter((r) => r.operation === 'ChannelCancelFlow');
    expect(attempts.map((r) => (r.response as { Response: { Error?: { Code: string } } }).Response.Error?.Code)).toEqual(['RequestLimitExceeded', 'RequestLimitExceeded', undefined]);
    expect(Date.parse(attempts[2].at)).toBeGreaterThanOrEqual(Date.parse(attempts[0].at));
  });

  it('gives up on RequestLimitExceeded after the configured retries with a typed error', async () => {
    await post(`${running.base}/_admin/faults`, { provider: 'tencent', kind: 'rate-limit', match: 'DescribeCancelFlowsTask' });
    await expect(client.describeCancelTask('t')).rejects.toBeInstanceOf(ProviderRateLimitError);
    expect(requests()).toHaveLength(3);
  });

  it('does not repeat a cancel after an InternalError (it may have acted), but repeats a read', async () => {
    await post(`${running.base}/_admin/faults`, { provider: 'tencent', kind: 'error', code: 'InternalError', count: 1 });
    await expect(client.cancelBatch([flow()], {})).rejects.toBeInstanceOf(ProviderServerError);
    expect(requests()).toHaveLength(1);
    await post(`${running.base}/_admin/faults`, { provider: 'tencent', kind: 'error', code: 'InternalError', count: 1 });
    await expect(client.fetchFlows(['x'])).resolves.toEqual(new Map());
    expect(requests()).toHaveLength(3);
  });

  it('maps flow refusals of ChannelCancelFlow', async () => {
    await expect(client.revoke({ providerFlowId: flow('COMPLETED') })).rejects.toBeInstanceOf(ProviderBusinessError);
    await expect(client.revoke({ providerFlowId: 'yDnope' })).rejects.toBeInstanceOf(ProviderNotFoundError);
  });

  it('validates the cancel input before any call', () => {
    expect(client.validateRevoke({ providerFlowId: 'x', reason: '合同,有误', etcMemberNo: 'm', cancelMessageFormat: 5 })).toEqual([
      { code: 'INVALID_INPUT', field: ['reason'], message: 'reason may contain only Chinese characters, letters, digits and underscore (found ",") for a Tencent flow' },
      { code: 'INVALID_INPUT', field: ['cancelMessageFormat'], message: 'cancelMessageFormat must be 0 to 3' },
      { code: 'INVALID_INPUT', field: ['etcMemberNo'], message: 'etcMemberNo applies to ETC flows only' },
    ]);
    expect(client.validateRevoke({ providerFlowId: 'x', reason: '  ' })).toEqual([]);
  });
});

describe('TencentClient against a misbehaving server', () => {
  let server: http.Server;
  let base = '';
  let answers: Array<(res: http.ServerResponse, req: http.IncomingMessage) => void> = [];
  let seen = 0;

  beforeEach(async () => {
    seen = 0;
    server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => (answers[seen++] ?? answers[answers.length - 1])(res, req));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const json = (body: unknown, status = 200) => (res: http.ServerResponse) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const drop = (_res: http.ServerResponse, req: http.IncomingMessage) => req.socket.destroy();

  it('retries a read after the connection dropped', async () => {
    answers = [drop, json({ Response: { FlowInfo: [], RequestId: 'r' } })];
    const client = new TencentClient(config(base));
    await expect(client.fetchFlows(['x'])).resolves.toEqual(new Map());
    expect(seen).toBe(2);
    await client.close();
  });

  it('does not repeat a cancel whose connection dropped after sending', async () => {
    answers = [drop, json({ Response: { FailMessages: [], TaskId: 't', RequestId: 'r' } })];
    const client = new TencentClient(config(base));
    await expect(client.cancelBatch(['x'], {})).rejects.toBeInstanceOf(ProviderConnectionError);
    expect(seen).toBe(1);
    await client.close();
  });

  it.each([
    ['no Response object', { Error: 'x' }, /without a Response object/],
    ['an Error without a Code', { Response: { Error: { Message: 'x' } } }, /without a Code string/],
    ['FailMessages of the wrong length', { Response: { FailMessages: ['', ''], TaskId: 't' } }, /answered 2 FailMessages for 1 flows/],
    ['no TaskId', { Response: { FailMessages: [] } }, /without a TaskId string/],
  ])('refuses an answer with %s', async (_case, body, message) => {
    answers = [json(body)];
    const client = new TencentClient(config(base));
    const error = await client.cancelBatch(['x'], {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderResponseError);
    expect((error as Error).message).toMatch(message);
    await client.close();
  });
});
