import { collect, startTestApp, waitFor, type TestApp } from '../support/app';

const MEMBER = '40eb61714d9e49088bac7a3c56d69d66';

const CANCEL = `mutation ($input: CancelSignFlowsInput!) {
  cancelSignFlows(input: $input) { task { id state total succeeded failed } userErrors { code field message } }
}`;
const TASK = `query ($id: ID!) {
  cancelTask(id: $id) { id state total succeeded failed createdAt updatedAt items { flow { id status providerStatus } ok code reason } }
}`;
const PROGRESS = `subscription ($id: ID!) { cancelTaskProgress(id: $id) { id state total succeeded failed } }`;

interface Item {
  flow: { id: string; status: string; providerStatus: string | null };
  ok: boolean | null;
  code: string | null;
  reason: string | null;
}
interface Task {
  id: string;
  state: string;
  total: number;
  succeeded: number;
  failed: number;
  items: Item[];
}
type Payload = { cancelSignFlows: { task: Omit<Task, 'items'> | null; userErrors: Array<{ code: string; field: string[]; message: string }> } };
type Progress = { cancelTaskProgress: Omit<Task, 'items'> };

async function cancel(app: TestApp, input: Record<string, unknown>): Promise<Payload['cancelSignFlows']> {
  const r = await app.gql<Payload>(CANCEL, { input });
  expect(r.errors).toBeUndefined();
  return r.data!.cancelSignFlows;
}

async function task(app: TestApp, id: string): Promise<Task> {
  const r = await app.gql<{ cancelTask: Task }>(TASK, { id });
  expect(r.errors).toBeUndefined();
  return r.data!.cancelTask;
}

async function finished(app: TestApp, id: string, timeoutMs = 10_000): Promise<Task> {
  return waitFor(async () => {
    const t = await task(app, id);
    return t.state !== 'PROCESSING' ? t : undefined;
  }, { timeoutMs, what: `task ${id} to finish` });
}

async function requests(app: TestApp, provider: string, operation: string): Promise<Array<{ body: Record<string, unknown> }>> {
  const log = await app.admin<{ requests: Array<{ operation?: string; body: Record<string, unknown> }> }>(`/${provider}/requests`);
  return log.requests.filter((r) => r.operation === operation);
}

const tencentFlows = async (app: TestApp, count: number, status = 'SIGNING') =>
  (await app.admin<{ flowIds: string[] }>('/tencent/flows/batch', { count, status })).flowIds.map((f) => `TENCENT_ESS:${f}`);
const etcFlow = async (app: TestApp, status = 'SIGNING') => `ETC:${(await app.admin<{ flowId: string }>('/etc/flows', { status })).flowId}`;

