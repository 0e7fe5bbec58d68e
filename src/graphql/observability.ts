import { randomUUID } from 'node:crypto';
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import {
  execute as graphqlExecute,
  getOperationAST,
  subscribe as graphqlSubscribe,
  type DocumentNode,
  type ExecutionArgs,
  type GraphQLFormattedError,
} from 'graphql';
import type { ConnectionInitMessage, Context as WsContext, OperationResult, ServerOptions } from 'graphql-ws';
import type { Logger } from '../logger';
import type { AppMetrics, OperationType } from '../observability/metrics';
import { currentRequestId, REQUEST_ID_HEADER, runWithRequestId } from '../observability/request-id';

export interface OperationLogDeps {
  logger: Logger;
  metrics?: AppMetrics;
}

/** The caller's `sub`, when the identity layer put a caller in the context; read defensively (it may not have). */
function callerOf(contextValue: unknown): string | null {
  if (typeof contextValue !== 'object' || contextValue === null) return null;
  const caller = (contextValue as { caller?: { sub?: unknown } | null }).caller;
  return typeof caller?.sub === 'string' ? caller.sub : null;
}

/** The distinct `extensions.code`s of the errors a client received (codes only: messages may carry input). */
function codesOf(errors: ReadonlyArray<Pick<GraphQLFormattedError, 'extensions'>> | undefined): string[] {
  if (!errors || errors.length === 0) return [];
  return [...new Set(errors.map((e) => (typeof e.extensions?.code === 'string' ? e.extensions.code : 'UNKNOWN')))];
}

function operationOf(document: DocumentNode | undefined, operationName: string | null | undefined): { name: string | null; type: OperationType } {
  const operation = document ? getOperationAST(document, operationName) : null;
  return operation ? { name: operation.name?.value ?? null, type: operation.operation } : { name: null, type: 'unknown' };
}

/** Writes the one line and the metrics of a finished operation. */
function finish(
  deps: OperationLogDeps,
  op: { requestId: string | undefined; name: string | null; type: OperationType; caller: string | null; started: number; codes: readonly string[]; transport: 'http' | 'ws' | 'sse' },
): void {
  const seconds = (performance.now() - op.started) / 1000;
  const outcome = op.codes.length > 0 ? 'error' : 'ok';
  deps.metrics?.operation({ name: op.name, type: op.type, outcome, seconds: op.type === 'subscription' ? undefined : seconds });
  // Most production deployments log at info; below it (LOG_LEVEL=warn) the line is not even built.
  if (!deps.logger.isLevelEnabled('info')) return;
  deps.logger.info(
    {
      ...(op.requestId ? { requestId: op.requestId } : {}),
      operation: op.name,
      type: op.type,
      transport: op.transport,
      caller: op.caller,
      durationMs: Math.round(seconds * 1000),
      outcome,
      ...(op.codes.length > 0 ? { codes: op.codes } : {}),
    },
    `graphql ${op.type} ${op.name ?? 'anonymous'} ${outcome}`,
  );
}

/**
 * One log line and the `graphql_operations_total` / `graphql_operation_duration_seconds` observations per
 * GraphQL operation over HTTP: name, type, caller, duration and outcome (`ok`, or `error` with the codes the
 * client received, read after formatError so they are the codes it saw).
 */
export function operationLogPlugin<TContext extends BaseContext>(deps: OperationLogDeps): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart({ request, contextValue }) {
      const started = performance.now();
      const requestId = currentRequestId() ?? request.http?.headers.get(REQUEST_ID_HEADER) ?? undefined;
      let operation: { name: string | null; type: OperationType } = { name: null, type: 'unknown' };
      return {
        async didResolveOperation({ document, operationName }) {
          operation = operationOf(document, operationName);
        },
        async willSendResponse({ response }) {
          const errors = response.body.kind === 'single' ? response.body.singleResult.errors : response.body.initialResult.errors;
          finish(deps, { requestId, ...operation, caller: callerOf(contextValue), started, codes: codesOf(errors), transport: 'http' });
        },
      };
    },
  };
}

interface WsOperation {
  requestId: string;
  started: number;
  name: string | null;
  type: OperationType;
  caller: string | null;
  codes: Set<string>;
  done: boolean;
}

/** Each next() of a subscription's stream runs in the operation's request scope, so its resolvers' logs carry the id. */
function inScope(requestId: string, stream: AsyncIterable<unknown>): AsyncGenerator<unknown> {
  const iterator = stream[Symbol.asyncIterator]();
  const bound: AsyncGenerator<unknown> = {
    next: (...args) => runWithRequestId(requestId, () => iterator.next(...args)),
    return: (value) => runWithRequestId(requestId, () => iterator.return?.(value) ?? Promise.resolve({ done: true as const, value: undefined })),
    throw: (error) => runWithRequestId(requestId, () => iterator.throw?.(error) ?? Promise.reject(error)),
    [Symbol.asyncIterator]: () => bound,
  };
  return bound;
}

async function bindResult(requestId: string, result: OperationResult): Promise<Awaited<OperationResult>> {
  const value = await result;
  return typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function' ? (inScope(requestId, value as AsyncIterable<unknown>) as Awaited<OperationResult>) : value;
}

