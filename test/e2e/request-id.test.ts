import BetterSqlite3 from 'better-sqlite3';
import path from 'node:path';
import { startTestApp, waitFor, collect, type TestApp } from '../support/app';
import { capturingLogger } from '../support/observability';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function post(app: TestApp, body: unknown, headers: Record<string, string> = {}): Promise<{ requestId: string | null; json: { data?: Record<string, unknown>; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> } }> {
  const res = await fetch(app.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { requestId: res.headers.get('x-request-id'), json: (await res.json()) as never };
}

describe('request ids and request logs', () => {
  let app: TestApp;
  let lines: () => Array<Record<string, unknown>>;
  beforeAll(async () => {
    const captured = capturingLogger('debug');
    lines = captured.lines;
    app = await startTestApp({ logger: captured.logger });
  });
  afterAll(() => app.close());

  const operationLine = (requestId: string) => lines().find((l) => l.requestId === requestId && typeof l.operation !== 'undefined' && l.durationMs !== undefined);

  it('keeps a valid incoming x-request-id, answers it, and logs one line for the operation with it', async () => {
    const { requestId, json } = await post(app, { query: 'query Ping { __typename }' }, { 'x-request-id': 'edge-7f3a:42.b_c' });
    expect(json.errors).toBeUndefined();
    expect(requestId).toBe('edge-7f3a:42.b_c');
    const line = await waitFor(() => operationLine('edge-7f3a:42.b_c'), { what: 'the operation log line' });
    expect(line).toMatchObject({ operation: 'Ping', type: 'query', transport: 'http', caller: null, outcome: 'ok' });
    expect(typeof line.durationMs).toBe('number');
    expect(lines().filter((l) => l.requestId === 'edge-7f3a:42.b_c' && l.durationMs !== undefined)).toHaveLength(1);
  });

  it('generates an id when none comes, on every response (404, health, sandbox)', async () => {
    for (const url of [`${app.url}/healthz`, `${app.url}/no-such-path`, `${app.url}/sandbox/_admin/etc/requests`]) {
      const res = await fetch(url);
      await res.arrayBuffer();
      expect(res.headers.get('x-request-id')).toMatch(UUID);
    }
    const { requestId } = await post(app, { query: '{ __typename }' });
    expect(requestId).toMatch(UUID);
    expect(await waitFor(() => operationLine(requestId!))).toMatchObject({ operation: null, type: 'query', outcome: 'ok' });
  });

  it('replaces an id that is too long or has characters an id never has', async () => {
    for (const bad of ['x'.repeat(129), 'has space', 'semi;colon', 'quote"d', 'caf\u00e9', '']) {
      const res = await fetch(`${app.url}/healthz`, { headers: bad === '' ? {} : { 'x-request-id': bad } });
      await res.arrayBuffer();
      expect(res.headers.get('x-request-id')).toMatch(UUID);
    }
    const res = await fetch(`${app.url}/healthz`, { headers: { 'x-request-id': 'y'.repeat(128) } });
    await res.arrayBuffer();
    expect(res.headers.get('x-request-id')).toBe('y'.repeat(128));
  });

  it('puts the id on the provider-call debug lines of the request, and the error codes on its line', async () => {
    const { flowId } = await app.admin<{ flowId: string }>('/etc/flows', {});
    const { json } = await post(app, { query: 'query Read($id: ID!) { signFlow(id: $id) { status } }', variables: { id: `ETC:${flowId}` } }, { 'x-request-id': 'read-through-1' });
    expect(json.errors).toBeUndefined();
    await waitFor(() => operationLine('read-through-1'));
    const providerLines = lines().filter((l) => l.provider === 'ETC' && typeof l.msg === 'string' && /answered 200/.test(l.msg));
    expect(providerLines.map((l) => l.requestId)).toContain('read-through-1');

    await app.admin('/faults', { provider: 'etc', kind: 'error', code: '500', count: 1, match: 'esign.signflows.revoke' });
    const failed = await post(
      app,
      { query: `mutation Revoke { revokeSignFlow(input: { id: "ETC:${flowId}", etcMemberNo: "40eb61714d9e49088bac7a3c56d69d66" }) { userErrors { code } } }` },
      { 'x-request-id': 'revoke-fails-1' },
    );
    expect(failed.json.errors).toBeDefined();
    const line = await waitFor(() => operationLine('revoke-fails-1'));
    expect(line).toMatchObject({ operation: 'Revoke', type: 'mutation', outcome: 'error', codes: [failed.json.errors![0]!.extensions!.code] });
  });

  it('masks an unexpected error with the request id that the log line about it carries', async () => {
    // A real failure underneath: the table a resolver reads is gone.
    const db = new BetterSqlite3(path.join(app.config.dataDir, 'esign.sqlite'));
    db.exec('DROP TABLE cancel_tasks');
    db.close();
    const { requestId, json } = await post(app, { query: 'query Task { cancelTask(id: "cancel_0123") { id items { ok } } }' }, { 'x-request-id': 'masked-1' });
    expect(requestId).toBe('masked-1');
    expect(json.errors).toHaveLength(1);
    expect(json.errors![0]).toMatchObject({ message: 'Internal server error (request id masked-1)', extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: 'masked-1' } });
    expect(JSON.stringify(json)).not.toMatch(/cancel_tasks|sqlite/i);
    const detail = lines().find((l) => l.msg === 'unexpected error while resolving' && l.requestId === 'masked-1');
    expect(JSON.stringify(detail?.err)).toMatch(/cancel_tasks/);
    expect(await waitFor(() => operationLine('masked-1'))).toMatchObject({ operation: 'Task', outcome: 'error', codes: ['INTERNAL_SERVER_ERROR'] });
  });

  it('logs one line per callback with its provider and outcome, under the callback request\'s id', async () => {
    const { flowId } = await app.admin<{ flowId: string }>('/etc/flows', {});
    await app.gql(`{ signFlow(id: "ETC:${flowId}") { status } }`);
    await app.admin(`/etc/flows/${flowId}/transition`, { status: 'COMPLETED' });
    const stored = await waitFor(() => lines().find((l) => l.msg === 'ETC callback stored' && l.flow === flowId));
    expect(stored.requestId).toMatch(UUID);
    const summary = lines().filter((l) => l.provider === 'ETC' && l.outcome === 'stored' && l.requestId === stored.requestId);
    expect(summary).toHaveLength(1);
    expect(summary[0]).toMatchObject({ status: 200 });

    const refused = await fetch(`${app.url}/callbacks/etc`, { method: 'POST', headers: { 'x-request-id': 'forged-cb-1' }, body: '{"sign_flow_id": 1}' });
    expect(refused.status).toBe(400);
    expect(lines().filter((l) => l.requestId === 'forged-cb-1' && l.outcome === 'refused')).toEqual([expect.objectContaining({ provider: 'ETC', status: 400 })]);
  });

  it('gives each WebSocket operation its own id, on its resolvers\' lines and its closing line', async () => {
    const { flowId } = await app.admin<{ flowId: string }>('/etc/flows', {});
    const client = app.ws();
    const before = lines().length;
    const query = collect(client, 'query WsRead($id: ID!) { signFlow(id: $id) { status } }', { id: `ETC:${flowId}` });
    await query.done;
    expect(query.errors).toEqual([]);
    const closing = await waitFor(() => lines().slice(before).find((l) => l.operation === 'WsRead' && l.durationMs !== undefined));
    expect(closing).toMatchObject({ type: 'query', transport: 'ws', outcome: 'ok', caller: null });
    expect(closing.requestId).toMatch(UUID);
    const providerLine = lines().slice(before).find((l) => l.provider === 'ETC' && typeof l.msg === 'string' && /answered 200/.test(l.msg));
    expect(providerLine?.requestId).toBe(closing.requestId);

    const subscription = collect(client, 'subscription Watch($ids: [ID!]) { signFlowEvents(ids: $ids) { status } }', { ids: [`ETC:${flowId}`] });
    await waitFor(() => app.services.feed.subscriberCount === 1, { what: 'the subscription to start' });
    await app.admin(`/etc/flows/${flowId}/transition`, { status: 'COMPLETED' });
    await waitFor(() => subscription.items.length >= 1, { what: 'the event' });
    subscription.stop();
    const watch = await waitFor(() => lines().slice(before).find((l) => l.operation === 'Watch' && l.durationMs !== undefined));
    expect(watch).toMatchObject({ type: 'subscription', transport: 'ws', outcome: 'ok' });
    expect(watch.requestId).toMatch(UUID);
    expect(watch.requestId).not.toBe(closing.requestId);

    const invalid = collect(client, 'query Broken { noSuchField }');
    await invalid.done;
    // Validated by the server's own rules (as over HTTP), so the refusal carries Apollo's code.
    expect(await waitFor(() => lines().slice(before).find((l) => l.transport === 'ws' && l.outcome === 'error' && l.durationMs !== undefined))).toMatchObject({
      codes: ['GRAPHQL_VALIDATION_FAILED'],
    });
  });
});