describe('cancelSignFlows end to end over real HTTP', () => {
  let app: TestApp;
  beforeEach(async () => {
    app = await startTestApp({ cancel: { pollIntervalMs: 100 } });
  });
  afterEach(async () => {
    await app.close();
  });

  it('cancels a 250-id mixed batch into one task: per-item results in input order, PARTIAL, progress streamed to the end', async () => {
    const open = await tencentFlows(app, 180);
    const completed = await tencentFlows(app, 20, 'COMPLETED');
    const etc: string[] = [];
    for (let i = 0; i < 50; i++) etc.push(await etcFlow(app));
    // Interleaved: every fifth id is ETC, every tenth Tencent one is completed.
    const ids: string[] = [];
    let t = 0;
    let c = 0;
    for (let i = 0; i < 250; i++) {
      if (i % 5 === 4) ids.push(etc[Math.floor(i / 5)]);
      else if (i % 10 === 3 && c < completed.length) ids.push(completed[c++]);
      else ids.push(open[t++]);
    }
    expect(new Set(ids).size).toBe(250);
    // ETC answers slowly, so progress has steps to stream.
    await app.admin('/faults', { provider: 'etc', kind: 'latency', ms: 60, match: 'esign.signflows.revoke' });

    const payload = await cancel(app, { ids, reason: '合同有误', cancelMessageFormat: 'ORGANIZATION', etcMemberNo: MEMBER });
    expect(payload.userErrors).toEqual([]);
    expect(payload.task).toMatchObject({ state: 'PROCESSING', total: 250 });
    const id = payload.task!.id;
    const progress = collect<Progress>(app.ws(), PROGRESS, { id });
    await progress.done;
    expect(progress.errors).toEqual([]);

    const seen = progress.items.map((m) => m.cancelTaskProgress);
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen.at(-1)).toEqual({ id, state: 'PARTIAL', total: 250, succeeded: 230, failed: 20 });
    expect(seen.slice(0, -1).every((s) => s.state === 'PROCESSING')).toBe(true);
    for (let i = 1; i < seen.length; i++) {
      expect(seen[i].succeeded + seen[i].failed).toBeGreaterThan(seen[i - 1].succeeded + seen[i - 1].failed);
      expect(seen[i].succeeded).toBeGreaterThanOrEqual(seen[i - 1].succeeded);
    }

    const final = await task(app, id);
    expect(final).toMatchObject({ state: 'PARTIAL', total: 250, succeeded: 230, failed: 20 });
    expect(final.items.map((item) => item.flow.id)).toEqual(ids);
    final.items.forEach((item, i) => {
      if (completed.includes(ids[i])) {
        const flowId = ids[i].slice('TENCENT_ESS:'.length);
        expect(item).toEqual({
          flow: { id: ids[i], status: 'COMPLETED', providerStatus: 'ALL' },
          ok: false,
          code: 'FLOW_NOT_REVOCABLE',
          reason: `合同流程Id:${flowId},无法撤回,错误信息:合同当前状态不支持撤销`,
        });
      } else {
        expect(item).toEqual({ flow: { id: ids[i], status: 'REVOKED', providerStatus: ids[i].startsWith('ETC:') ? '3' : 'CANCEL' }, ok: true, code: null, reason: null });
      }
    });

    const batches = await requests(app, 'tencent', 'ChannelBatchCancelFlows');
    expect(batches.map((b) => (b.body.FlowIds as string[]).length)).toEqual([100, 100]);
    expect(batches[0].body).toMatchObject({ CancelMessage: '合同有误', CancelMessageFormat: 2 });
    expect((await requests(app, 'etc', 'esign.signflows.revoke')).length).toBe(50);
    const revoked = await app.gql<{ signFlow: { status: string; events: { edges: Array<{ node: { status: string; source: string } }> } } }>(
      `query ($id: ID!) { signFlow(id: $id) { status events { edges { node { status source } } } } }`,
      { id: open[0] },
    );
    expect(revoked.data!.signFlow.status).toBe('REVOKED');
    expect(revoked.data!.signFlow.events.edges.map((e) => e.node.status)).toContain('REVOKED');
  });

  it('refuses bad input with userErrors before any provider call', async () => {
    const [tencent] = await tencentFlows(app, 1);
    const etc = await etcFlow(app);
    expect(await cancel(app, { ids: [] })).toEqual({ task: null, userErrors: [{ code: 'INVALID_INPUT', field: ['input', 'ids'], message: 'ids must name at least one flow' }] });
    expect(await cancel(app, { ids: [tencent, 'nope', 'ETC:'] })).toEqual({
      task: null,
      userErrors: [
        { code: 'INVALID_ID', field: ['input', 'ids', '1'], message: 'ids[1] must be <SignProvider>:<provider flow id>, got "nope"' },
        { code: 'INVALID_ID', field: ['input', 'ids', '2'], message: 'ids[2] must be <SignProvider>:<provider flow id>, got "ETC:"' },
      ],
    });
    const badReason = await cancel(app, { ids: [tencent, etc], reason: `${'因'.repeat(65)},`, etcMemberNo: MEMBER });
    expect(badReason.task).toBeNull();
    expect(badReason.userErrors).toEqual([
      { code: 'INVALID_INPUT', field: ['input', 'reason'], message: 'reason may contain only Chinese characters, letters, digits and underscore (found ",") for a Tencent flow' },
      { code: 'INVALID_INPUT', field: ['input', 'reason'], message: 'reason must be at most 64 characters for an ETC flow' },
    ]);
    const tooLong = await cancel(app, { ids: [tencent], reason: '撤'.repeat(201) });
    expect(tooLong.userErrors).toEqual([{ code: 'INVALID_INPUT', field: ['input', 'reason'], message: 'reason must be at most 200 characters, got 201 for a Tencent flow' }]);
    expect(await requests(app, 'tencent', 'ChannelBatchCancelFlows')).toHaveLength(0);
    expect(await requests(app, 'etc', 'esign.signflows.revoke')).toHaveLength(0);
    expect(await app.services.store.events.latestId()).toBe(0);
  });

  it('fails ETC items without etcMemberNo, duplicates and unknown flows per item, and still cancels the rest', async () => {
    const [a, b] = await tencentFlows(app, 2);
    const etc = await etcFlow(app);
    const unknown = 'TENCENT_ESS:yDwUNKNOWN00000000000000000000000';
    const payload = await cancel(app, { ids: [a, etc, b, a, unknown] });
    const done = await finished(app, payload.task!.id);
    expect(done).toMatchObject({ state: 'PARTIAL', total: 5, succeeded: 2, failed: 3 });
    expect(done.items.map((i) => [i.flow.id, i.ok, i.code])).toEqual([
      [a, true, null],
      [etc, false, 'ETC_MEMBER_NO_REQUIRED'],
      [b, true, null],
      [a, false, 'DUPLICATE_ID'],
      [unknown, false, 'FLOW_NOT_FOUND'],
    ]);
    expect(done.items[1].reason).toMatch(/etcMemberNo is required/);
    expect(done.items[4].flow).toEqual({ id: unknown, status: 'UNKNOWN', providerStatus: null });
    expect((await requests(app, 'tencent', 'ChannelBatchCancelFlows'))[0].body.FlowIds).toEqual([a, b, unknown].map((id) => id.slice('TENCENT_ESS:'.length)));
    expect(await requests(app, 'etc', 'esign.signflows.revoke')).toHaveLength(0);
  });

  it('returns the same task for the same idempotency key and sends nothing twice', async () => {
    const ids = await tencentFlows(app, 3);
    const first = await cancel(app, { ids, idempotencyKey: 'batch-1' });
    const again = await cancel(app, { ids, idempotencyKey: 'batch-1' });
    expect(again.task!.id).toBe(first.task!.id);
    await finished(app, first.task!.id);
    expect(await requests(app, 'tencent', 'ChannelBatchCancelFlows')).toHaveLength(1);
    const other = await cancel(app, { ids: ids.slice(1), idempotencyKey: 'batch-1' });
    expect(other.userErrors.map((e) => e.code)).toEqual(['IDEMPOTENCY_KEY_REUSED']);
  });

  it('finishes from DescribeCancelFlowsTask polling when the CancelFlows callback never comes', async () => {
    await app.admin('/faults', { provider: 'tencent', kind: 'drop-callback', match: 'CancelFlows' });
    const ids = await tencentFlows(app, 3);
    const payload = await cancel(app, { ids });
    const done = await finished(app, payload.task!.id);
    expect(done).toMatchObject({ state: 'SUCCEEDED', succeeded: 3, failed: 0 });
    expect((await requests(app, 'tencent', 'DescribeCancelFlowsTask')).length).toBeGreaterThanOrEqual(1);
  });

  it('ends TIMEOUT when Tencent’s task times out, leaving those outcomes unknown', async () => {
    await app.admin('/tencent/settings', { cancelTaskOutcome: 'TIMEOUT' });
    const ids = await tencentFlows(app, 2);
    const done = await finished(app, (await cancel(app, { ids })).task!.id);
    expect(done).toMatchObject({ state: 'TIMEOUT', succeeded: 0, failed: 0 });
    expect(done.items.map((i) => [i.ok, i.code])).toEqual([
      [null, 'TIMEOUT'],
      [null, 'TIMEOUT'],
    ]);
  });

  it('answers null for an unknown task and resolves CancelTask entities', async () => {
    expect((await app.gql(`{ cancelTask(id: "cancel_nope") { id } }`)).data).toEqual({ cancelTask: null });
    const ids = await tencentFlows(app, 1);
    const id = (await cancel(app, { ids })).task!.id;
    const entities = await app.gql<{ _entities: Array<{ id: string; total: number }> }>(
      `query ($r: [_Any!]!) { _entities(representations: $r) { ... on CancelTask { id total } } }`,
      { r: [{ __typename: 'CancelTask', id }] },
    );
    expect(entities.data!._entities).toEqual([{ id, total: 1 }]);
    await finished(app, id);

    // A finished task streams once and completes; an unknown one is refused.
    const done = collect<Progress>(app.ws(), PROGRESS, { id });
    await done.done;
    expect(done.items.map((m) => m.cancelTaskProgress.state)).toEqual(['SUCCEEDED']);
    const unknown = collect<Progress>(app.ws(), PROGRESS, { id: 'cancel_nope' });
    await unknown.done;
    expect(unknown.items).toEqual([]);
    expect(JSON.stringify(unknown.errors)).toContain('no cancel task \\"cancel_nope\\"');
  });
});

