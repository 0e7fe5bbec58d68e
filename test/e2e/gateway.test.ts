import fs from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { startContractsSubgraph, type ContractsSubgraph } from '../federation/contracts-subgraph';
import { composeSupergraph, execute, startHiveGateway, type HiveGateway } from '../federation/hive-gateway';
import {
  ContractWithSignFlowDocument,
  CreateContractDocument,
  RevokeSignFlowWithContractDocument,
  SignFlowEventsWithContractDocument,
  SignFlowWithContractDocument,
  type SignFlowEventsWithContractSubscription,
} from '../generated/gateway';
import { startTestApp, waitFor, type TestApp } from '../support/app';
import { hs256, TEST_JWT_SECRET } from '../support/tokens';

/**
 * Hive Gateway (a real `hive-gateway` process, configured by docs/hive-gateway/gateway.config.ts) in front of this
 * subgraph and the example contracts subgraph, with the supergraph composed by docs/hive-gateway/compose.mjs from
 * the running subgraphs. Every operation here needs both subgraphs.
 */
const MEMBER = '40eb61714d9e49088bac7a3c56d69d66';

describe('Hive Gateway in front of the esign and contracts subgraphs', () => {
  let app: TestApp;
  let contracts: ContractsSubgraph;
  let gateway: HiveGateway | undefined;
  let dir: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    app = await startTestApp();
    contracts = await startContractsSubgraph();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esign-gateway-'));
    const supergraph = path.join(dir, 'supergraph.graphql');
    await composeSupergraph(supergraph, { esign: app.graphqlUrl, contracts: contracts.url });
    gateway = await startHiveGateway(supergraph);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await gateway?.close();
    await contracts?.close();
    await app?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const createFlowWithContract = async (title: string, autoDebitId?: string) => {
    const { flowId } = await app.admin<{ flowId: string }>('/etc/flows', { status: 'SIGNING' });
    const signFlowId = `ETC:${flowId}`;
    const created = await execute(gateway!.graphqlUrl, CreateContractDocument, { input: { title, signFlowId, autoDebitId } });
    expect(created.errors).toBeUndefined();
    // The contracts subgraph holds only the reference; the gateway fetched the status from the esign subgraph.
    expect(created.data?.createContract).toMatchObject({ title, signFlow: { id: signFlowId, status: 'SIGNING' } });
    return { flowId, signFlowId, contractId: created.data!.createContract.id };
  };

  it('joins both subgraphs in one query, from either side', async () => {
    // An auto-debit authorization the API learns from Yuansfer's IPN; the contract only holds its id.
    const { autoDebitNo } = await app.admin<{ autoDebitNo: string }>('/yuansfer/auto-debits', { notify: true });
    const autoDebitId = `YUANSFER:${autoDebitNo}`;
    await waitFor(async () => (await app.services.store.autoDebits.get(autoDebitId))?.status === 'ACTIVE', { what: 'the authorization IPN' });
    const { signFlowId, contractId } = await createFlowWithContract('供货合同 2026-001', autoDebitId);
    const byContract = await execute(gateway!.graphqlUrl, ContractWithSignFlowDocument, { id: contractId });
    expect(byContract.errors).toBeUndefined();
    expect(byContract.data?.contract).toEqual({
      id: contractId,
      title: '供货合同 2026-001',
      autoDebit: { id: autoDebitId, autoDebitNo, status: 'ACTIVE' },
      signFlow: { id: signFlowId, provider: 'ETC', status: 'SIGNING', providerStatus: '1', events: { edges: [{ node: { status: 'SIGNING', source: 'SYNC' } }] } },
    });
    const byFlow = await execute(gateway!.graphqlUrl, SignFlowWithContractDocument, { id: signFlowId });
    expect(byFlow.errors).toBeUndefined();
    expect(byFlow.data?.signFlow).toEqual({ id: signFlowId, status: 'SIGNING', contract: { id: contractId, title: '供货合同 2026-001' } });
  });

  it('runs a mutation through the gateway and resolves the other subgraph on its payload', async () => {
    const { flowId, signFlowId } = await createFlowWithContract('租赁合同');
    const revoked = await execute(gateway!.graphqlUrl, RevokeSignFlowWithContractDocument, { input: { id: signFlowId, etcMemberNo: MEMBER, reason: '合同有误' } });
    expect(revoked.errors).toBeUndefined();
    expect(revoked.data?.revokeSignFlow).toEqual({ signFlow: { id: signFlowId, status: 'REVOKED', providerStatus: '3', contract: { title: '租赁合同' } }, userErrors: [] });
    const log = await app.admin<{ requests: Array<{ operation?: string; body: { params?: Record<string, unknown> } }> }>('/etc/requests');
    expect(log.requests.filter((r) => r.operation === 'esign.signflows.revoke').map((r) => r.body.params?.flowId)).toEqual([flowId]);

    const again = await execute(gateway!.graphqlUrl, RevokeSignFlowWithContractDocument, { input: { id: signFlowId, etcMemberNo: MEMBER } });
    expect(again.data?.revokeSignFlow.userErrors).toEqual([expect.objectContaining({ code: 'FLOW_NOT_REVOCABLE', field: ['input', 'id'] })]);
  });

  it('delivers a federated subscription over graphql-ws when the provider calls back', async () => {
    const { flowId, signFlowId, contractId } = await createFlowWithContract('采购合同');
    const client = createClient({ url: gateway!.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
    clients.push(client);
    const received: SignFlowEventsWithContractSubscription[] = [];
    const errors: unknown[] = [];
    const stop = client.subscribe<SignFlowEventsWithContractSubscription>(
      { query: print(SignFlowEventsWithContractDocument), variables: { ids: [signFlowId] } },
      {
        next: (message) => {
          if (message.errors) errors.push(...message.errors);
          if (message.data) received.push(message.data);
        },
        error: (error) => errors.push(error),
        complete: () => undefined,
      },
    );
    try {
      // The gateway subscribes to the esign subgraph over graphql-ws: wait until that subscription is live.
      await waitFor(() => app.services.feed.subscriberCount > 0, { what: "the gateway's subscription to the esign subgraph", timeoutMs: 10_000 });
      // The emulator moves the flow and sends ETC's real callback to the API, which stores it and publishes the event.
      await app.admin(`/etc/flows/${flowId}/transition`, { status: 'COMPLETED' });
      await waitFor(() => received.length >= 1, { what: 'the COMPLETED event through the gateway', timeoutMs: 10_000 });
      expect(errors).toEqual([]);
      expect(received[0].signFlowEvents).toMatchObject({
        status: 'COMPLETED',
        providerStatus: '2',
        source: 'CALLBACK',
        flow: { id: signFlowId, status: 'COMPLETED', contract: { id: contractId, title: '采购合同' } },
      });
    } finally {
      stop();
    }
    await waitFor(() => app.services.feed.subscriberCount === 0, { what: 'the gateway to end its subgraph subscription' });
  });
});

/**
 * The same gateway with authentication on (docs/security.md, "Behind a gateway"): its JWT plugin verifies the bearer
 * token and enforces the supergraph's @authenticated / @requiresScopes rules, forwards the claims and the token to the
 * subgraph in `extensions.jwt`, and signs each subgraph request with its `hmacSignature` option. The subgraph trusts
 * that identity only when the signature verifies (AUTH_GATEWAY_HMAC_SECRET). A recording proxy between the two lets
 * the suite replay what the gateway really sent, tampered.
 */
describe('Hive Gateway with JWT forwarding and HMAC-signed subgraph requests', () => {
  const HMAC_SECRET = 'gateway-to-subgraph-hmac-secret-0123456789';
  let app: TestApp;
  let contracts: ContractsSubgraph;
  let gateway: HiveGateway | undefined;
  let proxy: RecordingProxy;
  let dir: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    app = await startTestApp({ env: { AUTH_JWT_SECRET: TEST_JWT_SECRET, AUTH_GATEWAY_HMAC_SECRET: HMAC_SECRET } });
    proxy = await startRecordingProxy(app.port);
    contracts = await startContractsSubgraph();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esign-gateway-auth-'));
    const supergraph = path.join(dir, 'supergraph.graphql');
    await composeSupergraph(supergraph, { esign: `${proxy.url}/graphql`, contracts: contracts.url });
    gateway = await startHiveGateway(supergraph, { env: { GATEWAY_JWT_SECRET: TEST_JWT_SECRET, SUBGRAPH_HMAC_SECRET: HMAC_SECRET } });
  }, 60_000);
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await gateway?.close();
    await contracts?.close();
    await proxy?.close();
    await app?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const FLOW = 'query Flow($id: ID!) { signFlow(id: $id) { id status } }';
  const post = async (url: string, body: unknown, token?: string) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as { data?: Record<string, unknown> | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> } };
  };
  const newFlow = async () => `ETC:${(await app.admin<{ flowId: string }>('/etc/flows', { status: 'SIGNING' })).flowId}`;

  it('runs an operation with the identity the gateway verified and forwarded, tenancy included', async () => {
    const id = await newFlow();
    const acme = await hs256({ sub: 'alice', tenant: 'acme', scope: 'flows:read' });
    const globex = await hs256({ sub: 'bob', tenant: 'globex', scope: 'flows:read' });
    const mine = await post(gateway!.graphqlUrl, { query: FLOW, variables: { id } }, acme);
    expect(mine.body).toEqual({ data: { signFlow: { id, status: 'SIGNING' } } });
    expect((await app.services.store.flows.get(id))?.tenant).toBe('acme');
    const theirs = await post(gateway!.graphqlUrl, { query: FLOW, variables: { id } }, globex);
    expect(theirs.body.data?.signFlow).toBeNull();
    // What reached the subgraph: the claims and the token in extensions.jwt, and Hive's signature.
    const sent = proxy.requests.filter((r) => JSON.stringify(r.body).includes(id)).at(-1)!;
    expect(sent.body.extensions).toMatchObject({ jwt: { payload: { sub: 'bob', tenant: 'globex' } }, 'hmac-signature': expect.any(String) });
    expect(sent.headers.authorization).toBeUndefined();
  });

  it('enforces the rules at the gateway as well: no token, or a missing scope, never reaches the subgraph', async () => {
    const id = await newFlow();
    const before = proxy.requests.length;
    const anonymous = await post(gateway!.graphqlUrl, { query: FLOW, variables: { id } });
    // Hive's own code for a rule the caller does not meet; the subgraph would say UNAUTHENTICATED / FORBIDDEN.
    expect(anonymous.body.errors?.[0]?.extensions?.code).toBe('UNAUTHORIZED_FIELD_OR_TYPE');
    const noScope = await post(gateway!.graphqlUrl, { query: FLOW, variables: { id } }, await hs256({ scope: 'autodebits:read' }));
    expect(noScope.body.errors?.[0]?.extensions?.code).toBe('UNAUTHORIZED_FIELD_OR_TYPE');
    expect(proxy.requests.slice(before).filter((r) => JSON.stringify(r.body).includes(id))).toEqual([]);
  });

  it('refuses what the gateway signed once the operation, the variables or the signature is tampered with', async () => {
    const id = await newFlow();
    await post(gateway!.graphqlUrl, { query: FLOW, variables: { id } }, await hs256({ sub: 'alice', tenant: 'acme', scope: 'flows:read' }));
    const signed = proxy.requests.filter((r) => JSON.stringify(r.body).includes(id)).at(-1)!.body as { query: string; variables: Record<string, unknown>; extensions: Record<string, unknown> };
    // Replayed as sent: accepted (same operation, same forwarded identity).
    expect((await post(app.graphqlUrl, signed)).body.data?.signFlow).toMatchObject({ id });
    const other = await newFlow();
    const cases = {
      variables: { ...signed, variables: { ...signed.variables, id: other } },
      query: { ...signed, query: signed.query.replace('status', 'status providerStatus') },
      signature: { ...signed, extensions: { ...signed.extensions, 'hmac-signature': Buffer.from('forged').toString('base64') } },
      'no signature': { ...signed, extensions: { jwt: signed.extensions.jwt } },
    };
    for (const [what, body] of Object.entries(cases)) {
      const r = await post(app.graphqlUrl, body);
      expect({ what, status: r.status, code: r.body.errors?.[0]?.extensions?.code }).toEqual({ what, status: 401, code: 'UNAUTHENTICATED' });
    }
    // A forged identity with a valid signature of the operation: the forwarded token is verified too.
    const forgedPayload = { ...signed, extensions: { ...signed.extensions, jwt: { payload: { sub: 'root', scope: 'admin flows:read', exp: 9e9 }, token: { prefix: 'Bearer', value: 'not.a.token' } } } };
    expect((await post(app.graphqlUrl, forgedPayload)).body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('with a gateway trusted, a tokenless WebSocket opens, but its operations need a signed identity', async () => {
    const client = createClient({ url: app.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
    clients.push(client);
    const errors: unknown[] = [];
    await new Promise<void>((resolve) => {
      client.subscribe({ query: 'subscription { signFlowEvents { id } }' }, { next: (m) => errors.push(...(m.errors ?? [])), error: (e) => (errors.push(e), resolve()), complete: resolve });
    });
    expect(JSON.stringify(errors)).toContain('UNAUTHENTICATED');
  });

  it('streams a subscription through the gateway with the caller’s identity', async () => {
    const id = await newFlow();
    const token = await hs256({ sub: 'alice', tenant: 'acme' });
    await post(gateway!.graphqlUrl, { query: FLOW, variables: { id } }, token);
    const client = createClient({ url: gateway!.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } });
    clients.push(client);
    const received: Array<{ signFlowEvents: { status: string } }> = [];
    const errors: unknown[] = [];
    const stop = client.subscribe<{ signFlowEvents: { status: string } }>(
      { query: 'subscription($ids: [ID!]) { signFlowEvents(ids: $ids) { status } }', variables: { ids: [id] } },
      { next: (m) => (m.data ? received.push(m.data) : errors.push(...(m.errors ?? []))), error: (e) => errors.push(e), complete: () => undefined },
    );
    try {
      await waitFor(() => app.services.feed.subscriberCount > 0 || errors.length > 0, { what: 'the subgraph subscription', timeoutMs: 10_000 }).catch((e) => {
        console.log(gateway!.output().slice(-3000));
        throw e;
      });
      expect(errors).toEqual([]);
      await app.admin(`/etc/flows/${id.slice(4)}/transition`, { status: 'COMPLETED' });
      await waitFor(() => received.length >= 1, { what: 'the event through the gateway', timeoutMs: 10_000 });
      expect(received[0]).toEqual({ signFlowEvents: { status: 'COMPLETED' } });
    } finally {
      stop();
    }
  });
});

interface RecordingProxy {
  url: string;
  requests: Array<{ headers: http.IncomingHttpHeaders; body: Record<string, unknown> }>;
  close(): Promise<void>;
}

/** Forwards HTTP and WebSocket traffic to the subgraph on `port`, recording each JSON body it passes on. */
async function startRecordingProxy(port: number): Promise<RecordingProxy> {
  const requests: RecordingProxy['requests'] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      try {
        requests.push({ headers: req.headers, body: JSON.parse(raw.toString()) as Record<string, unknown> });
      } catch {
        // not JSON: forwarded unrecorded
      }
      const upstream = http.request({ host: '127.0.0.1', port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      upstream.end(raw);
    });
  });
  server.on('upgrade', (req, socket, head) => {
    const upstream = net.connect(port, '127.0.0.1', () => {
      upstream.write(`${req.method} ${req.url} HTTP/1.1\r\n${Object.entries(req.headers).map(([k, v]) => `${k}: ${String(v)}`).join('\r\n')}\r\n\r\n`);
      upstream.write(head);
      socket.pipe(upstream).pipe(socket);
    });
    for (const s of [socket as net.Socket, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    async close() {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
