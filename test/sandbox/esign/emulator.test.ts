import { get, manualClock, post, startReceiver, startSandbox, waitFor, type ManualClock, type Receiver, type RunningSandbox } from '../etc/harness';
import { APP_SECRET, callbackSignature, esignCall, type SignOptions } from './signer';

let clock: ManualClock;
let receiver: Receiver;
let running: RunningSandbox;
let notifyUrl: string;

beforeEach(async () => {
  clock = manualClock();
  receiver = await startReceiver();
  receiver.answer = () => ({ body: '{"code":"200","msg":"success"}' });
  // Query parameters on the notify URL are part of what e签宝 signs.
  notifyUrl = `${receiver.url}/esign?tenant=t1&b=2`;
  running = await startSandbox({ clock, callbackUrl: () => notifyUrl });
});

afterEach(async () => {
  await running.close();
  await receiver.close();
});

const api = () => `${running.base}/esign`;
const admin = (path: string) => `${running.base}/_admin${path}`;
const opts = (extra: Partial<SignOptions> = {}): SignOptions => ({ timestamp: clock.now(), ...extra });

async function createFlow(body: Record<string, unknown> = {}): Promise<string> {
  const answer = await post(admin('/esign/flows'), body);
  expect(answer.status).toBe(201);
  return answer.body.flowId as string;
}

async function flowView(flowId: string): Promise<any> {
  return (await get(admin(`/esign/flows/${flowId}`))).body;
}

/** A completed two-signer flow (a person and an organisation) with two files, and a valid rescission body. */
async function completedFlow(extra: Record<string, unknown> = {}) {
  const flowId = await createFlow({ status: 'COMPLETED', signers: 2, fileIds: ['fileA', 'fileB'], ...extra });
  const view = await flowView(flowId);
  const person = view.signers.find((s: { kind: string }) => s.kind === 'person');
  const org = view.signers.find((s: { kind: string }) => s.kind === 'organization');
  const body = {
    rescindReason: '1',
    rescindFileList: ['fileA', 'fileB'],
    rescissionInitiator: { psnInitiator: { psnId: person.psnId } },
  };
  return { flowId, person, org, body };
}

type CallOptions = Partial<SignOptions> & { headers?: (signed: Record<string, string>) => Record<string, string> };
const rescind = (flowId: string, body: unknown, extra: CallOptions = {}) =>
  esignCall(api(), 'POST', `/v3/sign-flow/${flowId}/initiate-rescission`, body, opts(extra));
const detail = (flowId: string) => esignCall(api(), 'GET', `/v3/sign-flow/${flowId}/detail`, undefined, opts());
const revoke = (flowId: string, body: unknown = { revokeReason: '信息有误' }) => esignCall(api(), 'POST', `/v3/sign-flow/${flowId}/revoke`, body, opts());

async function callbacks(): Promise<any[]> {
  return (await get(admin('/esign/callbacks'))).body.callbacks;
}

describe('e签宝 emulator: request authentication', () => {
  it('accepts a correctly signed request', async () => {
    const { flowId } = await completedFlow();
    const answer = await detail(flowId);
    expect(answer).toMatchObject({ status: 200, body: { code: 0, message: '成功' } });
  });

  it.each([
    ['no signature header', { headers: (h: Record<string, string>) => ({ ...h, 'X-Tsign-Open-Ca-Signature': '' }) }, 401, 401, /MISSING_HEADER/],
    ['another auth mode', { headers: (h: Record<string, string>) => ({ ...h, 'X-Tsign-Open-Auth-Mode': 'Token' }) }, 401, 401, /INVALID_AUTH_MODE/],
    ['an unknown app id', { appId: '7438000099' }, 401, 401, /INVALID_APP_ID/],
    ['a wrong secret', { secret: 'not-the-secret' }, 401, 401, /INVALID_SIGNATURE/],
    ['a Content-MD5 that does not match the body', { contentMd5: 'AAAAAAAAAAAAAAAAAAAAAA==' }, 400, 400, /INVALID_CONTENT_MD5/],
    ['a timestamp 16 minutes old', { timestamp: Date.UTC(2024, 0, 15, 2, 14, 0) }, 401, 401, /INVALID_TIMESTAMP/],
  ])('refuses %s, e签宝-style, and changes nothing', async (_case, extra, status, code, message) => {
    const { flowId, body } = await completedFlow();
    const answer = await rescind(flowId, body, extra);
    expect(answer.status).toBe(status);
    expect(answer.body.code).toBe(code);
    expect(answer.body.message).toMatch(message);
    expect(answer.body.data).toBeNull();
    expect((await flowView(flowId)).rescissionSignFlowIds).toEqual([]);
    expect(await callbacks()).toEqual([]);
  });

  it('refuses a body changed after signing', async () => {
    const { flowId, body } = await completedFlow();
    const answer = await esignCall(api(), 'POST', `/v3/sign-flow/${flowId}/initiate-rescission`, body, {
      ...opts(),
      sendBody: JSON.stringify(body).replace('"1"', '"5"'),
    });
    expect(answer).toMatchObject({ status: 400, body: { code: 400, message: expect.stringMatching(/INVALID_CONTENT_MD5/) } });
    expect((await flowView(flowId)).rescissionSignFlowIds).toEqual([]);
  });

  it('answers an unknown endpoint 404 after authenticating it', async () => {
    const answer = await esignCall(api(), 'GET', '/v3/sign-flow/x/nothing', undefined, opts());
    expect(answer).toMatchObject({ status: 404, body: { code: 404 } });
  });
});

