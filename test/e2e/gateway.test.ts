import fs from 'node:fs';
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
