import { get, manualClock, post, startReceiver, startSandbox, waitFor, type ManualClock, type Receiver, type RunningSandbox } from '../etc/harness';
import { AGENT, callEss, contentSignature, decrypt, type CallOptions } from './signer';

let clock: ManualClock;
let receiver: Receiver;
let running: RunningSandbox;

beforeEach(async () => {
  clock = manualClock();
  receiver = await startReceiver();
  running = await startSandbox({ clock, callbackUrl: () => `${receiver.url}/tencent-ess` });
});

afterEach(async () => {
  await running.close();
  await receiver.close();
});

const endpoint = () => `${running.base}/tencent/`;
const admin = (path: string) => `${running.base}/_admin${path}`;
const now = () => Math.floor(clock.now() / 1000);

function call(action: string, body: Record<string, unknown>, options: Partial<CallOptions> = {}) {
  return callEss(endpoint(), action, body, { timestamp: now(), ...options });
}

async function createFlow(body: Record<string, unknown> = {}): Promise<string> {
  const answer = await post(admin('/tencent/flows'), body);
  expect(answer.status).toBe(201);
  return answer.body.flowId as string;
}

/** Callbacks received, decrypted after their signature was checked. */
function messages(): Array<Record<string, any>> {
  return receiver.received.map((cb) => {
    expect(cb.headers['content-signature']).toBe(contentSignature(cb.body));
    return decrypt(JSON.parse(cb.body).encrypt as string);
  });
}

describe('Tencent emulator: TC3 authentication', () => {
  it('answers a correctly signed call', async () => {
    const flowId = await createFlow();
    const { status, response } = await call('DescribeFlowDetailInfo', { Agent: AGENT, FlowIds: [flowId] });
    expect(status).toBe(200);
    expect(response.Error).toBeUndefined();
    expect(response.RequestId).toEqual(expect.any(String));
    expect(response.FlowInfo).toEqual([expect.objectContaining({ FlowId: flowId, FlowStatus: 'INIT' })]);
  });

  it('refuses a signature made with the wrong key: AuthFailure.SignatureFailure', async () => {
    const { response } = await call('DescribeFlowDetailInfo', { Agent: AGENT, FlowIds: ['x'] }, { secretKey: 'not-the-key' });
    expect(response.Error).toEqual({ Code: 'AuthFailure.SignatureFailure', Message: expect.stringContaining('credentials could not be validated') });
  });

  it('refuses a timestamp more than 5 minutes away: AuthFailure.SignatureExpire', async () => {
    for (const skew of [-301, 301]) {
      const { response } = await call('DescribeFlowDetailInfo', { Agent: AGENT, FlowIds: ['x'] }, { timestamp: now() + skew });
      expect(response.Error.Code).toBe('AuthFailure.SignatureExpire');
      expect(response.Error.Message).toMatch(/must not differ by more than 300 seconds/);
    }
    const edge = await call('DescribeFlowDetailInfo', { Agent: AGENT, FlowIds: ['x'] }, { timestamp: now() - 300 });
    expect(edge.response.Error).toBeUndefined();
  });

  it('refuses an unknown SecretId: AuthFailure.SecretIdNotFound', async () => {
    const { response } = await call('DescribeFlowDetailInfo', { Agent: AGENT, FlowIds: ['x'] }, { secretId: 'AKIDunknown' });
    expect(response.Error).toEqual({ Code: 'AuthFailure.SecretIdNotFound', Message: expect.stringContaining('SecretId is not found') });
  });

  it('refuses a tampered body (the signature covers the bytes)', async () => {
    const body = { Agent: AGENT, FlowIds: ['x'] };
    expect((await call('DescribeFlowDetailInfo', body)).response.Error).toBeUndefined();
    const tampered = await call('DescribeFlowDetailInfo', body, { tamper: (text) => `${text} ` });
    expect(tampered.response.Error.Code).toBe('AuthFailure.SignatureFailure');
  });

  it('refuses an unknown action and another API version', async () => {
    expect((await call('ChannelDeleteEverything', { Agent: AGENT })).response.Error.Code).toBe('InvalidAction');
    expect((await call('DescribeFlowDetailInfo', { Agent: AGENT, FlowIds: ['x'] }, { version: '2020-01-01' })).response.Error.Code).toBe('NoSuchVersion');
  });
});

