import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { ETC_SANDBOX_APP_ID, ETC_SANDBOX_PRIVATE_KEY, TENCENT_SANDBOX } from '../../src/config';
import { startTestApp, type TestApp } from '../support/app';
import { spawnServer, stopServer, type ServerProcess } from '../support/process';

/**
 * NODE_ENV=production fails closed (docs/security.md "Hardening"): no introspection, no "Did you mean", masked
 * internal errors, provider messages behind codes, a readiness answer without internals, and no start-up at all
 * when a configured provider's callbacks could not be proven genuine.
 */

type Answer = { data?: Record<string, unknown> | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };

async function overHttp(url: string, query: string, variables?: Record<string, unknown>): Promise<Answer & { status: number; contentType: string | null }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  return { ...((await res.json()) as Answer), status: res.status, contentType: res.headers.get('content-type') };
}

/** One operation over a real graphql-ws client: its result, or the errors the server answered instead. */
async function overWebSocket(url: string, query: string, variables?: Record<string, unknown>): Promise<Answer> {
  const client = createClient({ url, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
  try {
    return await new Promise<Answer>((resolve) => {
      let last: Answer = {};
      client.subscribe(
        { query, variables },
        {
          next: (value) => {
            last = value as Answer;
          },
          error: (error) => resolve({ errors: (Array.isArray(error) ? error : [error]) as Answer['errors'] }),
          complete: () => resolve(last),
        },
      );
    });
  } finally {
    await client.dispose();
  }
}

const INTROSPECTION_QUERIES = ['{ __schema { queryType { name } } }', '{ __type(name: "SignFlow") { fields { name } } }', '{ _service { sdl } }'];
const TYPO = '{ signFlw(id: "ETC:abc") { id } }';
const BAD_ENUM = { query: 'query Q($s: SignFlowStatus) { signFlows(status: $s) { pageInfo { hasNextPage } } }', variables: { s: 'SIGNIN' } };

describe('NODE_ENV=production (the real process)', () => {
  let production: ServerProcess;
  let introspective: ServerProcess;
  beforeAll(async () => {
    [production, introspective] = await Promise.all([
      spawnServer({ NODE_ENV: 'production', SANDBOX: 'on' }),
      spawnServer({ NODE_ENV: 'production', SANDBOX: 'on', INTROSPECTION: 'on' }),
    ]);
  }, 60_000);
  afterAll(() => Promise.all([stopServer(production), stopServer(introspective)]));

  it.each(INTROSPECTION_QUERIES)('refuses introspection over HTTP and over the WebSocket: %s', async (query) => {
    for (const answer of [await overHttp(production.graphqlUrl, query), await overWebSocket(production.wsUrl, query)]) {
      expect(answer.data ?? undefined).toBeUndefined();
      expect(answer.errors!.length).toBeGreaterThanOrEqual(1);
      // graphql-js names the introspection field and each field selected under it.
      for (const error of answer.errors!) expect(error.message).toMatch(/^GraphQL introspection has been disabled, but the requested query contained the field "\w+"\.$/);
      expect(answer.errors![0]!.message).toMatch(/"(__schema|__type|_service)"/);
    }
    expect((await overHttp(production.graphqlUrl, query)).errors![0]!.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('still answers __typename, which reveals nothing', async () => {
    expect((await overHttp(production.graphqlUrl, '{ __typename }')).data).toEqual({ __typename: 'Query' });
  });

  it('cuts "Did you mean" from validation and variable errors, over HTTP and over the WebSocket', async () => {
    const answers = [
      await overHttp(production.graphqlUrl, TYPO),
      await overWebSocket(production.wsUrl, TYPO),
      await overHttp(production.graphqlUrl, BAD_ENUM.query, BAD_ENUM.variables),
      await overWebSocket(production.wsUrl, BAD_ENUM.query, BAD_ENUM.variables),
    ];
    expect(answers.map((a) => a.errors?.[0]?.message)).toEqual([
      'Cannot query field "signFlw" on type "Query".',
      'Cannot query field "signFlw" on type "Query".',
      'Variable "$s" got invalid value "SIGNIN"; Value "SIGNIN" does not exist in "SignFlowStatus" enum.',
      'Variable "$s" got invalid value "SIGNIN"; Value "SIGNIN" does not exist in "SignFlowStatus" enum.',
    ]);
    expect(JSON.stringify(answers)).not.toMatch(/Did you mean|signFlows"|SIGNING/);
  });

  it('gives both back with INTROSPECTION=on', async () => {
    expect((await overHttp(introspective.graphqlUrl, INTROSPECTION_QUERIES[0]!)).data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    expect((await overWebSocket(introspective.wsUrl, INTROSPECTION_QUERIES[0]!)).data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    expect((await overHttp(introspective.graphqlUrl, TYPO)).errors![0]!.message).toMatch(/Did you mean "signFlow"/);
    expect((await overWebSocket(introspective.wsUrl, TYPO)).errors![0]!.message).toMatch(/Did you mean "signFlow"/);
  });

  it('answers a body that is not JSON with a JSON BAD_REQUEST: no HTML, no stack, no install path', async () => {
    const res = await fetch(production.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": "{ __typename }"' });
    const text = await res.text();
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(JSON.parse(text)).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'BAD_REQUEST' } }] });
    expect(text).not.toMatch(/<html|<pre|at \w+ \(|node_modules|\/work\/|SyntaxError/i);
  });

  it('says it is ready and nothing else: no versions, no host names', async () => {
    const res = await fetch(`${production.url}/readyz`);
    expect(await res.json()).toEqual({ status: 'ready' });
    expect(res.headers.get('x-powered-by')).toBeNull();
    expect(res.headers.get('server')).toBeNull();
  });
});

describe('NODE_ENV=production (in process)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ env: { NODE_ENV: 'production', SANDBOX: 'on' } });
  });
  afterAll(() => app.close());

  it('masks an internal error behind the request id', async () => {
    const db = new BetterSqlite3(path.join(app.config.dataDir, 'esign.sqlite'));
    db.exec('DROP TABLE cancel_tasks');
    db.close();
    const res = await fetch(app.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'prod-masked-1' },
      body: JSON.stringify({ query: '{ cancelTask(id: "cancel_0123") { id } }' }),
    });
    const json = (await res.json()) as Answer;
    expect(json.errors).toEqual([expect.objectContaining({ message: 'Internal server error (request id prod-masked-1)', extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: 'prod-masked-1' } })]);
    expect(JSON.stringify(json)).not.toMatch(/cancel_tasks|sqlite|stack/i);
  });

  it('says which dependency is down, never why', async () => {
    // The store connection closed under the server: its error names the file and the driver.
    await app.services.store.close();
    const res = await fetch(`${app.url}/readyz`);
    expect(res.status).toBe(503);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ status: 'unavailable', checks: { store: 'unavailable', pubsub: 'ok' } });
    expect(text).not.toMatch(/sqlite|database|closed|\/tmp|Error/i);
  });
});

