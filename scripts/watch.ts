/**
 * `npm run watch [-- <after>]`: a subscription listener for people trying the API. Prints every sign-flow event as
 * it arrives; pass an event id to replay what came after it first.
 */
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const url = process.env.GRAPHQL_WS_URL ?? `ws://127.0.0.1:${process.env.PORT ?? 4000}/graphql`;
const after = process.argv[2];
const client = createClient({ url, webSocketImpl: WebSocket, retryAttempts: Infinity, shouldRetry: () => true });
let last = after;

process.stdout.write(`listening on ${url} for signFlowEvents${after ? ` after ${after}` : ''} (Ctrl-C to stop)\n`);
client.subscribe(
  {
    query: `subscription ($after: String) { signFlowEvents(after: $after) { id status providerStatus source occurredAt flow { id } } }`,
    variables: { after: last ?? null },
  },
  {
    next: (message) => {
      const event = (message.data as { signFlowEvents?: { id: string } } | undefined)?.signFlowEvents;
      if (event) last = event.id;
      process.stdout.write(`${JSON.stringify(message.data ?? message.errors)}\n`);
    },
    error: (error) => process.stderr.write(`subscription error: ${JSON.stringify(error)}\n`),
    complete: () => process.stdout.write('subscription completed\n'),
  },
);
process.on('SIGINT', () => {
  void client.dispose();
  process.exit(0);
});