describe('cancel task deadline and recovery', () => {
  let app: TestApp;
  afterEach(async () => {
    await app.close();
  });

  it('ends TIMEOUT at its deadline when no result ever comes', async () => {
    app = await startTestApp({ cancel: { pollIntervalMs: 50, deadlineMs: 600 } });
    await app.admin('/tencent/settings', { cancelTaskOutcome: 'HOLD' });
    const ids = await tencentFlows(app, 2);
    const payload = await cancel(app, { ids });
    const done = await finished(app, payload.task!.id);
    expect(done.state).toBe('TIMEOUT');
    expect(done.items.every((i) => i.ok === null && i.code === 'TIMEOUT')).toBe(true);
  });

  it('resumes a task a stopped process left PROCESSING: re-reads the flows, then sends only the open ones', async () => {
    app = await startTestApp({ cancel: { pollIntervalMs: 50, leaseMs: 1_000 } });
    const [open, alreadyCancelled] = await tencentFlows(app, 2);
    await app.admin(`/tencent/flows/${alreadyCancelled.slice('TENCENT_ESS:'.length)}/transition`, { status: 'REVOKED' });
    // As a crashed replica would leave it: created, nothing sent, lease run out.
    const id = 'cancel_orphan';
    await app.services.store.transaction((tx) =>
      tx.cancelTasks.create(
        { id, request: { reason: null, cancelMessageFormat: null, etcMemberNo: null }, deadlineAt: new Date(Date.now() + 60_000), leaseUntil: new Date(Date.now() - 1) },
        [open, alreadyCancelled].map((flowId) => ({ flowId, provider: 'TENCENT_ESS' as const, providerFlowId: flowId.slice('TENCENT_ESS:'.length) })),
      ),
    );
    const done = await finished(app, id);
    expect(done).toMatchObject({ state: 'SUCCEEDED', succeeded: 2 });
    const sent = await requests(app, 'tencent', 'ChannelBatchCancelFlows');
    expect(sent.map((r) => r.body.FlowIds)).toEqual([[open.slice('TENCENT_ESS:'.length)]]);
  });
});

