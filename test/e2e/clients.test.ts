import { loadIdeConfig } from '../../src/graphql/ide';
import { loadConfig } from '../../src/config';
import { collect, startTestApp, type TestApp } from '../support/app';

/**
 * What a frontend developer meets first, over real HTTP: the IDE page and its assets, `GET /`, CORS and CSRF, clear
 * errors for malformed ids and for subscriptions sent over plain HTTP. (The IDE working in a browser, offline, is
 * test/e2e/browser.test.ts.)
 */
type Errors = Array<{ message: string; extensions?: Record<string, unknown> }> | undefined;

describe('IDE, CORS and clear errors', () => {
  let app: TestApp;
  const ORIGIN = 'http://localhost:5173';

  beforeAll(async () => {
    app = await startTestApp({ env: { CORS_ORIGINS: `${ORIGIN}, https://app.example.com` } });
  });
  afterAll(async () => {
    await app?.close();
  });

  describe('the IDE', () => {
    it('GET /graphql from a browser is GraphiQL, whose page and assets all come from this server', async () => {
      const res = await fetch(app.graphqlUrl, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("connect-src 'self'");
      const html = await res.text();
      expect(html).toContain('esign-lifecycle GraphiQL');
      // Every URL the page loads is a path on this server.
      const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
      expect(urls.length).toBeGreaterThanOrEqual(4);
      for (const url of urls) expect(url).toMatch(/^\/graphql\/ide\//);
      expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/);
      for (const url of urls) {
        const asset = await fetch(`${app.url}${url}`);
        expect(asset.status).toBe(200);
        expect(asset.headers.get('cache-control')).toContain('immutable');
        await asset.arrayBuffer();
      }
      // The options carry the three example operations and the WebSocket protocol.
      const options = JSON.parse(/<script type="application\/json" id="ide-options">(.*?)<\/script>/s.exec(html)![1]!) as {
        subscriptionsProtocol: string;
        defaultTabs: Array<{ query: string }>;
        workers: Record<string, string>;
      };
      expect(options.subscriptionsProtocol).toBe('WS');
      expect(options.defaultTabs.map((t) => /(query|mutation|subscription) (\w+)/.exec(t.query)?.[1])).toEqual(['query', 'mutation', 'subscription']);
      for (const worker of Object.values(options.workers)) expect((await fetch(`${app.url}${worker}`)).status).toBe(200);
    });

    it('GET / leads to the IDE; JSON clients of GET /graphql still get GraphQL', async () => {
      const root = await fetch(`${app.url}/`, { redirect: 'manual' });
      expect(root.status).toBe(302);
      expect(root.headers.get('location')).toBe('/graphql');
      const query = await fetch(`${app.graphqlUrl}?query=${encodeURIComponent('{ __typename }')}`, { headers: { accept: 'application/json', 'apollo-require-preflight': 'true' } });
      expect(await query.json()).toEqual({ data: { __typename: 'Query' } });
    });

    it('IDE=off serves no page and no assets, and / is not found', async () => {
      const off = await startTestApp({ env: { IDE: 'off' } });
      try {
        const page = await fetch(off.graphqlUrl, { headers: { accept: 'text/html' } });
        expect(page.headers.get('content-type')).not.toMatch(/text\/html/);
        expect((await page.text()).toLowerCase()).not.toContain('graphiql');
        expect((await fetch(`${off.url}/graphql/ide/boot.js`)).headers.get('content-type')).not.toMatch(/javascript/);
        expect((await fetch(`${off.url}/`, { redirect: 'manual' })).status).toBe(404);
      } finally {
        await off.close();
      }
    });

    it('is off in production unless IDE=on; a bad value stops start-up naming IDE', () => {
      expect(loadIdeConfig({})).toEqual({ enabled: true });
      expect(loadIdeConfig({ NODE_ENV: 'production' })).toEqual({ enabled: false });
      expect(loadIdeConfig({ NODE_ENV: 'production', IDE: 'on' })).toEqual({ enabled: true });
      expect(loadIdeConfig({ IDE: 'off' })).toEqual({ enabled: false });
      expect(() => loadIdeConfig({ IDE: 'yes' })).toThrow('IDE: must be "on" or "off"');
    });
  });

  describe('CORS', () => {
    const preflight = (origin: string) =>
      fetch(app.graphqlUrl, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, apollo-require-preflight' },
      });

    it('answers the preflight of a listed origin, with credentials and the headers a web app sends', async () => {
      const res = await preflight(ORIGIN);
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN);
      expect(res.headers.get('access-control-allow-credentials')).toBe('true');
      const allowed = (res.headers.get('access-control-allow-headers') ?? '').split(',');
      expect(allowed).toEqual(expect.arrayContaining(['authorization', 'content-type', 'apollo-require-preflight']));
      expect(res.headers.get('vary')).toContain('Origin');

      const post = await fetch(app.graphqlUrl, { method: 'POST', headers: { origin: ORIGIN, 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) });
      expect(post.headers.get('access-control-allow-origin')).toBe(ORIGIN);
      expect(post.headers.get('access-control-expose-headers')).toContain('x-request-id');
      expect(await post.json()).toEqual({ data: { __typename: 'Query' } });

      const stream = await fetch(`${app.url}/graphql/stream`, {
        method: 'OPTIONS',
        headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
      expect(stream.status).toBe(204);
      expect(stream.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    });

    it('gives any other origin no CORS headers at all', async () => {
      const res = await preflight('https://evil.example');
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
      const post = await fetch(app.graphqlUrl, { method: 'POST', headers: { origin: 'https://evil.example', 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) });
      expect(post.headers.get('access-control-allow-origin')).toBeNull();
    });

    it('keeps CSRF prevention: a simple request (no preflight) that could carry a mutation is refused', async () => {
      const mutation = 'mutation { revokeSignFlow(input: { id: "ETC:9a8b7c6d5e4f30211f2e3d4c5b6a7980", etcMemberNo: "40eb61714d9e49088bac7a3c56d69d66" }) { userErrors { code } } }';
      const form = await fetch(app.graphqlUrl, { method: 'POST', headers: { origin: 'https://evil.example', 'content-type': 'text/plain' }, body: JSON.stringify({ query: mutation }) });
      expect(form.status).toBe(400);
      const get = await fetch(`${app.graphqlUrl}?query=${encodeURIComponent('{ signFlows { edges { node { id } } } }')}`, { headers: { origin: 'https://evil.example' } });
      expect(get.status).toBe(400);
      expect(JSON.stringify(await get.json())).toMatch(/CSRF|preflight/i);
    });

    it('"*" is refused in production and accepted outside it', () => {
      const base = { SANDBOX: 'on', PORT: '0' };
      expect(() => loadConfig({ ...base, NODE_ENV: 'production', CORS_ORIGINS: '*' })).toThrow(/CORS_ORIGINS/);
      expect(loadConfig({ ...base, CORS_ORIGINS: '*' }).auth.corsOrigins).toEqual(['*']);
    });
  });

  describe('clear errors', () => {
    const codes = (errors: Errors) => (errors ?? []).map((e) => e.extensions?.code);

    it.each([
      ['signFlow', '{ signFlow(id: "foo") { id } }', 'SignFlow'],
      ['signFlow, lower-case provider', '{ signFlow(id: "etc:c64665aa4f1c45679e65b6fae33cd773") { id } }', 'SignFlow'],
      ['signFlow, unknown provider', '{ signFlow(id: "DOCUSIGN:x") { id } }', 'SignFlow'],
      ['cancelTask', '{ cancelTask(id: "ETC:1") { id } }', 'CancelTask'],
      ['rescission', '{ rescission(id: "ETC:abc") { id } }', 'Rescission'],
      ['autoDebit', '{ autoDebit(id: "298222562856331071") { id } }', 'AutoDebit'],
      ['_entities', '{ _entities(representations: [{ __typename: "SignFlow", id: "nope" }]) { ... on SignFlow { id } } }', 'SignFlow'],
    ])('%s: a malformed id is INVALID_ID naming the form expected', async (_name, query, kind) => {
      const res = await app.gql(query);
      expect(codes(res.errors)).toEqual(['INVALID_ID']);
      const error = res.errors![0]!;
      expect(error.message).toContain(`valid ${kind} id`);
      expect(error.message).toMatch(/e\.g\. \S+/);
      expect(error.extensions?.expected).toEqual(expect.any(String));
    });

    it('a well-formed id of a record that does not exist is still null, not an error', async () => {
      const res = await app.gql('{ cancelTask(id: "cancel_00000000000000000000000000000000") { id } rescission(id: "ESIGN:nothere") { id } }');
      expect(res.errors).toBeUndefined();
      expect(res.data).toEqual({ cancelTask: null, rescission: null });
    });

    it('mutations answer a malformed id as a userError INVALID_ID naming the field', async () => {
      const res = await app.gql<{ revokeSignFlow: { userErrors: Array<{ code: string; field: string[] }> }; cancelSignFlows: { userErrors: Array<{ code: string; field: string[] }> } }>(
        'mutation { revokeSignFlow(input: { id: "foo" }) { userErrors { code field } } cancelSignFlows(input: { ids: ["ETC:ok1", "bad"] }) { userErrors { code field } } }',
      );
      expect(res.data?.revokeSignFlow.userErrors).toEqual([{ code: 'INVALID_ID', field: ['input', 'id'] }]);
      expect(res.data?.cancelSignFlows.userErrors).toEqual([{ code: 'INVALID_ID', field: ['input', 'ids', '1'] }]);
    });

    it('subscription id filters are checked too, over the WebSocket', async () => {
      const flows = collect(app.ws(), 'subscription { signFlowEvents(ids: ["ETC:ok", "flow-2"]) { id } }');
      await flows.done;
      const [error] = flows.errors as Array<{ message: string; extensions: { code: string } }>;
      expect(error?.extensions.code).toBe('INVALID_ID');
      expect(error?.message).toContain('ids[1]');
      const debits = collect(app.ws(), 'subscription { autoDebitEvents(ids: ["YUANSFER:"]) { id } }');
      await debits.done;
      expect((debits.errors as Array<{ extensions: { code: string } }>)[0]?.extensions.code).toBe('INVALID_ID');
      const task = collect(app.ws(), 'subscription { cancelTaskProgress(id: "42") { id } }');
      await task.done;
      expect((task.errors as Array<{ extensions: { code: string } }>)[0]?.extensions.code).toBe('INVALID_ID');
    });

    it('a subscription posted to /graphql says where subscriptions are served', async () => {
      const res = await app.gql('subscription { signFlowEvents { id } }');
      expect(res.status).toBe(200);
      expect(codes(res.errors)).toEqual(['SUBSCRIPTION_OVER_HTTP']);
      expect(res.errors![0]!.message).toContain('/graphql/stream');
      expect(res.errors![0]!.message).toContain('graphql-ws');
      // A client that reads application/graphql-response+json gets the 4xx the GraphQL-over-HTTP spec gives it.
      const strict = await fetch(app.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
        body: JSON.stringify({ query: 'subscription { signFlowEvents { id } }' }),
      });
      expect(strict.status).toBe(400);
      expect(codes(((await strict.json()) as { errors: Errors }).errors)).toEqual(['SUBSCRIPTION_OVER_HTTP']);
    });
  });
});
