import http from 'node:http';
import { gzipSync } from 'node:zlib';
import { startTestApp, type TestApp } from '../support/app';

/**
 * POST /graphql with a JSON body is served ahead of Express (src/graphql/http-endpoint.ts); everything else on
 * /graphql still goes through Express. Both must answer alike: these are the edges of the first path and the
 * hand-over to the second.
 */

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A raw request, so the test controls Content-Length, chunking and encoding. */
function raw(app: TestApp, headers: Record<string, string | number>, body: Buffer | string | Array<Buffer | string>): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${app.graphqlUrl}`, { method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    for (const part of Array.isArray(body) ? body : [body]) req.write(part);
    req.end();
  });
}

const code = (r: Raw) => (JSON.parse(r.body) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code;
const JSON_TYPE = { 'content-type': 'application/json' };
const TYPENAME = JSON.stringify({ query: '{ __typename }' });

describe('POST /graphql ahead of Express', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());

  it('answers a query with its length, no-store and the request id it was given', async () => {
    const r = await raw(app, { ...JSON_TYPE, 'x-request-id': 'post-path-1' }, TYPENAME);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ data: { __typename: 'Query' } });
    expect(r.headers['x-request-id']).toBe('post-path-1');
    expect(r.headers['content-length']).toBe(String(Buffer.byteLength(r.body)));
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.headers['content-type']).toMatch(/^application\/json/);
  });

  it('refuses a body over 1 MB, declared or streamed, with a JSON 413', async () => {
    const big = `{"query":"{ __typename }","variables":{"pad":"${'x'.repeat(1024 * 1024)}"}}`;
    const declared = await raw(app, { ...JSON_TYPE, 'content-length': Buffer.byteLength(big) }, big);
    expect(declared.status).toBe(413);
    expect(code(declared)).toBe('PAYLOAD_TOO_LARGE');
    const streamed = await raw(app, { ...JSON_TYPE, 'transfer-encoding': 'chunked' }, [big.slice(0, 600_000), big.slice(600_000)]);
    expect(streamed.status).toBe(413);
    expect(JSON.parse(streamed.body)).toEqual({ errors: [{ message: 'the body is larger than 1 MB', extensions: { code: 'PAYLOAD_TOO_LARGE' } }] });
    // The server is still there for the next request.
    expect((await raw(app, JSON_TYPE, TYPENAME)).status).toBe(200);
  });

  it('refuses JSON that is not an object or array, and bodies that do not parse, as Express did', async () => {
    for (const body of ['"a string"', '{"query": ', 'null']) {
      const r = await raw(app, JSON_TYPE, body);
      expect(r.status).toBe(400);
      expect(code(r)).toBe('BAD_REQUEST');
    }
  });

  it('leaves compressed and non-UTF-8 bodies to Express, which reads or refuses them', async () => {
    const gzipped = await raw(app, { ...JSON_TYPE, 'content-encoding': 'gzip' }, gzipSync(TYPENAME));
    expect(gzipped.status).toBe(200);
    expect(JSON.parse(gzipped.body)).toEqual({ data: { __typename: 'Query' } });
    const latin1 = await raw(app, { 'content-type': 'application/json; charset=iso-8859-1' }, TYPENAME);
    expect(latin1.status).toBe(415);
    expect(code(latin1)).toBe('UNSUPPORTED_MEDIA_TYPE');
    const utf8 = await raw(app, { 'content-type': 'application/json; charset=UTF-8' }, TYPENAME);
    expect(utf8.status).toBe(200);
  });

  it('keeps Apollo\'s CSRF prevention for bodies that are not JSON', async () => {
    const r = await raw(app, { 'content-type': 'text/plain' }, TYPENAME);
    expect(r.status).toBe(400);
  });
});

/** Provider callbacks are dispatched by exact path from node:http too (src/callbacks/direct.ts). */
describe('callbacks ahead of Express', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());

  const etc = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${app.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const completed = (flowId: string) => JSON.stringify({ sign_end_time: '2026-11-23 10:00:00', sign_flow_status: '2', sign_flow_id: flowId, sign_file_url: '' });

  it('stores a callback with the request id it came with, and takes the other spellings through Express alike', async () => {
    const direct = await etc('/callbacks/etc', completed('a1b2c3d4e5f60718293a4b5c6d7e8f90'), { 'x-request-id': 'callback-direct-1' });
    expect(direct.status).toBe(200);
    expect(direct.headers.get('x-request-id')).toBe('callback-direct-1');
    expect(await direct.json()).toEqual({ response_code: '000' });
    const slash = await etc('/callbacks/etc/', completed('b1b2c3d4e5f60718293a4b5c6d7e8f90'));
    expect(slash.status).toBe(200);
    expect(await slash.json()).toEqual({ response_code: '000' });
    const stored = await app.gql<{ a: { status: string }; b: { status: string } }>(
      '{ a: signFlow(id: "ETC:a1b2c3d4e5f60718293a4b5c6d7e8f90") { status } b: signFlow(id: "ETC:b1b2c3d4e5f60718293a4b5c6d7e8f90") { status } }',
    );
    expect(stored.data).toEqual({ a: { status: 'COMPLETED' }, b: { status: 'COMPLETED' } });
  });

  it('answers a malformed or oversized callback with the receiver\'s own JSON refusal', async () => {
    const malformed = await etc('/callbacks/etc', '{not json');
    expect(malformed.status).toBe(400);
    expect(malformed.headers.get('content-type')).toMatch(/^application\/json/);
    const big = await etc('/callbacks/etc', `{"pad":"${'x'.repeat(9 * 1024)}"}`);
    expect(big.status).toBe(413);
    expect(await big.json()).toEqual({ code: 'PAYLOAD_TOO_LARGE', message: 'the body is larger than 8 KB, the most this callback ever needs' });
  });
});
