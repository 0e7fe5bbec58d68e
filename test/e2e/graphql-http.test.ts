import { auditServer, type AuditResult } from 'graphql-http';
import { preferredResponseType } from '../../src/graphql/over-http';
import { startTestApp, type TestApp } from '../support/app';

/**
 * The graphql-http package's server audits (GraphQL over HTTP spec) against the real server. The README lists the
 * results; the only results that are not `ok` are these MAY-level notices, kept on purpose: Apollo Server's CSRF
 * prevention refuses a GET that carries neither a non-simple content-type nor a preflight header
 * (`apollo-require-preflight`, `x-apollo-operation-name`), because a browser can send such a GET cross-site.
 */
const DELIBERATE_NOTICES: Record<string, string> = {
  '5A70': 'MAY accept application/x-www-form-urlencoded formatted GET requests',
  '6A70': 'MAY allow URL-encoded JSON string {variables} parameter in GETs when accepting application/json',
  D6D5: 'MAY allow URL-encoded JSON string {variables} parameter in GETs when accepting application/graphql-response+json',
};

const describeResult = (r: AuditResult) => `${r.id} ${r.name}${r.status === 'ok' ? '' : `: ${r.reason}`}`;

describe('GraphQL over HTTP (graphql-http server audits)', () => {
  let app: TestApp;
  let results: AuditResult[];
  beforeAll(async () => {
    app = await startTestApp();
    results = await auditServer({ url: app.graphqlUrl });
  });
  afterAll(() => app.close());

  it('passes every MUST audit', () => {
    expect(results.filter((r) => r.name.startsWith('MUST')).length).toBeGreaterThan(10);
    expect(results.filter((r) => r.status === 'error').map(describeResult)).toEqual([]);
  });

  it('has no warnings, and no notice other than the deliberate CSRF ones', () => {
    expect(results.filter((r) => r.status === 'warn').map(describeResult)).toEqual([]);
    const notices = results.filter((r) => r.status === 'notice');
    expect(Object.fromEntries(notices.map((r) => [r.id, r.name]))).toEqual(DELIBERATE_NOTICES);
  });

  const post = (accept: string, query: string) =>
    fetch(app.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', accept }, body: JSON.stringify({ query }) });

  it('answers request errors with 200 under application/json and with 400 under application/graphql-response+json', async () => {
    for (const [query, code] of [
      ['{', 'GRAPHQL_PARSE_FAILED'],
      ['{ nope }', 'GRAPHQL_VALIDATION_FAILED'],
    ] as const) {
      const legacy = await post('application/json', query);
      expect([legacy.status, legacy.headers.get('content-type')]).toEqual([200, 'application/json; charset=utf-8']);
      expect(((await legacy.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0].extensions.code).toBe(code);

      const modern = await post('application/graphql-response+json, application/json;q=0.9', query);
      expect([modern.status, modern.headers.get('content-type')]).toEqual([400, 'application/graphql-response+json; charset=utf-8']);
      expect(((await modern.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0].extensions.code).toBe(code);
    }
    // Variables that do not coerce are request errors too.
    const coercion = await fetch(app.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ query: 'query ($id: ID!) { signFlow(id: $id) { id } }', variables: { id: { not: 'an id' } } }),
    });
    expect(coercion.status).toBe(200);
    expect(((await coercion.json()) as { errors: Array<{ extensions: { code: string } }>; data?: unknown }).errors[0].extensions.code).toBe('BAD_USER_INPUT');
    // So is an operationName that names no operation of the document.
    const unknownOperation = await fetch(app.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ query: 'query A { __typename }', operationName: 'B' }),
    });
    expect(unknownOperation.status).toBe(200);
    expect(((await unknownOperation.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0].extensions.code).toBe('OPERATION_RESOLUTION_FAILURE');
  });

  it('keeps 4xx for requests that are not well-formed GraphQL over HTTP', async () => {
    const mutationOverGet = await fetch(`${app.graphqlUrl}?query=${encodeURIComponent('mutation { __typename }')}`, {
      headers: { accept: 'application/json', 'apollo-require-preflight': 'true' },
    });
    expect(mutationOverGet.status).toBe(405);
    const noQuery = await fetch(app.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: '{}' });
    expect(noQuery.status).toBe(400);
    const notJson = await fetch(app.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: '{"query":' });
    expect(notJson.status).toBe(400);
  });

  it('serves queries over GET to a client that sends a preflight header, and refuses a simple cross-site GET', async () => {
    const url = `${app.graphqlUrl}?query=${encodeURIComponent('{ signFlows(first: 1) { pageInfo { hasNextPage } } }')}`;
    const simple = await fetch(url, { headers: { accept: 'application/json' } });
    expect(simple.status).toBe(400);
    expect(await simple.text()).toMatch(/Cross-Site Request Forgery/);
    const preflighted = await fetch(url, { headers: { accept: 'application/json', 'apollo-require-preflight': 'true' } });
    expect(preflighted.status).toBe(200);
    expect(await preflighted.json()).toEqual({ data: { signFlows: { pageInfo: { hasNextPage: false } } } });
  });
});

describe('preferredResponseType (the media type Apollo Server negotiates)', () => {
  it.each([
    [undefined, 'application/json'],
    ['', 'application/json'],
    ['application/json', 'application/json'],
    ['*/*', 'application/json'],
    ['application/*', 'application/json'],
    ['application/graphql-response+json', 'application/graphql-response+json'],
    ['application/graphql-response+json, application/json;q=0.9', 'application/graphql-response+json'],
    ['application/json, application/graphql-response+json', 'application/json'],
    ['application/graphql-response+json, application/json', 'application/graphql-response+json'],
    ['application/json;q=0, */*', 'application/graphql-response+json'],
    ['application/json;q=0.5, application/*;q=1', 'application/graphql-response+json'],
    ['application/graphql-response+json;q=0.5, application/*', 'application/json'],
    ['application/json; charset=utf-8', undefined],
    ['text/html', undefined],
  ])('%j → %s', (accept, expected) => {
    expect(preferredResponseType(accept)).toBe(expected);
  });
});
