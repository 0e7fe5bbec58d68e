import { reportSkippedPostgres, storeFactories } from '../support/stores';
import type { SqlStore } from '../../src/store';

reportSkippedPostgres('store contract');

describe.each(storeFactories().map((f) => [f.name, f] as const))('store contract (%s)', (_name, factory) => {
  let store: SqlStore;
  beforeEach(async () => {
    store = await factory.open();
  });
  afterEach(async () => {
    await store.close();
  });
  afterAll(() => factory.cleanup());

  it('migrates idempotently', async () => {
    await store.migrate();
    await store.ping();
  });

  it('saves flows and keeps known fields when an update leaves them out', async () => {
    await store.flows.save({ id: 'ETC:a', provider: 'ETC', providerFlowId: 'a', status: 'SIGNING', providerStatus: '1', fileUrl: 'http://f' });
    const updated = await store.flows.save({ id: 'ETC:a', provider: 'ETC', providerFlowId: 'a', status: 'COMPLETED', providerStatus: '2' });
    expect(updated).toMatchObject({ status: 'COMPLETED', providerStatus: '2', fileUrl: 'http://f', provider: 'ETC' });
    const many = await store.flows.getMany(['ETC:a', 'ETC:missing']);
    expect([...many.keys()]).toEqual(['ETC:a']);
  });

  it('pages flows in insertion order with filters', async () => {
    for (let i = 0; i < 5; i++) {
      await store.flows.save({ id: `ETC:f${i}`, provider: 'ETC', providerFlowId: `f${i}`, status: i % 2 ? 'SIGNING' : 'COMPLETED' });
    }
    const first = await store.flows.list({ first: 2 });
    expect(first.map((f) => f.id)).toEqual(['ETC:f0', 'ETC:f1']);
    const next = await store.flows.list({ first: 2, after: first[1].seq });
    expect(next.map((f) => f.id)).toEqual(['ETC:f2', 'ETC:f3']);
    const signing = await store.flows.list({ first: 10, status: 'SIGNING' });
    expect(signing.map((f) => f.id)).toEqual(['ETC:f1', 'ETC:f3']);
  });

  it('appends events with strictly increasing ids and filters them', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 4; i++) {
      const e = await store.transaction((tx) =>
        tx.events.append({ kind: 'signflow', subjectId: `ETC:${i % 2}`, provider: 'ETC', status: 'SIGNING', providerStatus: null, source: 'SYNC', occurredAt: null, data: { i } }),
      );
      ids.push(e.id);
    }
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(new Set(ids).size).toBe(4);
    const after = await store.events.listAfter(ids[0], { subjectIds: ['ETC:1'] }, 10);
    expect(after.map((e) => e.data)).toEqual([{ i: 1 }, { i: 3 }]);
    expect(await store.events.latestId()).toBe(ids[3]);
  });

  it('rolls a transaction back as a whole', async () => {
    await expect(
      store.transaction(async (tx) => {
        await tx.flows.save({ id: 'ETC:rb', provider: 'ETC', providerFlowId: 'rb', status: 'SIGNING' });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await store.flows.get('ETC:rb')).toBeUndefined();
  });

  it('dedupes callback receipts', async () => {
    expect(await store.receipts.insert({ provider: 'ETC', dedupeKey: 'k', body: '{}' })).toBe(true);
    expect(await store.receipts.insert({ provider: 'ETC', dedupeKey: 'k', body: '{}' })).toBe(false);
    expect(await store.receipts.count('ETC')).toBe(1);
  });

  it('purges receipts by age, and a purged key is received as new again', async () => {
    await store.receipts.insert({ provider: 'ETC', dedupeKey: 'old', body: '{}' });
    await store.receipts.insert({ provider: 'TENCENT_ESS', dedupeKey: 'new', body: '{}' });
    const fortyDaysAgo = new Date(Date.now() - 40 * 86_400_000).toISOString();
    await store.db.updateTable('callback_receipts').set({ received_at: fortyDaysAgo }).where('dedupe_key', '=', 'old').execute();
    expect(await store.receipts.purgeOlderThan(new Date(Date.now() - 30 * 86_400_000))).toBe(1);
    expect(await store.receipts.count()).toBe(1);
    expect(await store.receipts.insert({ provider: 'ETC', dedupeKey: 'old', body: '{}' })).toBe(true);
    expect(await store.receipts.insert({ provider: 'TENCENT_ESS', dedupeKey: 'new', body: '{}' })).toBe(false);
  });

  it('claims idempotency keys once and replays, refuses other input, frees released keys', async () => {
    const q = { key: 'k1', operation: 'revokeSignFlow', inputHash: 'h1', leaseMs: 60_000, ttlMs: 86_400_000 };
    expect(await store.operations.claim(q)).toEqual({ state: 'claimed' });
    expect(await store.operations.claim(q)).toEqual({ state: 'pending' });
    expect(await store.operations.claim({ ...q, inputHash: 'h2' })).toEqual({ state: 'mismatch', operation: 'revokeSignFlow' });
    await store.operations.complete('k1', { ok: true });
    expect(await store.operations.claim(q)).toEqual({ state: 'done', result: { ok: true } });

    const q2 = { ...q, key: 'k2' };
    expect(await store.operations.claim(q2)).toEqual({ state: 'claimed' });
    await store.operations.release('k2');
    expect(await store.operations.claim(q2)).toEqual({ state: 'claimed' });
  });

  it('replays a finished operation for its whole retention (48 h by default), then forgets it', async () => {
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const q = { key: 'day', operation: 'op', inputHash: 'h', leaseMs: 60_000, ttlMs: 48 * 3600_000 };
    expect(await store.operations.claim({ ...q, now: t0 })).toEqual({ state: 'claimed' });
    await store.operations.complete('day', { n: 1 });
    expect(await store.operations.claim({ ...q, now: t0 + 24 * 3600_000 })).toEqual({ state: 'done', result: { n: 1 } });
    expect(await store.operations.claim({ ...q, now: t0 + 47 * 3600_000 })).toEqual({ state: 'done', result: { n: 1 } });
    expect(await store.operations.claim({ ...q, now: t0 + 49 * 3600_000 })).toEqual({ state: 'claimed' });
  });

  it('lets a pending key whose lease ran out be taken over, and forgets expired keys', async () => {
    const q = { key: 'k3', operation: 'op', inputHash: 'h', leaseMs: -1, ttlMs: 86_400_000 };
    expect(await store.operations.claim(q)).toEqual({ state: 'claimed' });
    expect(await store.operations.claim(q)).toEqual({ state: 'claimed' });
    await store.operations.claim({ key: 'k4', operation: 'op', inputHash: 'h', leaseMs: 1000, ttlMs: -1 });
    expect(await store.operations.purgeExpired()).toBeGreaterThanOrEqual(1);
  });
});
