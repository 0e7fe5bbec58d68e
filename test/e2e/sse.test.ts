import { Writable } from 'node:stream';
import { createClient, type Client, type ExecutionResult } from 'graphql-sse';
import { createLogger } from '../../src/logger';
import { startTestApp, waitFor, type TestApp } from '../support/app';
import { ALL_SCOPES, hs256, TEST_JWT_SECRET } from '../support/tokens';

/**
 * GraphQL over Server-Sent Events at POST /graphql/stream with the graphql-sse client (distinct connections): the
 * same caller, scopes, tenancy and `after` resumption as over HTTP and the WebSocket.
 */
const EVENTS = 'subscription($ids: [ID!], $after: String) { signFlowEvents(ids: $ids, after: $after) { id status source flow { id status } } }';
const FLOW = 'query($id: ID!) { signFlow(id: $id) { id status } }';

type Event = { signFlowEvents: { id: string; status: string; source: string; flow: { id: string; status: string } } };

interface Collected {
  results: Array<ExecutionResult<Event>>;
  errors: unknown[];
  done: Promise<void>;
  stop(): void;
}

function listen(client: Client, query: string, variables: Record<string, unknown> = {}): Collected {
  const results: Array<ExecutionResult<Event>> = [];
  const errors: unknown[] = [];
  let stop: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    stop = client.subscribe<Event>(
      { query, variables },
      {
        next: (result) => results.push(result as ExecutionResult<Event>),
        error: (error) => {
          errors.push(error);
          resolve();
        },
        complete: () => resolve(),
      },
    );
  });
  return { results, errors, done, stop: () => stop() };
}

