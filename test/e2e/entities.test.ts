import type { LogEvent } from 'kysely';
import { startTestApp, waitFor, type TestApp } from '../support/app';

/**
 * `_entities`, as a router sends it: one request carrying many representations. Each type's reference resolver
 * loads through the request's DataLoader, so N references of a type cost one store query (counted at the SQL level
 * through the store's query hook), plus, for sign flows the store has never seen, one provider call per provider
 * and chunk the provider allows (counted in the emulators' request logs).
 *
 * A new entity type adds a case to ENTITY_CASES: how to create stored entities through the public API, the table
 * its loader reads and the fields to select.
 */

type Representation = Record<string, unknown> & { __typename: string };

interface Harness {
  app: TestApp;
  statements: string[];
}

async function startHarness(): Promise<Harness> {
  const statements: string[] = [];
  const app = await startTestApp({
    // 130 unknown Tencent flows in one request are read below: above the default 100 read-throughs per operation.
    env: { PROVIDER_READS_PER_OPERATION: '1000' },
    onStoreQuery: (event: LogEvent) => {
      if (event.level === 'query') statements.push(event.query.sql);
    },
  });
  return { app, statements };
}

/** Runs one `_entities` request and returns its result with the store statements and provider calls it caused. */
async function entities(h: Harness, representations: Representation[], selection: string, providers: string[] = []) {
  const before = await Promise.all(providers.map(async (p) => (await requestsOf(h.app, p)).length));
  const mark = h.statements.length;
  const inline = [...new Set(representations.map((r) => r.__typename))].map((t) => `... on ${t} { ${selection} }`).join(' ');
  const result = await h.app.gql<{ _entities: Array<Record<string, unknown> | null> }>(
    `query ($representations: [_Any!]!) { _entities(representations: $representations) { __typename ${inline} } }`,
    { representations },
  );
  const statements = h.statements.slice(mark);
  const calls = Object.fromEntries(
    await Promise.all(providers.map(async (p, i) => [p, (await requestsOf(h.app, p)).slice(before[i])] as const)),
  );
  return { result, statements, calls };
}

async function requestsOf(app: TestApp, provider: string): Promise<Array<{ operation: string | null; body: unknown }>> {
  return (await app.admin<{ requests: Array<{ operation: string | null; body: unknown }> }>(`/${provider}/requests`)).requests;
}

/** Store reads of one table: `select … from "<table>"`, the statement a loader's batch runs. */
const selectsFrom = (statements: string[], table: string) => statements.filter((sql) => new RegExp(`^select\\b[\\s\\S]*?\\bfrom "${table}"`, 'i').test(sql));

