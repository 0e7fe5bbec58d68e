import type http from 'node:http';
import { GraphQLError, type ExecutionArgs, type ExecutionResult, type GraphQLSchema, type ValidationRule } from 'graphql';
import { CloseCode, type Context as WsContext, type ServerOptions, type SubscribePayload } from 'graphql-ws';
import { useServer, type Extra } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Authenticator } from '../auth/authenticator';
import type { Caller } from '../auth/caller';
import type { LimitsConfig } from '../config';
import type { Logger } from '../logger';
import { logMutation, mutationOf, outcomeOf } from './audit';
import { createContext, type Services } from './context';
import { formatError } from './errors';
import { parseAndValidate } from './limits';
import { expandSharedPayload, sharedPayloadReplacer, SubscriptionMultiplexer } from './multiplex';
import type { OperationRateLimiter } from './rate-limit';
import { originAllowed } from './origins';

export interface WebSocketOptions {
  path: string;
  schema: GraphQLSchema;
  services: Services;
  authenticator: Authenticator;
  /** Browser origins allowed: this server's own and CORS_ORIGINS (known once the server listens). */
  allowedOrigins: () => readonly string[];
  /** Subscriptions (and in-flight operations) one socket may hold. */
  maxSubscriptions: number;
  /** Depth, aliases, tokens and cost, checked on every subscribe message as on HTTP. */
  limits: LimitsConfig;
  /** Operations per caller per minute, shared with HTTP. */
  rateLimiter?: OperationRateLimiter;
  /** Largest message accepted, in bytes; a larger one closes the socket (1009). */
  maxPayloadBytes: number;
  /** How long a socket may stay open without a `connection_init`. */
  connectionInitWaitTimeoutMs: number;
  logger: Logger;
  /** Production masking of errors, as on HTTP (src/graphql/errors.ts). */
  production?: boolean;
  /** False: "Did you mean …?" is cut from error messages, as on HTTP. Default true. */
  suggestions?: boolean;
  /** Validation rules run after graphql-js's own (the HTTP side's Apollo options have their counterparts). */
  validationRules?: readonly ValidationRule[];
  /** Wraps the graphql-ws server options (request ids, logs and metrics: src/graphql/observability.ts). */
  wrap?: (options: WsServerOptions) => WsServerOptions;
}

type SubscribeContext = WsContext<Record<string, unknown> | undefined, Extra & Partial<{ connection?: Connection }>>;
type WsServerOptions = ServerOptions<Record<string, unknown> | undefined, Extra & Partial<{ connection?: Connection }>>;

/** Per-socket state: who opened it, and who runs each of its operations (a gateway may vary it per operation). */
interface Connection {
  caller?: Caller;
  operations: Map<string, Caller>;
  expiry?: NodeJS.Timeout;
}

const connections = new WeakMap<WebSocket, Connection>();

/** The longest a timer can wait in Node; tokens that live longer are not timed out early, just not at all. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * GraphQL over WebSocket (graphql-ws) on the HTTP server, authenticated like HTTP (docs/security.md):
 * - the `Origin` of a browser must be this server's own or one of CORS_ORIGINS, else the upgrade is refused (403);
 * - `connection_init` must carry `{"authorization": "Bearer <JWT>"}` when authentication is on; none or a bad one
 *   closes the socket with 4401, and a token that expires while connected closes it (4401) at expiry;
 * - behind Hive Gateway, an operation may carry its own HMAC-signed identity in `extensions.jwt`;
 * - at most `maxSubscriptions` operations per socket, messages of at most `maxPayloadBytes`, `connection_init`
 *   within `connectionInitWaitTimeoutMs`;
 * - every subscribe message counts against the caller's rate limit and is parsed and validated here with the same
 *   token, depth, alias and cost limits as HTTP (src/graphql/limits.ts), before graphql-ws executes anything.
 */
