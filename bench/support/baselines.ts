/**
 * The baselines `npm run bench` compares the API with, each in its own process:
 * - `apollo <json>`: bare Apollo Server 5 on express 5 whose only resolver returns `<json>` (the API's own answer to
 *   the P1 query, captured in the same run) from memory;
 * - `ack`: a bare node:http server that reads the body and answers `{"response_code":"000"}`;
 * - `ws <json>`: a bare graphql-ws server (graphql-js, no store) pushing `<json>` as `signFlowEvents` to every
 *   subscriber when POST /publish is called.
 * Each answers `{ ready: { url } }` once listening.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { createPubSub } from '@graphql-yoga/subscription';
import express from 'express';
import { buildSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';

/** The shape the P1 query and the P3 subscription select, as plain graphql-js types. */
const SDL = `
  type Query { signFlow(id: ID!): SignFlow }
  type Subscription { signFlowEvents: SignFlowEvent }
  type SignFlow { id: ID! status: String! providerStatus: String events(first: Int): SignFlowEventConnection! }
  type SignFlowEventConnection { edges: [SignFlowEventEdge!]! }
  type SignFlowEventEdge { cursor: String! node: SignFlowEvent! }
  type SignFlowEvent { id: ID! status: String! source: String! flow: SignFlow! }
`;

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function apollo(data: Record<string, unknown>): Promise<string> {
  const app = express();
  const httpServer = http.createServer(app);
  const server = new ApolloServer({ typeDefs: SDL, resolvers: { Query: { signFlow: () => data.signFlow } } });
  await server.start();
  app.use('/graphql', express.json({ limit: '1mb' }), expressMiddleware(server));
  return listen(httpServer);
}

async function ack(): Promise<string> {
  const answer = Buffer.from('{"response_code":"000"}');
  const server = http.createServer((req, res) => {
    req.on('data', () => undefined);
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': answer.length });
      res.end(answer);
    });
  });
  return listen(server);
}

async function ws(event: Record<string, unknown>): Promise<string> {
  const pubSub = createPubSub<{ event: [Record<string, unknown>] }>();
  const schema = buildSchema(SDL);
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      pubSub.publish('event', event);
      res.end('{}');
    });
  });
  const wsServer = new WebSocketServer({ server, path: '/graphql' });
  useServer(
    {
      schema,
      roots: { subscription: { signFlowEvents: () => mapped(pubSub.subscribe('event')) } },
    },
    wsServer,
  );
  return listen(server);
}

async function* mapped(source: AsyncIterable<Record<string, unknown>>): AsyncGenerator<{ signFlowEvents: Record<string, unknown> }> {
  for await (const event of source) yield { signFlowEvents: event };
}

if (require.main === module) {
  const [mode, json] = process.argv.slice(2);
  const started = mode === 'apollo' ? apollo(JSON.parse(json as string)) : mode === 'ack' ? ack() : ws(JSON.parse(json as string));
  started.then(
    (url) => process.send!({ ready: { url } }),
    (error) => {
      process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(1);
    },
  );
}