describe('e签宝 emulator: detail', () => {
  it('answers integer statuses, the files, the signers and the rescission state', async () => {
    const { flowId } = await completedFlow();
    const { body } = await detail(flowId);
    expect(body.data).toMatchObject({
      signFlowStatus: 2,
      rescissionStatus: 0,
      rescissionSignFlowIds: [],
      signFlowFinishTime: clock.now(),
      docs: [{ fileId: 'fileA' }, { fileId: 'fileB' }],
    });
    expect(body.data.signers).toHaveLength(2);
  });

  it('answers an unknown flow with 1437104', async () => {
    expect((await detail('0123456789abcdef0123456789abcdef')).body).toMatchObject({ code: 1437104, data: null });
  });
});

describe('e签宝 emulator: initiate-rescission', () => {
  it('creates the agreement, answers its flow id and sends a signed SIGN_FILE_RESCISSION_INITIATE', async () => {
    const { flowId, body } = await completedFlow();
    const answer = await rescind(flowId, { ...body, rescindReasonNotes: '条款有误' });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ code: 0, message: '成功', data: { signFlowId: expect.stringMatching(/^[0-9a-f]{32}$/) } });
    const agreementId = answer.body.data.signFlowId as string;
    expect(await flowView(agreementId)).toMatchObject({ status: 1, rescissionOf: { originalFlowId: flowId, fileIds: ['fileA', 'fileB'], rescindReason: '1' } });
    expect((await detail(flowId)).body.data).toMatchObject({ rescissionStatus: 1, rescissionSignFlowIds: [agreementId] });

    await waitFor(() => receiver.received.length === 1, 'the rescission callback');
    const [callback] = receiver.received;
    expect(callback.url).toBe('/callbacks/esign?tenant=t1&b=2');
    expect(JSON.parse(callback.body)).toEqual({
      action: 'SIGN_FILE_RESCISSION_INITIATE',
      timestamp: clock.now(),
      signFlowId: flowId,
      rescissionSignFlowId: agreementId,
      rescissionFileIds: ['fileA', 'fileB'],
      rescindReason: '1',
      rescindReasonNotes: '条款有误',
    });
    expect(callback.headers['x-tsign-open-app-id']).toBe('7438000001');
    expect(callback.headers['x-tsign-open-signature-algorithm']).toBe('hmac-sha256');
    const timestamp = callback.headers['x-tsign-open-timestamp'] as string;
    expect(timestamp).toBe(String(clock.now()));
    // Query values sorted by key: b=2 then tenant=t1.
    expect(callback.headers['x-tsign-open-signature']).toBe(callbackSignature(APP_SECRET, timestamp, notifyUrl, callback.body));
  });

  it('sends the rescission callbacks to the notifyUrl of its signFlowConfig, its own query signed', async () => {
    const { flowId, body } = await completedFlow();
    const own = `${receiver.url}/esign?x=1`;
    const answer = await rescind(flowId, { ...body, signFlowConfig: { notifyUrl: own } });
    expect(answer.body.code).toBe(0);
    await waitFor(() => receiver.received.length === 1, 'the rescission callback');
    expect(receiver.received[0].url).toBe('/callbacks/esign?x=1');
    expect(receiver.received[0].headers['x-tsign-open-signature']).toBe(
      callbackSignature(APP_SECRET, receiver.received[0].headers['x-tsign-open-timestamp'] as string, own, receiver.received[0].body),
    );
  });

  it('refuses to call a notifyUrl that is not the API\'s own callback URL: nothing is sent, the record says refused', async () => {
    const elsewhere = await startReceiver();
    try {
      // Another server on the same host (an internal service), another path of the receiver, the sandbox's own admin API.
      for (const notifyUrl of [`${elsewhere.url}/esign`, `${receiver.url}/other`, `${running.base}/_admin/faults`]) {
        const { flowId, body } = await completedFlow();
        const answer = await rescind(flowId, { ...body, signFlowConfig: { notifyUrl } });
        expect(answer.body.code).toBe(0);
      }
      const list = await waitFor(async () => {
        const all = await callbacks();
        return all.length === 3 && all;
      }, 'three callback records');
      expect(list.map((cb: { state: string; attempts: unknown[] }) => [cb.state, cb.attempts.length])).toEqual([
        ['refused', 0],
        ['refused', 0],
        ['refused', 0],
      ]);
      expect(list[0].refusedReason).toMatch(/own callback URLs/);
      expect(elsewhere.received).toEqual([]);
      expect(receiver.received).toEqual([]);
      expect((await get(admin('/faults'))).body).toEqual({ faults: [] });
    } finally {
      await elsewhere.close();
    }
  });

  it('accepts every optional part of the seed-003 request', async () => {
    const { flowId, org, body } = await completedFlow();
    const answer = await rescind(flowId, {
      ...body,
      rescissionInitiator: { orgInitiator: { orgId: org.orgId, transactor: { psnId: org.transactorPsnId } } },
      signFlowConfig: {
        signFlowExpireTime: clock.now() + 86_400_000,
        chargeConfig: { chargeMode: 1, orderType: 'DISTRIBUTION' },
        signConfig: { availableSignClientTypes: '1,2', psnSealStyles: '0,1,2' },
        noticeConfig: { noticeTypes: '', examineNotice: false },
      },
      autoSignOrg: [{ orgId: org.orgId, sealId: 'seal-1' }],
      orgSignerTransactor: [{ orgName: '另一家公司', transactorInfo: { psnAccount: '15300000000', psnName: '张三' } }],
    });
    expect(answer.body.code).toBe(0);
  });

  type Case = [string, (f: Awaited<ReturnType<typeof completedFlow>>) => Promise<{ flowId: string; body: unknown }>, number, string | RegExp];
  const cases: Case[] = [
    ['an unknown flow', async ({ body }) => ({ flowId: 'ffffffffffffffffffffffffffffffff', body }), 1437104, /签署流程不存在/],
    [
      'a flow that is not completed',
      async ({ body }) => ({ flowId: await createFlow({ status: 'SIGNING', signers: 2, fileIds: ['fileA', 'fileB'] }), body }),
      1437188,
      '仅已完成状态的签署流程可以发起解约',
    ],
    [
      'a flow with a single signer',
      async ({ body }) => {
        const flowId = await createFlow({ status: 'COMPLETED', signers: 1, fileIds: ['fileA', 'fileB'] });
        const person = (await flowView(flowId)).signers[0];
        return { flowId, body: { ...body, rescissionInitiator: { psnInitiator: { psnId: person.psnId } } } };
      },
      1439101,
      '单方签署的流程不支持发起解约',
    ],
    [
      'a flow created with rescission disallowed',
      async () => {
        const f = await completedFlow({ rescissionAllowed: false });
        return { flowId: f.flowId, body: f.body };
      },
      1439102,
      '该流程不支持解约!',
    ],
    ['a file that is not the flow’s', async ({ flowId, body }) => ({ flowId, body: { ...body, rescindFileList: ['fileA', 'other'] } }), 1439103, /other/],
    [
      'more than 10 files',
      async ({ flowId, body }) => ({ flowId, body: { ...body, rescindFileList: Array.from({ length: 11 }, (_, i) => `f${i}`) } }),
      1435002,
      /最多10份/,
    ],
    ['no file', async ({ flowId, body }) => ({ flowId, body: { ...body, rescindFileList: [] } }), 1435002, /不能为空/],
    ['a reason outside "1".."5"', async ({ flowId, body }) => ({ flowId, body: { ...body, rescindReason: '6' } }), 1435002, /rescindReason/],
    ['notes over 200 characters', async ({ flowId, body }) => ({ flowId, body: { ...body, rescindReasonNotes: '因'.repeat(201) } }), 1435002, /200/],
    [
      'both a person and an organisation initiator',
      async ({ flowId, body, person, org }) => ({
        flowId,
        body: { ...body, rescissionInitiator: { psnInitiator: { psnId: person.psnId }, orgInitiator: { orgId: org.orgId, transactor: { psnId: 'x' } } } },
      }),
      1435002,
      /二选一/,
    ],
    ['no initiator', async ({ flowId, body }) => ({ flowId, body: { ...body, rescissionInitiator: {} } }), 1435002, /二选一/],
    [
      'an initiator who is not a party of the flow',
      async ({ flowId, body }) => ({ flowId, body: { ...body, rescissionInitiator: { psnInitiator: { psnId: 'stranger' } } } }),
      1439104,
      /签署方或发起方/,
    ],
    [
      'one organisation both auto-signing and with a transactor',
      async ({ flowId, body, org }) => ({
        flowId,
        body: { ...body, autoSignOrg: [{ orgId: org.orgId, sealId: 's' }], orgSignerTransactor: [{ orgId: org.orgId, transactorInfo: { psnId: 'p' } }] },
      }),
      1435002,
      /autoSignOrg/,
    ],
    [
      'charge mode 1 with a person initiator',
      async ({ flowId, body }) => ({ flowId, body: { ...body, signFlowConfig: { chargeConfig: { chargeMode: 1 } } } }),
      1435002,
      /机构/,
    ],
  ];

  it.each(cases)('refuses %s', async (_case, make, code, message) => {
    const fixture = await completedFlow();
    const { flowId, body } = await make(fixture);
    const answer = await rescind(flowId, body);
    expect(answer.status).toBe(200);
    expect(answer.body.code).toBe(code);
    expect(answer.body.message).toEqual(typeof message === 'string' ? message : expect.stringMatching(message));
    expect(answer.body.data).toBeNull();
    expect(await callbacks()).toEqual([]);
  });

  it('refuses files already in a rescission with 1439107', async () => {
    const { flowId, body } = await completedFlow();
    expect((await rescind(flowId, { ...body, rescindFileList: ['fileA'] })).body.code).toBe(0);
    const again = await rescind(flowId, { ...body, rescindFileList: ['fileA', 'fileB'] });
    expect(again.body).toEqual({ code: 1439107, message: '没有可解约的文档', data: null });
  });

  it('completes the rescission when the agreement is signed, per file', async () => {
    const { flowId, body } = await completedFlow();
    const first = (await rescind(flowId, { ...body, rescindFileList: ['fileA'] })).body.data.signFlowId as string;
    const moved = (await post(admin(`/esign/flows/${first}/transition`), { status: 'COMPLETED' })).body;
    expect(moved).toMatchObject({ flowId: first, status: 'COMPLETED', providerStatus: '2', callbackQueued: true, rescissionCallbackId: expect.any(String) });
    expect((await detail(flowId)).body.data.rescissionStatus).toBe(2);

    const second = (await rescind(flowId, { ...body, rescindFileList: ['fileB'] })).body.data.signFlowId as string;
    await post(admin(`/esign/flows/${second}/transition`), { status: 'COMPLETED' });
    expect((await detail(flowId)).body.data).toMatchObject({ signFlowStatus: 2, rescissionStatus: 3, rescissionSignFlowIds: [first, second] });

    await waitFor(() => receiver.received.length === 6, 'two initiations, two agreement completions, two rescinded');
    const bodies = receiver.received.map((r) => JSON.parse(r.body));
    expect(bodies.filter((b) => b.action === 'SIGN_FILE_RESCINDED')).toEqual([
      { action: 'SIGN_FILE_RESCINDED', timestamp: clock.now(), signFlowId: flowId, rescissionSignFlowId: first, rescissionFileIds: ['fileA'] },
      { action: 'SIGN_FILE_RESCINDED', timestamp: clock.now(), signFlowId: flowId, rescissionSignFlowId: second, rescissionFileIds: ['fileB'] },
    ]);
    expect(bodies.filter((b) => b.action === 'SIGN_FLOW_COMPLETE').map((b) => [b.signFlowId, b.signFlowStatus])).toEqual([
      [first, '2'],
      [second, '2'],
    ]);
  });

  it('frees the files when the agreement is rejected unsigned', async () => {
    const { flowId, body } = await completedFlow();
    const agreement = (await rescind(flowId, body)).body.data.signFlowId as string;
    await post(admin(`/esign/flows/${agreement}/transition`), { status: 'REJECTED' });
    expect((await detail(flowId)).body.data.rescissionStatus).toBe(0);
    expect((await rescind(flowId, body)).body.code).toBe(0);
  });
});

