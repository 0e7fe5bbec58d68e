import { generateKeyPairSync } from 'crypto';
import { formatChinaTime } from '../../../src/sandbox/kit';
import {
  ETC_ACK,
  get,
  manualClock,
  post,
  del,
  startReceiver,
  startSandbox,
  waitFor,
  type ManualClock,
  type Receiver,
  type RunningSandbox,
} from './harness';
import { signedRequest, type GatewayBody } from './signer';

const MEMBER = '40eb61714d9e49088bac7a3c56d69d66';

let clock: ManualClock;
let receiver: Receiver;
let running: RunningSandbox;

beforeEach(async () => {
  clock = manualClock();
  receiver = await startReceiver();
  running = await startSandbox({ clock, callbackUrl: () => `${receiver.url}/etc?token=s3cret` });
});

afterEach(async () => {
  await running.close();
  await receiver.close();
});

const gateway = () => `${running.base}/etc/api/gateway`;
const admin = (path: string) => `${running.base}/_admin${path}`;

async function createFlow(body: Record<string, unknown> = {}): Promise<string> {
  const answer = await post(admin('/etc/flows'), body);
  expect(answer.status).toBe(201);
  return answer.body.flowId as string;
}

function sign(apiCode: string, params: Record<string, unknown>, options: Parameters<typeof signedRequest>[2] = {}) {
  return signedRequest(apiCode, params, { timestamp: clock.now(), ...options });
}

const revoke = (flowId: string, extra: Record<string, unknown> = {}) =>
  sign('esign.signflows.revoke', { flowId, etc_member_no: MEMBER, revokeReason: '合同有误', ...extra });

const query = (flowId: string) => sign('esign.signflows.query', { flowId });

async function call(body: unknown) {
  const answer = await post(gateway(), body);
  expect(answer.status).toBe(200);
  return answer.body as { requestId: string; responseCode: string; responseMsg: string; data: unknown };
}

async function callbacks(): Promise<Array<Record<string, unknown>>> {
  return (await get(admin('/etc/callbacks'))).body.callbacks;
}