describe('Tencent emulator: Agent', () => {
  it.each([
    ['Agent', {}],
    ['Agent.AppId', { Agent: { ...AGENT, AppId: '' } }],
    ['Agent.ProxyOrganizationOpenId', { Agent: { ...AGENT, ProxyOrganizationOpenId: undefined } }],
    ['Agent.ProxyOperator.OpenId', { Agent: { ...AGENT, ProxyOperator: {} } }],
  ])('MissingParameter names %s', async (name, body) => {
    const { response } = await call('ChannelBatchCancelFlows', { FlowIds: ['x'], ...body });
    expect(response.Error).toEqual({ Code: 'MissingParameter', Message: `The request is missing a required parameter \`${name}\`.` });
  });

  it('ResourceNotFound.Application for an application that does not exist', async () => {
    const { response } = await call('DescribeCancelFlowsTask', { Agent: { ...AGENT, AppId: 'yDnope' }, TaskId: 't' });
    expect(response.Error.Code).toBe('ResourceNotFound.Application');
  });
});

describe('Tencent emulator: ChannelBatchCancelFlows', () => {
  it('refuses more than 100 FlowIds, with nothing cancelled', async () => {
    const flowIds = [await createFlow(), ...Array.from({ length: 100 }, (_, i) => `yD${String(i).padStart(30, '0')}`)];
    const { response } = await call('ChannelBatchCancelFlows', { Agent: AGENT, FlowIds: flowIds });
    expect(response.Error).toEqual({ Code: 'InvalidParameter.ParamError', Message: expect.stringContaining('FlowIds 最多100个') });
    expect(running.sandbox.tencent.getFlow(flowIds[0])?.status).toBe('INIT');
  });

  it.each([
    ['punctuation', '合同内容错误,需要修正', '只能由中文、字母、数字和下划线组成'],
    ['a space', 'wrong terms', '只能由中文、字母、数字和下划线组成'],
    ['201 characters', '撤'.repeat(201), '长度不能超过200'],
  ])('refuses a CancelMessage with %s', async (_case, message, text) => {
    const flowId = await createFlow();
    const { response } = await call('ChannelBatchCancelFlows', { Agent: AGENT, FlowIds: [flowId], CancelMessage: message });
    expect(response.Error.Code).toBe('InvalidParameter.ParamError');
    expect(response.Error.Message).toContain(text);
  });

  it('accepts 200 Chinese characters, letters, digits and underscores, and CancelMessageFormat 0–3 only', async () => {
    const flowId = await createFlow();
    const ok = await call('ChannelBatchCancelFlows', { Agent: AGENT, FlowIds: [flowId], CancelMessage: `${'撤'.repeat(190)}Abc_12345`, CancelMessageFormat: 3 });
    expect(ok.response.Error).toBeUndefined();
    const bad = await call('ChannelBatchCancelFlows', { Agent: AGENT, FlowIds: [await createFlow()], CancelMessageFormat: 4 });
    expect(bad.response.Error.Code).toBe('InvalidParameter.ParamError');
  });

  it('fails finished flows per flow, aligned with FlowIds, and cancels the rest a moment later', async () => {
    const open = await createFlow();
    const completed = await createFlow({ status: 'COMPLETED' });
    const rejected = await createFlow({ status: 'REJECTED' });
    const expired = await createFlow({ status: 'EXPIRED' });
    const cancelled = await createFlow({ status: 'REVOKED' });
    const part = await createFlow({ tencentStatus: 'PART' });
    const ids = [open, completed, rejected, expired, cancelled, part, 'yDunknown000000000000000000000000'];
    const { response } = await call('ChannelBatchCancelFlows', { Agent: AGENT, FlowIds: ids, CancelMessage: '合同有误' });
    expect(response.Error).toBeUndefined();
    expect(response.TaskId).toMatch(/^[A-Za-z0-9]{32}$/);
    const refused = (id: string, why: string) => `合同流程Id:${id},无法撤回,错误信息:${why}`;
    expect(response.FailMessages).toEqual([
      '',
      refused(completed, '合同当前状态不支持撤销'),
      refused(rejected, '合同当前状态不支持撤销'),
      refused(expired, '合同当前状态不支持撤销'),
      refused(cancelled, '合同当前状态不支持撤销'),
      '',
      refused(ids[6], '合同流程不存在'),
    ]);

    const task = await waitFor(async () => {
      const answer = await call('DescribeCancelFlowsTask', { Agent: AGENT, TaskId: response.TaskId });
      return answer.response.TaskStatus === 'END' && answer.response;
    }, 'the task to end');
    expect(task.SuccessFlowIds).toEqual([open, part]);
    expect(task.FailureFlows.map((f: { FlowId: string }) => f.FlowId)).toEqual([completed, rejected, expired, cancelled, ids[6]]);
    expect(running.sandbox.tencent.getFlow(open)).toMatchObject({ status: 'CANCEL', message: '合同有误' });

    await waitFor(() => receiver.received.length === 3, 'CancelFlows and two FlowStatusChange callbacks');
    const received = messages();
    const cancelFlows = received.find((m) => m.MsgType === 'CancelFlows')!;
    expect(cancelFlows).toMatchObject({ MsgVersion: 'ThirdPartyApp', MsgId: expect.any(String), MsgData: { TaskId: response.TaskId, TaskStatus: 'END', SuccessFlowIds: [open, part] } });
    const changes = received.filter((m) => m.MsgType === 'FlowStatusChange').map((m) => [m.MsgData.FlowId, m.MsgData.FlowCallbackStatus]);
    expect(changes.sort()).toEqual([[open, 6], [part, 6]].sort());
    expect(receiver.received[0].url).toBe('/callbacks/tencent-ess');
  });

  it('answers FailMessages [] when every flow is accepted, and PROCESSING until the task runs', async () => {
    await post(admin('/tencent/settings'), { cancelTaskOutcome: 'HOLD' });
    const ids = [await createFlow(), await createFlow()];
    const { response } = await call('ChannelBatchCancelFlows', { Agent: AGENT, FlowIds: ids });
    expect(response.FailMessages).toEqual([]);
    const task = await call('DescribeCancelFlowsTask', { Agent: AGENT, TaskId: response.TaskId });
    expect(task.response).toMatchObject({ TaskStatus: 'PROCESSING', SuccessFlowIds: [], FailureFlows: [] });
    // A flow already in a running task cannot be put in another.
    const again = await call('ChannelBatchCancelFlows', { Agent: AGENT, FlowIds: [ids[0]] });
    expect(again.response.FailMessages).toEqual([`合同流程Id:${ids[0]},无法撤回,错误信息:合同正在撤销中`]);
  });

  it('ends a task TIMEOUT when told to, cancelling nothing', async () => {
    await post(admin('/tencent/settings'), { cancelTaskOutcome: 'TIMEOUT' });
    const flowId = await createFlow();
    const { response } = await call('ChannelBatchCancelFlows', { Agent: AGENT, FlowIds: [flowId] });
    const task = await waitFor(async () => {
      const answer = await call('DescribeCancelFlowsTask', { Agent: AGENT, TaskId: response.TaskId });
      return answer.response.TaskStatus !== 'PROCESSING' && answer.response;
    }, 'the task to end');
    expect(task).toMatchObject({ TaskStatus: 'TIMEOUT', SuccessFlowIds: [] });
    expect(running.sandbox.tencent.getFlow(flowId)?.status).toBe('INIT');
  });

  it('answers ResourceNotFound for a task it never started', async () => {
    expect((await call('DescribeCancelFlowsTask', { Agent: AGENT, TaskId: 'yDnone' })).response.Error.Code).toBe('ResourceNotFound');
  });
});

