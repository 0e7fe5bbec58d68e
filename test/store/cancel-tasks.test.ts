import { reportSkippedPostgres, storeFactories } from '../support/stores';
import type { SqlStore } from '../../src/store';
import type { NewCancelItem } from '../../src/store/cancel-tasks';

reportSkippedPostgres('cancel tasks store');

const REQUEST = { reason: '合同有误', cancelMessageFormat: 2, etcMemberNo: null };
const item = (i: number, provider: 'TENCENT_ESS' | 'ETC' = 'TENCENT_ESS'): NewCancelItem => ({ flowId: `${provider}:f${i}`, provider, providerFlowId: `f${i}` });

describe.each(storeFactories().map((f) => [f.name, f] as const))('cancel tasks store (%s)', (_name, factory) => {
  let store: SqlStore;
  beforeEach(async () => {
    store = await factory.open();
  });
  afterEach(async () => {
    await store.close();
  });
  afterAll(() => factory.cleanup());

  const create = (id: string, items: NewCancelItem[], extra: { leaseUntil?: Date | null } = {}) =>
    store.transaction((tx) => tx.cancelTasks.create({ id, request: REQUEST, deadlineAt: new Date(Date.now() + 60_000), ...extra }, items));

  it('keeps items in input order across insert statements, with outcomes given at creation counted', async () => {
    const items = Array.from({ length: 1203 }, (_, i) => item(1203 - i));
    // Characters an array-literal encoding must escape survive the bulk insert.
    const reason = 'again, "quoted" {braces} \\ NULL 合同';
    items[5] = { ...items[5], outcome: { ok: false, code: 'DUPLICATE_ID', reason } };
    const task = await create('t1', items);
    expect(task).toMatchObject({ id: 't1', state: 'PROCESSING', total: 1203, succeeded: 0, failed: 1, settled: 1, providers: ['TENCENT_ESS'], request: REQUEST });
    const stored = await store.cancelTasks.items('t1');
    expect(stored.map((s) => s.flowId)).toEqual(items.map((i) => i.flowId));
    expect(stored[5]).toMatchObject({ position: 5, settled: true, ok: false, code: 'DUPLICATE_ID', reason });
    expect(stored[6]).toMatchObject({ position: 6, settled: false, ok: null, code: null, reason: null });
    expect(await store.cancelTasks.items('t1', { pendingOnly: true })).toHaveLength(1202);
  });

  it('settles only pending items, first outcome wins, and moves the state from the counts', async () => {
    await create('t2', [item(1), item(2), item(3, 'ETC')]);
    expect(await store.transaction((tx) => tx.cancelTasks.settle('t2', [{ position: 0, ok: true }, { position: 1, ok: true }]))).toBe(2);
    expect(await store.transaction((tx) => tx.cancelTasks.settle('t2', [{ position: 0, ok: false, code: 'LATE' }]))).toBe(0);
    expect((await store.cancelTasks.refresh('t2')).state).toBe('PROCESSING');
    await store.transaction((tx) => tx.cancelTasks.settle('t2', [{ position: 2, ok: false, code: 'FLOW_NOT_REVOCABLE', reason: 'done' }]));
    const task = await store.cancelTasks.refresh('t2');
    expect(task).toMatchObject({ state: 'PARTIAL', succeeded: 2, failed: 1, settled: 3, providers: ['ETC', 'TENCENT_ESS'] });
    expect((await store.cancelTasks.items('t2'))[0]).toMatchObject({ ok: true, code: null });
    // Final is final.
    await store.transaction((tx) => tx.cancelTasks.settle('t2', [{ position: 2, ok: true }], { overwrite: true }));
    expect(await store.cancelTasks.refresh('t2')).toMatchObject({ state: 'PARTIAL', succeeded: 3, failed: 0 });
  });

  it.each([
    [[true, true], 'SUCCEEDED'],
    [[false, false], 'FAILED'],
    [[true, null], 'TIMEOUT'],
  ] as const)('ends %j as %s', async (oks, state) => {
    await create('t3', [item(1), item(2)]);
    await store.transaction((tx) => tx.cancelTasks.settle('t3', oks.map((ok, position) => ({ position, ok, code: ok === null ? 'TIMEOUT' : null }))));
    expect((await store.cancelTasks.refresh('t3')).state).toBe(state);
  });

  it('reads the items of several tasks in one call, each in input order', async () => {
    await create('ta', [item(3), item(1, 'ETC'), item(2)]);
    await create('tb', [item(9)]);
    const found = await store.cancelTasks.itemsOfTasks(['tb', 'ta', 'missing', 'ta']);
    expect([...found.keys()].sort()).toEqual(['ta', 'tb']);
    expect(found.get('ta')!.map((i) => [i.position, i.flowId])).toEqual([
      [0, 'TENCENT_ESS:f3'],
      [1, 'ETC:f1'],
      [2, 'TENCENT_ESS:f2'],
    ]);
    expect(found.get('tb')!.map((i) => i.flowId)).toEqual(['TENCENT_ESS:f9']);
    expect(await store.cancelTasks.itemsOfTasks([])).toEqual(new Map());
  });

  it('parks provider task results until claimed, and purges unclaimed ones by age', async () => {
    await store.cancelTasks.parkEarlyResult({ provider: 'TENCENT_ESS', providerTaskId: 'yDearly', source: 'CALLBACK', result: '{"status":"END"}' });
    await store.cancelTasks.parkEarlyResult({ provider: 'TENCENT_ESS', providerTaskId: 'yDearly', source: 'SYNC', result: '{"n":2}' });
    await store.cancelTasks.parkEarlyResult({ provider: 'TENCENT_ESS', providerTaskId: 'yDother', source: 'CALLBACK', result: '{}' });
    const parked = await store.cancelTasks.earlyResults('TENCENT_ESS', 'yDearly');
    expect(parked.map((p) => [p.source, p.result])).toEqual([
      ['CALLBACK', '{"status":"END"}'],
      ['SYNC', '{"n":2}'],
    ]);
    expect(await store.cancelTasks.earlyResults('ETC', 'yDearly')).toEqual([]);
    await store.cancelTasks.dropEarlyResults(parked.map((p) => p.id));
    expect(await store.cancelTasks.earlyResults('TENCENT_ESS', 'yDearly')).toEqual([]);
    expect(await store.cancelTasks.purgeEarlyResults(new Date(Date.now() - 60_000))).toBe(0);
    expect(await store.cancelTasks.purgeEarlyResults(new Date(Date.now() + 1_000))).toBe(1);
    expect(await store.cancelTasks.earlyResults('TENCENT_ESS', 'yDother')).toEqual([]);
  });

  it('finds items by the provider task that carries them', async () => {
    await create('t4', [item(1), item(2), item(3)]);
    await store.cancelTasks.assignProviderTask('t4', [0, 2], 'yDtask');
    const carried = await store.cancelTasks.itemsByProviderTask('TENCENT_ESS', 'yDtask');
    expect(carried.map((c) => [c.position, c.providerTaskId])).toEqual([
      [0, 'yDtask'],
      [2, 'yDtask'],
    ]);
    expect(await store.cancelTasks.itemsByProviderTask('ETC', 'yDtask')).toEqual([]);
  });

  it('counts the PROCESSING tasks of one starter (tenant and sub), up to a limit, and reads a range of items', async () => {
    const start = (id: string, tenant: string | null, actor: string | null) =>
      store.transaction((tx) => tx.cancelTasks.create({ id, request: { ...REQUEST, actor }, deadlineAt: new Date(Date.now() + 60_000), tenant }, [item(1), item(2), item(3)]));
    await start('a1', 't1', 'alice');
    await start('a2', 't1', 'alice');
    await start('a3', 't1', 'alice');
    await start('b1', 't1', 'bob');
    await start('a4', 't2', 'alice');
    await start('n1', null, null);
    await store.cancelTasks.refresh('a3', 'TIMEOUT');
    expect(await store.cancelTasks.countProcessingOf({ tenant: 't1', actor: 'alice' }, 10)).toBe(2);
    expect(await store.cancelTasks.countProcessingOf({ tenant: 't1', actor: 'alice' }, 1)).toBe(1);
    expect(await store.cancelTasks.countProcessingOf({ tenant: 't2', actor: 'alice' }, 10)).toBe(1);
    expect(await store.cancelTasks.countProcessingOf({ tenant: null, actor: null }, 10)).toBe(1);
    expect(await store.cancelTasks.countProcessingOf({ tenant: 't1', actor: 'carol' }, 10)).toBe(0);
    expect((await store.cancelTasks.items('a1', { offset: 1, limit: 5 })).map((i) => [i.position, i.flowId])).toEqual([
      [1, 'TENCENT_ESS:f2'],
      [2, 'TENCENT_ESS:f3'],
    ]);
  });

  it('hands the run lease to one process at a time and lists unfinished tasks', async () => {
    await create('t5', [item(1)], { leaseUntil: new Date(Date.now() + 60_000) });
    await create('t6', [item(1)], { leaseUntil: null });
    expect(await store.cancelTasks.claim('t5', 1000)).toBe(false);
    expect(await store.cancelTasks.claim('t5', 1000, 'renew')).toBe(true);
    expect(await store.cancelTasks.claim('t6', 1000)).toBe(true);
    expect(await store.cancelTasks.claim('t6', 1000)).toBe(false);
    expect((await store.cancelTasks.listProcessing(10)).map((t) => t.id).sort()).toEqual(['t5', 't6']);
  });

  it('saves many flows and appends many events in one statement each, with the rules of save and append', async () => {
    await store.flows.save({ id: 'TENCENT_ESS:a', provider: 'TENCENT_ESS', providerFlowId: 'a', status: 'SIGNING', providerStatus: 'INIT', fileUrl: 'http://f' });
    await store.transaction(async (tx) => {
      await tx.flows.saveMany([
        { id: 'TENCENT_ESS:a', provider: 'TENCENT_ESS', providerFlowId: 'a', status: 'REVOKED', providerStatus: 'CANCEL' },
        { id: 'TENCENT_ESS:b', provider: 'TENCENT_ESS', providerFlowId: 'b', status: 'REVOKED', providerStatus: 'CANCEL' },
      ]);
      const events = await tx.events.appendMany(['a', 'b'].map((f) => ({ kind: 'signflow' as const, subjectId: `TENCENT_ESS:${f}`, provider: 'TENCENT_ESS', status: 'REVOKED', providerStatus: 'CANCEL', source: 'MUTATION' as const, occurredAt: null, data: null })));
      expect(events.map((e) => e.subjectId)).toEqual(['TENCENT_ESS:a', 'TENCENT_ESS:b']);
      expect(events[1].id).toBe(events[0].id + 1);
    });
    const flows = await store.flows.getMany(['TENCENT_ESS:a', 'TENCENT_ESS:b']);
    expect(flows.get('TENCENT_ESS:a')).toMatchObject({ status: 'REVOKED', providerStatus: 'CANCEL', fileUrl: 'http://f' });
    expect(flows.get('TENCENT_ESS:b')).toMatchObject({ status: 'REVOKED' });
  });
});