describe('ETC gateway: revoke', () => {
  it('revokes a signing flow and sends the "3" callback', async () => {
    const flowId = await createFlow();
    const envelope = await call(revoke(flowId));
    expect(envelope).toEqual({
      requestId: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      responseCode: '000',
      responseMsg: '成功',
      data: { revokeResult: true },
    });

    await waitFor(() => receiver.received.length === 1, 'the revoke callback');
    const callback = receiver.received[0];
    expect(callback.url).toBe('/callbacks/etc?token=s3cret');
    expect(callback.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(callback.body)).toEqual({
      sign_end_time: formatChinaTime(clock.now()),
      sign_flow_status: '3',
      sign_flow_id: flowId,
      sign_file_url: expect.stringMatching(/^https?:\/\//),
    });
    // 2024-01-15T02:30:00Z is 10:30 in China.
    expect(JSON.parse(callback.body).sign_end_time).toBe('2024-01-15 10:30:00');

    const [delivery] = await waitFor(async () => {
      const list = await callbacks();
      return list.length === 1 && list[0].state === 'acknowledged' && list;
    }, 'the delivery to be acknowledged');
    expect(delivery.url).toBe(`${receiver.url}/etc?token=[redacted]`);
    expect(delivery.acknowledged).toBe(true);
    expect(delivery.attempts).toEqual([{ at: expect.any(String), status: 200, response: '{"response_code":"000"}' }]);

    const flow = (await get(admin(`/etc/flows/${flowId}`))).body;
    expect(flow).toMatchObject({ status: 3, statusName: 'REVOKED', revokeReason: '合同有误', revokedBy: MEMBER });
  });

  it('defaults revokeReason to 撤销', async () => {
    const flowId = await createFlow();
    const body = sign('esign.signflows.revoke', { flowId, etc_member_no: MEMBER });
    expect((await call(body)).responseCode).toBe('000');
    expect(running.sandbox.etc.getFlow(flowId)?.revokeReason).toBe('撤销');
  });

  it('refuses to revoke a completed flow with a business code, and sends nothing', async () => {
    const flowId = await createFlow({ status: 'COMPLETED' });
    const envelope = await call(revoke(flowId));
    expect(envelope.responseCode).toBe('300002');
    expect(envelope.responseMsg).toBe('流程状态不允许撤销: 当前状态 2(已完成)');
    expect(envelope.data).toBeNull();
    expect(running.sandbox.etc.getFlow(flowId)?.status).toBe(2);
    expect(await callbacks()).toEqual([]);
  });

  it.each(['DRAFT', 'REVOKED', 'EXPIRED', 'REJECTED'])('refuses to revoke a %s flow', async (status) => {
    const flowId = await createFlow({ status });
    expect((await call(revoke(flowId))).responseCode).toBe('300002');
  });

  it('answers an unknown flow with the not-found business code', async () => {
    const envelope = await call(revoke('0'.repeat(32)));
    expect(envelope).toMatchObject({ responseCode: '300001', responseMsg: `流程不存在: ${'0'.repeat(32)}`, data: null });
  });
});

describe('ETC gateway: refusals in order', () => {
  it.each(['appId', 'nonce', 'timestamp', 'apiCode', 'params', 'sign'])('400 names a missing %s', async (field) => {
    const body: Record<string, unknown> = { ...revoke('f1') };
    delete body[field];
    const envelope = await call(body);
    expect(envelope).toMatchObject({ responseCode: '400', responseMsg: `缺少必要参数: ${field}`, data: null });
  });

  it('400 for a blank field, a non-object params and a nonce that is not 6 characters', async () => {
    expect((await call({ ...revoke('f1'), appId: '  ' })).responseMsg).toBe('缺少必要参数: appId');
    const arrayParams = await call({ ...revoke('f1'), params: ['x'] });
    expect(arrayParams).toMatchObject({ responseCode: '400', responseMsg: '参数格式错误: params 必须是 JSON 对象' });
    const shortNonce = await call(sign('esign.signflows.query', { flowId: 'f1' }, { nonce: 'ABC' }));
    expect(shortNonce).toMatchObject({ responseCode: '400', responseMsg: '参数格式错误: nonce 必须是6位字符' });
    const notJson = await post(gateway(), undefined, { raw: '{"appId":' });
    expect(notJson.body).toMatchObject({ responseCode: '400', responseMsg: '请求体必须是 JSON 对象' });
  });

  it('400 names an operation parameter that is missing or too long', async () => {
    const flowId = await createFlow();
    const missing = await call(sign('esign.signflows.revoke', { flowId }));
    expect(missing).toMatchObject({ responseCode: '400', responseMsg: '缺少必要参数: etc_member_no' });
    const long = await call(revoke(flowId, { revokeReason: '因'.repeat(65) }));
    expect(long).toMatchObject({ responseCode: '400', responseMsg: '参数超长: revokeReason 最大长度 64' });
    const exactly64 = await call(revoke(flowId, { revokeReason: '因'.repeat(64) }));
    expect(exactly64.responseCode).toBe('000');
    const longId = await call(query('f'.repeat(65)));
    expect(longId).toMatchObject({ responseCode: '400', responseMsg: '参数超长: flowId 最大长度 64' });
    const notString = await call(sign('esign.signflows.query', { flowId: 12 }));
    expect(notString).toMatchObject({ responseCode: '400', responseMsg: '参数格式错误: flowId 必须是字符串' });
  });

  it('400001 for an unknown appId, before the signature is looked at', async () => {
    const envelope = await call({ ...query('f1'), appId: 'UNKNOWNAPP000000', sign: 'garbage' });
    expect(envelope).toMatchObject({ responseCode: '400001', responseMsg: 'appId 不存在: UNKNOWNAPP000000' });
  });

  it('401001 when the signature does not cover what was sent', async () => {
    const flowId = await createFlow();
    const tampered: GatewayBody = { ...revoke(flowId), params: { flowId, etc_member_no: MEMBER, revokeReason: '改了' } };
    expect(await call(tampered)).toMatchObject({ responseCode: '401001', responseMsg: '签名验证失败' });
    expect(running.sandbox.etc.getFlow(flowId)?.status).toBe(1);
  });

  it('403001 when the timestamp is more than 30 s from the emulator clock', async () => {
    const flowId = await createFlow();
    const stale = await call(sign('esign.signflows.query', { flowId }, { timestamp: clock.now() - 30_001 }));
    expect(stale).toMatchObject({ responseCode: '403001' });
    const future = await call(sign('esign.signflows.query', { flowId }, { timestamp: clock.now() + 30_001 }));
    expect(future.responseCode).toBe('403001');
    const edge = await call(sign('esign.signflows.query', { flowId }, { timestamp: clock.now() - 30_000 }));
    expect(edge.responseCode).toBe('000');
    const tenDigits = await call(sign('esign.signflows.query', { flowId }, { timestamp: Math.floor(clock.now() / 1000) }));
    expect(tenDigits.responseCode).toBe('403001');
  });

  it('403002 for a nonce reused within 60 s; accepted again after 60 s', async () => {
    const flowId = await createFlow();
    expect((await call(sign('esign.signflows.query', { flowId }, { nonce: 'AB12CD' }))).responseCode).toBe('000');
    clock.advance(59_999);
    const replay = await call(sign('esign.signflows.query', { flowId }, { nonce: 'AB12CD' }));
    expect(replay).toMatchObject({ responseCode: '403002', responseMsg: '重复请求: nonce 在60秒内已使用' });
    clock.advance(1);
    expect((await call(sign('esign.signflows.query', { flowId }, { nonce: 'AB12CD' }))).responseCode).toBe('000');
  });

  it('records a nonce only once the signature has passed', async () => {
    const flowId = await createFlow();
    const forged = { ...sign('esign.signflows.query', { flowId }, { nonce: 'ZZ99ZZ' }), sign: revoke(flowId).sign };
    expect((await call(forged)).responseCode).toBe('401001');
    expect((await call(sign('esign.signflows.query', { flowId }, { nonce: 'ZZ99ZZ' }))).responseCode).toBe('000');
  });

  it('nonces are per application', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 1024 });
    await running.close();
    running = await startSandbox({
      clock,
      callbackUrl: () => receiver.url,
      etc: {
        apps: {
          OIG0AF4DMOK2VC2N: 'MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCWJp6jtuKcpR+g+PiQbM5+dmVfobLFvu+wmqDbJ6zwlLQ/GVwT0OrYjzIZBciTa0jEVLELYTipUg90Pqz6Y7ABgGvuDoRVLPEdqCvb3o90hfu82dOHCiRvny4xsWuEdm5s1W7m2S/gQJPWNqmtSClezTUu409/DurBMxUQYpNcmwIDAQAB',
          SECONDAPP0000000: other.publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
        },
      },
    });
    const otherKey = other.privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
    const flowId = await createFlow();
    expect((await call(sign('esign.signflows.query', { flowId }, { nonce: 'SHARED' }))).responseCode).toBe('000');
    const second = sign('esign.signflows.query', { flowId }, { nonce: 'SHARED', appId: 'SECONDAPP0000000', privateKey: otherKey });
    expect((await call(second)).responseCode).toBe('000');
  });

  it('404001 for an unknown apiCode', async () => {
    const envelope = await call(sign('esign.signflows.teleport', { flowId: 'x' }));
    expect(envelope).toMatchObject({ responseCode: '404001', responseMsg: '接口不存在: esign.signflows.teleport' });
  });
});

