/**
 * Every request has a bounded, predictable cost: the attacks measured on the unbounded server, each sent again and
 * now refused before running or answered cheaply. Real server, real emulators (their request log counts provider
 * calls), real graphql-ws clients and raw WebSockets, real SQLite (and PostgreSQL/Redis where the feature is theirs).
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from 'graphql-ws';
import { getIntrospectionQuery } from 'graphql';
import WebSocket from 'ws';
import { loadConfig, ConfigError } from '../../src/config';
import { startTestApp, waitFor, type TestApp } from '../support/app';
import { hs256, TEST_AUDIENCE, TEST_ISSUER, TEST_JWT_SECRET } from '../support/tokens';

const REDIS = process.env.TEST_REDIS_URL;
if (!REDIS) process.stdout.write('[limits] the shared (Redis) rate limit across two apps skipped: TEST_REDIS_URL is not set\n');

type GqlError = { message: string; extensions?: Record<string, unknown> };
type Result = { data?: Record<string, unknown> | null; errors?: GqlError[] };

/** One operation over a real graphql-ws client: its single result, or the errors of a refused subscribe. */
function overWs(client: Client, query: string, variables?: Record<string, unknown>): Promise<Result> {
  return new Promise((resolve) => {
    let result: Result = {};
    client.subscribe(
      { query, variables },
      {
        next: (value) => (result = value as Result),
        error: (error) => resolve({ errors: Array.isArray(error) ? (error as GqlError[]) : [{ message: String((error as Error)?.message ?? error) }] }),
        complete: () => resolve(result),
      },
    );
  });
}

async function etcRequests(app: TestApp): Promise<number> {
  return (await app.admin<{ requests: unknown[] }>('/etc/requests')).requests.length;
}

/** `n` aliased reads of flows ETC has never heard of. */
const unknownReads = (n: number, prefix = 'u') => `query { ${Array.from({ length: n }, (_, i) => `a${i}: signFlow(id: "ETC:${prefix}${i}") { id status }`).join(' ')} }`;

/** A raw graphql-transport-ws socket, for what a well-behaved client never sends. */
function rawSocket(app: TestApp): Promise<WebSocket> {
  const socket = new WebSocket(app.wsUrl, 'graphql-transport-ws');
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}
const closed = (socket: WebSocket) => new Promise<{ code: number; reason: string }>((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));

/** The event feed's own poll of the log (every 200 ms in tests), which no operation causes. */
const FEED_POLL = /^select \* from "events" where "id" > \? order by "id" limit \?$/;

