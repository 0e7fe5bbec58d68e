/**
 * `npm run watch [-- [--url <server>] [--token <jwt>] [--retries <n>] [<after>]]`: a subscription listener for people
 * trying the API. Prints every sign-flow event as it arrives; pass an event id to replay what came after it first.
 *
 * The server is `--url` (http://host:port, ws://host:port/graphql, …), else GRAPHQL_WS_URL, else
 * ws://127.0.0.1:$PORT/graphql (PORT defaults to 4000, as for npm start). It says when it cannot connect and why,
 * retries a bounded number of times (each attempt visible), then gives up with exit code 1. After a lost connection
 * it resumes after the last event it printed, so nothing is missed or printed twice.
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

interface Options {
  url: string;
  token?: string;
  retries: number;
  after?: string;
}

const USAGE = 'usage: npm run watch -- [--url http://127.0.0.1:4000] [--token <jwt>] [--retries 10] [<event id to resume after>]';

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

/** http(s)://host:port[/path] or ws(s)://… → the WebSocket URL of the GraphQL endpoint. */
export function wsUrlOf(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    fail(`--url: ${JSON.stringify(raw)} is not a URL like http://127.0.0.1:4000`);
  }
  const schemes: Record<string, string> = { 'http:': 'ws:', 'https:': 'wss:', 'ws:': 'ws:', 'wss:': 'wss:' };
  const scheme = schemes[url.protocol];
  if (!scheme) fail(`--url: ${JSON.stringify(raw)} must be http(s):// or ws(s)://`);
  url.protocol = scheme;
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/graphql';
  return url.toString();
}

function parseArgs(argv: string[], env: NodeJS.ProcessEnv): Options {
  let url: string | undefined;
  let token = env.ESIGN_LIFECYCLE_TOKEN;
  let retries = 10;
  let after: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => argv[++i] ?? fail(`${arg} needs a value`);
    if (arg === '--url') url = value();
    else if (arg === '--token') token = value();
    else if (arg === '--retries') {
      const raw = value();
      if (!/^\d+$/.test(raw)) fail(`--retries must be a whole number, got ${JSON.stringify(raw)}`);
      retries = Number(raw);
    } else if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if (arg.startsWith('-')) fail(`unknown option ${arg}`);
    else if (after === undefined) after = arg;
    else fail(`unexpected argument ${JSON.stringify(arg)}`);
  }
  if (after !== undefined && !/^\d+$/.test(after)) fail(`the event id to resume after is a number (a SignFlowEvent id), got ${JSON.stringify(after)}`);
  const port = env.PORT?.trim() || '4000';
  return { url: wsUrlOf(url ?? env.GRAPHQL_WS_URL ?? `ws://127.0.0.1:${port}/graphql`), token, retries, after };
}

/** Why a socket closed, in words: a refused token is not worth retrying, a dead server is. */
function describeClose(event: unknown): { text: string; retry: boolean } {
  const e = event as { code?: number; reason?: string; message?: string; error?: { code?: string; message?: string } };
  if (typeof e?.code === 'number') {
    if (e.code === 4401 || e.code === 4403) return { text: `the server refused the connection (${e.code} ${e.reason || 'Unauthorized'}): pass --token <jwt> or set ESIGN_LIFECYCLE_TOKEN`, retry: false };
    if (e.code === 1006) return { text: 'no server answered (connection refused or dropped): is it running (npm start), and on this port (PORT, --url)?', retry: true };
    return { text: `the connection closed (${e.code}${e.reason ? ` ${e.reason}` : ''})`, retry: e.code < 4000 || e.code === 4499 };
  }
  const message = e?.error?.message ?? e?.message ?? String(event);
  return { text: message, retry: true };
}

function main(): void {
  const options = parseArgs(process.argv.slice(2), process.env);
  const variables: { after: string | null } = { after: options.after ?? null };
  let connectedOnce = false;
  let lastClose: { text: string; retry: boolean } | undefined;
  const client: Client = createClient({
    url: options.url,
    webSocketImpl: WebSocket,
    connectionParams: options.token ? { authorization: `Bearer ${options.token}` } : undefined,
    retryAttempts: options.retries,
    shouldRetry: (event) => describeClose(event).retry,
    retryWait: async (retries) => {
      const seconds = Math.min(2 ** retries, 10);
      process.stderr.write(`cannot connect to ${options.url}: ${lastClose?.text ?? 'no answer'}; retrying in ${seconds} s (attempt ${retries + 1} of ${options.retries})\n`);
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    },
    on: {
      connected: () => {
        process.stdout.write(`${connectedOnce ? 'reconnected to' : 'listening on'} ${options.url} for signFlowEvents${variables.after ? ` after ${variables.after}` : ''} (Ctrl-C to stop)\n`);
        connectedOnce = true;
      },
      closed: (event) => {
        lastClose = describeClose(event);
      },
      error: (error) => {
        lastClose = describeClose(error);
      },
    },
  });

  client.subscribe(
    {
      query: `subscription ($after: String) { signFlowEvents(after: $after) { id status providerStatus source occurredAt flow { id } } }`,
      // graphql-ws sends this same object again on every reconnection: resuming after the last event printed.
      variables,
    },
    {
      next: (message) => {
        const event = (message.data as { signFlowEvents?: { id: string } } | undefined)?.signFlowEvents;
        if (event) variables.after = event.id;
        process.stdout.write(`${JSON.stringify(message.data ?? message.errors)}\n`);
      },
      error: (error) => {
        const why = Array.isArray(error) ? JSON.stringify(error) : (lastClose?.text ?? describeClose(error).text);
        process.stderr.write(`${connectedOnce ? 'lost' : 'cannot connect to'} ${options.url}: ${why}; giving up\n`);
        void client.dispose();
        process.exit(1);
      },
      complete: () => {
        process.stdout.write('subscription completed\n');
        process.exit(0);
      },
    },
  );
  process.on('SIGINT', () => {
    void client.dispose();
    process.exit(0);
  });
}

main();
