import type { LogEvent } from 'kysely';
import { collect, startTestApp, waitFor, type TestApp } from '../support/app';
import { hs256, TEST_JWT_SECRET } from '../support/tokens';

/**
 * Shared subscription executions (src/graphql/multiplex.ts) over real graphql-ws sockets: identical subscriptions of
 * equally entitled callers run once per event (one feed listener, one flow read), yet every subscriber still sees
 * only its tenant's events, only the ids it asked for, and nothing without its scopes.
 */
const EVENTS = 'subscription ($ids: [ID!]) { signFlowEvents(ids: $ids) { id status flow { id status } } }';
type Event = { signFlowEvents: { id: string; status: string; flow: { id: string; status: string } } };

describe('shared subscription executions', () => {
  let app: TestApp;
  const statements: string[] = [];
  let acme: string;
  let globex: string;
  let eventsOnly: string;

  beforeAll(async () => {
    app = await startTestApp({
      env: { AUTH_JWT_SECRET: TEST_JWT_SECRET },
      onStoreQuery: (event: LogEvent) => {
        if (event.level === 'query') statements.push(event.query.sql);
      },
    });
    acme = await hs256({ sub: 'alice', tenant: 'acme', issuer: null, audience: null });
    globex = await hs256({ sub: 'bob', tenant: 'globex', issuer: null, audience: null });
    eventsOnly = await hs256({ sub: 'eve', tenant: 'acme', scope: ['events:read'], issuer: null, audience: null });
  });
  afterAll(async () => {
    await app?.close();
  });

  /** A signing ETC flow, read through by `token` so that it belongs to that caller's tenant. */
  async function tenantFlow(token: string): Promise<string> {
    const { flowId } = await app.admin<{ flowId: string }>('/etc/flows', { status: 'SIGNING' });
    const read = await app.gql<{ signFlow: { id: string } }>('query ($id: ID!) { signFlow(id: $id) { id } }', { id: `ETC:${flowId}` }, { token });
    expect(read.data?.signFlow.id).toBe(`ETC:${flowId}`);
    return flowId;
  }

  const flowSelects = (from: number) => statements.slice(from).filter((sql) => /^select\b[\s\S]*?\bfrom "flows"/i.test(sql)).length;

  it('runs identical subscriptions once per event, each tenant’s group seeing only its own flows, ids and scopes kept', async () => {
    const a = await tenantFlow(acme);
    const b = await tenantFlow(globex);
    const settled = app.services.feed.subscriberCount;
    const subscribe = (token: string, variables: Record<string, unknown> = {}) => collect<Event>(app.ws({ token }), EVENTS, variables);
    const acmes = Array.from({ length: 12 }, () => subscribe(acme));
    const globexes = Array.from({ length: 12 }, () => subscribe(globex));
    // Same document, other variables: its own execution, and acme cannot see globex's flow anyway.
    const acmeAskingForB = subscribe(acme, { ids: [`ETC:${b}`] });
    const acmeAskingForA = Array.from({ length: 3 }, () => subscribe(acme, { ids: [`ETC:${a}`] }));
    // Without flows:read the subscription is refused, shared or not.
    const unscoped = subscribe(eventsOnly);
    await unscoped.done;
    expect(unscoped.errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'FORBIDDEN' }) })]);

    // 28 subscriptions, 4 executions: acme, globex, acme ids [b], acme ids [a].
    await waitFor(() => app.services.feed.subscriberCount === settled + 4, { what: 'four shared executions', timeoutMs: 10_000 });
    const mark = statements.length;
    await app.admin(`/etc/flows/${a}/transition`, { status: 'COMPLETED' });
    await app.admin(`/etc/flows/${b}/transition`, { status: 'COMPLETED' });
    await waitFor(() => [...acmes, ...globexes, ...acmeAskingForA].every((s) => s.items.length === 1), { what: 'every subscriber to get its event', timeoutMs: 10_000 });

    for (const s of acmes) expect(s.items).toEqual([{ signFlowEvents: { id: expect.any(String), status: 'COMPLETED', flow: { id: `ETC:${a}`, status: 'COMPLETED' } } }]);
    for (const s of acmeAskingForA) expect(s.items).toEqual(acmes[0]!.items);
    for (const s of globexes) expect(s.items).toEqual([{ signFlowEvents: { id: expect.any(String), status: 'COMPLETED', flow: { id: `ETC:${b}`, status: 'COMPLETED' } } }]);
    expect(acmeAskingForB.items).toEqual([]);
    // One flow read per execution that received an event (acme, acme ids [a], globex), plus the two callbacks'
    // own reads; 27 subscribers reading for themselves would have made 27.
    expect(flowSelects(mark)).toBeLessThanOrEqual(5);

    // A late subscriber joins the running acme execution: it sees the next event, not the past one.
    const late = subscribe(acme);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(app.services.feed.subscriberCount).toBe(settled + 4);
    await app.gql('mutation ($id: ID!) { revokeSignFlow(input: { id: $id, etcMemberNo: "40eb61714d9e49088bac7a3c56d69d66", reason: "x" }) { userErrors { code } } }', { id: `ETC:${a}` }, { token: acme });
    const c = await tenantFlow(acme);
    await app.admin(`/etc/flows/${c}/transition`, { status: 'COMPLETED' });
    await waitFor(() => late.items.length === 1 && acmes.every((s) => s.items.length === 2), { what: 'the next acme event', timeoutMs: 10_000 });
    expect(late.items[0]!.signFlowEvents.flow.id).toBe(`ETC:${c}`);
    expect(acmes[0]!.items[1]).toEqual(late.items[0]);

    // Leaving: the execution ends with its last subscriber.
    for (const s of [...acmes, ...globexes, acmeAskingForB, ...acmeAskingForA, late]) s.stop();
    await waitFor(() => app.services.feed.subscriberCount === settled, { what: 'every shared execution to end' });
  });

  it('runs a subscription with a replay cursor on its own, from its own point in the log', async () => {
    const settled = app.services.feed.subscriberCount;
    const d = await tenantFlow(acme);
    await app.admin(`/etc/flows/${d}/transition`, { status: 'COMPLETED' });
    const live = collect<Event>(app.ws({ token: acme }), EVENTS, {});
    await waitFor(() => app.services.feed.subscriberCount === settled + 1, { what: 'the live execution' });
    const replay = collect<Event>(app.ws({ token: acme }), 'subscription ($after: String) { signFlowEvents(after: $after) { id flow { id } } }', { after: '0' });
    await waitFor(() => replay.items.some((e) => e.signFlowEvents.flow.id === `ETC:${d}`), { what: 'the replay to reach the flow' });
    expect(app.services.feed.subscriberCount).toBe(settled + 2);
    expect(live.items).toEqual([]);
    live.stop();
    replay.stop();
    await waitFor(() => app.services.feed.subscriberCount === settled, { what: 'both to end' });
  });
});
