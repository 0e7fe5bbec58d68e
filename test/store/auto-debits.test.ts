import type { SqlStore } from '../../src/store';
import { reportSkippedPostgres, storeFactories } from '../support/stores';

reportSkippedPostgres('auto-debit store');

describe.each(storeFactories().map((f) => [f.name, f] as const))('auto-debit repository (%s)', (_name, factory) => {
  let store: SqlStore;
  beforeEach(async () => {
    store = await factory.open();
  });
  afterEach(async () => {
    await store.close();
  });
  afterAll(() => factory.cleanup());

  const base = { id: 'YUANSFER:1', autoDebitNo: '1', merchantNo: '200043', storeNo: '300014' };

  it('creates, then updates the status and keeps what an update leaves out', async () => {
    const created = await store.autoDebits.save({ ...base, status: 'PENDING', autoReference: 'r1', vendor: 'gcash', data: { authUrl: 'https://a', note: 'n' } });
    expect(created).toMatchObject({ ...base, status: 'PENDING', autoReference: 'r1', vendor: 'gcash', data: { authUrl: 'https://a', note: 'n' } });
    const updated = await store.autoDebits.save({ ...base, merchantNo: 'ignored', status: 'ACTIVE', data: { accessTokenExpiryTime: '2024-07-13T02:30:00.000Z' } });
    expect(updated).toMatchObject({
      status: 'ACTIVE',
      merchantNo: '200043',
      autoReference: 'r1',
      vendor: 'gcash',
      data: { authUrl: 'https://a', note: 'n', accessTokenExpiryTime: '2024-07-13T02:30:00.000Z' },
    });
    expect(updated.updatedAt.getTime()).toBeGreaterThanOrEqual(created.updatedAt.getTime());
    expect(updated.createdAt).toEqual(created.createdAt);
  });

  it('reads many in one query and merges data inside a transaction', async () => {
    await store.autoDebits.save({ ...base, status: 'ACTIVE' });
    await store.transaction(async (tx) => {
      await tx.autoDebits.save({ ...base, status: 'REVOKED', vendor: 'GCASH', data: { a: 1 } });
      await tx.autoDebits.save({ ...base, status: 'REVOKED', data: { b: 2 } });
    });
    const many = await store.autoDebits.getMany(['YUANSFER:1', 'YUANSFER:missing', 'YUANSFER:1']);
    expect([...many.keys()]).toEqual(['YUANSFER:1']);
    expect(many.get('YUANSFER:1')).toMatchObject({ status: 'REVOKED', vendor: 'GCASH', data: { a: 1, b: 2 } });
    expect(await store.autoDebits.get('YUANSFER:missing')).toBeUndefined();
    expect((await store.autoDebits.getMany([])).size).toBe(0);
  });

  it('rolls back with the transaction', async () => {
    await expect(
      store.transaction(async (tx) => {
        await tx.autoDebits.save({ ...base, status: 'PENDING' });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await store.autoDebits.get(base.id)).toBeUndefined();
  });
});