describe('_entities for SignFlow', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(() => h.app.close());

  const etcFlows = async (n: number) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push((await h.app.admin<{ flowId: string }>('/etc/flows', { status: i % 2 ? 'COMPLETED' : 'SIGNING' })).flowId);
    return ids;
  };

  it('reads flows the store has never seen through from the provider: one store query, one provider call per unknown id', async () => {
    const ids = await etcFlows(5);
    const missing = 'ffffffffffffffffffffffffffffffff';
    const representations: Representation[] = [
      ...ids.map((id) => ({ __typename: 'SignFlow', id: `ETC:${id}` })),
      // The second key, for flows also referenced by the first: the loader asks for each flow once.
      { __typename: 'SignFlow', provider: 'ETC', providerFlowId: ids[0] },
      { __typename: 'SignFlow', provider: 'ETC', providerFlowId: ids[3] },
      { __typename: 'SignFlow', id: `ETC:${missing}` },
    ];
    const { result, statements, calls } = await entities(h, representations, 'id providerFlowId status', ['etc']);

    expect(result.errors).toBeUndefined();
    expect(result.data!._entities).toEqual([
      ...ids.map((id, i) => ({ __typename: 'SignFlow', id: `ETC:${id}`, providerFlowId: id, status: i % 2 ? 'COMPLETED' : 'SIGNING' })),
      { __typename: 'SignFlow', id: `ETC:${ids[0]}`, providerFlowId: ids[0], status: 'SIGNING' },
      { __typename: 'SignFlow', id: `ETC:${ids[3]}`, providerFlowId: ids[3], status: 'COMPLETED' },
      null,
    ]);
    // One batched read of every id (the flows the read-through then records are written in their own transactions).
    expect(selectsFrom(statements, 'flows').filter((sql) => / in \(/i.test(sql))).toHaveLength(1);
    // ETC has no batch query (docs/providers/etc.md): one esign.signflows.query per distinct unknown id, none twice.
    const queried = calls.etc.filter((r) => r.operation === 'esign.signflows.query').map((r) => (r.body as { params: { flowId: string } }).params.flowId);
    expect([...queried].sort()).toEqual([...ids, missing].sort());
  });

  it('answers N stored flows, by either key, with exactly one store query and no provider call', async () => {
    const ids = await etcFlows(6);
    await h.app.gql(`{ ${ids.map((id, i) => `f${i}: signFlow(id: "ETC:${id}") { id }`).join(' ')} }`);

    const representations: Representation[] = ids.flatMap((id) => [
      { __typename: 'SignFlow', id: `ETC:${id}` },
      { __typename: 'SignFlow', provider: 'ETC', providerFlowId: id },
    ]);
    const { result, statements, calls } = await entities(h, representations, 'id status', ['etc']);
    expect(result.errors).toBeUndefined();
    expect(result.data!._entities.map((e) => e?.id)).toEqual(ids.flatMap((id) => [`ETC:${id}`, `ETC:${id}`]));
    expect(selectsFrom(statements, 'flows')).toHaveLength(1);
    expect(calls.etc).toEqual([]);
  });

  it('chunks unknown Tencent flows by the provider limit: one DescribeFlowDetailInfo per 100 ids', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 130; i++) ids.push((await h.app.admin<{ flowId: string }>('/tencent/flows', { status: 'SIGNING' })).flowId);
    const { result, statements, calls } = await entities(h, ids.map((id) => ({ __typename: 'SignFlow', id: `TENCENT_ESS:${id}` })), 'id status', ['tencent']);
    expect(result.errors).toBeUndefined();
    expect(result.data!._entities.every((e, i) => e?.id === `TENCENT_ESS:${ids[i]}` && e.status === 'SIGNING')).toBe(true);
    expect(selectsFrom(statements, 'flows').filter((sql) => / in \(/i.test(sql))).toHaveLength(1);
    const describes = calls.tencent.filter((r) => r.operation === 'DescribeFlowDetailInfo').map((r) => (r.body as { FlowIds: string[] }).FlowIds);
    expect(describes.map((flowIds) => flowIds.length).sort((a, b) => b - a)).toEqual([100, 30]);
    expect(describes.flat().sort()).toEqual([...ids].sort());
  });
});

/** One entity type besides SignFlow: how to create stored ones through the public API, and where its loader reads. */
interface EntityCase {
  typename: string;
  /** The table its reference loader reads. */
  table: string;
  selection: string;
  /** An id of this type that nothing knows. */
  unknownId: string;
  /** Creates `n` entities through the API and the emulators, waits until nothing more happens to them, returns their ids. */
  create(app: TestApp, n: number): Promise<string[]>;
}

const MEMBER = '40eb61714d9e49088bac7a3c56d69d66';