describe('ETC gateway: query', () => {
  it('returns the flow state, times in China time', async () => {
    const flowId = await createFlow({ flowDesc: '购房合同', businessScene: '新房收据' });
    expect((await call(query(flowId))).data).toEqual({
      flowId,
      flowStatus: 1,
      flowStartTime: '2024-01-15 10:30:00',
      flowEndTime: null,
      flowDesc: '购房合同',
      businessScene: '新房收据',
    });
    clock.advance(90_000);
    expect((await call(revoke(flowId))).responseCode).toBe('000');
    expect((await call(query(flowId))).data).toMatchObject({ flowStatus: 3, flowEndTime: '2024-01-15 10:31:30' });
  });

  it('answers an unknown flow with the not-found business code', async () => {
    expect((await call(query('nope'))).responseCode).toBe('300001');
  });
});

describe('ETC admin API', () => {
  it('creates flows with a chosen id and status, refusing duplicates and non-ETC states', async () => {
    const flowId = await createFlow({ flowId: 'my-flow', status: 'EXPIRED', signers: 2, fileIds: ['a', 'b'] });
    expect(flowId).toBe('my-flow');
    expect(running.sandbox.etc.getFlow('my-flow')).toMatchObject({ status: 5, fileIds: ['a', 'b'] });
    expect(running.sandbox.etc.getFlow('my-flow')?.signers).toHaveLength(2);
    expect(await createFlow()).toMatch(/^[0-9a-f]{32}$/);

    expect((await post(admin('/etc/flows'), { flowId: 'my-flow' })).status).toBe(409);
    const invalidated = await post(admin('/etc/flows'), { status: 'INVALIDATED' });
    expect(invalidated.status).toBe(400);
    expect(invalidated.body).toEqual({
      error: 'status INVALIDATED is not an ETC flow state; use one of DRAFT, SIGNING, COMPLETED, REVOKED, EXPIRED, REJECTED',
      field: 'status',
    });
    expect((await post(admin('/etc/flows'), { status: 'DONE' })).body.field).toBe('status');
    expect((await post(admin('/etc/flows'), { signers: 0 })).body).toEqual({
      error: 'signers must be an integer from 1 to 100',
      field: 'signers',
    });
    expect((await post(admin('/etc/flows'), { fileIds: 'a' })).body.field).toBe('fileIds');
    expect((await post(admin('/etc/flows'), { flowid: 'x' })).body.field).toBe('flowid');
    expect((await post(admin('/etc/flows'), { flowDesc: 7 })).body.field).toBe('flowDesc');
  });

  it('404 for a provider without an emulator or sign flows, and for unknown flows', async () => {
    // Every provider has an emulator now; Yuansfer's has no sign flows.
    expect((await post(admin('/yuansfer/flows'), {})).status).toBe(404);
    expect((await post(admin('/nobody/flows'), {})).status).toBe(404);
    expect((await get(admin('/nobody/requests'))).status).toBe(404);
    const unknown = await post(admin('/etc/flows/nope/transition'), { status: 'COMPLETED' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe('no etc flow "nope"');
    expect((await get(admin('/etc/flows/nope'))).status).toBe(404);
  });

  it('validates transition bodies', async () => {
    const flowId = await createFlow();
    const missing = await post(admin(`/etc/flows/${flowId}/transition`), {});
    expect(missing.body).toEqual({ error: 'status is required', field: 'status' });
    for (const status of ['INVALIDATED', 'RESCINDED', 'UNKNOWN']) {
      const answer = await post(admin(`/etc/flows/${flowId}/transition`), { status });
      expect(answer.status).toBe(400);
      expect(answer.body.field).toBe('status');
    }
    expect((await post(admin(`/etc/flows/${flowId}/transition`), undefined, { raw: '[' })).body).toEqual({
      error: 'body must be a JSON object',
    });
  });

  it('moves a flow to SIGNING or DRAFT without a callback', async () => {
    const flowId = await createFlow({ status: 'DRAFT' });
    const answer = await post(admin(`/etc/flows/${flowId}/transition`), { status: 'SIGNING' });
    expect(answer.body).toEqual({ flowId, status: 'SIGNING', providerStatus: '1', flowStatus: 1, callbackQueued: false });
    expect(await callbacks()).toEqual([]);
  });

  it('logs requests newest last, with the operation and the answer', async () => {
    const flowId = await createFlow();
    await call(query(flowId));
    await call(revoke(flowId));
    const { requests } = (await get(admin('/etc/requests'))).body;
    expect(requests.map((r: { operation: string }) => r.operation)).toEqual(['esign.signflows.query', 'esign.signflows.revoke']);
    expect(requests[1]).toMatchObject({
      method: 'POST',
      path: '/api/gateway',
      status: 200,
      body: { apiCode: 'esign.signflows.revoke', params: { flowId } },
      response: { responseCode: '000', data: { revokeResult: true } },
      faults: [],
    });
  });

  it('reset forgets flows, nonces, faults, requests and callbacks', async () => {
    const flowId = await createFlow();
    await post(admin('/faults'), { provider: 'etc', kind: 'error', match: 'nothing.matches' });
    await call(sign('esign.signflows.query', { flowId }, { nonce: 'RESET1' }));
    await post(admin(`/etc/flows/${flowId}/transition`), { status: 'COMPLETED' });
    await waitFor(() => receiver.received.length === 1, 'the callback');

    expect((await post(admin('/reset'))).body).toEqual({ reset: true });
    expect((await get(admin('/faults'))).body).toEqual({ faults: [] });
    expect((await get(admin('/etc/requests'))).body).toEqual({ requests: [] });
    expect(await callbacks()).toEqual([]);
    expect(running.sandbox.etc.getFlow(flowId)).toBeUndefined();
    const again = await call(sign('esign.signflows.query', { flowId }, { nonce: 'RESET1' }));
    expect(again.responseCode).toBe('300001'); // not 403002: the nonce is forgotten too
  });
});

describe('ETC sign-flow callback (seed 001)', () => {
  it.each([
    ['COMPLETED', '2'],
    ['REVOKED', '3'],
    ['EXPIRED', '5'],
    ['REJECTED', '7'],
  ])('transition to %s sends status "%s"', async (status, code) => {
    const flowId = await createFlow();
    const answer = await post(admin(`/etc/flows/${flowId}/transition`), { status });
    expect(answer.body).toEqual({
      flowId,
      status,
      providerStatus: code,
      flowStatus: Number(code),
      callbackQueued: true,
      callbackId: expect.any(String),
    });
    await waitFor(() => receiver.received.length === 1, 'the callback');
    expect(JSON.parse(receiver.received[0].body)).toMatchObject({ sign_flow_status: code, sign_flow_id: flowId });
  });

  it('retries 3 times while the receiver answers "500", with identical bytes, then gives up', async () => {
    receiver.answer = () => ({ body: '{"response_code":"500"}' });
    const flowId = await createFlow();
    await post(admin(`/etc/flows/${flowId}/transition`), { status: 'COMPLETED' });
    const [delivery] = await waitFor(async () => {
      const list = await callbacks();
      return list[0]?.state === 'failed' && list;
    }, 'the delivery to be given up');
    expect(receiver.received).toHaveLength(4);
    expect(new Set(receiver.received.map((c) => c.body)).size).toBe(1);
    expect(delivery.acknowledged).toBe(false);
    expect((delivery.attempts as unknown[]).length).toBe(4);
    expect(running.sandbox.kit.callbacks.pendingCount).toBe(0);
  });

  it('stops as soon as "000" comes back; HTTP errors and non-JSON answers are retried', async () => {
    receiver.answer = (n) =>
      [{ status: 503, body: 'busy' }, { body: 'success' }, ETC_ACK][n] ?? { body: '{"response_code":"999"}' };
    const flowId = await createFlow();
    await post(admin(`/etc/flows/${flowId}/transition`), { status: 'REJECTED' });
    const [delivery] = await waitFor(async () => {
      const list = await callbacks();
      return list[0]?.state === 'acknowledged' && list;
    }, 'the delivery to be acknowledged');
    expect(receiver.received).toHaveLength(3);
    expect((delivery.attempts as Array<{ status: number }>).map((a) => a.status)).toEqual([503, 200, 200]);
  });

  it('a drop-callback fault swallows the next callback without retry', async () => {
    await post(admin('/faults'), { provider: 'etc', kind: 'drop-callback', count: 1 });
    const first = await createFlow();
    const second = await createFlow();
    await post(admin(`/etc/flows/${first}/transition`), { status: 'COMPLETED' });
    await post(admin(`/etc/flows/${second}/transition`), { status: 'COMPLETED' });
    await waitFor(() => receiver.received.length === 1, 'the second callback');
    expect(JSON.parse(receiver.received[0].body).sign_flow_id).toBe(second);
    const list = await callbacks();
    expect(list[0]).toMatchObject({ subject: first, state: 'dropped', attempts: [], acknowledged: false });
    expect((await get(admin('/faults'))).body.faults).toEqual([]);
  });

  it('a drop-callback fault can match one flow', async () => {
    const kept = await createFlow();
    const dropped = await createFlow();
    await post(admin('/faults'), { provider: 'etc', kind: 'drop-callback', match: dropped });
    await post(admin(`/etc/flows/${dropped}/transition`), { status: 'EXPIRED' });
    await post(admin(`/etc/flows/${kept}/transition`), { status: 'EXPIRED' });
    await waitFor(() => receiver.received.length === 1, 'the kept callback');
    expect(JSON.parse(receiver.received[0].body).sign_flow_id).toBe(kept);
  });
});

describe('ETC faults', () => {
  it('error answers the ETC envelope with the given code, for the matching apiCode only, count times', async () => {
    const flowId = await createFlow();
    const created = await post(admin('/faults'), {
      provider: 'etc',
      kind: 'error',
      match: 'esign.signflows.revoke',
      count: 1,
      code: '401002',
      message: '无权限',
    });
    expect(created.status).toBe(201);
    expect((await call(query(flowId))).responseCode).toBe('000');
    const refused = await call(revoke(flowId));
    expect(refused).toMatchObject({ responseCode: '401002', responseMsg: '无权限', data: null });
    expect(running.sandbox.etc.getFlow(flowId)?.status).toBe(1);
    expect((await call(revoke(flowId))).responseCode).toBe('000');
    const { requests } = (await get(admin('/etc/requests'))).body;
    expect(requests[1].faults).toEqual([created.body.id]);
  });

  it('error defaults to "500" 系统错误; rate-limit answers "500" 系统繁忙', async () => {
    await post(admin('/faults'), { provider: 'etc', kind: 'error', count: 1 });
    expect(await call(query('x'))).toMatchObject({ responseCode: '500', responseMsg: '系统错误' });
    await post(admin('/faults'), { provider: 'etc', kind: 'rate-limit', count: 1 });
    expect(await call(query('x'))).toMatchObject({ responseCode: '500', responseMsg: '系统繁忙，请稍后再试' });
    expect((await call(query('x'))).responseCode).toBe('300001');
  });

  it('latency delays the answer', async () => {
    await post(admin('/faults'), { provider: 'etc', kind: 'latency', ms: 300, count: 1 });
    const started = Date.now();
    expect((await call(query('x'))).responseCode).toBe('300001');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('timeout accepts the request and never answers, until cleared', async () => {
    await post(admin('/faults'), { provider: 'etc', kind: 'timeout' });
    await expect(post(gateway(), query('x'), { timeoutMs: 200 })).rejects.toThrow(/abort/i);
    const { requests } = (await get(admin('/etc/requests'))).body;
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ operation: 'esign.signflows.query', status: null, response: null });

    expect((await del(admin('/faults'))).body).toEqual({ cleared: 1 });
    expect((await call(query('x'))).responseCode).toBe('300001');
  });

  it('a held request is ended by reset', async () => {
    await post(admin('/faults'), { provider: 'etc', kind: 'timeout', count: 1 });
    const pending = post(gateway(), query('x'), { timeoutMs: 5000 });
    await waitFor(() => running.sandbox.kit.heldCount === 1, 'the request to be held');
    running.sandbox.reset();
    await expect(pending).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(running.sandbox.kit.heldCount).toBe(0);
  });
});