describe('a CancelFlows callback that arrives before the answer to ChannelBatchCancelFlows', () => {
  let app: TestApp;
  beforeEach(async () => {
    // Polling this slow cannot finish the task within the test: only the callback's result can.
    app = await startTestApp({ cancel: { pollIntervalMs: 600_000 } });
  });
  afterEach(async () => {
    await app.close();
  });

  it('is kept and applied once the answer is stored, with no DescribeCancelFlowsTask call', async () => {
    // Tencent finishes the task at once and calls back, while the answer to the call is still on its way.
    await app.admin('/tencent/settings', { cancelTaskDelayMs: 0 });
    await app.admin('/faults', { provider: 'tencent', kind: 'latency', phase: 'response', ms: 2_000, match: 'ChannelBatchCancelFlows' });
    const ids = await tencentFlows(app, 3);
    const payload = await cancel(app, { ids });
    await waitFor(async () => {
      const { callbacks } = await app.admin<{ callbacks: Array<{ event: string; state: string }> }>('/tencent/callbacks');
      return callbacks.some((c) => c.event === 'CancelFlows' && c.state === 'acknowledged');
    }, { what: 'the CancelFlows callback to be acknowledged' });
    // Acknowledged before the answer arrived: the result was stored for later, not applied.
    expect((await task(app, payload.task!.id)).state).toBe('PROCESSING');
    const done = await finished(app, payload.task!.id);
    expect(done).toMatchObject({ state: 'SUCCEEDED', succeeded: 3, failed: 0 });
    expect(done.items.map((i) => [i.ok, i.flow.status])).toEqual(Array(3).fill([true, 'REVOKED']));
    expect(await requests(app, 'tencent', 'DescribeCancelFlowsTask')).toEqual([]);
  });
});
