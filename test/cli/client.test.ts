import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiClient, CliError, describeSubscriptionError, endpointFrom, networkCause } from '../../src/cli/client';
import { freePort } from '../support/process';

describe('endpointFrom', () => {
  it('derives the GraphQL and WebSocket URLs from the base: http→ws, https→wss, path /graphql', () => {
    expect(endpointFrom('http://127.0.0.1:4000')).toEqual({
      display: 'http://127.0.0.1:4000',
      graphqlUrl: 'http://127.0.0.1:4000/graphql',
      wsUrl: 'ws://127.0.0.1:4000/graphql',
      token: undefined,
    });
    expect(endpointFrom('https://api.example.com/esign/')).toMatchObject({
      display: 'https://api.example.com/esign',
      graphqlUrl: 'https://api.example.com/esign/graphql',
      wsUrl: 'wss://api.example.com/esign/graphql',
    });
    // What people paste from an IDE: the endpoint itself.
    expect(endpointFrom('http://localhost:4000/graphql')).toMatchObject({ graphqlUrl: 'http://localhost:4000/graphql', wsUrl: 'ws://localhost:4000/graphql' });
  });

  it('never keeps user:password, query or fragment in what it prints or calls', () => {
    const e = endpointFrom('http://ops:s3cret@10.0.0.5:4000/?token=abc#x', ' tok ');
    expect(e).toEqual({ display: 'http://10.0.0.5:4000', graphqlUrl: 'http://10.0.0.5:4000/graphql', wsUrl: 'ws://10.0.0.5:4000/graphql', token: 'tok' });
    expect(endpointFrom('http://x', '  ').token).toBeUndefined();
  });

  it('refuses what is not an http(s) URL without echoing it', () => {
    for (const bad of ['localhost:4000', 'ftp://u:pw@host', 'not a url']) {
      expect(() => endpointFrom(bad)).toThrow(new CliError('--url must be an http:// or https:// URL, e.g. http://127.0.0.1:4000'));
    }
  });
});

describe('ApiClient.request over real HTTP', () => {
  let server: http.Server;
  let seen: Array<{ authorization?: string; body: string }>;
  let answer: (res: http.ServerResponse) => void;
  let base: string;

  beforeEach(async () => {
    seen = [];
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        seen.push({ authorization: req.headers.authorization, body });
        answer(res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const json = (status: number, body: unknown) => (res: http.ServerResponse) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };

  it('sends the token as a bearer Authorization header and returns data', async () => {
    answer = json(200, { data: { ok: true } });
    const api = new ApiClient(endpointFrom(base, 'tkn-123'));
    await expect(api.request('{ ok }', { a: 1 })).resolves.toEqual({ ok: true });
    expect(seen).toEqual([{ authorization: 'Bearer tkn-123', body: JSON.stringify({ query: '{ ok }', variables: { a: 1 } }) }]);
    await new ApiClient(endpointFrom(base)).request('{ ok }');
    expect(seen[1]!.authorization).toBeUndefined();
  });

  it('turns GraphQL errors into one message with code, path and a hint, never the token', async () => {
    answer = json(200, { errors: [{ message: 'token expired', extensions: { code: 'UNAUTHENTICATED' } }, { message: 'nope', path: ['signFlow'], extensions: { code: 'FORBIDDEN' } }] });
    const attempt = new ApiClient(endpointFrom(base, 'tkn-secret')).request('{ x }');
    await expect(attempt).rejects.toThrow(
      new CliError(
        'the API answered with an error:\ntoken expired [UNAUTHENTICATED] (pass --token or set ESIGN_LIFECYCLE_TOKEN)\nnope [FORBIDDEN] at signFlow (the token lacks a scope this needs)',
      ),
    );
  });

  it('says when the URL answers something that is not GraphQL', async () => {
    answer = (res) => res.writeHead(404, { 'content-type': 'text/html' }).end('<html>not here</html>');
    await expect(new ApiClient(endpointFrom(base)).request('{ x }')).rejects.toThrow(
      `${base}/graphql answered HTTP 404 with a body that is not GraphQL JSON — is --url the API's address?`,
    );
  });

  it('names the cause when nothing listens', async () => {
    const port = await freePort();
    await expect(new ApiClient(endpointFrom(`http://127.0.0.1:${port}`)).request('{ x }')).rejects.toThrow(
      new CliError(`cannot reach http://127.0.0.1:${port}: ECONNREFUSED — is the API running? (--url)`),
    );
  });
});

describe('describing failures', () => {
  const endpoint = endpointFrom('http://127.0.0.1:4000', 'tok');

  it('finds the system code inside fetch and ws errors', () => {
    expect(networkCause(new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ENOTFOUND' }) }))).toBe('ENOTFOUND');
    expect(networkCause({ type: 'error', error: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) })).toBe('ECONNREFUSED');
    expect(networkCause(new AggregateError([Object.assign(new Error('a'), { code: 'EHOSTUNREACH' })]))).toBe('EHOSTUNREACH');
    expect(networkCause(new Error('socket hang up'))).toBe('socket hang up');
  });

  it('explains a subscription ending: GraphQL errors, refused sockets, dropped sockets', () => {
    expect(describeSubscriptionError([{ message: 'after must be the id of an event received earlier', extensions: { code: 'BAD_USER_INPUT' } }], endpoint)).toBe(
      'the API answered with an error:\nafter must be the id of an event received earlier [BAD_USER_INPUT]',
    );
    expect(describeSubscriptionError({ code: 4401, reason: 'Unauthorized' }, endpoint)).toBe(
      'the API refused the WebSocket: Unauthorized (4401; pass a valid --token or set ESIGN_LIFECYCLE_TOKEN)',
    );
    expect(describeSubscriptionError({ code: 1006, reason: '' }, endpoint, { error: { code: 'ECONNRESET' } })).toBe('lost the WebSocket to ws://127.0.0.1:4000/graphql: ECONNRESET');
    expect(describeSubscriptionError({ code: 1001, reason: 'Going away' }, endpoint)).toBe('the WebSocket to ws://127.0.0.1:4000/graphql closed: 1001 Going away');
  });
});
