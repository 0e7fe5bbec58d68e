import { ConfigError } from '../../src/config';
import { MAX_OPERATION_NAMES } from '../../src/observability/metrics';
import { startTestApp, waitFor, collect, type TestApp } from '../support/app';
import { scrape, valueOf, type Sample } from '../support/observability';

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
const READ = 'query ReadFlow($id: ID!) { signFlow(id: $id) { status } }';

async function etcCallback(app: TestApp, body: unknown): Promise<number> {
  const res = await fetch(`${app.url}/callbacks/etc`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await res.arrayBuffer();
  return res.status;
}

describe('GET /metrics', () => {
  let app: TestApp;
  beforeAll(async () => {
    // A breaker that opens on the first failure, so its gauge can be seen moving.
    app = await startTestApp({ env: { ETC_BREAKER_THRESHOLD: '1', ETC_MAX_RETRIES: '0', ETC_BREAKER_RESET_MS: '600000' } });
  });
  afterAll(() => app.close());

  it('answers the Prometheus text format with the process defaults and every application metric', async () => {
    const res = await fetch(`${app.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    for (const name of [
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_seconds',
      'graphql_operations_total',
      'graphql_operation_duration_seconds',
      'provider_calls_total',
      'provider_call_duration_seconds',
      'callbacks_total',
      'subscriptions_active',
      'event_delivery_lag_seconds',
      'cancel_tasks_active',
      'provider_breaker_open',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
  });

  it('counts a query, its provider call and the callback that follows, with the right labels', async () => {
    const { flowId } = await app.admin<{ flowId: string }>('/etc/flows', {});
    const before = await scrape(app.url);
    const r = await app.gql(READ, { id: `ETC:${flowId}` });
    expect(r.errors).toBeUndefined();

    let after = await scrape(app.url);
    const delta = (name: string, labels: Record<string, string>, a: Sample[] = after) => valueOf(a, name, labels) - valueOf(before, name, labels);
    expect(delta('graphql_operations_total', { operation: 'ReadFlow', type: 'query', outcome: 'ok' })).toBe(1);
    expect(delta('graphql_operation_duration_seconds_count', { operation: 'ReadFlow', type: 'query' })).toBe(1);
    expect(delta('provider_calls_total', { provider: 'ETC', action: 'esign.signflows.query', outcome: 'success' })).toBe(1);
    expect(delta('provider_call_duration_seconds_count', { provider: 'ETC', action: 'esign.signflows.query' })).toBe(1);
    expect(valueOf(after, 'provider_breaker_open', { provider: 'ETC' })).toBe(0);

    await app.admin(`/etc/flows/${flowId}/transition`, { status: 'COMPLETED' });
    after = await waitFor(async () => {
      const samples = await scrape(app.url);
      return delta('callbacks_total', { provider: 'ETC', outcome: 'stored' }, samples) === 1 && delta('event_delivery_lag_seconds_count', {}, samples) >= 1 ? samples : null;
    }, { what: 'the callback and its event to be counted' });

    // The platform retries a callback it got no answer to: the second copy is a duplicate; a malformed one is refused.
    const callback = { sign_flow_id: flowId, sign_flow_status: '2', sign_end_time: '2024-05-01 10:00:00', sign_file_url: '' };
    expect(await etcCallback(app, callback)).toBe(200);
    expect(await etcCallback(app, callback)).toBe(200);
    expect(await etcCallback(app, { sign_flow_id: flowId, sign_flow_status: '9' })).toBe(400);
    after = await scrape(app.url);
    expect(delta('callbacks_total', { provider: 'ETC', outcome: 'stored' })).toBe(2);
    expect(delta('callbacks_total', { provider: 'ETC', outcome: 'duplicate' })).toBe(1);
    expect(delta('callbacks_total', { provider: 'ETC', outcome: 'refused' })).toBe(1);
    expect(delta('callbacks_total', { provider: 'ETC', outcome: 'failed' })).toBe(0);
  });

  it('counts failed provider calls by error kind and shows the breaker opening', async () => {
    await app.admin('/faults', { provider: 'etc', kind: 'error', code: '500', count: 1, match: 'esign.signflows.query' });
    const before = await scrape(app.url);
    const failed = await app.gql(READ, { id: 'ETC:ffffffffffffffffffffffffffff0001' });
    expect(failed.errors?.[0]?.extensions?.code).toBe('PROVIDER_ERROR');
    const refused = await app.gql(READ, { id: 'ETC:ffffffffffffffffffffffffffff0002' });
    expect(refused.errors?.[0]?.extensions?.code).toBe('PROVIDER_UNAVAILABLE');
    const after = await scrape(app.url);
    const delta = (name: string, labels: Record<string, string>) => valueOf(after, name, labels) - valueOf(before, name, labels);
    expect(delta('provider_calls_total', { provider: 'ETC', action: 'esign.signflows.query', outcome: 'server' })).toBe(1);
    expect(delta('provider_calls_total', { provider: 'ETC', action: 'esign.signflows.query', outcome: 'unavailable' })).toBe(1);
    expect(delta('graphql_operations_total', { operation: 'ReadFlow', type: 'query', outcome: 'error' })).toBe(2);
    expect(valueOf(after, 'provider_breaker_open', { provider: 'ETC' })).toBe(1);
    expect(valueOf(after, 'provider_breaker_open', { provider: 'TENCENT_ESS' })).toBe(0);
  });

  it('shows active subscriptions and the cancel tasks running', async () => {
    const client = app.ws();
    const sub = collect(client, 'subscription { signFlowEvents { id } }');
    await waitFor(async () => valueOf(await scrape(app.url), 'subscriptions_active') === 1, { what: 'subscriptions_active 1' });
    sub.stop();
    await waitFor(async () => valueOf(await scrape(app.url), 'subscriptions_active') === 0, { what: 'subscriptions_active 0' });

    // A Tencent batch whose call takes a while: its run is active meanwhile, and not after.
    await app.admin('/faults', { provider: 'tencent', kind: 'latency', ms: 1_500, count: 1, match: 'ChannelBatchCancelFlows' });
    const { flowIds } = await app.admin<{ flowIds: string[] }>('/tencent/flows/batch', { count: 2, status: 'SIGNING' });
    const started = await app.gql('mutation ($ids: [ID!]!) { cancelSignFlows(input: { ids: $ids }) { task { id } } }', { ids: flowIds.map((f) => `TENCENT_ESS:${f}`) });
    expect(started.errors).toBeUndefined();
    const running = await scrape(app.url);
    expect(valueOf(running, 'cancel_tasks_active')).toBe(1);
    expect(valueOf(running, 'cancel_task_oldest_active_seconds')).toBeGreaterThan(0);
    await waitFor(async () => valueOf(await scrape(app.url), 'cancel_tasks_active') === 0, { timeoutMs: 20_000, what: 'the task to finish' });
    expect(valueOf(await scrape(app.url), 'cancel_task_oldest_active_seconds')).toBe(0);
  });

  it('keeps the operation label bounded and free of ids, whatever names clients send', async () => {
    for (let i = 0; i < 500; i++) {
      const res = await fetch(app.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': `bounded-${i}` },
        body: JSON.stringify({ query: `query Op_${i}_${'f'.repeat(8)} { __typename }` }),
      });
      await res.arrayBuffer();
    }
    const samples = await scrape(app.url);
    const operations = new Set(samples.filter((s) => s.name === 'graphql_operations_total').map((s) => s.labels.operation));
    expect(operations.size).toBeLessThanOrEqual(MAX_OPERATION_NAMES + 2);
    expect(operations).toContain('other');
    expect(valueOf(samples, 'graphql_operations_total', { operation: 'other' })).toBeGreaterThanOrEqual(500 - MAX_OPERATION_NAMES);
    for (const sample of samples.filter((s) => s.name.startsWith('graphql_operation'))) {
      if (sample.labels.type !== undefined) expect(['query', 'mutation', 'subscription', 'unknown']).toContain(sample.labels.type);
      if (sample.labels.outcome !== undefined) expect(['ok', 'error']).toContain(sample.labels.outcome);
    }
    // No label anywhere carries a request id, a flow id or a UUID.
    for (const sample of samples) {
      for (const value of Object.values(sample.labels)) {
        expect(value).not.toMatch(UUID);
        expect(value).not.toMatch(/bounded-|ffffffffffffffffffffffffffff/);
      }
    }
  });
});

describe('GET /metrics switches', () => {
  it('is off with METRICS=off', async () => {
    const app = await startTestApp({ env: { METRICS: 'off' } });
    try {
      const res = await fetch(`${app.url}/metrics`);
      expect(res.status).toBe(404);
      expect(await res.text()).not.toContain('graphql_operations_total');
    } finally {
      await app.close();
    }
  });

  it('requires the bearer token METRICS_TOKEN names, compared whatever its length', async () => {
    const token = 'scrape-token-0123456789abcdef';
    const app = await startTestApp({ env: { METRICS_TOKEN: token } });
    try {
      for (const authorization of [undefined, 'Bearer wrong', `Bearer ${token}x`, `Basic ${token}`, token]) {
        const res = await fetch(`${app.url}/metrics`, { headers: authorization ? { authorization } : {} });
        expect(res.status).toBe(401);
        expect(await res.text()).not.toContain('graphql_operations_total');
      }
      const ok = await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('graphql_operations_total');
    } finally {
      await app.close();
    }
  });

  it('refuses to start on a malformed METRICS or a short METRICS_TOKEN, naming the variable', async () => {
    await expect(startTestApp({ env: { METRICS: 'sometimes' } })).rejects.toThrow(ConfigError);
    await expect(startTestApp({ env: { METRICS: 'sometimes' } })).rejects.toThrow(/^METRICS: /);
    await expect(startTestApp({ env: { METRICS_TOKEN: 'short' } })).rejects.toThrow(/^METRICS_TOKEN: /);
  });

  it('keeps separate counts for two apps in one process', async () => {
    const [a, b] = await Promise.all([startTestApp(), startTestApp()]);
    try {
      await a.gql('query OnlyA { __typename }');
      expect(valueOf(await scrape(a.url), 'graphql_operations_total', { operation: 'OnlyA' })).toBe(1);
      expect(valueOf(await scrape(b.url), 'graphql_operations_total', { operation: 'OnlyA' })).toBe(0);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