describe('e签宝 emulator: revoke', () => {
  it('revokes a signing flow and sends SIGN_FLOW_COMPLETE with the string status "3"', async () => {
    const flowId = await createFlow({ signers: 2 });
    expect((await revoke(flowId)).body).toEqual({ code: 0, message: '成功', data: null });
    expect(await flowView(flowId)).toMatchObject({ status: 3, revokeReason: '信息有误', finishTime: clock.now() });
    await waitFor(() => receiver.received.length === 1, 'the revoke callback');
    expect(JSON.parse(receiver.received[0].body)).toMatchObject({ action: 'SIGN_FLOW_COMPLETE', signFlowId: flowId, signFlowStatus: '3' });
  });

  it.each([
    ['a completed flow', async () => createFlow({ status: 'COMPLETED' }), { revokeReason: 'x' }, 1437188],
    ['an unknown flow', async () => 'ffffffffffffffffffffffffffffffff', {}, 1437104],
    ['a reason over 50 characters', async () => createFlow(), { revokeReason: '因'.repeat(51) }, 1435002],
  ] as Array<[string, () => Promise<string>, Record<string, unknown>, number]>)('refuses %s', async (_case, make, body, code) => {
    const flowId = await make();
    expect((await revoke(flowId, body)).body.code).toBe(code);
    expect(await callbacks()).toEqual([]);
  });
});