describe('GraphQL over SSE', () => {
  let app: TestApp;
  let acme: string;
  let globex: string;
  const clients: Client[] = [];

  const sse = (token?: string, headers: Record<string, string> = {}) => {
    const client = createClient({
      url: `${app.url}/graphql/stream`,
      retryAttempts: 0,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    });
    clients.push(client);
    return client;
  };
  const etcFlow = async () => (await app.admin<{ flowId: string }>('/etc/flows', { status: 'SIGNING' })).flowId;
  const move = (flowId: string, status: string) => app.admin(`/etc/flows/${flowId}/transition`, { status });
  const own = async (token: string, flowId: string) => {
    // A read-through by a tenant's caller makes the flow that tenant's.
    const read = await app.gql<{ signFlow: { id: string } | null }>(FLOW, { id: `ETC:${flowId}` }, { token });
    expect(read.data?.signFlow?.id).toBe(`ETC:${flowId}`);
  };

  beforeAll(async () => {
    app = await startTestApp({ env: { AUTH_JWT_SECRET: TEST_JWT_SECRET } });
    acme = await hs256({ sub: 'alice', tenant: 'acme', issuer: null, audience: null });
    globex = await hs256({ sub: 'bob', tenant: 'globex', issuer: null, audience: null });
  });
  afterAll(async () => {
    for (const client of clients) client.dispose();
    await app?.close();
  });

  it('streams live events, and resumes after a cursor with what was missed first', async () => {
    const flowId = await etcFlow();
    await own(acme, flowId);
    const live = listen(sse(acme), EVENTS, { ids: [`ETC:${flowId}`] });
    await waitFor(() => app.services.feed.subscriberCount > 0, { what: 'the SSE subscriber' });
    await move(flowId, 'COMPLETED');
    await waitFor(() => live.results.length >= 1, { what: 'the live event' });
    live.stop();
    const first = live.results[0]!.data!.signFlowEvents;
    expect(first).toMatchObject({ status: 'COMPLETED', source: 'CALLBACK', flow: { id: `ETC:${flowId}`, status: 'COMPLETED' } });

    // Missed while disconnected: two more events of a second flow; resuming after the first gets both, in order.
    const second = await etcFlow();
    await own(acme, second);
    await move(second, 'REJECTED');
    await waitFor(async () => (await app.gql<{ signFlow: { status: string } }>(FLOW, { id: `ETC:${second}` }, { token: acme })).data?.signFlow.status === 'REJECTED', {
      what: 'the missed event stored',
    });
    const resumed = listen(sse(acme), EVENTS, { after: first.id });
    await waitFor(() => resumed.results.some((r) => r.data?.signFlowEvents.status === 'REJECTED'), { what: 'the replayed events' });
    resumed.stop();
    // The second flow's first read (SYNC, SIGNING), then its rejection; nothing at or before the cursor.
    const replayed = resumed.results.map((r) => r.data!.signFlowEvents);
    expect(replayed.map((e) => [e.flow.id, e.status, e.source])).toEqual([
      [`ETC:${second}`, 'SIGNING', 'SYNC'],
      [`ETC:${second}`, 'REJECTED', 'CALLBACK'],
    ]);
    expect(Number(replayed[0]!.id)).toBeGreaterThan(Number(first.id));
    expect(Number(replayed[1]!.id)).toBeGreaterThan(Number(replayed[0]!.id));
  });

  it('without a token the subscription answers UNAUTHENTICATED; a token that does not verify is refused with 401', async () => {
    const anonymous = listen(sse(), EVENTS);
    await anonymous.done;
    const errors = anonymous.results.flatMap((r) => r.errors ?? []);
    expect(errors.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);

    const forged = await hs256({ sub: 'mallory', issuer: null, audience: null }, 'a-different-secret-of-at-least-32-bytes!!');
    const res = await fetch(`${app.url}/graphql/stream`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${forged}` },
      body: JSON.stringify({ query: EVENTS }),
    });
    expect(res.status).toBe(401);
    const body = (await res.json()) as { errors: Array<{ message: string; extensions: { code: string } }> };
    expect(body.errors[0]!.extensions.code).toBe('UNAUTHENTICATED');
    expect(body.errors[0]!.message).not.toContain(forged);
  });

  it('a token without events:read is FORBIDDEN, as on the WebSocket', async () => {
    const reader = await hs256({ sub: 'dave', scope: ['flows:read'], issuer: null, audience: null });
    const refused = listen(sse(reader), EVENTS);
    await refused.done;
    expect(refused.results.flatMap((r) => r.errors ?? []).map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
  });

  it("a tenant's stream carries only that tenant's flows", async () => {
    const mine = await etcFlow();
    const theirs = await etcFlow();
    await own(acme, mine);
    await own(globex, theirs);
    const acmeStream = listen(sse(acme), EVENTS);
    const globexStream = listen(sse(globex), EVENTS);
    await waitFor(() => app.services.feed.subscriberCount >= 2, { what: 'both SSE subscribers' });
    await move(theirs, 'COMPLETED');
    await move(mine, 'COMPLETED');
    await waitFor(() => acmeStream.results.length >= 1 && globexStream.results.length >= 1, { what: 'one event on each stream' });
    // The globex event was stored first: had acme's stream carried it, it would have arrived before acme's own.
    expect(acmeStream.results.flatMap((r) => r.errors ?? [])).toEqual([]);
    expect(acmeStream.results.map((r) => r.data?.signFlowEvents.flow.id)).toEqual([`ETC:${mine}`]);
    expect(globexStream.results.map((r) => r.data?.signFlowEvents.flow.id)).toEqual([`ETC:${theirs}`]);
    acmeStream.stop();
    globexStream.stop();
  });

  it('queries and mutations work over the stream too, with the same caller', async () => {
    const admin = await hs256({ sub: 'root', scope: [...ALL_SCOPES, 'admin'], issuer: null, audience: null });
    const flowId = await etcFlow();
    const read = listen(sse(admin), FLOW, { id: `ETC:${flowId}` });
    await read.done;
    expect(read.results.map((r) => r.data)).toEqual([{ signFlow: { id: `ETC:${flowId}`, status: 'SIGNING' } }]);
  });

  it('applies the operation limits and the per-caller rate limit of POST /graphql', async () => {
    const deep = `{ ${'signFlows { edges { node { rescissions { signFlow { '.repeat(4)}id${' } } } } }'.repeat(4)} }`;
    const tooDeep = listen(sse(acme), deep);
    await tooDeep.done;
    const errors = tooDeep.results.flatMap((r) => r.errors ?? []);
    expect(errors.map((e) => e.extensions?.limit)).toContain('GRAPHQL_MAX_DEPTH');
    expect(tooDeep.results.every((r) => r.data === undefined)).toBe(true);

    const limited = await startTestApp({ env: { AUTH_JWT_SECRET: TEST_JWT_SECRET, RATE_LIMIT_PER_MINUTE: '2' } });
    try {
      const post = () =>
        fetch(`${limited.url}/graphql/stream`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${acme}` },
          body: JSON.stringify({ query: '{ __typename }' }),
        });
      for (let i = 0; i < 2; i++) {
        const ok = await post();
        expect(ok.status).toBe(200);
        await ok.text();
      }
      const refused = await post();
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(((await refused.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code).toBe('RATE_LIMITED');
    } finally {
      await limited.close();
    }
  });

  it('logs each operation once, under the request id the response carries, and counts it in the metrics', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const observed = await startTestApp({ env: { AUTH_JWT_SECRET: TEST_JWT_SECRET }, logger: createLogger({ level: 'info', destination }) });
    try {
      const res = await fetch(`${observed.url}/graphql/stream`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${acme}` },
        body: JSON.stringify({ query: 'query Probe { __typename }' }),
      });
      const requestId = res.headers.get('x-request-id');
      expect(await res.text()).toContain('"__typename":"Query"');
      const line = await waitFor(() => lines.find((l) => l.transport === 'sse' && l.operation === 'Probe'), { what: 'the operation log line' });
      expect(line).toMatchObject({ requestId, type: 'query', caller: 'alice', outcome: 'ok' });
      expect(lines.filter((l) => l.transport === 'sse' && l.operation === 'Probe')).toHaveLength(1);
      const metrics = await (await fetch(`${observed.url}/metrics`)).text();
      expect(metrics).toMatch(/graphql_operations_total\{[^}]*operation="Probe"[^}]*\} 1/);
    } finally {
      await observed.close();
    }
  });

  it('refuses what a hostile page could send without a preflight, and origins not allowed', async () => {
    const post = (headers: Record<string, string>) =>
      fetch(`${app.url}/graphql/stream`, { method: 'POST', headers: { accept: 'text/event-stream', ...headers }, body: JSON.stringify({ query: EVENTS }) });
    const plain = await post({ 'content-type': 'text/plain' });
    expect(plain.status).toBe(415);
    expect(await plain.json()).toEqual({ errors: [{ message: expect.stringContaining('application/json'), extensions: { code: 'BAD_REQUEST' } }] });
    const foreign = await post({ 'content-type': 'application/json', origin: 'https://evil.example', authorization: `Bearer ${acme}` });
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
  });
});
