import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { collect, startTestApp, waitFor, type TestApp } from '../support/app';
import { postgresFactory, reportSkippedPostgres, TEST_DATABASE_URL } from '../support/stores';

reportSkippedPostgres('reconcile');
const REDIS = process.env.TEST_REDIS_URL;
if (!REDIS) process.stdout.write('[reconcile] Redis lease variant skipped: TEST_REDIS_URL is not set\n');

const EVENTS = 'subscription ($ids: [ID!]) { signFlowEvents(ids: $ids) { id status providerStatus source flow { id status } } }';
type EventMsg = { signFlowEvents: { id: string; status: string; providerStatus: string; source: string; flow: { id: string; status: string } } };
/** Short enough for a test, long enough that a tick is not always running. */
const FAST = { RECONCILE_INTERVAL_MS: '150', RECONCILE_AFTER_MS: '300' };

interface Variant {
  name: string;
  /** Environment pointing at the shared store (and Redis); a fresh database per call. */
  env(): Promise<Record<string, string>>;
  cleanup(): Promise<void>;
}

function variants(): Variant[] {
  const list: Variant[] = [];
  const dirs: string[] = [];
  list.push({
    name: 'SQLite',
    async env() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esign-reconcile-'));
      dirs.push(dir);
      return { DATA_DIR: dir };
    },
    async cleanup() {
      for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
    },
  });
  if (TEST_DATABASE_URL) {
    const pg = postgresFactory(TEST_DATABASE_URL);
    list.push({
      name: 'PostgreSQL',
      async env() {
        await (await pg.open()).close();
        return { DATABASE_URL: pg.databaseUrl!() };
      },
      cleanup: () => pg.cleanup(),
    });
    if (REDIS) {
      const pgRedis = postgresFactory(TEST_DATABASE_URL);
      list.push({
        name: 'PostgreSQL and Redis',
        async env() {
          await (await pgRedis.open()).close();
          return { DATABASE_URL: pgRedis.databaseUrl!(), REDIS_URL: REDIS };
        },
        cleanup: () => pgRedis.cleanup(),
      });
    }
  }
  return list;
}

const PROVIDERS = { etc: 'ETC', tencent: 'TENCENT_ESS', esign: 'ESIGN' } as const;
type Emulator = keyof typeof PROVIDERS;

async function openFlow(app: TestApp, emulator: Emulator): Promise<string> {
  const { flowId } = await app.admin<{ flowId: string }>(`/${emulator}/flows`, { status: 'SIGNING', signers: 2 });
  const id = `${PROVIDERS[emulator]}:${flowId}`;
  // Read through once, so the store knows the flow as SIGNING (as it would after its creation).
  const read = await app.gql<{ signFlow: { status: string } }>(`query ($id: ID!) { signFlow(id: $id) { status } }`, { id });
  expect(read.data?.signFlow.status).toBe('SIGNING');
  return id;
}