const ENTITY_CASES: EntityCase[] = [
  {
    typename: 'CancelTask',
    table: 'cancel_tasks',
    selection: 'id state total',
    unknownId: 'cancel_00000000000000000000000000000000',
    async create(app, n) {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const flows = [(await app.admin<{ flowId: string }>('/etc/flows', {})).flowId, (await app.admin<{ flowId: string }>('/etc/flows', {})).flowId];
        const r = await app.gql<{ cancelSignFlows: { task: { id: string } | null; userErrors: unknown[] } }>(
          `mutation ($input: CancelSignFlowsInput!) { cancelSignFlows(input: $input) { task { id } userErrors { code field message } } }`,
          { input: { ids: flows.map((f) => `ETC:${f}`), etcMemberNo: MEMBER, reason: '批量撤销' } },
        );
        expect(r.data?.cancelSignFlows.userErrors).toEqual([]);
        ids.push(r.data!.cancelSignFlows.task!.id);
      }
      // Finished tasks: no background run reads them while the request under test is counted.
      await waitFor(async () => {
        const r = await app.gql<Record<string, { state: string }>>(`{ ${ids.map((id, i) => `t${i}: cancelTask(id: "${id}") { state }`).join(' ')} }`);
        return Object.values(r.data ?? {}).every((t) => t.state !== 'PROCESSING');
      }, { what: 'the cancel tasks to finish' });
      return ids;
    },
  },
  {
    typename: 'Rescission',
    table: 'rescissions',
    selection: 'id status rescissionFlowId',
    unknownId: 'ESIGN:ffffffffffffffffffffffffffffffff',
    async create(app, n) {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const { flowId } = await app.admin<{ flowId: string }>('/esign/flows', { status: 'COMPLETED', signers: 2, fileIds: ['fileA'] });
        const view = await app.admin<{ signers: Array<{ kind: string; psnId?: string }> }>(`/esign/flows/${flowId}`);
        const psnId = view.signers.find((s) => s.kind === 'person')?.psnId;
        const r = await app.gql<{ initiateRescission: { rescission: { id: string } | null; userErrors: unknown[] } }>(
          `mutation ($input: InitiateRescissionInput!) { initiateRescission(input: $input) { rescission { id } userErrors { code field message } } }`,
          { input: { signFlowId: `ESIGN:${flowId}`, fileIds: ['fileA'], reason: 'WRONG_TERMS', initiator: { person: { psnId } } } },
        );
        expect(r.data?.initiateRescission.userErrors).toEqual([]);
        ids.push(r.data!.initiateRescission.rescission!.id);
      }
      // e签宝 also calls back about each initiation; let those land before counting.
      await waitFor(async () => {
        const { callbacks } = await app.admin<{ callbacks: Array<{ event: string; state: string }> }>('/esign/callbacks');
        return callbacks.filter((c) => c.event === 'SIGN_FILE_RESCISSION_INITIATE' && c.state === 'acknowledged').length >= n;
      }, { what: 'the initiation callbacks to be acknowledged' });
      return ids;
    },
  },
  {
    typename: 'AutoDebit',
    table: 'auto_debits',
    selection: 'id autoDebitNo status',
    unknownId: 'YUANSFER:999999999999999999',
    async create(app, n) {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        // An active authorization whose IPN the emulator sends: the API learns it from the IPN alone.
        const { autoDebitNo } = await app.admin<{ autoDebitNo: string }>('/yuansfer/auto-debits', { notify: true });
        ids.push(`YUANSFER:${autoDebitNo}`);
      }
      await waitFor(async () => {
        const r = await app.gql<Record<string, { status: string } | null>>(`{ ${ids.map((id, i) => `a${i}: autoDebit(id: "${id}") { status }`).join(' ')} }`);
        return Object.values(r.data ?? {}).every((a) => a?.status === 'ACTIVE');
      }, { what: 'the authorizations to arrive by IPN' });
      return ids;
    },
  },
];

/** Reads of one table by id: the statements a reference loader (or a per-id lookup, were batching broken) runs. */
const idReads = (statements: string[], table: string) => statements.filter((sql) => new RegExp(`^select\\b[\\s\\S]*?\\bfrom "${table}" where "id" (=|in)`, 'i').test(sql));

describe.each(ENTITY_CASES)('_entities for $typename', (entity) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.app.close());

  it('answers N references, repeats and an unknown id included, with one store query', async () => {
    const ids = await entity.create(h.app, 4);
    const representations: Representation[] = [...ids, ids[0], entity.unknownId, ids[2]].map((id) => ({ __typename: entity.typename, id }));
    const { result, statements } = await entities(h, representations, entity.selection);
    expect(result.errors).toBeUndefined();
    expect(result.data!._entities.map((e) => e && e.id)).toEqual([...ids, ids[0], null, ids[2]]);
    expect(result.data!._entities.filter(Boolean).every((e) => e!.__typename === entity.typename)).toBe(true);
    const reads = idReads(statements, entity.table);
    expect(reads).toHaveLength(1);
    expect(reads[0]).toMatch(/ in \(/i);
  });

  if (entity.typename === 'CancelTask') {
    it("reads every task's items, and their flows, with one query each, whatever the number of tasks", async () => {
      const ids = await entity.create(h.app, 3);
      const { result, statements, calls } = await entities(
        h,
        ids.map((id) => ({ __typename: 'CancelTask', id })),
        'id items { ok flow { id status } }',
        ['etc'],
      );
      expect(result.errors).toBeUndefined();
      const tasks = result.data!._entities as Array<{ id: string; items: Array<{ ok: boolean | null; flow: { id: string; status: string } }> }>;
      expect(tasks.map((t) => t.items.length)).toEqual([2, 2, 2]);
      expect(tasks.flatMap((t) => t.items.map((i) => [i.ok, i.flow.status]))).toEqual(Array(6).fill([true, 'REVOKED']));
      expect(statements.filter((sql) => /^select\b[\s\S]*?\bfrom "cancel_items"/i.test(sql))).toHaveLength(1);
      expect(idReads(statements, 'flows')).toHaveLength(1);
      expect(calls).toEqual({ etc: [] });
    });
  }
});
