import fc from 'fast-check';
import { startTestApp, type TestApp } from '../support/app';

/**
 * Every mutation over real HTTP with generated input (any text, ids of every shape, URLs of every scheme, lists of
 * any length, against the real emulators): each answer is a GraphQL response with `userErrors` or a coded error,
 * never a 5xx and never INTERNAL_SERVER_ERROR.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 20261203);
const PER_MUTATION = 40;

const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('', ' ', '合同有误', '\u0000', 'a'.repeat(300)));
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const id = fc.oneof(text, text.map((t) => `ETC:${t}`), text.map((t) => `TENCENT_ESS:${t}`), text.map((t) => `ESIGN:${t}`), fc.constantFrom('ETC:c64665aa4f1c45679e65b6fae33cd773', 'DOCUSIGN:x', 'ETC:'));
const url = fc.oneof(fc.webUrl(), text, fc.constantFrom('javascript:alert(1)', 'http://127.0.0.1:1/x', 'https://shop.example.com/x', 'http://[::1]/x', 'http://169.254.169.254/'));

const MUTATIONS: Array<{ name: string; query: string; input: fc.Arbitrary<Record<string, unknown>> }> = [
  {
    name: 'revokeSignFlow',
    query: 'mutation ($input: RevokeSignFlowInput!) { revokeSignFlow(input: $input) { signFlow { id } userErrors { code field message } } }',
    input: fc.record({ id, reason: maybe(text), etcMemberNo: maybe(text), cancelMessageFormat: maybe(fc.constantFrom('DEFAULT', 'INITIATOR_ONLY', 'ORGANIZATION')), idempotencyKey: maybe(text) }),
  },
  {
    name: 'cancelSignFlows',
    query: 'mutation ($input: CancelSignFlowsInput!) { cancelSignFlows(input: $input) { task { id } userErrors { code field message } } }',
    input: fc.record({ ids: fc.array(id, { maxLength: 8 }), reason: maybe(text), etcMemberNo: maybe(text), idempotencyKey: maybe(text) }),
  },
  {
    name: 'initiateRescission',
    query: 'mutation ($input: InitiateRescissionInput!) { initiateRescission(input: $input) { rescission { id } userErrors { code field message } } }',
    input: fc.record({
      signFlowId: id,
      fileIds: fc.array(text, { maxLength: 12 }),
      reason: fc.constantFrom('WRONG_TERMS', 'OTHER'),
      notes: maybe(text),
      initiator: fc.record({ person: maybe(fc.record({ psnId: text })), organization: maybe(fc.record({ orgId: text, transactorPsnId: text })) }),
      notifyUrl: maybe(url),
      idempotencyKey: maybe(text),
    }),
  },
  {
    name: 'startAutoDebit',
    query: 'mutation ($input: StartAutoDebitInput!) { startAutoDebit(input: $input) { autoDebit { id } authUrl userErrors { code field message } } }',
    input: fc.record({
      vendor: fc.oneof(fc.constantFrom('alipay', 'gcash'), text),
      terminal: fc.constantFrom('ONLINE', 'WAP', 'APP'),
      redirectUrl: url,
      reference: maybe(text),
      note: maybe(text),
      osType: maybe(fc.constantFrom('IOS', 'ANDROID')),
      osVersion: maybe(text),
      merchantNo: maybe(text),
      storeNo: maybe(text),
    }),
  },
  {
    name: 'revokeAutoDebit',
    query: 'mutation ($input: RevokeAutoDebitInput!) { revokeAutoDebit(input: $input) { autoDebit { id } userErrors { code field message } } }',
    input: fc.record({ autoDebitNo: text, merchantNo: maybe(text), storeNo: maybe(text), idempotencyKey: maybe(text) }),
  },
];

describe(`mutations under fuzzing (${MUTATIONS.length * PER_MUTATION} generated inputs, seed ${SEED})`, () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ env: { YUANSFER_REDIRECT_ORIGINS: 'https://shop.example.com' } });
  });
  afterAll(() => app.close());

  it.each(MUTATIONS.map((m) => [m.name, m] as const))('%s: userErrors or coded errors, never a 5xx or an internal error', async (_name, mutation) => {
    const inputs = fc.sample(mutation.input, { numRuns: PER_MUTATION, seed: SEED });
    const bad: unknown[] = [];
    for (const input of inputs) {
      const variables = { input: JSON.parse(JSON.stringify(input)) as Record<string, unknown> };
      const res = await fetch(app.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: mutation.query, variables }) });
      const json = (await res.json()) as { data?: Record<string, { userErrors: unknown[] } | null>; errors?: Array<{ extensions?: { code?: string } }> };
      const internal = json.errors?.some((e) => !e.extensions?.code || e.extensions.code === 'INTERNAL_SERVER_ERROR');
      const answered = json.data?.[mutation.name] !== undefined || (json.errors?.length ?? 0) > 0;
      if (res.status >= 500 || internal || !answered) bad.push({ status: res.status, input, json });
    }
    expect(bad).toEqual([]);
  }, 60_000);

  it('stays healthy afterwards', async () => {
    expect(await (await fetch(`${app.url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect((await app.gql('{ __typename }')).data).toEqual({ __typename: 'Query' });
  });
});