const metricValue = async (app: TestApp, series: string): Promise<number> => {
  const text = await (await fetch(`${app.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
};

describe.each(variants().map((v) => [v.name, v] as const))('reconciliation (%s)', (_name, variant) => {
  const apps: TestApp[] = [];
  const start = async (env: Record<string, string>, options: Parameters<typeof startTestApp>[0] = {}) => {
    const app = await startTestApp({ ...options, env: { ...env, ...options.env } });
    apps.push(app);
    return app;
  };
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });
  afterAll(() => variant.cleanup());

  it('a flow whose callback was dropped converges through one SYNC event; a late callback adds nothing', async () => {
    const app = await start({ ...(await variant.env()), ...FAST });
    const flows: Array<{ id: string; emulator: Emulator; to: string }> = [
      { id: await openFlow(app, 'etc'), emulator: 'etc', to: 'COMPLETED' },
      { id: await openFlow(app, 'etc'), emulator: 'etc', to: 'REJECTED' },
      { id: await openFlow(app, 'tencent'), emulator: 'tencent', to: 'COMPLETED' },
      { id: await openFlow(app, 'tencent'), emulator: 'tencent', to: 'REVOKED' },
      { id: await openFlow(app, 'tencent'), emulator: 'tencent', to: 'COMPLETED' },
      { id: await openFlow(app, 'esign'), emulator: 'esign', to: 'COMPLETED' },
    ];
    const sub = collect<EventMsg>(app.ws(), EVENTS, { ids: flows.map((f) => f.id) });
    for (const emulator of Object.keys(PROVIDERS)) await app.admin('/faults', { provider: emulator, kind: 'drop-callback' });
    for (const f of flows) await app.admin(`/${f.emulator}/flows/${f.id.split(':')[1]}/transition`, { status: f.to });

    await waitFor(() => sub.items.length >= flows.length, { timeoutMs: 20_000, what: 'a SYNC event for every flow' });
    // Every callback was really dropped: what the store learned came from reading the providers again.
    for (const emulator of Object.keys(PROVIDERS)) {
      const sent = await app.admin<{ callbacks: Array<{ acknowledged: boolean }> }>(`/${emulator}/callbacks`);
      expect(sent.callbacks.filter((c) => c.acknowledged)).toEqual([]);
    }
    const byFlow = new Map(sub.items.map((m) => [m.signFlowEvents.flow.id, m.signFlowEvents]));
    expect(byFlow.size).toBe(flows.length);
    for (const f of flows) expect(byFlow.get(f.id)).toMatchObject({ status: f.to, source: 'SYNC', flow: { status: f.to } });

    // The provider's callback arriving after all (a retry, much later) is stored as a receipt and changes nothing.
    const etc = flows[0].id.split(':')[1];
    const late = await fetch(`${app.url}/callbacks/etc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sign_end_time: '2026-01-02 03:04:05', sign_flow_status: '2', sign_flow_id: etc, sign_file_url: '' }),
    });
    expect(await late.json()).toEqual({ response_code: '000' });
    const runs = app.reconciler.stats.runs;
    await waitFor(() => app.reconciler.stats.runs >= runs + 3, { timeoutMs: 10_000, what: 'more reconciliation runs' });
    const events = await app.services.store.events.listAfter(0, { kinds: ['signflow'], subjectIds: flows.map((f) => f.id) }, 100);
    // One SIGNING event each (the first read) and one final event each: nothing twice.
    expect(events.filter((e) => e.status !== 'SIGNING').map((e) => e.source)).toEqual(flows.map(() => 'SYNC'));
    expect(sub.items).toHaveLength(flows.length);

    expect(await metricValue(app, 'reconcile_changes_total{kind="signflow",provider="TENCENT_ESS"}')).toBe(3);
    expect(await metricValue(app, 'reconcile_changes_total{kind="signflow",provider="ETC"}')).toBe(2);
    expect(await metricValue(app, 'reconcile_runs_total{outcome="completed"}')).toBeGreaterThan(0);
  }, 60_000);

  it('an INITIATED rescission whose callbacks were dropped ends through SYNC: signed → RESCINDED, rejected → FAILED', async () => {
    const app = await start({ ...(await variant.env()), ...FAST });
    const rescind = async (): Promise<{ id: string; flowId: string; agreement: string }> => {
      const { flowId } = await app.admin<{ flowId: string }>('/esign/flows', { status: 'COMPLETED', signers: 2, fileIds: ['fileA'] });
      const view = await app.admin<{ signers: Array<{ kind: string; psnId?: string }> }>(`/esign/flows/${flowId}`);
      const psnId = view.signers.find((x) => x.kind === 'person')!.psnId;
      const r = await app.gql<{ initiateRescission: { rescission: { id: string; status: string; rescissionFlowId: string } | null; userErrors: unknown[] } }>(
        `mutation ($input: InitiateRescissionInput!) { initiateRescission(input: $input) { rescission { id status rescissionFlowId } userErrors { code message } } }`,
        { input: { signFlowId: `ESIGN:${flowId}`, fileIds: ['fileA'], reason: 'WRONG_TERMS', initiator: { person: { psnId } } } },
      );
      expect(r.data?.initiateRescission.userErrors).toEqual([]);
      const rescission = r.data!.initiateRescission.rescission!;
      expect(rescission.status).toBe('INITIATED');
      return { id: rescission.id, flowId: `ESIGN:${flowId}`, agreement: rescission.rescissionFlowId };
    };
    await app.admin('/faults', { provider: 'esign', kind: 'drop-callback' });
    const signed = await rescind();
    const rejected = await rescind();
    await app.admin(`/esign/flows/${signed.agreement}/transition`, { status: 'COMPLETED' });
    await app.admin(`/esign/flows/${rejected.agreement}/transition`, { status: 'REJECTED' });

    await waitFor(
      async () => (await app.services.store.rescissions.get(signed.id))?.status === 'RESCINDED' && (await app.services.store.rescissions.get(rejected.id))?.status === 'FAILED',
      { timeoutMs: 20_000, what: 'both rescissions to end' },
    );
    const events = await app.services.store.events.listAfter(0, { kinds: ['rescission'], subjectIds: [signed.id, rejected.id] }, 10);
    expect(events.map((e) => [e.subjectId, e.status, e.source])).toEqual(
      expect.arrayContaining([
        [signed.id, 'INITIATED', 'MUTATION'],
        [signed.id, 'RESCINDED', 'SYNC'],
        [rejected.id, 'INITIATED', 'MUTATION'],
        [rejected.id, 'FAILED', 'SYNC'],
      ]),
    );
    expect(events).toHaveLength(4);
    // The original flow of the signed rescission is RESCINDED now (its only file was rescinded); the other stays COMPLETED.
    expect((await app.services.store.flows.get(signed.flowId))?.status).toBe('RESCINDED');
    const original = await app.services.store.events.listAfter(0, { subjectIds: [signed.flowId] }, 10);
    expect(original.at(-1)).toMatchObject({ status: 'RESCINDED', source: 'SYNC' });
    expect((await app.services.store.flows.get(rejected.flowId))?.status).toBe('COMPLETED');
  }, 60_000);

  it('reads Tencent flows up to 100 per DescribeFlowDetailInfo call', async () => {
    // The timer off, so the one run below sees all 120 flows due at once.
    const app = await start({ ...(await variant.env()), RECONCILE_INTERVAL_MS: '0', RECONCILE_AFTER_MS: '0' });
    const ids: string[] = [];
    for (let i = 0; i < 120; i++) {
      const { flowId } = await app.admin<{ flowId: string }>('/tencent/flows', { status: 'SIGNING', signers: 2 });
      await app.services.store.flows.save({ id: `TENCENT_ESS:${flowId}`, provider: 'TENCENT_ESS', providerFlowId: flowId, status: 'SIGNING' });
      ids.push(flowId);
    }
    await app.admin('/faults', { provider: 'tencent', kind: 'drop-callback' });
    for (const id of ids.slice(0, 7)) await app.admin(`/tencent/flows/${id}/transition`, { status: 'COMPLETED' });
    await new Promise((r) => setTimeout(r, 5)); // updated_at strictly before the run's cutoff

    const report = await app.reconciler.runOnce();
    expect(report).toEqual({ ran: true, read: 120, changed: 7, failed: 0 });
    const log = await app.admin<{ requests: Array<{ operation: string | null; body: { FlowIds?: string[] } }> }>('/tencent/requests');
    const reads = log.requests.filter((r) => r.operation === 'DescribeFlowDetailInfo').map((r) => r.body.FlowIds ?? []);
    expect(reads.map((r) => r.length)).toEqual([100, 20]);
    expect(new Set(reads.flat())).toEqual(new Set(ids));
    for (const id of ids.slice(0, 7)) expect((await app.services.store.flows.get(`TENCENT_ESS:${id}`))?.status).toBe('COMPLETED');
    // Read fine and unchanged: not due again before RECONCILE_AFTER_MS has passed once more.
    expect(await app.services.store.reconcile.state('signflow', `TENCENT_ESS:${ids[50]}`)).toMatchObject({ attempts: 0 });
  }, 60_000);

  it('backs off exponentially from a flow whose reads fail, then converges once the provider answers', async () => {
    // No breaker and no retries inside a call: each read is one request, and each failure is the provider's error.
    const env = { ...(await variant.env()), ...FAST, ETC_BREAKER_THRESHOLD: '1000', ETC_MAX_RETRIES: '0' };
    const app = await start(env, { reconcile: { backoff: { baseMs: 200, maxMs: 60_000 } } });
    const id = await openFlow(app, 'etc');
    const providerFlowId = id.split(':')[1];
    await app.admin('/faults', { provider: 'etc', kind: 'drop-callback' });
    await app.admin('/faults', { provider: 'etc', kind: 'error', match: 'esign.signflows.query', code: '500', message: '系统异常' });
    await app.admin(`/etc/flows/${providerFlowId}/transition`, { status: 'COMPLETED' });

    // Watch the flow's backoff state: each time another failure shows, its next read must be 200 ms · 2^(n−1)
    // (±10 %) after the failure, which happened between the previous look and this one.
    const seen: Array<{ attempts: number; nextAt: number; before: number; after: number }> = [];
    let before = Date.now();
    const deadline = Date.now() + 30_000;
    while ((seen.at(-1)?.attempts ?? 0) < 4) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for four failed reads (saw ${JSON.stringify(seen)})`);
      const s = await app.services.store.reconcile.state('signflow', id);
      const after = Date.now();
      if (s && s.attempts > (seen.at(-1)?.attempts ?? 0)) {
        expect(s.lastError).toMatch(/500|系统异常/);
        seen.push({ attempts: s.attempts, nextAt: s.nextAt.getTime(), before, after });
      }
      before = after;
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const { attempts, nextAt, before: from, after: to } of seen) {
      const delay = 200 * 2 ** (attempts - 1);
      expect(nextAt).toBeGreaterThanOrEqual(from + 0.9 * delay - 5);
      expect(nextAt).toBeLessThanOrEqual(to + 1.1 * delay + 5);
    }
    const failed = await metricValue(app, 'reconcile_reads_total{kind="signflow",provider="ETC",outcome="failed"}');
    expect(failed).toBeGreaterThanOrEqual(4);

    await fetch(`${app.url}/sandbox/_admin/faults`, { method: 'DELETE' });
    await waitFor(async () => (await app.services.store.flows.get(id))?.status === 'COMPLETED', { timeoutMs: 20_000, what: 'convergence after the fault' });
    const events = await app.services.store.events.listAfter(0, { subjectIds: [id] }, 10);
    expect(events.map((e) => [e.status, e.source])).toEqual([
      ['SIGNING', 'SYNC'],
      ['COMPLETED', 'SYNC'],
    ]);
    // The reconciler clears its backoff state after the read that changed the flow is stored: wait for it.
    await waitFor(async () => (await app.services.store.reconcile.state('signflow', id)) === undefined, { timeoutMs: 5_000, what: 'the backoff state to be cleared' });
  }, 60_000);

  it('two replicas on one store: only the lease holder reconciles; the other takes over when it stops', async () => {
    const env = { ...(await variant.env()), ...FAST };
    const a = await start(env);
    const b = await start(env);
    const ticks = (app: TestApp) => app.reconciler.stats.runs + app.reconciler.stats.skipped;
    await waitFor(() => ticks(a) >= 5 && ticks(b) >= 5, { timeoutMs: 20_000, what: 'both replicas to tick' });
    const [holder, other] = a.reconciler.stats.runs > 0 ? [a, b] : [b, a];
    expect(holder.reconciler.stats.runs).toBeGreaterThan(0);
    expect(other.reconciler.stats.runs).toBe(0);
    expect(other.reconciler.stats.skipped).toBeGreaterThan(0);

    // A graceful stop releases the lease: the other replica reconciles from its next tick.
    await holder.close();
    apps.splice(apps.indexOf(holder), 1);
    await waitFor(() => other.reconciler.stats.runs > 0, { timeoutMs: 10_000, what: 'the other replica to take over' });
  }, 60_000);
});

describe('reconciliation configuration', () => {
  it('defaults to every 5 minutes for flows quiet for 15, and refuses malformed values naming the variable', () => {
    expect(loadConfig({}).reconcile).toEqual({ intervalMs: 300_000, afterMs: 900_000, readsPerSecond: 10 });
    expect(() => loadConfig({ RECONCILE_INTERVAL_MS: 'often' })).toThrow(/^RECONCILE_INTERVAL_MS: must be a whole number/);
    expect(() => loadConfig({ RECONCILE_AFTER_MS: '-1' })).toThrow(/^RECONCILE_AFTER_MS: /);
    expect(() => loadConfig({ RECONCILE_READS_PER_SECOND: '0' })).toThrow(/^RECONCILE_READS_PER_SECOND: must be between 1 and 1000/);
  });

  it('a shutdown does not wait for the read budget', async () => {
    const app = await startTestApp({ env: { RECONCILE_INTERVAL_MS: '0', RECONCILE_AFTER_MS: '0', RECONCILE_READS_PER_SECOND: '1' } });
    for (let i = 0; i < 40; i++) await app.services.store.flows.save({ id: `ETC:slow${i}`, provider: 'ETC', providerFlowId: `slow${i}`, status: 'SIGNING' });
    await new Promise((r) => setTimeout(r, 5)); // updated_at strictly before the run's cutoff
    // 40 ETC reads at 1 per second: the first batch of 20 alone waits about 20 s for its budget.
    const run = app.reconciler.runOnce();
    await waitFor(() => app.reconciler.stats.runs === 1, { what: 'the run to start' });
    const started = Date.now();
    await app.close();
    expect(Date.now() - started).toBeLessThan(10_000);
    await expect(run).resolves.toMatchObject({ ran: true, read: 0 });
  }, 30_000);

  it('RECONCILE_INTERVAL_MS=0 never reads anything', async () => {
    const app = await startTestApp({ env: { RECONCILE_INTERVAL_MS: '0', RECONCILE_AFTER_MS: '0' } });
    try {
      await openFlow(app, 'etc');
      await new Promise((r) => setTimeout(r, 300));
      expect(app.reconciler.stats).toEqual({ runs: 0, skipped: 0 });
    } finally {
      await app.close();
    }
  });
});