export function attachWebSocket(
  httpServer: http.Server,
  options: WebSocketOptions,
): { dispose(): Promise<void>; shared(): { executions: number; members: number } } {
  const wsServer = new WebSocketServer({
    server: httpServer,
    path: options.path,
    maxPayload: options.maxPayloadBytes,
    verifyClient: ({ origin }: { origin?: string }, callback: (ok: boolean, status?: number, message?: string) => void) =>
      originAllowed(origin, options.allowedOrigins()) ? callback(true) : callback(false, 403, 'Origin not allowed'),
  });
  const format = (error: GraphQLError): GraphQLError => {
    const f = formatError(error.toJSON(), error, options.logger, { production: options.production, suggestions: options.suggestions });
    return new GraphQLError(f.message, { path: f.path, extensions: f.extensions });
  };

  const subscribe = async (ctx: SubscribeContext, id: string, payload: SubscribePayload): Promise<GraphQLError[] | ExecutionArgs> => {
    const connection = connections.get(ctx.extra.socket);
    if (!connection?.caller) return [new GraphQLError('Unauthenticated', { extensions: { code: 'UNAUTHENTICATED' } })];
    // graphql-ws has already entered this operation in ctx.subscriptions: count the others.
    if (Object.keys(ctx.subscriptions).filter((other) => other !== id).length >= options.maxSubscriptions) {
      return [
        new GraphQLError(`This socket already holds ${options.maxSubscriptions} operations, the most one socket may; complete one or open another socket`, {
          extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' },
        }),
      ];
    }
    let caller = connection.caller;
    try {
      const address = ctx.extra.request.socket.remoteAddress ?? 'unknown';
      caller = (await options.authenticator.forwarded({ extensions: payload.extensions, query: payload.query, variables: payload.variables, address })) ?? caller;
    } catch (error) {
      return [error instanceof GraphQLError ? error : new GraphQLError('Unauthenticated', { extensions: { code: 'UNAUTHENTICATED' } })];
    }
    await options.rateLimiter?.consume(caller);
    // Parsed and validated here (not by graphql-ws) so the token limit and the cost rules apply as on HTTP.
    const checked = parseAndValidate(options.schema, payload.query, options.limits, options.validationRules);
    if ('errors' in checked) return checked.errors;
    connection.operations.set(id, caller);
    return { schema: options.schema, document: checked.document, operationName: payload.operationName, variableValues: payload.variables };
  };

  const wrap = options.wrap ?? ((o) => o);
  // Registered before graphql-ws's own handler: every message it sends passes through here, where a shared
  // subscription result's JSON, serialized once, takes the place of its placeholder (src/graphql/multiplex.ts).
  wsServer.on('connection', (socket: WebSocket) => {
    const send = socket.send.bind(socket) as (data: unknown, cb?: (err?: Error) => void) => void;
    socket.send = ((data: unknown, cb?: (err?: Error) => void) => send(typeof data === 'string' ? expandSharedPayload(data) : data, cb)) as WebSocket['send'];
  });
  // Identical subscriptions of equally entitled callers share one execution (src/graphql/multiplex.ts).
  // Only the event streams: cancelTaskProgress sends the task's current state first, to each subscriber.
  const multiplexer = new SubscriptionMultiplexer({
    liveFields: ['signFlowEvents', 'autoDebitEvents'],
    callerOf: (contextValue) => (contextValue as { caller?: Caller } | undefined)?.caller,
  });
  const server = useServer<Record<string, unknown> | undefined, { connection?: Connection }>(
    wrap({
      schema: options.schema,
      subscribe: multiplexer.subscribe,
      jsonMessageReplacer: sharedPayloadReplacer,
      connectionInitWaitTimeout: options.connectionInitWaitTimeoutMs,
      onConnect: async (ctx) => {
        const socket = ctx.extra.socket;
        const address = ctx.extra.request.socket.remoteAddress ?? 'unknown';
        const connection: Connection = { operations: new Map() };
        connections.set(socket, connection);
        socket.once('close', () => {
          if (connection.expiry) clearTimeout(connection.expiry);
        });
        try {
          connection.caller = await options.authenticator.bearer({ authorization: ctx.connectionParams?.authorization, address });
        } catch (error) {
          socket.close(4401, error instanceof GraphQLError && error.extensions.code === 'UNAUTHENTICATED' ? truncate(error.message) : 'Unauthorized');
          return false;
        }
        const caller = connection.caller;
        if (caller.enforced && !caller.authenticated && !options.authenticator.trustsGateway) {
          socket.close(4401, 'Unauthorized: connection_init must carry {"authorization": "Bearer <JWT>"}');
          return false;
        }
        if (caller.expiresAt !== undefined) {
          const ms = caller.expiresAt * 1000 - Date.now();
          if (ms <= MAX_TIMER_MS) {
            connection.expiry = setTimeout(() => socket.close(4401, 'Unauthorized: the token expired'), Math.max(0, ms));
            connection.expiry.unref();
          }
        }
        return true;
      },
      onSubscribe: async (ctx, id, payload) => {
        try {
          return await subscribe(ctx, id, payload);
        } catch (error) {
          if (error instanceof GraphQLError && !error.originalError) {
            // A refusal made on purpose (RATE_LIMITED): its HTTP status and headers mean nothing here.
            const { http: _http, ...extensions } = error.extensions;
            return [new GraphQLError(error.message, { extensions })];
          }
          // Anything unexpected (a store or Redis failure) is masked by the formatter (onError), never sent raw.
          return [new GraphQLError((error as Error)?.message ?? 'error', { originalError: error as Error })];
        }
      },
      // WebSocket operations bypass Apollo's context function: each gets its own loaders and its caller here.
      context: (ctx, id) => {
        const connection = connections.get(ctx.extra.socket);
        const caller = connection?.operations.get(id) ?? connection?.caller;
        return createContext(options.services, caller as Caller) as unknown as Record<string, unknown>;
      },
      onComplete: (ctx, id) => {
        connections.get(ctx.extra.socket)?.operations.delete(id);
      },
      onNext: (ctx, id, _payload, args, result) => {
        const r = result as ExecutionResult;
        const formatted = r.errors ? { ...r, errors: r.errors.map(format) } : r;
        const mutation = mutationOf(args.document, args.operationName);
        const caller = connections.get(ctx.extra.socket)?.operations.get(id);
        if (mutation && caller) {
          logMutation(options.logger, {
            caller,
            operationName: args.operationName ?? mutation.name?.value ?? null,
            fields: mutation.selectionSet.selections.flatMap((s) => (s.kind === 'Field' ? [s.name.value] : [])),
            outcome: outcomeOf(formatted),
            transport: 'ws',
          });
        }
        return formatted;
      },
      // Errors of the subscribe phase (validation, a refused subscription) go through the same formatter.
      onError: (_ctx, _id, _payload, errors) => errors.map(format),
    }),
    wsServer,
  );
  // graphql-ws prints every socket error with console.error. A client's oversized or malformed frame is its own
  // doing (ws has already closed the socket, 1009 or 1002): log it at info through the app's logger instead.
  wsServer.on('connection', (socket: WebSocket) => {
    socket.removeAllListeners('error');
    socket.on('error', (error: Error) => {
      options.logger.info({ err: error.message }, 'WebSocket closed after a client protocol error');
      if (socket.readyState === socket.OPEN) socket.close(CloseCode.InternalServerError, 'Internal server error');
    });
  });
  return {
    async dispose() {
      await server.dispose();
    },
    shared: () => ({ executions: multiplexer.executions, members: multiplexer.members }),
  };
}

function truncate(reason: string): string {
  // A close reason is at most 123 bytes.
  return Buffer.byteLength(reason) <= 123 ? reason : `${Buffer.from(reason).subarray(0, 120).toString('utf8').replace(/\uFFFD$/, '')}…`;
}

export { CloseCode };
