import { startTestApp, waitFor, type TestApp } from '../support/app';

/**
 * Compiled execution (graphql-jit behind Apollo's executor, src/graphql/compiled-execution.ts) must answer exactly as
 * graphql-js does. Two real servers, one compiled and one with GRAPHQL_JIT=off, hold the same flows (same ids, same
 * events, created in the same order); every operation below goes to both over HTTP and the answers — status, data,
 * errors with their codes, paths and locations — must be identical, with the compiled answers checked for substance
 * too so that two equally broken servers cannot pass.
 */

const SIGNING = '5a0c1e7d2b3f4a6c8d9e0f1a2b3c4d5e';
const COMPLETED = '6b1d2f8e3c4a5b7d9eaf1b2c3d4e5f60';
const FAILING = '7c2e3a9f4d5b6c8eafb02c3d4e5f6a71';

async function prepare(app: TestApp): Promise<void> {
  await app.admin('/etc/flows', { status: 'SIGNING', flowId: SIGNING });
  await app.admin('/etc/flows', { status: 'SIGNING', flowId: COMPLETED });
  // Read through once each (one SYNC event), then complete one by the provider's callback (a second event).
  await app.gql(`{ a: signFlow(id: "ETC:${SIGNING}") { id } b: signFlow(id: "ETC:${COMPLETED}") { id } }`);
  await app.admin(`/etc/flows/${COMPLETED}/transition`, { status: 'COMPLETED' });
  await waitFor(
    async () => {
      const r = await app.gql<{ signFlow: { status: string } }>(`{ signFlow(id: "ETC:${COMPLETED}") { status } }`);
      return r.data?.signFlow.status === 'COMPLETED';
    },
    { what: 'the completion callback to be stored' },
  );
}

const FLOW_FIELDS = 'id provider providerFlowId status providerStatus events(first: 5) { edges { cursor node { id status source } } pageInfo { hasNextPage endCursor } }';

/** [name, query, variables, operationName]: reads, fragments, aliases, directives, variables, errors, entities. */
const OPERATIONS: Array<[string, string, Record<string, unknown>?, string?]> = [
  ['read with variables', `query Flow($id: ID!) { signFlow(id: $id) { ${FLOW_FIELDS} } }`, { id: `ETC:${COMPLETED}` }],
  [
    'aliases, fragments, inline fragments, __typename',
    `query { done: signFlow(id: "ETC:${COMPLETED}") { ...F } open: signFlow(id: "ETC:${SIGNING}") { ... on SignFlow { __typename id status } } }
     fragment F on SignFlow { __typename id status events(first: 1) { edges { node { status } } pageInfo { hasNextPage } } }`,
  ],
  [
    '@skip / @include by variables',
    `query ($withEvents: Boolean!, $skipStatus: Boolean!) { signFlow(id: "ETC:${COMPLETED}") { id status @skip(if: $skipStatus) events @include(if: $withEvents) { edges { node { id } } } } }`,
    { withEvents: true, skipStatus: true },
  ],
  ['a connection with arguments and defaults', `{ signFlows(provider: ETC, first: 1) { edges { node { id status } } pageInfo { hasNextPage } } all: signFlows { edges { node { id } } } }`],
  ['an id in the wrong form (INVALID_ID, partial data)', `{ good: signFlow(id: "ETC:${COMPLETED}") { id } bad: signFlow(id: "nonsense") { id } }`],
  ['a provider error mapped to its code', `{ signFlow(id: "ETC:${FAILING}") { id status } }`],
  ['a variable that does not coerce (400 BAD_USER_INPUT)', 'query ($first: Int) { signFlows(first: $first) { edges { node { id } } } }', { first: 'many' }],
  ['an operation name the document lacks', 'query A { __typename }', {}, 'B'],
  ['one operation of several, by name', `query A { __typename } query B { signFlow(id: "ETC:${SIGNING}") { id status } }`, {}, 'B'],
  [
    '_entities by both keys',
    'query ($r: [_Any!]!) { _entities(representations: $r) { __typename ... on SignFlow { id status providerStatus } } }',
    { r: [{ __typename: 'SignFlow', id: `ETC:${COMPLETED}` }, { __typename: 'SignFlow', provider: 'ETC', providerFlowId: SIGNING }, { __typename: 'SignFlow', id: 'ETC:ffffffffffffffffffffffffffffffff' }] },
  ],
  ['introspection', '{ __type(name: "SignFlow") { name kind fields { name } } }'],
  ['a mutation with userErrors', `mutation { revokeSignFlow(input: { id: "ETC:${COMPLETED}", etcMemberNo: "M001" }) { flow { id status } userErrors { code field message } } }`],
];

