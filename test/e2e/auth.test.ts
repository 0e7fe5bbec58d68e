import { parse, print, type FieldDefinitionNode, type ObjectTypeDefinitionNode } from 'graphql';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { collect, startTestApp, waitFor, type TestApp } from '../support/app';
import { ALL_SCOPES, hs256, startJwksServer, TEST_AUDIENCE, TEST_ISSUER, TEST_JWT_SECRET, type JwksServer } from '../support/tokens';

/**
 * Authentication and authorization over HTTP, WebSocket and `_entities` (docs/security.md). Tokens are minted here:
 * HS256 under AUTH_JWT_SECRET and RS256 from a real JWKS endpoint this suite serves.
 */
const MEMBER = '40eb61714d9e49088bac7a3c56d69d66';
/** How often the API may re-fetch the JWKS for an unknown kid (production default: 30 s). */
const COOLDOWN_MS = 1000;
const FLOW_QUERY = 'query Flow($id: ID!) { signFlow(id: $id) { id status } }';
const REVOKE = 'mutation Revoke($input: RevokeSignFlowInput!) { revokeSignFlow(input: $input) { signFlow { id status } userErrors { code message } } }';

describe('identity and access', () => {
  let app: TestApp;
  let jwks: JwksServer;

  beforeAll(async () => {
    jwks = await startJwksServer();
    app = await startTestApp({
      env: {
        AUTH_JWT_SECRET: TEST_JWT_SECRET,
        AUTH_JWKS_URL: jwks.url,
        AUTH_ISSUER: TEST_ISSUER,
        AUTH_AUDIENCE: TEST_AUDIENCE,
        CORS_ORIGINS: 'https://app.example.com',
        AUTH_JWKS_COOLDOWN_MS: String(COOLDOWN_MS),
      },
    });
  });
  afterAll(async () => {
    await app?.close();
    await jwks?.close();
  });

  const etcFlow = async (status = 'SIGNING') => `ETC:${(await app.admin<{ flowId: string }>('/etc/flows', { status })).flowId}`;

  describe('authentication', () => {
    it('answers UNAUTHENTICATED without a token, and runs nothing', async () => {
      const id = await etcFlow();
      const read = await app.gql(FLOW_QUERY, { id });
      expect(read.data?.signFlow).toBeNull();
      expect(read.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      const revoke = await app.gql(REVOKE, { input: { id, etcMemberNo: MEMBER } });
      expect(revoke.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      // The emulator was never asked.
      const log = await app.admin<{ requests: unknown[] }>('/etc/requests');
      expect(log.requests).toHaveLength(0);
    });

    it.each([
      ['a bad signature', () => hs256({}, 'another-secret-that-is-long-enough-0123456789'), /signature does not verify/],
      ['an expired token', () => hs256({ expiresIn: -120 }), /expired/],
      ['a token not valid yet', () => hs256({ notBeforeIn: 600 }), /not valid yet/],
      ['another issuer', () => hs256({ issuer: 'https://evil.example' }), /issuer/],
      ['another audience', () => hs256({ audience: 'someone-else' }), /audience/],
      ['no exp', async () => new SignJWT({ sub: 'x', iss: TEST_ISSUER, aud: TEST_AUDIENCE }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(TEST_JWT_SECRET)), /exp/],
      ['alg none', async () => `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'x', exp: 9e9 })).toString('base64url')}.`, /malformed|algorithm/],
      ['not a JWT', async () => 'abc.def', /malformed/],
    ])('refuses %s with 401 UNAUTHENTICATED and says why', async (_what, token, why) => {
      const r = await app.gql(FLOW_QUERY, { id: 'ETC:x1' }, { token: await token() });
      expect(r.status).toBe(401);
      expect(r.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(r.errors?.[0]?.message).toMatch(why);
    });

    it('tolerates a small clock skew on exp', async () => {
      const r = await app.gql(FLOW_QUERY, { id: await etcFlow() }, { token: await hs256({ expiresIn: -10 }) });
      expect(r.errors).toBeUndefined();
    });

    it('refuses a malformed Authorization header', async () => {
      const r = await app.gql(FLOW_QUERY, { id: 'ETC:x1' }, { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
      expect(r.status).toBe(401);
      expect(r.errors?.[0]?.message).toMatch(/Bearer/);
    });

    it('verifies RS256 tokens against the JWKS, fetching it again for a new kid, at a bounded rate', async () => {
      const id = await etcFlow();
      expect((await app.gql(FLOW_QUERY, { id }, { token: await jwks.sign() })).data?.signFlow).toMatchObject({ id, status: 'SIGNING' });
      const before = jwks.fetches;
      // The identity provider rotates: a token with the new kid makes the API fetch the set again (once the
      // cooldown since the last fetch has passed).
      const kid = await jwks.rotate();
      const token = await jwks.sign({}, kid);
      await waitFor(async () => (await app.gql(FLOW_QUERY, { id }, { token })).data?.signFlow, { timeoutMs: 10_000, intervalMs: 200, what: 'the rotated key' });
      expect(jwks.fetches).toBe(before + 1);
      // Tokens naming kids nobody has cannot make the API hammer the identity provider.
      const unknown = await jwks.rotate();
      const forged = await jwks.sign({}, unknown);
      const [header, payload, signature] = forged.split('.');
      const strangers = Array.from({ length: 10 }, (_, i) => {
        const h = JSON.parse(Buffer.from(header as string, 'base64url').toString()) as Record<string, unknown>;
        return `${Buffer.from(JSON.stringify({ ...h, kid: `nobody-${i}` })).toString('base64url')}.${payload}.${signature}`;
      });
      const fetchesBefore = jwks.fetches;
      const started = Date.now();
      for (const stranger of strangers) {
        const r = await app.gql(FLOW_QUERY, { id }, { token: stranger });
        expect(r.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      }
      // At most one fetch per cooldown, however many unknown kids arrive.
      expect(jwks.fetches - fetchesBefore).toBeLessThanOrEqual(Math.ceil((Date.now() - started) / COOLDOWN_MS) + 1);
      expect(jwks.fetches - fetchesBefore).toBeLessThan(strangers.length);
    });

    it('refuses an HS256 token signed with the RSA public key (algorithm confusion)', async () => {
      const set = (await (await fetch(jwks.url)).json()) as { keys: Array<{ n: string }> };
      const token = await new SignJWT({ sub: 'x', iss: TEST_ISSUER, aud: TEST_AUDIENCE, exp: Math.floor(Date.now() / 1000) + 60, scope: ALL_SCOPES.join(' ') })
        .setProtectedHeader({ alg: 'HS256' })
        .sign(new TextEncoder().encode(set.keys[0]!.n));
      const r = await app.gql(FLOW_QUERY, { id: 'ETC:x1' }, { token });
      expect(r.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    });
  });

  describe('authorization by scope', () => {
    const cases: Array<[string, string, Record<string, unknown>, string]> = [
      ['signFlow', FLOW_QUERY, { id: 'ETC:abc' }, 'flows:read'],
      ['signFlows', '{ signFlows(first: 1) { pageInfo { hasNextPage } } }', {}, 'flows:read'],
      ['cancelTask', '{ cancelTask(id: "cancel_x") { id } }', {}, 'flows:read'],
      ['rescission', '{ rescission(id: "ESIGN:x") { id } }', {}, 'flows:read'],
      ['autoDebit', '{ autoDebit(id: "YUANSFER:x") { id } }', {}, 'autodebits:read'],
      ['revokeSignFlow', REVOKE, { input: { id: 'ETC:abc', etcMemberNo: MEMBER } }, 'flows:write'],
      ['cancelSignFlows', 'mutation { cancelSignFlows(input: { ids: ["ETC:abc"] }) { userErrors { code } } }', {}, 'flows:write'],
      [
        'initiateRescission',
        'mutation { initiateRescission(input: { signFlowId: "ESIGN:abc", fileIds: ["f"], reason: OTHER, initiator: { person: { psnId: "p" } } }) { userErrors { code } } }',
        {},
        'rescissions:write',
      ],
      ['startAutoDebit', 'mutation { startAutoDebit(input: { vendor: "alipay", terminal: ONLINE, redirectUrl: "http://127.0.0.1/x" }) { userErrors { code } } }', {}, 'autodebits:write'],
      ['revokeAutoDebit', 'mutation { revokeAutoDebit(input: { autoDebitNo: "x" }) { userErrors { code } } }', {}, 'autodebits:write'],
    ];

    it.each(cases)('%s needs %s: FORBIDDEN without it, allowed with it', async (field, query, variables, scope) => {
      const without = await app.gql(query, variables, { token: await hs256({ scope: ALL_SCOPES.filter((s) => s !== scope) }) });
      expect(without.errors?.[0]).toMatchObject({ path: [field], extensions: { code: 'FORBIDDEN' } });
      expect(without.errors?.[0]?.message).toContain(scope);
      const withIt = await app.gql(query, variables, { token: await hs256({ scope: [scope, 'flows:read', 'autodebits:read'], claims: { etc_member_no: MEMBER, esign_psn_id: 'p' } }) });
      expect((withIt.errors ?? []).filter((e) => e.extensions?.code === 'FORBIDDEN' || e.extensions?.code === 'UNAUTHENTICATED')).toEqual([]);
    });

    it.each(cases)('%s over the WebSocket too: FORBIDDEN without %s', async (field, query, variables, scope) => {
      const client = app.ws({ token: await hs256({ scope: ALL_SCOPES.filter((s) => s !== scope) }) });
      const result = collect<Record<string, unknown>>(client, query, variables);
      await result.done;
      expect(JSON.stringify(result.errors)).toContain('FORBIDDEN');
      expect(JSON.stringify(result.errors)).toContain(field);
    });

    it('reads scopes from `scp` arrays too', async () => {
      const r = await app.gql(FLOW_QUERY, { id: await etcFlow() }, { token: await hs256({ scope: '', claims: { scp: ['flows:read'] } }) });
      expect(r.errors).toBeUndefined();
    });

    it('applies the same rules to _entities', async () => {
      const id = await etcFlow();
      const query = 'query($r: [_Any!]!) { _entities(representations: $r) { ... on SignFlow { id status } ... on AutoDebit { id } } }';
      const representations = [{ __typename: 'SignFlow', id }];
      const anonymous = await app.gql(query, { r: representations });
      expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      const noScope = await app.gql(query, { r: representations }, { token: await hs256({ scope: 'autodebits:read' }) });
      expect(noScope.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const allowed = await app.gql(query, { r: representations }, { token: await hs256({ scope: 'flows:read' }) });
      expect(allowed.data?._entities).toEqual([{ id, status: 'SIGNING' }]);
      const autoDebit = await app.gql(query, { r: [{ __typename: 'AutoDebit', id: 'YUANSFER:nope' }] }, { token: await hs256({ scope: 'flows:read' }) });
      expect(autoDebit.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    });

    it('declares every rule in the SDL the router reads', async () => {
      const r = await app.gql<{ _service: { sdl: string } }>('{ _service { sdl } }');
      const sdl = parse(r.data!._service.sdl);
      expect(r.data!._service.sdl).toMatch(/@link\(url: "https:\/\/specs\.apollo\.dev\/federation\/v2\.\d+", import: \[[^\]]*"@authenticated", "@requiresScopes"\]/);
      const expected: Record<string, string> = {
        'Query.signFlow': '[["flows:read"]]',
        'Query.signFlows': '[["flows:read"]]',
        'Query.cancelTask': '[["flows:read"]]',
        'Query.rescission': '[["flows:read"]]',
        'Query.autoDebit': '[["autodebits:read"]]',
        'Mutation.revokeSignFlow': '[["flows:write"]]',
        'Mutation.cancelSignFlows': '[["flows:write"]]',
        'Mutation.initiateRescission': '[["rescissions:write"]]',
        'Mutation.startAutoDebit': '[["autodebits:write"]]',
        'Mutation.revokeAutoDebit': '[["autodebits:write"]]',
        'Subscription.signFlowEvents': '[["events:read", "flows:read"]]',
        'Subscription.cancelTaskProgress': '[["events:read", "flows:read"]]',
        'Subscription.autoDebitEvents': '[["events:read", "autodebits:read"]]',
      };
      const found: Record<string, string> = {};
      for (const definition of sdl.definitions) {
        if (definition.kind !== 'ObjectTypeDefinition') continue;
        const type = definition as ObjectTypeDefinitionNode;
        for (const field of (type.fields ?? []) as FieldDefinitionNode[]) {
          const directives = field.directives ?? [];
          if (!['Query', 'Mutation', 'Subscription'].includes(type.name.value) || field.name.value.startsWith('_')) continue;
          expect(directives.map((d) => d.name.value)).toContain('authenticated');
          const scopes = directives.find((d) => d.name.value === 'requiresScopes');
          found[`${type.name.value}.${field.name.value}`] = scopes ? print(scopes.arguments![0]!.value) : '(none)';
        }
      }
      expect(found).toEqual(expected);
      for (const entity of ['SignFlow', 'CancelTask', 'Rescission', 'AutoDebit']) {
        const type = sdl.definitions.find((d) => d.kind === 'ObjectTypeDefinition' && d.name.value === entity) as ObjectTypeDefinitionNode;
        expect(type.directives?.map((d) => d.name.value)).toContain('requiresScopes');
      }
    });
  });

  describe('WebSocket', () => {
    const openRaw = (headers: Record<string, string> = {}) => new WebSocket(app.wsUrl, 'graphql-transport-ws', { headers });
    const closeOf = (socket: WebSocket) =>
      new Promise<{ code: number; reason: string } | { refused: number }>((resolve) => {
        socket.once('unexpected-response', (_req, res) => resolve({ refused: res.statusCode ?? 0 }));
        socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
        socket.once('error', () => undefined);
      });

    it('refuses the upgrade from an origin that is not allowed', async () => {
      const socket = openRaw({ origin: 'https://evil.example' });
      expect(await closeOf(socket)).toEqual({ refused: 403 });
      const allowed = openRaw({ origin: 'https://app.example.com' });
      await new Promise((resolve) => allowed.once('open', resolve));
      allowed.close();
      const own = openRaw({ origin: app.url });
      await new Promise((resolve) => own.once('open', resolve));
      own.close();
    });

    it.each([
      ['no payload', undefined],
      ['no token', {}],
      ['an invalid token', { authorization: 'Bearer not.a.token' }],
    ])('closes a connection_init with %s with 4401', async (_what, payload) => {
      const socket = openRaw();
      await new Promise((resolve) => socket.once('open', resolve));
      socket.send(JSON.stringify(payload === undefined ? { type: 'connection_init' } : { type: 'connection_init', payload }));
      const closed = await closeOf(socket);
      expect(closed).toMatchObject({ code: 4401 });
    });

    it('refuses a subscription without its scopes with FORBIDDEN', async () => {
      const client = app.ws({ token: await hs256({ scope: 'flows:read' }) });
      const sub = collect(client, 'subscription { signFlowEvents { id } }');
      await sub.done;
      expect(JSON.stringify(sub.errors)).toContain('FORBIDDEN');
    });

    it('ends the connection when the token expires', async () => {
      const token = await hs256({ expiresIn: 2 });
      const socket = openRaw();
      await new Promise((resolve) => socket.once('open', resolve));
      const closed = closeOf(socket);
      socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
      const ack = await new Promise<string>((resolve) => socket.once('message', (data) => resolve(data.toString())));
      expect(JSON.parse(ack)).toMatchObject({ type: 'connection_ack' });
      expect(await closed).toMatchObject({ code: 4401, reason: expect.stringMatching(/expired/) });
    });

    it('streams with a valid token', async () => {
      const id = await etcFlow();
      const client = app.ws({ token: await hs256() });
      const sub = collect<{ signFlowEvents: { id: string; status: string } }>(client, 'subscription($ids: [ID!]) { signFlowEvents(ids: $ids) { id status } }', { ids: [id] });
      await waitFor(() => app.services.feed.subscriberCount > 0, { what: 'the subscription' });
      await app.admin(`/etc/flows/${id.slice(4)}/transition`, { status: 'COMPLETED' });
      await waitFor(() => sub.items.length > 0, { what: 'the event' });
      expect(sub.items[0]?.signFlowEvents.status).toBe('COMPLETED');
      sub.stop();
    });
  });

  describe('audit', () => {
    it('records the caller as the actor of the events its mutations cause', async () => {
      const id = await etcFlow();
      const token = await hs256({ sub: 'auditor-7', claims: { etc_member_no: MEMBER } });
      const revoked = await app.gql(REVOKE, { input: { id } }, { token });
      expect(revoked.data).toMatchObject({ revokeSignFlow: { signFlow: { status: 'REVOKED' }, userErrors: [] } });
      const events = await app.gql<{ signFlow: { events: { edges: Array<{ node: { status: string; source: string; actor: string | null } }> } } }>(
        'query($id: ID!) { signFlow(id: $id) { events { edges { node { status source actor } } } } }',
        { id },
        { token },
      );
      expect(events.data?.signFlow.events.edges.map((e) => e.node)).toEqual([
        { status: 'SIGNING', source: 'SYNC', actor: null },
        { status: 'REVOKED', source: 'MUTATION', actor: 'auditor-7' },
      ]);
    });
  });
});
