import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { collect, waitFor } from '../support/app';
import { gqlAt, providerEnv, spawnServer, stopServer, type ServerProcess } from '../support/process';
import { startSandboxServer, type SandboxServer } from '../support/sandbox';
import { postgresFactory, TEST_DATABASE_URL } from '../support/stores';

const REDIS = process.env.TEST_REDIS_URL;
const enabled = Boolean(TEST_DATABASE_URL && REDIS);
if (!enabled) process.stdout.write('[replicas] skipped: needs TEST_DATABASE_URL and TEST_REDIS_URL\n');

const MEMBER = '40eb61714d9e49088bac7a3c56d69d66';

(enabled ? describe : describe.skip)('two replicas sharing PostgreSQL and Redis (real processes)', () => {
  const pg = postgresFactory(TEST_DATABASE_URL ?? '');
  let sandbox: SandboxServer;
  let a: ServerProcess;
  let b: ServerProcess;
  const clients: Client[] = [];

  beforeAll(async () => {
    const store = await pg.open(); // creates and migrates a fresh schema
    await store.close();
    const paths = { etc: '/callbacks/etc', tencent: '/callbacks/tencent-ess', esign: '/callbacks/esign', yuansfer: '/callbacks/yuansfer' } as const;
    sandbox = await startSandboxServer((provider) => `${a.url}${paths[provider]}`);
    const env = {
      DATABASE_URL: pg.databaseUrl!(),
      REDIS_URL: REDIS!,
      ...providerEnv(sandbox.url),
      // No polling to fall back on: an event reaching the other replica within the test got there through Redis.
      EVENT_POLL_INTERVAL_MS: '600000',
    };
    [a, b] = await Promise.all([spawnServer(env), spawnServer(env)]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await Promise.all([stopServer(a), stopServer(b)]);
    await sandbox?.close();
    await pg.cleanup();
  });

  const wsClient = (server: ServerProcess) => {
    const client = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
    clients.push(client);
    return client;
  };

  const callback = (server: ServerProcess, id: string) =>
    fetch(`${server.url}/callbacks/etc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sign_end_time: '2026-01-02 03:04:05', sign_flow_status: '2', sign_flow_id: id, sign_file_url: '' }),
    }).then((r) => r.json());

  it('a callback posted to A reaches a live subscriber on B through Redis', async () => {
    const sub = collect<{ signFlowEvents: { flow: { id: string } } }>(wsClient(b), 'subscription { signFlowEvents(provider: ETC) { flow { id } } }');
    // A sentinel stored on B itself proves the subscription is live before A's callback is sent.
    await waitFor(async () => {
      await callback(b, `sentinel${Date.now()}`);
      return sub.items.length > 0;
    }, { what: 'the subscription on B to go live', intervalMs: 200, timeoutMs: 20_000 }).catch((error: Error) => {
      throw new Error(`${error.message}\nsubscription errors: ${JSON.stringify(sub.errors)}\nB printed:\n${b.output()}`);
    });
    const before = sub.items.length;
    expect(await callback(a, 'replicalive00000000000000000000001')).toEqual({ response_code: '000' });
    await waitFor(() => sub.items.slice(before).some((m) => m.signFlowEvents.flow.id === 'ETC:replicalive00000000000000000000001'), {
      what: "A's event on replica B",
      timeoutMs: 20_000,
    });
  });

  it('a callback posted to A reaches a resuming subscriber on B', async () => {
    const sub = collect<{ signFlowEvents: { status: string; flow: { id: string } } }>(wsClient(b), 'subscription { signFlowEvents(ids: ["ETC:replica0000000000000000000000001"], after: "0") { status flow { id } } }');
    // after: "0" makes the test independent of when B registers the subscription: an event committed before is
    // replayed, one committed after arrives live, and either way exactly once.
    const res = await fetch(`${a.url}/callbacks/etc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sign_end_time: '2026-01-02 03:04:05', sign_flow_status: '2', sign_flow_id: 'replica0000000000000000000000001', sign_file_url: '' }),
    });
    expect(await res.json()).toEqual({ response_code: '000' });
    await waitFor(() => sub.items.length === 1, { what: 'the event on replica B', timeoutMs: 20_000 });
    expect(sub.items[0].signFlowEvents).toEqual({ status: 'COMPLETED', flow: { id: 'ETC:replica0000000000000000000000001' } });
  });

  it('an idempotency key used on A replays on B, and concurrent use on both makes one provider call', async () => {
    const revokes = async () =>
      (await sandbox.admin<{ requests: Array<{ operation?: string; body: { params?: { flowId?: string } } }> }>('/etc/requests')).requests.filter(
        (r) => r.operation === 'esign.signflows.revoke',
      );
    const { flowId } = await sandbox.admin<{ flowId: string }>('/etc/flows', {});
    const op = `mutation ($k: String) { revokeSignFlow(input: { id: "ETC:${flowId}", etcMemberNo: "${MEMBER}", idempotencyKey: $k }) { signFlow { id status } userErrors { code } } }`;
    const onA = await gqlAt(a.graphqlUrl, op, { k: `replay-${flowId}` });
    const onB = await gqlAt(b.graphqlUrl, op, { k: `replay-${flowId}` });
    expect(onA.data).toEqual({ revokeSignFlow: { signFlow: { id: `ETC:${flowId}`, status: 'REVOKED' }, userErrors: [] } });
    expect(onB).toEqual(onA);
    expect((await revokes()).filter((r) => r.body.params?.flowId === flowId)).toHaveLength(1);

    const second = (await sandbox.admin<{ flowId: string }>('/etc/flows', {})).flowId;
    await sandbox.admin('/faults', { provider: 'etc', kind: 'latency', ms: 400, match: 'esign.signflows.revoke' });
    const op2 = op.replace(flowId, second);
    const [x, y] = await Promise.all([gqlAt(a.graphqlUrl, op2, { k: `race-${second}` }), gqlAt(b.graphqlUrl, op2, { k: `race-${second}` })]);
    expect(x).toEqual(y);
    expect(x.data).toEqual({ revokeSignFlow: { signFlow: { id: `ETC:${second}`, status: 'REVOKED' }, userErrors: [] } });
    expect((await revokes()).filter((r) => r.body.params?.flowId === second)).toHaveLength(1);
    await sandbox.admin('/faults', undefined, 'DELETE');
  });

  // 2 x 15 batch calls: each replica alone would send its 15 within 0.75 s, so unshared budgets would put 30 calls
  // in one second and be throttled; a shared budget spaces all 30 over 1.5 s.
  const FLOWS = 3000;
  it('shares the Tencent 20 calls/s budget through Redis: two replicas cancelling at once are never throttled', async () => {
    // Each cancelled flow also sends its FlowStatusChange callback to A while the tasks finish, as the platform does.
    const before = await sandbox.admin<{ actions: Record<string, { calls: number; rateLimited: number }> }>('/tencent/stats');
    const { flowIds } = await sandbox.admin<{ flowIds: string[] }>('/tencent/flows/batch', { count: FLOWS });
    const ids = flowIds.map((id) => `TENCENT_ESS:${id}`);
    const cancel = `mutation ($ids: [ID!]!) { cancelSignFlows(input: { ids: $ids, reason: "合同内容错误" }) { task { id } userErrors { code message } } }`;
    const started = Date.now();
    const [ra, rb] = await Promise.all([gqlAt<{ cancelSignFlows: { task: { id: string } } }>(a.graphqlUrl, cancel, { ids: ids.slice(0, ids.length / 2) }), gqlAt<{ cancelSignFlows: { task: { id: string } } }>(b.graphqlUrl, cancel, { ids: ids.slice(ids.length / 2) })]);
    const tasks = [ra.data!.cancelSignFlows.task.id, rb.data!.cancelSignFlows.task.id];
    const state = async (id: string) =>
      (await gqlAt<{ cancelTask: { state: string; succeeded: number } }>(a.graphqlUrl, `query ($id: ID!) { cancelTask(id: $id) { state succeeded } }`, { id })).data!.cancelTask;
    await waitFor(async () => (await Promise.all(tasks.map(state))).every((t) => t.state !== 'PROCESSING'), { timeoutMs: 80_000, intervalMs: 250, what: 'both cancel tasks to finish' });
    const elapsed = (Date.now() - started) / 1000;
    const after = await sandbox.admin<{ actions: Record<string, { calls: number; rateLimited: number }> }>('/tencent/stats');
    const action = 'ChannelBatchCancelFlows';
    const calls = after.actions[action].calls - (before.actions[action]?.calls ?? 0);
    const throttled = after.actions[action].rateLimited - (before.actions[action]?.rateLimited ?? 0);
    process.stdout.write(`[replicas] 2 x ${FLOWS / 2} Tencent cancels: ${calls} ChannelBatchCancelFlows calls, tasks done in ${elapsed.toFixed(2)} s (call-rate bound ${(FLOWS / 100 / 20).toFixed(2)} s), RequestLimitExceeded ${throttled}\n`);
    expect((await Promise.all(tasks.map(state))).map((t) => [t.state, t.succeeded])).toEqual([['SUCCEEDED', FLOWS / 2], ['SUCCEEDED', FLOWS / 2]]);
    expect(calls).toBe(FLOWS / 100);
    expect(throttled).toBe(0);
  }, 100_000);
});
