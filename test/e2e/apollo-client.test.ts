import { ApolloClient, ApolloLink, CombinedGraphQLErrors, HttpLink, InMemoryCache } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { createClient, type Client } from 'graphql-ws';
import { Kind, OperationTypeNode } from 'graphql';
import WebSocket from 'ws';
import { RevokeSignFlowDocument, SignFlowDocument, SignFlowEventsDocument, SignFlowFieldsFragmentDoc, type SignFlowEventsSubscription } from '../generated/graphql';
import { startTestApp, waitFor, type TestApp } from '../support/app';

/**
 * A frontend team's usual setup, unchanged: Apollo Client with an HTTP link for queries and mutations and a
 * graphql-ws link for subscriptions, the typed documents from `npm run codegen`, against the running server.
 */
const MEMBER = '40eb61714d9e49088bac7a3c56d69d66';

describe('Apollo Client against the subgraph', () => {
  let app: TestApp;
  let wsClient: Client;
  let client: ApolloClient;

  beforeAll(async () => {
    app = await startTestApp();
    wsClient = createClient({ url: app.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
    const link = ApolloLink.split(
      ({ query }) => {
        const definition = getMainDefinition(query);
        return definition.kind === Kind.OPERATION_DEFINITION && definition.operation === OperationTypeNode.SUBSCRIPTION;
      },
      new GraphQLWsLink(wsClient),
      new HttpLink({ uri: app.graphqlUrl }),
    );
    client = new ApolloClient({ link, cache: new InMemoryCache() });
  });
  const cachedFlow = (id: string) => client.cache.readFragment({ id: client.cache.identify({ __typename: 'SignFlow', id }), fragment: SignFlowFieldsFragmentDoc });
  afterAll(async () => {
    client.stop();
    await wsClient.dispose();
    await app.close();
  });

  it('queries a flow and revokes it, and the normalized cache follows', async () => {
    const { flowId } = await app.admin<{ flowId: string }>('/etc/flows', { status: 'SIGNING' });
    const id = `ETC:${flowId}`;
    const read = await client.query({ query: SignFlowDocument, variables: { id } });
    expect(read.error).toBeUndefined();
    expect(read.data?.signFlow).toMatchObject({ id, provider: 'ETC', providerFlowId: flowId, status: 'SIGNING', providerStatus: '1' });
    expect(read.data?.signFlow?.events.edges.map((e) => [e.node.status, e.node.source])).toEqual([['SIGNING', 'SYNC']]);

    const revoked = await client.mutate({ mutation: RevokeSignFlowDocument, variables: { input: { id, etcMemberNo: MEMBER, reason: '合同有误' } } });
    expect(revoked.error).toBeUndefined();
    expect(revoked.data?.revokeSignFlow).toMatchObject({ signFlow: { id, status: 'REVOKED', providerStatus: '3' }, userErrors: [] });
    // The mutation's SignFlow was merged into the entry the query cached, by __typename and id.
    expect(cachedFlow(id)).toMatchObject({ id, status: 'REVOKED', providerStatus: '3' });

    const refused = await client.mutate({ mutation: RevokeSignFlowDocument, variables: { input: { id, etcMemberNo: MEMBER } } });
    expect(refused.data?.revokeSignFlow.userErrors).toEqual([expect.objectContaining({ code: 'FLOW_NOT_REVOCABLE', field: ['input', 'id'] })]);
  });

  it('surfaces a provider failure as a GraphQL error with its extensions.code', async () => {
    await app.admin('/faults', { provider: 'etc', kind: 'error', code: '401001', message: '验签失败' });
    try {
      const failed = client.query({ query: SignFlowDocument, variables: { id: 'ETC:0123456789abcdef0123456789abcdef' }, fetchPolicy: 'network-only' });
      await expect(failed).rejects.toBeInstanceOf(CombinedGraphQLErrors);
      await expect(failed).rejects.toMatchObject({ errors: [{ path: ['signFlow'], extensions: { code: 'PROVIDER_UNAUTHENTICATED', provider: 'ETC', providerCode: '401001' } }] });
    } finally {
      await fetch(`${app.url}/sandbox/_admin/faults`, { method: 'DELETE' });
    }
  });

  it('receives a subscription event over graphql-ws when the provider calls back', async () => {
    const { flowId } = await app.admin<{ flowId: string }>('/etc/flows', { status: 'SIGNING' });
    const id = `ETC:${flowId}`;
    const received: SignFlowEventsSubscription[] = [];
    const errors: unknown[] = [];
    const subscription = client.subscribe({ query: SignFlowEventsDocument, variables: { ids: [id] } }).subscribe({
      next: (result) => {
        if (result.data) received.push(result.data);
        if (result.error) errors.push(result.error);
      },
      error: (error) => errors.push(error),
    });
    try {
      await waitFor(() => app.services.feed.subscriberCount > 0, { what: 'the subscription to register' });
      await app.admin(`/etc/flows/${flowId}/transition`, { status: 'COMPLETED' });
      await waitFor(() => received.length >= 1, { what: 'the COMPLETED event' });
      expect(received[0].signFlowEvents).toMatchObject({ status: 'COMPLETED', providerStatus: '2', source: 'CALLBACK', flow: { id, status: 'COMPLETED' } });
      expect(errors).toEqual([]);
      expect(cachedFlow(id)).toMatchObject({ id, status: 'COMPLETED', providerStatus: '2' });
    } finally {
      subscription.unsubscribe();
    }
    // Leaving releases the server-side subscriber at once, without waiting for another event.
    await waitFor(() => app.services.feed.subscriberCount === 0, { what: 'the server to drop the subscriber' });
  });
});