describe('e签宝 emulator: callbacks', () => {
  it('retries a callback that is not answered 2xx, the body unchanged and each attempt signed with its own time', async () => {
    const flowId = await createFlow();
    receiver.answer = (n) => {
      // Time passes between attempts.
      clock.advance(60_000);
      return n < 2 ? { status: 500, body: 'busy' } : { status: 204, body: '' };
    };
    await post(admin(`/esign/flows/${flowId}/transition`), { status: 'COMPLETED' });
    await waitFor(() => receiver.received.length === 3, 'the first attempt and two retries');
    const [first, , last] = receiver.received;
    expect(last.body).toBe(first.body);
    expect(JSON.parse(first.body)).toMatchObject({ action: 'SIGN_FLOW_COMPLETE', signFlowStatus: '2', timestamp: Date.UTC(2024, 0, 15, 2, 30, 0) });
    expect(Number(last.headers['x-tsign-open-timestamp'])).toBeGreaterThan(Number(first.headers['x-tsign-open-timestamp']));
    for (const attempt of receiver.received) {
      expect(attempt.headers['x-tsign-open-signature']).toBe(callbackSignature(APP_SECRET, attempt.headers['x-tsign-open-timestamp'] as string, notifyUrl, attempt.body));
    }
    const [delivery] = await waitFor(async () => {
      const list = await callbacks();
      return list[0]?.state === 'acknowledged' && list;
    }, 'the delivery to be acknowledged');
    expect(delivery.attempts.map((a: { status: number }) => a.status)).toEqual([500, 500, 204]);
  });

  it('gives up after 16 retries', async () => {
    receiver.answer = () => ({ status: 503, body: '' });
    const flowId = await createFlow();
    await post(admin(`/esign/flows/${flowId}/transition`), { status: 'EXPIRED' });
    const [delivery] = await waitFor(async () => {
      const list = await callbacks();
      return list[0]?.state === 'failed' && list;
    }, 'the delivery to fail');
    expect(delivery.attempts).toHaveLength(17);
  });
});

