import { reportSkippedPostgres, storeFactories } from '../support/stores';
import type { SqlStore } from '../../src/store';

reportSkippedPostgres('rescission store');

describe.each(storeFactories().map((f) => [f.name, f] as const))('rescission repository (%s)', (_name, factory) => {
  let store: SqlStore;
  beforeEach(async () => {
    store = await factory.open();
  });
  afterEach(async () => {
    await store.close();
  });
  afterAll(() => factory.cleanup());

  const write = { id: 'ESIGN:r1', signFlowId: 'ESIGN:f1', rescissionFlowId: 'r1' };

  it('creates with defaults, then merges later writes over what is stored', async () => {
    const created = await store.rescissions.save({ ...write, status: 'INITIATED', fileIds: ['a'], data: { initiator: 'p' } });
    expect(created).toMatchObject({ ...write, status: 'INITIATED', fileIds: ['a'], reason: 'OTHER', notes: null, data: { initiator: 'p' } });
    const merged = await store.rescissions.save({ ...write, status: 'INITIATED', reason: 'WRONG_SEAL', notes: 'n', data: { notifyUrl: 'u' } });
    expect(merged).toMatchObject({ fileIds: ['a'], reason: 'WRONG_SEAL', notes: 'n', data: { initiator: 'p', notifyUrl: 'u' } });
    expect(merged.createdAt).toEqual(created.createdAt);
  });

  it('never moves a rescission out of an outcome, whatever a writer asks', async () => {
    await store.rescissions.save({ ...write, status: 'RESCINDED', fileIds: ['a'] });
    expect((await store.rescissions.save({ ...write, status: 'INITIATED' })).status).toBe('RESCINDED');
    expect((await store.rescissions.get('ESIGN:r1'))?.status).toBe('RESCINDED');
  });

  it('lists the rescissions of each flow, oldest first', async () => {
    await store.rescissions.save({ ...write, status: 'INITIATED', fileIds: ['a'] });
    await store.rescissions.save({ id: 'ESIGN:r2', signFlowId: 'ESIGN:f1', rescissionFlowId: 'r2', status: 'FAILED', fileIds: ['b'] });
    await store.rescissions.save({ id: 'ESIGN:r3', signFlowId: 'ESIGN:f2', rescissionFlowId: 'r3', status: 'INITIATED', fileIds: ['c'] });
    const found = await store.rescissions.listBySignFlows(['ESIGN:f1', 'ESIGN:f2', 'ESIGN:none']);
    expect(found.get('ESIGN:f1')?.map((r) => r.id)).toEqual(['ESIGN:r1', 'ESIGN:r2']);
    expect(found.get('ESIGN:f2')?.map((r) => r.id)).toEqual(['ESIGN:r3']);
    expect(found.has('ESIGN:none')).toBe(false);
  });
});
