import { RedisLease, StoreLease } from '../../src/reconcile/lease';
import type { SqlStore } from '../../src/store';
import { reportSkippedPostgres, storeFactories } from '../support/stores';

reportSkippedPostgres('reconcile store');
const REDIS = process.env.TEST_REDIS_URL;
if (!REDIS) process.stdout.write('[reconcile store] Redis lease skipped: TEST_REDIS_URL is not set\n');

const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

describe.each(storeFactories().map((f) => [f.name, f] as const))('reconciliation and retention in the store (%s)', (_name, factory) => {
  let store: SqlStore;
  beforeEach(async () => {
    store = await factory.open();
  });
  afterEach(async () => {
    await store.close();
  });
  afterAll(() => factory.cleanup());

  it('a lease has one holder until it expires or is released', async () => {
    const now = Date.now();
    expect(await store.leases.acquire('job', 'a', 1000, now)).toBe(true);
    expect(await store.leases.acquire('job', 'b', 1000, now + 10)).toBe(false);
    // The holder renews; the other still cannot take it before the new expiry.
    expect(await store.leases.acquire('job', 'a', 1000, now + 900)).toBe(true);
    expect(await store.leases.acquire('job', 'b', 1000, now + 1500)).toBe(false);
    // Expired (the holder died): taken over, and the old holder no longer has it.
    expect(await store.leases.acquire('job', 'b', 1000, now + 2000)).toBe(true);
    expect(await store.leases.acquire('job', 'a', 1000, now + 2100)).toBe(false);
    // Released: free at once; a release by a non-holder changes nothing.
    await store.leases.release('job', 'a');
    expect(await store.leases.acquire('job', 'a', 1000, now + 2200)).toBe(false);
    await store.leases.release('job', 'b');
    expect(await store.leases.acquire('job', 'a', 1000, now + 2300)).toBe(true);
    // Other names are independent.
    expect(await store.leases.acquire('other', 'b', 1000, now + 2300)).toBe(true);
  });

  it('of replicas asking at once, exactly one gets the lease', async () => {
    const holders = Array.from({ length: 8 }, (_, i) => new StoreLease(store.leases, 'race', `replica-${i}`));
    const answers = await Promise.all(holders.map((h) => h.acquire(60_000)));
    expect(answers.filter(Boolean)).toHaveLength(1);
  });

  it('lists stale open flows of one provider, oldest first, until their next read is due', async () => {
    for (const [id, status, age] of [
      ['ETC:old', 'SIGNING', 60_000],
      ['ETC:older', 'DRAFT', 120_000],
      ['ETC:fresh', 'SIGNING', 0],
      ['ETC:done', 'COMPLETED', 60_000],
      ['ESIGN:other', 'SIGNING', 60_000],
    ] as const) {
      const [provider, providerFlowId] = id.split(':') as ['ETC' | 'ESIGN', string];
      await store.flows.save({ id, provider, providerFlowId, status });
      await store.db.updateTable('flows').set({ updated_at: ago(age) }).where('id', '=', id).execute();
    }
    const due = () =>
      store.reconcile.dueFlows({ provider: 'ETC', statuses: ['DRAFT', 'SIGNING'], updatedBefore: new Date(Date.now() - 30_000), now: new Date(), limit: 10 });
    expect((await due()).map((d) => [d.record.id, d.attempts])).toEqual([
      ['ETC:older', 0],
      ['ETC:old', 0],
    ]);

    await store.reconcile.checked('signflow', ['ETC:older'], new Date(Date.now() + 60_000));
    await store.reconcile.failed('signflow', 'ETC:old', 3, new Date(Date.now() - 1), 'ETC answered 500');
    expect((await due()).map((d) => [d.record.id, d.attempts])).toEqual([['ETC:old', 3]]);
    expect(await store.reconcile.state('signflow', 'ETC:old')).toMatchObject({ attempts: 3, lastError: 'ETC answered 500' });

    await store.reconcile.failed('signflow', 'ETC:old', 4, new Date(Date.now() + 60_000), 'again');
    expect(await due()).toEqual([]);
    await store.reconcile.forget('signflow', ['ETC:old']);
    expect((await due()).map((d) => d.record.id)).toEqual(['ETC:old']);
    expect(await store.reconcile.purgeIdle(new Date(Date.now() + 120_000))).toBe(1);
  });

  it('lists stale INITIATED rescissions only', async () => {
    for (const [flow, status] of [
      ['agreement1', 'INITIATED'],
      ['agreement2', 'RESCINDED'],
    ] as const) {
      await store.rescissions.save({ id: `ESIGN:${flow}`, signFlowId: 'ESIGN:original', rescissionFlowId: flow, status });
      await store.db.updateTable('rescissions').set({ updated_at: ago(60_000) }).where('id', '=', `ESIGN:${flow}`).execute();
    }
    const due = await store.reconcile.dueRescissions({ updatedBefore: new Date(Date.now() - 1000), now: new Date(), limit: 10 });
    expect(due.map((d) => d.record.rescissionFlowId)).toEqual(['agreement1']);
  });

  it('prunes a prefix of the event log by age and remembers the newest id pruned', async () => {
    await store.flows.save({ id: 'ETC:f', provider: 'ETC', providerFlowId: 'f', status: 'SIGNING' });
    const events = await store.transaction((tx) =>
      tx.events.appendMany(
        [10, 9, 1, 0].map((days) => ({
          kind: 'signflow' as const,
          subjectId: 'ETC:f',
          provider: 'ETC',
          status: 'SIGNING',
          providerStatus: null,
          source: 'CALLBACK' as const,
          occurredAt: null,
          data: null,
          receivedAt: new Date(Date.now() - days * 86_400_000),
        })),
      ),
    );
    expect(await store.events.prunedThrough()).toBe(0);
    expect(await store.events.purgeOlderThan(new Date(Date.now() - 5 * 86_400_000))).toBe(2);
    expect(await store.events.prunedThrough()).toBe(events[1].id);
    expect((await store.events.listAfter(0, {}, 10)).map((e) => e.id)).toEqual([events[2].id, events[3].id]);
    // Nothing older left: a second run deletes nothing and keeps the watermark.
    expect(await store.events.purgeOlderThan(new Date(Date.now() - 5 * 86_400_000))).toBe(0);
    expect(await store.events.prunedThrough()).toBe(events[1].id);
  });
});

(REDIS ? describe : describe.skip)('the Redis lease', () => {
  it('has one holder, is renewed by it, taken over after expiry and freed by release', async () => {
    const key = `test:lease:${Date.now()}:${Math.random()}`;
    const a = new RedisLease(REDIS!, key, 'a');
    const b = new RedisLease(REDIS!, key, 'b');
    try {
      expect(await a.acquire(300)).toBe(true);
      expect(await b.acquire(300)).toBe(false);
      expect(await a.acquire(300)).toBe(true);
      await new Promise((r) => setTimeout(r, 400));
      expect(await b.acquire(10_000)).toBe(true);
      expect(await a.acquire(300)).toBe(false);
      await a.release(); // not the holder: nothing happens
      expect(await a.acquire(300)).toBe(false);
      await b.release();
      expect(await a.acquire(300)).toBe(true);
      await a.release();
    } finally {
      await a.close();
      await b.close();
    }
  });
});