/** A configured provider (SANDBOX=off) whose callbacks could not be proven genuine never starts silently. */
describe('callback secrets at start-up (the real process, SANDBOX=off)', () => {
  const etc = { SANDBOX: 'off', AUTH: 'off', ETC_GATEWAY_URL: 'http://127.0.0.1:9/etc/api/gateway', ETC_APP_ID: ETC_SANDBOX_APP_ID, ETC_PRIVATE_KEY: ETC_SANDBOX_PRIVATE_KEY };
  const tencent = {
    SANDBOX: 'off',
    AUTH: 'off',
    TENCENT_ESS_ENDPOINT: 'http://127.0.0.1:9/tencent',
    TENCENT_SECRET_ID: TENCENT_SANDBOX.secretId,
    TENCENT_SECRET_KEY: TENCENT_SANDBOX.secretKey,
    TENCENT_ESS_APP_ID: TENCENT_SANDBOX.appId,
    TENCENT_ESS_PROXY_ORG_OPEN_ID: TENCENT_SANDBOX.proxyOrganizationOpenId,
    TENCENT_ESS_PROXY_OPERATOR_OPEN_ID: TENCENT_SANDBOX.proxyOperatorOpenId,
  };
  const startFailure = (env: Record<string, string>) =>
    spawnServer(env).then(
      async (server) => {
        await stopServer(server);
        return undefined;
      },
      (error: Error) => error.message,
    );

  it('exits naming ETC_CALLBACK_SECRET when ETC is configured without it', async () => {
    const failure = await startFailure(etc);
    expect(failure).toMatch(/server exited during start-up/);
    expect(failure).toMatch(/configuration error: ETC_CALLBACK_SECRET: is required when ETC is configured/);
  });

  it('exits naming TENCENT_ESS_CALLBACK_TOKEN, then TENCENT_ESS_CALLBACK_KEY, when Tencent lacks them', async () => {
    expect(await startFailure(tencent)).toMatch(/configuration error: TENCENT_ESS_CALLBACK_TOKEN: is required/);
    expect(await startFailure({ ...tencent, TENCENT_ESS_CALLBACK_TOKEN: 'a-callback-token' })).toMatch(/configuration error: TENCENT_ESS_CALLBACK_KEY: is required/);
  });

  it('starts with …_CALLBACK_VERIFY=off, warning at every start that callbacks are taken unproven', async () => {
    const server = await spawnServer({ ...etc, ...tencent, ETC_CALLBACK_VERIFY: 'off', TENCENT_ESS_CALLBACK_VERIFY: 'off' });
    try {
      expect(server.output()).toMatch(/ETC_CALLBACK_VERIFY=off: \/callbacks\/etc accepts callbacks nobody proved came from ETC/);
      expect(server.output()).toMatch(/TENCENT_ESS_CALLBACK_VERIFY=off: \/callbacks\/tencent-ess accepts callbacks without a Content-Signature/);
    } finally {
      await stopServer(server);
    }
  });

  it('starts quietly with the secrets set, and then refuses an ETC callback without the URL token', async () => {
    const server = await spawnServer({ ...etc, ETC_CALLBACK_SECRET: 'etc-callback-secret-0123456789' });
    try {
      expect(server.output()).not.toMatch(/CALLBACK_VERIFY=off/);
      const body = JSON.stringify({ sign_end_time: '2021-03-22 18:24:29', sign_flow_status: '2', sign_flow_id: 'forged0001', sign_file_url: 'http://x' });
      const res = await fetch(`${server.url}/callbacks/etc`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ response_code: '401' });
    } finally {
      await stopServer(server);
    }
  });
});