describe('e签宝 emulator: admin and faults', () => {
  it.each([
    [{ rescissionAllowed: 'no' }, 'rescissionAllowed'],
    [{ notifyUrl: 'ftp://x' }, 'notifyUrl'],
    [{ status: 'RESCINDED' }, 'status'],
    [{ fileIds: ['a', 'a'] }, 'fileIds'],
    [{ colour: 'red' }, 'colour'],
  ])('refuses %j naming the field', async (body, field) => {
    const answer = await post(admin('/esign/flows'), body);
    expect(answer.status).toBe(400);
    expect(answer.body.field).toBe(field);
  });

  it('answers injected errors and throttling in its envelope', async () => {
    const { flowId } = await completedFlow();
    await post(admin('/faults'), { provider: 'esign', kind: 'error', match: 'detail', count: 1, code: '1437104', message: '签署流程不存在' });
    expect(await detail(flowId)).toEqual({ status: 200, body: { code: 1437104, message: '签署流程不存在', data: null } });
    await post(admin('/faults'), { provider: 'esign', kind: 'rate-limit', count: 1 });
    expect((await detail(flowId)).status).toBe(429);
    await post(admin('/faults'), { provider: 'esign', kind: 'error', count: 1 });
    expect(await detail(flowId)).toMatchObject({ status: 500, body: { code: 500 } });
    expect((await detail(flowId)).body.code).toBe(0);
  });
});