async function answer(app: TestApp, query: string, variables?: Record<string, unknown>, operationName?: string) {
  const res = await fetch(app.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables, operationName }) });
  const body = (await res.json()) as { data?: unknown; errors?: Array<{ extensions?: Record<string, unknown> }> };
  // Request ids (ours and the provider's) differ per request by design; everything else must match.
  for (const error of body.errors ?? []) {
    delete error.extensions?.requestId;
    delete error.extensions?.providerRequestId;
  }
  return { status: res.status, body };
}

describe('compiled execution answers exactly as graphql-js', () => {
  let compiled: TestApp;
  let standard: TestApp;
  beforeAll(async () => {
    compiled = await startTestApp();
    standard = await startTestApp({ env: { GRAPHQL_JIT: 'off' } });
    for (const app of [compiled, standard]) {
      await prepare(app);
      // Reads of this flow fail at the provider: ETC answers 验签失败 (401001) to every call.
      await app.admin('/faults', { provider: 'etc', kind: 'error', code: '401001', message: '验签失败' });
    }
  }, 30_000);
  afterAll(async () => {
    await compiled?.close();
    await standard?.close();
  });

  it.each(OPERATIONS.map(([name, query, variables, operationName]) => ({ name, query, variables, operationName })))('$name', async ({ query, variables, operationName }) => {
    const a = await answer(compiled, query, variables, operationName);
    const b = await answer(standard, query, variables, operationName);
    expect(a).toEqual(b);
    // Twice: the second run uses the compiled query cached for this document.
    expect(await answer(compiled, query, variables, operationName)).toEqual(a);
  });

  it('runs the operations compiled (and the standard server with graphql-js)', async () => {
    const executions = async (app: TestApp) => {
      const text = await (await fetch(`${app.url}/metrics`)).text();
      const count = (engine: string) => Number(new RegExp(`^graphql_executions_total\\{engine="${engine}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
      return { compiled: count('compiled'), standard: count('graphql-js') };
    };
    const before = await executions(compiled);
    await answer(compiled, OPERATIONS[0]![1], OPERATIONS[0]![2]);
    await answer(compiled, OPERATIONS[7]![1], OPERATIONS[7]![2], OPERATIONS[7]![3]);
    expect(await executions(compiled)).toEqual({ compiled: before.compiled + 1, standard: before.standard + 1 });
    expect((await executions(standard)).compiled).toBe(0);
  });

  it('answers the reads with the stored flows and their events', async () => {
    const { body } = await answer(compiled, OPERATIONS[0]![1], OPERATIONS[0]![2]);
    expect(body).toEqual({
      data: {
        signFlow: {
          id: `ETC:${COMPLETED}`,
          provider: 'ETC',
          providerFlowId: COMPLETED,
          status: 'COMPLETED',
          providerStatus: '2',
          events: {
            edges: [
              { cursor: expect.any(String), node: { id: expect.any(String), status: 'SIGNING', source: 'SYNC' } },
              { cursor: expect.any(String), node: { id: expect.any(String), status: 'COMPLETED', source: 'CALLBACK' } },
            ],
            pageInfo: { hasNextPage: false, endCursor: expect.any(String) },
          },
        },
      },
    });
  });

  it('keeps error codes, paths and partial data', async () => {
    const invalid = await answer(compiled, OPERATIONS[4]![1]);
    expect(invalid.body.data).toEqual({ good: { id: `ETC:${COMPLETED}` }, bad: null });
    expect(invalid.body.errors).toEqual([expect.objectContaining({ path: ['bad'], locations: [expect.any(Object)], extensions: expect.objectContaining({ code: 'INVALID_ID' }) })]);
    const provider = await answer(compiled, OPERATIONS[5]![1]);
    expect(provider.body.errors?.[0]?.extensions).toMatchObject({ code: 'PROVIDER_UNAUTHENTICATED', provider: 'ETC', providerCode: '401001' });
    const variable = await answer(compiled, OPERATIONS[6]![1], OPERATIONS[6]![2]);
    expect(variable.status).toBe(200);
    expect(variable.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
  });
});