describe('operation limits (defaults)', () => {
  let app: TestApp;
  const statements: string[] = [];
  const since = (mark: number) => statements.slice(mark).filter((sql) => !FEED_POLL.test(sql));
  beforeAll(async () => {
    app = await startTestApp({
      sandbox: { historyLimit: 50_000 },
      onStoreQuery: (event) => {
        if (event.level === 'query') statements.push(event.query.sql);
      },
    });
  });
  afterAll(() => app.close());

  it('refuses 300 aliased reads of unknown flows (12 KB) before any provider call, over HTTP', async () => {
    const before = await etcRequests(app);
    const res = await app.gql(unknownReads(300));
    expect(res.data).toBeUndefined();
    expect(res.errors).toHaveLength(1);
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', limit: 'GRAPHQL_MAX_ALIASES' });
    expect(res.errors?.[0]?.message).toMatch(/number of aliases is 300, over the limit of 30 \(GRAPHQL_MAX_ALIASES\)/);
    expect(await etcRequests(app)).toBe(before);
  });

  it('refuses the same over the WebSocket: 300 aliases by the alias limit, 3,000 (over 64 KiB) by the message size', async () => {
    const before = await etcRequests(app);
    const client = app.ws();
    const refused = await overWs(client, unknownReads(300, 'w'));
    expect(refused.data).toBeUndefined();
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', limit: 'GRAPHQL_MAX_ALIASES' });

    const socket = await rawSocket(app);
    socket.send(JSON.stringify({ type: 'connection_init' }));
    await new Promise((resolve) => socket.once('message', resolve));
    const end = closed(socket);
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: unknownReads(3_000, 'x') } }));
    expect((await end).code).toBe(1009);
    expect(await etcRequests(app)).toBe(before);
  });

  it('refuses a document of more tokens than GRAPHQL_MAX_TOKENS while parsing, on both transports', async () => {
    const many = `query { signFlows(first: 1) { edges { ${'cursor '.repeat(6_000)} } } }`;
    const http = await app.gql(many);
    expect(http.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(http.errors?.[0]?.message).toMatch(/more tha[nt] 5000 tokens/);
    const ws = await overWs(app.ws(), many);
    expect(ws.errors?.[0]?.extensions).toMatchObject({ code: 'GRAPHQL_PARSE_FAILED', limit: 'GRAPHQL_MAX_TOKENS' });
  });

  it('refuses a 40-level cyclic query by depth before any store query, on both transports', async () => {
    let selection = 'id';
    for (let i = 0; i < 10; i++) selection = `events { edges { node { flow { ${selection} } } } }`;
    const query = `query { signFlow(id: "ETC:cyclic") { ${selection} } }`;
    const mark = statements.length;
    const before = await etcRequests(app);
    const http = await app.gql(query);
    expect(http.errors?.[0]?.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', limit: 'GRAPHQL_MAX_DEPTH' });
    expect(http.errors?.[0]?.message).toMatch(/depth is 42, over the limit of 12/);
    const ws = await overWs(app.ws(), query);
    expect(ws.errors?.[0]?.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', limit: 'GRAPHQL_MAX_DEPTH' });
    expect(since(mark)).toEqual([]);
    expect(await etcRequests(app)).toBe(before);
  });

  it('lets the standard introspection query through (15 levels deep, but exempt from depth and cost)', async () => {
    const res = await app.gql<{ __schema: { types: unknown[] } }>(getIntrospectionQuery({ descriptions: true, directiveIsRepeatable: true, inputValueDeprecation: true }));
    expect(res.errors).toBeUndefined();
    expect(res.data?.__schema.types.length).toBeGreaterThan(20);
  });

  describe('signFlows(first: 100) with their events', () => {
    beforeAll(async () => {
      const store = app.services.store;
      await store.flows.saveMany(Array.from({ length: 100 }, (_, i) => ({ id: `ETC:listed${i}`, provider: 'ETC' as const, providerFlowId: `listed${i}`, status: 'SIGNING' as const })));
      await store.transaction((tx) =>
        tx.events.appendMany(
          Array.from({ length: 300 }, (_, i) => ({
            kind: 'signflow' as const,
            subjectId: `ETC:listed${i % 100}`,
            provider: 'ETC',
            status: 'SIGNING',
            providerStatus: String(Math.floor(i / 100)),
            source: 'CALLBACK' as const,
            occurredAt: null,
            data: null,
          })),
        ),
      );
    });
    const eventSelection = (alias: string) => `${alias}events(first: 2) { edges { node { id providerStatus } } pageInfo { hasNextPage } }`;

    it('reads the events of 100 flows with ONE store query', async () => {
      const mark = statements.length;
      const res = await app.gql<{ signFlows: { edges: Array<{ node: { id: string; events: { edges: Array<{ node: { providerStatus: string } }>; pageInfo: { hasNextPage: boolean } } } }> } }>(
        `query { signFlows(first: 100) { edges { node { id ${eventSelection('')} } } } }`,
      );
      expect(res.errors).toBeUndefined();
      const nodes = res.data!.signFlows.edges.map((e) => e.node).filter((n) => n.id.startsWith('ETC:listed'));
      expect(nodes).toHaveLength(100);
      for (const node of nodes) {
        expect(node.events.edges.map((e) => e.node.providerStatus)).toEqual(['0', '1']);
        expect(node.events.pageInfo.hasNextPage).toBe(true);
      }
      const eventQueries = since(mark).filter((sql) => /from "events"/i.test(sql));
      expect(eventQueries).toHaveLength(1);
      expect(eventQueries[0]).toMatch(/row_number\(\) over \(partition by subject_id order by id\)/i);
    });

    it('refuses the 50-alias version (20,000 store queries, 39 s before) by its cost, before any store query', async () => {
      const query = `query { signFlows(first: 100) { edges { node { id ${Array.from({ length: 50 }, (_, i) => eventSelection(`e${i}: `)).join(' ')} } } } }`;
      const mark = statements.length;
      const res = await app.gql(query);
      expect(res.data).toBeUndefined();
      // 50 aliases are also over GRAPHQL_MAX_ALIASES; the cost limit refuses it on its own.
      expect(res.errors?.map((e) => e.extensions?.limit)).toEqual(expect.arrayContaining(['GRAPHQL_MAX_COST']));
      expect(res.errors?.find((e) => e.extensions?.limit === 'GRAPHQL_MAX_COST')?.message).toMatch(/estimated cost is \d+(\.\d+)?, over the limit of 20000/);
      expect(since(mark)).toEqual([]);
    });
  });

  it('refuses two aliased cancelSignFlows of 20,000 ids each: the bound is per document, nothing is created', async () => {
    const ids = (p: string) => Array.from({ length: 20_000 }, (_, i) => `ETC:${p}${i}`);
    const mark = statements.length;
    const res = await app.gql<Record<string, { task: unknown; userErrors: Array<{ code: string; message: string; field: string[] }> }>>(
      `mutation ($a: [ID!]!, $b: [ID!]!) {
        one: cancelSignFlows(input: { ids: $a }) { task { id } userErrors { code field message } }
        two: cancelSignFlows(input: { ids: $b }) { task { id } userErrors { code field message } }
      }`,
      { a: ids('a'), b: ids('b') },
    );
    expect(res.errors).toBeUndefined();
    for (const field of ['one', 'two']) {
      expect(res.data?.[field]?.task).toBeNull();
      expect(res.data?.[field]?.userErrors).toEqual([
        { code: 'INVALID_INPUT', field: ['input', 'ids'], message: expect.stringMatching(/names 40000 ids across its 2 cancelSignFlows fields; at most 20000 per operation/) },
      ]);
    }
    expect(since(mark).filter((sql) => /insert into "cancel_(tasks|items)"/i.test(sql))).toEqual([]);
  });

  it('answers cancelTask { items { flow { events } } } of a 20,000-item task (60 s before) cheaply: refused whole, answered by pages', async () => {
    const ids = Array.from({ length: 20_000 }, (_, i) => `ETC:big${i}`);
    // Without etcMemberNo every ETC item settles at once (ETC_MEMBER_NO_REQUIRED): no provider call, a finished task.
    const started = await app.gql<{ cancelSignFlows: { task: { id: string; total: number } } }>(
      'mutation ($ids: [ID!]!) { cancelSignFlows(input: { ids: $ids }) { task { id total } userErrors { code } } }',
      { ids },
    );
    const taskId = started.data!.cancelSignFlows.task.id;
    expect(started.data!.cancelSignFlows.task.total).toBe(20_000);

    // The attack: every item's flow with its events. Refused at the items field, before any flow or event read.
    let mark = statements.length;
    let began = Date.now();
    const whole = await app.gql<{ cancelTask: { id: string; items: unknown } | null }>(
      'query ($id: ID!) { cancelTask(id: $id) { id items { code flow { id events { edges { node { id } } } } } } }',
      { id: taskId },
    );
    const refusedIn = Date.now() - began;
    expect(whole.errors?.[0]?.extensions?.code).toBe('OPERATION_TOO_COSTLY');
    expect(whole.errors?.[0]?.message).toMatch(/this task has 20000 items: .*page with items\(first: 100, offset: …\)/);
    expect(since(mark).filter((sql) => /from "(events|flows|cancel_items)"/i.test(sql))).toEqual([]);

    // A page of 100 items with their flows' events: one items read, one flows read, ONE events read.
    mark = statements.length;
    began = Date.now();
    const page = await app.gql<{ cancelTask: { items: Array<{ code: string; flow: { id: string; events: { edges: unknown[] } } }> } }>(
      'query ($id: ID!) { cancelTask(id: $id) { id items(first: 100, offset: 19900) { code flow { id events { edges { node { id } } } } } } }',
      { id: taskId },
    );
    const pageIn = Date.now() - began;
    expect(page.errors).toBeUndefined();
    expect(page.data!.cancelTask.items.map((item) => item.flow.id)).toEqual(ids.slice(19_900));
    expect(page.data!.cancelTask.items.every((item) => item.code === 'ETC_MEMBER_NO_REQUIRED')).toBe(true);
    const sqls = since(mark);
    expect(sqls.filter((sql) => /from "events"/i.test(sql))).toHaveLength(1);
    expect(sqls.filter((sql) => /from "flows"/i.test(sql))).toHaveLength(1);

    // The CLI's own read (every item, no events) still answers in one operation; /healthz answers meanwhile.
    began = Date.now();
    const answer = app.gql<{ cancelTask: { items: unknown[] } }>('query ($id: ID!) { cancelTask(id: $id) { id items { flow { id } ok code reason } } }', { id: taskId });
    let done = false;
    void answer.finally(() => (done = true));
    const probes: number[] = [];
    while (!done) {
      const t = Date.now();
      expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
      probes.push(Date.now() - t);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect((await answer).data!.cancelTask.items).toHaveLength(20_000);
    process.stdout.write(
      `[limits] 20,000-item task: whole with events refused in ${refusedIn} ms; a page of 100 with events ${pageIn} ms; every item without events ${Date.now() - began} ms (slowest /healthz meanwhile ${Math.max(...probes)} ms)\n`,
    );
  });
});

describe('provider reads per operation (PROVIDER_READS_PER_OPERATION=100)', () => {
  let app: TestApp;
  beforeAll(async () => {
    // Alias and token limits raised so the operation reaches execution: the read cap must hold on its own.
    app = await startTestApp({ sandbox: { historyLimit: 50_000 }, env: { GRAPHQL_MAX_ALIASES: '5000', GRAPHQL_MAX_TOKENS: '100000', GRAPHQL_MAX_COST: '1000000' } });
  });
  afterAll(() => app.close());

  it('300 aliased reads of unknown ids make at most 100 ETC calls; the other 200 answer OPERATION_TOO_COSTLY', async () => {
    const before = await etcRequests(app);
    const res = await app.gql(unknownReads(300, 'cap'));
    const calls = (await etcRequests(app)) - before;
    expect(calls).toBeGreaterThan(0);
    expect(calls).toBeLessThanOrEqual(100);
    const costly = (res.errors ?? []).filter((e) => e.extensions?.code === 'OPERATION_TOO_COSTLY');
    expect(costly).toHaveLength(200);
    expect(costly[0]?.message).toMatch(/the 100 provider reads one operation may \(PROVIDER_READS_PER_OPERATION\)/);
    expect(Object.values(res.data ?? {}).filter((v) => v === null)).toHaveLength(300);
  });

  it('holds over the WebSocket too, and for _entities representations', async () => {
    let before = await etcRequests(app);
    const ws = await overWs(app.ws(), unknownReads(300, 'wscap'));
    expect((await etcRequests(app)) - before).toBeLessThanOrEqual(100);
    expect((ws.errors ?? []).filter((e) => e.extensions?.code === 'OPERATION_TOO_COSTLY')).toHaveLength(200);

    before = await etcRequests(app);
    const representations = Array.from({ length: 300 }, (_, i) => ({ __typename: 'SignFlow', id: `ETC:ent${i}` }));
    const res = await app.gql('query ($r: [_Any!]!) { _entities(representations: $r) { ... on SignFlow { id } } }', { r: representations });
    expect((await etcRequests(app)) - before).toBeLessThanOrEqual(100);
    expect((res.errors ?? []).filter((e) => e.extensions?.code === 'OPERATION_TOO_COSTLY')).toHaveLength(200);
  });

  it('gives every operation its own budget', async () => {
    const first = await app.gql(unknownReads(5, 'again'));
    expect((first.errors ?? []).filter((e) => e.extensions?.code === 'OPERATION_TOO_COSTLY')).toEqual([]);
  });
});

describe('rate limit per caller (RATE_LIMIT_PER_MINUTE)', () => {
  const auth = { AUTH_JWT_SECRET: TEST_JWT_SECRET, AUTH_ISSUER: TEST_ISSUER, AUTH_AUDIENCE: TEST_AUDIENCE };
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ env: { ...auth, RATE_LIMIT_PER_MINUTE: '5' } });
  });
  afterAll(() => app.close());

  it('answers RATE_LIMITED with retryAfter and HTTP 429 Retry-After past the limit; other callers are unaffected', async () => {
    const token = await hs256({ sub: 'busy', tenant: 't1' });
    for (let i = 0; i < 5; i++) expect((await app.gql('{ __typename }', undefined, { token })).errors).toBeUndefined();
    const res = await fetch(app.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query: '{ __typename }' }) });
    expect(res.status).toBe(429);
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const body = (await res.json()) as { errors: GqlError[] };
    expect(body.errors[0]?.extensions).toEqual({ code: 'RATE_LIMITED', retryAfter });
    expect(body.errors[0]?.message).toMatch(/at most 5 per minute/);

    // Same sub in another tenant, and another sub: their own buckets.
    expect((await app.gql('{ __typename }', undefined, { token: await hs256({ sub: 'busy', tenant: 't2' }) })).errors).toBeUndefined();
    expect((await app.gql('{ __typename }', undefined, { token: await hs256({ sub: 'quiet', tenant: 't1' }) })).errors).toBeUndefined();
  });

  it('counts WebSocket operations in the same bucket', async () => {
    const token = await hs256({ sub: 'mixed', tenant: 't1' });
    for (let i = 0; i < 3; i++) expect((await app.gql('{ __typename }', undefined, { token })).errors).toBeUndefined();
    const client = app.ws({ token });
    for (let i = 0; i < 2; i++) expect((await overWs(client, '{ __typename }')).errors).toBeUndefined();
    const refused = await overWs(client, '{ __typename }');
    expect(refused.errors?.[0]?.extensions).toEqual({ code: 'RATE_LIMITED', retryAfter: expect.any(Number) });
    expect((await app.gql('{ __typename }', undefined, { token })).status).toBe(429);
  });

  it('keys anonymous callers by address', async () => {
    const open = await startTestApp({ env: { RATE_LIMIT_PER_MINUTE: '2' } });
    try {
      expect((await open.gql('{ __typename }')).status).toBe(200);
      expect((await open.gql('{ __typename }')).status).toBe(200);
      const third = await open.gql('{ __typename }');
      expect(third.status).toBe(429);
      expect(third.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    } finally {
      await open.close();
    }
  });

  (REDIS ? it : it.skip)('is shared by two apps on the same Redis', async () => {
    const env = { ...auth, RATE_LIMIT_PER_MINUTE: '4', REDIS_URL: REDIS! };
    const [a, b] = await Promise.all([startTestApp({ env }), startTestApp({ env })]);
    try {
      const token = await hs256({ sub: `shared-${Date.now()}-${Math.random()}`, tenant: 't1' });
      expect((await a.gql('{ __typename }', undefined, { token })).status).toBe(200);
      expect((await b.gql('{ __typename }', undefined, { token })).status).toBe(200);
      expect((await a.gql('{ __typename }', undefined, { token })).status).toBe(200);
      expect((await b.gql('{ __typename }', undefined, { token })).status).toBe(200);
      const refused = await a.gql('{ __typename }', undefined, { token });
      expect(refused.status).toBe(429);
      expect(refused.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
      expect((await b.gql('{ __typename }', undefined, { token })).status).toBe(429);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('unfinished cancel tasks per caller (CANCEL_TASKS_PER_CALLER=2)', () => {
  let app: TestApp;
  beforeAll(async () => {
    // Tencent's batch tasks stay PROCESSING for 10 minutes: our tasks stay unfinished.
    app = await startTestApp({ env: { CANCEL_TASKS_PER_CALLER: '2' }, sandbox: { tencent: { cancelTaskDelayMs: 600_000 } } });
  });
  afterAll(() => app.close());

  const cancel = (ids: string[], idempotencyKey?: string) =>
    app.gql<{ cancelSignFlows: { task: { id: string; state: string } | null; userErrors: Array<{ code: string; message: string }> } }>(
      'mutation ($input: CancelSignFlowsInput!) { cancelSignFlows(input: $input) { task { id state } userErrors { code message } } }',
      { input: { ids, idempotencyKey } },
    );

  it('refuses a third while two are PROCESSING with TOO_MANY_CANCEL_TASKS, and accepts again once one finishes', async () => {
    const flows = await Promise.all([0, 1, 2].map(async () => `TENCENT_ESS:${(await app.admin<{ flowId: string }>('/tencent/flows', { status: 'SIGNING' })).flowId}`));
    const one = await cancel([flows[0]!]);
    const two = await cancel([flows[1]!]);
    expect([one, two].map((r) => r.data?.cancelSignFlows.task?.state)).toEqual(['PROCESSING', 'PROCESSING']);
    const third = await cancel([flows[2]!], 'retry-me');
    expect(third.data?.cancelSignFlows.task).toBeNull();
    expect(third.data?.cancelSignFlows.userErrors).toEqual([{ code: 'TOO_MANY_CANCEL_TASKS', message: expect.stringMatching(/already have 2 cancel tasks still PROCESSING.*CANCEL_TASKS_PER_CALLER/) }]);

    // One ends (TIMEOUT by the store's own rule); the same idempotency key is not bound to the refusal.
    await app.services.store.cancelTasks.refresh(one.data!.cancelSignFlows.task!.id, 'TIMEOUT');
    const again = await cancel([flows[2]!], 'retry-me');
    expect(again.data?.cancelSignFlows.userErrors).toEqual([]);
    expect(again.data?.cancelSignFlows.task?.state).toBe('PROCESSING');
  });
});

describe('WebSocket bounds', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());

  it('closes a socket whose connection_init is 8 MiB (1009, message too big)', async () => {
    const socket = await rawSocket(app);
    const end = closed(socket);
    socket.send(JSON.stringify({ type: 'connection_init', payload: { padding: 'x'.repeat(8 * 1024 * 1024) } }));
    expect((await end).code).toBe(1009);
  });

  it('closes a socket that sends no connection_init within 3 s (4408)', async () => {
    const socket = await rawSocket(app);
    const opened = Date.now();
    const end = await closed(socket);
    expect(end.code).toBe(4408);
    expect(Date.now() - opened).toBeGreaterThanOrEqual(2_900);
  });

  it('refuses the 101st operation on one socket (TOO_MANY_SUBSCRIPTIONS); the first 100 keep running', async () => {
    const socket = await rawSocket(app);
    const messages: Array<{ id?: string; type: string; payload?: unknown }> = [];
    socket.on('message', (data) => messages.push(JSON.parse(data.toString())));
    socket.send(JSON.stringify({ type: 'connection_init' }));
    await waitFor(() => messages.some((m) => m.type === 'connection_ack'), { what: 'connection_ack' });
    for (let i = 1; i <= 101; i++) socket.send(JSON.stringify({ id: String(i), type: 'subscribe', payload: { query: 'subscription { signFlowEvents { id } }' } }));
    const refusal = await waitFor(() => messages.find((m) => m.type === 'error'), { what: 'the refusal' });
    expect(refusal.id).toBe('101');
    expect(refusal.payload).toEqual([expect.objectContaining({ extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' } })]);
    expect(messages.filter((m) => m.type === 'error')).toHaveLength(1);
    expect(socket.readyState).toBe(WebSocket.OPEN);
    socket.close();
  });

  it('sends a store failure of the subscribe phase through the error formatter, never raw', async () => {
    const broken = await startTestApp();
    try {
      // A real store error: the events table is gone under the running server.
      const file = path.join(broken.config.dataDir, fs.readdirSync(broken.config.dataDir).find((f) => f.endsWith('.db') || f.endsWith('.sqlite')) ?? 'missing');
      const db = new Database(file);
      db.exec('drop table events');
      db.close();
      const result = await overWs(broken.ws(), 'subscription { signFlowEvents(after: "0") { id } }');
      const text = JSON.stringify(result);
      expect(text).not.toMatch(/no such table|SQLITE|events/i);
      expect(result.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
      expect(result.errors?.[0]?.message).toMatch(/^Internal server error \(request id [0-9a-f-]+\)$/);
    } finally {
      await broken.close().catch(() => undefined);
    }
  });
});

describe('configuration of the limits', () => {
  it('has documented defaults and stops start-up on a malformed value, naming the variable', () => {
    expect(loadConfig({}).limits).toEqual({
      maxDepth: 12,
      maxAliases: 30,
      maxTokens: 5000,
      maxCost: 20_000,
      providerReadsPerOperation: 100,
      rateLimitPerMinute: 600,
      cancelTasksPerCaller: 10,
    });
    for (const name of ['GRAPHQL_MAX_DEPTH', 'GRAPHQL_MAX_ALIASES', 'GRAPHQL_MAX_TOKENS', 'GRAPHQL_MAX_COST', 'PROVIDER_READS_PER_OPERATION', 'RATE_LIMIT_PER_MINUTE', 'CANCEL_TASKS_PER_CALLER']) {
      expect(() => loadConfig({ [name]: 'ten' })).toThrow(ConfigError);
      expect(() => loadConfig({ [name]: '-1' })).toThrow(new RegExp(`^${name}: `));
    }
    expect(() => loadConfig({ GRAPHQL_MAX_DEPTH: '0' })).toThrow(/^GRAPHQL_MAX_DEPTH: must be between 1 and 1000/);
    expect(loadConfig({ RATE_LIMIT_PER_MINUTE: '0', CANCEL_TASKS_PER_CALLER: '0' }).limits).toMatchObject({ rateLimitPerMinute: 0, cancelTasksPerCaller: 0 });
  });
});
