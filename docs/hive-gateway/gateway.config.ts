import { defineConfig } from '@graphql-hive/gateway';

/**
 * Hive Gateway in front of the esign subgraph and its neighbours. Run it with
 *
 *   npx hive-gateway supergraph supergraph.graphql -c docs/hive-gateway/gateway.config.ts
 *
 * where supergraph.graphql is composed with @theguild/federation-composition (compose.mjs next to this file, the
 * Hive CLI or GraphQL Mesh Compose). Clients reach the gateway at /graphql over HTTP, SSE or graphql-ws.
 */
export const gatewayConfig = defineConfig({
  // Used when the command line names no supergraph.
  supergraph: './supergraph.graphql',
  transportEntries: {
    // The esign subgraph serves subscriptions over graphql-ws at /graphql. The gateway's default subgraph transport
    // for subscriptions (SSE over GET) is refused by Apollo Server's CSRF prevention, so name the protocol here.
    // The key is the subgraph's name in the supergraph; '*.http' would apply it to every HTTP subgraph.
    esign: {
      options: {
        subscriptions: { kind: 'ws', location: '/graphql' },
      },
    },
  },
});