/**
 * Observability for graphql-ws: wraps the server options (the hooks the app already sets keep working, called
 * inside the operation's scope) so that each subscribe message gets its own request id, runs inside it (logs and
 * masked errors carry it), and ends with the same log line and metrics as an HTTP operation — when it completes,
 * fails validation, or its socket closes. Subscriptions are counted, not timed (their lifetime is not a latency).
 */
export function observeGraphqlWs<P extends ConnectionInitMessage['payload'], E>(deps: OperationLogDeps, options: ServerOptions<P, E>): ServerOptions<P, E> {
  const operations = new WeakMap<WsContext<P, E>, Map<string, WsOperation>>();
  const byArgs = new WeakMap<ExecutionArgs, WsOperation>();
  const lookup = (ctx: WsContext<P, E>, id: string) => operations.get(ctx)?.get(id);
  const done = (ctx: WsContext<P, E>, id: string, op: WsOperation) => {
    if (op.done) return;
    op.done = true;
    operations.get(ctx)?.delete(id);
    finish(deps, { ...op, codes: [...op.codes], transport: 'ws' });
  };
  const scoped = <T>(op: WsOperation | undefined, work: () => T): T => (op ? runWithRequestId(op.requestId, work) : work());

  return {
    ...options,
    async onSubscribe(ctx, id, payload) {
      const op: WsOperation = { requestId: randomUUID(), started: performance.now(), name: null, type: 'unknown', caller: null, codes: new Set(), done: false };
      let mine = operations.get(ctx);
      if (!mine) operations.set(ctx, (mine = new Map()));
      mine.set(id, op);
      const result = await runWithRequestId(op.requestId, async () => options.onSubscribe?.(ctx, id, payload));
      if (result && !Array.isArray(result)) {
        // Ready-made execution arguments skip the context hook below: recognise them here instead.
        const args = result as ExecutionArgs;
        byArgs.set(args, op);
        Object.assign(op, operationOf(args.document, args.operationName), { caller: callerOf(args.contextValue) });
      }
      return result;
    },
    async context(ctx, id, payload, args) {
      const op = lookup(ctx, id);
      if (op) {
        byArgs.set(args, op);
        Object.assign(op, operationOf(args.document, args.operationName));
      }
      const value = await scoped(op, async () => (typeof options.context === 'function' ? options.context(ctx, id, payload, args) : options.context));
      if (op) op.caller = callerOf(value);
      return value;
    },
    execute(args) {
      const op = byArgs.get(args);
      const run = () => (options.execute ?? graphqlExecute)(args);
      return op ? runWithRequestId(op.requestId, () => bindResult(op.requestId, run())) : run();
    },
    subscribe(args) {
      const op = byArgs.get(args);
      const run = () => (options.subscribe ?? graphqlSubscribe)(args);
      return op ? runWithRequestId(op.requestId, () => bindResult(op.requestId, run())) : run();
    },
    async onNext(ctx, id, payload, args, result) {
      const op = lookup(ctx, id);
      const formatted = await scoped(op, async () => options.onNext?.(ctx, id, payload, args, result));
      for (const code of codesOf(formatted ? formatted.errors : result.errors?.map((e) => e.toJSON()))) op?.codes.add(code);
      return formatted;
    },
    async onError(ctx, id, payload, errors) {
      const op = lookup(ctx, id);
      const formatted = await scoped(op, async () => options.onError?.(ctx, id, payload, errors));
      if (op) {
        for (const code of codesOf(formatted ?? errors.map((e) => e.toJSON()))) op.codes.add(code);
        // A refused subscribe message (validation, the app's own checks) never completes: this is its end.
        done(ctx, id, op);
      }
      return formatted;
    },
    async onComplete(ctx, id, payload) {
      const op = lookup(ctx, id);
      await scoped(op, async () => options.onComplete?.(ctx, id, payload));
      if (op) done(ctx, id, op);
    },
  };
}

/**
 * The same line and metrics for operations over SSE (POST /graphql/stream, src/graphql/sse.ts), one per request:
 * it runs inside the HTTP request's id, and ends when its stream completes (or the client goes away).
 */
export function sseOperationObserver(deps: OperationLogDeps) {
  const operations = new WeakMap<object, { requestId: string | undefined; started: number; name: string | null; type: OperationType; caller: string | null; codes: Set<string> }>();
  return {
    started(request: object, args: Pick<ExecutionArgs, 'document' | 'operationName' | 'contextValue'>): void {
      operations.set(request, {
        requestId: currentRequestId(),
        started: performance.now(),
        ...operationOf(args.document, args.operationName),
        caller: callerOf(args.contextValue),
        codes: new Set(),
      });
    },
    next(request: object, errors: ReadonlyArray<Pick<GraphQLFormattedError, 'extensions'>> | undefined): void {
      const op = operations.get(request);
      for (const code of codesOf(errors)) op?.codes.add(code);
    },
    completed(request: object): void {
      const op = operations.get(request);
      if (!op) return;
      operations.delete(request);
      finish(deps, { ...op, codes: [...op.codes], transport: 'sse' });
    },
  };
}