describe('Tencent emulator: rate limit', () => {
  it('answers RequestLimitExceeded to the 21st call of one action within a second, per action', async () => {
    // The clock stands still: no token is refilled between the calls.
    const answers = await Promise.all(Array.from({ length: 21 }, () => call('DescribeFlowDetailInfo', { Agent: AGENT, FlowIds: ['x'] })));
    const limited = answers.filter((a) => a.response.Error?.Code === 'RequestLimitExceeded');
    expect(limited).toHaveLength(1);
    expect(answers.filter((a) => a.response.Error === undefined)).toHaveLength(20);
    // Another action has its own budget.
    expect((await call('DescribeCancelFlowsTask', { Agent: AGENT, TaskId: 'yDnone' })).response.Error.Code).toBe('ResourceNotFound');
    // One token comes back every 50 ms.
    clock.advance(50);
    expect((await call('DescribeFlowDetailInfo', { Agent: AGENT, FlowIds: ['x'] })).response.Error).toBeUndefined();
    expect((await call('DescribeFlowDetailInfo', { Agent: AGENT, FlowIds: ['x'] })).response.Error.Code).toBe('RequestLimitExceeded');
    const stats = (await get(admin('/tencent/stats'))).body.actions;
    expect(stats.DescribeFlowDetailInfo).toEqual({ calls: 23, rateLimited: 2 });
  });

  it('answers RequestLimitExceeded for a rate-limit fault', async () => {
    await post(admin('/faults'), { provider: 'tencent', kind: 'rate-limit', match: 'ChannelCancelFlow', count: 1 });
    const flowId = await createFlow();
    expect((await call('ChannelCancelFlow', { Agent: AGENT, FlowId: flowId })).response.Error.Code).toBe('RequestLimitExceeded');
    expect((await call('ChannelCancelFlow', { Agent: AGENT, FlowId: flowId })).response.Error).toBeUndefined();
  });
});

