import { createClient, type Client, type ClientOptions } from 'graphql-ws';
import WebSocket from 'ws';

/** A failure the operator must act on: printed as one message on stderr, exit code 1. */
export class CliError extends Error {
  override name = 'CliError';
}

/** Where the API is, as given by `--url` and `--token`. The token never appears in `display`. */
export interface Endpoint {
  /** The base URL as the operator gave it, without any user:password part: safe to print. */
  display: string;
  graphqlUrl: string;
  wsUrl: string;
  token?: string;
}

/**
 * `--url` is the API's base (`http://127.0.0.1:4000`); GraphQL is at `/graphql` over HTTP and WebSocket. A URL that
 * already ends in `/graphql` is taken as the GraphQL endpoint itself, since that is what people copy from an IDE.
 */
export function endpointFrom(url: string, token?: string): Endpoint {
  // The value is not echoed: a malformed one may still hold a password.
  const bad = () => new CliError('--url must be an http:// or https:// URL, e.g. http://127.0.0.1:4000');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw bad();
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw bad();
  // Printed in messages: no user:password, query or fragment, which may carry secrets.
  const base = parsed.pathname.replace(/\/+$/, '');
  const display = `${parsed.protocol}//${parsed.host}${base}`;
  const graphql = new URL(`${parsed.protocol}//${parsed.host}${base.endsWith('/graphql') ? base : `${base}/graphql`}`);
  const graphqlUrl = graphql.toString();
  graphql.protocol = parsed.protocol === 'https:' ? 'wss:' : 'ws:';
  return { display, graphqlUrl, wsUrl: graphql.toString(), token: token && token.trim() !== '' ? token.trim() : undefined };
}

/** The system-level cause of a failed connection (`ECONNREFUSED`, `ENOTFOUND`, …), else its message. */
export function networkCause(error: unknown): string {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current && typeof current === 'object' && !seen.has(current)) {
    seen.add(current);
    const e = current as { code?: unknown; errors?: unknown[]; cause?: unknown; error?: unknown };
    if (typeof e.code === 'string' && e.code !== '') return e.code;
    // Node tries every address of a name (IPv6 and IPv4): all of them failed.
    if (Array.isArray(e.errors) && e.errors.length > 0) current = e.errors[0];
    else current = e.cause ?? e.error;
  }
  const message = error instanceof Error ? error.message : String(error);
  return message || 'connection failed';
}

export function unreachable(endpoint: Endpoint, cause: string): CliError {
  return new CliError(`cannot reach ${endpoint.display}: ${cause} — is the API running? (--url)`);
}

interface GraphQLErrorShape {
  message: string;
  path?: ReadonlyArray<string | number>;
  extensions?: { code?: unknown };
}

/** One line per GraphQL error: the message, its code and the field it belongs to. */
export function describeGraphQLErrors(errors: readonly GraphQLErrorShape[]): string {
  return errors
    .map((e) => {
      const code = typeof e.extensions?.code === 'string' ? e.extensions.code : undefined;
      const hint = code === 'UNAUTHENTICATED' ? ' (pass --token or set ESIGN_LIFECYCLE_TOKEN)' : code === 'FORBIDDEN' ? ' (the token lacks a scope this needs)' : '';
      return `${e.message}${code ? ` [${code}]` : ''}${e.path?.length ? ` at ${e.path.join('.')}` : ''}${hint}`;
    })
    .join('\n');
}

const REQUEST_TIMEOUT_MS = 120_000;

/** GraphQL over HTTP and over graphql-ws against one API, with the operator's token on both. */
export class ApiClient {
  constructor(readonly endpoint: Endpoint) {}

  /** POSTs one operation; transport failures and GraphQL errors become a CliError naming their cause. */
  async request<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
    };
    if (this.endpoint.token) headers.authorization = `Bearer ${this.endpoint.token}`;
    let res: Response;
    try {
      res = await fetch(this.endpoint.graphqlUrl, {
        method: 'POST',
        headers,
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      if ((error as Error).name === 'TimeoutError') throw new CliError(`${this.endpoint.display} did not answer within ${REQUEST_TIMEOUT_MS / 1000} s`);
      throw unreachable(this.endpoint, networkCause(error));
    }
    const text = await res.text();
    let body: { data?: T | null; errors?: GraphQLErrorShape[] };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new CliError(`${this.endpoint.graphqlUrl} answered HTTP ${res.status} with a body that is not GraphQL JSON — is --url the API's address?`);
    }
    if (body.errors?.length) throw new CliError(`the API answered with an error:\n${describeGraphQLErrors(body.errors)}`);
    if (!res.ok || body.data === undefined || body.data === null) throw new CliError(`${this.endpoint.graphqlUrl} answered HTTP ${res.status} without data`);
    return body.data;
  }

  /**
   * A graphql-ws client carrying the token in `connection_init`. Lazy: it connects on the first subscription and
   * closes when the last one ends. `lastSocketError` keeps the transport's own reason (ECONNREFUSED, …), which the
   * close event that graphql-ws reports does not carry.
   */
  ws(options: Partial<ClientOptions> = {}): { client: Client; lastSocketError: () => unknown } {
    let socketError: unknown;
    const token = this.endpoint.token;
    const client = createClient({
      url: this.endpoint.wsUrl,
      webSocketImpl: WebSocket,
      lazy: true,
      connectionParams: token ? { authorization: `Bearer ${token}` } : undefined,
      ...options,
      on: {
        ...options.on,
        error: (error) => {
          socketError = error;
          options.on?.error?.(error);
        },
      },
    });
    return { client, lastSocketError: () => socketError };
  }
}

/** A close event of the WebSocket, as graphql-ws hands it to a sink's `error`. */
export function isCloseEvent(value: unknown): value is { code: number; reason: string } {
  return typeof value === 'object' && value !== null && 'code' in value && typeof (value as { code: unknown }).code === 'number' && 'reason' in value;
}

/** Close codes after which reconnecting with the same token cannot help. */
export function isFatalClose(code: number): boolean {
  return code === 4400 || code === 4401 || code === 4403 || code === 4406 || code === 4500;
}

/** Why a subscription ended, for a person: GraphQL errors, a refused connection, or a dropped socket. */
export function describeSubscriptionError(error: unknown, endpoint: Endpoint, socketError?: unknown): string {
  if (Array.isArray(error)) return `the API answered with an error:\n${describeGraphQLErrors(error as GraphQLErrorShape[])}`;
  if (isCloseEvent(error)) {
    if (error.code === 4401) return `the API refused the WebSocket: ${error.reason || 'Unauthorized'} (4401; pass a valid --token or set ESIGN_LIFECYCLE_TOKEN)`;
    if (error.code === 4403) return `the API refused the WebSocket: ${error.reason || 'Forbidden'} (4403; the token lacks a scope this needs)`;
    if (error.code === 1006 || error.code === 1005) return `lost the WebSocket to ${endpoint.wsUrl}${socketError ? `: ${networkCause(socketError)}` : ''}`;
    return `the WebSocket to ${endpoint.wsUrl} closed: ${error.code}${error.reason ? ` ${error.reason}` : ''}`;
  }
  if (error instanceof Error || (typeof error === 'object' && error !== null)) return `lost the WebSocket to ${endpoint.wsUrl}: ${networkCause(error)}`;
  return String(error);
}
