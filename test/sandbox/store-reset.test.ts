import type { SqlStore } from '../../src/store';
import type { SignProvider } from '../../src/domain/model';
import { resetSandboxRecords } from '../../src/sandbox/store-reset';
import { reportSkippedPostgres, storeFactories } from '../support/stores';

/** What a sandbox reset removes from the store, on every store this environment offers. */

async function flowWithEvent(store: SqlStore, provider: SignProvider, providerFlowId: string): Promise<number> {
  const id = `${provider}:${providerFlowId}`;
  return store.transaction(async (tx) => {
    await tx.events.lock();
    await tx.flows.save({ id, provider, providerFlowId, status: 'SIGNING' });
    await tx.receipts.insert({ provider, dedupeKey: `${providerFlowId}|1`, body: '{}' });
    const event = await tx.events.append({ kind: 'signflow', subjectId: id, provider, status: 'SIGNING', providerStatus: '1', source: 'CALLBACK', occurredAt: null, data: null });
    return event.id;
  });
}

async function autoDebitWithEvent(store: SqlStore, no: string): Promise<void> {
  await store.transaction(async (tx) => {
    await tx.events.lock();
    await tx.autoDebits.save({ id: `YUANSFER:${no}`, autoDebitNo: no, status: 'ACTIVE', merchantNo: '200043', storeNo: '300014' });
    await tx.receipts.insert({ provider: 'YUANSFER', dedupeKey: `${no}|authorized`, body: 'x' });
    await tx.events.append({ kind: 'autodebit', subjectId: `YUANSFER:${no}`, provider: 'YUANSFER', status: 'ACTIVE', providerStatus: null, source: 'CALLBACK', occurredAt: null, data: null });
  });
}

describe.each(storeFactories().map((factory) => [factory.name, factory] as const))('sandbox reset of the store (%s)', (_name, factory) => {
  let store: SqlStore;
  beforeAll(() => reportSkippedPostgres('sandbox store reset'));
  beforeEach(async () => {
    store = await factory.open();
  });
  afterEach(async () => {
    await store.close();
  });
  afterAll(() => factory.cleanup());

  it('with some providers emulated: only their records go; idempotency keys and the others stay', async () => {
    await flowWithEvent(store, 'ETC', 'e1');
    await flowWithEvent(store, 'ESIGN', 's1');
    await autoDebitWithEvent(store, '100');
    await store.operations.claim({ key: 'k1', operation: 'op', inputHash: 'h', leaseMs: 1000, ttlMs: 60_000 });
    const last = await flowWithEvent(store, 'ETC', 'e2');

    const counts = await resetSandboxRecords(store, { signProviders: ['ETC'], autoDebits: false, everything: false });
    expect(counts).toMatchObject({ flows: 2, receipts: 2, autoDebits: 0, operations: 0 });
    expect(await store.flows.get('ETC:e1')).toBeUndefined();
    expect(await store.flows.get('ESIGN:s1')).toBeDefined();
    expect(await store.autoDebits.get('YUANSFER:100')).toBeDefined();
    expect(await store.receipts.count('ETC')).toBe(0);
    expect(await store.receipts.count('ESIGN')).toBe(1);
    expect(await store.operations.claim({ key: 'k1', operation: 'op', inputHash: 'h', leaseMs: 1000, ttlMs: 60_000 })).toEqual({ state: 'pending' });
    // The newest event stays so that ids never go back; the next one is newer than anything a subscriber saw.
    const left = await store.events.listAfter(0, {}, 100);
    expect(left.map((e) => [e.provider, e.id])).toEqual([
      ['ESIGN', expect.any(Number)],
      ['YUANSFER', expect.any(Number)],
      ['ETC', last],
    ]);
    expect(await flowWithEvent(store, 'ETC', 'e3')).toBeGreaterThan(last);
  });

  it('with every provider emulated: flows, auto-debits, receipts and idempotency keys all go', async () => {
    await flowWithEvent(store, 'TENCENT_ESS', 't1');
    await autoDebitWithEvent(store, '200');
    await store.operations.claim({ key: 'k2', operation: 'op', inputHash: 'h', leaseMs: 1000, ttlMs: 60_000 });
    const latest = await store.events.latestId();
    const counts = await resetSandboxRecords(store, { signProviders: ['ETC', 'TENCENT_ESS', 'ESIGN'], autoDebits: true, everything: true });
    expect(counts).toMatchObject({ flows: 1, autoDebits: 1, receipts: 2, operations: 1, events: 1 });
    expect(await store.flows.get('TENCENT_ESS:t1')).toBeUndefined();
    expect(await store.autoDebits.get('YUANSFER:200')).toBeUndefined();
    expect(await store.receipts.count()).toBe(0);
    expect(await store.operations.claim({ key: 'k2', operation: 'op', inputHash: 'h', leaseMs: 1000, ttlMs: 60_000 })).toEqual({ state: 'claimed' });
    expect(await store.events.latestId()).toBe(latest);
  });
});