describe('Tencent emulator: ChannelCancelFlow and DescribeFlowDetailInfo', () => {
  it('cancels one flow and calls back FlowStatusChange 6', async () => {
    const flowId = await createFlow();
    const { response } = await call('ChannelCancelFlow', { Agent: AGENT, FlowId: flowId, CancelMessage: '签错了', CancelMessageFormat: 1 });
    expect(response).toEqual({ RequestId: expect.any(String) });
    await waitFor(() => receiver.received.length === 1, 'the FlowStatusChange callback');
    expect(messages()[0]).toMatchObject({ MsgType: 'FlowStatusChange', MsgData: { FlowId: flowId, FlowCallbackStatus: 6, FlowMessage: '签错了', OccurTime: now() } });
  });

  it.each([
    ['COMPLETED', 'ALL'],
    ['REJECTED', 'REJECT'],
    ['EXPIRED', 'DEADLINE'],
    ['REVOKED', 'CANCEL'],
    ['INVALIDATED', 'INVALID'],
    ['RESCINDED', 'RELIEVED'],
  ])('refuses a %s flow with OperationDenied.FlowHasTerminated', async (status, tencentStatus) => {
    const flowId = await createFlow({ status });
    const { response } = await call('ChannelCancelFlow', { Agent: AGENT, FlowId: flowId });
    expect(response.Error.Code).toBe('OperationDenied.FlowHasTerminated');
    expect(response.Error.Message).toContain(tencentStatus);
  });

  it('refuses an unknown flow with ResourceNotFound.Flow and a bad CancelMessage before anything', async () => {
    expect((await call('ChannelCancelFlow', { Agent: AGENT, FlowId: 'yDnope' })).response.Error.Code).toBe('ResourceNotFound.Flow');
    const flowId = await createFlow();
    expect((await call('ChannelCancelFlow', { Agent: AGENT, FlowId: flowId, CancelMessage: 'a-b' })).response.Error.Code).toBe('InvalidParameter');
    expect(running.sandbox.tencent.getFlow(flowId)?.status).toBe('INIT');
  });

  it('describes known flows only, at most 100', async () => {
    const a = await createFlow({ status: 'COMPLETED', flowName: '租赁合同' });
    const { response } = await call('DescribeFlowDetailInfo', { Agent: AGENT, FlowIds: [a, 'yDunknown'] });
    expect(response.FlowInfo).toEqual([expect.objectContaining({ FlowId: a, FlowName: '租赁合同', FlowStatus: 'ALL', CreateOn: now() })]);
    const many = await call('DescribeFlowDetailInfo', { Agent: AGENT, FlowIds: Array.from({ length: 101 }, (_, i) => `f${i}`) });
    expect(many.response.Error.Code).toBe('InvalidParameter');
  });
});

describe('Tencent emulator: admin API', () => {
  it('creates flows with 32-character ids, moves them and calls back on each move', async () => {
    const flowId = await createFlow();
    expect(flowId).toMatch(/^yDw[A-Za-z0-9]{29}$/);
    const moved = await post(admin(`/tencent/flows/${flowId}/transition`), { status: 'COMPLETED' });
    expect(moved.body).toMatchObject({ flowId, status: 'COMPLETED', providerStatus: 'ALL', flowCallbackStatus: 4, callbackQueued: true });
    await waitFor(() => receiver.received.length === 1, 'the callback');
    expect(messages()[0].MsgData).toMatchObject({ FlowId: flowId, FlowCallbackStatus: 4 });
    expect((await get(admin(`/tencent/flows/${flowId}`))).body).toMatchObject({ flowId, status: 'ALL' });
  });

  it('creates many flows at once and validates admin bodies', async () => {
    const batch = await post(admin('/tencent/flows/batch'), { count: 3, status: 'COMPLETED' });
    expect(batch.status).toBe(201);
    expect(batch.body.flowIds).toHaveLength(3);
    expect(running.sandbox.tencent.getFlow(batch.body.flowIds[0])?.status).toBe('ALL');
    expect((await post(admin('/tencent/flows'), { status: 'UNKNOWN' })).body).toMatchObject({ field: 'status' });
    expect((await post(admin('/tencent/flows'), { tencentStatus: 'NOPE' })).body).toMatchObject({ field: 'tencentStatus' });
    expect((await post(admin('/tencent/settings'), { cancelTaskOutcome: 'LATER' })).status).toBe(400);
    expect((await post(admin('/tencent/flows/batch'), { count: 0 })).status).toBe(400);
  });
});
